package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/arborlabs/arbor/runtime/backend"
	"github.com/arborlabs/arbor/runtime/backend/cpu"
	"github.com/arborlabs/arbor/runtime/model"
	"github.com/arborlabs/arbor/runtime/sparse"
)

// attentionBackend runs the cpu backend and then reports made-up attention figures the way a
// sparse backend would: every sequence's context is the slots up to its last new token, and
// a single-token step with a sparse config attends to at most attendCap of them. It records
// the sparse config each single-token step carried.
type attentionBackend struct {
	*cpu.Backend
	attendCap int

	mu    sync.Mutex
	seen  []*sparse.Config // per single-token step, in order
	multi []*sparse.Config // per prefill chunk
}

func (b *attentionBackend) Forward(batch *backend.Batch, logits [][]float32) error {
	if err := b.Backend.Forward(batch, logits); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range batch.Seqs {
		in := &batch.Seqs[i]
		in.Context = in.Start + len(in.Tokens)
		in.Attended = in.Context
		if len(in.Tokens) == 1 {
			b.seen = append(b.seen, in.Sparse)
			if in.Sparse != nil {
				in.Attended = min(in.Context, b.attendCap)
			}
		} else {
			b.multi = append(b.multi, in.Sparse)
		}
	}
	return nil
}

// TestSparseRequestReachesBackend: a request's sparse config is on every one of its steps'
// SeqInputs, and the attended and context slots the backend reports for its decode steps
// are summed in its result and in the engine's stats; a request without one has none on its
// steps and attends to its whole context.
func TestSparseRequestReachesBackend(t *testing.T) {
	m, err := loadDemo()
	if err != nil {
		t.Fatal(err)
	}
	inner, err := cpu.New(m, cpu.Options{Threads: 2, NumPages: 16, PageSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer inner.Close()
	be := &attentionBackend{Backend: inner, attendCap: 12}
	e := New(be, m.Tokenizer, Options{StepTokens: 64, NumLayers: m.Config.NumLayers})
	defer e.Shutdown(context.Background())

	cfg := sparse.DefaultConfig(m.Config.NumLayers)
	cfg.Budget, cfg.Recent = 3, 2
	prompt := m.Tokenizer.Encode("Sparse attention is a per-request setting of the decode steps.")
	const newTokens = 8
	res, err := e.Generate(context.Background(), Request{Prompt: prompt, MaxTokens: newTokens, Sampling: greedy(),
		Sparse: &cfg}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The first token comes from the prefill; each later one from a decode step whose context
	// is the prompt and the tokens generated so far, itself included.
	var wantCtx, wantAtt int64
	for k := 1; k < newTokens; k++ {
		n := int64(len(prompt) + k)
		wantCtx += n
		wantAtt += min(n, 12)
	}
	if !res.SparseAttention || res.ContextTokens != wantCtx || res.AttendedTokens != wantAtt {
		t.Fatalf("sparse request: sparse %v, attended %d of %d; want true, %d of %d", res.SparseAttention,
			res.AttendedTokens, res.ContextTokens, wantAtt, wantCtx)
	}
	be.mu.Lock()
	if len(be.seen) != newTokens-1 || len(be.multi) == 0 {
		t.Fatalf("%d single-token steps and %d chunks, want %d and some", len(be.seen), len(be.multi), newTokens-1)
	}
	for i, c := range append(be.seen, be.multi...) {
		if c != &cfg {
			t.Fatalf("step %d carried sparse config %v, want the request's", i, c)
		}
	}
	be.seen, be.multi = nil, nil
	be.mu.Unlock()

	full, err := e.Generate(context.Background(), Request{Prompt: prompt, MaxTokens: newTokens, Sampling: greedy()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if full.SparseAttention || full.ContextTokens != wantCtx || full.AttendedTokens != wantCtx {
		t.Fatalf("full request: sparse %v, attended %d of %d; want false, %d of %d", full.SparseAttention,
			full.AttendedTokens, full.ContextTokens, wantCtx, wantCtx)
	}
	be.mu.Lock()
	for i, c := range append(be.seen, be.multi...) {
		if c != nil {
			t.Fatalf("step %d of a full-attention request carried sparse config %v", i, c)
		}
	}
	be.mu.Unlock()
	if st := e.Stats(); st.ContextTokens != 2*wantCtx || st.AttendedTokens != wantAtt+wantCtx {
		t.Fatalf("stats: attended %d of %d, want %d of %d", st.AttendedTokens, st.ContextTokens, wantAtt+wantCtx,
			2*wantCtx)
	}

	// A config that does not fit the model is the request's error, before it is queued.
	bad := sparse.DefaultConfig(m.Config.NumLayers + 1)
	if _, err := e.Submit(context.Background(), Request{Prompt: prompt, Sampling: greedy(), Sparse: &bad}); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("sparse config for %d layers on a model of %d: err %v, want ErrBadRequest", len(bad.Layers),
			m.Config.NumLayers, err)
	}
	zero := cfg
	zero.Budget = 0
	if _, err := e.Submit(context.Background(), Request{Prompt: prompt, Sampling: greedy(), Sparse: &zero}); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("sparse budget 0: err %v, want ErrBadRequest", err)
	}
	waitIdle(t, e)
}

// deepDemo is the demo model's tokenizer over random weights five layers deep, so that the
// default placement has select and sparse layers (the demo's two layers attend fully).
func deepDemo(t *testing.T) *model.Model {
	t.Helper()
	demoModel, err := loadDemo()
	if err != nil {
		t.Fatal(err)
	}
	cfg := demoModel.Config
	cfg.NumLayers = 5
	w, err := model.NewRandom(&cfg, model.F32, 3)
	if err != nil {
		t.Fatal(err)
	}
	return &model.Model{Config: cfg, Weights: *w, Tokenizer: demoModel.Tokenizer}
}

// TestSparseSharedPrefixAndPruning runs the cpu backend's real sparse attention through the
// engine: a request reusing another's cached prompt pages selects among them for itself and
// decodes what it decodes alone (shared pages are read, never changed); a request pruning
// spans of its output as it goes decodes on, attending to fewer slots than its context, and
// only ever to its live pages (a dropped span's slots leave the page table).
func TestSparseSharedPrefixAndPruning(t *testing.T) {
	m := deepDemo(t)
	be, err := cpu.New(m, cpu.Options{Threads: 2, NumPages: 64, PageSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	e := New(be, m.Tokenizer, Options{StepTokens: 64, NumLayers: m.Config.NumLayers})
	defer e.Shutdown(context.Background())
	cfg := sparse.Config{Layers: []sparse.Mode{sparse.Full, sparse.Select, sparse.Sparse, sparse.Select, sparse.Sparse},
		Budget: 2, Recent: 1}

	var text strings.Builder
	for i := range 30 {
		fmt.Fprintf(&text, "Step %d of the plan moves one crate to shelf %d. ", i, i%7)
	}
	prompt := m.Tokenizer.Encode(text.String())
	if len(prompt) < 5*16 {
		t.Fatalf("prompt of %d tokens: too short to be sparse", len(prompt))
	}
	run := func(req Request) *Result {
		t.Helper()
		res, err := e.Generate(context.Background(), req, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	first := run(Request{Prompt: prompt, MaxTokens: 12, Sampling: greedy(), Sparse: &cfg})
	second := run(Request{Prompt: prompt, MaxTokens: 12, Sampling: greedy(), Sparse: &cfg})
	if second.CachedTokens == 0 {
		t.Fatal("the second request reused no cached prompt pages")
	}
	if !slices.Equal(first.IDs, second.IDs) {
		t.Fatalf("decoding over shared prompt pages: %v, alone %v", second.IDs, first.IDs)
	}
	if first.AttendedTokens >= first.ContextTokens {
		t.Fatalf("attended %d of %d: sparse attention did not run", first.AttendedTokens, first.ContextTokens)
	}

	// Spans of the output (the indices a hook sees), as a task tree drops finished subtasks.
	drops := map[int][]Span{6: {{0, 4}}, 11: {{5, 9}}}
	hook := hookFunc(func(i int, id int32) Directive { return Directive{Drop: drops[i]} })
	pruned := run(Request{Prompt: prompt, MaxTokens: 14, Sampling: greedy(), Sparse: &cfg, Hook: hook})
	if pruned.PrunedTokens != 8 || pruned.CompletionTokens != 14 {
		t.Fatalf("pruned %d tokens and generated %d, want 8 and 14", pruned.PrunedTokens, pruned.CompletionTokens)
	}
	if pruned.AttendedTokens >= pruned.ContextTokens {
		t.Fatalf("pruned request attended %d of %d", pruned.AttendedTokens, pruned.ContextTokens)
	}
	waitIdle(t, e)
}
