package cpu

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/arborlabs/arbor/runtime/model"
)

// matrix is a weight in its stored type. Float weights are viewed without copying where the
// bytes allow it (the model file is mmapped; a copy would double the memory of a 1B-parameter
// model). q8_0 weights are copied once, reordered into row groups for the integer kernels
// (q8group.go); the file's pages are then left to the page cache to drop.
type matrix struct {
	rows, cols int
	dtype      model.DType
	f32        []float32
	u16        []uint16  // f16 or bf16 bits
	q8         *q8Groups // q8_0, reordered into row groups at load
}

func newMatrix(t *model.Tensor, rows, cols int) (*matrix, error) {
	if t == nil {
		return nil, fmt.Errorf("missing tensor")
	}
	if t.Rows() != rows || t.Cols() != cols {
		return nil, fmt.Errorf("tensor %s: shape %v, want [%d %d]", t.Name, t.Shape, rows, cols)
	}
	m := &matrix{rows: rows, cols: cols, dtype: t.DType}
	want := rows * t.DType.RowBytes(cols)
	if t.DType == model.Q8_0 && cols%model.Q8Block != 0 {
		return nil, fmt.Errorf("tensor %s: q8_0 needs a row length divisible by %d, got %d", t.Name, model.Q8Block, cols)
	}
	if len(t.Data) != want {
		return nil, fmt.Errorf("tensor %s: %d bytes, want %d for %v %s", t.Name, len(t.Data), want, t.Shape, t.DType)
	}
	switch t.DType {
	case model.F32:
		m.f32 = bytesAsF32(t.Data)
	case model.F16, model.BF16:
		m.u16 = bytesAsU16(t.Data)
	case model.Q8_0:
		m.q8 = newQ8Groups(t.Data, rows, cols)
	default:
		return nil, fmt.Errorf("tensor %s: unsupported dtype %s", t.Name, t.DType)
	}
	return m, nil
}

// bytesAsF32 reinterprets little-endian bytes as float32s, copying only when the slice is not
// 4-byte aligned (the in-file offsets of GGUF and safetensors normally are).
func bytesAsF32(b []byte) []float32 {
	if len(b) == 0 {
		return nil
	}
	if uintptr(unsafe.Pointer(&b[0]))%4 == 0 && littleEndian {
		return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

func bytesAsU16(b []byte) []uint16 {
	if len(b) == 0 {
		return nil
	}
	if uintptr(unsafe.Pointer(&b[0]))%2 == 0 && littleEndian {
		return unsafe.Slice((*uint16)(unsafe.Pointer(&b[0])), len(b)/2)
	}
	out := make([]uint16, len(b)/2)
	for i := range out {
		out[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return out
}

var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// vector reads a 1-D tensor (norm weights, biases) as float32, whatever its stored type.
func vector(t *model.Tensor, n int) ([]float32, error) {
	m, err := newMatrix(t, 1, n)
	if err != nil {
		return nil, err
	}
	out := make([]float32, n)
	m.rowF32(0, out)
	return out, nil
}

// rowF32 dequantizes row r into dst (len cols).
func (m *matrix) rowF32(r int, dst []float32) {
	c := m.cols
	switch m.dtype {
	case model.F32:
		copy(dst, m.f32[r*c:(r+1)*c])
	case model.F16:
		cvtF16(dst[:c], m.u16[r*c:(r+1)*c])
	case model.BF16:
		cvtBF16(dst[:c], m.u16[r*c:(r+1)*c])
	case model.Q8_0:
		m.q8.rowF32(r, dst[:c])
	}
}

// q8Acts are activations quantized to q8_0 the way ggml's x86 build does before a q8_0 matrix
// product (quantize_row_q8_0's AVX/AVX2 path, which every x86 CPU variant that
// node-llama-cpp ships selects): per block of 32, d = max|x|/127 stored as f16, and
// q = x*(127/max|x|) rounded to nearest, ties to even. Matching it keeps Arbor's q8_0 logits
// and greedy choices the same as llama.cpp's, and integer dot products are the fast path.
type q8Acts struct {
	q []int16 // the quants, widened for the kernels' VPMADDWD (see q8group.go)
	d []float32
	// u, for decode batches of whole runs of eight tokens on the VNNI byte path: the quants as
	// the byte kernels read them (q8PackU8's bytes; row t at u[t*cols:]), packed once here.
	// Every chunk of rows a worker claims would otherwise pack them again (a 2 to 3% share of
	// an eight-sequence step). Empty: not packed.
	u []byte
}

func (a *q8Acts) quantize(x []float32, n, cols int) {
	a.begin(n, cols)
	a.quantizeRows(x, 0, n, cols)
}

// begin and quantizeRows (or quantizeSpan) are quantize in parts, for the callers that
// quantize rows as they produce them, on several workers: begin sizes the buffers for n rows,
// and quantizeRows quantizes rows [lo, hi) of x (any worker, any order, disjoint ranges),
// packing their bytes for the VNNI kernels where those will read them.
//
// Each worker packs the rows it quantized, while they are in its cache. Packing all of them on
// one core after the workers joined read half the quants from the other core's cache: 8 us of
// the 21 that eight sequences' SwiGLU took a layer at qwen2.5-0.5b's 4,864 columns (2-core
// Zen 5, where a line takes about 220 ns from one core to the other), against under 1 us for
// the packing itself.
func (a *q8Acts) begin(n, cols int) {
	a.q = grow(a.q, n*cols)
	blocks := cols / model.Q8Block
	a.d = grow(a.d, n*blocks)
	// q8PackedBytes holds the rest: VNNI or AVX-VNNI (so AVX2) and rows of at most a chunk of
	// blocks.
	if n%q8PackedRun == 0 && n <= dynTokens && q8PackedBytes(blocks) {
		a.u = grow(a.u, n*cols)
	} else {
		a.u = a.u[:0]
	}
}

// quantizeRows quantizes rows [lo, hi) of cols values (a multiple of Q8Block, as a q8_0
// matrix's columns always are).
func (a *q8Acts) quantizeRows(x []float32, lo, hi, cols int) {
	a.quantizeSpan(x, lo*cols, hi*cols)
}

// quantizeSpan quantizes x[i0:i1] of rows whose length is a multiple of Q8Block (i0 and i1
// multiples of Q8Block): the rows lie one after the other in every form, the quants, their
// scales and the packed bytes, so a span of a row, or of several, is one run of blocks. Any
// worker, any order, disjoint spans, after begin.
func (a *q8Acts) quantizeSpan(x []float32, i0, i1 int) {
	nb := (i1 - i0) / model.Q8Block
	if nb <= 0 {
		return
	}
	_ = x[i1-1]
	_ = a.q[i1-1]
	b0 := i0 / model.Q8Block
	_ = a.d[b0+nb-1]
	switch {
	case hasAVX2:
		quantizeQ8AVX2(&x[i0], &a.q[i0], &a.d[b0], nb)
	case hasNEON:
		quantizeQ8NEON(&x[i0], &a.q[i0], &a.d[b0], nb)
	default:
		quantizeQ8Generic(x[i0:i1], a.q[i0:i1], a.d[b0:b0+nb])
	}
	if len(a.u) > 0 {
		q8PackU8n(a.u[i0:i1], a.q[i0:i1], 0, nb, 1)
	}
}

// quantizeQ8Generic is the portable q8Acts quantization: the blocks of x into quants qs and
// scales ds.
func quantizeQ8Generic(x []float32, qs []int16, ds []float32) {
	for b := range ds {
		blk := (*[model.Q8Block]float32)(x[b*model.Q8Block:])
		var amax float32
		for _, v := range blk {
			amax = max(amax, abs32(v))
		}
		var id float32
		if amax != 0 {
			id = 127 / amax
		}
		ds[b] = f16Table[model.F32ToF16(amax/127)]
		q := (*[model.Q8Block]int16)(qs[b*model.Q8Block:])
		for i, v := range blk {
			q[i] = int16(math.RoundToEven(float64(v * id)))
		}
	}
}

func abs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// dotF16 and dotBF16 are inner products with a half-precision weight row, converting as they
// go (one pass over the row instead of dequantize-then-dot).
func dotF16(w []uint16, x []float32) float32 {
	n := len(w)
	x = x[:n]
	if hasAVX2 && n > 0 {
		return dotF16AVX2(&w[0], &x[0], n)
	}
	if hasNEON && n > 0 {
		return dotF16NEON(&w[0], &x[0], n)
	}
	return dotF16Generic(w, x)
}

func dotF16Generic(w []uint16, x []float32) float32 {
	n := len(w)
	x = x[:n]
	tab := (*[1 << 16]float32)(f16Table)
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= n; i += 4 {
		s0 += tab[w[i]] * x[i]
		s1 += tab[w[i+1]] * x[i+1]
		s2 += tab[w[i+2]] * x[i+2]
		s3 += tab[w[i+3]] * x[i+3]
	}
	for ; i < n; i++ {
		s0 += tab[w[i]] * x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func dotBF16(w []uint16, x []float32) float32 {
	n := len(w)
	x = x[:n]
	if hasAVX2 && n > 0 {
		return dotBF16AVX2(&w[0], &x[0], n)
	}
	if hasNEON && n > 0 {
		return dotBF16NEON(&w[0], &x[0], n)
	}
	return dotBF16Generic(w, x)
}

func dotBF16Generic(w []uint16, x []float32) float32 {
	n := len(w)
	x = x[:n]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= n; i += 4 {
		s0 += math.Float32frombits(uint32(w[i])<<16) * x[i]
		s1 += math.Float32frombits(uint32(w[i+1])<<16) * x[i+1]
		s2 += math.Float32frombits(uint32(w[i+2])<<16) * x[i+2]
		s3 += math.Float32frombits(uint32(w[i+3])<<16) * x[i+3]
	}
	for ; i < n; i++ {
		s0 += math.Float32frombits(uint32(w[i])<<16) * x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// cvtF16 and cvtBF16 widen a half-precision row to float32.
func cvtF16(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	if hasAVX2 && len(src) > 0 {
		cvtF16AVX2(&dst[0], &src[0], len(src))
		return
	}
	if hasNEON && len(src) > 0 {
		cvtF16NEON(&dst[0], &src[0], len(src))
		return
	}
	for i, h := range src {
		dst[i] = f16Table[h]
	}
}

func cvtBF16(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	if hasAVX2 && len(src) > 0 {
		cvtBF16AVX2(&dst[0], &src[0], len(src))
		return
	}
	if hasNEON && len(src) > 0 {
		cvtBF16NEON(&dst[0], &src[0], len(src))
		return
	}
	for i, h := range src {
		dst[i] = bf16ToFloat(h)
	}
}

// matmulTask computes out[t*outStride+r] (+)= W[r]·x[t] for rows r in the worker's range and
// all n tokens. Parallel over rows: each worker streams its slice of the weight.
//
// With several tokens (prefill, or many sequences decoding together) the tokens are taken in
// tiles small enough to stay in the core's L2 cache, and within a tile a register block of
// weight rows meets four tokens at a time, so that each weight element loaded from memory
// serves every token of the tile: the product becomes bound by arithmetic, not by memory.
type matmulTask struct {
	m         *matrix
	x         []float32 // n rows of m.cols
	q         *q8Acts   // quantized x, for q8_0
	n         int
	out       []float32
	outStride int
	accum     bool      // add into out instead of overwriting (residual connections)
	bias      []float32 // optional, added to every output row
	scratch   []*workerScratch
	// scatter, if set, receives a copy of each token's finished rows (scatter[j][r] =
	// out[j*outStride+r]) as each range of rows completes, while they are still in cache: the
	// logits of a batch go to each sequence's own slice this way. Copied afterwards in one
	// pass, eight sequences' qwen2.5-0.5b logits (4.9 MB) took 0.5 ms of a 15 ms step.
	scatter [][]float32
}

// l2Tile is the activation bytes a token tile may take: half of a 512 KiB L2, leaving room for
// the weight rows in flight and the outputs.
const l2Tile = 256 << 10

// kChunk is the longest stretch of a row (in elements) that one pass of the tiled products
// covers: long rows (the down projection reads 4864 to 8192 columns) are cut into chunks so
// that a tile of many tokens still fits the L2 cache, and the weights need not be streamed
// from memory once per handful of tokens. Partial sums accumulate into the output.
//
// q8_0 rows are cut only past 8192 columns: the groups' chunks then lie a group apart instead
// of in one stream, which slows the eight-token products over weights in memory a good deal,
// and cutting them shorter gains nothing for prefill tiles.
const (
	kChunkFloat = 512  // 2 KiB per float32 row chunk: 128 tokens per tile
	kChunkQ8    = 8192 // 256 q8 blocks, 8 KiB of activation quants per token: 32 tokens
)

// workerScratch is one worker's room for the tiled products: widened weight row chunks, and
// the token tile's activations copied out contiguously. Rows of the activations lie a whole
// row length apart, often a power of two of bytes (8192 floats for a 1B model's FFN), and a
// tile of them read in place would fall into a few cache sets and evict itself; packed, with
// a stride padded off the power of two, the tile uses the whole L2. Buffers grow on first use
// and are kept.
type workerScratch struct {
	w []float32
	x []float32
	q []int16
	// u holds a tile's activation quants packed to unsigned bytes for the VNNI byte kernels,
	// eight or four tokens at a time (q8PackU8n): packed once per chunk, read by every group.
	u []byte
	// The eight (or four) tokens of a padded run (padded): quants, scales, packed bytes, outputs.
	pq []int16
	pd []float32
	pu []byte
	po []float32
}

func newScratch(workers int) []*workerScratch {
	s := make([]*workerScratch, workers)
	for i := range s {
		s[i] = &workerScratch{}
	}
	return s
}

// packPad is added to a packed row's stride: 64 bytes, one cache line.
const packPad = 64

// packedStride is the stride (in int16 quants) of a token's k blocks of quants packed apart
// from the others: the quants and a cache line's padding.
func packedStride(k int) int { return k*model.Q8Block + packPad/2 }

// tokenTile returns how many tokens of rowBytes each go in one tile: a multiple of 4, at least 4.
func tokenTile(rowBytes int) int {
	tt := l2Tile / max(rowBytes, 1)
	return min(max(tt&^3, 4), 256)
}

func (t *matmulTask) run(lo, hi, w int) {
	switch {
	case t.m.dtype == model.Q8_0:
		t.runQ8(lo, hi, w)
	case t.n == 1:
		t.runVec(lo, hi)
	default:
		t.runTiled(lo, hi, w)
	}
	for j, dst := range t.scatter {
		copy(dst[lo:hi], t.out[j*t.outStride+lo:j*t.outStride+hi])
	}
}

func (t *matmulTask) bias1(r int) float32 {
	if t.bias != nil {
		return t.bias[r]
	}
	return 0
}

// put stores a partial sum for (tok, r): the first chunk of a row stores it as a product does
// (with the bias, overwriting or accumulating), later chunks add to it.
func (t *matmulTask) put(first bool, tok, r int, v float32) {
	if first {
		t.store(tok, r, v+t.bias1(r))
	} else {
		t.out[tok*t.outStride+r] += v
	}
}

// direct says whether the kernels may write group g's results straight into the output, and
// where (dst, the offset of token 0's first row) and how (add: into what is there): when the
// group's rows all exist and lie inside the worker's range [lo, hi). On the first pass of a
// product with a bias the caller then adds the bias (addBias); a bias on a product that
// accumulates into its output goes through put instead, which adds it in put's order.
func (t *matmulTask) direct(first bool, g, lo, hi int) (dst int, add, ok bool) {
	r0 := g * q8GroupRows
	if r0 < lo || r0+q8GroupRows > min(hi, t.m.rows) || (first && t.bias != nil && t.accum) {
		return 0, false, false
	}
	return r0, !first || t.accum, true
}

// addBias adds the bias to rows [r0, r1) of tokens [tok, tok+T) after a first pass written
// straight into the output (direct). A no-op without a bias or on later passes.
func (t *matmulTask) addBias(first bool, tok, T, r0, r1 int) {
	if !first || t.bias == nil {
		return
	}
	b := t.bias[r0:r1]
	for j := tok; j < tok+T; j++ {
		out := t.out[j*t.outStride+r0 : j*t.outStride+r1]
		for i, v := range b {
			out[i] += v
		}
	}
}

// putRun is put for consecutive rows r0, r0+1, ... of one token: the branches are taken once
// per run instead of once per value.
func (t *matmulTask) putRun(first bool, tok, r0 int, v []float32) {
	out := t.out[tok*t.outStride+r0:][:len(v)]
	switch {
	case !first || (t.accum && t.bias == nil):
		for i, x := range v {
			out[i] += x
		}
	case t.bias == nil:
		copy(out, v)
	case t.accum:
		b := t.bias[r0:][:len(v)]
		for i, x := range v {
			out[i] += x + b[i]
		}
	default:
		b := t.bias[r0:][:len(v)]
		for i, x := range v {
			out[i] = x + b[i]
		}
	}
}

// runVec is the one-token product (decode): one pass over the rows, converting as it reads.
// The range goes in blocks of up to 4*tune.streamRows rows (the tunable stream-rows, 256), each
// cut into four quarters that are read side by side (dot4F32): four sequential streams in
// flight instead of one. Streams a block apart read faster than streams a quarter of a
// worker's whole range apart (BenchmarkMemRead: "blocks" against "far"). The few rows left over
// go one at a time.
func (t *matmulTask) runVec(lo, hi int) {
	m := t.m
	c := m.cols
	x := t.x[:c]
	var v4 [4]float32
	r := lo
	for {
		q := min((hi-r)/4, tune.streamRows)
		if q == 0 {
			break
		}
		for end := r + q; r < end; r++ {
			w0, s := r*c, q*c
			switch m.dtype {
			case model.F32:
				dot4F32(m.f32[w0:], s, x, &v4)
			case model.F16:
				dot4F16(m.u16[w0:], s, x, &v4)
			case model.BF16:
				dot4BF16(m.u16[w0:], s, x, &v4)
			}
			for i, v := range v4 {
				ri := r + i*q
				t.store(0, ri, v+t.bias1(ri))
			}
		}
		r += 3 * q
	}
	for ; r < hi; r++ {
		var v float32
		switch m.dtype {
		case model.F32:
			v = dot(m.f32[r*c:(r+1)*c], x)
		case model.F16:
			v = dotF16(m.u16[r*c:(r+1)*c], x)
		case model.BF16:
			v = dotBF16(m.u16[r*c:(r+1)*c], x)
		}
		t.store(0, r, v+t.bias1(r))
	}
}

// rowBlock is how many weight rows a tiled product takes at once: their chunks (48 x 2 KiB)
// stay in L2 while every four-token block of the tile passes over them, so the outputs of
// one token are written in runs of consecutive rows rather than one float per token-row
// (which, with a power-of-two row count, puts a tile's output lines into a few cache sets).
const rowBlock = 48

// runQ8 is the q8_0 product over already quantized activations, by row groups of eight (see
// q8group.go). One token: one pass over the groups, four streams at a time. Several: token
// tiles by column chunks by blocks of rows, each group chunk meeting eight (then four, then
// single) tokens per kernel call while it is in L1. Groups that the range [lo, hi) cuts are
// computed whole and stored in part; only the ends of a worker's range can be cut.
func (t *matmulTask) runQ8(lo, hi, w int) {
	m := t.m
	qg := m.q8
	c := m.cols
	nb := qg.nb
	qa := t.q
	g0, g1 := lo/q8GroupRows, (hi+q8GroupRows-1)/q8GroupRows
	var o [8 * q8GroupRows]float32
	if t.n == 1 {
		xq, xd := qa.q[:c], qa.d[:nb]
		g := g0
		// The groups wholly inside the range (and the matrix) go straight into the output in
		// blocks of four runs read side by side, four memory streams as runVec reads float
		// rows; the bias, if any, is added after. Cut groups, and the few left over, go one
		// at a time.
		ga, gz := min(g1, (lo+q8GroupRows-1)/q8GroupRows), min(g1, hi/q8GroupRows, m.rows/q8GroupRows)
		if _, _, ok := t.direct(true, ga, lo, hi); ok && ga < gz {
			for ; g < ga; g++ {
				t.group(g, 0, nb, true, 0, 1, xq, c, xd, nb, lo, hi, &o)
			}
			for {
				q := min((gz-g)/4, tune.streamRows/q8GroupRows)
				if q == 0 {
					break
				}
				q8Run1x4(qg, g, q, q, xq, xd, t.out[g*q8GroupRows:], t.accum)
				g += 4 * q
			}
			t.addBias(true, 0, 1, ga*q8GroupRows, g*q8GroupRows)
		}
		for ; g < g1; g++ {
			t.group(g, 0, nb, true, 0, 1, xq, c, xd, nb, lo, hi, &o)
		}
		return
	}
	cb := min(nb, kChunkQ8/model.Q8Block)     // blocks per chunk
	tile := tokenTile(2 * cb * model.Q8Block) // int16 quants
	ws := t.scratch[w]
	const groupBlock = rowBlock / q8GroupRows
	for t0 := 0; t0 < t.n; t0 += tile {
		t1 := min(t0+tile, t.n)
		for b0 := 0; b0 < nb; b0 += cb {
			b1 := min(b0+cb, nb)
			k := b1 - b0
			first := b0 == 0
			// The tile's quants for this chunk, token j at qp[j*ld:]: read in place where the
			// chunk is whole rows and those are not a multiple of 4 KiB apart, else packed with a
			// cache line between rows (at multiples of 4 KiB every token's quants for a column
			// would share one L1 set). Decode runs many chunks per product, and packing again for
			// each is a measurable share of an eight-sequence step. Where the VNNI byte kernel
			// reads the bytes packed at quantization (below), the int16 quants serve only cut
			// groups and a tail of fewer than eight tokens, and are read in place: packing them
			// for every chunk was 3.5% of llama-3.2-1b's eight-sequence step.
			packed := len(qa.u) > 0 && k == nb && t0%8 == 0
			qp, ld := qa.q[t0*c:], c
			if (k < nb || 2*c%4096 == 0) && !packed {
				ld = packedStride(k)
				ws.q = grow(ws.q, (t1-t0)*ld)
				qp = ws.q
				for tok := t0; tok < t1; tok++ {
					copy(qp[(tok-t0)*ld:(tok-t0)*ld+k*model.Q8Block], qa.q[tok*c+b0*model.Q8Block:tok*c+b1*model.Q8Block])
				}
			}
			// With the VNNI byte kernels, every run of eight or four tokens is packed to bytes once
			// for the chunk here, not again for each block of groups.
			var u []byte
			nu := 0 // the tile's tokens packed in u (token j's bytes at u[j*k*Q8Block:])
			if packed {
				u = qa.u[t0*c:] // packed once at quantization (decode batches)
				nu = t1 - t0
			} else if q8PackedBytes(k) {
				nu = (t1 - t0) / q8PackedRun * q8PackedRun
				ws.u = grow(ws.u, nu*k*model.Q8Block)
				u = ws.u
				for j := 0; j < nu; j += 8 {
					q8PackU8n(u[j*k*model.Q8Block:], qp[j*ld:], ld, k, min(8, nu-j))
				}
			}
			// A run of fewer than eight tokens at the tile's end that padRun sends to the
			// eight-token kernel, prepared once for the chunk.
			padTok := t0 + (t1-t0)/8*8
			pad := padTok < t1 && padRun(t1-padTok)
			if pad {
				padPrep(ws, t1-padTok, k, qp[(padTok-t0)*ld:], ld, qa.d[padTok*nb+b0:], nb)
			}
			for gb := g0; gb < g1; gb += groupBlock {
				ge := min(gb+groupBlock, g1)
				if cb < nb && ge < g1 {
					// The next block of groups' chunks, fetched while this one is worked on:
					// they lie a group's stride apart, not in the one stream that whole groups
					// make and the hardware prefetcher follows.
					for g := ge; g < min(ge+groupBlock, g1); g++ {
						prefetch(qg.quants(g, b0, b1))
					}
				}
				for tok := t0; tok < t1; {
					T := 1
					q, d := qp[(tok-t0)*ld:], qa.d[tok*nb+b0:]
					switch left := t1 - tok; {
					case left >= 8:
						T = 8
					case pad && tok == padTok && t.padded(ws, gb, ge, b0, b1, first, tok, left, q, ld, d, nb, lo, hi, &o):
						tok += left
						continue
					case left >= 4:
						T = 4
					}
					g := gb
					if T == 8 || T == 4 {
						// The groups wholly inside the range (and the matrix) in one call.
						ga, gz := max(gb, (lo+q8GroupRows-1)/q8GroupRows), min(ge, hi/q8GroupRows, m.rows/q8GroupRows)
						if dst, add, ok := t.direct(first, ga, lo, hi); ok && ga < gz {
							for ; g < ga; g++ {
								t.group(g, b0, b1, first, tok, T, q, ld, d, nb, lo, hi, &o)
							}
							var ut []byte
							if tok+T-t0 <= nu {
								ut = u[(tok-t0)*k*model.Q8Block:]
							}
							q8RunT(T, qg, ga, gz-ga, b0, b1, q, ld, ut, d, nb, t.out[tok*t.outStride+dst:], t.outStride, add)
							t.addBias(first, tok, T, dst, gz*q8GroupRows)
							g = gz
						}
					}
					for ; g < ge; g++ {
						t.group(g, b0, b1, first, tok, T, q, ld, d, nb, lo, hi, &o)
					}
					tok += T
				}
			}
		}
	}
}

// padRun says whether the r < 8 tokens left over from a tile's runs of eight take the
// eight-token kernel, padded to eight (padded; or the four-token one, padded to four, see
// padTo), rather than the four- and one-token ones. The
// tunable pad-tokens sets the fewest (8: never); at 0, its default, the rule is what each
// kernel set measured on the 2-core Zen 5 (2026-12-04, qwen2.5-0.5b q8_0,
// `ARBOR_TUNE=pad-tokens=2 arbor bench --batch B --alternate pad-tokens=8`: the unpadded step
// over the padded one):
//   - AVX-512 VNNI: B = 2 1.29, 3 1.67, 4 0.78 (q8Run4's kernel), 5 1.23, 6 1.58, 7 1.92: all
//     but four;
//   - AVX-VNNI: 2 0.84, 3 1.08, 4 0.91, 5 1.20, 6 1.45, 7 1.67 (with q8Run4's AVX-VNNI kernel
//     for the four of five to seven, later: 3 1.11, 5 1.03, 6 1.26, 7 1.50; and two and three
//     padded to four, padTo: 2 1.18, 3 1.50): all but four, as with AVX-512;
//   - AVX2: 2 0.56, 3 0.74, 4 0.63, 5 0.84, 6 1.00, 7 1.17: seven only.
//
// With AVX-512, two and three padded to four measured 1.49x and 1.89x.
//
// The arm64 kernels take eight tokens as two fours, and the portable ones token by token: no
// gain there.
func padRun(r int) bool {
	if p := tune.padTokens; p > 0 {
		return r >= p
	}
	switch {
	case hasAVX2 && (hasVNNI || hasAVXVNNI):
		return r >= 2 && r != 4
	case hasAVX2:
		return r >= 7
	}
	return false
}

// padPrep writes the r < 8 tokens' quants (token j's at q[j*qs:], k blocks) and scales (at
// d[j*ds:]) as padTo(r, k) tokens into the worker's scratch for padded, the rest with zero
// quants and scales, and packs them to bytes where the kernel reads bytes: once for a chunk of
// columns, not again for each block of groups (whose kernel call it would rival).
func padPrep(ws *workerScratch, r, k int, q []int16, qs int, d []float32, ds int) {
	n := padTo(r, k)
	ld := packedStride(k)
	ws.pq = grow(ws.pq, n*ld)
	ws.pd = grow(ws.pd, n*k)
	clear(ws.pq[r*ld : n*ld])
	clear(ws.pd[r*k : n*k])
	for j := 0; j < r; j++ {
		copy(ws.pq[j*ld:j*ld+k*model.Q8Block], q[j*qs:j*qs+k*model.Q8Block])
		copy(ws.pd[j*k:(j+1)*k], d[j*ds:j*ds+k])
	}
	if q8PackedBytes(k) {
		ws.pu = grow(ws.pu, n*k*model.Q8Block)
		q8PackU8n(ws.pu, ws.pq, ld, k, n)
	}
}

// padTo is the tokens r < 8 are padded to for chunks of k blocks: four where a byte kernel
// takes four (q8Run4) and r is under four, else eight. Two and three tokens padded to four
// rather than eight (2026-12-04, qwen2.5-0.5b, both padded, `--alternate` between the two):
// 1.12x and 1.11x faster steps with AVX-512, 1.40x and 1.38x with AVX-VNNI.
func padTo(r, k int) int {
	if r < 4 && q8PackedBytes(k) {
		return 4
	}
	return 8
}

// padded is the product over groups [gb, ge) and blocks [b0, b1) for the r < 8 tokens
// [tok, tok+r) of a tile (token j's quants at q[j*qs:], scales at d[j*ds:]) through the
// eight-token kernel (or the four-token one, padTo), as eight (four) tokens of which the ones
// past r have zero scales (as padPrep wrote them for the chunk): their sums are computed and
// dropped. The eight-token kernels run several times as fast as the four-token and one-token
// ones where the CPU has VNNI, so that a batch of seven decoding sequences took twice as long a
// step as one of eight (qwen2.5-0.5b on the 2-core Zen 5, `arbor bench --batch 7`: 29.5 steps/s
// against 58.8, its tokens going four, then one, one and one). The whole groups run in one
// q8Run8 (q8Run4) call into the worker's scratch, then each token's rows go to the output by
// putRun (bias and all); groups cut by [lo, hi) go by group as before. It reports false, doing
// nothing, where the output cannot be written directly (a first pass with both a bias and
// accumulation).
func (t *matmulTask) padded(ws *workerScratch, gb, ge, b0, b1 int, first bool, tok, r int, q []int16, qs int,
	d []float32, ds int, lo, hi int, o *[8 * q8GroupRows]float32) bool {
	qg := t.m.q8
	k := b1 - b0
	ga, gz := max(gb, (lo+q8GroupRows-1)/q8GroupRows), min(ge, hi/q8GroupRows, t.m.rows/q8GroupRows)
	dst, _, ok := t.direct(first, ga, lo, hi)
	if !ok && ga < gz {
		return false
	}
	byGroup := func(g0, g1 int) {
		for g := g0; g < g1; g++ {
			for j := 0; j < r; {
				T := 1
				if r-j >= 4 {
					T = 4
				}
				t.group(g, b0, b1, first, tok+j, T, q[j*qs:], qs, d[j*ds:], ds, lo, hi, o)
				j += T
			}
		}
	}
	if ga >= gz {
		byGroup(gb, ge)
		return true
	}
	byGroup(gb, ga)
	ng := gz - ga
	var u []byte
	if q8PackedBytes(k) {
		u = ws.pu
	}
	n := padTo(r, k)
	ws.po = grow(ws.po, n*ng*q8GroupRows)
	q8RunT(n, qg, ga, ng, b0, b1, ws.pq, packedStride(k), u, ws.pd, k, ws.po, ng*q8GroupRows, false)
	for j := 0; j < r; j++ {
		t.putRun(first, tok+j, dst, ws.po[j*ng*q8GroupRows:(j+1)*ng*q8GroupRows])
	}
	byGroup(gz, ge)
	return true
}

// group is one row group's product for T tokens (token j's quants at q[j*qs:], scales at
// d[j*ds:]) over blocks [b0, b1): straight into the output where direct allows it, else
// through o and putRun for the rows inside [lo, hi).
func (t *matmulTask) group(g, b0, b1 int, first bool, tok, T int, q []int16, qs int, d []float32, ds int, lo, hi int,
	o *[8 * q8GroupRows]float32) {
	qg := t.m.q8
	k := b1 - b0
	if dst, add, ok := t.direct(first, g, lo, hi); ok {
		q8Group(qg.quants(g, b0, b1), qg.scales(g, b0, b1), q, qs, d, ds, k, T, t.out[tok*t.outStride+dst:], t.outStride, add)
		t.addBias(first, tok, T, dst, dst+q8GroupRows)
		return
	}
	q8Group(qg.quants(g, b0, b1), qg.scales(g, b0, b1), q, qs, d, ds, k, T, o[:], q8GroupRows, false)
	r0, r1 := max(lo, g*q8GroupRows), min(hi, (g+1)*q8GroupRows)
	for j := 0; j < T; j++ {
		t.putRun(first, tok+j, r0, o[j*q8GroupRows+r0-g*q8GroupRows:j*q8GroupRows+r1-g*q8GroupRows])
	}
}

// rowsF32 returns columns [k0, k1) of rows r..r+nr-1 as float32 with their stride: in place
// for f32, converted into the worker's scratch otherwise.
func (t *matmulTask) rowsF32(r, nr, k0, k1, w int) ([]float32, int) {
	m := t.m
	c := m.cols
	if m.dtype == model.F32 {
		return m.f32[r*c+k0 : (r+nr-1)*c+k1], c
	}
	k := k1 - k0
	ws := t.scratch[w]
	ws.w = grow(ws.w, nr*k)
	s := ws.w
	for i := 0; i < nr; i++ {
		src := m.u16[(r+i)*c+k0 : (r+i)*c+k1]
		if m.dtype == model.F16 {
			cvtF16(s[i*k:(i+1)*k], src)
		} else {
			cvtBF16(s[i*k:(i+1)*k], src)
		}
	}
	return s, k
}

// prefetchRows prefetches columns [k0, k1) of rows [r0, r1).
func (t *matmulTask) prefetchRows(r0, r1, k0, k1 int) {
	m := t.m
	c := m.cols
	for r := r0; r < r1; r++ {
		if m.dtype == model.F32 {
			prefetchF32(m.f32[r*c+k0 : r*c+k1])
		} else {
			prefetchU16(m.u16[r*c+k0 : r*c+k1])
		}
	}
}

// runTiled is the float product for several tokens: token tiles in L2 by column chunks by row
// blocks, three rows by four tokens per register block. Half-precision rows are widened once
// per chunk and tile, then serve every token of the tile.
func (t *matmulTask) runTiled(lo, hi, w int) {
	m := t.m
	c := m.cols
	// Rows up to 2*kChunkFloat columns fit a tile of 64 or more tokens whole; splitting them
	// would only add a second pass over the outputs.
	kc := c
	if c > 2*kChunkFloat {
		kc = kChunkFloat
	}
	tile := tokenTile(kc * 4)
	var o [12]float32
	ws := t.scratch[w]
	for t0 := 0; t0 < t.n; t0 += tile {
		t1 := min(t0+tile, t.n)
		for k0 := 0; k0 < c; k0 += kc {
			k1 := min(k0+kc, c)
			k := k1 - k0
			first := k0 == 0
			// Pack the tile's activations for this chunk: token j at xp[j*ld:].
			ld := k + packPad/4
			ws.x = grow(ws.x, (t1-t0)*ld)
			xp := ws.x
			for tok := t0; tok < t1; tok++ {
				copy(xp[(tok-t0)*ld:(tok-t0)*ld+k], t.x[tok*c+k0:tok*c+k1])
			}
			for rb := lo; rb < hi; rb += rowBlock {
				re := min(rb+rowBlock, hi)
				wr, wld := t.rowsF32(rb, re-rb, k0, k1, w)
				if kc < c {
					t.prefetchRows(re, min(re+rowBlock, hi), k0, k1)
				}
				n3 := (re - rb) / 3 * 3
				tok := t0
				for ; tok+4 <= t1; tok += 4 {
					xt := xp[(tok-t0)*ld:]
					for i := 0; i < n3; i += 3 {
						gemm3x4(wr[i*wld:], wld, xt, ld, k, &o)
						for j := 0; j < 4; j++ {
							t.put(first, tok+j, rb+i, o[j])
							t.put(first, tok+j, rb+i+1, o[4+j])
							t.put(first, tok+j, rb+i+2, o[8+j])
						}
					}
				}
				// Token and row remainders: single dot products.
				for tt := t0; tt < t1; tt++ {
					xt := xp[(tt-t0)*ld : (tt-t0)*ld+k]
					i0 := n3
					if tt >= tok {
						i0 = 0
					}
					for i := i0; i < re-rb; i++ {
						t.put(first, tt, rb+i, dot(wr[i*wld:i*wld+k], xt))
					}
				}
			}
		}
	}
}

func (t *matmulTask) store(tok, r int, v float32) {
	if t.accum {
		t.out[tok*t.outStride+r] += v
	} else {
		t.out[tok*t.outStride+r] = v
	}
}
