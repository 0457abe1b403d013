package xla

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/arborlabs/arbor/runtime/backend"
	"github.com/arborlabs/arbor/runtime/backend/cpu"
	"github.com/arborlabs/arbor/runtime/kv"
	"github.com/arborlabs/arbor/runtime/model"
)

// pair is the same model on the cpu backend (the reference) and on this one, with the same
// KV geometry, so that the same batches and page tables drive both.
type pair struct {
	t   *testing.T
	m   *model.Model
	ref *cpu.Backend
	x   *Model
	max float64 // largest relative logit difference seen
}

func newPair(t *testing.T, shape string, numPages, pageSize int) *pair {
	t.Helper()
	m := testModel(t, shape, model.F32)
	ref, err := cpu.New(m, cpu.Options{Threads: 2, NumPages: numPages, PageSize: pageSize})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ref.Close() })
	x, err := New(m, Options{Backend: "go:ops_sequential", NumPages: numPages, PageSize: pageSize})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	if x.PageSize() != pageSize || x.NumPages() != numPages || x.VocabSize() != m.Config.VocabSize {
		t.Fatalf("geometry: %d pages of %d, vocab %d", x.NumPages(), x.PageSize(), x.VocabSize())
	}
	return &pair{t: t, m: m, ref: ref, x: x}
}

// forward runs b on both backends and compares the logits of the sequences that ask for them.
func (p *pair) forward(what string, seqs ...backend.SeqInput) {
	p.t.Helper()
	b := &backend.Batch{Seqs: seqs}
	V := p.m.Config.VocabSize
	want, got := make([][]float32, len(seqs)), make([][]float32, len(seqs))
	for i := range seqs {
		want[i], got[i] = make([]float32, V), make([]float32, V)
	}
	if err := p.ref.Forward(b, want); err != nil {
		p.t.Fatalf("%s: cpu: %v", what, err)
	}
	if err := p.x.Forward(b, got); err != nil {
		p.t.Fatalf("%s: xla: %v", what, err)
	}
	for i := range seqs {
		if !seqs[i].Logits {
			continue
		}
		var maxDiff, maxRef float64
		for j, w := range want[i] {
			maxDiff = max(maxDiff, math.Abs(float64(got[i][j])-float64(w)))
			maxRef = max(maxRef, math.Abs(float64(w)))
		}
		rel := maxDiff / maxRef
		p.max = max(p.max, rel)
		if !(rel <= logitTolerance(model.F32)) {
			p.t.Errorf("%s: sequence %d: relative max logit difference %.3g (abs %.3g) exceeds %.0e", what, i, rel, maxDiff, logitTolerance(model.F32))
		}
	}
}

func (p *pair) copySlots(moves []kv.Move) {
	p.t.Helper()
	if err := p.ref.CopySlots(moves); err != nil {
		p.t.Fatal(err)
	}
	if err := p.x.CopySlots(moves); err != nil {
		p.t.Fatal(err)
	}
}

func randTokens(r *rand.Rand, n, vocab int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(r.IntN(vocab))
	}
	return out
}

func positions(from, n int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(from + i)
	}
	return out
}

// TestPrefillThenDecode: a 12-token prefill, then 3 decode steps, on one sequence whose pages
// are out of order; with GQA, Qwen2 biases and Mistral's 5-slot window.
func TestPrefillThenDecode(t *testing.T) {
	for _, shape := range []string{"tiny", "tiny-qwen2", "tiny-mistral"} {
		t.Run(shape, func(t *testing.T) {
			p := newPair(t, shape, 8, 4)
			r := rand.New(rand.NewPCG(1, 2))
			pages := []int32{5, 2, 7, 0}
			toks := randTokens(r, 15, p.m.Config.VocabSize)
			p.forward("prefill", backend.SeqInput{Tokens: toks[:12], Positions: positions(0, 12), Pages: pages, Logits: true})
			for i := 12; i < 15; i++ {
				p.forward("decode", backend.SeqInput{Tokens: toks[i : i+1], Positions: positions(i, 1), Start: i, Pages: pages, Logits: true})
			}
			t.Logf("max relative logit difference %.3g", p.max)
		})
	}
}

// TestMixedBatch: two sequences with interleaved, unordered page tables; one prefills in two
// chunks while the other decodes in the same batches.
func TestMixedBatch(t *testing.T) {
	for _, shape := range []string{"tiny", "tiny-mistral"} {
		t.Run(shape, func(t *testing.T) {
			p := newPair(t, shape, 16, 4)
			r := rand.New(rand.NewPCG(3, 4))
			V := p.m.Config.VocabSize
			pa, pb := []int32{7, 3, 12, 0, 9}, []int32{6, 1, 4, 15}
			a, b := randTokens(r, 17, V), randTokens(r, 9, V)
			p.forward("both prefill",
				backend.SeqInput{Tokens: a[:7], Positions: positions(0, 7), Pages: pa},
				backend.SeqInput{Tokens: b[:6], Positions: positions(0, 6), Pages: pb, Logits: true})
			p.forward("chunk + decode",
				backend.SeqInput{Tokens: a[7:15], Positions: positions(7, 8), Start: 7, Pages: pa, Logits: true},
				backend.SeqInput{Tokens: b[6:7], Positions: positions(6, 1), Start: 6, Pages: pb, Logits: true})
			p.forward("decode + decode",
				backend.SeqInput{Tokens: b[7:8], Positions: positions(7, 1), Start: 7, Pages: pb, Logits: true},
				backend.SeqInput{Tokens: a[15:16], Positions: positions(15, 1), Start: 15, Pages: pa, Logits: true})
			t.Logf("max relative logit difference %.3g", p.max)
		})
	}
}

// TestPrunedThenDecode: prefill, remove a span with kv.Sequence.Remove, apply its moves with
// CopySlots to both backends, then decode on the compacted sequence (positions keep the gap).
func TestPrunedThenDecode(t *testing.T) {
	const numPages, pageSize = 16, 4
	p := newPair(t, "tiny", numPages, pageSize)
	r := rand.New(rand.NewPCG(5, 6))
	V := p.m.Config.VocabSize
	for _, rng := range [][2]int{{5, 11}, {4, 12}, {2, 3}} {
		begin, end := rng[0], rng[1]
		pool := kv.NewPool(numPages, pageSize)
		seq := pool.NewSequence()
		toks := randTokens(r, 18, V)
		if _, err := seq.Append(len(toks)); err != nil {
			t.Fatal(err)
		}
		p.forward("prefill", backend.SeqInput{Tokens: toks, Positions: positions(0, len(toks)), Pages: append([]int32(nil), seq.Pages()...)})
		moves, err := seq.Remove(begin, end)
		if err != nil {
			t.Fatal(err)
		}
		p.copySlots(moves)
		next := len(toks)
		for step := 0; step < 2; step++ {
			start := seq.Len()
			moves, err := seq.Append(1)
			if err != nil {
				t.Fatal(err)
			}
			p.copySlots(moves)
			p.forward("decode after prune", backend.SeqInput{Tokens: randTokens(r, 1, V), Positions: positions(next, 1), Start: start, Pages: seq.Pages(), Logits: true})
			next++
		}
		seq.Free()
	}
	t.Logf("max relative logit difference %.3g", p.max)
}

// TestForwardBadBatch: malformed batches are refused with ErrBadBatch.
func TestForwardBadBatch(t *testing.T) {
	m := testModel(t, "tiny", model.F32)
	x, err := New(m, Options{NumPages: 4, PageSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	V := m.Config.VocabSize
	row := [][]float32{make([]float32, V)}
	for name, s := range map[string]backend.SeqInput{
		"no tokens":    {Pages: []int32{0}},
		"positions":    {Tokens: []int32{1, 2}, Positions: []int32{0}, Pages: []int32{0}},
		"short pages":  {Tokens: []int32{1}, Positions: []int32{4}, Start: 4, Pages: []int32{0}},
		"page range":   {Tokens: []int32{1}, Positions: []int32{0}, Pages: []int32{4}},
		"out of vocab": {Tokens: []int32{int32(V)}, Positions: []int32{0}, Pages: []int32{0}},
	} {
		if err := x.Forward(&backend.Batch{Seqs: []backend.SeqInput{s}}, row); !errors.Is(err, backend.ErrBadBatch) {
			t.Errorf("%s: got %v, want ErrBadBatch", name, err)
		}
	}
	if err := x.CopySlots([]kv.Move{{SrcPage: 0, DstPage: 4, N: 1}}); !errors.Is(err, backend.ErrBadBatch) {
		t.Errorf("copy to page 4 of 4: got %v, want ErrBadBatch", err)
	}
	x.Close()
	ok := backend.SeqInput{Tokens: []int32{1}, Positions: []int32{0}, Pages: []int32{0}, Logits: true}
	if err := x.Forward(&backend.Batch{Seqs: []backend.SeqInput{ok}}, row); err == nil {
		t.Error("Forward after Close succeeded")
	}
	if err := x.CopySlots(nil); err == nil {
		t.Error("CopySlots after Close succeeded")
	}
}

// TestCompilations checks the compile counter against the power-of-two bucketing: a 5-token
// prefill (T=5 -> 8, P=0 -> 1) then 12 decode steps whose contexts are 5..16 rows (P -> 8 for
// 5..8, 16 for 9..16; T=1) compile 3 graphs; repeating the same kind of steps on a second
// sequence compiles none, and LastLogits compiles one graph per distinct length.
func TestCompilations(t *testing.T) {
	m := testModel(t, "tiny", model.F32)
	x, err := New(m, Options{Backend: "go:ops_sequential", NumPages: 8, PageSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if got := x.Compilations(); got != 0 {
		t.Fatalf("after New: %d compilations, want 0", got)
	}
	pool := kv.NewPool(x.NumPages(), x.PageSize())
	out := [][]float32{make([]float32, x.VocabSize())}
	run := func() {
		s := pool.NewSequence()
		defer s.Free()
		ids := []int32{3, 1, 4, 1, 5}
		pos := []int32{0, 1, 2, 3, 4}
		if _, err := s.Append(len(ids)); err != nil {
			t.Fatal(err)
		}
		if err := x.Forward(&backend.Batch{Seqs: []backend.SeqInput{{Tokens: ids, Positions: pos, Pages: s.Pages(), Logits: true}}}, out); err != nil {
			t.Fatal(err)
		}
		for step := 0; step < 12; step++ {
			at := s.Len()
			if _, err := s.Append(1); err != nil {
				t.Fatal(err)
			}
			in := backend.SeqInput{Tokens: []int32{int32(step + 7)}, Positions: []int32{int32(at)}, Start: at, Pages: s.Pages(), Logits: true}
			if err := x.Forward(&backend.Batch{Seqs: []backend.SeqInput{in}}, out); err != nil {
				t.Fatal(err)
			}
		}
	}
	run()
	if got := x.Compilations(); got != 3 {
		t.Fatalf("prefill of 5 + 12 decode steps: %d compilations, want 3 ((8,1,1), (1,8,1), (1,16,1))", got)
	}
	run()
	if got := x.Compilations(); got != 3 {
		t.Fatalf("the same steps again: %d compilations, want still 3", got)
	}
	for _, n := range []int{4, 6, 4} {
		ids, pos := make([]int32, n), make([]int32, n)
		for i := range ids {
			ids[i], pos[i] = int32(i+1), int32(i)
		}
		if _, err := x.LastLogits(ids, pos); err != nil {
			t.Fatal(err)
		}
	}
	if got := x.Compilations(); got != 5 {
		t.Fatalf("after LastLogits of 4, 6 and 4 tokens: %d compilations, want 5", got)
	}
}
