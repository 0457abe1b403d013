package engine

import (
	"context"
	"encoding/json"
	"testing"
	"time"

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

// blockingChooser holds its sequence's pick until released: a stand-in for a grammar mask
// that takes seconds. It then lets the sampler choose.
type blockingChooser struct{ release chan struct{} }

func (b *blockingChooser) Appended(int, int32) Directive { return Directive{} }
func (b *blockingChooser) Choose(i int) (int32, bool) {
	if i == 1 {
		<-b.release
	}
	return 0, false
}

// TestSlowGrammarPickDoesNotBlockOthers: while one grammar sequence's pick is stuck, another
// request decodes to its end (the pick is only released once the other has finished, so a
// scheduler that waited for it would deadlock); the stuck sequence then finishes with valid
// output.
func TestSlowGrammarPickDoesNotBlockOthers(t *testing.T) {
	e, m := newEngine(t, 512)
	g, err := grammar.CompileSchema([]byte(`{"type":"array","items":{"type":"integer","minimum":0,"maximum":9},"minItems":3,"maxItems":3}`))
	if err != nil {
		t.Fatal(err)
	}
	ch := &blockingChooser{release: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	slow, err := e.Submit(ctx, Request{Prompt: m.Tokenizer.Encode("One"), MaxTokens: 40, Sampling: greedy(), Grammar: g, Hook: ch})
	if err != nil {
		t.Fatal(err)
	}
	other, err := e.Generate(ctx, Request{Prompt: m.Tokenizer.Encode("Two"), MaxTokens: 20, Sampling: greedy()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(other.IDs) != 20 {
		t.Fatalf("the other request made %d tokens", len(other.IDs))
	}
	if e.Stats().GrammarLatePicks == 0 {
		t.Fatal("the stuck pick was not counted as late")
	}
	close(ch.release)
	var text string
	for {
		ev, err := slow.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Done {
			text = ev.Result.Text
			break
		}
	}
	var v []int
	if err := json.Unmarshal([]byte(text), &v); err != nil || len(v) != 3 {
		t.Fatalf("%q: %v", text, err)
	}
	waitIdle(t, e)
}

// TestGrammarPickCancelled: a request cancelled while its pick is stuck frees its pages, and
// the pick's late result is dropped.
func TestGrammarPickCancelled(t *testing.T) {
	e, m := newEngine(t, 512)
	g, err := grammar.CompileSchema([]byte(`{"type":"array","items":{"type":"integer"}}`))
	if err != nil {
		t.Fatal(err)
	}
	ch := &blockingChooser{release: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	st, err := e.Submit(ctx, Request{Prompt: m.Tokenizer.Encode("One"), MaxTokens: 40, Sampling: greedy(), Grammar: g, Hook: ch})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(ctx); err != nil { // the first token: the second pick is the stuck one
		t.Fatal(err)
	}
	for e.Stats().GrammarLatePicks == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	waitIdle(t, e)
	close(ch.release)
	if _, err := e.Generate(context.Background(), Request{Prompt: m.Tokenizer.Encode("Two"), MaxTokens: 5, Sampling: greedy()}, nil); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, e)
}
