package recipe

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arborlabs/arbor/runtime/model"
)

// TestDemoSmoke trains a tiny shape for a few steps: the loss falls, a run resumes from its
// checkpoint, and the model directory it writes loads like any other.
func TestDemoSmoke(t *testing.T) {
	out := t.TempDir()
	o := Options{Out: out, Problems: 80, Vocab: 400, Layers: 1, Hidden: 32, Heads: 2, FFN: 64, SeqLen: 256, Batch: 4,
		Steps: 20, LR: 1e-2, Warmup: 3, CheckpointEvery: 10, Progress: io.Discard}
	if err := Demo(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	_, losses, err := readLoss(filepath.Join(out, "loss.csv"))
	if err != nil || len(losses) != 20 {
		t.Fatalf("%d losses, %v", len(losses), err)
	}
	first := (losses[0] + losses[1] + losses[2]) / 3
	last := (losses[17] + losses[18] + losses[19]) / 3
	if !(last < 0.8*first) {
		t.Fatalf("loss did not fall: %.3f -> %.3f (%v)", first, last, losses)
	}
	// Ten more steps resume from step 20.
	o.Steps = 30
	if err := Demo(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	_, losses, _ = readLoss(filepath.Join(out, "loss.csv"))
	if len(losses) != 30 {
		t.Fatalf("after resuming: %d losses, want 30", len(losses))
	}
	m, err := model.Load(filepath.Join(out, "model"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.NumLayers != 1 || m.Tokenizer == nil || m.Tokenizer.ChatTemplate() == "" {
		t.Fatalf("loaded %+v", m.Config)
	}
	if id, ok := m.Tokenizer.ID(`"expression":`); !ok || !strings.Contains(m.Tokenizer.Token(id), "expression") {
		t.Fatal("the JSON keys are not single tokens")
	}
	if b, err := os.ReadFile(filepath.Join(out, "loss.svg")); err != nil || !strings.Contains(string(b), "<svg") {
		t.Fatalf("loss.svg: %v", err)
	}
}
