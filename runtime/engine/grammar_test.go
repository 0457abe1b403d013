package engine

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/arborlabs/arbor/runtime/grammar"
	"github.com/arborlabs/arbor/runtime/sample"
)

// The demo model's random weights never write JSON on their own: every valid document below
// is the grammar's doing.
func TestGrammarConstrainsOutput(t *testing.T) {
	e, m := newEngine(t, 512)
	g, err := grammar.CompileSchema([]byte(`{"type":"object","properties":{"name":{"type":"string","maxLength":6},"n":{"type":"integer","minimum":1,"maximum":9},"ok":{"type":"boolean"}},"required":["name","n","ok"],"additionalProperties":false}`))
	if err != nil {
		t.Fatal(err)
	}
	prompt := m.Tokenizer.Encode("Reply in JSON:")
	for _, temp := range []float32{0, 0.7, 1.5} {
		p := sample.DefaultParams()
		p.Temperature = temp
		seed := uint64(3)
		p.Seed = &seed
		res, err := e.Generate(context.Background(), Request{Prompt: prompt, MaxTokens: 60, Sampling: p, Grammar: g, StopTokens: m.Tokenizer.EOS()}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.FinishReason != FinishStop {
			t.Fatalf("T=%v: finish %q after %q", temp, res.FinishReason, res.Text)
		}
		var v struct {
			Name *string `json:"name"`
			N    *int    `json:"n"`
			OK   *bool   `json:"ok"`
		}
		if err := json.Unmarshal([]byte(res.Text), &v); err != nil || v.Name == nil || v.N == nil || v.OK == nil || *v.N < 1 || *v.N > 9 {
			t.Fatalf("T=%v: %q: %v", temp, res.Text, err)
		}
	}
	// Cut by max_tokens: "length", and the text is a prefix the grammar allows.
	res, err := e.Generate(context.Background(), Request{Prompt: prompt, MaxTokens: 3, Sampling: greedy(), Grammar: g}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.FinishReason != FinishLength || len(res.IDs) != 3 {
		t.Fatalf("finish %q after %d tokens", res.FinishReason, len(res.IDs))
	}
	mt := g.NewMatcher(e.GrammarVocab())
	if err := mt.AcceptBytes([]byte(res.Text)); err != nil {
		t.Fatalf("%q: %v", res.Text, err)
	}
}

// PickMasked draws what Pick draws on the masked logits, at every temperature.
func TestPickMaskedMatchesPick(t *testing.T) {
	const V = 5000
	logits := make([]float32, V)
	for i := range logits {
		logits[i] = float32((i*7919)%1000) / 100
	}
	mask := make([]uint64, (V+63)/64)
	for i := 0; i < V; i += 37 {
		mask[i/64] |= 1 << (uint(i) % 64)
	}
	MaskLogits(logits, mask)
	for _, temp := range []float32{0, 0.7, 1.5} {
		for seed := range uint64(20) {
			p := sample.DefaultParams()
			p.Temperature, p.TopP, p.TopK = temp, 0.9, 40
			p.Seed = &seed
			a, b := sample.New(p), sample.New(p)
			want := a.Pick(logits)
			got, _, _ := PickMasked(b, logits, mask, nil, nil)
			if got != want {
				t.Fatalf("T=%v seed %d: PickMasked %d, Pick %d", temp, seed, got, want)
			}
		}
	}
}
