//go:build amd64 && !purego

package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/arborlabs/arbor/runtime/model"
)

// needVNNI skips a test where the AVX-512 VNNI kernels cannot run.
func needVNNI(t *testing.T) {
	t.Helper()
	if !hasAVX2 || !hasVNNI {
		t.Skip("no AVX-512 VNNI here (AVX-512F/BW/VL and VNNI in the CPU and the OS saving ZMM state), or ARBOR_NO_VNNI=1: the AVX2 kernels run instead")
	}
}

// needAVXVNNI skips a test where the AVX-VNNI kernel cannot run.
func needAVXVNNI(t *testing.T) {
	t.Helper()
	if !hasAVX2 || !hasAVXVNNI {
		t.Skip("no AVX-VNNI here (CPUID leaf 7 subleaf 1 EAX bit 4: Intel from Alder Lake on, Zen 5), or ARBOR_NO_AVXVNNI=1: the AVX2 kernels run instead")
	}
}

// withAVXVNNIOnly runs f with the kernels a CPU with AVX-VNNI and without AVX-512 runs.
func withAVXVNNIOnly(f func()) {
	saved := currentFlags()
	defer saved.set()
	hasVNNI, hasVBMI, hasAVXVNNI = false, false, true
	f()
}

// withVNNIBytes runs f with q8Run8's byte kernel (VPDPBUSD) on or off (VPDPWSSD).
func withVNNIBytes(on bool, f func()) {
	saved := q8VNNIBytes
	q8VNNIBytes = on
	defer func() { q8VNNIBytes = saved }()
	f()
}

// TestQ8VNNIExact checks the VNNI kernels' integer sums exactly: with every scale 1 the output
// is the sum of the block products, which float32 holds exactly (below 2^24 in total), so it
// must equal the integer dot product computed here in int64. Weights cover -128 (possible in a
// foreign file) and 127, activations ±127, in whole blocks and mixed with random values; T=4
// and 8 through q8Group, eight tokens over runs of groups through q8Run8 (its byte kernel and
// its int16 one), stored and added.
func TestQ8VNNIExact(t *testing.T) {
	needVNNI(t)
	testQ8Exact(t)
}

// TestQ8AVXVNNIExact is TestQ8VNNIExact for the kernels of a CPU with AVX-VNNI and without
// AVX-512: q8Run8's eight tokens through q8g8AVXVNNI (runs of at most q8PackBlocks blocks) or
// the AVX2 kernel (longer runs, or with the byte kernels off), four and eight tokens through
// q8Group's AVX2 kernels.
func TestQ8AVXVNNIExact(t *testing.T) {
	needAVXVNNI(t)
	withAVXVNNIOnly(func() { testQ8Exact(t) })
}

func testQ8Exact(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	one := model.F32ToF16(1)
	wpat := map[string]func(i int) int8{
		"random": func(int) int8 { return int8(r.IntN(256) - 128) },
		"-128":   func(int) int8 { return -128 },
		"127":    func(int) int8 { return 127 },
		"±":      func(i int) int8 { return [2]int8{-128, 127}[i%2] },
	}
	xpat := map[string]func(i int) int16{
		"random": func(int) int16 { return int16(r.IntN(255) - 127) },
		"127":    func(int) int16 { return 127 },
		"-127":   func(int) int16 { return -127 },
		"-128":   func(int) int16 { return -128 }, // not what quantize makes, but in the byte range
		"±":      func(i int) int16 { return [2]int16{-127, 127}[(i/3)%2] },
	}
	for _, nb := range []int{1, 2, 3, 7, 28} {
		for wn, wf := range wpat {
			for xn, xf := range xpat {
				const rows = 24 // three groups
				c := nb * model.Q8Block
				src := make([]byte, rows*nb*model.Q8BlockBytes)
				wq := make([]int8, rows*c)
				for row := 0; row < rows; row++ {
					for b := 0; b < nb; b++ {
						blk := src[(row*nb+b)*model.Q8BlockBytes:]
						blk[0], blk[1] = byte(one), byte(one>>8)
						for i := 0; i < model.Q8Block; i++ {
							v := wf(i)
							if row%5 == 1 && b%2 == 0 {
								v = int8(r.IntN(256) - 128) // mixed blocks
							}
							wq[row*c+b*model.Q8Block+i] = v
							blk[2+i] = byte(v)
						}
					}
				}
				qg := newQ8Groups(src, rows, c)
				qa := q8Acts{q: make([]int16, 8*c), d: make([]float32, 8*nb)}
				for i := range qa.q {
					qa.q[i] = xf(i)
				}
				for i := range qa.d {
					qa.d[i] = 1
				}
				want := func(tok, row int) float32 {
					var s int64
					for i := 0; i < c; i++ {
						s += int64(wq[row*c+i]) * int64(qa.q[tok*c+i])
					}
					return float32(s)
				}
				name := fmt.Sprintf("nb=%d w=%s x=%s", nb, wn, xn)
				for _, add := range []bool{false, true} {
					base := func(i int) float32 {
						if add {
							return float32(i%3 - 1)
						}
						return 0
					}
					for _, T := range []int{4, 8} {
						const os = 10
						out := make([]float32, 8*os)
						for g := 0; g < qg.groups; g++ {
							for i := range out {
								out[i] = base(i)
							}
							q8Group(qg.quants(g, 0, nb), qg.scales(g, 0, nb), qa.q, c, qa.d, nb, nb, T, out, os, add)
							for tok := 0; tok < T; tok++ {
								for ri := 0; ri < q8GroupRows; ri++ {
									if got, w := out[tok*os+ri], want(tok, g*q8GroupRows+ri)+base(tok*os+ri); got != w {
										t.Fatalf("%s T=%d add=%v group %d tok %d row %d: %v, want %v", name, T, add, g, tok, ri, got, w)
									}
								}
							}
						}
					}
					for _, bytes := range []bool{true, false} {
						const ros = rows + 5
						rout := make([]float32, 8*ros)
						for i := range rout {
							rout[i] = base(i)
						}
						withVNNIBytes(bytes, func() { q8Run8(qg, 0, qg.groups, 0, nb, qa.q, c, nil, qa.d, nb, rout, ros, add) })
						for tok := 0; tok < 8; tok++ {
							for row := 0; row < ros; row++ {
								w := base(tok*ros + row)
								if row < rows {
									w += want(tok, row)
								}
								if got := rout[tok*ros+row]; got != w {
									t.Fatalf("%s q8Run8 bytes=%v add=%v tok %d row %d: %v, want %v", name, bytes, add, tok, row, got, w)
								}
							}
						}
					}
				}
			}
		}
	}
}

// TestQ8VNNIMatchesAVX2 checks that the VNNI kernels give the AVX2 kernels' outputs bit for
// bit (same exact block sums, scaled the same way) with real scales, and match the portable
// kernel within rounding: over blocks around the unrolling and a partial last group.
func TestQ8VNNIMatchesAVX2(t *testing.T) {
	needVNNI(t)
	r := rand.New(rand.NewPCG(6, 6))
	for _, nb := range []int{1, 2, 9, 28, 152} {
		const rows = 21
		c := nb * model.Q8Block
		qg, _ := randQ8Groups(r, rows, nb)
		x := randVec(r, 8*c)
		x[0], x[1] = 1e3, -1e3
		var qa q8Acts
		qa.quantize(x, 8, c)
		for _, T := range []int{4, 8} {
			for _, add := range []bool{false, true} {
				for g := 0; g < qg.groups; g++ {
					run := func(vnni bool) []float32 {
						saved := hasVNNI
						hasVNNI = vnni
						defer func() { hasVNNI = saved }()
						out := make([]float32, 8*9)
						for i := range out {
							out[i] = float32(i%5) - 2
						}
						q8Group(qg.quants(g, 0, nb), qg.scales(g, 0, nb), qa.q, c, qa.d, nb, nb, T, out, 9, add)
						return out
					}
					v, a := run(true), run(false)
					gen := make([]float32, 8*9)
					for i := range gen {
						gen[i] = float32(i%5) - 2
					}
					q8GroupGeneric(qg.quants(g, 0, nb), qg.scales(g, 0, nb), qa.q, c, qa.d, nb, nb, T, gen, 9, add)
					for i := range v {
						if v[i] != a[i] {
							t.Fatalf("nb=%d T=%d add=%v group %d: out[%d] = %v with VNNI, %v with AVX2", nb, T, add, g, i, v[i], a[i])
						}
						checkClose(t, fmt.Sprintf("nb=%d T=%d add=%v group %d out[%d] vs portable", nb, T, add, g, i), v[i], float64(gen[i]), float64(100*nb+100))
					}
				}
			}
		}
	}
}

// TestQ8Run8VNNIMatchesAVX2 checks q8Run8's VNNI kernels (bytes, by pairs of groups and one at
// a time, and int16) against its AVX2 kernel bit for bit, over runs of groups (odd and even
// counts, so pairs and a last group alone) and chunks of blocks as the matrix product cuts them
// (up to q8PackBlocks for the byte kernel, past it for the int16 one), stored and added.
func TestQ8Run8VNNIMatchesAVX2(t *testing.T) {
	needVNNI(t)
	r := rand.New(rand.NewPCG(7, 7))
	const rows = 56
	// Wide groups and narrow ones, the narrow ones with the pairs kernel that prefetches their
	// scales (q8g8DPBUSD16S, the tunable pairs-scales) and without.
	saved := tune.pairsScales
	defer func() { tune.pairsScales = saved }()
	for _, c := range []struct{ nb, scales int }{{q8PackBlocks + 3, 1}, {28, 0}, {28, 1}} {
		tune.pairsScales = c.scales
		testQ8Run8Kernels(t, r, rows, c.nb, []q8Run8Kernel{{vnni: true, bytes: true, pairs: true},
			{vnni: true, bytes: true}, {vnni: true}})
	}
}

// TestQ8Run4VNNIMatchesAVX2: q8Run4 with AVX-512 VNNI (pairs of groups through q8g4DPBUSD16,
// or q8g4DPBUSD16S for narrow matrices, an odd last group through q8Group) gives the AVX2
// kernel's outputs bit for bit, over the same spans, runs and widths as q8Run8's test, and
// falls back to q8Group by group without packed bytes.
func TestQ8Run4VNNIMatchesAVX2(t *testing.T) {
	needVNNI(t)
	testQ8Run4(t, func() { hasAVXVNNI = false })
}

// TestQ8Run4AVXVNNIMatchesAVX2 is TestQ8Run4VNNIMatchesAVX2 on a CPU with AVX-VNNI and without
// AVX-512: all the groups through q8g4AVXVNNI.
func TestQ8Run4AVXVNNIMatchesAVX2(t *testing.T) {
	needAVXVNNI(t)
	testQ8Run4(t, func() { hasVNNI, hasVBMI, hasAVXVNNI = false, false, true })
}

// testQ8Run4 checks q8Run4 with the kernels that fast sets against the AVX2 kernels.
func testQ8Run4(t *testing.T, fast func()) {
	r := rand.New(rand.NewPCG(13, 13))
	const rows = 56
	saved := tune.pairsScales
	defer func() { tune.pairsScales = saved }()
	for _, c := range []struct{ nb, scales int }{{q8PackBlocks + 3, 1}, {28, 0}, {28, 1}} {
		tune.pairsScales = c.scales
		nb := c.nb
		cols := nb * model.Q8Block
		qg, _ := randQ8Groups(r, rows, nb)
		x := randVec(r, 4*cols)
		var qa q8Acts
		qa.quantize(x, 4, cols)
		for _, span := range [][2]int{{0, nb}, {0, min(nb, q8PackBlocks)}, {5, 6}, {3, min(nb, 40)}} {
			b0, b1 := span[0], span[1]
			k := b1 - b0
			q := qa.q[b0*model.Q8Block:]
			var u []byte
			savedF := currentFlags()
			fast()
			bytes := q8PackedBytes(k)
			savedF.set()
			if bytes {
				// The four tokens' quants for the span, packed as runQ8 packs a chunk.
				pq := make([]int16, 4*k*model.Q8Block)
				for j := 0; j < 4; j++ {
					copy(pq[j*k*model.Q8Block:(j+1)*k*model.Q8Block], q[j*cols:j*cols+k*model.Q8Block])
				}
				u = make([]byte, 4*k*model.Q8Block)
				q8PackU8n(u, pq, k*model.Q8Block, k, 4)
			}
			for _, ng := range []int{1, 2, 3, 6} {
				for _, add := range []bool{false, true} {
					run := func(fastKernels bool, u []byte) []float32 {
						savedF := currentFlags()
						defer savedF.set()
						if fastKernels {
							fast()
						} else {
							hasVNNI, hasVBMI, hasAVXVNNI = false, false, false
						}
						out := make([]float32, 4*(rows+1))
						for i := range out {
							out[i] = float32(i%5) - 2
						}
						q8Run4(qg, 1, ng, b0, b1, q, cols, u, qa.d[b0:], nb, out, rows+1, add)
						return out
					}
					want := run(false, nil)
					for _, uu := range [][]byte{u, nil} {
						got := run(true, uu)
						for i := range got {
							if got[i] != want[i] {
								t.Fatalf("nb %d blocks [%d, %d) groups %d add=%v packed=%v: out[%d] = %v, %v with AVX2",
									nb, b0, b1, ng, add, uu != nil, i, got[i], want[i])
							}
						}
					}
				}
			}
		}
	}
}

// TestQ8Run8AVXVNNIMatchesAVX2: q8Run8 on a CPU with AVX-VNNI and without AVX-512
// (q8g8AVXVNNI, its activations packed by q8PackU8AVX2) gives the AVX2 kernel's outputs bit for
// bit, over runs of blocks the byte kernel takes and longer ones, runs of one and of several
// groups, stored and added.
func TestQ8Run8AVXVNNIMatchesAVX2(t *testing.T) {
	needAVXVNNI(t)
	r := rand.New(rand.NewPCG(9, 9))
	for _, nb := range []int{q8PackBlocks + 3, 28, 7} {
		testQ8Run8Kernels(t, r, 56, nb, []q8Run8Kernel{{avxvnni: true, bytes: true}})
	}
}

// TestQ8PackU8AVX2: the AVX2 packer writes each quant q as the byte q+128, token by token,
// from tokens qstride apart, as q8PackU8VNNI does.
func TestQ8PackU8AVX2(t *testing.T) {
	if !hasAVX2 {
		t.Skip("no AVX2 here")
	}
	r := rand.New(rand.NewPCG(3, 3))
	for _, nb := range []int{1, 3, 28} {
		for _, ntok := range []int{1, 8} {
			c := nb * model.Q8Block
			qs := c + 2*model.Q8Block // a stride longer than a token
			q := make([]int16, ntok*qs)
			for i := range q {
				q[i] = int16(r.IntN(256) - 128)
			}
			q[0], q[1] = -128, 127
			got := make([]byte, ntok*c)
			q8PackU8AVX2(&got[0], &q[0], qs*2, nb, ntok)
			for tok := 0; tok < ntok; tok++ {
				for i := 0; i < c; i++ {
					if w := byte(q[tok*qs+i] + 128); got[tok*c+i] != w {
						t.Fatalf("nb %d ntok %d: token %d byte %d = %d, want %d", nb, ntok, tok, i, got[tok*c+i], w)
					}
				}
			}
		}
	}
}

// q8Run8Kernel is one choice of q8Run8's kernels (the zero value: AVX2).
type q8Run8Kernel struct{ vnni, avxvnni, bytes, pairs bool }

func testQ8Run8Kernels(t *testing.T, r *rand.Rand, rows, nb int, kernels []q8Run8Kernel) {
	type kernel = q8Run8Kernel
	c := nb * model.Q8Block
	qg, _ := randQ8Groups(r, rows, nb)
	if q8PairsScales(qg.stride) != (nb < 45 && tune.pairsScales == 1) {
		t.Fatalf("nb %d, pairs-scales %d: q8PairsScales(%d) = %v", nb, tune.pairsScales, qg.stride, q8PairsScales(qg.stride))
	}
	x := randVec(r, 8*c)
	var qa q8Acts
	qa.quantize(x, 8, c)
	for _, span := range [][2]int{{0, nb}, {0, min(nb, q8PackBlocks)}, {5, 6}, {3, min(nb, 40)}} {
		b0, b1 := span[0], span[1]
		for _, ng := range []int{1, 2, 3, 6} {
			for _, add := range []bool{false, true} {
				run := func(k kernel) []float32 {
					savedF, savedB, savedP := currentFlags(), q8VNNIBytes, q8VNNIPairs
					hasVNNI, hasAVXVNNI, q8VNNIBytes, q8VNNIPairs = k.vnni, k.avxvnni, k.bytes, k.pairs
					hasVBMI = hasVBMI && k.vnni
					defer func() { savedF.set(); q8VNNIBytes, q8VNNIPairs = savedB, savedP }()
					out := make([]float32, 8*(rows+1))
					for i := range out {
						out[i] = float32(i%5) - 2
					}
					q8Run8(qg, 1, ng, b0, b1, qa.q[b0*model.Q8Block:], c, nil, qa.d[b0:], nb, out, rows+1, add)
					return out
				}
				a := run(kernel{})
				for _, k := range kernels {
					v := run(k)
					for i := range v {
						if v[i] != a[i] {
							t.Fatalf("nb %d blocks [%d, %d) groups %d add=%v %+v: out[%d] = %v with VNNI, %v with AVX2", nb, b0, b1, ng, add, k, i, v[i], a[i])
						}
					}
				}
			}
		}
	}
}

// TestQ8Run1x4VNNIMatchesAVX2: the one-token products over four streams that a CPU with VNNI
// runs (q8g1x4DPBUSD where it has VBMI too, q8g1x4VNNI with ARBOR_NO_VBMI=1, and q8g1x4PF with
// ARBOR_VNNI_ONE=0: software prefetch, which changes what is cached, not what is computed) give
// the AVX2 kernel's results bit for bit, over block counts with and without a second block,
// runs of one and of several groups, stored and added, random activations and activations all
// at ±127 (with weights of -128, randQ8Row's first block: the extremes of q8g1x4DPBUSD's
// unsigned weights and of its correction).
func TestQ8Run1x4VNNIMatchesAVX2(t *testing.T) {
	needVNNI(t)
	r := rand.New(rand.NewPCG(8, 8))
	for _, nb := range []int{1, 2, 28, 152} {
		const rows = 8 * 13
		c := nb * model.Q8Block
		qg, _ := randQ8Groups(r, rows, nb)
		extreme := make([]float32, c)
		for i := range extreme {
			extreme[i] = float32(1 - 2*(i%3%2)) // +1, -1, +1, ...: every quant ±127
		}
		for _, x := range [][]float32{randVec(r, c), extreme} {
			var qa q8Acts
			qa.quantize(x, 1, c)
			for _, ng := range []int{1, 3} {
				for _, add := range []bool{false, true} {
					run := func(vnni, one, vbmi bool) []float32 {
						savedV, savedO, savedB := hasVNNI, q8VNNIOne, hasVBMI
						hasVNNI, q8VNNIOne, hasVBMI = vnni, one, vbmi
						defer func() { hasVNNI, q8VNNIOne, hasVBMI = savedV, savedO, savedB }()
						out := make([]float32, rows)
						for i := range out {
							out[i] = float32(i%5) - 2
						}
						q8Run1x4(qg, 0, 3, ng, qa.q, qa.d, out, add)
						return out
					}
					a := run(false, false, false)
					for _, k := range []struct {
						name            string
						vnni, one, vbmi bool
					}{{"q8g1x4PF", true, false, false}, {"q8g1x4VNNI", true, true, false}, {"q8g1x4DPBUSD", true, true, true}} {
						if k.vbmi && !hasVBMI {
							t.Logf("no AVX-512 VBMI here: q8g1x4DPBUSD not run")
							continue
						}
						v := run(k.vnni, k.one, k.vbmi)
						for i := range v {
							if v[i] != a[i] {
								t.Fatalf("%s nb=%d ng=%d add=%v: out[%d] = %v, AVX2 %v", k.name, nb, ng, add, i, v[i], a[i])
							}
						}
					}
				}
			}
		}
	}
}

// TestPVF16AVX512MatchesAVX2: pvRowsF16 with the 512-bit kernels (up to eight heads a call)
// gives the AVX2 kernel's outputs bit for bit, over head counts 1 to 9, head sizes with and
// without a tail past the 32-column chunks, and row counts across the tiles (attnTileRows: 32
// rows for up to four heads, 48 for up to eight, 64 for nine).
func TestPVF16AVX512MatchesAVX2(t *testing.T) {
	needVNNI(t)
	r := rand.New(rand.NewPCG(9, 4))
	for _, hd := range []int{32, 40, 64, 128} {
		for nh := 1; nh <= 9; nh++ {
			for _, n := range []int{1, 3, 31, 32, 33, 49, 65, 95, 96, 97, 200} {
				stride := hd + 24
				v := make([]uint16, (n+2)*stride)
				for i := range v {
					v[i] = model.F32ToF16(float32(r.NormFloat64()))
				}
				rows := make([]int32, n)
				for j := range rows {
					rows[j] = int32(((j*7)%(n+1))*stride + 8)
				}
				pstride := n + 3
				p := make([]float32, nh*pstride)
				for i := range p {
					p[i] = r.Float32()
				}
				run := func(vnni bool) []float32 {
					saved := hasVNNI
					hasVNNI = vnni
					defer func() { hasVNNI = saved }()
					out := make([]float32, nh*hd+5)
					for i := range out {
						out[i] = -3
					}
					pvRowsF16(p, pstride, nh, v, rows, hd, out[:nh*hd], false, nil)
					return out
				}
				want, got := run(false), run(true)
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("hd=%d nh=%d n=%d: out[%d] = %v, AVX2 kernel %v", hd, nh, n, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// TestScoresAVX512: the 512-bit score kernels, called directly (four heads, keys four at a
// time, a last block of fewer than four started at n-4), against float64 sums within
// rounding; the f16 kernel bit for bit the f32 one over the widened keys; nothing written past
// the n scores of each head; the kernels for one to three heads bit for bit the four-head
// one. Through scoreRows and scoreRowsF16 they also run in TestAttentionKernels and
// TestAttentionKernelsF16.
func TestScoresAVX512(t *testing.T) {
	needVNNI(t)
	r := rand.New(rand.NewPCG(3, 11))
	const scale = 0.125
	for _, hd := range []int{16, 48, 64, 128} {
		for _, n := range []int{4, 5, 6, 7, 8, 9, 97, 200} {
			stride := hd + 16
			k16 := make([]uint16, (n+2)*stride)
			k32 := make([]float32, len(k16))
			for i := range k16 {
				k16[i] = model.F32ToF16(float32(r.NormFloat64()))
				k32[i] = model.F16ToF32(k16[i])
			}
			rows := make([]int32, n)
			for j := range rows {
				rows[j] = int32(((j*5)%(n+1))*stride + 8)
			}
			q := randVec(r, 4*hd)
			for _, f16 := range []bool{false, true} {
				s := make([]float32, 4*(n+2))
				for i := range s {
					s[i] = -7
				}
				ss := func(h int) *float32 { return &s[h*(n+2)] }
				if f16 {
					scores4F16AVX512(&q[0], &q[hd], &q[2*hd], &q[3*hd], &k16[0], &rows[0], n, hd, ss(0), ss(1), ss(2), ss(3), scale)
				} else {
					scores4AVX512(&q[0], &q[hd], &q[2*hd], &q[3*hd], &k32[0], &rows[0], n, hd, ss(0), ss(1), ss(2), ss(3), scale)
				}
				for h := 0; h < 4; h++ {
					qh := q[h*hd : (h+1)*hd]
					for j := 0; j < n+2; j++ {
						got := s[h*(n+2)+j]
						what := fmt.Sprintf("f16=%v hd=%d n=%d [%d,%d]", f16, hd, n, h, j)
						if j >= n {
							if got != -7 {
								t.Fatalf("%s: written past the scores", what)
							}
							continue
						}
						kj := k32[rows[j] : int(rows[j])+hd]
						checkClose(t, what, got, scale*exactDot(qh, kj), scale*absDot(qh, kj))
					}
				}
				// The kernels for fewer heads: the four-head kernel's scores for their heads,
				// bit for bit, and nothing written for the others.
				for H := 1; H < 4; H++ {
					sh := make([]float32, len(s))
					for i := range sh {
						sh[i] = -7
					}
					hs := func(h int) *float32 { return &sh[h*(n+2)] }
					if f16 {
						scoresF16AVX512(H, &q[0], &q[hd], &q[2*hd], &q[3*hd], &k16[0], &rows[0], n, hd, hs(0), hs(1), hs(2), hs(3), scale)
					} else {
						scoresAVX512(H, &q[0], &q[hd], &q[2*hd], &q[3*hd], &k32[0], &rows[0], n, hd, hs(0), hs(1), hs(2), hs(3), scale)
					}
					for i := range sh {
						want := s[i]
						if i >= H*(n+2) {
							want = -7
						}
						if sh[i] != want {
							t.Fatalf("f16=%v hd=%d n=%d, %d heads: score[%d] = %v, want %v", f16, hd, n, H, i, sh[i], want)
						}
					}
				}
				if !f16 {
					continue
				}
				s32 := make([]float32, len(s))
				for i := range s32 {
					s32[i] = -7
				}
				ss32 := func(h int) *float32 { return &s32[h*(n+2)] }
				scores4AVX512(&q[0], &q[hd], &q[2*hd], &q[3*hd], &k32[0], &rows[0], n, hd, ss32(0), ss32(1), ss32(2), ss32(3), scale)
				for i := range s {
					if s[i] != s32[i] {
						t.Fatalf("hd=%d n=%d: f16 kernel score[%d] = %v, f32 kernel %v", hd, n, i, s[i], s32[i])
					}
				}
			}
		}
	}
}

// TestScores2F16AVX2: the two-head AVX2 score kernel gives the four-head kernel's scores for
// its two heads bit for bit (keys four at a time, a last block of fewer than four started at
// n-4), and writes nothing past the n scores of each head.
func TestScores2F16AVX2(t *testing.T) {
	if !hasAVX2 {
		t.Skip("this CPU has no AVX2")
	}
	r := rand.New(rand.NewPCG(5, 13))
	const scale = 0.125
	for _, hd := range []int{8, 48, 64, 128} {
		for _, n := range []int{4, 5, 6, 7, 9, 33, 200} {
			stride := hd + 8
			k := make([]uint16, (n+2)*stride)
			for i := range k {
				k[i] = model.F32ToF16(float32(r.NormFloat64()))
			}
			rows := make([]int32, n)
			for j := range rows {
				rows[j] = int32(((j*5)%(n+1))*stride + 4)
			}
			q := randVec(r, 2*hd)
			want := make([]float32, 4*(n+2))
			got := make([]float32, 2*(n+2))
			for i := range got {
				got[i] = -7
			}
			ws := func(h int) *float32 { return &want[h*(n+2)] }
			scores4F16AVX2(&q[0], &q[hd], &q[hd], &q[hd], &k[0], &rows[0], n, hd, ws(0), ws(1), ws(2), ws(3), scale)
			scores2F16AVX2(&q[0], &q[hd], &k[0], &rows[0], n, hd, &got[0], &got[n+2], scale)
			for h := 0; h < 2; h++ {
				for j := 0; j < n+2; j++ {
					g := got[h*(n+2)+j]
					if j >= n {
						if g != -7 {
							t.Fatalf("hd=%d n=%d: head %d written past its scores", hd, n, h)
						}
						continue
					}
					if w := want[h*(n+2)+j]; g != w {
						t.Fatalf("hd=%d n=%d [%d,%d]: %v, four-head kernel %v", hd, n, h, j, g, w)
					}
				}
			}
		}
	}
}

// TestExpSubAVX512MatchesAVX2: softmax's 512-bit exponentials and their sum are the AVX2
// kernel's bit for bit, for lengths that end on a whole sixteen and on a half, over inputs
// that reach the clamps at both ends.
func TestExpSubAVX512MatchesAVX2(t *testing.T) {
	needVNNI(t)
	r := rand.New(rand.NewPCG(4, 9))
	for _, n := range []int{8, 16, 24, 40, 64, 200, 1032} {
		for _, spread := range []float64{3, 60} {
			// Scores as softmax sees them (the sum's rounding then depends on its order),
			// and a wide spread with values past both clamps.
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(r.NormFloat64() * spread)
			}
			m := float32(2)
			if spread > 3 {
				x[0], x[n-1] = -200, 150
			}
			a, b := append([]float32(nil), x...), append([]float32(nil), x...)
			sa := expSubAVX2(&a[0], n, m)
			sb := expSubAVX512(&b[0], n, m)
			if sa != sb {
				t.Fatalf("n=%d spread=%v: sum %v, AVX2 %v", n, spread, sb, sa)
			}
			for i := range a {
				if a[i] != b[i] {
					t.Fatalf("n=%d spread=%v: exp[%d] = %v, AVX2 %v", n, spread, i, b[i], a[i])
				}
			}
		}
	}
}
