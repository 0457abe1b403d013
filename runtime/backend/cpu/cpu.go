// Package cpu is Arbor's pure-Go backend: the llama, qwen2, qwen3 and mistral forward pass over
// a paged KV cache, on all cores, allocating nothing per token once its buffers have grown to
// the largest batch seen.
package cpu

import (
	"fmt"
	"math"
	"runtime"

	"github.com/arborlabs/arbor/runtime/backend"
	"github.com/arborlabs/arbor/runtime/kv"
	"github.com/arborlabs/arbor/runtime/model"
)

// Options size the backend.
type Options struct {
	// Threads is the number of worker goroutines (0: all cores).
	Threads int
	// NumPages and PageSize size the KV memory: NumPages*PageSize token slots per layer.
	NumPages int
	PageSize int
}

type layer struct {
	attnNorm, ffnNorm []float32
	q, k, v, o        *matrix
	qBias, kBias      []float32
	vBias             []float32
	qNorm, kNorm      []float32
	gate, up, down    *matrix
	// kCache and vCache hold NumPages pages of PageSize slots of kvHeads*headDim floats.
	kCache, vCache []float32
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
	kvDim    int // kvHeads*headDim: floats per slot per layer in K (and in V)
	qDim     int

	// Step buffers, grown to the largest batch and reused.
	x, xn         []float32 // [T][hidden]
	q, k, v       []float32 // [T][qDim], [T][kvDim], [T][kvDim]
	attnOut       []float32 // [T][qDim]
	gateBuf, upBf []float32 // [T][ffn]
	cos, sin      []float32 // [T][headDim/2]
	tokSeq        []int32   // sequence index of each token
	tokSlot       []int32   // KV slot of each token within its sequence
	lastRows      []float32 // [S][hidden]: final normed hidden of tokens that want logits
	lastIdx       []int     // batch sequence index of each lastRows row
	logitsOut     []float32
	qa            q8Acts
	qaSrc         *float32 // the input qa was quantized from; reset whenever that input changes
	qaN, qaCols   int
	scratch       [][]float32 // per worker: a dequantized weight row
	attnScratch   [][]float32 // per worker: attention scores
	mm            matmulTask
	attn          attnTask
	batch         *backend.Batch
}

// New builds a CPU backend over m's weights. The weights are used in place (not copied); m must
// stay open while the backend is in use.
func New(m *model.Model, opt Options) (*Backend, error) {
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
	if b.output, err = newMatrix(out, cfg.VocabSize, h); err != nil {
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
	maxCols := max(h, b.qDim, cfg.FFNSize)
	b.scratch = make([][]float32, opt.Threads)
	b.attnScratch = make([][]float32, opt.Threads)
	for i := range b.scratch {
		b.scratch[i] = make([]float32, 3*maxCols)
		// A sequence can attend to at most every slot of the pool.
		b.attnScratch[i] = make([]float32, b.numPages*b.pageSize)
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
	l.kCache = make([]float32, slots)
	l.vCache = make([]float32, slots)
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
		b.layers[i].kCache, b.layers[i].vCache = nil, nil
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
			copy(l.kCache[dst:dst+n], l.kCache[src:src+n])
			copy(l.vCache[dst:dst+n], l.vCache[src:src+n])
		}
	}
	return nil
}

func (b *Backend) checkSlots(page, off, n int) error {
	if page < 0 || page >= b.numPages || off < 0 || n < 0 || off+n > b.pageSize {
		return fmt.Errorf("%w: page %d slots [%d,%d) outside %d pages of %d", backend.ErrBadBatch, page, off, off+n, b.numPages, b.pageSize)
	}
	return nil
}

func (b *Backend) validate(batch *backend.Batch, logits [][]float32) error {
	if len(logits) < len(batch.Seqs) {
		return fmt.Errorf("%w: %d logits rows for %d sequences", backend.ErrBadBatch, len(logits), len(batch.Seqs))
	}
	for i := range batch.Seqs {
		s := &batch.Seqs[i]
		if len(s.Tokens) == 0 {
			return fmt.Errorf("%w: sequence %d has no tokens", backend.ErrBadBatch, i)
		}
		if len(s.Positions) != len(s.Tokens) {
			return fmt.Errorf("%w: sequence %d: %d positions for %d tokens", backend.ErrBadBatch, i, len(s.Positions), len(s.Tokens))
		}
		if s.Start < 0 {
			return fmt.Errorf("%w: sequence %d: negative start", backend.ErrBadBatch, i)
		}
		end := s.Start + len(s.Tokens)
		if need := (end + b.pageSize - 1) / b.pageSize; len(s.Pages) < need {
			return fmt.Errorf("%w: sequence %d: %d pages cannot hold %d slots", backend.ErrBadBatch, i, len(s.Pages), end)
		}
		for _, p := range s.Pages[:(end+b.pageSize-1)/b.pageSize] {
			if p < 0 || int(p) >= b.numPages {
				return fmt.Errorf("%w: sequence %d: page %d outside the pool of %d", backend.ErrBadBatch, i, p, b.numPages)
			}
		}
		for _, t := range s.Tokens {
			if t < 0 || int(t) >= b.cfg.VocabSize {
				return fmt.Errorf("%w: sequence %d: token %d outside the vocabulary of %d", backend.ErrBadBatch, i, t, b.cfg.VocabSize)
			}
		}
		if s.Logits && len(logits[i]) < b.cfg.VocabSize {
			return fmt.Errorf("%w: sequence %d: logits row of %d, want %d", backend.ErrBadBatch, i, len(logits[i]), b.cfg.VocabSize)
		}
	}
	return nil
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
	b.x = grow(b.x, T*h)
	b.xn = grow(b.xn, T*h)
	b.q = grow(b.q, T*b.qDim)
	b.k = grow(b.k, T*b.kvDim)
	b.v = grow(b.v, T*b.kvDim)
	b.attnOut = grow(b.attnOut, T*b.qDim)
	b.gateBuf = grow(b.gateBuf, T*cfg.FFNSize)
	b.upBf = grow(b.upBf, T*cfg.FFNSize)
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

	for li := range b.layers {
		l := &b.layers[li]
		for t := 0; t < T; t++ {
			rmsNorm(b.xn[t*h:(t+1)*h], b.x[t*h:(t+1)*h], l.attnNorm, cfg.RMSNormEps)
		}
		b.qaSrc = nil
		b.matmul(l.q, b.xn, T, b.q, b.qDim, false, l.qBias)
		b.matmul(l.k, b.xn, T, b.k, b.kvDim, false, l.kBias)
		b.matmul(l.v, b.xn, T, b.v, b.kvDim, false, l.vBias)
		b.positionQK(l, T)
		b.storeKV(l, T)
		b.attend(l, T)
		b.matmul(l.o, b.attnOut, T, b.x, h, true, nil)

		for t := 0; t < T; t++ {
			rmsNorm(b.xn[t*h:(t+1)*h], b.x[t*h:(t+1)*h], l.ffnNorm, cfg.RMSNormEps)
		}
		b.qaSrc = nil
		b.matmul(l.gate, b.xn, T, b.gateBuf, cfg.FFNSize, false, nil)
		b.matmul(l.up, b.xn, T, b.upBf, cfg.FFNSize, false, nil)
		g := b.gateBuf[:T*cfg.FFNSize]
		u := b.upBf[:T*cfg.FFNSize]
		for i, gv := range g {
			g[i] = silu(gv) * u[i]
		}
		b.qaSrc = nil
		b.matmul(l.down, g, T, b.x, h, true, nil)
	}

	// Logits only for the last token of the sequences that ask for them.
	b.lastIdx = b.lastIdx[:0]
	t = 0
	for si := range batch.Seqs {
		t += len(batch.Seqs[si].Tokens)
		if batch.Seqs[si].Logits {
			b.lastIdx = append(b.lastIdx, si)
		}
	}
	S := len(b.lastIdx)
	if S == 0 {
		return nil
	}
	b.lastRows = grow(b.lastRows, S*h)
	end := 0
	r := 0
	for si := range batch.Seqs {
		end += len(batch.Seqs[si].Tokens)
		if batch.Seqs[si].Logits {
			last := end - 1
			rmsNorm(b.lastRows[r*h:(r+1)*h], b.x[last*h:(last+1)*h], b.outNorm, cfg.RMSNormEps)
			r++
		}
	}
	V := cfg.VocabSize
	b.logitsOut = grow(b.logitsOut, S*V)
	b.qaSrc = nil
	b.matmul(b.output, b.lastRows, S, b.logitsOut, V, false, nil)
	for r, si := range b.lastIdx {
		copy(logits[si][:V], b.logitsOut[r*V:(r+1)*V])
	}
	return nil
}

// matmul computes out = x·mᵀ (+ bias), or adds it into out with accum. For a q8_0 matrix the
// activations are quantized first, once per input: q/k/v and gate/up read the same input and
// share one quantization.
func (b *Backend) matmul(m *matrix, x []float32, n int, out []float32, stride int, accum bool, bias []float32) {
	if m.dtype == model.Q8_0 && (b.qaSrc != &x[0] || b.qaN != n || b.qaCols != m.cols) {
		b.qa.quantize(x, n, m.cols)
		b.qaSrc, b.qaN, b.qaCols = &x[0], n, m.cols
	}
	b.mm = matmulTask{m: m, x: x, q: &b.qa, n: n, out: out, outStride: stride, accum: accum, bias: bias, scratch: b.scratch}
	grain := 1
	if m.rows >= 64 {
		grain = 16
	}
	b.pool.parallel(&b.mm, m.rows, grain)
}

// positionQK applies the per-head Q/K norms (Qwen3) and RoPE to the step's queries and keys.
func (b *Backend) positionQK(l *layer, T int) {
	cfg := &b.cfg
	hd := cfg.HeadDim
	half := hd / 2
	for t := 0; t < T; t++ {
		cs, sn := b.cos[t*half:(t+1)*half], b.sin[t*half:(t+1)*half]
		for hh := 0; hh < cfg.NumHeads; hh++ {
			qh := b.q[t*b.qDim+hh*hd : t*b.qDim+(hh+1)*hd]
			if l.qNorm != nil {
				rmsNorm(qh, qh, l.qNorm, cfg.RMSNormEps)
			}
			ropeNeox(qh, cs, sn)
		}
		for hh := 0; hh < cfg.NumKVHeads; hh++ {
			kh := b.k[t*b.kvDim+hh*hd : t*b.kvDim+(hh+1)*hd]
			if l.kNorm != nil {
				rmsNorm(kh, kh, l.kNorm, cfg.RMSNormEps)
			}
			ropeNeox(kh, cs, sn)
		}
	}
}

// storeKV writes the step's keys and values into their slots' pages.
func (b *Backend) storeKV(l *layer, T int) {
	for t := 0; t < T; t++ {
		s := &b.batch.Seqs[b.tokSeq[t]]
		slot := int(b.tokSlot[t])
		off := b.slotOffset(s.Pages, slot)
		copy(l.kCache[off:off+b.kvDim], b.k[t*b.kvDim:(t+1)*b.kvDim])
		copy(l.vCache[off:off+b.kvDim], b.v[t*b.kvDim:(t+1)*b.kvDim])
	}
}

func (b *Backend) slotOffset(pages []int32, slot int) int {
	return (int(pages[slot/b.pageSize])*b.pageSize + slot%b.pageSize) * b.kvDim
}

func (b *Backend) attend(l *layer, T int) {
	b.attn = attnTask{b: b, l: l}
	b.pool.parallel(&b.attn, T*b.cfg.NumHeads, 1)
}

// attnTask computes attention for (token, head) items: causal over the token's own sequence,
// reading keys and values through its page table.
type attnTask struct {
	b *Backend
	l *layer
}

func (a *attnTask) run(lo, hi, w int) {
	b := a.b
	cfg := &b.cfg
	hd := cfg.HeadDim
	group := cfg.NumHeads / cfg.NumKVHeads
	scale := float32(1 / math.Sqrt(float64(hd)))
	for it := lo; it < hi; it++ {
		t := it / cfg.NumHeads
		hh := it % cfg.NumHeads
		kvh := hh / group
		s := &b.batch.Seqs[b.tokSeq[t]]
		slot := int(b.tokSlot[t])
		first := 0
		if cfg.SlidingWindow > 0 && slot-cfg.SlidingWindow+1 > 0 {
			first = slot - cfg.SlidingWindow + 1
		}
		n := slot + 1 - first
		scores := b.attnScratch[w][:n]
		q := b.q[t*b.qDim+hh*hd : t*b.qDim+(hh+1)*hd]
		for j := 0; j < n; j++ {
			off := b.slotOffset(s.Pages, first+j) + kvh*hd
			scores[j] = dot(q, a.l.kCache[off:off+hd]) * scale
		}
		softmaxInPlace(scores)
		out := b.attnOut[t*b.qDim+hh*hd : t*b.qDim+(hh+1)*hd]
		clear(out)
		for j := 0; j < n; j++ {
			off := b.slotOffset(s.Pages, first+j) + kvh*hd
			axpy(scores[j], a.l.vCache[off:off+hd], out)
		}
	}
}

var _ backend.Backend = (*Backend)(nil)
