package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/arborlabs/arbor/runtime/backend"
	"github.com/arborlabs/arbor/runtime/kv"
	"github.com/arborlabs/arbor/runtime/model"
)

// testModel builds a small random model of a named shape (vocabulary cut to keep the
// reference fast).
func testModel(t testing.TB, shape string, dt model.DType) *model.Model {
	t.Helper()
	cfg, err := model.Shape(shape)
	if err != nil {
		t.Fatal(err)
	}
	cfg.VocabSize = 384
	w, err := model.NewRandom(&cfg, dt, 7)
	if err != nil {
		t.Fatal(err)
	}
	return &model.Model{Config: cfg, Weights: *w}
}

// newTestBackend builds a backend over m with opt, failing the test if it cannot, and closes
// it when the test ends.
func newTestBackend(t testing.TB, m *model.Model, opt Options) *Backend {
	t.Helper()
	be, err := New(m, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { be.Close() })
	return be
}

// cacheRow reads n elements of a KV cache at offset off, as float32.
func cacheRow(c *kvCache, off, n int) []float32 {
	out := make([]float32, n)
	c.load(off, out)
	return out
}

// tolerance is the largest max-abs logit difference to the float64 reference, relative to
// the reference's largest logit, that each weight type is allowed. f32/f16/bf16 weights are
// dequantized exactly, so only float32 arithmetic differs; q8_0 also quantizes activations
// (as ggml does), which costs about 1/254 per block.
func tolerance(dt model.DType) float64 {
	if dt == model.Q8_0 {
		return 3e-2
	}
	return 2e-4
}

func compareLogits(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	var maxDiff, maxRef float64
	gi, wi := 0, 0
	for i := range want {
		d := math.Abs(float64(got[i]) - want[i])
		if math.IsNaN(d) {
			t.Fatalf("%s: logit %d is NaN", what, i)
		}
		maxDiff = math.Max(maxDiff, d)
		maxRef = math.Max(maxRef, math.Abs(want[i]))
		if got[i] > got[gi] {
			gi = i
		}
		if want[i] > want[wi] {
			wi = i
		}
	}
	if maxDiff > tol*maxRef {
		t.Errorf("%s: max |logit diff| %.3g exceeds %.3g (max |logit| %.3g)", what, maxDiff, tol*maxRef, maxRef)
	}
	if gi != wi && math.Abs(want[gi]-want[wi]) > tol*maxRef {
		t.Errorf("%s: argmax %d, reference %d", what, gi, wi)
	}
}

func seqPositions(start, n int) []int32 {
	p := make([]int32, n)
	for i := range p {
		p[i] = int32(start + i)
	}
	return p
}

func randomTokens(r *rand.Rand, n, vocab int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(r.IntN(vocab))
	}
	return out
}

var testShapes = []string{"tiny", "tiny-llama", "tiny-qwen2"}
var testDTypes = []model.DType{model.F32, model.F16, model.BF16, model.Q8_0}

// TestForwardMatchesReference runs prefill in uneven chunks, then decode one token at a time,
// through a page table whose physical pages are scattered, and checks every step's logits
// against the reference.
func TestForwardMatchesReference(t *testing.T) {
	for _, shape := range testShapes {
		for _, dt := range testDTypes {
			t.Run(fmt.Sprintf("%s/%s", shape, dt), func(t *testing.T) {
				m := testModel(t, shape, dt)
				// An f32 cache: the reference is exact; the f16 cache is TestF16Cache's.
				be := newTestBackend(t, m, Options{Threads: 2, NumPages: 16, PageSize: 4, KV: backend.KVF32})
				r := rand.New(rand.NewPCG(1, 2))
				tokens := randomTokens(r, 23, m.Config.VocabSize)
				want := refForward(&m.Config, &m.Weights, tokens, seqPositions(0, len(tokens)))
				pages := []int32{9, 3, 14, 0, 7, 12, 1} // 7 pages of 4 slots: room for 28 tokens
				logits := [][]float32{make([]float32, m.Config.VocabSize)}
				done := 0
				for _, n := range []int{5, 1, 11, 1, 1, 1, 1, 1, 1} {
					in := backend.SeqInput{Tokens: tokens[done : done+n], Positions: seqPositions(done, n), Start: done, Pages: pages, Logits: true}
					if err := be.Forward(&backend.Batch{Seqs: []backend.SeqInput{in}}, logits); err != nil {
						t.Fatal(err)
					}
					done += n
					compareLogits(t, fmt.Sprintf("after %d tokens", done), logits[0], want[done-1], tolerance(dt))
				}
			})
		}
	}
}

// TestMixedBatch steps three sequences together: one prefilling, two decoding, with their
// pages interleaved in the pool, and checks each against its own reference.
func TestMixedBatch(t *testing.T) {
	for _, shape := range testShapes {
		t.Run(shape, func(t *testing.T) {
			m := testModel(t, shape, model.F32)
			be := newTestBackend(t, m, Options{Threads: 2, NumPages: 32, PageSize: 4, KV: backend.KVF32})
			r := rand.New(rand.NewPCG(3, 4))
			V := m.Config.VocabSize
			seqs := []struct {
				tokens []int32
				pages  []int32
			}{
				{randomTokens(r, 14, V), []int32{0, 3, 6, 9}},
				{randomTokens(r, 9, V), []int32{1, 4, 7}},
				{randomTokens(r, 12, V), []int32{2, 5, 8, 10}},
			}
			// Warm up sequences 1 and 2 with their prompts but the last token.
			logits := [][]float32{make([]float32, V), make([]float32, V), make([]float32, V)}
			for i := 1; i < 3; i++ {
				s := seqs[i]
				n := len(s.tokens) - 1
				in := backend.SeqInput{Tokens: s.tokens[:n], Positions: seqPositions(0, n), Start: 0, Pages: s.pages}
				if err := be.Forward(&backend.Batch{Seqs: []backend.SeqInput{in}}, logits); err != nil {
					t.Fatal(err)
				}
			}
			// One step: all of sequence 0, the last token of 1 and 2.
			batch := &backend.Batch{}
			batch.Seqs = append(batch.Seqs, backend.SeqInput{Tokens: seqs[0].tokens, Positions: seqPositions(0, 14), Pages: seqs[0].pages, Logits: true})
			for i := 1; i < 3; i++ {
				n := len(seqs[i].tokens) - 1
				batch.Seqs = append(batch.Seqs, backend.SeqInput{Tokens: seqs[i].tokens[n:], Positions: seqPositions(n, 1), Start: n, Pages: seqs[i].pages, Logits: true})
			}
			if err := be.Forward(batch, logits); err != nil {
				t.Fatal(err)
			}
			for i, s := range seqs {
				want := refForward(&m.Config, &m.Weights, s.tokens, seqPositions(0, len(s.tokens)))
				compareLogits(t, fmt.Sprintf("sequence %d", i), logits[i], want[len(want)-1], tolerance(model.F32))
			}
		})
	}
}

// TestPrunedSequence removes a token range from a sequence's KV (as subtask pruning does) and
// applies the moves kv returns. The kept tokens' keys and values must then sit, unchanged, at
// their new dense slots; and decoding must give the same logits as a second backend whose
// cache was compacted by hand, one slot at a time, into a fresh page table.
func TestPrunedSequence(t *testing.T) {
	m := testModel(t, "tiny", model.F32)
	const pageSize, numPages = 4, 16
	opt := Options{Threads: 2, NumPages: numPages, PageSize: pageSize}
	be := newTestBackend(t, m, opt)
	hand := newTestBackend(t, m, opt)
	r := rand.New(rand.NewPCG(5, 6))
	V := m.Config.VocabSize
	tokens := randomTokens(r, 22, V)
	logits := [][]float32{make([]float32, V)}
	for _, rng := range [][2]int{{5, 14}, {4, 12}, {2, 6}, {8, 9}} {
		begin, end := rng[0], rng[1]
		pool := kv.NewPool(numPages, pageSize)
		seq := pool.NewSequence()
		if _, err := seq.Append(len(tokens)); err != nil {
			t.Fatal(err)
		}
		oldPages := append([]int32(nil), seq.Pages()...)
		handPages := []int32{10, 11, 12, 13, 14, 15} // slots [0, 24) in the hand-compacted backend
		for _, b := range []*Backend{be, hand} {
			in := backend.SeqInput{Tokens: tokens, Positions: seqPositions(0, len(tokens)), Pages: oldPages}
			if b == hand {
				in.Pages = handPages
			}
			if err := b.Forward(&backend.Batch{Seqs: []backend.SeqInput{in}}, logits); err != nil {
				t.Fatal(err)
			}
		}
		// Snapshot every slot's K and V before the removal.
		slotKV := func(b *Backend, pages []int32, slot int) []float32 {
			off := b.slotOffset(pages, slot)
			var out []float32
			for i := range b.layers {
				out = append(out, cacheRow(&b.layers[i].kCache, off, b.kvDim)...)
				out = append(out, cacheRow(&b.layers[i].vCache, off, b.kvDim)...)
			}
			return out
		}
		before := make([][]float32, len(tokens))
		for i := range tokens {
			before[i] = slotKV(be, oldPages, i)
		}
		moves, err := seq.Remove(begin, end)
		if err != nil {
			t.Fatal(err)
		}
		if err := be.CopySlots(moves); err != nil {
			t.Fatal(err)
		}
		kept := append(seqPositions(0, begin), seqPositions(end, len(tokens)-end)...)
		if seq.Len() != len(kept) {
			t.Fatalf("[%d,%d): sequence holds %d tokens, want %d", begin, end, seq.Len(), len(kept))
		}
		for newSlot, old := range kept {
			got := slotKV(be, seq.Pages(), newSlot)
			for i := range got {
				if got[i] != before[old][i] {
					t.Fatalf("[%d,%d): slot %d does not hold token %d's K/V", begin, end, newSlot, old)
				}
			}
		}
		// The hand-compacted twin: copy kept slots one by one, in increasing order (safe: a
		// slot only ever moves down).
		var handMoves []kv.Move
		for newSlot, old := range kept {
			handMoves = append(handMoves, kv.Move{
				SrcPage: handPages[old/pageSize], SrcOff: int(old) % pageSize,
				DstPage: handPages[newSlot/pageSize], DstOff: newSlot % pageSize, N: 1})
		}
		if err := hand.CopySlots(handMoves); err != nil {
			t.Fatal(err)
		}
		next := []int32{int32(r.IntN(V))}
		pos := []int32{int32(len(tokens))}
		if _, err := seq.Append(1); err != nil {
			t.Fatal(err)
		}
		want := [][]float32{make([]float32, V)}
		in := backend.SeqInput{Tokens: next, Positions: pos, Start: len(kept), Pages: seq.Pages(), Logits: true}
		if err := be.Forward(&backend.Batch{Seqs: []backend.SeqInput{in}}, logits); err != nil {
			t.Fatal(err)
		}
		in.Pages = handPages
		if err := hand.Forward(&backend.Batch{Seqs: []backend.SeqInput{in}}, want); err != nil {
			t.Fatal(err)
		}
		for i := range want[0] {
			if logits[0][i] != want[0][i] {
				t.Fatalf("[%d,%d): logit %d after pruning %v, hand-compacted %v", begin, end, i, logits[0][i], want[0][i])
			}
		}
		seq.Free()
		if pool.NumFree() != pool.Capacity() {
			t.Fatalf("[%d,%d): %d pages leaked", begin, end, pool.Capacity()-pool.NumFree())
		}
	}
}

func TestBadBatch(t *testing.T) {
	m := testModel(t, "tiny", model.F32)
	be := newTestBackend(t, m, Options{Threads: 1, NumPages: 4, PageSize: 4})
	V := m.Config.VocabSize
	logits := [][]float32{make([]float32, V)}
	cases := map[string]backend.SeqInput{
		"token outside vocabulary": {Tokens: []int32{int32(V)}, Positions: []int32{0}, Pages: []int32{0}},
		"page outside pool":        {Tokens: []int32{1}, Positions: []int32{0}, Pages: []int32{4}},
		"too few pages":            {Tokens: []int32{1, 2, 3, 4, 5}, Positions: seqPositions(0, 5), Pages: []int32{0}},
		"positions mismatch":       {Tokens: []int32{1, 2}, Positions: []int32{0}, Pages: []int32{0}},
		"no tokens":                {Pages: []int32{0}},
	}
	for name, in := range cases {
		err := be.Forward(&backend.Batch{Seqs: []backend.SeqInput{in}}, logits)
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestDecodeAllocatesNothing: once buffers have grown, a decode step allocates nothing.
func TestDecodeAllocatesNothing(t *testing.T) {
	for _, dt := range []model.DType{model.F32, model.Q8_0} {
		m := testModel(t, "tiny", dt)
		be, err := New(m, Options{Threads: 2, NumPages: 8, PageSize: 16})
		if err != nil {
			t.Fatal(err)
		}
		logits := [][]float32{make([]float32, m.Config.VocabSize)}
		pages := []int32{0, 1, 2, 3}
		batch := &backend.Batch{Seqs: []backend.SeqInput{{Tokens: []int32{1}, Positions: []int32{0}, Pages: pages, Logits: true}}}
		step := 0
		allocs := testing.AllocsPerRun(20, func() {
			batch.Seqs[0].Start = step
			batch.Seqs[0].Positions[0] = int32(step)
			if err := be.Forward(batch, logits); err != nil {
				t.Fatal(err)
			}
			step++
		})
		be.Close()
		if allocs != 0 {
			t.Errorf("%s: %.1f allocations per decode step", dt, allocs)
		}
	}
}

// TestShiftKeys: RoPE depends on relative positions only, so a sequence run at positions
// p+d has the same hidden states as at p, and its cached keys are those at p rotated by d.
// ShiftKeys on the first must give the second's keys, in every layer (values untouched).
func TestShiftKeys(t *testing.T) {
	for _, c := range []struct {
		shape string
		kv    backend.KVType
		tol   float64
	}{
		{"tiny", backend.KVF32, 1e-4}, {"tiny-llama", backend.KVF32, 1e-4},
		// In f16 both keys are rounded, the shifted one twice (after its first computation and
		// after the rotation): a few units in the 11th bit apart.
		{"tiny", backend.KVF16, 3e-3}, {"tiny-llama", backend.KVF16, 3e-3},
	} {
		shape := c.shape
		m := testModel(t, shape, model.F32)
		opt := Options{Threads: 2, NumPages: 4, PageSize: 8, KV: c.kv}
		a, err := New(m, opt)
		if err != nil {
			t.Fatal(err)
		}
		b, err := New(m, opt)
		if err != nil {
			t.Fatal(err)
		}
		tokens := randomTokens(rand.New(rand.NewPCG(1, 2)), 19, m.Config.VocabSize)
		pages := []int32{2, 0, 3}
		const d = -37
		logits := [][]float32{make([]float32, m.Config.VocabSize)}
		for _, run := range []struct {
			be    *Backend
			start int
		}{{a, 100}, {b, 100 + d}} {
			in := backend.SeqInput{Tokens: tokens, Positions: seqPositions(run.start, len(tokens)), Pages: pages}
			if err := run.be.Forward(&backend.Batch{Seqs: []backend.SeqInput{in}}, logits); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.ShiftKeys(pages, 3, len(tokens), d); err != nil {
			t.Fatal(err)
		}
		for li := range a.layers {
			for slot := range tokens {
				off := a.slotOffset(pages, slot)
				rowA, rowB := cacheRow(&a.layers[li].kCache, off, a.kvDim), cacheRow(&b.layers[li].kCache, off, b.kvDim)
				for i := 0; i < a.kvDim; i++ {
					ka, kb := rowA[i], rowB[i]
					if slot >= 3 && math.Abs(float64(ka-kb)) > c.tol*(1+math.Abs(float64(kb))) {
						t.Fatalf("%s layer %d slot %d: shifted key %v, key computed at the new position %v", shape, li, slot, ka, kb)
					}
				}
				// Keys outside the range stay those of their first positions, which differ
				// from the second backend's (an element may round to the same f16, not a row).
				if slot < 3 && slices.Equal(rowA, rowB) {
					t.Fatalf("%s layer %d slot %d: a key outside the range was rotated", shape, li, slot)
				}
			}
		}
		if err := a.ShiftKeys(pages, 0, 25, 1); err == nil {
			t.Fatal("a range past the page table was accepted")
		}
		a.Close()
		b.Close()
	}
}

// TestActsQuantization: an input's quantization follows its values: a write through rows
// makes the next product quantize again, and inputs that take turns in the shared quants get
// their own values back.
func TestActsQuantization(t *testing.T) {
	const n, cols = 2, 2 * model.Q8Block
	var s q8Shared
	var a, b acts
	fill := func(x *acts, seed uint64) []float32 {
		r := rand.New(rand.NewPCG(seed, 1))
		f := x.rows(n, cols)
		for i := range f {
			f[i] = r.Float32()*2 - 1
		}
		return f
	}
	check := func(what string, x *acts, want []float32) {
		t.Helper()
		var ref q8Acts
		ref.quantize(want, n, cols)
		got := x.quantized(&s, n, cols)
		if !slices.Equal(got.q[:n*cols], ref.q[:n*cols]) || !slices.Equal(got.d, ref.d) {
			t.Errorf("%s: the quantization is not that of the input's current values", what)
		}
	}
	fa := fill(&a, 1)
	check("first use", &a, fa)
	fa = fill(&a, 2)
	check("after a write", &a, fa)
	fb := fill(&b, 3)
	check("another input", &b, fb)
	check("the first input again", &a, fa)
	if &s.q8Acts != a.quantized(&s, n, cols) || s.of != &a {
		t.Error("the shared quants do not hold the input last quantized")
	}
}

// TestF16Cache: with an f16 cache every step's logits stay within the rounding of keys and
// values (11 significant bits) of the f32 cache's, through prefill chunks and decode steps,
// and differ from them (the cache really is f16).
func TestF16Cache(t *testing.T) {
	for _, shape := range testShapes {
		m := testModel(t, shape, model.F32)
		var runs [2][][]float32
		for i, kvt := range []backend.KVType{backend.KVF16, backend.KVF32} {
			be, err := New(m, Options{Threads: 2, NumPages: 16, PageSize: 4, KV: kvt})
			if err != nil {
				t.Fatal(err)
			}
			tokens := randomTokens(rand.New(rand.NewPCG(1, 2)), 23, m.Config.VocabSize)
			pages := []int32{9, 3, 14, 0, 7, 12, 1}
			done := 0
			for _, n := range []int{5, 11, 1, 1, 1, 1, 1, 1, 1} {
				logits := [][]float32{make([]float32, m.Config.VocabSize)}
				in := backend.SeqInput{Tokens: tokens[done : done+n], Positions: seqPositions(done, n), Start: done, Pages: pages, Logits: true}
				if err := be.Forward(&backend.Batch{Seqs: []backend.SeqInput{in}}, logits); err != nil {
					t.Fatal(err)
				}
				done += n
				runs[i] = append(runs[i], logits[0])
			}
			be.Close()
		}
		differ := false
		worst := 0.0
		for step := range runs[0] {
			want := make([]float64, len(runs[1][step]))
			for i, x := range runs[1][step] {
				want[i] = float64(x)
			}
			compareLogits(t, fmt.Sprintf("%s step %d", shape, step), runs[0][step], want, 5e-3)
			differ = differ || !slices.Equal(runs[0][step], runs[1][step])
			var d, ref float64
			for i, x := range runs[0][step] {
				d = math.Max(d, math.Abs(float64(x)-want[i]))
				ref = math.Max(ref, math.Abs(want[i]))
			}
			worst = math.Max(worst, d/ref)
		}
		t.Logf("%s: the f16 cache's logits within %.2g of the largest f32 logit", shape, worst)
		if !differ {
			t.Errorf("%s: the f16 cache gave the f32 cache's logits exactly", shape)
		}
	}
}

// TestSlotRows: the page-by-page row offsets attention gathers are slotOffset's, plus the
// head's offset, for every stretch of slots (starting and ending inside, at and across page
// edges) over shuffled page tables, page sizes of 16 and of 5.
func TestSlotRows(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 8))
	for _, ps := range []int{16, 5} {
		b := &Backend{pageSize: ps, kvDim: 96}
		const n = 70
		pages := make([]int32, (n+ps-1)/ps)
		for i, p := range r.Perm(3 * len(pages))[:len(pages)] {
			pages[i] = int32(p)
		}
		rows := make([]int32, n+1)
		for first := 0; first <= n; first++ {
			for end := first; end <= n; end++ {
				const guard = -7
				for i := range rows {
					rows[i] = guard
				}
				b.slotRows(pages, first, end, 32, rows)
				for j := 0; j < end-first; j++ {
					if want := int32(b.slotOffset(pages, first+j) + 32); rows[j] != want {
						t.Fatalf("page size %d, slots [%d, %d): rows[%d] = %d, want %d", ps, first, end, j, rows[j], want)
					}
				}
				if rows[end-first] != guard {
					t.Fatalf("page size %d, slots [%d, %d): wrote past the stretch", ps, first, end)
				}
			}
		}
	}
}
