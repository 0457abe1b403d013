// Package cpu is Arbor's pure-Go backend: the llama, qwen2, qwen3 and mistral forward pass over
// a paged KV cache, on all cores, allocating nothing per token once its buffers have grown to
// the largest batch seen.
package cpu

import (
	"fmt"
	"math"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/arborlabs/arbor/runtime/backend"
	"github.com/arborlabs/arbor/runtime/kv"
	"github.com/arborlabs/arbor/runtime/model"
	"github.com/arborlabs/arbor/runtime/sparse"
)

// Options size the backend.
type Options struct {
	// Threads is the number of worker goroutines (0: all cores).
	Threads int
	// NumPages and PageSize size the KV memory: NumPages*PageSize token slots per layer.
	NumPages int
	PageSize int
	// KV is the cache's element type (zero value: f16).
	KV backend.KVType
}

type layer struct {
	attnNorm, ffnNorm []float32
	q, k, v, o        *matrix
	qBias, kBias      []float32
	vBias             []float32
	qNorm, kNorm      []float32
	gate, up, down    *matrix
	// kCache and vCache hold NumPages pages of PageSize slots of kvHeads*headDim elements.
	kCache, vCache kvCache
}

// Backend runs a model on the CPU. It implements backend.Backend.
type Backend struct {
	cfg      model.Config
	pool     *pool
	embed    *matrix
	outNorm  []float32
	output   *matrix
	layers   []layer
	invFreq  []float64
	numPages int
	pageSize int
	kvDim    int // kvHeads*headDim: elements per slot per layer in K (and in V)
	kvType   backend.KVType
	qDim     int

	// Step buffers, grown to the largest batch and reused.
	x           []float32 // [T][hidden]: the residual stream
	xn          acts      // [T][hidden]: x normed, the input of q/k/v and of gate/up
	q, k, v     []float32 // [T][qDim], [T][kvDim], [T][kvDim]
	attnOut     acts      // [T][qDim]
	gate        acts      // [T][ffn]: the gate product, then silu(gate)*up
	up          []float32 // [T][ffn]
	cos, sin    []float32 // [T][headDim/2]
	tokSeq      []int32   // sequence index of each token
	tokSlot     []int32   // KV slot of each token within its sequence
	lastRows    acts      // [S][hidden]: final normed hidden of tokens that want logits
	lastIdx     []int     // batch sequence index of each lastRows row
	logitsOut   []float32
	scatter     [][]float32 // the output product's destination rows: each sequence's logits
	qa          q8Shared    // the quantized form of one of xn, attnOut, gate, lastRows
	scratch     []*workerScratch
	attnScratch [][]float32 // per worker: attention scores
	attnRows    [][]int32   // per worker: the cache offsets of an attention item's rows
	attnRows2   [][]int32   // per worker: the same for the item after it
	mm          multiMatmul
	attn        attnTask
	dyn         dynTask
	swiglu      swigluTask
	norm        normTask
	placer      placeTask
	batch       *backend.Batch

	// DELTA sparse attention: per token, its index in sparse or -1 (attends fully).
	tokSparse []int32
	sparse    []sparseSeq
	nSparse   int
	// attended[t]: slots token t attended, summed over layers.
	attended []int
	probe    func(*backend.AttentionProbe)
	attnTime AttentionTime
	// Per-phase timing of forward passes (TimePhases, PhaseTime).
	timePhases bool
	phaseTime  PhaseTime
}

// New builds a CPU backend over m's weights. The weights are used in place (not copied); m must
// stay open while the backend is in use.
func New(m *model.Model, opt Options) (*Backend, error) {
	if tuneEnvErr != nil {
		return nil, fmt.Errorf("cpu backend: %w", tuneEnvErr)
	}
	cfg := m.Config
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cpu backend: %w", err)
	}
	if opt.Threads <= 0 {
		opt.Threads = runtime.NumCPU()
	}
	if opt.Threads > 63 {
		opt.Threads = 63
	}
	if opt.PageSize <= 0 {
		opt.PageSize = kv.DefaultPageSize
	}
	if opt.NumPages <= 0 {
		opt.NumPages = (4096 + opt.PageSize - 1) / opt.PageSize
	}
	b := &Backend{
		cfg:      cfg,
		numPages: opt.NumPages,
		pageSize: opt.PageSize,
		kvDim:    cfg.NumKVHeads * cfg.HeadDim,
		kvType:   opt.KV,
		qDim:     cfg.NumHeads * cfg.HeadDim,
		invFreq:  cfg.RopeInvFreq(),
	}
	w := &m.Weights
	var err error
	h := cfg.HiddenSize
	if b.embed, err = newMatrix(w.TokenEmbed, cfg.VocabSize, h); err != nil {
		return nil, fmt.Errorf("cpu backend: token embedding: %w", err)
	}
	if b.outNorm, err = vector(w.OutputNorm, h); err != nil {
		return nil, fmt.Errorf("cpu backend: output norm: %w", err)
	}
	out := w.Output
	if out == nil {
		out = w.TokenEmbed
	}
	if out == w.TokenEmbed {
		// Tied embeddings: one matrix (one reordered q8_0 copy) for both uses.
		b.output = b.embed
	} else if b.output, err = newMatrix(out, cfg.VocabSize, h); err != nil {
		return nil, fmt.Errorf("cpu backend: output: %w", err)
	}
	if len(w.Layers) != cfg.NumLayers {
		return nil, fmt.Errorf("cpu backend: %d layers of weights, config says %d", len(w.Layers), cfg.NumLayers)
	}
	b.layers = make([]layer, cfg.NumLayers)
	for i := range w.Layers {
		if err := b.loadLayer(i, &w.Layers[i]); err != nil {
			return nil, fmt.Errorf("cpu backend: layer %d: %w", i, err)
		}
	}
	b.pool = newPool(opt.Threads)
	b.pool.parallel(&faultTask{layers: b.layers}, 2*len(b.layers), 1)
	b.scratch = newScratch(opt.Threads)
	b.attnScratch = make([][]float32, opt.Threads)
	for i := range b.attnScratch {
		// A sequence can attend to at most every slot of the pool.
		b.attnScratch[i] = make([]float32, cfg.NumHeads/cfg.NumKVHeads*b.numPages*b.pageSize)
	}
	b.attnRows = make([][]int32, opt.Threads)
	b.attnRows2 = make([][]int32, opt.Threads)
	for i := range b.attnRows {
		b.attnRows[i] = make([]int32, b.numPages*b.pageSize)
		b.attnRows2[i] = make([]int32, b.numPages*b.pageSize)
	}
	return b, nil
}

func (b *Backend) loadLayer(i int, lw *model.LayerWeights) error {
	cfg := &b.cfg
	h := cfg.HiddenSize
	l := &b.layers[i]
	var err error
	mats := []struct {
		dst        **matrix
		t          *model.Tensor
		rows, cols int
		name       string
	}{
		{&l.q, lw.Q, b.qDim, h, "q"}, {&l.k, lw.K, b.kvDim, h, "k"}, {&l.v, lw.V, b.kvDim, h, "v"},
		{&l.o, lw.O, h, b.qDim, "o"}, {&l.gate, lw.Gate, cfg.FFNSize, h, "gate"},
		{&l.up, lw.Up, cfg.FFNSize, h, "up"}, {&l.down, lw.Down, h, cfg.FFNSize, "down"},
	}
	for _, mt := range mats {
		if *mt.dst, err = newMatrix(mt.t, mt.rows, mt.cols); err != nil {
			return fmt.Errorf("%s: %w", mt.name, err)
		}
	}
	vecs := []struct {
		dst  *[]float32
		t    *model.Tensor
		n    int
		name string
		need bool
	}{
		{&l.attnNorm, lw.AttnNorm, h, "attn norm", true},
		{&l.ffnNorm, lw.FFNNorm, h, "ffn norm", true},
		{&l.qBias, lw.QBias, b.qDim, "q bias", cfg.AttnBias},
		{&l.kBias, lw.KBias, b.kvDim, "k bias", cfg.AttnBias},
		{&l.vBias, lw.VBias, b.kvDim, "v bias", cfg.AttnBias},
		{&l.qNorm, lw.QNorm, cfg.HeadDim, "q norm", cfg.QKNorm},
		{&l.kNorm, lw.KNorm, cfg.HeadDim, "k norm", cfg.QKNorm},
	}
	for _, vt := range vecs {
		if vt.t == nil {
			if vt.need {
				return fmt.Errorf("%s: missing tensor", vt.name)
			}
			continue
		}
		if *vt.dst, err = vector(vt.t, vt.n); err != nil {
			return fmt.Errorf("%s: %w", vt.name, err)
		}
	}
	slots := b.numPages * b.pageSize * b.kvDim
	if slots > math.MaxInt32 {
		// Attention addresses cache rows by int32 offset.
		return fmt.Errorf("KV cache of %d pages x %d slots x %d floats exceeds 2^31 floats a layer; use fewer pages",
			b.numPages, b.pageSize, b.kvDim)
	}
	l.kCache = newKVCache(b.kvType, slots)
	l.vCache = newKVCache(b.kvType, slots)
	return nil
}

// VocabSize implements backend.Backend.
func (b *Backend) VocabSize() int { return b.cfg.VocabSize }

// PageSize implements backend.Backend.
func (b *Backend) PageSize() int { return b.pageSize }

// NumPages implements backend.Backend.
func (b *Backend) NumPages() int { return b.numPages }

// Close stops the worker goroutines and drops the KV memory.
func (b *Backend) Close() error {
	b.pool.close()
	for i := range b.layers {
		b.layers[i].kCache, b.layers[i].vCache = kvCache{}, kvCache{}
	}
	return nil
}

// CopySlots implements backend.Backend: moves of KV slots after a sequence's range was removed.
func (b *Backend) CopySlots(moves []kv.Move) error {
	for _, mv := range moves {
		if err := b.checkSlots(int(mv.SrcPage), mv.SrcOff, mv.N); err != nil {
			return fmt.Errorf("copy slots: source: %w", err)
		}
		if err := b.checkSlots(int(mv.DstPage), mv.DstOff, mv.N); err != nil {
			return fmt.Errorf("copy slots: destination: %w", err)
		}
	}
	for _, mv := range moves {
		src := (int(mv.SrcPage)*b.pageSize + mv.SrcOff) * b.kvDim
		dst := (int(mv.DstPage)*b.pageSize + mv.DstOff) * b.kvDim
		n := mv.N * b.kvDim
		for i := range b.layers {
			l := &b.layers[i]
			l.kCache.move(dst, src, n)
			l.vCache.move(dst, src, n)
		}
	}
	return nil
}

// ShiftKeys implements backend.KeyShifter: after a pruned span, the keys that moved down by
// its length are rotated by delta positions, so that they are the keys of their new positions.
// Keys are cached after RoPE (and after Qwen3's per-head norm, which a rotation leaves alone),
// and the rotation by p+delta equals the rotation by p followed by the one by delta.
func (b *Backend) ShiftKeys(pages []int32, begin, end, delta int) error {
	if err := backend.CheckShift(pages, begin, end, b.pageSize, b.numPages); err != nil {
		return err
	}
	if begin == end || delta == 0 {
		return nil
	}
	hd := b.cfg.HeadDim
	half := hd / 2
	cs, sn := make([]float32, half), make([]float32, half)
	for j := range half {
		s, c := math.Sincos(float64(delta) * b.invFreq[j])
		cs[j], sn[j] = float32(c), float32(s)
	}
	// Rotated in float32 and stored back: in an f16 cache each shift rounds the keys once
	// more, as a re-prefill at the new positions would round its keys once.
	row := make([]float32, b.kvDim)
	for li := range b.layers {
		k := &b.layers[li].kCache
		for slot := begin; slot < end; slot++ {
			off := b.slotOffset(pages, slot)
			k.load(off, row)
			for h := 0; h < b.cfg.NumKVHeads; h++ {
				ropeNeox(row[h*hd:(h+1)*hd], cs, sn)
			}
			k.store(off, row)
		}
	}
	return nil
}

// FillCache implements backend.CacheFiller: uniform values in [-1, 1) from a xorshift
// generator seeded by seed and the layer.
func (b *Backend) FillCache(pages []int32, n int, seed uint64) error {
	if err := backend.CheckShift(pages, 0, n, b.pageSize, b.numPages); err != nil {
		return err
	}
	row := make([]float32, b.kvDim)
	for li := range b.layers {
		l := &b.layers[li]
		x := seed*0x9E3779B97F4A7C15 + uint64(li)*0xBF58476D1CE4E5B9 + 1
		for slot := 0; slot < n; slot++ {
			off := b.slotOffset(pages, slot)
			for _, c := range []*kvCache{&l.kCache, &l.vCache} {
				for i := range row {
					x ^= x << 13
					x ^= x >> 7
					x ^= x << 17
					row[i] = float32(x>>40)/float32(1<<23) - 1
				}
				c.store(off, row)
			}
		}
	}
	return nil
}

func (b *Backend) checkSlots(page, off, n int) error {
	if page < 0 || page >= b.numPages || off < 0 || n < 0 || off+n > b.pageSize {
		return fmt.Errorf("%w: page %d slots [%d,%d) outside %d pages of %d",
			backend.ErrBadBatch, page, off, off+n, b.numPages, b.pageSize)
	}
	return nil
}

func (b *Backend) validate(batch *backend.Batch, logits [][]float32) error {
	if err := batch.Validate(b.cfg.VocabSize, b.pageSize, b.numPages, logits); err != nil {
		return err
	}
	if err := batch.CheckSparse(len(b.layers)); err != nil {
		return err
	}
	if err := batch.CheckPool(b.cfg.HiddenSize); err != nil {
		return err
	}
	return b.checkSparsePages(batch)
}

// Forward implements backend.Backend.
func (b *Backend) Forward(batch *backend.Batch, logits [][]float32) error {
	if err := b.validate(batch, logits); err != nil {
		return err
	}
	cfg := &b.cfg
	T := batch.NumTokens()
	h := cfg.HiddenSize
	half := cfg.HeadDim / 2
	clock := b.phaseClock()
	b.x = grow(b.x, T*h)
	b.q = grow(b.q, T*b.qDim)
	b.k = grow(b.k, T*b.kvDim)
	b.v = grow(b.v, T*b.kvDim)
	b.up = grow(b.up, T*cfg.FFNSize)
	b.cos = grow(b.cos, T*half)
	b.sin = grow(b.sin, T*half)
	b.tokSeq = grow(b.tokSeq, T)
	b.tokSlot = grow(b.tokSlot, T)

	// Embeddings, RoPE angles, and where each token lives.
	t := 0
	for si := range batch.Seqs {
		s := &batch.Seqs[si]
		for i, id := range s.Tokens {
			b.embed.rowF32(int(id), b.x[t*h:(t+1)*h])
			pos := float64(s.Positions[i])
			for j := 0; j < half; j++ {
				sn, cs := math.Sincos(pos * b.invFreq[j])
				b.cos[t*half+j] = float32(cs)
				b.sin[t*half+j] = float32(sn)
			}
			b.tokSeq[t] = int32(si)
			b.tokSlot[t] = int32(s.Start + i)
			t++
		}
	}
	b.batch = batch
	b.prepareSparse(batch)
	b.attended = grow(b.attended, T)
	clear(b.attended)

	clock.mark(PhaseOther)
	for li := range b.layers {
		l := &b.layers[li]
		b.normInto(&b.xn, l.attnNorm, T, l.q.dtype == model.Q8_0)
		clock.mark(PhaseNorm)
		b.setMatmul(0, l.q, &b.xn, T, b.q, b.qDim, false, l.qBias)
		b.setMatmul(1, l.k, &b.xn, T, b.k, b.kvDim, false, l.kBias)
		b.setMatmul(2, l.v, &b.xn, T, b.v, b.kvDim, false, l.vBias)
		b.runMatmuls(3)
		clock.mark(PhaseQKV)
		b.place(l, T)
		clock.mark(PhasePlace)
		b.attend(l, li, T)
		if b.probe != nil {
			b.probeLayer(li, l)
		}
		clock.mark(PhaseAttention)
		b.matmul(l.o, &b.attnOut, T, b.x, h, true, nil)
		clock.mark(PhaseO)

		b.normInto(&b.xn, l.ffnNorm, T, l.gate.dtype == model.Q8_0)
		clock.mark(PhaseNorm)
		b.setMatmul(0, l.gate, &b.xn, T, b.gate.rows(T, cfg.FFNSize), cfg.FFNSize, false, nil)
		b.setMatmul(1, l.up, &b.xn, T, b.up, cfg.FFNSize, false, nil)
		b.runMatmuls(2)
		clock.mark(PhaseGateUp)
		b.swigluInto(T, l.down.dtype == model.Q8_0)
		clock.mark(PhaseSwiGLU)
		b.matmul(l.down, &b.gate, T, b.x, h, true, nil)
		clock.mark(PhaseDown)
	}

	b.poolHidden(batch)

	// Logits only for the last token of the sequences that ask for them.
	b.lastIdx = b.lastIdx[:0]
	t = 0
	L := len(b.layers)
	for si := range batch.Seqs {
		s := &batch.Seqs[si]
		t += len(s.Tokens)
		last := t - 1
		s.Context = int(b.tokSlot[last]) + 1 - b.windowStart(int(b.tokSlot[last]))
		s.Attended = (b.attended[last] + L/2) / L
		if batch.Seqs[si].Logits {
			b.lastIdx = append(b.lastIdx, si)
		}
	}
	S := len(b.lastIdx)
	clock.mark(PhaseOther)
	if S == 0 {
		return nil
	}
	defer clock.mark(PhaseOutput)
	lastRows := b.lastRows.rows(S, h)
	end := 0
	r := 0
	for si := range batch.Seqs {
		end += len(batch.Seqs[si].Tokens)
		if batch.Seqs[si].Logits {
			last := end - 1
			RMSNorm(lastRows[r*h:(r+1)*h], b.x[last*h:(last+1)*h], b.outNorm, cfg.RMSNormEps)
			r++
		}
	}
	V := cfg.VocabSize
	if S == 1 {
		b.matmul(b.output, &b.lastRows, 1, logits[b.lastIdx[0]][:V], V, false, nil)
		return nil
	}
	// Several rows go through one block (the kernels write every token at a fixed stride) and
	// on to each sequence's slice as the workers finish their rows.
	b.logitsOut = grow(b.logitsOut, S*V)
	b.scatter = b.scatter[:0]
	for _, si := range b.lastIdx {
		b.scatter = append(b.scatter, logits[si][:V])
	}
	b.setMatmul(0, b.output, &b.lastRows, S, b.logitsOut, V, false, nil)
	b.mm.parts[0].scatter = b.scatter
	b.runMatmuls(1)
	b.mm.parts[0].scatter = nil
	return nil
}

// HiddenSize implements backend.HiddenPooler.
func (b *Backend) HiddenSize() int { return b.cfg.HiddenSize }

// poolHidden adds the final-normed hidden states of the new tokens of every sequence that
// asks (SeqInput.Pool) into its Pool.
func (b *Backend) poolHidden(batch *backend.Batch) {
	h := b.cfg.HiddenSize
	t := 0
	for si := range batch.Seqs {
		s := &batch.Seqs[si]
		if s.Pool != nil {
			row := b.lastRows.rows(1, h)
			for i := range s.Tokens {
				RMSNorm(row, b.x[(t+i)*h:(t+i+1)*h], b.outNorm, b.cfg.RMSNormEps)
				for j, v := range row {
					s.Pool[j] += v
				}
			}
		}
		t += len(s.Tokens)
	}
}

// matmul computes out = x·mᵀ (+ bias), or adds it into out with accum. For a q8_0 matrix the
// activations are quantized first, once per write of x: q/k/v and gate/up read the same input
// and share one quantization.
func (b *Backend) matmul(m *matrix, x *acts, n int, out []float32, stride int, accum bool, bias []float32) {
	b.setMatmul(0, m, x, n, out, stride, accum, bias)
	b.runMatmuls(1)
}

// setMatmul prepares product i of a group that runMatmuls dispatches together: products that
// read the same input (q, k and v; gate and up) go out as one parallel job over all their
// rows, one pool dispatch instead of three, and the small k and v products do not each pay
// for waking the workers.
func (b *Backend) setMatmul(i int, m *matrix, x *acts, n int, out []float32, stride int, accum bool, bias []float32) {
	var q *q8Acts
	if m.dtype == model.Q8_0 {
		q = x.quantized(&b.qa, n, m.cols)
	}
	b.mm.parts[i] = matmulTask{
		m: m, x: x.f, q: q, n: n, out: out, outStride: stride, accum: accum, bias: bias, scratch: b.scratch,
	}
}

// acts is a matrix product's input: activations [n][cols] in float32, whose q8_0 quantization
// (for q8_0 matrices) it keeps track of. Writes go through rows, which marks the quantization
// stale; the first q8_0 product after a write quantizes again, and the products after it that
// read the same values (q, k and v; gate and up) reuse that quantization. No caller has to
// remember to invalidate it.
//
// The quants live in one q8Shared for all the step's inputs, as only one input's products run
// at a time: their memory is that of the largest input alone, and stays in cache from one
// product to the next. The products of one runMatmuls group must therefore read the same acts.
type acts struct {
	f         []float32
	qn, qCols int // the shape of this input's quantization, if the q8Shared still holds it; qn == 0: stale
}

// q8Shared is the quantized form of one acts at a time.
type q8Shared struct {
	q8Acts
	of *acts // whose values it holds; nil: none
}

// rows returns the first n rows of cols floats, grown if needed, for writing: the quantization
// is stale from now on. Values written through an earlier rows call's slice after a product
// read them would not be seen by the quantization, so each write phase asks for the rows again.
func (a *acts) rows(n, cols int) []float32 {
	a.f = grow(a.f, n*cols)
	a.qn = 0
	return a.f
}

// quantizedAs records that s holds the q8_0 form of a's first n rows of cols, quantized by
// the caller (a row at a time as they were written, see normInto).
func (a *acts) quantizedAs(s *q8Shared, n, cols int) {
	s.of, a.qn, a.qCols = a, n, cols
}

// quantized returns the q8_0 form of the first n rows of cols floats, quantizing them into s
// unless s holds them already.
func (a *acts) quantized(s *q8Shared, n, cols int) *q8Acts {
	if s.of != a || a.qn != n || a.qCols != cols {
		s.quantize(a.f, n, cols)
		a.quantizedAs(s, n, cols)
	}
	return &s.q8Acts
}

func (b *Backend) runMatmuls(np int) {
	mm := &b.mm
	mm.np = np
	rows := 0
	for i := 0; i < np; i++ {
		mm.start[i] = rows
		rows += mm.parts[i].m.rows
	}
	mm.start[np] = rows
	if mm.parts[0].n <= dynTokens {
		// Decode: each worker's share of the rows claimed in pieces as it goes (dynTask), so
		// that a worker slowed down (another process on its core, a page fault) does not leave
		// the other spinning at the end of a fixed half. Pieces of at most a chunk: about four
		// per worker (the tunable decode-pieces), each long enough (hundreds of rows) for the
		// hardware prefetcher to stream it (chunks of 32 rows measured slower on a quiet
		// machine).
		chunk := max(tune.pieceRows, (rows/(tune.decodePieces*b.pool.n)+15)&^15)
		if n := mm.parts[0].n; n > 1 {
			// Several sequences make a product bound by arithmetic rather than by the memory
			// stream, and a quarter of a large product is long: at eight tokens, a quarter of
			// qwen2.5-0.5b's output projection (152K rows) takes about 2 ms. Chunks of at most
			// tune.pieceWork multiply-adds. Not much smaller: chunks of 2M multiply-adds (128
			// rows of llama-3.2-1b's 2,048 columns at eight tokens) measured 10 to 15% slower,
			// when every chunk still started its weight streams cold (before dynTask's shares).
			chunk = min(chunk, max(tune.pieceRows, (tune.pieceWork/(mm.parts[0].m.cols*n)+15)&^15))
		}
		b.dyn.reset(b.pool, mm, rows, chunk, tune.pieceRows)
		b.pool.parallel(&b.dyn, b.pool.n, 1)
		return
	}
	// Prefill: fixed contiguous ranges, so each worker packs each activation tile once.
	b.pool.parallel(mm, rows, 16)
}

// dynTokens is the most tokens a product takes with dynamically claimed rows (dynTask, in
// pieces cut at multiples of tune.pieceRows rows). The pieces' sizes are tunables
// (tunables.go): pieceRows 32; pieceWork 16M multiply-adds, about 0.1 to 0.2 ms of eight-token
// q8_0 work on one core streaming the weights from memory. On the 2-core Zen 5 (2026-12-04,
// `arbor bench --batch 8`, two rounds of four sizes), llama-3.2-1b 163 and 179 tokens/s at 2M,
// 181 and 199 at 8M, 191 and 213 at 16M, 184 and 212 at 32M; qwen2.5-0.5b 453 and 452 at 2M,
// 498 and 438 at 16M (its second round drew slower memory).
const dynTokens = 16

// multiMatmul is up to three products run as one job: items are the rows of all of them, in
// order.
type multiMatmul struct {
	parts [3]matmulTask
	start [4]int
	np    int
}

func (mm *multiMatmul) run(lo, hi, w int) {
	for i := 0; i < mm.np; i++ {
		a, z := max(lo, mm.start[i]), min(hi, mm.start[i+1])
		if a < z {
			mm.parts[i].run(a-mm.start[i], z-mm.start[i], w)
		}
	}
}

// positionQK applies the per-head Q/K norms (Qwen3) and RoPE to token t's queries and keys.
func (b *Backend) positionQK(l *layer, t int) {
	cfg := &b.cfg
	hd := cfg.HeadDim
	half := hd / 2
	cs, sn := b.cos[t*half:(t+1)*half], b.sin[t*half:(t+1)*half]
	for hh := 0; hh < cfg.NumHeads; hh++ {
		qh := b.q[t*b.qDim+hh*hd : t*b.qDim+(hh+1)*hd]
		if l.qNorm != nil {
			RMSNorm(qh, qh, l.qNorm, cfg.RMSNormEps)
		}
		ropeNeox(qh, cs, sn)
	}
	for hh := 0; hh < cfg.NumKVHeads; hh++ {
		kh := b.k[t*b.kvDim+hh*hd : t*b.kvDim+(hh+1)*hd]
		if l.kNorm != nil {
			RMSNorm(kh, kh, l.kNorm, cfg.RMSNormEps)
		}
		ropeNeox(kh, cs, sn)
	}
}

// storeKV writes token t's key and value into its slot's page.
func (b *Backend) storeKV(l *layer, t int) {
	s := &b.batch.Seqs[b.tokSeq[t]]
	off := b.slotOffset(s.Pages, int(b.tokSlot[t]))
	l.kCache.store(off, b.k[t*b.kvDim:(t+1)*b.kvDim])
	l.vCache.store(off, b.v[t*b.kvDim:(t+1)*b.kvDim])
}

// placeTask rotates a range of tokens' queries and keys to their positions (after the q/k
// norms where the model has them) and stores their keys and values in the cache: by token on
// the workers, as each token's are independent of the others'.
type placeTask struct {
	b *Backend
	l *layer
}

func (p *placeTask) run(lo, hi, _ int) {
	for t := lo; t < hi; t++ {
		p.b.positionQK(p.l, t)
		p.b.storeKV(p.l, t)
	}
}

// place is placeTask over the step's T tokens on the workers (with eight sequences, RoPE and
// the stores on one core took 1.5% of a step; one token runs inline, as pool.parallel does
// with a single unit). Attention then gives each worker the tokens it placed first (pool.start
// is the split both follow).
func (b *Backend) place(l *layer, T int) {
	b.placer = placeTask{b: b, l: l}
	b.pool.parallel(&b.placer, T, 1)
}

func (b *Backend) slotOffset(pages []int32, slot int) int {
	return (int(pages[slot/b.pageSize])*b.pageSize + slot%b.pageSize) * b.kvDim
}

// slotRows sets rows[j] to slotOffset(pages, first+j) + off for the slots [first, end), page by
// page: attention gathers each item's row offsets this way. One slotOffset a slot (a division)
// took 2 ns a slot, this 0.7 (`go test -bench SlotRows ./runtime/backend/cpu`, Zen 5): 260 ns
// less for each 200-key item of an eight-sequence step, 23 us for each 16384-key one.
func (b *Backend) slotRows(pages []int32, first, end, off int, rows []int32) {
	ps, kv := b.pageSize, b.kvDim
	rows = rows[:end-first]
	j := 0
	for slot := first; slot < end; {
		p := slot / ps
		stop := min((p+1)*ps, end)
		base := (int(pages[p])-p)*ps*kv + off
		for ; slot < stop; slot++ {
			rows[j] = int32(base + slot*kv)
			j++
		}
	}
}

func (b *Backend) attend(l *layer, li, T int) {
	start := time.Now()
	mode := sparse.Full
	if b.nSparse > 0 {
		mode = b.sparse[0].cfg.Layers[li]
	}
	defer func() {
		b.attnTime.Layers[mode]++
		b.attnTime.Nanos[mode] += time.Since(start).Nanoseconds()
	}()
	// Causal attention costs more for later tokens: the items go out dynamically, the most
	// expensive first, each worker's own tokens before the others' (attnTask.take), instead of
	// in fixed halves that would leave one worker idle.
	b.attn.b, b.attn.l, b.attn.li, b.attn.out = b, l, li, b.attnOut.rows(T, b.qDim)
	span := b.cfg.HeadDim * b.cfg.NumHeads / b.cfg.NumKVHeads
	quantize := l.o.dtype == model.Q8_0 && span%model.Q8Block == 0
	b.attn.reset(T)
	b.runQuantizing(&b.attn, b.pool.n, &b.attn.q, &b.attnOut, T, b.qDim, quantize)
	// Count what each token attended (the last item of a token speaks for all its heads).
	for t := 0; t < T; t++ {
		b.attended[t] += int(b.attn.counts(t))
	}
	if b.nSparse > 0 {
		b.selectPages(li)
	}
}

// attnTask computes attention for (token, KV head) items: causal over the token's own
// sequence, reading keys and values through its page table. The query heads that share a KV
// head (grouped-query attention) are done together, so each key and value row is read once
// for all of them while it is in L1.
type attnTask struct {
	b   *Backend
	l   *layer
	li  int
	out []float32 // [T][qDim]
	// q, if set, receives each item's outputs quantized for the q8_0 output projection as soon
	// as they are written, on the worker that wrote them: quantizing all of them on one core
	// before the product read half from the other core's cache, and took that core alone.
	q *q8Acts
	// The workers claim the items one at a time (see take); dispatch with
	// pool.parallel(a, pool.n, 1) after reset. shares[w] are the items of the tokens that
	// worker w placed (place's split of the tokens), which it takes first.
	shares []attnShare
}

// attnShare is the items [lo, hi) that one worker takes first, the last first: next counts
// those claimed. Each on its own cache line, as every worker's claims write its counter.
type attnShare struct {
	lo, hi int
	next   atomic.Int64
	_      [40]byte
}

// reset makes the T tokens' items ready to be claimed.
func (a *attnTask) reset(T int) {
	p := a.b.pool
	kvh := a.b.cfg.NumKVHeads
	if len(a.shares) != p.n {
		a.shares = make([]attnShare, p.n)
	}
	for w := range a.shares {
		s := &a.shares[w]
		s.lo, s.hi = p.start(T, 1, w)*kvh, p.start(T, 1, w+1)*kvh
		s.next.Store(0)
	}
}

// counts is the number of slots token t attended in this layer: its sparse rows, or its
// whole context.
func (a *attnTask) counts(t int) int32 {
	b := a.b
	slot := int(b.tokSlot[t])
	first := b.windowStart(slot)
	if k := b.tokSparse[t]; k >= 0 {
		sp := &b.sparse[k]
		if sp.cfg.Layers[a.li] == sparse.Sparse {
			if sp.forced != nil {
				return int32(pagesSlots(sp.forced, b.pageSize, first, sp.n))
			}
			if len(sp.picked) > 0 {
				return int32(pagesSlots(sp.picked, b.pageSize, first, sp.n))
			}
		}
	}
	return int32(slot + 1 - first)
}

// pagesSlots is the number of slots in [first, n) in the given logical pages.
func pagesSlots(pages []int32, pageSize, first, n int) int {
	c := 0
	for _, p := range pages {
		c += max(0, min(int(p+1)*pageSize, n)-max(int(p)*pageSize, first))
	}
	return c
}

// take claims worker w's next item, or returns -1 when there is none left: first among the
// items of the tokens that w placed, whose queries and new keys and values it wrote and holds
// in its cache, then among the other workers' (the workers finish together). Within a share,
// the last items first, the most expensive for causal attention. Items dealt out from one
// counter ran on either core: with eight sequences an item read its token's queries from the
// other core's cache half the time (a line took about 220 ns from one core to the other on the
// 2-core Zen 5), and attention took 11% longer (qwen2.5-0.5b, 1.78 against 1.58 ms a step,
// medians of six alternating rounds of `arbor bench --batch 8 --phases`).
func (a *attnTask) take(w int) int {
	n := len(a.shares)
	for k := range n {
		s := &a.shares[(w+k)%n]
		if it := s.hi - 1 - int(s.next.Add(1)-1); it >= s.lo {
			return it
		}
	}
	return -1
}

// attnItem is one (token, KV head) item's rows, gathered before it runs.
type attnItem struct {
	t, g, first int
	rows        []int32 // where each attended slot's key (and value) for this KV head starts
	sp          *sparseSeq
	mode        sparse.Mode
}

// gather fills in item it's rows into buf: its whole context, or for a token attending
// sparsely in this layer, its picked pages' slots only.
func (a *attnTask) gather(it int, buf []int32) attnItem {
	b := a.b
	kvh := b.cfg.NumKVHeads
	x := attnItem{t: it / kvh, g: it % kvh}
	s := &b.batch.Seqs[b.tokSeq[x.t]]
	slot := int(b.tokSlot[x.t])
	x.first = b.windowStart(slot)
	if k := b.tokSparse[x.t]; k >= 0 {
		x.sp = &b.sparse[k]
		x.mode = x.sp.cfg.Layers[a.li]
	}
	if m, ok := b.sparseRows(x.sp, x.mode, s.Pages, x.g, buf); ok {
		x.rows = buf[:m]
	} else {
		x.rows = buf[:slot+1-x.first]
		b.slotRows(s.Pages, x.first, slot+1, x.g*b.cfg.HeadDim, x.rows)
	}
	return x
}

// attnNextBytes bounds the keys and values of the next item that a worker prefetches while it
// works on the current one: within L2 beside the current item's.
const attnNextBytes = 256 << 10

// run works through its items one after the other, each next item's rows gathered before the
// current one runs: with an f16 cache the kernels prefetch the next item's keys and values a
// slice per tile while they work on the current item's (see scoreRowsF16), so that an item
// starts with its rows in cache. Started cold, an eight-sequence decode step's items each spent
// about half their time waiting on their first tiles (qwen2.5-0.5b, 160 keys: 8.0 us against
// 3.9 run again in cache).
func (a *attnTask) run(_, _, w int) {
	b := a.b
	cfg := &b.cfg
	hd := cfg.HeadDim
	group := cfg.NumHeads / cfg.NumKVHeads
	scale := float32(1 / math.Sqrt(float64(hd)))
	bufs := [2][]int32{b.attnRows[w], b.attnRows2[w]}
	it := a.take(w)
	if it < 0 {
		return
	}
	cur := a.gather(it, bufs[0])
	warm := false
	for k := 1; ; k++ {
		var next attnItem
		var ahead []int32 // the next item's rows, to prefetch
		nit := a.take(w)
		if nit >= 0 {
			next = a.gather(nit, bufs[k%2])
			if a.l.vCache.f16 != nil && len(next.rows)*hd*2*2 <= attnNextBytes {
				ahead = next.rows
			}
		}
		a.item(&cur, w, group, hd, scale, warm, ahead)
		if nit < 0 {
			return
		}
		cur, warm = next, ahead != nil
	}
}

// item runs one item. warm says its rows were prefetched while the item before ran; ahead
// are the next item's rows, to prefetch while this one runs.
func (a *attnTask) item(x *attnItem, w, group, hd int, scale float32, warm bool, ahead []int32) {
	b := a.b
	t, g, rows := x.t, x.g, x.rows
	n := len(rows)
	if v := a.l.vCache.f16; v != nil && !warm {
		// The first tile of values, fetched while the scores are computed (pvRowsF16
		// fetches each next tile itself, but its first only as it starts).
		prefetchRows(unsafe.Pointer(&v[0]), rows[:min(attnTileRows(group), n)], 1, hd*2)
	}
	// scores[h*n+j]: query head h of the group against slot x.first+j.
	scores := b.attnScratch[w][:group*n]
	qs := b.q[t*b.qDim+g*group*hd : t*b.qDim+(g+1)*group*hd]
	out := a.out[t*b.qDim+g*group*hd : t*b.qDim+(g+1)*group*hd]
	if k := a.l.kCache.f16; k != nil {
		scoreRowsF16(qs, hd, group, k, rows, scores, n, scale, warm, ahead)
	} else {
		scoreRows(qs, hd, group, a.l.kCache.f32, rows, scores, n, scale)
	}
	for h := 0; h < group; h++ {
		softmaxInPlace(scores[h*n : (h+1)*n])
	}
	if x.mode == sparse.Select {
		// The slots before a sliding window's start score nothing.
		row := x.sp.tokMax[g*x.sp.n : (g+1)*x.sp.n]
		clear(row[:x.first])
		slotMax(scores, group, n, row[x.first:])
	}
	if v := a.l.vCache.f16; v != nil {
		pvRowsF16(scores, n, group, v, rows, hd, out, warm, ahead)
	} else {
		pvRows(scores, n, group, a.l.vCache.f32, rows, hd, out)
	}
	if a.q != nil {
		off := t*b.qDim + g*group*hd
		a.q.quantizeSpan(a.out, off, off+group*hd)
	}
}

// dynTask runs an inner task's items (matrix rows) in pieces that workers claim as they go, so
// that a worker slowed down (another process on its core, a page fault) does not leave the
// other idle at the end of a fixed half: the decode steps' matrix products. Dispatch it with
// pool.parallel(d, pool.n, 1): each worker gets one unit and keeps claiming until nothing is
// left. (Attention claims its items itself, one ahead; see attnTask.run.)
//
// Each worker owns a contiguous share (pool.start's split) and claims its own from the front,
// in order, so that the kernels' prefetch at the end of one piece runs into the next one it
// will read. Chunks dealt out from one counter alternated between the cores, so every chunk
// started its weight streams cold (its first pair of groups read on demand, its prefetch past
// the end warming the other core's next chunk): on the 2-core Zen 5, `arbor bench --batch 8
// --phases` in alternating rounds gave qwen2.5-0.5b 447 against 411 tokens/s (medians of six,
// faster in all six) and llama-3.2-1b 196 against 178 (four, faster in all four).
//
// The end of a product: a worker whose share is done moves half of what another has left
// (from its back) into its own share, and an owner claims at most half of what is left in its
// share, so the pieces shrink towards the end and the workers finish together. With whole
// chunks, one worker idled for 10 to 16% of the decode products' time (half a chunk on
// average: a chunk of llama-3.2-1b's gate and up rows is 4.4 MB, about 0.15 ms); with the
// pieces halving, 2 to 5% (qwen2.5-0.5b's eight sequences 457 against 429 tokens/s, six
// alternating rounds, faster in all six).
type dynTask struct {
	inner  task
	chunk  int // the most rows a claim takes
	unit   int // the fewest (but for a share's last rows); pieces start and end on multiples of it
	shares []dynShare
}

// dynShare is one worker's rows not yet claimed, [front, back) packed in one word (front in
// the low half) so that claims at the front and thefts at the back agree by compare-and-swap.
// Each on its own cache line, as its owner writes it at every claim.
type dynShare struct {
	span atomic.Uint64
	_    [56]byte
}

func packSpan(front, back int) uint64 { return uint64(front) | uint64(back)<<32 }

func (d *dynTask) reset(p *pool, inner task, total, chunk, unit int) {
	d.inner, d.unit = inner, max(unit, 1)
	d.chunk = max(chunk, d.unit)
	if len(d.shares) != p.n {
		d.shares = make([]dynShare, p.n)
	}
	for w := range d.shares {
		d.shares[w].span.Store(packSpan(p.start(total, d.unit, w), p.start(total, d.unit, w+1)))
	}
}

// take claims worker w's next rows [lo, hi), or returns hi == lo when none are left: from the
// front of its own share, at most half of what is left there (and at most a chunk); when its
// share is empty, it first moves half of another's remainder into it.
func (d *dynTask) take(w int) (lo, hi int) {
	u := d.unit
	own := &d.shares[w].span
	for {
		v := own.Load()
		front, back := int(uint32(v)), int(v>>32)
		if front < back {
			end := min(back, (front+min(d.chunk, (back-front)/2)+u-1)/u*u)
			end = max(end, min(back, front+u))
			if own.CompareAndSwap(v, packSpan(end, back)) {
				return front, end
			}
			continue
		}
		if !d.steal(w) {
			return 0, 0
		}
	}
}

// steal moves the back half of another worker's remaining rows into w's (empty) share; false
// when no other worker has rows left.
func (d *dynTask) steal(w int) bool {
	u := d.unit
	n := len(d.shares)
	for k := 1; k < n; k++ {
		s := &d.shares[(w+k)%n].span
		for {
			v := s.Load()
			front, back := int(uint32(v)), int(v>>32)
			if front >= back {
				break
			}
			cut := max(front, (back-(back-front)/2)/u*u)
			if cut == back {
				cut = front // less than a unit left: all of it
			}
			if s.CompareAndSwap(v, packSpan(front, cut)) {
				d.shares[w].span.Store(packSpan(cut, back))
				return true
			}
		}
	}
	return false
}

func (d *dynTask) run(_, _, w int) {
	for lo, hi := d.take(w); lo < hi; lo, hi = d.take(w) {
		d.inner.run(lo, hi, w)
	}
}

// swigluTask computes gate[i] = silu(gate[i]) * up[i] over a range of elements; or, with cols
// set, over a range of rows of cols elements, each quantized into q (if set) as soon as it is
// done, while it is in cache.
type swigluTask struct {
	g, u []float32
	cols int
	q    *q8Acts
}

func (s *swigluTask) run(lo, hi, _ int) {
	if s.cols == 0 {
		swiglu(s.g[lo:hi], s.u[lo:hi])
		return
	}
	swiglu(s.g[lo*s.cols:hi*s.cols], s.u[lo*s.cols:hi*s.cols])
	if s.q != nil {
		s.q.quantizeRows(s.g, lo, hi, s.cols)
	}
}

// normTask writes RMSNorm(x row) * w into out for a range of rows of cols elements, quantizing
// each into q (if set) as soon as it is normed.
type normTask struct {
	out, x, w []float32
	cols      int
	eps       float32
	q         *q8Acts
}

func (t *normTask) run(lo, hi, _ int) {
	c := t.cols
	for r := lo; r < hi; r++ {
		RMSNorm(t.out[r*c:(r+1)*c], t.x[r*c:(r+1)*c], t.w, t.eps)
	}
	if t.q != nil {
		t.q.quantizeRows(t.out, lo, hi, c)
	}
}

// normInto writes the T tokens' hidden states normed by w into a, the rows on the workers, and
// for a q8_0 product next (quantize) each row quantized as soon as it is normed: one parallel
// pass instead of a norm and a quantization on one core while the other waits (with eight
// sequences those took 2% of a step; see normTask). One token runs inline.
func (b *Backend) normInto(a *acts, w []float32, T int, quantize bool) {
	h := b.cfg.HiddenSize
	b.norm = normTask{out: a.rows(T, h), x: b.x, w: w, cols: h, eps: b.cfg.RMSNormEps}
	b.runQuantizing(&b.norm, T, &b.norm.q, a, T, h, quantize)
}

// runQuantizing runs t over units on the workers (pool.parallel(t, units, 1)), t writing the T
// rows of cols in a. With quantize, t's target q is set to the shared quantization first (t
// quantizes what it writes), and a is marked as held by it after; without, q is nil.
func (b *Backend) runQuantizing(t task, units int, q **q8Acts, a *acts, T, cols int, quantize bool) {
	*q = nil
	if quantize {
		b.qa.begin(T, cols)
		*q = &b.qa.q8Acts
	}
	b.pool.parallel(t, units, 1)
	if quantize {
		a.quantizedAs(&b.qa, T, cols)
	}
}

// swigluInto computes the FFN's silu(gate) * up into the gate rows, on the workers: by element
// for one token, by row for several, each row then quantized for the down projection if it is
// q8_0 (quantize).
func (b *Backend) swigluInto(T int, quantize bool) {
	f := b.cfg.FFNSize
	g := b.gate.rows(T, f)
	if T < 2 {
		b.swiglu = swigluTask{g: g, u: b.up[:T*f]}
		b.pool.parallel(&b.swiglu, len(g), 256)
		return
	}
	b.swiglu = swigluTask{g: g, u: b.up[:T*f], cols: f}
	b.runQuantizing(&b.swiglu, T, &b.swiglu.q, &b.gate, T, f, quantize)
}

var _ backend.Backend = (*Backend)(nil)
