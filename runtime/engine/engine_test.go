package engine

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/arborlabs/arbor/runtime/backend/cpu"
	"github.com/arborlabs/arbor/runtime/model"
	"github.com/arborlabs/arbor/runtime/model/demo"
	"github.com/arborlabs/arbor/runtime/sample"
)

// loadDemo builds the demo model once for all tests (about a second).
var loadDemo = sync.OnceValues(demo.Load)

func newEngine(t *testing.T, ctxTokens int) (*Engine, *model.Model) {
	t.Helper()
	m, err := loadDemo()
	if err != nil {
		t.Fatal(err)
	}
	be, err := cpu.New(m, cpu.Options{Threads: 2, NumPages: ctxTokens / 16, PageSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { be.Close() })
	return New(be, m.Tokenizer, Options{PrefillChunk: 7}), m
}

func greedy() sample.Params {
	p := sample.DefaultParams()
	p.Temperature = 0
	return p
}

func TestGenerateGreedyIsDeterministicAndStreams(t *testing.T) {
	e, m := newEngine(t, 256)
	prompt := m.Tokenizer.Encode("The quick brown fox jumps over the lazy dog. Once more:")
	var streamed strings.Builder
	var ids []int32
	res, err := e.Generate(context.Background(), Request{Prompt: prompt, MaxTokens: 12, Sampling: greedy()}, func(ev Event) error {
		streamed.WriteString(ev.Text)
		if ev.Token >= 0 {
			ids = append(ids, ev.Token)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.IDs) != 12 || res.FinishReason != FinishLength {
		t.Fatalf("got %d tokens, finish %q; want 12, length", len(res.IDs), res.FinishReason)
	}
	if streamed.String() != res.Text || res.Text != m.Tokenizer.Decode(res.IDs) {
		t.Fatalf("streamed %q, result %q, decoded %q", streamed.String(), res.Text, m.Tokenizer.Decode(res.IDs))
	}
	if len(ids) != len(res.IDs) {
		t.Fatalf("emitted %d tokens, result has %d", len(ids), len(res.IDs))
	}
	again, err := e.Generate(context.Background(), Request{Prompt: prompt, MaxTokens: 12, Sampling: greedy()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range res.IDs {
		if again.IDs[i] != res.IDs[i] {
			t.Fatalf("greedy run differs at %d: %v vs %v", i, res.IDs, again.IDs)
		}
	}
	if res.PromptTokens != len(prompt) || res.PrefillTokensPerS <= 0 || res.DecodeTokensPerS <= 0 {
		t.Fatalf("bad figures: %+v", res)
	}
}

// TestChunkedPrefillMatchesOneShot: the prompt prefilled in chunks of 7 must continue exactly
// as when prefilled in one step.
func TestChunkedPrefillMatchesOneShot(t *testing.T) {
	e, m := newEngine(t, 256)
	prompt := m.Tokenizer.Encode(strings.Repeat("chunked prefill must not change the result; ", 4))
	a, err := e.Generate(context.Background(), Request{Prompt: prompt, MaxTokens: 6, Sampling: greedy()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.opt.PrefillChunk = 1024
	b, err := e.Generate(context.Background(), Request{Prompt: prompt, MaxTokens: 6, Sampling: greedy()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Text != b.Text {
		t.Fatalf("chunked %v, one shot %v", a.IDs, b.IDs)
	}
}

func TestStopTokenAndStopString(t *testing.T) {
	e, m := newEngine(t, 256)
	prompt := m.Tokenizer.Encode("Hello")
	free, err := e.Generate(context.Background(), Request{Prompt: prompt, MaxTokens: 10, Sampling: greedy()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Stop on the third generated token: two tokens come out, the stop token's text does not.
	stopTok := free.IDs[2]
	first := 2
	for i, id := range free.IDs {
		if id == stopTok {
			first = i
			break
		}
	}
	res, err := e.Generate(context.Background(), Request{Prompt: prompt, MaxTokens: 10, Sampling: greedy(), StopTokens: []int32{stopTok}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.FinishReason != FinishStop || len(res.IDs) != first+1 || res.Text != m.Tokenizer.Decode(free.IDs[:first]) {
		t.Fatalf("stop token: finish %q, ids %v, text %q; free run %v", res.FinishReason, res.IDs, res.Text, free.IDs)
	}
	// A stop string taken from the middle of the free text.
	if len(free.Text) < 4 {
		t.Skip("free text too short for a stop string")
	}
	cut := len(free.Text) / 2
	stop := free.Text[cut : cut+2]
	res, err = e.Generate(context.Background(), Request{Prompt: prompt, MaxTokens: 10, Sampling: greedy(), StopStrings: []string{stop}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := free.Text[:strings.Index(free.Text, stop)]; res.FinishReason != FinishStop || res.Text != want {
		t.Fatalf("stop string %q: finish %q, text %q, want %q", stop, res.FinishReason, res.Text, want)
	}
}

func TestContextLimits(t *testing.T) {
	e, m := newEngine(t, 64)
	long := make([]int32, 64)
	for i := range long {
		long[i] = int32(i + 100)
	}
	if _, err := e.Generate(context.Background(), Request{Prompt: long, Sampling: greedy()}, nil); !errors.Is(err, ErrContextLength) {
		t.Fatalf("prompt of 64 in a context of 64: err %v, want ErrContextLength", err)
	}
	// Without MaxTokens, generation runs to the end of the context and says "length".
	res, err := e.Generate(context.Background(), Request{Prompt: m.Tokenizer.Encode("Hi there"), Sampling: greedy()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.PromptTokens+len(res.IDs) != 64 || res.FinishReason != FinishLength {
		t.Fatalf("%d + %d tokens, finish %q; want 64 in all, length", res.PromptTokens, len(res.IDs), res.FinishReason)
	}
	if e.pool.InUse() != 0 {
		t.Fatalf("%d pages still in use after the request", e.pool.InUse())
	}
}

func TestCancelFreesPages(t *testing.T) {
	e, m := newEngine(t, 256)
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	_, err := e.Generate(ctx, Request{Prompt: m.Tokenizer.Encode("Hello"), MaxTokens: 100, Sampling: greedy()}, func(Event) error {
		n++
		if n == 3 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if e.pool.InUse() != 0 {
		t.Fatalf("%d pages still in use after cancel", e.pool.InUse())
	}
}
