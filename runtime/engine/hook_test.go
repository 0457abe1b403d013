package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/arborlabs/arbor/runtime/backend"
	"github.com/arborlabs/arbor/runtime/backend/cpu"
	"github.com/arborlabs/arbor/runtime/kv"
	"github.com/arborlabs/arbor/runtime/sample"
)

// hookFunc adapts a function to Hook.
type hookFunc func(i int, id int32) Directive

func (f hookFunc) Appended(i int, id int32) Directive { return f(i, id) }

// events runs req and returns its token events and result.
func events(t *testing.T, e *Engine, req Request) ([]Event, *Result) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var evs []Event
	res, err := e.Generate(ctx, req, func(ev Event) error {
		if ev.Token >= 0 {
			evs = append(evs, ev)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return evs, res
}

// nextAfter is the engine's greedy next-token distribution (top 5) after the prompt ctx.
func nextAfter(t *testing.T, e *Engine, ctx []int32) Event {
	t.Helper()
	evs, _ := events(t, e, Request{Prompt: ctx, MaxTokens: 1, Sampling: greedy(), Logprobs: true, TopLogprobs: 5})
	return evs[0]
}

// sameTop checks that two top-5 lists agree on their common tokens within tol (and share
// most of them): the same distribution up to rounding, robust to near-ties swapping ranks.
func sameTop(t *testing.T, what string, got, want []sample.TokenLogprob, tol float64) {
	t.Helper()
	common := 0
	for _, g := range got {
		for _, w := range want {
			if g.Token == w.Token {
				common++
				if d := math.Abs(float64(g.Logprob - w.Logprob)); d > tol {
					t.Errorf("%s: token %d logprob %.5f, want %.5f (|d| %.2g > %.2g)", what, g.Token, g.Logprob, w.Logprob, d, tol)
				}
			}
		}
	}
	if common < 4 {
		t.Errorf("%s: top tokens %v and %v share %d of 5", what, got, want, common)
	}
}

func ids(evs []Event) []int32 {
	out := make([]int32, len(evs))
	for i, ev := range evs {
		out[i] = ev.Token
	}
	return out
}

// TestDropMatchesFreshContext drops spans of output mid-generation under the Reencode policy
// and checks that the tokens after them see exactly the context without the spans: every
// later step's distribution equals that of a fresh request whose prompt is the kept tokens.
// (Shift and Gap keep the kept tokens' keys and values, computed when the span was there, so
// they are approximations by design; their own tests check what they promise.)
func TestDropMatchesFreshContext(t *testing.T) {
	for _, tc := range []struct {
		policy PositionPolicy
		tol    float64
	}{{Reencode, 1e-3}} {
		t.Run(tc.policy.String(), func(t *testing.T) {
			e, m := newEngine(t, 512)
			prompt := m.Tokenizer.Encode("Plan the trip: first the train, then the hotel, then the museum.")
			// Spans of several sizes, one reaching into a page boundary, one already partly dropped.
			drops := map[int][]Span{9: {{2, 7}}, 20: {{10, 19}}, 24: {{5, 12}, {21, 23}}}
			hook := hookFunc(func(i int, id int32) Directive { return Directive{Drop: drops[i]} })
			req := Request{Prompt: prompt, MaxTokens: 30, Sampling: greedy(), Logprobs: true, TopLogprobs: 5, Hook: hook, PositionPolicy: tc.policy}
			evs, res := events(t, e, req)
			out := ids(evs)
			var gone []Span
			for i := range out {
				for _, sp := range drops[i-1] {
					gone = AddSpan(gone, sp)
				}
				if len(gone) == 0 || i == 0 {
					continue
				}
				live := slices.Clone(prompt)
				for j := 0; j < i; j++ {
					if !slices.ContainsFunc(gone, func(s Span) bool { return j >= s.Begin && j < s.End }) {
						live = append(live, out[j])
					}
				}
				want := nextAfter(t, e, live)
				sameTop(t, fmt.Sprintf("step %d", i), evs[i].TopLogprobs, want.TopLogprobs, tc.tol)
			}
			// [2,7) 5, [10,19) 9, then of [5,12) only [7,10) is left: 3, and [21,23) 2.
			if want := 5 + 9 + 3 + 2; res.PrunedTokens != want {
				t.Errorf("pruned %d tokens, want %d", res.PrunedTokens, want)
			}
			if res.KVPeakTokens >= len(prompt)+30 || res.KVPeakTokens < len(prompt) {
				t.Errorf("KV peak %d tokens for %d written", res.KVPeakTokens, len(prompt)+30)
			}
			waitIdle(t, e)
			if n := e.Stats().KVPagesInUse; n != 0 {
				t.Errorf("%d pages in use after the request", n)
			}
		})
	}
}

// TestDropGapKeepsPositions checks the Gap policy against a forward pass with the positions
// written out: the kept tokens keep their numbering, and later tokens go on from it.
func TestDropGapKeepsPositions(t *testing.T) {
	e, m := newEngine(t, 512)
	prompt := m.Tokenizer.Encode("Count the apples, then the pears, then add them up.")
	hook := hookFunc(func(i int, id int32) Directive {
		if i == 12 {
			return Directive{Drop: []Span{{3, 11}}}
		}
		return Directive{}
	})
	evs, res := events(t, e, Request{Prompt: prompt, MaxTokens: 14, Sampling: greedy(), Logprobs: true, Hook: hook, PositionPolicy: Gap})
	if res.PrunedTokens != 8 {
		t.Fatalf("pruned %d, want 8", res.PrunedTokens)
	}
	out := ids(evs)
	// Token 13 was computed from prompt + out[:3] + out[11:13] at positions that skip 8.
	var toks, pos []int32
	for i, id := range prompt {
		toks, pos = append(toks, id), append(pos, int32(i))
	}
	for j := 0; j < 13; j++ {
		if j >= 3 && j < 11 {
			continue
		}
		toks, pos = append(toks, out[j]), append(pos, int32(len(prompt)+j))
	}
	mdl, _ := loadDemo()
	be, err := cpu.New(mdl, cpu.Options{Threads: 2, NumPages: 8, PageSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	logits := [][]float32{make([]float32, be.VocabSize())}
	b := backend.Batch{Seqs: []backend.SeqInput{{Tokens: toks, Positions: pos, Pages: []int32{0, 1, 2, 3, 4, 5, 6, 7}, Logits: true}}}
	if err := be.Forward(&b, logits); err != nil {
		t.Fatal(err)
	}
	checkGreedy(t, logits[0], evs[13])
}

// TestCallForcesTokens pauses a sequence on a call and checks that the call's tokens join the
// output, go through the model as context, and are counted.
func TestCallForcesTokens(t *testing.T) {
	e, m := newEngine(t, 512)
	prompt := m.Tokenizer.Encode("Ask the calculator for 6 times 7.")
	forced := m.Tokenizer.Encode(` {"result":"42"}`)
	hook := hookFunc(func(i int, id int32) Directive {
		if i == 4 {
			return Directive{Call: func(ctx context.Context) ([]int32, error) { return forced, nil }}
		}
		return Directive{}
	})
	evs, res := events(t, e, Request{Prompt: prompt, MaxTokens: 12 + len(forced), Sampling: greedy(), Logprobs: true, TopLogprobs: 5, Hook: hook})
	out := ids(evs)
	if !slices.Equal(out[5:5+len(forced)], forced) {
		t.Fatalf("output %v does not carry the forced tokens %v after token 4", out, forced)
	}
	if res.Calls != 1 || res.ForcedTokens != len(forced) || res.CompletionTokens != 12+len(forced) {
		t.Fatalf("calls %d forced %d completion %d; want 1, %d, %d", res.Calls, res.ForcedTokens, res.CompletionTokens, len(forced), 12+len(forced))
	}
	if !strings.Contains(res.Text, `{"result":"42"}`) {
		t.Fatalf("text %q lacks the forced text", res.Text)
	}
	k := 5 + len(forced)
	want := nextAfter(t, e, append(slices.Clone(prompt), out[:k]...))
	sameTop(t, "after the call", evs[k].TopLogprobs, want.TopLogprobs, 1e-3)
}

// TestCallDoesNotBlockOthers: while one sequence waits on a slow call, another decodes to
// its end (the call only returns once the other has finished, so a blocked scheduler would
// deadlock).
func TestCallDoesNotBlockOthers(t *testing.T) {
	e, m := newEngine(t, 512)
	otherDone := make(chan struct{})
	hook := hookFunc(func(i int, id int32) Directive {
		if i == 1 {
			return Directive{Call: func(ctx context.Context) ([]int32, error) {
				select {
				case <-otherDone:
					return m.Tokenizer.Encode(" done"), nil
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}}
		}
		return Directive{}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	slow, err := e.Submit(ctx, Request{Prompt: m.Tokenizer.Encode("One"), MaxTokens: 8, Sampling: greedy(), Hook: hook})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Generate(ctx, Request{Prompt: m.Tokenizer.Encode("Two"), MaxTokens: 20, Sampling: greedy()}, nil); err != nil {
		t.Fatal(err)
	}
	close(otherDone)
	for {
		ev, err := slow.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Done {
			if ev.Result.Calls != 1 {
				t.Fatalf("calls %d", ev.Result.Calls)
			}
			return
		}
	}
}

// TestCallErrorFailsRequest: a failing or panicking call ends its request with an error and
// frees its pages; the engine goes on serving.
func TestCallErrorFailsRequest(t *testing.T) {
	e, m := newEngine(t, 256)
	for _, call := range []func(context.Context) ([]int32, error){
		func(context.Context) ([]int32, error) { return nil, errors.New("tool exploded") },
		func(context.Context) ([]int32, error) { panic("bug in a hook") },
		func(context.Context) ([]int32, error) { return []int32{-3}, nil },
	} {
		hook := hookFunc(func(i int, id int32) Directive {
			if i == 0 {
				return Directive{Call: call}
			}
			return Directive{}
		})
		_, err := e.Generate(context.Background(), Request{Prompt: m.Tokenizer.Encode("Hi"), MaxTokens: 8, Sampling: greedy(), Hook: hook}, nil)
		if err == nil || !strings.Contains(err.Error(), "call") {
			t.Fatalf("err = %v, want a call error", err)
		}
	}
	waitIdle(t, e)
	if n := e.Stats().KVPagesInUse; n != 0 {
		t.Fatalf("%d pages in use", n)
	}
	if _, err := e.Generate(context.Background(), Request{Prompt: m.Tokenizer.Encode("Hi"), MaxTokens: 4, Sampling: greedy()}, nil); err != nil {
		t.Fatal(err)
	}
}

func TestAddSpan(t *testing.T) {
	var s []Span
	for _, sp := range []Span{{10, 12}, {2, 4}, {4, 6}, {11, 15}, {20, 21}} {
		s = AddSpan(s, sp)
	}
	if want := []Span{{2, 6}, {10, 15}, {20, 21}}; !slices.Equal(s, want) {
		t.Fatalf("got %v, want %v", s, want)
	}
}

// TestDropShiftRotatesKeptKeys checks the Shift policy against the same operation done by
// hand on a second backend: a prefill of everything before the drop, the kv package's Remove
// with its slot copies, a rotation of the moved keys by minus the span's length, then the
// pending token at its new contiguous position.
func TestDropShiftRotatesKeptKeys(t *testing.T) {
	e, m := newEngine(t, 512)
	prompt := m.Tokenizer.Encode("Sort the list, then print the smallest and the largest.")
	const at = 14
	span := Span{2, 11}
	hook := hookFunc(func(i int, id int32) Directive {
		if i == at {
			return Directive{Drop: []Span{span}}
		}
		return Directive{}
	})
	evs, res := events(t, e, Request{Prompt: prompt, MaxTokens: at + 2, Sampling: greedy(), Logprobs: true, Hook: hook, PositionPolicy: Shift})
	if res.PrunedTokens != span.Len() {
		t.Fatalf("pruned %d, want %d", res.PrunedTokens, span.Len())
	}
	out := ids(evs)
	mdl, _ := loadDemo()
	be, err := cpu.New(mdl, cpu.Options{Threads: 2, NumPages: 8, PageSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	pool := kv.NewPool(8, 16)
	seq := pool.NewSequence()
	before := append(slices.Clone(prompt), out[:at]...)
	if _, err := seq.Append(len(before)); err != nil {
		t.Fatal(err)
	}
	logits := [][]float32{make([]float32, be.VocabSize())}
	in := backend.SeqInput{Tokens: before, Positions: positions(0, len(before)), Pages: seq.Pages()}
	if err := be.Forward(&backend.Batch{Seqs: []backend.SeqInput{in}}, logits); err != nil {
		t.Fatal(err)
	}
	a, b := len(prompt)+span.Begin, len(prompt)+span.End
	moves, err := seq.Remove(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if err := be.CopySlots(moves); err != nil {
		t.Fatal(err)
	}
	if err := be.ShiftKeys(seq.Pages(), a, seq.Len(), a-b); err != nil {
		t.Fatal(err)
	}
	n := seq.Len()
	if _, err := seq.Append(1); err != nil {
		t.Fatal(err)
	}
	in = backend.SeqInput{Tokens: out[at : at+1], Positions: []int32{int32(n)}, Start: n, Pages: seq.Pages(), Logits: true}
	if err := be.Forward(&backend.Batch{Seqs: []backend.SeqInput{in}}, logits); err != nil {
		t.Fatal(err)
	}
	checkGreedy(t, logits[0], evs[at+1])
}

func positions(start, n int) []int32 {
	p := make([]int32, n)
	for i := range p {
		p[i] = int32(start + i)
	}
	return p
}

// checkGreedy checks that ev is the greedy draw from logits, with its log-probability.
func checkGreedy(t *testing.T, logits []float32, ev Event) {
	t.Helper()
	want := slices.Index(logits, slices.Max(logits))
	if int(ev.Token) != want {
		t.Fatalf("engine drew %d, the forward pass done by hand picks %d", ev.Token, want)
	}
	lse := 0.0
	for _, l := range logits {
		lse += math.Exp(float64(l - logits[want]))
	}
	if d := math.Abs(float64(ev.Logprob) + math.Log(lse)); d > 1e-3 {
		t.Fatalf("logprob %.5f, the forward pass done by hand gives %.5f", ev.Logprob, -math.Log(lse))
	}
}

// replay is a Chooser that replays a script and tells the hook test what it saw.
type replay struct{ script []int32 }

func (r *replay) Appended(int, int32) Directive { return Directive{} }
func (r *replay) Choose(i int) (int32, bool) {
	if i < len(r.script) {
		return r.script[i], true
	}
	return 0, false
}

func TestChooserReplaysScript(t *testing.T) {
	e, m := newEngine(t, 256)
	script := m.Tokenizer.Encode(" a recorded answer, replayed")
	_, res := events(t, e, Request{Prompt: m.Tokenizer.Encode("Say something."), MaxTokens: len(script) + 3, Sampling: greedy(), Hook: &replay{script}})
	if !slices.Equal(res.IDs[:len(script)], script) || len(res.IDs) != len(script)+3 {
		t.Fatalf("output %v does not start with the script %v, then 3 sampled tokens", res.IDs, script)
	}
	_, err := e.Generate(context.Background(), Request{Prompt: m.Tokenizer.Encode("Hi"), MaxTokens: 3, Sampling: greedy(), Hook: &replay{[]int32{1 << 30}}}, nil)
	if err == nil {
		t.Fatal("a chosen token outside the vocabulary was accepted")
	}
}

// TestPruningOutgrowsTheContext: with a hook dropping old output, a generation runs past the
// context's length (max tokens counts output, the context bounds what the cache holds).
func TestPruningOutgrowsTheContext(t *testing.T) {
	e, m := newEngine(t, 256) // a context of 256 tokens
	hook := hookFunc(func(i int, id int32) Directive {
		if i > 0 && i%50 == 0 {
			return Directive{Drop: []Span{{i - 50, i - 10}}} // keep the last 10
		}
		return Directive{}
	})
	for _, p := range []PositionPolicy{Reencode, Shift, Gap} {
		_, res := events(t, e, Request{Prompt: m.Tokenizer.Encode("Tell a long story."), MaxTokens: 400, Sampling: greedy(), Hook: hook, PositionPolicy: p})
		if res.CompletionTokens != 400 || res.FinishReason != FinishLength {
			t.Fatalf("%s: %d tokens, finish %q; want 400, length", p, res.CompletionTokens, res.FinishReason)
		}
		if res.KVPeakTokens >= 256 || res.PrunedTokens != 7*40 {
			t.Fatalf("%s: KV peak %d, pruned %d; want under 256, %d", p, res.KVPeakTokens, res.PrunedTokens, 7*40)
		}
	}
}
