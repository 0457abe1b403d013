package demo

import (
	"strings"
	"testing"

	"github.com/arborlabs/arbor/runtime/model"
)

// TestLoad: the embedded demo model loads from memory with its own tokenizer and template;
// the random model is still there for tests.
func TestLoad(t *testing.T) {
	m, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Weights.Check(&m.Config); err != nil {
		t.Fatal(err)
	}
	if m.Config.Arch != model.ArchQwen3 || m.Weights.Layers[0].Q.DType != model.F16 {
		t.Fatalf("config %+v, weights %v", m.Config, m.Weights.Layers[0].Q.DType)
	}
	tok := m.Tokenizer
	if tok.VocabSize() != m.Config.VocabSize || !strings.Contains(tok.ChatTemplate(), "<tool_call>") {
		t.Fatalf("tokenizer of %d tokens for a vocabulary of %d", tok.VocabSize(), m.Config.VocabSize)
	}
	// Digits are one per token, so that numbers are copied digit by digit.
	if ids := tok.Encode("40960"); len(ids) != 5 {
		t.Fatalf("40960 is %d tokens", len(ids))
	}
	r, err := Random()
	if err != nil {
		t.Fatal(err)
	}
	if r.Config.NumLayers >= m.Config.NumLayers || r.Tokenizer.VocabSize() < 100000 {
		t.Fatalf("random model %+v", r.Config)
	}
}
