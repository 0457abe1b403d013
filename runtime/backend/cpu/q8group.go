package cpu

//go:generate python3 q8group_gen.py

import (
	"os"
	"runtime"
	"sync"
	"unsafe"

	"github.com/arborlabs/arbor/runtime/model"
)

// q8_0 weights are laid out again at load time in row groups, for the integer kernels.
//
// A group is eight consecutive rows (the last one padded with zero rows). For each 32-column
// block b of the group there are 256 bytes of quants: eight quads of 32 bytes, quad c holding
// columns 4c and 4c+1 of rows 0..7 (two bytes a row, row by row) in its first 16 bytes and
// columns 4c+2 and 4c+3 the same way in its last 16; and 16 bytes of scales, the eight rows'
// f16 block scales. A group's quants come first (block by block), then its scales, so that
// every quad is a 32-byte aligned load and a range of blocks is one contiguous run of each.
//
// Why: with lanes standing for rows, a quad half widened to int16 holds each row's two
// weights in one 32-bit lane, a token's two activation quants for them are one broadcast, and
// VPMADDWD multiplies and adds the pair; the block's integer dot products for eight rows
// finish in the lanes of one register with plain adds, and one scale vector (eight rows'
// scales times the token's) serves the whole block. The per-row layout needed a broadcast
// scale, a conversion and an FMA for every row, token and block, and a horizontal sum per
// row: eight tokens run much faster this way (BenchmarkDecodeBatch/q8_0/n=8 measures it), and
// one token still streams the weights at the memory's pace. Pairs of columns rather than the
// four of ggml's int8 products (VPSIGNB, VPMADDUBSW, VPMADDWD by ones): as many vector
// operations per 32 products, but eight tokens ran slower with them (see q8group_gen.py). The
// bytes are the file's bytes, reordered: the products are exact integer sums per block, scaled
// as llama.cpp scales them. On arm64 the same layout serves NEON (kernels_arm64.s): ZIP1/ZIP2
// of a quad's two halves put each row's four columns in one 32-bit lane for SDOT, and without
// the dot-product extension SMULL by the token's repeated pair and SADALP do the pairs.
// With AVX-512 VNNI (hasVNNI, q8vnni_amd64.s) the same layout serves 512-bit registers: for
// one token VPDPWSSD on a quad widened whole (rows' first pairs in the low half, second pairs in
// the high half, the token's pairs put in that order once for four groups; q8g1x4VNNI; with
// AVX-512 VBMI VPERMB puts a 64-byte quad pair in order for VPDPBUSD instead; q8g1x4DPBUSD), for
// four and eight tokens VPDPWSSD on int16 pairs (a quad widened, VPERMD putting a row's two
// pairs side by side), and for eight tokens over a run of groups (q8Run8) VPDPBUSD on bytes,
// VPERMW putting a row's four columns of two quads in two lanes, the activations packed to
// unsigned bytes (q+128) once per run and 128 x the weights' block sums taken back per block;
// over two groups at a time (q8g8DPBUSD16) a register holds sixteen rows, one a lane, which
// spares the per-block combining of a row's two lanes and halves the scaling's share. With
// AVX-VNNI and without AVX-512 (hasAVXVNNI; Intel's client cores from Alder Lake on), eight
// tokens over a run of groups take the 256-bit VPDPBUSD (q8g8AVXVNNI, in q8group_amd64.s), a
// VPERMQ and a VPSHUFB putting a row's four columns of a quad in its lane. All give the AVX2
// kernels' outputs bit for bit.
const (
	q8GroupRows  = 8
	q8QuadBytes  = 32
	q8GroupQuant = q8GroupRows * model.Q8Block // quant bytes of one group block
	q8GroupScale = q8GroupRows * 2             // f16 scale bytes of one group block
)

// q8Groups is a q8_0 matrix in row groups.
type q8Groups struct {
	data   []byte
	nb     int // blocks per row
	groups int
	stride int // bytes per group: nb*(q8GroupQuant+q8GroupScale)
}

// quants returns group g's quants for blocks [b0, b1).
func (q *q8Groups) quants(g, b0, b1 int) []byte {
	o := g * q.stride
	return q.data[o+b0*q8GroupQuant : o+b1*q8GroupQuant]
}

// scales returns group g's f16 scales for blocks [b0, b1).
func (q *q8Groups) scales(g, b0, b1 int) []byte {
	o := g*q.stride + q.nb*q8GroupQuant
	return q.data[o+b0*q8GroupScale : o+b1*q8GroupScale]
}

// newQ8Groups reorders q8_0 rows (rows x cols, ggml's 34-byte blocks) into row groups, the
// groups shared out over the cores (a 1B model's 1.3 GB are reordered at load).
func newQ8Groups(src []byte, rows, cols int) *q8Groups {
	nb := cols / model.Q8Block
	q := &q8Groups{nb: nb, groups: (rows + q8GroupRows - 1) / q8GroupRows}
	q.stride = nb * (q8GroupQuant + q8GroupScale)
	q.data = alignedBytes(q.groups*q.stride, 64)
	rowBytes := nb * model.Q8BlockBytes
	fill := func(g0, g1 int) {
		for r := g0 * q8GroupRows; r < min(g1*q8GroupRows, rows); r++ {
			g, ri := r/q8GroupRows, r%q8GroupRows
			row := src[r*rowBytes : (r+1)*rowBytes]
			qs, sc := q.quants(g, 0, nb), q.scales(g, 0, nb)
			for b := 0; b < nb; b++ {
				blk := (*[model.Q8BlockBytes]byte)(row[b*model.Q8BlockBytes:])
				sc[b*q8GroupScale+2*ri], sc[b*q8GroupScale+2*ri+1] = blk[0], blk[1]
				dst := (*[q8GroupQuant]byte)(qs[b*q8GroupQuant:])
				for c := 0; c < q8GroupRows; c++ {
					for j := 0; j < 4; j++ {
						dst[q8QuadAt(c, ri, j)] = blk[2+4*c+j]
					}
				}
			}
		}
	}
	workers := min(runtime.NumCPU(), max(1, q.groups/64))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		g0, g1 := q.groups*w/workers, q.groups*(w+1)/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			fill(g0, g1)
		}()
	}
	wg.Wait()
	return q
}

// q8QuadAt is where column 4c+j (j < 4) of row r of a block sits among its 256 quant bytes.
func q8QuadAt(c, r, j int) int {
	return c*q8QuadBytes + j/2*16 + 2*r + j%2
}

// alignedBytes returns n zero bytes starting at a multiple of align.
func alignedBytes(n, align int) []byte {
	b := make([]byte, n+align)
	off := 0
	if m := int(uintptr(unsafe.Pointer(&b[0])) % uintptr(align)); m != 0 {
		off = align - m
	}
	return b[off : off+n : off+n]
}

// rowF32 dequantizes row r into dst (len cols).
func (q *q8Groups) rowF32(r int, dst []float32) {
	g, ri := r/q8GroupRows, r%q8GroupRows
	for b := 0; b < q.nb; b++ {
		sc := q.scales(g, b, b+1)
		d := f16Table[uint16(sc[2*ri])|uint16(sc[2*ri+1])<<8]
		qs := q.quants(g, b, b+1)
		out := dst[b*model.Q8Block : (b+1)*model.Q8Block]
		for c := 0; c < q8GroupRows; c++ {
			for j := 0; j < 4; j++ {
				out[4*c+j] = float32(int8(qs[q8QuadAt(c, ri, j)])) * d
			}
		}
	}
}

// q8Group computes one row group's products with T (1, 4 or 8) tokens over nb blocks: w and s
// the group's quants and scales from the first block, token t's quants at q[t*qs:] and
// scales at d[t*ds:]. Row r's sum for token t goes to out[t*os+r], or is added to it with add.
func q8Group(w, s []byte, q []int16, qs int, d []float32, ds int, nb, T int, out []float32, os int, add bool) {
	_ = w[nb*q8GroupQuant-1]
	_ = s[nb*q8GroupScale-1]
	_ = q[(T-1)*qs+nb*model.Q8Block-1]
	_ = d[(T-1)*ds+nb-1]
	_ = out[(T-1)*os+q8GroupRows-1]
	if hasAVX2 && nb > 0 {
		a := asmBool(add)
		switch T {
		case 1:
			q8g1AVX2(&w[0], &s[0], &q[0], &d[0], nb, &out[0], a)
			return
		case 4:
			if hasVNNI {
				q8g4VNNI(&w[0], &s[0], &q[0], &d[0], nb, qs*2, ds*4, &out[0], os*4, a, 1, 0)
				return
			}
			q8g4AVX2(&w[0], &s[0], &q[0], &d[0], nb, qs*2, ds*4, &out[0], os*4, a)
			return
		case 8:
			if hasVNNI {
				q8g8VNNI(&w[0], &s[0], &q[0], &d[0], nb, qs*2, ds*4, &out[0], os*4, a, 1, 0)
				return
			}
			q8g8AVX2(&w[0], &s[0], &q[0], &d[0], nb, qs*2, ds*4, &out[0], os*4, a, 1, 0)
			return
		}
	}
	if hasNEON && nb > 0 {
		a := asmBool(add)
		switch T {
		case 1:
			q8g1NEON(&w[0], &s[0], &q[0], &d[0], nb, &out[0], a)
			return
		case 4, 8:
			// Eight tokens as two fours: four tokens' sums and scales fill the registers.
			for t := 0; t < T; t += 4 {
				q8g4NEON(&w[0], &s[0], &q[t*qs], &d[t*ds], nb, qs*2, ds*4, &out[t*os], os*4, a)
			}
			return
		}
	}
	q8GroupGeneric(w, s, q, qs, d, ds, nb, T, out, os, add)
}

// q8PackBlocks is the most blocks q8Run8 takes to the byte kernel (q8g8DPBUSD) at once: a
// chunk of kChunkQ8 columns. Longer runs take the int16 one (q8g8VNNI).
const q8PackBlocks = kChunkQ8 / model.Q8Block

// q8VNNIBytes says q8Run8 uses the byte products (VPDPBUSD, activations packed to bytes per
// run) rather than the int16 pairs (VPDPWSSD) where VNNI is there. ARBOR_VNNI_WORDS=1 in the
// environment turns it off, to measure one against the other; tests switch it.
var q8VNNIBytes = os.Getenv("ARBOR_VNNI_WORDS") != "1"

// q8VNNIPairs says q8Run8's byte products take groups two at a time (q8g8DPBUSD16, sixteen
// rows a register) rather than one (q8g8DPBUSD). ARBOR_VNNI_PAIRS=0 turns it off, to measure
// one against the other; tests switch it.
var q8VNNIPairs = os.Getenv("ARBOR_VNNI_PAIRS") != "0"

// q8PackedBytes says whether q8Run8 and q8Run4 take a run of nb blocks to the VPDPBUSD
// kernels, whose activations are the tokens' quants packed to bytes (q8PackU8n).
func q8PackedBytes(nb int) bool {
	return (hasVNNI || hasAVXVNNI) && q8VNNIBytes && nb > 0 && nb <= q8PackBlocks
}

// q8PackedRun is the fewest tokens whose quants the byte kernels read packed (q8PackedBytes):
// q8Run4's four.
const q8PackedRun = 4

// q8PackU8 packs eight tokens' quants (token j's at q[j*qs:], nb blocks) to unsigned bytes for
// q8Run8's byte kernels: dst holds 8*nb*Q8Block bytes, token j's at dst[j*nb*Q8Block:].
func q8PackU8(dst []byte, q []int16, qs, nb int) { q8PackU8n(dst, q, qs, nb, 8) }

// q8PackU8n is q8PackU8 for ntok tokens (q8Run4's four).
func q8PackU8n(dst []byte, q []int16, qs, nb, ntok int) {
	_ = dst[ntok*nb*model.Q8Block-1]
	_ = q[(ntok-1)*qs+nb*model.Q8Block-1]
	if hasVNNI {
		q8PackU8VNNI(&dst[0], &q[0], qs*2, nb, ntok)
		return
	}
	q8PackU8AVX2(&dst[0], &q[0], qs*2, nb, ntok)
}

// q8Run4 is q8Run8 for four tokens, with u the tokens' quants packed by q8PackU8n (token j at
// u[j*nb*Q8Block:]) or nil: with AVX-512 VNNI and its byte kernels, the pairs of groups through
// q8g4DPBUSD16; with AVX-VNNI alone, all the groups through q8g4AVXVNNI; an odd last group and
// everything else by group through q8Group (VPDPWSSD or AVX2).
func q8Run4(qg *q8Groups, g0, ng, b0, b1 int, q []int16, qs int, u []byte, d []float32, ds int, out []float32, os int, add bool) {
	nb := b1 - b0
	if ng > 0 && hasAVX2 && !hasVNNI && hasAVXVNNI && q8PackedBytes(nb) && u != nil {
		w, s := qg.quants(g0, b0, b1), qg.scales(g0, b0, b1)
		_ = qg.quants(g0+ng-1, b0, b1)
		_ = qg.scales(g0+ng-1, b0, b1)
		_ = u[4*nb*model.Q8Block-1]
		_ = d[3*ds+nb-1]
		_ = out[3*os+ng*q8GroupRows-1]
		a := asmBool(add)
		q8g4AVXVNNI(&w[0], &s[0], &u[0], &d[0], nb, nb*model.Q8Block, ds*4, &out[0], os*4, a, ng, qg.stride)
		return
	}
	if np := ng / 2; np > 0 && hasAVX2 && hasVNNI && q8VNNIPairs && q8PackedBytes(nb) && u != nil {
		w, s := qg.quants(g0, b0, b1), qg.scales(g0, b0, b1)
		_ = qg.quants(g0+2*np-1, b0, b1)
		_ = qg.scales(g0+2*np-1, b0, b1)
		_ = u[4*nb*model.Q8Block-1]
		_ = d[3*ds+nb-1]
		_ = out[3*os+2*np*q8GroupRows-1]
		a := asmBool(add)
		q8Pairs(4, &w[0], &s[0], &u[0], &d[0], nb, ds, &out[0], os, a, np, qg.stride)
		g0, ng, out = g0+2*np, ng-2*np, out[2*np*q8GroupRows:]
	}
	for i := 0; i < ng; i++ {
		q8Group(qg.quants(g0+i, b0, b1), qg.scales(g0+i, b0, b1), q, qs, d, ds, nb, 4, out[i*q8GroupRows:], os, add)
	}
}

// q8Run8 is q8Group for eight tokens over the ng consecutive groups g0, g0+1, ... of qg, blocks
// [b0, b1): group g0+i's results go to out[t*os+8i+r]. One call for a run of groups spares the
// per-group call and checks. u is the tokens' quants packed by q8PackU8 when q8PackedBytes(b1-b0)
// (packed here when u is nil), else unused.
func q8Run8(qg *q8Groups, g0, ng, b0, b1 int, q []int16, qs int, u []byte, d []float32, ds int, out []float32, os int, add bool) {
	nb := b1 - b0
	last := g0 + ng - 1
	w, s := qg.quants(g0, b0, b1), qg.scales(g0, b0, b1)
	_ = qg.quants(last, b0, b1)
	_ = qg.scales(last, b0, b1)
	_ = q[7*qs+nb*model.Q8Block-1]
	_ = d[7*ds+nb-1]
	_ = out[7*os+ng*q8GroupRows-1]
	if hasAVX2 && nb > 0 && ng > 0 {
		a := asmBool(add)
		if q8PackedBytes(nb) {
			if u == nil {
				u = make([]byte, 8*nb*model.Q8Block)
				q8PackU8(u, q, qs, nb)
			}
			_ = u[8*nb*model.Q8Block-1]
			if !hasVNNI { // so AVX-VNNI (q8PackedBytes)
				q8g8AVXVNNI(&w[0], &s[0], &u[0], &d[0], nb, nb*model.Q8Block, ds*4, &out[0], os*4, a, ng, qg.stride)
				return
			}
			if np := ng / 2; np > 0 && q8VNNIPairs {
				q8Pairs(8, &w[0], &s[0], &u[0], &d[0], nb, ds, &out[0], os, a, np, qg.stride)
				if ng%2 == 0 {
					return
				}
				w, s, out = qg.quants(last, b0, b1), qg.scales(last, b0, b1), out[2*np*q8GroupRows:]
				ng = 1
			}
			q8g8DPBUSD(&w[0], &s[0], &u[0], &d[0], nb, nb*model.Q8Block, ds*4, &out[0], os*4, a, ng, qg.stride)
			return
		}
		if hasVNNI {
			q8g8VNNI(&w[0], &s[0], &q[0], &d[0], nb, qs*2, ds*4, &out[0], os*4, a, ng, qg.stride)
			return
		}
		q8g8AVX2(&w[0], &s[0], &q[0], &d[0], nb, qs*2, ds*4, &out[0], os*4, a, ng, qg.stride)
		return
	}
	for i := 0; i < ng; i++ {
		if hasNEON && nb > 0 {
			q8Group(qg.quants(g0+i, b0, b1), qg.scales(g0+i, b0, b1), q, qs, d, ds, nb, 8, out[i*q8GroupRows:], os, add)
			continue
		}
		q8GroupGeneric(qg.quants(g0+i, b0, b1), qg.scales(g0+i, b0, b1), q, qs, d, ds, nb, 8, out[i*q8GroupRows:], os, add)
	}
}

// asmBool is a flag as the assembly kernels take it: 1 for true.
func asmBool(b bool) int {
	if b {
		return 1
	}
	return 0
}

// q8Pairs runs the pairs kernel for T (eight or four) tokens over np pairs of groups stride
// bytes apart: w and s the first group's quants and scales, u the tokens' packed bytes (token
// j at u+j*nb*Q8Block), d their scales (token j's ds floats on), out their outputs (token j's
// os floats on); the form that also prefetches the scales where q8PairsScales says so. The
// four kernels are called directly, not as values, so that their pointers stay noescape.
func q8Pairs(T int, w, s, u *byte, d *float32, nb, ds int, out *float32, os, a, np, stride int) {
	us, pfd := nb*model.Q8Block, q8PairsPrefetch(stride)
	switch sc := q8PairsScales(stride); {
	case T == 8 && sc:
		q8g8DPBUSD16S(w, s, u, d, nb, us, ds*4, out, os*4, a, np, stride, pfd)
	case T == 8:
		q8g8DPBUSD16(w, s, u, d, nb, us, ds*4, out, os*4, a, np, stride, pfd)
	case sc:
		q8g4DPBUSD16S(w, s, u, d, nb, us, ds*4, out, os*4, a, np, stride, pfd)
	default:
		q8g4DPBUSD16(w, s, u, d, nb, us, ds*4, out, os*4, a, np, stride, pfd)
	}
}

// q8RunT is q8Run8 for T = 8 and q8Run4 for T = 4.
func q8RunT(T int, qg *q8Groups, g0, ng, b0, b1 int, q []int16, qs int, u []byte, d []float32, ds int, out []float32, os int, add bool) {
	if T == 8 {
		q8Run8(qg, g0, ng, b0, b1, q, qs, u, d, ds, out, os, add)
		return
	}
	q8Run4(qg, g0, ng, b0, b1, q, qs, u, d, ds, out, os, add)
}

// q8PairsPrefetch is how far ahead of its reads (bytes) q8g8DPBUSD16 prefetches each of its two
// weight streams, for groups gstride bytes apart: one pair ahead, the same block of the next
// pair's two groups. A fixed distance lands, for some widths, in the group the other stream is
// reading already: on the 2-core Zen 5, 8 KiB left qwen2.5-0.5b's eight-sequence decode (groups
// 7.6 KiB apart) at 312 to 350 tokens/s and 16 KiB llama-3.2-1b's (17.4 KiB) at 101 to 108,
// where one pair ahead gave 350 to 367 and 134 to 141 (`arbor bench --batch 8`, three
// alternating rounds). Against one pair ahead (BenchmarkStepProducts n=8 "forward", four to
// five alternating rounds, 2026-12-04): no look-ahead (the distance 0) ran about 30% slower on
// qwen2.5-0.5b, two pairs ahead 0 to 10% slower; PREFETCHT1 two pairs ahead on top, slower on
// both shapes; PREFETCHNTA instead, or the scales prefetched as well (each fourth block): within
// the noise on qwen2.5-0.5b, slower on llama-3.2-1b in most rounds (by 3 to 20%; measured
// finer later, see q8PairsScales). The distance in groups is the tunable pairs-prefetch-groups.
func q8PairsPrefetch(gstride int) int { return tune.pairsPrefetchGroups * gstride }

// q8PairsScales says the pairs kernel prefetches its groups' scales too (q8g8DPBUSD16S), as
// far ahead as their quants, for narrow matrices (groups of at most tune.narrowStride bytes),
// whose scales (a seventeenth of a group's bytes) are otherwise read on demand; the tunable
// pairs-scales (1) turns it off with 0. Measured on the 2-core Zen 5 (2026-12-04), eight
// sequences, `arbor bench --batch 8 --alternate pairs-scales=0` (and, the other way round,
// ARBOR_TUNE=pairs-scales=0 with --alternate pairs-scales=1), with every kernel on a 64-byte
// boundary: qwen2.5-0.5b (896 columns) 1.3 to 2.6% faster steps with it (two rounds each
// way), qwen3-0.6b (1,024) 0.4% (one each way, memory slow then). With the kernels 32 bytes
// off that boundary, as the build before placed them, 5.1 to 5.8% and 3.9 to 4.1%; with a test
// build's toggle, when it was first measured, 3.3 to 7.7% and 0.9 to 1.2%. On wide matrices
// the same prefetch made llama-3.2-1b's eight sequences 12 to 13% slower and qwen2.5-0.5b's
// down projection 0.6 to 2.2% (measured as a copy of the kernel placed elsewhere in the binary),
// so they keep q8g8DPBUSD16.
func q8PairsScales(gstride int) bool { return tune.pairsScales == 1 && gstride <= tune.narrowStride }

// tune.narrowStride (the tunable narrow-stride) is the widest group stride (bytes) of a
// narrow matrix, for the prefetch choices that differ between narrow and wide ones
// (q8PairsScales, q8OnePrefetch): 12 KiB, up to 45 blocks (1,440 columns) a row. The measured
// shapes lie on either side of it: 896 and 1,024 columns narrow, 2,048 and wider wide.

// q8VNNIOne says one token's products use q8g1x4VNNI where the CPU has VNNI (q8g1x4DPBUSD
// where it has VBMI too), rather than q8g1x4PF (the same outputs bit for bit): ARBOR_VNNI_ONE=0
// turns it off, to measure one against the other. Read once at start-up; tests may change it.
var q8VNNIOne = os.Getenv("ARBOR_VNNI_ONE") != "0"

// q8OnePrefetch is how far ahead (bytes) the one-token kernels (q8g1x4DPBUSD, q8g1x4VNNI,
// q8g1x4PF) prefetch each of their four weight streams, for groups gstride bytes apart: about
// a group ahead for narrow matrices (groups of at most 12 KiB, up to 1,440 columns; at least
// the tunable one-prefetch-narrow, 8 KiB), and 512 bytes (one-prefetch-wide), barely ahead of
// the loads, for wide ones, whose long runs within a group the hardware prefetchers follow.
// The 512-bit kernels' prefetch walks each stream's bytes without gaps (quants and scales
// alike), so that no group starts with lines that were never asked for.
//
// Measured on the 2-core Zen 5 (2026-12-04) with both settings alternating decode step by
// decode step in one `arbor bench` process (a temporary toggle, not kept; two runs of 64
// steps each, which keeps the machine's minute-to-minute bandwidth swings out of the
// comparison; the same setting on both sides came out within 0.6%), memory at 47 to 71 GB/s:
//   - narrow, about a group ahead against other distances: on qwen2.5-0.5b's 896 columns
//     (groups 7.6 KiB) 8 KiB ran 1 to 6% faster than 0.5, 1, 2, 4, 6, 10 and 16 KiB; on
//     qwen3-0.6b's 1,024 columns (8.5 KiB) a group ahead ran 2% faster than 512 bytes.
//   - wide: llama-3.2-1b's 2,048 and 8,192 columns and qwen2.5-0.5b's 4,864 ran faster the
//     smaller the distance, down to 0 to 1 KiB: against 16 KiB (the rule before, a group ahead
//     at 2,048 columns), 512 bytes made llama-3.2-1b's step 5.1 to 5.6% faster, qwen2.5-0.5b's
//     2.4 to 3.8% (its down projection alone) and qwen3-0.6b's (2,048 and 3,072 columns) 1.4 to
//     4.3%; 8 and 12 KiB were the slowest on llama-3.2-1b (3 to 4% behind 16). Without any
//     software prefetch llama-3.2-1b ran 3 to 6% slower than with the current block's own lines
//     asked for first (distance 0): issuing a block's twenty line reads before its arithmetic
//     keeps them in flight together.
//
// q8g1x4PF (ARBOR_VNNI_ONE=0) takes the same distances, unmeasured; other CPUs with AVX-512
// (Zen 4, Xeons) take the Zen 5's choice, unmeasured.
func q8OnePrefetch(gstride int) int {
	if gstride <= tune.narrowStride {
		return max(gstride, tune.onePrefetchNarrow)
	}
	return tune.onePrefetchWide
}

// q8Run1x4 is q8Group for one token over the 4*ng groups g0+k*q+i (k < 4, i < ng <= q): four
// runs of groups q apart, read side by side as four memory streams. Group g's results go to
// out[(g-g0)*8+r], or are added to them with add.
func q8Run1x4(qg *q8Groups, g0, q, ng int, xq []int16, xd []float32, out []float32, add bool) {
	nb := qg.nb
	_ = qg.quants(g0+3*q+ng-1, 0, nb)
	_ = xq[nb*model.Q8Block-1]
	_ = xd[nb-1]
	_ = out[(3*q+ng)*q8GroupRows-1]
	if hasAVX2 && nb > 0 && ng > 0 && ng <= q {
		w, s := qg.quants(g0, 0, nb), qg.scales(g0, 0, nb)
		a := asmBool(add)
		if hasVNNI {
			// On a Zen 5 the streams' software prefetch takes bandwidth that the hardware
			// prefetchers leave unused; on a Zen 3, 1 and 4 KiB ahead measured slower than none
			// (8 KiB was not tried there). Other CPUs with AVX-512 (Zen 4, Xeons) take the Zen
			// 5's choice, unmeasured.
			if q8VNNIOne && hasVBMI {
				q8g1x4DPBUSD(&w[0], &s[0], &xq[0], &xd[0], nb, q*qg.stride, &out[0], q*q8GroupRows*4, a, ng, qg.stride,
					q8OnePrefetch(qg.stride))
				return
			}
			if q8VNNIOne {
				q8g1x4VNNI(&w[0], &s[0], &xq[0], &xd[0], nb, q*qg.stride, &out[0], q*q8GroupRows*4, a, ng, qg.stride,
					q8OnePrefetch(qg.stride))
				return
			}
			q8g1x4PF(&w[0], &s[0], &xq[0], &xd[0], nb, q*qg.stride, &out[0], q*q8GroupRows*4, a, ng, qg.stride,
				q8OnePrefetch(qg.stride))
			return
		}
		q8g1x4AVX2(&w[0], &s[0], &xq[0], &xd[0], nb, q*qg.stride, &out[0], q*q8GroupRows*4, a, ng, qg.stride)
		return
	}
	for k := 0; k < 4; k++ {
		for i := 0; i < ng; i++ {
			g := g0 + k*q + i
			if hasNEON && nb > 0 {
				q8Group(qg.quants(g, 0, nb), qg.scales(g, 0, nb), xq, 0, xd, 0, nb, 1, out[(g-g0)*q8GroupRows:], 0, add)
				continue
			}
			q8GroupGeneric(qg.quants(g, 0, nb), qg.scales(g, 0, nb), xq, 0, xd, 0, nb, 1, out[(g-g0)*q8GroupRows:], 0, add)
		}
	}
}

// q8GroupGeneric is the portable q8Group, for any T: the same exact integer sum per block,
// scaled by weight scale x activation scale and added up in float32 per row.
func q8GroupGeneric(w, s []byte, q []int16, qs int, d []float32, ds int, nb, T int, out []float32, os int, add bool) {
	for t := 0; t < T; t++ {
		var acc [q8GroupRows]float32
		xq := q[t*qs:]
		for b := 0; b < nb; b++ {
			qd := (*[q8GroupQuant]byte)(w[b*q8GroupQuant:])
			x := (*[model.Q8Block]int16)(xq[b*model.Q8Block:])
			dx := d[t*ds+b]
			for r := 0; r < q8GroupRows; r++ {
				var sum int32
				for c := 0; c < q8GroupRows; c++ {
					lo, hi := c*q8QuadBytes+2*r, c*q8QuadBytes+16+2*r
					sum += int32(int8(qd[lo]))*int32(x[4*c]) + int32(int8(qd[lo+1]))*int32(x[4*c+1]) +
						int32(int8(qd[hi]))*int32(x[4*c+2]) + int32(int8(qd[hi+1]))*int32(x[4*c+3])
				}
				dw := f16Table[uint16(s[b*q8GroupScale+2*r])|uint16(s[b*q8GroupScale+2*r+1])<<8]
				acc[r] += float32(sum) * (dw * dx)
			}
		}
		dst := out[t*os : t*os+q8GroupRows]
		if add {
			for r, v := range acc {
				dst[r] += v
			}
		} else {
			copy(dst, acc[:])
		}
	}
}
