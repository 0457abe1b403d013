package recipe

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"

	"github.com/arborlabs/arbor/runtime/backend/xla"
	"github.com/arborlabs/arbor/runtime/chat"
	"github.com/arborlabs/arbor/runtime/chat/parsers"
	"github.com/arborlabs/arbor/runtime/model"
	"github.com/arborlabs/arbor/runtime/model/demo"
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
	// The shipped form: the same model in f16, loaded as the binary loads its own.
	shipped, err := demo.LoadFS(os.DirFS(filepath.Join(out, "ship")), "ship")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(shipped.Config, m.Config) || shipped.Tokenizer.ChatTemplate() != m.Tokenizer.ChatTemplate() {
		t.Fatalf("shipped config %+v, want %+v", shipped.Config, m.Config)
	}
	want, err := model.ConvertWeights(&m.Config, &m.Weights, model.F16)
	if err != nil {
		t.Fatal(err)
	}
	q, wq := shipped.Weights.Layers[0].Q, want.Layers[0].Q
	if q.DType != model.F16 || !bytes.Equal(q.Data, wq.Data) {
		t.Fatalf("shipped weights are not the model's in f16 (%v)", q.DType)
	}
}

// TestDemoSmokeXLA trains the tiny shape through gomlx (on its pure-Go engine, the CPU stand-in
// for a PJRT plugin): the loss falls, a run resumes from its checkpoint, and the model it
// writes loads.
func TestDemoSmokeXLA(t *testing.T) {
	t.Setenv("GOMLX_NO_AUTO_INSTALL", "1")
	be, err := backends.NewWithConfig(xla.DefaultBackend)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Finalize()
	out := t.TempDir()
	o := Options{Out: out, Problems: 60, Vocab: 400, Layers: 1, Hidden: 32, Heads: 2, FFN: 64, SeqLen: 256, Batch: 4,
		Steps: 10, LR: 1e-2, Warmup: 3, CheckpointEvery: 8, Progress: io.Discard, XLA: be}
	if err := Demo(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	o.Steps = 16 // resumes at step 10 of a 16-step schedule
	if err := Demo(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	steps, losses, err := readLoss(filepath.Join(out, "loss.csv"))
	if err != nil || len(losses) != 16 || steps[15] != 16 {
		t.Fatalf("%d losses, %v", len(losses), err)
	}
	first := (losses[0] + losses[1] + losses[2]) / 3
	last := (losses[13] + losses[14] + losses[15]) / 3
	if !(last < 0.8*first) {
		t.Fatalf("loss did not fall: %.3f -> %.3f (%v)", first, last, losses)
	}
	m, err := model.Load(filepath.Join(out, "model"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.NumLayers != 1 || m.Config.HiddenSize != 32 {
		t.Fatalf("loaded %+v", m.Config)
	}
}

// TestTemplate: the demo's template declares tools by name, writes calls and results in the
// Hermes syntax Arbor's parsers read, and marks tree requests (enable_thinking false) with an
// empty thinking block that other requests lack.
func TestTemplate(t *testing.T) {
	tmpl, err := chat.Compile(Template())
	if err != nil {
		t.Fatal(err)
	}
	calc := chat.Tool{Type: "function", Function: chat.FunctionDef{Name: "calculator"}}
	off := false
	got, err := tmpl.Render(chat.Input{Messages: []chat.Message{
		{Role: "user", Content: "2+3?"},
		{Role: "assistant", ToolCalls: []chat.ToolCall{{ID: "c", Type: "function",
			Function: chat.FunctionCall{Name: "calculator", Arguments: `{"expression":"2+3"}`}}}},
		{Role: "tool", ToolCallID: "c", Content: `{"result":"5"}`},
	}, Tools: []chat.Tool{calc}, AddGenerationPrompt: true, EnableThinking: &off})
	if err != nil {
		t.Fatal(err)
	}
	want := "<|im_start|>system\nTools: calculator<|im_end|>\n<|im_start|>user\n2+3?<|im_end|>\n" +
		"<|im_start|>assistant\n<tool_call>\n{\"name\": \"calculator\", \"arguments\": {\"expression\": \"2+3\"}}\n</tool_call><|im_end|>\n" +
		"<|im_start|>user\n<tool_response>\n{\"result\":\"5\"}\n</tool_response><|im_end|>\n<|im_start|>assistant\n" +
		"<think>\n\n</think>\n\n"
	if got != want {
		t.Fatalf("render\n%q\nwant\n%q", got, want)
	}
	if f := parsers.DetectToolFormat(Template()); f != parsers.ToolFormatHermes {
		t.Fatalf("tool format %v", f)
	}
	// Without enable_thinking (a client's text or tool-call request) there is no thinking block.
	plain, err := tmpl.Render(chat.Input{Messages: []chat.Message{{Role: "user", Content: "hi"}},
		Tools: []chat.Tool{calc}, AddGenerationPrompt: true})
	if err != nil || strings.Contains(plain, "<think>") {
		t.Fatalf("%q (%v)", plain, err)
	}
}

// TestDemoDeterministic: the same options retrain the same model, byte for byte (the data,
// the tokenizer, the initial weights and every step follow from the seed; the kernels'
// reductions have a fixed order whatever the goroutines' timing).
func TestDemoDeterministic(t *testing.T) {
	var shipped [2][]byte
	for i := range shipped {
		out := t.TempDir()
		o := Options{Out: out, Problems: 40, Vocab: 350, Layers: 1, Hidden: 32, Heads: 2, FFN: 64, SeqLen: 256,
			Batch: 4, Steps: 6, LR: 1e-2, Warmup: 2, CheckpointEvery: 100, Progress: io.Discard}
		if err := Demo(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(out, "ship", "model.safetensors.gz"))
		if err != nil {
			t.Fatal(err)
		}
		shipped[i] = b
	}
	if !bytes.Equal(shipped[0], shipped[1]) {
		t.Fatal("two runs with the same options shipped different weights")
	}
}
