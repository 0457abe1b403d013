package cpu

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/arborlabs/arbor/runtime/backend"
	"github.com/arborlabs/arbor/runtime/model"
	"github.com/arborlabs/arbor/runtime/sparse"
)

// sparseModel is a test shape deep enough for every mode: five layers, so that a config can
// have a full layer, two select layers and sparse layers above each.
func sparseModel(t testing.TB, shape string) *model.Model {
	t.Helper()
	cfg, err := model.Shape(shape)
	if err != nil {
		t.Fatal(err)
	}
	cfg.VocabSize = 384
	cfg.NumLayers = 5
	w, err := model.NewRandom(&cfg, model.F32, 11)
	if err != nil {
		t.Fatal(err)
	}
	return &model.Model{Config: cfg, Weights: *w}
}

var sparseModes = []sparse.Mode{sparse.Full, sparse.Select, sparse.Sparse, sparse.Select, sparse.Sparse}

const sparsePageSize = 4

// sparseRun prefills tokens[:n-1] and decodes tokens[n-1] with sp (and forced pages) on a fresh
// backend, returning the decode's logits and input (with Attended and Context), and the probe
// events of the decode when probe is set.
func sparseRun(t *testing.T, m *model.Model, kvt backend.KVType, tokens []int32, sp *sparse.Config, forced []int32,
	probe bool) ([]float32, backend.SeqInput, []backend.AttentionProbe) {
	t.Helper()
	be := newTestBackend(t, m, Options{Threads: 2, NumPages: 32, PageSize: sparsePageSize, KV: kvt})
	n := len(tokens)
	pages := make([]int32, (n+sparsePageSize-1)/sparsePageSize)
	for i := range pages {
		pages[i] = int32(31 - 2*i) // scattered, descending
	}
	logits := [][]float32{make([]float32, m.Config.VocabSize)}
	pre := backend.SeqInput{Tokens: tokens[:n-1], Positions: seqPositions(0, n-1), Pages: pages, Sparse: sp}
	if err := be.Forward(&backend.Batch{Seqs: []backend.SeqInput{pre}}, logits); err != nil {
		t.Fatal(err)
	}
	var events []backend.AttentionProbe
	if probe {
		be.SetAttentionProbe(func(e *backend.AttentionProbe) {
			c := *e
			c.Probs = slices.Clone(e.Probs)
			c.Picked = slices.Clone(e.Picked)
			events = append(events, c)
		})
	}
	in := backend.SeqInput{Tokens: tokens[n-1:], Positions: []int32{int32(n - 1)}, Start: n - 1, Pages: pages,
		Logits: true, Sparse: sp, SparsePages: forced}
	batch := &backend.Batch{Seqs: []backend.SeqInput{in}}
	if err := be.Forward(batch, logits); err != nil {
		t.Fatal(err)
	}
	return logits[0], batch.Seqs[0], events
}

// TestSparseInactiveIsFull: below its budget, or with every page forced, a sparse sequence's
// logits are the full attention's bit for bit, and it reports attending to its whole context.
func TestSparseInactiveIsFull(t *testing.T) {
	m := sparseModel(t, "tiny")
	tokens := randomTokens(rand.New(rand.NewPCG(2, 3)), 23, m.Config.VocabSize) // 6 pages
	for _, kvt := range []backend.KVType{backend.KVF16, backend.KVF32} {
		full, in, _ := sparseRun(t, m, kvt, tokens, nil, nil, false)
		if in.Context != 23 || in.Attended != 23 {
			t.Fatalf("%s full: attended %d of %d, want 23 of 23", kvt, in.Attended, in.Context)
		}
		wide := &sparse.Config{Layers: sparseModes, Budget: 5, Recent: 1} // 6 pages: not above 5+1
		got, in, _ := sparseRun(t, m, kvt, tokens, wide, nil, false)
		if !slices.Equal(got, full) || in.Attended != 23 {
			t.Fatalf("%s: a selection as large as the context changed the logits (attended %d)", kvt, in.Attended)
		}
		narrow := &sparse.Config{Layers: sparseModes, Budget: 1, Recent: 1}
		got, in, _ = sparseRun(t, m, kvt, tokens, narrow, []int32{0, 1, 2, 3, 4, 5}, false)
		if !slices.Equal(got, full) || in.Attended != 23 {
			t.Fatalf("%s: forcing every page changed the logits (attended %d)", kvt, in.Attended)
		}
	}
}

// TestSparseForcedMatchesReference: with a forced selection, the decode token's sparse layers
// attend to exactly those pages' tokens: the float64 reference with that mask agrees, and
// Attended is the mean over the layers of what each attended.
func TestSparseForcedMatchesReference(t *testing.T) {
	for _, shape := range testShapes {
		m := sparseModel(t, shape)
		tokens := randomTokens(rand.New(rand.NewPCG(4, 5)), 23, m.Config.VocabSize)
		forced := []int32{0, 3, 5} // slots 0-3, 12-15, 20-22
		cfg := &sparse.Config{Layers: sparseModes, Budget: 2, Recent: 1}
		got, in, _ := sparseRun(t, m, backend.KVF32, tokens, cfg, forced, false)
		allowed := func(j int) bool { return slices.Contains(forced, int32(j/sparsePageSize)) }
		want := refForwardMasked(&m.Config, &m.Weights, tokens, seqPositions(0, len(tokens)), func(li, tk, j int) bool {
			return tk < len(tokens)-1 || sparseModes[li] != sparse.Sparse || allowed(j)
		})
		compareLogits(t, shape, got, want[len(want)-1], tolerance(model.F32))
		full := refForward(&m.Config, &m.Weights, tokens, seqPositions(0, len(tokens)))
		if d := maxDiff(got, full[len(full)-1]); d < 1e-3 {
			t.Fatalf("%s: sparse logits within %g of the full attention's: the mask did nothing", shape, d)
		}
		// Layers 0, 1, 3 attend to 23 slots, layers 2 and 4 to 11: (3*23 + 2*11)/5 = 18.2.
		if in.Context != 23 || in.Attended != 18 {
			t.Fatalf("%s: attended %d of %d, want 18 of 23", shape, in.Attended, in.Context)
		}
	}
}

func maxDiff(got []float32, want []float64) float64 {
	d := 0.0
	for i := range want {
		d = max(d, abs64(float64(got[i])-want[i]))
	}
	return d
}

func abs64(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestSparsePicks: each select layer picks what the policy says from its own full attention
// (page scores over all query heads, the recent pages and the best others), the sparse layers
// above it attend to those picks, and the result equals a run with those pages forced.
func TestSparsePicks(t *testing.T) {
	m := sparseModel(t, "tiny-qwen2")
	tokens := randomTokens(rand.New(rand.NewPCG(6, 7)), 41, m.Config.VocabSize) // 11 pages
	cfg := &sparse.Config{Layers: sparseModes, Budget: 3, Recent: 2}
	for _, kvt := range []backend.KVType{backend.KVF16, backend.KVF32} {
		got, _, events := sparseRun(t, m, kvt, tokens, cfg, nil, true)
		if len(events) != len(sparseModes) {
			t.Fatalf("%d probe events for %d layers", len(events), len(sparseModes))
		}
		var want []int32
		for li, e := range events {
			if e.Layer != li || e.Mode != sparseModes[li] || e.N != 41 || e.Heads != m.Config.NumHeads {
				t.Fatalf("layer %d: probe %+v", li, e)
			}
			switch e.Mode {
			case sparse.Select:
				scores := make([]float32, 11)
				sparse.PageScores(e.Probs, e.Heads, e.N, e.N, sparsePageSize, scores)
				want = cfg.Pick(scores, 11, nil)
				if len(want) != 5 || want[3] != 9 || want[4] != 10 {
					t.Fatalf("layer %d: picks %v: want 3 best and the last 2 pages", li, want)
				}
			case sparse.Sparse:
				if !slices.Equal(e.Picked, want) {
					t.Fatalf("%s layer %d attended to pages %v, its select layer's policy picks %v", kvt, li, e.Picked, want)
				}
			}
		}
		// A forced selection applies to both sparse layers, the picks to one each: forcing the
		// first select layer's picks reproduces the run exactly when the second picked the same.
		first, second := events[2].Picked, events[4].Picked
		forcedRun, _, _ := sparseRun(t, m, kvt, tokens, cfg, first, false)
		if slices.Equal(first, second) != slices.Equal(forcedRun, got) {
			t.Fatalf("%s: picks %v and %v; the run forced to the first equals the selecting run: %v",
				kvt, first, second, slices.Equal(forcedRun, got))
		}
	}
}

// TestSparseMixedBatch: a sparse decode, a dense decode and a prefill chunk in one step each
// give what they give alone.
func TestSparseMixedBatch(t *testing.T) {
	m := sparseModel(t, "tiny")
	r := rand.New(rand.NewPCG(8, 9))
	V := m.Config.VocabSize
	cfg := &sparse.Config{Layers: sparseModes, Budget: 1, Recent: 1}
	a, b, c := randomTokens(r, 23, V), randomTokens(r, 19, V), randomTokens(r, 9, V)
	wantA, _, _ := sparseRun(t, m, backend.KVF16, a, cfg, nil, false)
	wantB, _, _ := sparseRun(t, m, backend.KVF16, b, nil, nil, false)

	be := newTestBackend(t, m, Options{Threads: 2, NumPages: 32, PageSize: sparsePageSize})
	pa, pb, pc := []int32{0, 1, 2, 3, 4, 5}, []int32{6, 7, 8, 9, 10}, []int32{11, 12, 13}
	logits := [][]float32{make([]float32, V), make([]float32, V), make([]float32, V)}
	pre := &backend.Batch{Seqs: []backend.SeqInput{
		{Tokens: a[:22], Positions: seqPositions(0, 22), Pages: pa, Sparse: cfg},
		{Tokens: b[:18], Positions: seqPositions(0, 18), Pages: pb},
	}}
	if err := be.Forward(pre, logits); err != nil {
		t.Fatal(err)
	}
	step := &backend.Batch{Seqs: []backend.SeqInput{
		{Tokens: a[22:], Positions: []int32{22}, Start: 22, Pages: pa, Sparse: cfg, Logits: true},
		{Tokens: b[18:], Positions: []int32{18}, Start: 18, Pages: pb, Logits: true},
		{Tokens: c, Positions: seqPositions(0, 9), Pages: pc, Sparse: cfg, Logits: true},
	}}
	if err := be.Forward(step, logits); err != nil {
		t.Fatal(err)
	}
	for i, want := range [][]float32{wantA, wantB} {
		w := make([]float64, V)
		for j, x := range want {
			w[j] = float64(x)
		}
		compareLogits(t, fmt.Sprintf("sequence %d", i), logits[i], w, 1e-5)
	}
	if s := step.Seqs[0]; s.Attended >= s.Context {
		t.Fatalf("the sparse decode attended %d of %d", s.Attended, s.Context)
	}
	if s := step.Seqs[2]; s.Attended != 9 || s.Context != 9 {
		t.Fatalf("the prefill chunk reports %d of %d: prefill attends fully", s.Attended, s.Context)
	}
}

// TestSparseBadBatch: configs for another depth and forced pages out of order or range are
// refused before anything runs.
func TestSparseBadBatch(t *testing.T) {
	m := sparseModel(t, "tiny")
	be := newTestBackend(t, m, Options{Threads: 1, NumPages: 8, PageSize: sparsePageSize})
	logits := [][]float32{make([]float32, m.Config.VocabSize)}
	good := &sparse.Config{Layers: sparseModes, Budget: 1, Recent: 1}
	for _, c := range []struct {
		cfg    *sparse.Config
		forced []int32
	}{
		{&sparse.Config{Layers: sparseModes[:4], Budget: 1, Recent: 1}, nil},
		{&sparse.Config{Layers: []sparse.Mode{0, 2, 1, 2, 2}, Budget: 1, Recent: 1}, nil},
		{&sparse.Config{Layers: sparseModes, Budget: 0, Recent: 1}, nil},
		{good, []int32{1, 0}},
		{good, []int32{0, 3}},
		{good, []int32{-1}},
	} {
		in := backend.SeqInput{Tokens: []int32{1}, Positions: []int32{9}, Start: 9, Pages: []int32{0, 1, 2},
			Logits: true, Sparse: c.cfg, SparsePages: c.forced}
		if err := be.Forward(&backend.Batch{Seqs: []backend.SeqInput{in}}, logits); err == nil {
			t.Fatalf("config %+v with pages %v accepted", c.cfg, c.forced)
		}
	}
}

// TestSparseDecodeAllocatesNothing: sparse decode steps reuse their buffers too.
func TestSparseDecodeAllocatesNothing(t *testing.T) {
	m := sparseModel(t, "tiny")
	be := newTestBackend(t, m, Options{Threads: 2, NumPages: 32, PageSize: sparsePageSize})
	cfg := &sparse.Config{Layers: sparseModes, Budget: 2, Recent: 1}
	pages := make([]int32, 32)
	for i := range pages {
		pages[i] = int32(i)
	}
	logits := [][]float32{make([]float32, m.Config.VocabSize)}
	batch := &backend.Batch{Seqs: []backend.SeqInput{{Tokens: []int32{1}, Positions: []int32{0}, Pages: pages, Logits: true, Sparse: cfg}}}
	step := 0
	run := func() {
		batch.Seqs[0].Start = step
		batch.Seqs[0].Positions[0] = int32(step)
		if err := be.Forward(batch, logits); err != nil {
			t.Fatal(err)
		}
		step++
	}
	for range 40 {
		run()
	}
	if allocs := testing.AllocsPerRun(20, run); allocs != 0 {
		t.Errorf("%.1f allocations per sparse decode step", allocs)
	}
}
