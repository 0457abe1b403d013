package cpu

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/arborlabs/arbor/runtime/model"
)

// f16Table maps every binary16 bit pattern to its float32 value: one 256 KiB table that stays
// in cache beats branching bit manipulation per element.
var f16Table = func() []float32 {
	t := make([]float32, 1<<16)
	for i := range t {
		t[i] = model.F16ToF32(uint16(i))
	}
	return t
}()

func bf16ToFloat(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// dot is the float32 inner product of a and b[:len(a)].
func dot(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	if hasAVX2 && n > 0 {
		return dotF32AVX2(&a[0], &b[0], n)
	}
	if hasNEON && n > 0 {
		return dotF32NEON(&a[0], &b[0], n)
	}
	return dotGeneric(a, b)
}

// dotGeneric is the portable dot, unrolled so that the four partial sums pipeline.
func dotGeneric(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= n; i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < n; i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// dot4F32, dot4F16 and dot4BF16 are four inner products of x with the weight rows that start
// at w[0], w[stride], w[2*stride] and w[3*stride] (each len(x) long): the one-token product's
// kernel. The caller spaces the four rows far apart, so that they are four long sequential
// streams: the hardware prefetchers keep more of memory's bandwidth busy with four streams
// than with one (BenchmarkMemRead shows it), and each activation load serves four rows. Each
// row's sum is bit for bit what dot (dotF16, dotBF16) gives for it alone: the assembly adds
// in the same order, and rows whose length is not a multiple of 8 (none in the models
// served) go one at a time.
func dot4F32(w []float32, stride int, x []float32, out *[4]float32) {
	c := len(x)
	w = w[:3*stride+c]
	if hasAVX2 && c > 0 && c%8 == 0 {
		dot4F32AVX2(&w[0], 4*stride, &x[0], c, &out[0])
		return
	}
	if hasNEON && c > 0 && c%8 == 0 {
		dot4F32NEON(&w[0], 4*stride, &x[0], c, &out[0])
		return
	}
	for i := range out {
		out[i] = dot(w[i*stride:i*stride+c], x)
	}
}

func dot4F16(w []uint16, stride int, x []float32, out *[4]float32) {
	c := len(x)
	w = w[:3*stride+c]
	if hasAVX2 && c > 0 && c%8 == 0 {
		dot4F16AVX2(&w[0], 2*stride, &x[0], c, &out[0])
		return
	}
	if hasNEON && c > 0 && c%8 == 0 {
		dot4F16NEON(&w[0], 2*stride, &x[0], c, &out[0])
		return
	}
	for i := range out {
		out[i] = dotF16(w[i*stride:i*stride+c], x)
	}
}

func dot4BF16(w []uint16, stride int, x []float32, out *[4]float32) {
	c := len(x)
	w = w[:3*stride+c]
	if hasAVX2 && c > 0 && c%8 == 0 {
		dot4BF16AVX2(&w[0], 2*stride, &x[0], c, &out[0])
		return
	}
	if hasNEON && c > 0 && c%8 == 0 {
		dot4BF16NEON(&w[0], 2*stride, &x[0], c, &out[0])
		return
	}
	for i := range out {
		out[i] = dotBF16(w[i*stride:i*stride+c], x)
	}
}

// gemm3x4 computes the twelve inner products of three weight rows (w[r*ldw:], length n) with
// four activation rows (x[t*ldx:], length n) into out[r*4+t]: the register block of the
// float matrix product, where each weight element loaded serves four tokens.
func gemm3x4(w []float32, ldw int, x []float32, ldx int, n int, out *[12]float32) {
	_ = w[2*ldw+n-1]
	_ = x[3*ldx+n-1]
	n8 := 0
	if hasAVX2 {
		n8 = n &^ 7
		if n8 > 0 {
			gemm3x4F32AVX2(&w[0], ldw, &x[0], ldx, n8, &out[0])
		} else {
			*out = [12]float32{}
		}
	} else if hasNEON {
		n8 = n &^ 7
		if n8 > 0 {
			gemm3x4NEON(&w[0], ldw, &x[0], ldx, n8, &out[0])
		} else {
			*out = [12]float32{}
		}
	} else {
		*out = [12]float32{}
	}
	for r := 0; r < 3; r++ {
		wr := w[r*ldw : r*ldw+n]
		for t := 0; t < 4; t++ {
			xt := x[t*ldx : t*ldx+n]
			s := out[r*4+t]
			for i := n8; i < n; i++ {
				s += wr[i] * xt[i]
			}
			out[r*4+t] = s
		}
	}
}

// axpy: y += a*x.
func axpy(a float32, x, y []float32) {
	y = y[:len(x)]
	if hasAVX2 && len(x) > 0 {
		axpyAVX2(a, &x[0], &y[0], len(x))
		return
	}
	if hasNEON && len(x) > 0 {
		axpyNEON(a, &x[0], &y[0], len(x))
		return
	}
	axpyGeneric(a, x, y)
}

func axpyGeneric(a float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += a * v
	}
}

// RMSNorm writes x / rms(x) * w into out (out may be x) and returns 1/rms(x). The sum is
// accumulated in float64: hidden sizes reach 8k and the residual stream grows, and a float32
// sum would drift. It is exported for the trainer (package train), whose forward pass must be
// this one, bit for bit, so that a trained model means at inference what it meant in training.
func RMSNorm(out, x, w []float32, eps float32) float32 {
	// The sum of squares in float64 as llama.cpp takes it, in four independent sums: one sum
	// waits on each add's latency (four cycles an element), which made the norms of an
	// eight-sequence step 1.5% of it. With AVX2 or NEON, the sums in vectors: the Go loops took
	// 0.7 ns an element, 2.6 us of each core's share of an eight-sequence norm at 896 columns.
	var s0, s1, s2, s3 float64
	i := 0
	if hasAVX2 && len(x) >= 16 {
		i = len(x) &^ 15
		s0 = sumSquaresAVX2(&x[0], i)
	} else if hasNEON && len(x) >= 8 {
		i = len(x) &^ 7
		s0 = sumSquaresNEON(&x[0], i)
	}
	for ; i+4 <= len(x); i += 4 {
		v := x[i : i+4 : i+4]
		s0 += float64(v[0]) * float64(v[0])
		s1 += float64(v[1]) * float64(v[1])
		s2 += float64(v[2]) * float64(v[2])
		s3 += float64(v[3]) * float64(v[3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i]) * float64(x[i])
	}
	ss := (s0 + s1) + (s2 + s3)
	scale := float32(1 / math.Sqrt(ss/float64(len(x))+float64(eps)))
	out = out[:len(x)]
	w = w[:len(x)]
	i = 0
	if hasAVX2 && len(x) >= 8 {
		i = len(x) &^ 7
		normScaleAVX2(&out[0], &x[0], &w[0], i, scale)
	} else if hasNEON && len(x) >= 8 {
		i = len(x) &^ 7
		normScaleNEON(&out[0], &x[0], &w[0], i, scale)
	}
	for ; i < len(x); i++ {
		out[i] = x[i] * scale * w[i]
	}
	return scale
}

// ropeNeox rotates the pairs (x[i], x[i+half]) of one head by the angles in cos/sin (the
// rotate-half layout that Hugging Face checkpoints use).
func ropeNeox(x, cos, sin []float32) {
	half := len(cos)
	lo, hi := x[:half], x[half:2*half]
	for i := 0; i < half; i++ {
		a, b := lo[i], hi[i]
		lo[i] = a*cos[i] - b*sin[i]
		hi[i] = a*sin[i] + b*cos[i]
	}
}

func silu(x float32) float32 { return x / (1 + float32(math.Exp(float64(-x)))) }

// softmaxInPlace turns scores into probabilities, subtracting the max for stability.
func softmaxInPlace(s []float32) {
	if len(s) == 0 {
		return
	}
	m := s[0]
	i := 0
	if hasAVX2 {
		if i = len(s) &^ 7; i > 0 {
			m = maxAVX2(&s[0], i)
		}
	} else if hasNEON {
		if i = len(s) &^ 7; i > 0 {
			m = maxNEON(&s[0], i)
		}
	}
	for _, v := range s[i:] {
		if v > m {
			m = v
		}
	}
	var sum float32
	i = 0
	if hasAVX2 {
		if i = len(s) &^ 7; i > 0 {
			if hasVNNI {
				sum = expSubAVX512(&s[0], i, m)
			} else {
				sum = expSubAVX2(&s[0], i, m)
			}
		}
	} else if hasNEON {
		if i = len(s) &^ 7; i > 0 {
			sum = expSubNEON(&s[0], i, m)
		}
	}
	for ; i < len(s); i++ {
		e := float32(math.Exp(float64(s[i] - m)))
		s[i] = e
		sum += e
	}
	inv := 1 / sum
	i = 0
	if hasAVX2 {
		if i = len(s) &^ 7; i > 0 {
			scaleAVX2(&s[0], i, inv)
		}
	} else if hasNEON {
		if i = len(s) &^ 7; i > 0 {
			scaleNEON(&s[0], i, inv)
		}
	}
	for ; i < len(s); i++ {
		s[i] *= inv
	}
}

// swiglu sets g[i] = silu(g[i]) * u[i].
func swiglu(g, u []float32) {
	u = u[:len(g)]
	i := 0
	if hasAVX2 {
		if i = len(g) &^ 7; i > 0 {
			swigluAVX2(&g[0], &u[0], i)
		}
	} else if hasNEON {
		if i = len(g) &^ 7; i > 0 {
			swigluNEON(&g[0], &u[0], i)
		}
	}
	for ; i < len(g); i++ {
		g[i] = silu(g[i]) * u[i]
	}
}

// attnTile is the most key or value rows the attention kernels take at a time: 96 rows of one
// KV head are 24 KiB at head size 64 (48 KiB at 128), in L1 or L2 while every head block
// passes over them. Passing over the whole context per head block would read it from L3 each
// time at long contexts (BenchmarkAttention/ctx=4096 measures it). The NEON paths take it
// whole; the amd64 ones take attnTileRows.
const attnTile = 96

// attnAhead is how many tiles ahead of the one being worked on the amd64 attention paths
// prefetch their rows.
const attnAhead = 2

// attnTileRows is the tile of the amd64 attention paths for nh query heads: 16 rows more for
// every four heads (every pass of a four-head kernel over the tile), up to attnTile. Rows of a
// cold cache arrive only as fast as the prefetches for them go out, and a tile's prefetches go
// out in one burst: 96 rows (192 cache lines at head size 64) filled the core's outstanding
// misses and stalled it before the tile's own work began. Short tiles prefetched two ahead keep
// the misses flowing while the kernels work. On the 2-core Zen 5, llama-3.2-1b (four heads a
// KV head), eight sequences at 2048 tokens of context (`arbor bench --batch 8 --context 2048`,
// four alternating rounds): attention 2196-2479 -> 1791-2038 us a layer, decode 91-103 ->
// 99-118 tokens/s; at 128+128 tokens 236-241 -> 211-216 us. Tiles of 32 rows cost qwen2.5-0.5b
// (seven heads, two passes) 2.5% at 8192 tokens against 96, its 48 rows nothing; on the AVX2
// path (ARBOR_NO_VNNI=1) 48 rows beat 64 and 96, each prefetched two ahead.
func attnTileRows(nh int) int { return min(16*(1+(nh+3)/4), attnTile) }

// prefetchTile prefetches, at the tile of rows starting at j0, the tile attnAhead tiles on (and
// at the first, the tiles up to it): rows of rowBytes bytes, offsets in elements of size bytes.
func prefetchTile(base unsafe.Pointer, rows []int32, j0, tile, size, rowBytes int) {
	n := len(rows)
	a := j0 + attnAhead*tile
	if j0 == 0 {
		a = 0
	}
	prefetchRows(base, rows[min(a, n):min(j0+(attnAhead+1)*tile, n)], size, rowBytes)
}

// prefetchAhead prefetches the share of the next item's rows (ahead) that matches tile [j0, j1)
// of this item's n rows: all of them over the item, a slice a tile, so that they arrive at the
// pace of the work instead of in one burst (which stalls the core once its outstanding misses
// are full).
func prefetchAhead(base unsafe.Pointer, ahead []int32, j0, j1, n, rowBytes int) {
	m := len(ahead)
	if m == 0 {
		return
	}
	a, z := j0*m/n, j1*m/n
	if j1 == n {
		z = m
	}
	prefetchRows(base, ahead[a:z], 1, rowBytes)
}

// checkRows panics unless every row offset in rows leaves hd floats inside a buffer of n: the
// attention kernels read the rows through these offsets without further checks.
func checkRows(rows []int32, hd, n int) {
	for _, r := range rows {
		if r < 0 || int(r)+hd > n {
			panic(fmt.Sprintf("cpu: attention row offset %d (+%d) outside %d floats", r, hd, n))
		}
	}
}

// scoreBlock says whether scoreRows and scoreRowsF16 take the AVX-512 score kernels (four keys
// a block in 512-bit registers, where n keys and head size hd fill them; see
// scores_avx512_gen.py) rather than the AVX2 ones (three keys a block), and the block: a last
// tile shorter than a block takes the keys before it again.
func scoreBlock(n, hd int) (wide bool, block int) {
	if hasVNNI && n >= 4 && hd%16 == 0 {
		return true, 4
	}
	return false, 3
}

// scoreRows sets s[h*sstride+j] = scale * (q_h · k_j) for query heads h < nh (q_h =
// q[h*hd:(h+1)*hd]) and key rows j < len(rows) (k_j = k[rows[j]:rows[j]+hd]): one grouped-query
// attention item's scores over its whole context, the rows gathered from the KV pages by
// offset so that the kernel runs across page boundaries. Heads go four at a time. With AVX-512
// a last block of one to three heads takes a kernel for that many (a KV head of seven query
// heads, as in Qwen2.5, is a four and a three; of two, as in Qwen3's small models, a two). The
// AVX2 path's last four overlap the ones before (or repeat the last head where there are
// fewer than four), which recomputes some scores but keeps every one in a full register block.
func scoreRows(q []float32, hd, nh int, k []float32, rows []int32, s []float32, sstride int, scale float32) {
	n := len(rows)
	if n == 0 || nh == 0 {
		return
	}
	_ = q[nh*hd-1]
	_ = s[(nh-1)*sstride+n-1]
	checkRows(rows, hd, len(k))
	wide, block := scoreBlock(n, hd)
	if hasAVX2 && (nh >= 2 || wide) && n >= 3 && hd > 0 && hd%8 == 0 {
		tile := attnTileRows(nh)
		for j0 := 0; j0 < n; j0 += tile {
			j1 := min(j0+tile, n)
			prefetchTile(unsafe.Pointer(&k[0]), rows, j0, tile, 2, hd*4)
			j0 = min(j0, j1-block)
			if wide {
				for h := 0; h < nh; h += 4 {
					h1, h2, h3 := min(h+1, nh-1), min(h+2, nh-1), min(h+3, nh-1)
					scoresAVX512(min(4, nh-h), &q[h*hd], &q[h1*hd], &q[h2*hd], &q[h3*hd], &k[0], &rows[j0], j1-j0, hd,
						&s[h*sstride+j0], &s[h1*sstride+j0], &s[h2*sstride+j0], &s[h3*sstride+j0], scale)
				}
				continue
			}
			for h := 0; h < nh; h += 4 {
				h = min(h, max(nh-4, 0))
				h1, h2, h3 := min(h+1, nh-1), min(h+2, nh-1), min(h+3, nh-1)
				scores4AVX2(&q[h*hd], &q[h1*hd], &q[h2*hd], &q[h3*hd], &k[0], &rows[j0], j1-j0, hd,
					&s[h*sstride+j0], &s[h1*sstride+j0], &s[h2*sstride+j0], &s[h3*sstride+j0], scale)
			}
		}
		return
	}
	if hasNEON && hd > 0 && hd%8 == 0 {
		// Four heads against each key (see scores4NEON), the last one to three by a kernel for
		// that many, a tile of keys at a time as above; each score is bit for bit dot's times
		// scale.
		for j0 := 0; j0 < n; j0 += attnTile {
			j1 := min(j0+attnTile, n)
			for h := 0; h < nh; h += 4 {
				h1, h2, h3 := min(h+1, nh-1), min(h+2, nh-1), min(h+3, nh-1)
				scoresNEON(min(4, nh-h), &q[h*hd], &q[h1*hd], &q[h2*hd], &q[h3*hd], &k[0], &rows[j0], j1-j0, hd,
					&s[h*sstride+j0], &s[h1*sstride+j0], &s[h2*sstride+j0], &s[h3*sstride+j0], scale)
			}
		}
		return
	}
	for j, r := range rows {
		kr := k[r : int(r)+hd]
		for h := 0; h < nh; h++ {
			s[h*sstride+j] = dot(kr, q[h*hd:(h+1)*hd]) * scale
		}
	}
}

// pvRows sets out[h*hd:(h+1)*hd] = sum over j of p[h*pstride+j] * v_j for heads h < nh, with
// v_j = v[rows[j]:rows[j]+hd]: one grouped-query attention item's outputs, its probabilities
// against the value rows gathered by offset as in scoreRows. Heads go two at a time (an odd
// one out twice), 32 columns of both in registers; the sum runs over the rows in order, tile
// after tile.
func pvRows(p []float32, pstride, nh int, v []float32, rows []int32, hd int, out []float32) {
	n := len(rows)
	if nh == 0 {
		return
	}
	_ = out[nh*hd-1]
	if n == 0 {
		clear(out[:nh*hd])
		return
	}
	_ = p[(nh-1)*pstride+n-1]
	checkRows(rows, hd, len(v))
	c := 0
	if hasAVX2 && hd >= 32 {
		c = hd &^ 31
		for h := 0; h < nh; h++ {
			clear(out[h*hd : h*hd+c])
		}
		tile := attnTileRows(nh)
		for j0 := 0; j0 < n; j0 += tile {
			j1 := min(j0+tile, n)
			prefetchTile(unsafe.Pointer(&v[0]), rows, j0, tile, 2, hd*4)
			for h := 0; h < nh; h += 2 {
				h1 := min(h+1, nh-1) // an odd head out goes twice: pairs must not overlap, as they add
				pv2AVX2(&p[h*pstride+j0], &p[h1*pstride+j0], &v[0], &rows[j0], j1-j0, hd/32, &out[h*hd], &out[h1*hd])
			}
		}
	}
	if hasNEON && hd >= 32 {
		c = hd &^ 31
		for h := 0; h < nh; h++ {
			clear(out[h*hd : h*hd+c])
		}
		for j0 := 0; j0 < n; j0 += attnTile {
			j1 := min(j0+attnTile, n)
			for h := 0; h < nh; h += 2 {
				h1 := min(h+1, nh-1)
				pv2NEON(&p[h*pstride+j0], &p[h1*pstride+j0], &v[0], &rows[j0], j1-j0, hd/32, &out[h*hd], &out[h1*hd])
			}
		}
	}
	if c < hd {
		for h := 0; h < nh; h++ {
			o := out[h*hd+c : (h+1)*hd]
			clear(o)
			for j, r := range rows {
				axpy(p[h*pstride+j], v[int(r)+c:int(r)+hd], o)
			}
		}
	}
}

// scoreRowsF16 is scoreRows over an f16 key cache (k holds halves; rows are offsets in
// halves). The keys are widened exactly, so its scores are those of scoreRows over the same
// keys in float32. It repeats scoreRows' loops on purpose: one generic loop taking the kernels
// as values measured about 8% slower at 16k tokens and 8 sequences (arbor bench --context,
// alternating builds).
//
// warm says the rows were prefetched already (while the item before ran), so the tiles do not
// fetch their own; ahead are the next item's rows, whose keys are prefetched a slice per tile.
func scoreRowsF16(q []float32, hd, nh int, k []uint16, rows []int32, s []float32, sstride int, scale float32,
	warm bool, ahead []int32) {
	n := len(rows)
	if n == 0 || nh == 0 {
		return
	}
	_ = q[nh*hd-1]
	_ = s[(nh-1)*sstride+n-1]
	checkRows(rows, hd, len(k))
	wide, block := scoreBlock(n, hd)
	if hasAVX2 && (nh >= 2 || wide) && n >= 3 && hd > 0 && hd%8 == 0 {
		tile := attnTileRows(nh)
		for j0 := 0; j0 < n; j0 += tile {
			j1 := min(j0+tile, n)
			if !warm {
				prefetchTile(unsafe.Pointer(&k[0]), rows, j0, tile, 1, hd*2)
			}
			prefetchAhead(unsafe.Pointer(&k[0]), ahead, j0, j1, n, hd*2)
			j0 = min(j0, j1-block)
			if wide {
				for h := 0; h < nh; h += 4 {
					h1, h2, h3 := min(h+1, nh-1), min(h+2, nh-1), min(h+3, nh-1)
					scoresF16AVX512(min(4, nh-h), &q[h*hd], &q[h1*hd], &q[h2*hd], &q[h3*hd], &k[0], &rows[j0], j1-j0, hd,
						&s[h*sstride+j0], &s[h1*sstride+j0], &s[h2*sstride+j0], &s[h3*sstride+j0], scale)
				}
				continue
			}
			if nh == 2 && j1-j0 >= 4 {
				scores2F16AVX2(&q[0], &q[hd], &k[0], &rows[j0], j1-j0, hd, &s[j0], &s[sstride+j0], scale)
				continue
			}
			for h := 0; h < nh; h += 4 {
				h = min(h, max(nh-4, 0))
				h1, h2, h3 := min(h+1, nh-1), min(h+2, nh-1), min(h+3, nh-1)
				scores4F16AVX2(&q[h*hd], &q[h1*hd], &q[h2*hd], &q[h3*hd], &k[0], &rows[j0], j1-j0, hd,
					&s[h*sstride+j0], &s[h1*sstride+j0], &s[h2*sstride+j0], &s[h3*sstride+j0], scale)
			}
		}
		return
	}
	if hasNEON && hd > 0 && hd%8 == 0 {
		// As in scoreRows; each score bit for bit dotF16's times scale.
		for j0 := 0; j0 < n; j0 += attnTile {
			j1 := min(j0+attnTile, n)
			for h := 0; h < nh; h += 4 {
				h1, h2, h3 := min(h+1, nh-1), min(h+2, nh-1), min(h+3, nh-1)
				scoresF16NEON(min(4, nh-h), &q[h*hd], &q[h1*hd], &q[h2*hd], &q[h3*hd], &k[0], &rows[j0], j1-j0, hd,
					&s[h*sstride+j0], &s[h1*sstride+j0], &s[h2*sstride+j0], &s[h3*sstride+j0], scale)
			}
		}
		return
	}
	for j, r := range rows {
		kr := k[r : int(r)+hd]
		for h := 0; h < nh; h++ {
			s[h*sstride+j] = dotF16(kr, q[h*hd:(h+1)*hd]) * scale
		}
	}
}

// pvRowsF16 is pvRows over an f16 value cache (offsets in halves); warm and ahead as for
// scoreRowsF16, for the values.
func pvRowsF16(p []float32, pstride, nh int, v []uint16, rows []int32, hd int, out []float32, warm bool, ahead []int32) {
	n := len(rows)
	if nh == 0 {
		return
	}
	_ = out[nh*hd-1]
	if n == 0 {
		clear(out[:nh*hd])
		return
	}
	_ = p[(nh-1)*pstride+n-1]
	checkRows(rows, hd, len(v))
	c := 0
	if hasAVX2 && hd >= 32 {
		c = hd &^ 31
		for h := 0; h < nh; h++ {
			clear(out[h*hd : h*hd+c])
		}
		tile := attnTileRows(nh)
		for j0 := 0; j0 < n; j0 += tile {
			j1 := min(j0+tile, n)
			if !warm {
				prefetchTile(unsafe.Pointer(&v[0]), rows, j0, tile, 1, hd*2)
			}
			prefetchAhead(unsafe.Pointer(&v[0]), ahead, j0, j1, n, hd*2)
			if hasVNNI {
				// Up to eight heads a call in 512-bit registers, each row's chunk widened once
				// for all of them.
				for h := 0; h < nh; h += 8 {
					pvF16AVX512(min(8, nh-h), &p[h*pstride+j0], pstride, &v[0], &rows[j0], j1-j0, c, &out[h*hd], hd)
				}
				continue
			}
			for h := 0; h < nh; h += 2 {
				h1 := min(h+1, nh-1)
				pv2F16AVX2(&p[h*pstride+j0], &p[h1*pstride+j0], &v[0], &rows[j0], j1-j0, hd/32, &out[h*hd], &out[h1*hd])
			}
		}
	}
	if hasNEON && hd >= 32 {
		c = hd &^ 31
		for h := 0; h < nh; h++ {
			clear(out[h*hd : h*hd+c])
		}
		for j0 := 0; j0 < n; j0 += attnTile {
			j1 := min(j0+attnTile, n)
			for h := 0; h < nh; h += 2 {
				h1 := min(h+1, nh-1)
				pv2F16NEON(&p[h*pstride+j0], &p[h1*pstride+j0], &v[0], &rows[j0], j1-j0, hd/32, &out[h*hd], &out[h1*hd])
			}
		}
	}
	if c < hd && hasNEON {
		for h := 0; h < nh; h++ {
			o := out[h*hd+c : (h+1)*hd]
			clear(o)
			for j, r := range rows {
				axpyF16NEON(p[h*pstride+j], &v[int(r)+c], &o[0], len(o))
			}
		}
		return
	}
	if c < hd {
		tab := (*[1 << 16]float32)(f16Table)
		for h := 0; h < nh; h++ {
			o := out[h*hd+c : (h+1)*hd]
			clear(o)
			for j, r := range rows {
				a := p[h*pstride+j]
				for i, x := range v[int(r)+c : int(r)+hd] {
					o[i] += a * tab[x]
				}
			}
		}
	}
}

// toF16 rounds src into dst (same length) to nearest even.
func toF16(dst []uint16, src []float32) {
	n := len(src)
	dst = dst[:n]
	i := 0
	if hasAVX2 && n >= 8 {
		i = n &^ 7
		cvtF32ToF16AVX2(&dst[0], &src[0], i)
	} else if hasNEON && n >= 8 {
		i = n &^ 7
		cvtF32ToF16NEON(&dst[0], &src[0], i)
	}
	for ; i < n; i++ {
		dst[i] = model.F32ToF16(src[i])
	}
}

// fromF16 widens src into dst (same length), exactly.
func fromF16(dst []float32, src []uint16) {
	n := len(src)
	dst = dst[:n]
	if hasAVX2 && n > 0 {
		cvtF16AVX2(&dst[0], &src[0], n)
		return
	}
	if hasNEON && n > 0 {
		cvtF16NEON(&dst[0], &src[0], n)
		return
	}
	tab := (*[1 << 16]float32)(f16Table)
	for i, x := range src {
		dst[i] = tab[x]
	}
}

// prefetch hints that b will be read soon. A tiled product works on short stretches of many
// rows, too short for the hardware prefetchers to lock on, so it asks for the next rows
// itself while it computes with the current ones.
func prefetch(b []byte) {
	if hasAVX2 && len(b) > 0 {
		prefetchAVX2(&b[0], len(b))
	}
}

// prefetchRows hints that the attention rows at base + rows[j]<<shift (size bytes each) will
// be read soon: the next tile's, while the current one is computed.
func prefetchRows(base unsafe.Pointer, rows []int32, shift, size int) {
	if hasAVX2 && len(rows) > 0 {
		prefetchRowsAVX2((*byte)(base), &rows[0], len(rows), shift, size)
	}
}

// prefetchU16 and prefetchF32 are prefetch for weight rows of those types.
func prefetchU16(s []uint16) {
	if hasAVX2 && len(s) > 0 {
		prefetchAVX2((*byte)(unsafe.Pointer(&s[0])), 2*len(s))
	}
}

func prefetchF32(s []float32) {
	if hasAVX2 && len(s) > 0 {
		prefetchAVX2((*byte)(unsafe.Pointer(&s[0])), 4*len(s))
	}
}

// KernelSet names the kernels this process runs: "avx2+fma+f16c" (the amd64 assembly),
// "avxvnni+avx2+fma+f16c" (that, with eight tokens' q8_0 products through the 256-bit
// VPDPBUSD of AVX-VNNI, where the CPU has it and not AVX-512 VNNI),
// "avx512vnni+avx2+fma+f16c" (the AVX2 set, with the q8_0 products and attention scores in AVX-512
// VNNI where the CPU has it), "avx512vnni+vbmi+avx2+fma+f16c" (that, with one token's q8_0
// products through VBMI's VPERMB too),
// "neon+dotprod" or "neon" (the arm64 assembly, its q8_0 products with or without SDOT), or
// "portable" (plain Go: another architecture, a CPU without the features, or -tags purego).
// Kernels that have no assembly for the set run the portable code within it.
func KernelSet() string { return currentFlags().name() }
