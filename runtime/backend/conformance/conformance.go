// Package conformance is the test suite every backend.Backend passes: the same logits as a
// dense recomputation on the cpu backend, within a stated tolerance, for each architecture and
// weight type, through prefill, chunked prefill, decode and mixed batches, over page tables out
// of order, after pages are freed and reused in another order, after spans are pruned from the
// middle of a sequence (CopySlots), and after keys are re-rotated (ShiftKeys, for backends that
// implement backend.KeyShifter); and the same refusals of malformed batches.
//
// Two references check every step. The cpu backend mirrors it with plain page tables (each
// sequence in its own run of consecutive pages, spans removed by copying the slots after them
// down one by one, keys shifted by its own ShiftKeys); and while a sequence has not been
// pruned, a fresh cpu forward pass over its live tokens as one prefill from slot 0 (no cache
// reuse, no moved pages) gives its logits too. Pruning keeps the keys and values that the
// later tokens computed while the span was there, so a pruned sequence has only the mirror as
// its reference. The suite thus tests the cpu backend's own paging as well as a new backend
// against the cpu one: backends call Run from their tests with a constructor.
//
// Every case runs with each KV cache type (f32, f16), the cpu references given the same. The
// suite also has a reference pass of its own (reference.go): the decoder written out plainly,
// with an f16 cache's rounding and DELTA sparse attention. It checks the sparse cases (a
// selection that keeps every page is full attention, bit for bit; forced and real selections,
// alone and mixed in one batch with another config and a prefill chunk, match it, as do the
// Attended and Context the backend reports) and, while the cpu backend has no f16 cache, the
// f16 steps. Where the cpu backend implements sparse attention, sparse steps are compared
// with it too.
package conformance

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/arborlabs/arbor/runtime/backend"
	"github.com/arborlabs/arbor/runtime/backend/cpu"
	"github.com/arborlabs/arbor/runtime/kv"
	"github.com/arborlabs/arbor/runtime/model"
	"github.com/arborlabs/arbor/runtime/sparse"
)

// Factory makes the backend under test for a model, a KV geometry and a KV cache type.
type Factory func(m *model.Model, numPages, pageSize int, kvType backend.KVType) (backend.Backend, error)

// Options select what Run covers.
type Options struct {
	// Shapes are model.Shape names; "tiny-mistral" is tiny-llama as Mistral (no RoPE scaling,
	// a 5-slot attention window). Default: tiny (Qwen3), tiny-llama, tiny-qwen2, tiny-mistral.
	Shapes []string
	// DTypes are the weight types. Default: f32, f16, bf16, q8_0.
	DTypes []model.DType
	// Tolerance is the largest max-abs logit difference allowed, relative to the reference's
	// largest |logit|, for a weight type. Default: DefaultTolerance.
	Tolerance func(model.DType) float64
	// KVTypes are the KV cache types every case runs with (the cpu reference gets the same).
	// Default: f32 and f16. With f16 the tolerance is at least one binary16 step (2^-11):
	// keys computed in another order may round to neighbouring halves.
	KVTypes []backend.KVType
	// NoSparse leaves out DELTA sparse attention (SeqInput.Sparse) and the Attended and
	// Context every Forward must report, for a backend that does not implement them yet.
	NoSparse bool
}

// f16Tolerance is the least tolerance of a run with an f16 KV cache: one binary16 step.
const f16Tolerance = 0x1p-11

// DefaultTolerance suits a backend that computes like the cpu backend: float32 arithmetic on
// the same weights, the order of summation aside, and q8_0 activations quantized per block as
// ggml does. A backend that multiplies dequantized q8_0 weights by float32 activations
// differs by up to a few percent of the largest logit in q8_0 and must say so.
func DefaultTolerance(dt model.DType) float64 { return 1e-4 }

// Model builds the suite's random model of a shape and weight type (vocabulary cut to 384).
func Model(shape string, dt model.DType) (*model.Model, error) { return modelOf(shape, dt, 0) }

// modelOf is Model with numLayers layers instead of the shape's (0: the shape's).
func modelOf(shape string, dt model.DType, numLayers int) (*model.Model, error) {
	name := shape
	if shape == "tiny-mistral" {
		name = "tiny-llama"
	}
	cfg, err := model.Shape(name)
	if err != nil {
		return nil, err
	}
	if shape == "tiny-mistral" {
		cfg.Arch, cfg.RopeScaling, cfg.SlidingWindow = model.ArchMistral, nil, 5
	}
	cfg.VocabSize = 384
	if numLayers > 0 {
		cfg.NumLayers = numLayers
	}
	w, err := model.NewRandom(&cfg, dt, 7)
	if err != nil {
		return nil, err
	}
	return &model.Model{Config: cfg, Weights: *w}, nil
}

const (
	numPages = 24
	pageSize = 4
	// refBlock is the pages of the mirror's run for one sequence; run 0 is the dense
	// reference's.
	refBlock  = 16
	refBlocks = 8
)

// Run runs the suite on the backends newBackend makes.
func Run(t *testing.T, newBackend Factory, opt Options) {
	shapes := opt.Shapes
	if len(shapes) == 0 {
		shapes = []string{"tiny", "tiny-llama", "tiny-qwen2", "tiny-mistral"}
	}
	dtypes := opt.DTypes
	if len(dtypes) == 0 {
		dtypes = []model.DType{model.F32, model.F16, model.BF16, model.Q8_0}
	}
	tol := opt.Tolerance
	if tol == nil {
		tol = DefaultTolerance
	}
	kvTypes := opt.KVTypes
	if len(kvTypes) == 0 {
		kvTypes = []backend.KVType{backend.KVF32, backend.KVF16}
	}
	for _, shape := range shapes {
		for _, dt := range dtypes {
			for _, kt := range kvTypes {
				t.Run(fmt.Sprintf("%s/%s/kv-%s", shape, dt, kt), func(t *testing.T) {
					m, err := Model(shape, dt)
					if err != nil {
						t.Fatal(err)
					}
					h := newHarness(t, m, newBackend, tol(dt), kt, !opt.NoSparse)
					h.unorderedPages()
					h.prefillThenDecode()
					h.mixedBatch()
					h.reusedPages()
					h.pruned(false)
					h.pruned(true)
					h.badBatches()
					if !opt.NoSparse {
						h.sparseSuite(shape, dt, newBackend, tol(dt))
					}
					t.Logf("largest relative logit difference %.3g (tolerance %.0e)", h.worst, h.tol)
				})
			}
		}
	}
}

// harness drives one backend under test and the cpu references for one model.
type harness struct {
	t   *testing.T
	m   *model.Model
	b   backend.Backend
	kt  backend.KVType
	ref *cpu.Backend
	// cpuKV says the cpu reference honors kt (f32 always; f16 once the cpu backend has an
	// f16 cache): where it does not, steps are checked against refm instead (see step).
	cpuKV bool
	// refm is the suite's own reference (reference.go); refTol its tolerance.
	refm   *refModel
	refTol float64
	// sparse: check Attended and Context too, and run the sparse cases.
	sparse          bool
	loggedCPUSparse bool
	pool            *kv.Pool // the backend under test's pages
	blocks          [refBlocks]bool
	r               *rand.Rand
	tol             float64
	worst           float64
}

func newHarness(t *testing.T, m *model.Model, newBackend Factory, tol float64, kt backend.KVType,
	sparse bool) *harness {
	t.Helper()
	b, err := newBackend(m, numPages, pageSize, kt)
	if err != nil {
		t.Fatalf("new backend: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	if b.PageSize() != pageSize || b.NumPages() != numPages || b.VocabSize() != m.Config.VocabSize {
		t.Fatalf("geometry: %d pages of %d slots, vocabulary %d; want %d of %d, %d",
			b.NumPages(), b.PageSize(), b.VocabSize(), numPages, pageSize, m.Config.VocabSize)
	}
	ref, err := cpu.New(m, cpu.Options{Threads: 2, NumPages: refBlock * refBlocks, PageSize: pageSize, KV: kt})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ref.Close() })
	h := &harness{
		t: t, m: m, b: b, kt: kt, ref: ref, pool: kv.NewPool(numPages, pageSize), r: rand.New(rand.NewPCG(1, 2)),
		tol: tol, refm: newRefModel(m), refTol: tol, sparse: sparse,
	}
	if m.Weights.Layers[0].Q.DType == model.Q8_0 {
		// The cpu backend quantizes activations to 8 bits per block as ggml does; the
		// reference, like a backend that dequantizes weights, does not. The cpu backend's own
		// tests allow 3e-2 of the largest logit against a float64 reference for that.
		h.refTol = max(tol, 3e-2)
	}
	if kt == backend.KVF16 {
		// Two implementations whose float32 keys differ in the last bits (another order of
		// summation) round some of them to neighbouring halves, 2^-11 apart; the logits then
		// differ by up to about that much of the largest one (1.5e-4 measured), while the
		// rounding itself matches bit for bit (the xla backend's TestRoundF16, TestKVF16Cache).
		h.tol = max(h.tol, f16Tolerance)
		h.refTol = max(h.refTol, f16Tolerance)
	}
	h.cpuKV = kt == backend.KVF32 || cpuHonors(t, m, kt)
	if !h.cpuKV {
		t.Logf("the cpu reference ignores the %s KV cache type: steps are checked against the suite's "+
			"reference pass (never-pruned sequences only)", kt)
	}
	h.blocks[0] = true
	return h
}

// cpuHonors says whether the cpu backend given kt computes otherwise than with an f32 cache:
// a decode step after a prefill, whose context comes from the cache, gives different logits.
// A cpu backend from before the f16 cache ignores the option; the suite then checks f16
// steps against its own reference pass instead of the cpu backend.
func cpuHonors(t *testing.T, m *model.Model, kt backend.KVType) bool {
	t.Helper()
	var out [2][]float32
	for i, k := range []backend.KVType{backend.KVF32, kt} {
		b, err := cpu.New(m, cpu.Options{Threads: 2, NumPages: 4, PageSize: pageSize, KV: k})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = make([]float32, m.Config.VocabSize)
		for _, s := range []backend.SeqInput{
			{Tokens: []int32{5, 9, 2, 7, 1, 3}, Positions: positions(0, 6), Pages: []int32{0, 1}},
			{Tokens: []int32{11}, Positions: []int32{6}, Start: 6, Pages: []int32{0, 1}, Logits: true},
		} {
			if err := b.Forward(&backend.Batch{Seqs: []backend.SeqInput{s}}, [][]float32{out[i]}); err != nil {
				t.Fatal(err)
			}
		}
		b.Close()
	}
	return !slices.Equal(out[0], out[1])
}

// live is what a sequence holds: its tokens and their RoPE positions, in slot order.
type live struct {
	tokens, positions []int32
}

func (l *live) add(tokens []int32, from int) {
	for i, id := range tokens {
		l.tokens = append(l.tokens, id)
		l.positions = append(l.positions, int32(from+i))
	}
}

// refPages is the mirror's page table for block blk: its pages in order.
func refPages(blk int) []int32 {
	pages := make([]int32, refBlock)
	for i := range pages {
		pages[i] = int32(blk*refBlock + i)
	}
	return pages
}

// dense is the cpu backend's last-token logits for l's tokens as one prefill from slot 0.
func (h *harness) dense(l *live) []float32 {
	h.t.Helper()
	n := len(l.tokens)
	pages := refPages(0)[:(n+pageSize-1)/pageSize]
	out := [][]float32{make([]float32, h.m.Config.VocabSize)}
	in := backend.SeqInput{Tokens: l.tokens, Positions: l.positions, Pages: pages, Logits: true}
	if err := h.ref.Forward(&backend.Batch{Seqs: []backend.SeqInput{in}}, out); err != nil {
		h.t.Fatalf("reference forward: %v", err)
	}
	return out[0]
}

// step runs one batch on the backend under test and on the mirror (the same tokens at the
// same slots of each sequence, through the mirror's page tables), and checks the logits of
// every sequence that asks for them against the mirror's and, for sequences never pruned,
// against a dense prefill of their live tokens (after this step).
func (h *harness) step(what string, seqs []backend.SeqInput, qs []*seq) {
	h.t.Helper()
	V := h.m.Config.VocabSize
	got, mirror := make([][]float32, len(seqs)), make([][]float32, len(seqs))
	ref := make([]backend.SeqInput, len(seqs))
	for i := range got {
		got[i], mirror[i] = make([]float32, V), make([]float32, V)
		ref[i] = seqs[i]
		ref[i].Pages = refPages(qs[i].blk)
	}
	if err := h.b.Forward(&backend.Batch{Seqs: seqs}, got); err != nil {
		h.t.Fatalf("%s: forward: %v", what, err)
	}
	if err := h.ref.Forward(&backend.Batch{Seqs: ref}, mirror); err != nil {
		h.t.Fatalf("%s: mirror forward: %v", what, err)
	}
	for i, s := range seqs {
		if h.sparse {
			h.checkContext(what, i, &seqs[i], -1)
		}
		if !s.Logits {
			continue
		}
		if !h.cpuKV {
			if !qs[i].pruned {
				want := h.refm.run(qs[i].l.tokens, qs[i].l.positions, h.kt, nil, nil, pageSize)
				h.compareTol(fmt.Sprintf("%s: sequence %d against the reference pass", what, i), got[i], want.logits,
					h.refTol)
			}
			continue
		}
		h.compare(fmt.Sprintf("%s: sequence %d against the mirror", what, i), got[i], mirror[i])
		if !qs[i].pruned {
			h.compare(fmt.Sprintf("%s: sequence %d against a dense prefill", what, i), got[i], h.dense(&qs[i].l))
		}
	}
}

// checkContext checks the Context and Attended a backend reported for s (sequence i of a
// step): Context is the slots its last token could see (causal, within the window);
// Attended equals it unless attended is >= 0, the count sparse attention gives.
func (h *harness) checkContext(what string, i int, s *backend.SeqInput, attended int) {
	h.t.Helper()
	last := s.Start + len(s.Tokens) - 1
	ctx := last + 1
	if w := h.m.Config.SlidingWindow; w > 0 {
		ctx = min(ctx, w)
	}
	if attended < 0 {
		attended = ctx
	}
	if s.Context != ctx || s.Attended != attended {
		h.t.Errorf("%s: sequence %d: context %d, attended %d; want %d, %d", what, i, s.Context, s.Attended, ctx, attended)
	}
}

func (h *harness) compare(what string, got, want []float32) {
	h.t.Helper()
	h.compareTol(what, got, want, h.tol)
}

func (h *harness) compareTol(what string, got, want []float32, tol float64) {
	h.t.Helper()
	var maxDiff, maxRef float64
	for j, w := range want {
		d := math.Abs(float64(got[j]) - float64(w))
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		maxDiff = max(maxDiff, d)
		maxRef = max(maxRef, math.Abs(float64(w)))
	}
	rel := maxDiff / max(maxRef, 1e-30)
	h.worst = max(h.worst, rel)
	if !(rel <= tol) {
		h.t.Errorf("%s: largest logit difference %.3g, %.3g of the largest |logit| (tolerance %.0e)",
			what, maxDiff, rel, tol)
	}
}

func (h *harness) tokens(n int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(h.r.IntN(h.m.Config.VocabSize))
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

// seq is a kv.Sequence of the backend under test with its live tokens, and its run of pages
// in the mirror.
type seq struct {
	s      *kv.Sequence
	l      live
	blk    int
	pruned bool
}

func (h *harness) newSeq() *seq { return &seq{s: h.pool.NewSequence(), blk: h.takeBlock()} }

// takeBlock reserves a run of the mirror's pages for a sequence.
func (h *harness) takeBlock() int {
	for blk, used := range h.blocks {
		if !used {
			h.blocks[blk] = true
			return blk
		}
	}
	h.t.Fatal("conformance: more live sequences than mirror blocks")
	return 0
}

// free releases a sequence's pages (if the pool gave them) and its mirror block.
func (h *harness) free(q *seq) {
	if q.s != nil {
		q.s.Free()
	}
	h.blocks[q.blk] = false
}

// append reserves slots for toks (at RoPE positions from on) and returns the batch entry.
func (h *harness) append(q *seq, toks []int32, from int, logits bool) backend.SeqInput {
	h.t.Helper()
	start := q.s.Len()
	moves, err := q.s.Append(len(toks))
	if err != nil {
		h.t.Fatal(err)
	}
	h.copySlots(moves)
	q.l.add(toks, from)
	return backend.SeqInput{Tokens: toks, Positions: positions(from, len(toks)), Start: start,
		Pages: append([]int32(nil), q.s.Pages()...), Logits: logits}
}

func (h *harness) copySlots(moves []kv.Move) {
	h.t.Helper()
	if err := h.b.CopySlots(moves); err != nil {
		h.t.Fatalf("copy slots: %v", err)
	}
}

// unorderedPages: a sequence whose page table is out of order and far from the pool's
// allocation order (a table the test writes itself; it runs before the pool hands out pages).
func (h *harness) unorderedPages() {
	q := &seq{blk: h.takeBlock()}
	defer h.free(q)
	pages := []int32{13, 2, 9, 0, 21}
	toks := h.tokens(19)
	in := func(from, n int) backend.SeqInput {
		q.l.add(toks[from:from+n], from)
		return backend.SeqInput{
			Tokens: toks[from : from+n], Positions: positions(from, n), Start: from, Pages: pages, Logits: true,
		}
	}
	h.step("prefill, unordered pages", []backend.SeqInput{in(0, 9)}, []*seq{q})
	h.step("chunk, unordered pages", []backend.SeqInput{in(9, 6)}, []*seq{q})
	for i := 15; i < 19; i++ {
		h.step("decode, unordered pages", []backend.SeqInput{in(i, 1)}, []*seq{q})
	}
}

// prefillThenDecode: a 12-token prefill, then decode steps, on one sequence.
func (h *harness) prefillThenDecode() {
	q := h.newSeq()
	defer h.free(q)
	toks := h.tokens(16)
	h.step("prefill", []backend.SeqInput{h.append(q, toks[:12], 0, true)}, []*seq{q})
	for i := 12; i < 16; i++ {
		h.step(fmt.Sprintf("decode %d", i), []backend.SeqInput{h.append(q, toks[i:i+1], i, true)}, []*seq{q})
	}
}

// mixedBatch: two sequences whose pages interleave; one prefills in chunks while the other
// decodes in the same batches.
func (h *harness) mixedBatch() {
	a, b := h.newSeq(), h.newSeq()
	defer h.free(a)
	defer h.free(b)
	ta, tb := h.tokens(17), h.tokens(9)
	h.step("both prefill", []backend.SeqInput{h.append(a, ta[:7], 0, false), h.append(b, tb[:6], 0, true)}, []*seq{a, b})
	h.step("chunk + decode", []backend.SeqInput{
		h.append(a, ta[7:15], 7, true), h.append(b, tb[6:7], 6, true),
	}, []*seq{a, b})
	h.step("decode + decode", []backend.SeqInput{
		h.append(b, tb[7:8], 7, true), h.append(a, ta[15:16], 15, true),
	}, []*seq{b, a})
}

// reusedPages: a sequence's pages are freed while another goes on decoding, and a third takes
// them over (stale keys and values in them) in another order.
func (h *harness) reusedPages() {
	a, b := h.newSeq(), h.newSeq()
	defer h.free(b)
	h.step("prefill a, b", []backend.SeqInput{
		h.append(a, h.tokens(10), 0, true), h.append(b, h.tokens(5), 0, true),
	}, []*seq{a, b})
	h.free(a)
	c := h.newSeq()
	defer h.free(c)
	h.step("prefill c on a's pages + decode b", []backend.SeqInput{
		h.append(c, h.tokens(9), 0, true), h.append(b, h.tokens(1), 5, true),
	}, []*seq{c, b})
	for i := 0; i < 3; i++ {
		h.step("decode c", []backend.SeqInput{h.append(c, h.tokens(1), 9+i, true)}, []*seq{c})
	}
}

// pruned: spans leave the middle of a sequence (kv.Sequence.Remove's moves through CopySlots),
// then it decodes on. Without shift the kept tokens keep their positions (a gap); with shift
// the keys after the span are re-rotated by minus its length (backend.KeyShifter) and the
// sequence is the same as if the span had never been there.
func (h *harness) pruned(shift bool) {
	ks, ok := h.b.(backend.KeyShifter)
	if shift && !ok {
		return
	}
	for _, rng := range [][2]int{{5, 11}, {4, 12}, {2, 3}, {13, 18}} {
		begin, end := rng[0], rng[1]
		q := h.newSeq()
		toks := h.tokens(18)
		h.step("prefill", []backend.SeqInput{h.append(q, toks, 0, false)}, []*seq{q})
		moves, err := q.s.Remove(begin, end)
		if err != nil {
			h.t.Fatal(err)
		}
		h.copySlots(moves)
		// The mirror: each slot after the span copied down, one at a time, in order.
		rp := refPages(q.blk)
		for i := end; i < len(toks); i++ {
			src, dst := i, i-(end-begin)
			mv := kv.Move{
				SrcPage: rp[src/pageSize], SrcOff: src % pageSize, DstPage: rp[dst/pageSize], DstOff: dst % pageSize, N: 1,
			}
			if err := h.ref.CopySlots([]kv.Move{mv}); err != nil {
				h.t.Fatalf("mirror copy: %v", err)
			}
		}
		q.pruned = true
		q.l.tokens = append(q.l.tokens[:begin], q.l.tokens[end:]...)
		q.l.positions = append(q.l.positions[:begin], q.l.positions[end:]...)
		next := len(toks)
		if shift {
			if err := ks.ShiftKeys(q.s.Pages(), begin, q.s.Len(), begin-end); err != nil {
				h.t.Fatalf("shift keys: %v", err)
			}
			if err := h.ref.ShiftKeys(rp, begin, q.s.Len(), begin-end); err != nil {
				h.t.Fatalf("mirror shift keys: %v", err)
			}
			for i := begin; i < len(q.l.positions); i++ {
				q.l.positions[i] -= int32(end - begin)
			}
			next -= end - begin
		}
		what := fmt.Sprintf("decode after removing [%d,%d), shift %v", begin, end, shift)
		for step := 0; step < 2; step++ {
			h.step(what, []backend.SeqInput{h.append(q, h.tokens(1), next, true)}, []*seq{q})
			next++
		}
		h.free(q)
	}
}

// badBatches: malformed input is refused with backend.ErrBadBatch.
func (h *harness) badBatches() {
	V := h.m.Config.VocabSize
	row := [][]float32{make([]float32, V)}
	for name, s := range map[string]backend.SeqInput{
		"no tokens":    {Pages: []int32{0}},
		"positions":    {Tokens: []int32{1, 2}, Positions: []int32{0}, Pages: []int32{0}},
		"short pages":  {Tokens: []int32{1}, Positions: []int32{4}, Start: 4, Pages: []int32{0}},
		"page range":   {Tokens: []int32{1}, Positions: []int32{0}, Pages: []int32{numPages}},
		"out of vocab": {Tokens: []int32{int32(V)}, Positions: []int32{0}, Pages: []int32{0}},
		"negative id":  {Tokens: []int32{-1}, Positions: []int32{0}, Pages: []int32{0}},
	} {
		if err := h.b.Forward(&backend.Batch{Seqs: []backend.SeqInput{s}}, row); !errors.Is(err, backend.ErrBadBatch) {
			h.t.Errorf("bad batch %q: got %v, want ErrBadBatch", name, err)
		}
	}
	if err := h.b.CopySlots([]kv.Move{{SrcPage: 0, DstPage: numPages, N: 1}}); !errors.Is(err, backend.ErrBadBatch) {
		h.t.Errorf("copy to page %d of %d: got %v, want ErrBadBatch", numPages, numPages, err)
	}
	if ks, ok := h.b.(backend.KeyShifter); ok {
		if err := ks.ShiftKeys([]int32{numPages}, 0, 1, -1); !errors.Is(err, backend.ErrBadBatch) {
			h.t.Errorf("shift keys on page %d of %d: got %v, want ErrBadBatch", numPages, numPages, err)
		}
	}
}

// sparseSuite runs the DELTA sparse-attention cases on this harness's model (two layers:
// select, sparse) and on a five-layer model of the same shape, where two select layers feed
// their own sparse layers and a second config in the same batch splits the layers otherwise.
func (h *harness) sparseSuite(shape string, dt model.DType, newBackend Factory, tol float64) {
	h.sparseCases()
	deep, err := modelOf(shape, dt, 5)
	if err != nil {
		h.t.Fatal(err)
	}
	hd := newHarness(h.t, deep, newBackend, tol, h.kt, true)
	hd.sparseCases()
	h.worst = max(h.worst, hd.worst)
}

// sparseConfigs are two configs for a model of numLayers layers (2 or 5), keeping the last 2
// pages and the 2 best others.
func sparseConfigs(numLayers int) (a, b *sparse.Config) {
	F, Sel, Sp := sparse.Full, sparse.Select, sparse.Sparse
	if numLayers == 2 {
		return &sparse.Config{Layers: []sparse.Mode{Sel, Sp}, Budget: 2, Recent: 2},
			&sparse.Config{Layers: []sparse.Mode{Sel, Sp}, Budget: 2, Recent: 2}
	}
	return &sparse.Config{Layers: []sparse.Mode{F, Sel, Sp, Sel, Sp}, Budget: 2, Recent: 2},
		&sparse.Config{Layers: []sparse.Mode{Sel, Sp, Sp, F, Sp}, Budget: 2, Recent: 2}
}

// sparseCase is a batch entry of a sparse step with what the reference pass is given for it.
type sparseCase struct {
	in     backend.SeqInput
	q      *seq
	cfg    *sparse.Config // for the reference: nil for a prefill chunk
	forced []int32
}

// sparseStep runs a batch with sparse requests on the backend under test and checks every
// sequence's logits, Attended and Context against the reference pass; where the cpu
// backend implements sparse attention (it reports Context), against the cpu backend too,
// given the same requests through its plain page tables.
func (h *harness) sparseStep(what string, cases []sparseCase) {
	h.t.Helper()
	V := h.m.Config.VocabSize
	seqs, ref := make([]backend.SeqInput, len(cases)), make([]backend.SeqInput, len(cases))
	got, mirror := make([][]float32, len(cases)), make([][]float32, len(cases))
	for i, c := range cases {
		seqs[i], ref[i] = c.in, c.in
		ref[i].Pages = refPages(c.q.blk)
		got[i], mirror[i] = make([]float32, V), make([]float32, V)
	}
	if err := h.b.Forward(&backend.Batch{Seqs: seqs}, got); err != nil {
		h.t.Fatalf("%s: forward: %v", what, err)
	}
	if err := h.ref.Forward(&backend.Batch{Seqs: ref}, mirror); err != nil {
		h.t.Fatalf("%s: cpu forward: %v", what, err)
	}
	cpuSparse := true
	for i := range ref {
		cpuSparse = cpuSparse && ref[i].Context != 0
	}
	if !cpuSparse && !h.loggedCPUSparse {
		h.t.Logf("the cpu backend does not implement sparse attention (no Context reported): sparse steps " +
			"are checked against the suite's reference pass only")
		h.loggedCPUSparse = true
	}
	for i, c := range cases {
		want := h.refm.run(c.q.l.tokens, c.q.l.positions, h.kt, c.cfg, c.forced, pageSize)
		name := fmt.Sprintf("%s: sequence %d", what, i)
		if s := &seqs[i]; s.Context != want.context || s.Attended != want.attended {
			h.t.Errorf("%s: context %d, attended %d; the reference pass: %d, %d",
				name, s.Context, s.Attended, want.context, want.attended)
		}
		if !c.in.Logits {
			continue
		}
		h.compareTol(name+" against the reference pass", got[i], want.logits, h.refTol)
		if cpuSparse {
			h.compare(name+" against the cpu backend", got[i], mirror[i])
			if r := &ref[i]; r.Context != seqs[i].Context || r.Attended != seqs[i].Attended {
				h.t.Errorf("%s: context %d, attended %d; the cpu backend: %d, %d",
					name, seqs[i].Context, seqs[i].Attended, r.Context, r.Attended)
			}
		}
	}
}

// sparseCases: (a) a sparse request whose selection would keep every page is full attention,
// bit for bit; (b) a forced selection (SparsePages) attends to those pages only, as the
// reference pass does; (c) a real selection picks what the reference pass picks from its own
// probabilities; then the three kinds together with another config and a prefill chunk in one
// batch. Each decode is rerun at the same slot (it writes the same slot, so every variant
// sees the same cache), after a dense prefill.
func (h *harness) sparseCases() {
	cfgA, cfgB := sparseConfigs(h.m.Config.NumLayers)
	V := h.m.Config.VocabSize
	a := h.newSeq()
	defer h.free(a)
	toks := h.tokens(29)
	h.step("sparse: prefill", []backend.SeqInput{h.append(a, toks[:28], 0, true)}, []*seq{a})
	dec := h.append(a, toks[28:29], 28, true) // slot 28: 29 slots, 8 pages of 4

	run := func(in backend.SeqInput) ([]float32, backend.SeqInput) {
		h.t.Helper()
		out := [][]float32{make([]float32, V)}
		b := &backend.Batch{Seqs: []backend.SeqInput{in}}
		if err := h.b.Forward(b, out); err != nil {
			h.t.Fatalf("sparse: forward: %v", err)
		}
		return out[0], b.Seqs[0]
	}
	full, fs := run(dec)
	h.checkContext("sparse: full decode", 0, &fs, -1)
	// (a) 8 pages, a selection of 6 + 2: not active, so full attention exactly.
	keepAll := *cfgA
	keepAll.Budget = 6
	in := dec
	in.Sparse = &keepAll
	got, gs := run(in)
	h.checkContext("sparse: a selection of every page", 0, &gs, -1)
	if !slices.Equal(got, full) {
		h.t.Errorf("sparse: a selection of every page (%d+%d of 8) differs from full attention", keepAll.Recent,
			keepAll.Budget)
	}
	// (b) forced pages, and (c) a real selection.
	forced := []int32{1, 4, 7}
	in = dec
	in.Sparse, in.SparsePages = cfgA, forced
	h.sparseStep("sparse: forced pages", []sparseCase{{in: in, q: a, cfg: cfgA, forced: forced}})
	in.SparsePages = nil
	h.sparseStep("sparse: selection", []sparseCase{{in: in, q: a, cfg: cfgA}})

	// All together: a (config A, selection), b (config B, selection), c (config A, forced),
	// d (a prefill chunk with a sparse config: full attention).
	b, c, d := h.newSeq(), h.newSeq(), h.newSeq()
	defer h.free(b)
	defer h.free(c)
	defer h.free(d)
	tb, tc := h.tokens(25), h.tokens(21)
	h.step("sparse: prefill b, c", []backend.SeqInput{
		h.append(b, tb[:24], 0, true), h.append(c, tc[:20], 0, true),
	}, []*seq{b, c})
	inB := h.append(b, tb[24:], 24, true)
	inB.Sparse = cfgB
	inC := h.append(c, tc[20:], 20, true)
	forcedC := []int32{0, 2, 5}
	inC.Sparse, inC.SparsePages = cfgA, forcedC
	inD := h.append(d, h.tokens(8), 0, true)
	inD.Sparse = cfgA
	h.sparseStep("sparse: mixed batch", []sparseCase{
		{in: in, q: a, cfg: cfgA}, {in: inB, q: b, cfg: cfgB}, {in: inC, q: c, cfg: cfgA, forced: forcedC}, {in: inD, q: d},
	})

	// An invalid config or forced selection is refused.
	bad := *cfgA
	bad.Layers = bad.Layers[:1]
	for name, s := range map[string]backend.SeqInput{
		"layer count":   {Tokens: dec.Tokens, Positions: dec.Positions, Start: dec.Start, Pages: dec.Pages, Sparse: &bad},
		"forced order":  {Tokens: dec.Tokens, Positions: dec.Positions, Start: dec.Start, Pages: dec.Pages, Sparse: cfgA, SparsePages: []int32{4, 1}},
		"forced beyond": {Tokens: dec.Tokens, Positions: dec.Positions, Start: dec.Start, Pages: dec.Pages, Sparse: cfgA, SparsePages: []int32{1, 8}},
	} {
		row := [][]float32{make([]float32, V)}
		if err := h.b.Forward(&backend.Batch{Seqs: []backend.SeqInput{s}}, row); !errors.Is(err, backend.ErrBadBatch) {
			h.t.Errorf("sparse: bad %s: got %v, want ErrBadBatch", name, err)
		}
	}
}
