package engine

import (
	"context"
	"errors"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arborlabs/arbor/runtime/backend"
	"github.com/arborlabs/arbor/runtime/backend/cpu"
	"github.com/arborlabs/arbor/runtime/model"
	"github.com/arborlabs/arbor/runtime/model/demo"
	"github.com/arborlabs/arbor/runtime/sample"
)

// loadDemo builds the demo model once for all tests (about a second).
var loadDemo = sync.OnceValues(demo.Random)

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
	e := New(be, m.Tokenizer, Options{StepTokens: 7})
	t.Cleanup(func() {
		e.Shutdown(context.Background())
		be.Close()
	})
	return e, m
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
	e.opt.StepTokens = 1024
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
	// The scheduler frees a cancelled sequence's pages at its next step.
	waitIdle(t, e)
}

// waitIdle waits until the engine holds no sequences and no pages.
func waitIdle(t *testing.T, e *Engine) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := e.Stats()
		if st.Running == 0 && st.Waiting == 0 && st.KVPagesInUse == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("engine not idle: %+v", st)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestBatchedMatchesSequential runs several greedy requests at once, with prompts of different
// lengths prefilled in small chunks among each other's decode steps, and checks that every one
// generates exactly what it generates alone: batching must not change results.
func TestBatchedMatchesSequential(t *testing.T) {
	e, m := newEngine(t, 1024)
	prompts := []string{
		"Hello",
		"The quick brown fox jumps over the lazy dog.",
		"一二三四五六七八九十",
		"func main() { fmt.Println(\"hi\") }",
		"A longer prompt that needs several prefill chunks of seven tokens before it produces anything at all.",
		"x",
	}
	want := make([][]int32, len(prompts))
	for i, p := range prompts {
		res, err := e.Generate(context.Background(), Request{Prompt: m.Tokenizer.Encode(p), MaxTokens: 10, Sampling: greedy()}, nil)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = res.IDs
	}
	got := runConcurrently(t, e, m, prompts, 10)
	for i := range prompts {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("prompt %d: batched %v, alone %v", i, got[i], want[i])
		}
	}
	if st := e.Stats(); st.Steps == 0 || st.StepTokens <= st.Steps {
		t.Errorf("no step carried more than one token: %+v", st)
	}
	waitIdle(t, e)
}

func runConcurrently(t *testing.T, e *Engine, m *model.Model, prompts []string, maxTokens int) [][]int32 {
	t.Helper()
	// Submit all first, then read: every request is queued within microseconds of the others,
	// so they compete for pages even when a loaded machine is slow to start goroutines.
	streams := make([]*Stream, len(prompts))
	for i, p := range prompts {
		st, err := e.Submit(context.Background(), Request{Prompt: m.Tokenizer.Encode(p), MaxTokens: maxTokens, Sampling: greedy()})
		if err != nil {
			t.Fatalf("prompt %d: %v", i, err)
		}
		streams[i] = st
	}
	got := make([][]int32, len(prompts))
	errs := make([]error, len(prompts))
	var wg sync.WaitGroup
	for i, st := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ev, err := st.Recv(context.Background())
				if err != nil {
					errs[i] = err
					return
				}
				if ev.Done {
					got[i] = ev.Result.IDs
					return
				}
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("prompt %d: %v", i, err)
		}
	}
	return got
}

// TestPreemption gives the engine too few pages for its requests at once: the newest
// sequences are preempted and recomputed later, and every result still equals the one it gets
// alone.
func TestPreemption(t *testing.T) {
	m, err := loadDemo()
	if err != nil {
		t.Fatal(err)
	}
	// 8 pages of 4 slots; each request needs up to 4 pages (about 6 prompt + 8 new tokens).
	be, err := cpu.New(m, cpu.Options{Threads: 2, NumPages: 8, PageSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	e := New(be, m.Tokenizer, Options{StepTokens: 64})
	defer e.Shutdown(context.Background())
	prompts := []string{"one two three four", "five six seven eight", "nine ten eleven twelve", "alpha beta gamma delta"}
	want := make([][]int32, len(prompts))
	for i, p := range prompts {
		res, err := e.Generate(context.Background(), Request{Prompt: m.Tokenizer.Encode(p), MaxTokens: 8, Sampling: greedy()}, nil)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = res.IDs
	}
	got := runConcurrently(t, e, m, prompts, 8)
	for i := range prompts {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("prompt %d: under pressure %v, alone %v", i, got[i], want[i])
		}
	}
	if e.Stats().Preemptions == 0 {
		t.Errorf("expected preemptions with 8 pages for 4 sequences of up to 4 pages: %+v", e.Stats())
	}
	waitIdle(t, e)
}

func TestQueueLimitAndShutdown(t *testing.T) {
	m, err := loadDemo()
	if err != nil {
		t.Fatal(err)
	}
	be, err := cpu.New(m, cpu.Options{Threads: 1, NumPages: 64, PageSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	e := New(be, m.Tokenizer, Options{MaxSeqs: 1, MaxQueue: 2})
	prompt := m.Tokenizer.Encode("Hello")
	var streams []*Stream
	full := 0
	for i := 0; i < 8; i++ {
		st, err := e.Submit(context.Background(), Request{Prompt: prompt, MaxTokens: 200, Sampling: greedy()})
		switch {
		case errors.Is(err, ErrQueueFull):
			full++
		case err != nil:
			t.Fatal(err)
		default:
			streams = append(streams, st)
		}
	}
	if full == 0 {
		t.Fatalf("8 submissions with one running and a queue of 2: none refused")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := e.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("shutdown with long requests in flight: %v, want deadline exceeded", err)
	}
	if _, err := e.Submit(context.Background(), Request{Prompt: prompt, Sampling: greedy()}); !errors.Is(err, ErrClosed) {
		t.Fatalf("submit after shutdown: %v, want ErrClosed", err)
	}
	// Every accepted stream ends: with a result or with ErrClosed, never hanging.
	for i, st := range streams {
		for {
			ev, err := st.Recv(context.Background())
			if err != nil {
				if !errors.Is(err, ErrClosed) && err != io.EOF {
					t.Fatalf("stream %d: %v", i, err)
				}
				break
			}
			_ = ev
		}
	}
	if st := e.Stats(); st.KVPagesInUse != 0 {
		t.Fatalf("%d pages in use after shutdown", st.KVPagesInUse)
	}
}

// TestPrefixCache: a second request sharing a long prefix with the first reuses its full KV
// pages (counted in CachedTokens and the stats) and generates exactly what it generates with
// the cache off.
func TestPrefixCache(t *testing.T) {
	e, m := newEngine(t, 1024)
	shared := strings.Repeat("A long shared system prompt about the rules of the game. ", 6)
	first := m.Tokenizer.Encode(shared + "First question?")
	second := m.Tokenizer.Encode(shared + "Second, different question?")
	if _, err := e.Generate(context.Background(), Request{Prompt: first, MaxTokens: 4, Sampling: greedy()}, nil); err != nil {
		t.Fatal(err)
	}
	cached, err := e.Generate(context.Background(), Request{Prompt: second, MaxTokens: 8, Sampling: greedy()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	common := 0
	for common < len(first) && first[common] == second[common] {
		common++
	}
	if want := common / 16 * 16; cached.CachedTokens != want || want == 0 {
		t.Fatalf("cached %d tokens, want the %d of the full pages in the %d-token common prefix", cached.CachedTokens, want, common)
	}
	if st := e.Stats(); st.PrefixHit != int64(cached.CachedTokens) || st.PrefixQueries < int64(len(first)+len(second)-2) {
		t.Fatalf("stats %+v after a hit of %d", st, cached.CachedTokens)
	}
	e.opt.NoPrefixCache = true
	plain, err := e.Generate(context.Background(), Request{Prompt: second, MaxTokens: 8, Sampling: greedy()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if plain.CachedTokens != 0 || !slices.Equal(plain.IDs, cached.IDs) {
		t.Fatalf("without the cache %v (cached %d), with it %v", plain.IDs, plain.CachedTokens, cached.IDs)
	}
	waitIdle(t, e)
}

// heldBackend runs no forward step until hold is closed, and records the first token of every
// sequence whose prompt starts a forward pass (Start 0): the order in which the engine admitted
// them, seen where it acts on it.
type heldBackend struct {
	backend.Backend
	hold   chan struct{}
	mu     sync.Mutex
	starts []int32
}

func (h *heldBackend) Forward(b *backend.Batch, logits [][]float32) error {
	<-h.hold
	h.mu.Lock()
	for _, s := range b.Seqs {
		if s.Start == 0 {
			h.starts = append(h.starts, s.Tokens[0])
		}
	}
	h.mu.Unlock()
	return h.Backend.Forward(b, logits)
}

// TestBackgroundWaitsBehindClients: a background request queued before a client's request is
// admitted after it. The order is read from the batches the backend runs, not from when each
// stream's reader saw its end: those readers are goroutines that a loaded machine may run in
// any order (which is what made an earlier form of this test flaky in CI).
func TestBackgroundWaitsBehindClients(t *testing.T) {
	m, err := loadDemo()
	if err != nil {
		t.Fatal(err)
	}
	be, err := cpu.New(m, cpu.Options{Threads: 1, NumPages: 64, PageSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	// Every forward step waits until both later requests are queued: the first request holds
	// the only slot meanwhile and the scheduler cannot admit anything.
	held := &heldBackend{Backend: be, hold: make(chan struct{})}
	e := New(held, m.Tokenizer, Options{MaxSeqs: 1})
	defer e.Shutdown(context.Background())
	names := map[int32]string{}
	var streams []*Stream
	submit := func(name, prompt string, background bool) {
		ids := m.Tokenizer.Encode(prompt)
		if _, dup := names[ids[0]]; dup {
			t.Fatalf("prompt %q starts with the same token as another", prompt)
		}
		names[ids[0]] = name
		st, err := e.Submit(context.Background(), Request{Prompt: ids, MaxTokens: 4, Sampling: greedy(), Background: background})
		if err != nil {
			t.Fatal(err)
		}
		streams = append(streams, st)
	}
	submit("first", "Hello", false)
	for e.Stats().Running == 0 {
		time.Sleep(time.Millisecond)
	}
	submit("background", "Summarise", true)
	submit("client", "What", false)
	close(held.hold)
	for i, st := range streams {
		for {
			ev, err := st.Recv(context.Background())
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			if ev.Done {
				break
			}
		}
	}
	held.mu.Lock()
	var order []string
	for _, tok := range held.starts {
		order = append(order, names[tok])
	}
	held.mu.Unlock()
	if got := strings.Join(order, ","); got != "first,client,background" {
		t.Fatalf("admission order %s, want first,client,background", got)
	}
}

// TestEmbed: an embedding request returns the mean of the prompt's final-normed hidden states,
// the same whether the prompt is prefilled in chunks with other requests around or in one
// forward pass alone, and whether or not another request cached its prefix.
func TestEmbed(t *testing.T) {
	e, m := newEngine(t, 1024) // prefill chunks of 7 tokens
	prompt := m.Tokenizer.Encode("The quick brown fox jumps over the lazy dog, twice, and then rests.")
	ctx := context.Background()
	// Another request over the same prompt first: its KV pages enter the prefix cache.
	if _, err := e.Generate(ctx, Request{Prompt: prompt, MaxTokens: 3, Sampling: greedy()}, nil); err != nil {
		t.Fatal(err)
	}
	other, err := e.Submit(ctx, Request{Prompt: m.Tokenizer.Encode("Something else entirely"), MaxTokens: 20, Sampling: greedy()})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Generate(ctx, Request{Prompt: prompt, Embed: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for {
		if ev, err := other.Recv(ctx); err != nil || ev.Done {
			break
		}
	}
	if res.CompletionTokens != 0 || res.FinishReason != FinishStop || len(res.Embedding) != m.Config.HiddenSize {
		t.Fatalf("embedding result: %d tokens, %q, %d values", res.CompletionTokens, res.FinishReason, len(res.Embedding))
	}
	// One pass over the whole prompt, straight on a backend of its own.
	be, err := cpu.New(m, cpu.Options{Threads: 1, NumPages: 8, PageSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	pos := make([]int32, len(prompt))
	for i := range pos {
		pos[i] = int32(i)
	}
	sum := make([]float32, m.Config.HiddenSize)
	b := &backend.Batch{Seqs: []backend.SeqInput{{Tokens: prompt, Positions: pos, Pages: []int32{0, 1, 2, 3}, Pool: sum}}}
	if err := be.Forward(b, make([][]float32, 1)); err != nil {
		t.Fatal(err)
	}
	for i, v := range sum {
		want := v / float32(len(prompt))
		if d := math.Abs(float64(res.Embedding[i] - want)); d > 1e-4*(1+math.Abs(float64(want))) {
			t.Fatalf("component %d: engine %g, one pass %g", i, res.Embedding[i], want)
		}
	}
	diff, err := e.Generate(ctx, Request{Prompt: m.Tokenizer.Encode("A different sentence about cats."), Embed: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(diff.Embedding, res.Embedding) {
		t.Fatal("two texts, one embedding")
	}
	if _, err := e.Submit(ctx, Request{Prompt: prompt, Embed: true, Hook: nopHook{}}); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("embedding with a hook: %v", err)
	}
}

type nopHook struct{}

func (nopHook) Appended(int, int32) Directive { return Directive{} }
