package cpu

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/arborlabs/arbor/runtime/model"
)

// The fast kernels (AVX2 assembly where the CPU has it) against the plain Go ones, on lengths
// that exercise every unrolled loop and tail. Sums are compared with a bound relative to the
// sum of |terms|, since the two add in different orders (and the assembly fuses multiply-adds).

var testLengths = []int{1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 40, 63, 64, 65, 100, 896, 901}

func randVec(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

func absDot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += math.Abs(float64(a[i]) * float64(b[i]))
	}
	return s
}

func exactDot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func checkClose(t *testing.T, what string, got float32, want, scale float64) {
	t.Helper()
	if d := math.Abs(float64(got) - want); d > 1e-5*scale+1e-6 || math.IsNaN(d) {
		t.Errorf("%s: got %v, want %v (|diff| %.3g, scale %.3g)", what, got, want, d, scale)
	}
}

// needFast skips a test of fast-versus-plain agreement where there is no fast path (the test
// would compare the plain kernel with itself).
func needFast(t *testing.T) {
	if !hasAVX2 && !hasNEON {
		t.Skip("no AVX2/FMA/F16C or NEON here (or built with purego): only the portable kernels exist")
	}
}

// portable runs f with the assembly kernels switched off.
func portable(f func()) {
	savedAVX2, savedNEON := hasAVX2, hasNEON
	hasAVX2, hasNEON = false, false
	defer func() { hasAVX2, hasNEON = savedAVX2, savedNEON }()
	f()
}

func TestDotKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, n := range testLengths {
		a, b := randVec(r, n), randVec(r, n)
		// Offset views, so that unaligned loads are covered.
		a1, b1 := randVec(r, n+1)[1:], randVec(r, n+3)[3:]
		copy(a1, a)
		copy(b1, b)
		want, scale := exactDot(a, b), absDot(a, b)
		checkClose(t, fmt.Sprintf("dot n=%d", n), dot(a1, b1), want, scale)
		checkClose(t, fmt.Sprintf("dotGeneric n=%d", n), dotGeneric(a, b), want, scale)

		h := make([]uint16, n)
		bf := make([]uint16, n)
		wf := make([]float32, n)
		wb := make([]float32, n)
		for i, v := range a {
			h[i] = model.F32ToF16(v)
			wf[i] = model.F16ToF32(h[i])
			bf[i] = uint16(math.Float32bits(v) >> 16)
			wb[i] = math.Float32frombits(uint32(bf[i]) << 16)
		}
		checkClose(t, fmt.Sprintf("dotF16 n=%d", n), dotF16(h, b), exactDot(wf, b), absDot(wf, b))
		checkClose(t, fmt.Sprintf("dotF16Generic n=%d", n), dotF16Generic(h, b), exactDot(wf, b), absDot(wf, b))
		checkClose(t, fmt.Sprintf("dotBF16 n=%d", n), dotBF16(bf, b), exactDot(wb, b), absDot(wb, b))
		checkClose(t, fmt.Sprintf("dotBF16Generic n=%d", n), dotBF16Generic(bf, b), exactDot(wb, b), absDot(wb, b))

		// Conversions are exact.
		got := make([]float32, n+1)
		cvtF16(got[:n], h)
		for i := range wf {
			if got[i] != wf[i] {
				t.Fatalf("cvtF16 n=%d [%d]: %v, want %v", n, i, got[i], wf[i])
			}
		}
		cvtBF16(got[:n], bf)
		for i := range wb {
			if got[i] != wb[i] {
				t.Fatalf("cvtBF16 n=%d [%d]: %v, want %v", n, i, got[i], wb[i])
			}
		}
		if got[n] != 0 {
			t.Fatalf("conversion of %d values wrote past the end", n)
		}

		// axpy: y += a*x, and nothing beyond len(x).
		y := randVec(r, n+1)
		y2 := append([]float32(nil), y...)
		axpy(0.75, a, y[:n])
		axpyGeneric(0.75, a, y2[:n])
		for i := range y {
			if d := math.Abs(float64(y[i] - y2[i])); d > 1e-6*(1+math.Abs(float64(y2[i]))) {
				t.Fatalf("axpy n=%d [%d]: %v, want %v", n, i, y[i], y2[i])
			}
		}
	}
}

// TestDot4Kernels checks the four-row kernels of the one-token product, fast and portable,
// on every test length, with rows spaced apart as runVec spaces them, against exact sums and
// bit for bit against the single-row kernels.
func TestDot4Kernels(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	for _, n := range testLengths {
		stride := n + 3 // a gap between rows that no kernel may read as a row's
		w := randVec(r, 3*stride+n)
		x := randVec(r, n+1)[1:] // an unaligned view
		h := make([]uint16, len(w))
		bf := make([]uint16, len(w))
		wf := make([]float32, len(w))
		wb := make([]float32, len(w))
		for i, v := range w {
			h[i] = model.F32ToF16(v)
			wf[i] = model.F16ToF32(h[i])
			bf[i] = uint16(math.Float32bits(v) >> 16)
			wb[i] = math.Float32frombits(uint32(bf[i]) << 16)
		}
		// Each row's sum is close to the exact one and bit for bit the single-row kernel's (so
		// that a product does not depend on how its rows were grouped).
		check := func(kind string, got [4]float32, rows []float32, single func(i int) float32) {
			t.Helper()
			for i := range got {
				row := rows[i*stride : i*stride+n]
				checkClose(t, fmt.Sprintf("%s n=%d row %d", kind, n, i), got[i], exactDot(row, x), absDot(row, x))
				if one := single(i); math.Float32bits(one) != math.Float32bits(got[i]) {
					t.Errorf("%s n=%d row %d: %v, alone %v", kind, n, i, got[i], one)
				}
			}
		}
		run := func(suffix string) {
			var o [4]float32
			dot4F32(w, stride, x, &o)
			check("dot4F32"+suffix, o, w, func(i int) float32 { return dot(w[i*stride:i*stride+n], x) })
			dot4F16(h, stride, x, &o)
			check("dot4F16"+suffix, o, wf, func(i int) float32 { return dotF16(h[i*stride:i*stride+n], x) })
			dot4BF16(bf, stride, x, &o)
			check("dot4BF16"+suffix, o, wb, func(i int) float32 { return dotBF16(bf[i*stride:i*stride+n], x) })
		}
		run("")
		portable(func() { run(" (portable)") })
	}
}

func TestF16ConversionSpecials(t *testing.T) {
	// Every f16 bit pattern: the hardware conversion must equal the table (subnormals, ±Inf,
	// NaN payloads included).
	src := make([]uint16, 1<<16)
	for i := range src {
		src[i] = uint16(i)
	}
	got := make([]float32, len(src))
	cvtF16(got, src)
	for i, v := range got {
		w := f16Table[i]
		if math.Float32bits(v) != math.Float32bits(w) && !(math.IsNaN(float64(v)) && math.IsNaN(float64(w))) {
			t.Fatalf("f16 %#04x: %v (%#08x), table says %v (%#08x)", i, v, math.Float32bits(v), w, math.Float32bits(w))
		}
	}
}

// randQ8Groups makes a matrix of rows random q8_0 rows of nb blocks (randQ8Row) in the kernels'
// group layout, and returns its source rows too.
func randQ8Groups(r *rand.Rand, rows, nb int) (*q8Groups, []byte) {
	src := make([]byte, 0, rows*nb*model.Q8BlockBytes)
	for i := 0; i < rows; i++ {
		src = append(src, randQ8Row(r, nb)...)
	}
	return newQ8Groups(src, rows, nb*model.Q8Block), src
}

// randQ8Row makes nb random q8_0 blocks the way a quantized weight row looks.
func randQ8Row(r *rand.Rand, nb int) []byte {
	row := make([]byte, nb*model.Q8BlockBytes)
	for b := 0; b < nb; b++ {
		blk := row[b*model.Q8BlockBytes:]
		d := model.F32ToF16(float32(r.Float64()*0.02 + 1e-4))
		blk[0], blk[1] = byte(d), byte(d>>8)
		for i := 0; i < model.Q8Block; i++ {
			blk[2+i] = byte(int8(r.IntN(255) - 127))
		}
	}
	// Extreme values: -128 in a weight (possible in a foreign file) and ±127 activations must
	// not saturate the 16-bit pair sums.
	if nb > 0 {
		for i := 0; i < model.Q8Block; i++ {
			row[2+i] = 0x80
		}
	}
	return row
}

func q8Exact(row []byte, q []int16, d []float32) (sum, scale float64) {
	for b := range d {
		blk := row[b*model.Q8BlockBytes:]
		wd := float64(f16Table[uint16(blk[0])|uint16(blk[1])<<8]) * float64(d[b])
		var s, sa int64
		for i := 0; i < model.Q8Block; i++ {
			p := int64(int8(blk[2+i])) * int64(q[b*model.Q8Block+i])
			s += p
			if p < 0 {
				p = -p
			}
			sa += p
		}
		sum += float64(s) * wd
		scale += float64(sa) * math.Abs(wd)
	}
	return
}

// TestQ8Kernels checks the row-group kernels (the AVX2 ones for 1, 4 and 8 tokens, and the
// portable one for any count) against exact sums over the file's row layout, for row counts
// that leave the last group partial and block counts around the unrolling.
func TestQ8Kernels(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	for _, nb := range []int{1, 2, 3, 7, 8, 9, 28, 29, 152} {
		for _, rows := range []int{8, 5, 19, 77} {
			c := nb * model.Q8Block
			qg, src := randQ8Groups(r, rows, nb)
			x := randVec(r, 8*c)
			x[0], x[1] = 1e3, -1e3 // a ±127 pair in the first block
			var qa q8Acts
			qa.quantize(x, 8, c)
			// Outputs at a stride of 11 floats (as rows of a wider output), stored or added to
			// what is there.
			const os = 11
			out := make([]float32, 8*os)
			for _, T := range []int{1, 2, 3, 4, 8} {
				for g := 0; g < qg.groups; g++ {
					w, sc := qg.quants(g, 0, nb), qg.scales(g, 0, nb)
					for _, add := range []bool{false, true} {
						kernels := map[string]func(){
							"generic": func() { q8GroupGeneric(w, sc, qa.q, c, qa.d, nb, nb, T, out, os, add) },
						}
						if T == 1 || T == 4 || T == 8 {
							kernels["fast"] = func() { q8Group(w, sc, qa.q, c, qa.d, nb, nb, T, out, os, add) }
						}
						for name, run := range kernels {
							for i := range out {
								out[i] = float32(i%5) - 2
							}
							run()
							for tok := 0; tok < T; tok++ {
								for ri := 0; ri < q8GroupRows && g*q8GroupRows+ri < rows; ri++ {
									row := g*q8GroupRows + ri
									want, scale := q8Exact(src[row*nb*model.Q8BlockBytes:(row+1)*nb*model.Q8BlockBytes], qa.q[tok*c:(tok+1)*c], qa.d[tok*nb:(tok+1)*nb])
									if add {
										want += float64((tok*os+ri)%5 - 2)
									}
									checkClose(t, fmt.Sprintf("%s nb=%d rows=%d T=%d add=%v tok=%d row=%d", name, nb, rows, T, add, tok, row), out[tok*os+ri], want, scale+2)
								}
								// The stride's gap is left alone.
								for i := tok*os + q8GroupRows; i < (tok+1)*os; i++ {
									if out[i] != float32(i%5)-2 {
										t.Fatalf("%s T=%d add=%v: wrote out[%d] outside the group's rows", name, T, add, i)
									}
								}
							}
						}
					}
				}
			}
			// A run of whole groups for eight tokens in one call (AVX2, and portable).
			if full := rows / q8GroupRows; full > 0 {
				ros := full*q8GroupRows + 3
				rout := make([]float32, 8*ros)
				for _, fast := range []bool{true, false} {
					for _, add := range []bool{false, true} {
						for i := range rout {
							rout[i] = float32(i%7) - 3
						}
						run := func() { q8Run8(qg, 0, full, 0, nb, qa.q, c, nil, qa.d, nb, rout, ros, add) }
						if fast {
							run()
						} else {
							portable(run)
						}
						for tok := 0; tok < 8; tok++ {
							for row := 0; row < full*q8GroupRows; row++ {
								want, scale := q8Exact(src[row*nb*model.Q8BlockBytes:(row+1)*nb*model.Q8BlockBytes], qa.q[tok*c:(tok+1)*c], qa.d[tok*nb:(tok+1)*nb])
								if add {
									want += float64((tok*ros+row)%7 - 3)
								}
								checkClose(t, fmt.Sprintf("q8Run8 fast=%v nb=%d rows=%d add=%v tok=%d row=%d", fast, nb, rows, add, tok, row), rout[tok*ros+row], want, scale+3)
							}
							for i := tok*ros + full*q8GroupRows; i < (tok+1)*ros; i++ {
								if rout[i] != float32(i%7)-3 {
									t.Fatalf("q8Run8 fast=%v: wrote out[%d] past the run's rows", fast, i)
								}
							}
						}
					}
				}
			}
			// One token over four runs of groups q apart, read side by side (AVX2, and
			// portable): whole runs (ng = q) and runs with gaps between them (ng < q), which
			// must be left alone, as must the floats past the last run.
			if full := rows / q8GroupRows; full >= 4 {
				for _, qn := range [][2]int{{full / 4, full / 4}, {full / 4, 1}} {
					q, ng := qn[0], qn[1]
					g0 := full - (3*q + ng)
					rout := make([]float32, (3*q+ng)*q8GroupRows+3)
					for _, fast := range []bool{true, false} {
						for _, add := range []bool{false, true} {
							for i := range rout {
								rout[i] = float32(i%7) - 3
							}
							run := func() { q8Run1x4(qg, g0, q, ng, qa.q[:c], qa.d[:nb], rout, add) }
							if fast {
								run()
							} else {
								portable(run)
							}
							written := map[int]bool{}
							for k := 0; k < 4; k++ {
								for i := 0; i < ng; i++ {
									for ri := 0; ri < q8GroupRows; ri++ {
										row := (g0+k*q+i)*q8GroupRows + ri
										at := row - g0*q8GroupRows
										written[at] = true
										want, scale := q8Exact(src[row*nb*model.Q8BlockBytes:(row+1)*nb*model.Q8BlockBytes], qa.q[:c], qa.d[:nb])
										if add {
											want += float64(at%7 - 3)
										}
										checkClose(t, fmt.Sprintf("q8Run1x4 fast=%v nb=%d q=%d ng=%d add=%v row=%d", fast, nb, q, ng, add, row), rout[at], want, scale+3)
									}
								}
							}
							for i := range rout {
								if !written[i] && rout[i] != float32(i%7)-3 {
									t.Fatalf("q8Run1x4 fast=%v q=%d ng=%d: wrote out[%d] outside the runs' groups", fast, q, ng, i)
								}
							}
						}
					}
				}
			}
			// The reordering keeps every value: each row dequantizes as the file's row does.
			got, want := make([]float32, c), make([]float32, c)
			for row := 0; row < rows; row++ {
				qg.rowF32(row, got)
				model.DequantizeQ8_0(want, src[row*nb*model.Q8BlockBytes:(row+1)*nb*model.Q8BlockBytes])
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("rowF32 nb=%d rows=%d row %d col %d: %v, want %v", nb, rows, row, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// TestQuantizeLikeGGML pins the activation quantization to ggml's x86 one: scale 127/max|x|,
// ties rounded to even, d = max/127 as f16.
func TestQuantizeLikeGGML(t *testing.T) {
	x := make([]float32, 32)
	x[0] = 127 // max 127: the multiplier is exactly 1
	x[1], x[2], x[3], x[4] = 2.5, 3.5, -2.5, -0.5
	x[5], x[6] = 1.4999999, -126.5
	var qa q8Acts
	qa.quantize(x, 1, 32)
	want := map[int]int16{0: 127, 1: 2, 2: 4, 3: -2, 4: 0, 5: 1, 6: -126}
	for i, w := range want {
		if qa.q[i] != w {
			t.Errorf("x=%v: q=%d, want %d", x[i], qa.q[i], w)
		}
	}
	if qa.d[0] != 1 {
		t.Errorf("d=%v, want 1", qa.d[0])
	}
	// An all-zero block quantizes to zeros with d=0 (no division by zero).
	qa.quantize(make([]float32, 32), 1, 32)
	if qa.d[0] != 0 || qa.q[5] != 0 {
		t.Errorf("zero block: d=%v q=%v", qa.d[0], qa.q[:4])
	}
}

func TestGemm3x4(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, n := range testLengths {
		ldw, ldx := n+5, n+3
		w := randVec(r, 3*ldw)
		x := randVec(r, 4*ldx)
		var got, plain [12]float32
		gemm3x4(w, ldw, x, ldx, n, &got)
		portable(func() { gemm3x4(w, ldw, x, ldx, n, &plain) })
		for i := 0; i < 3; i++ {
			for j := 0; j < 4; j++ {
				wr, xt := w[i*ldw:i*ldw+n], x[j*ldx:j*ldx+n]
				want, scale := exactDot(wr, xt), absDot(wr, xt)
				checkClose(t, fmt.Sprintf("gemm3x4 n=%d [%d,%d]", n, i, j), got[i*4+j], want, scale)
				checkClose(t, fmt.Sprintf("gemm3x4 portable n=%d [%d,%d]", n, i, j), plain[i*4+j], want, scale)
			}
		}
	}
}

// TestMatmulTaskPaths runs every path of matmulTask (one token, token tiles with 3x4 blocks
// and their row and token remainders, bias, accumulation) with the fast kernels and with the
// portable ones, against float64 sums over the dequantized weights.
func TestMatmulTaskPaths(t *testing.T) {
	saved := tune.streamRows
	defer func() { tune.streamRows = saved }()
	// The default streams, and streams of eight rows (one q8_0 group): the one-token product's
	// ranges then take several blocks of quarters.
	for _, tune.streamRows = range []int{saved, 8} {
		testMatmulTaskPaths(t)
	}
}

func testMatmulTaskPaths(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	for _, dt := range testDTypes {
		// 8192 columns make the token tiles small (8 tokens of f32, 32 of int8), so 37 tokens
		// cross tile boundaries, and cut float rows into chunks; 8256 cut q8_0 rows too (into
		// 8192 and 64); 64 columns keep one tile. Row counts that are not multiples of eight
		// leave q8_0's last row group partial; 43 rows give the one-token product quarters of
		// five rows and leftovers in both workers' ranges, 150 rows blocks of whole q8_0
		// groups read as four streams, and groups left over.
		for _, sz := range [][2]int{{7, 64}, {5, 8192}, {3, 8256}, {19, 96}, {43, 64}, {150, 64}} {
			rows, cols := sz[0], sz[1]
			m := benchMatrixT(t, dt, rows, cols, r)
			wf := make([]float32, rows*cols)
			for i := 0; i < rows; i++ {
				m.rowF32(i, wf[i*cols:(i+1)*cols])
			}
			bias := randVec(r, rows)
			for _, n := range []int{1, 2, 3, 4, 5, 9, 37} {
				x := randVec(r, n*cols)
				var qa q8Acts
				qa.quantize(x, n, cols)
				xq := x
				if dt == model.Q8_0 {
					// Compare against the quantized activations: the quantization is the
					// same on both paths and pinned by its own test.
					xq = make([]float32, n*cols)
					for i := range xq {
						xq[i] = float32(qa.q[i]) * qa.d[i/model.Q8Block]
					}
				}
				for _, fast := range []bool{true, false} {
					for _, accum := range []bool{false, true} {
						out := randVec(r, n*rows)
						orig := append([]float32(nil), out...)
						task := &matmulTask{m: m, x: x, q: &qa, n: n, out: out, outStride: rows, accum: accum, bias: bias,
							scratch: newScratch(1)}
						// Two workers' ranges, split inside a row group (as the pool's may be).
						split := rows/2 + 1
						run := func() { task.run(0, split, 0); task.run(split, rows, 0) }
						if fast {
							run()
						} else {
							portable(run)
						}
						for tok := 0; tok < n; tok++ {
							for i := 0; i < rows; i++ {
								wr, xt := wf[i*cols:(i+1)*cols], xq[tok*cols:(tok+1)*cols]
								want := exactDot(wr, xt) + float64(bias[i])
								if accum {
									want += float64(orig[tok*rows+i])
								}
								checkClose(t, fmt.Sprintf("%s %dx%d n=%d fast=%v accum=%v [%d,%d]", dt, rows, cols, n, fast, accum, tok, i),
									out[tok*rows+i], want, absDot(wr, xt)+math.Abs(want))
							}
						}
					}
				}
			}
		}
	}
}

// TestForwardPortable checks the whole forward pass with the assembly switched off, so that the
// portable build (other architectures, -tags purego) stays correct on machines that have AVX2.
func TestForwardPortable(t *testing.T) {
	needFast(t)
	portable(func() { TestForwardMatchesReference(t) })
}

func benchMatrixT(t testing.TB, dt model.DType, rows, cols int, r *rand.Rand) *matrix {
	v := randVec(r, rows*cols)
	tt, err := model.NewTensor("w", model.F32, []int{rows, cols}, v)
	if err != nil {
		t.Fatal(err)
	}
	if tt, err = tt.Convert(dt); err != nil {
		t.Fatal(err)
	}
	m, err := newMatrix(tt, rows, cols)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestExpKernels checks the vector exp inside softmax and SwiGLU against float64 math over
// the range they see, including large magnitudes where it must saturate cleanly.
func TestExpKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, n := range testLengths {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(r.NormFloat64() * 20)
		}
		if n > 3 {
			s[1], s[2] = -1e4, 1e4 // far below the max: probability 0
			if n%8 != 0 {
				s[2], s[n-1] = s[n-1], s[2] // the max in the tail the vector max does not see
			}
		}
		orig := append([]float32(nil), s...)
		softmaxInPlace(s)
		m := math.Inf(-1)
		for _, v := range orig {
			m = math.Max(m, float64(v))
		}
		var sum float64
		for _, v := range orig {
			sum += math.Exp(float64(v) - m)
		}
		for i, v := range orig {
			want := math.Exp(float64(v)-m) / sum
			if d := math.Abs(float64(s[i]) - want); d > 2e-6*want+1e-30 || math.IsNaN(float64(s[i])) {
				t.Fatalf("softmax n=%d [%d] of %v: %v, want %v", n, i, v, s[i], want)
			}
		}

		g := make([]float32, n)
		u := make([]float32, n)
		for i := range g {
			g[i] = float32(r.NormFloat64() * 8)
			u[i] = float32(r.NormFloat64())
		}
		if n > 3 {
			g[0], g[1] = 200, -200
		}
		g0 := append([]float32(nil), g...)
		swiglu(g, u)
		for i, gv := range g0 {
			x := float64(gv)
			want := x / (1 + math.Exp(-x)) * float64(u[i])
			if d := math.Abs(float64(g[i]) - want); d > 1e-6*math.Abs(want)+1e-30 || math.IsNaN(float64(g[i])) {
				t.Fatalf("swiglu n=%d [%d] g=%v u=%v: %v, want %v", n, i, gv, u[i], g[i], want)
			}
		}
	}
}

// TestAttentionKernels checks scoreRows and pvRows, fast and portable, against float64 sums:
// head counts around the kernels' blocks (four heads for scores, two for outputs, with
// overlapping or repeated heads), key counts around the three-key block and the tiles (32 rows
// for up to four heads, 48 for up to eight, 96 for NEON: 33, 97 and 98 leave a last tile of one
// or two keys), head sizes with and without a 32-wide
// tail, rows gathered out of order from a larger cache. Slots between the rows asked for and
// the output padding must be left alone.
func TestAttentionKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	const scale = 0.125
	for _, hd := range []int{16, 40, 64, 128} {
		for _, nh := range []int{1, 2, 3, 4, 5, 7, 8} {
			for _, nk := range []int{1, 2, 3, 4, 5, 7, 16, 33, 97, 98, 200} {
				// The cache: 2*nk+1 rows of 3*hd+8 floats; the item's rows are every other one,
				// in reverse order, at an offset inside the row.
				kstride := hd*3 + 8
				k := randVec(r, (2*nk+1)*kstride)
				v := randVec(r, len(k))
				rows := make([]int32, nk)
				for j := range rows {
					rows[j] = int32((2*(nk-1-j)+1)*kstride + 5)
				}
				q := randVec(r, nh*hd)
				sstride := nk + 2
				p := randVec(r, nh*sstride)
				for _, fast := range []bool{true, false} {
					if fast && !hasAVX2 && !hasNEON {
						continue
					}
					s := make([]float32, nh*sstride)
					out := make([]float32, nh*hd+3)
					for i := range s {
						s[i] = -7
					}
					for i := range out {
						out[i] = -7
					}
					run := func() {
						scoreRows(q, hd, nh, k, rows, s, sstride, scale)
						pvRows(p, sstride, nh, v, rows, hd, out[:nh*hd])
					}
					if fast {
						run()
					} else {
						portable(run)
					}
					what := fmt.Sprintf("fast=%v hd=%d nh=%d nk=%d", fast, hd, nh, nk)
					for h := 0; h < nh; h++ {
						qh := q[h*hd : (h+1)*hd]
						for j := 0; j < sstride; j++ {
							if j >= nk {
								if s[h*sstride+j] != -7 {
									t.Fatalf("scoreRows %s: wrote s[%d] past head %d's scores", what, h*sstride+j, h)
								}
								continue
							}
							kj := k[rows[j] : int(rows[j])+hd]
							checkClose(t, fmt.Sprintf("scoreRows %s [%d,%d]", what, h, j), s[h*sstride+j], scale*exactDot(qh, kj), scale*absDot(qh, kj))
						}
						for d := 0; d < hd; d++ {
							var want, mag float64
							for j := 0; j < nk; j++ {
								x := float64(p[h*sstride+j]) * float64(v[int(rows[j])+d])
								want += x
								mag += math.Abs(x)
							}
							checkClose(t, fmt.Sprintf("pvRows %s [%d,%d]", what, h, d), out[h*hd+d], want, mag)
						}
					}
					for i := nh * hd; i < len(out); i++ {
						if out[i] != -7 {
							t.Fatalf("pvRows %s: wrote out[%d] past the heads", what, i)
						}
					}
				}
			}
		}
	}
}

// TestQuantizeKernel: the assembly quantization must equal the portable one bit for bit
// (same multiplier, same rounding, same f16 scale), on ordinary data, zero blocks, ties,
// subnormal scales and huge values.
func TestQuantizeKernel(t *testing.T) {
	needFast(t)
	r := rand.New(rand.NewPCG(8, 8))
	const cols = 32 * 9
	x := make([]float32, 3*cols)
	for i := range x {
		x[i] = float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(9)-4)))
	}
	clear(x[32:64]) // a zero block
	x[64] = 127     // multiplier exactly 1: the next values are ties
	for i := 65; i < 96; i++ {
		x[i] = float32(i-80) + 0.5
	}
	for i := 96; i < 128; i++ {
		x[i] = float32(i-100) * 1e-9 // d underflows to an f16 subnormal
	}
	x[128], x[129] = 3e38, -3e38
	var fast, plain q8Acts
	fast.quantize(x, 3, cols)
	plain.q = make([]int16, len(x))
	plain.d = make([]float32, len(x)/32)
	quantizeQ8Generic(x, plain.q, plain.d)
	for i := range plain.q {
		if fast.q[i] != plain.q[i] {
			t.Fatalf("q[%d] (x=%v, d=%v): %d, want %d", i, x[i], plain.d[i/32], fast.q[i], plain.q[i])
		}
	}
	for i := range plain.d {
		if math.Float32bits(fast.d[i]) != math.Float32bits(plain.d[i]) {
			t.Fatalf("d[%d]: %v, want %v", i, fast.d[i], plain.d[i])
		}
	}
}

// TestAttentionKernelsF16 checks the f16-cache attention kernels: against float64 sums over
// the rounded keys and values, fast and portable, on the shapes of TestAttentionKernels; and,
// where the fast kernels run whole blocks (hd a multiple of 32), bit for bit against the
// float32 kernels over the same rounded values, since widening an f16 is exact.
func TestAttentionKernelsF16(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 7))
	const scale = 0.125
	for _, hd := range []int{16, 40, 64, 128} {
		for _, nh := range []int{1, 2, 3, 5, 7, 8} {
			for _, nk := range []int{1, 2, 3, 4, 7, 33, 97, 98, 200} {
				kstride := hd*3 + 8
				k32 := randVec(r, (2*nk+1)*kstride)
				v32 := randVec(r, len(k32))
				k16, v16 := make([]uint16, len(k32)), make([]uint16, len(v32))
				toF16(k16, k32)
				toF16(v16, v32)
				fromF16(k32, k16) // the rounded values, for the references
				fromF16(v32, v16)
				rows := make([]int32, nk)
				for j := range rows {
					rows[j] = int32((2*(nk-1-j)+1)*kstride + 5)
				}
				q := randVec(r, nh*hd)
				sstride := nk + 2
				p := randVec(r, nh*sstride)
				for _, fast := range []bool{true, false} {
					if fast && !hasAVX2 && !hasNEON {
						continue
					}
					s := make([]float32, nh*sstride)
					out := make([]float32, nh*hd+3)
					s32 := make([]float32, nh*sstride)
					out32 := make([]float32, nh*hd)
					for i := range s {
						s[i], s32[i] = -7, -7
					}
					for i := range out {
						out[i] = -7
					}
					run := func() {
						scoreRowsF16(q, hd, nh, k16, rows, s, sstride, scale, false, nil)
						pvRowsF16(p, sstride, nh, v16, rows, hd, out[:nh*hd], false, nil)
						scoreRows(q, hd, nh, k32, rows, s32, sstride, scale)
						pvRows(p, sstride, nh, v32, rows, hd, out32)
					}
					if fast {
						run()
					} else {
						portable(run)
					}
					what := fmt.Sprintf("fast=%v hd=%d nh=%d nk=%d", fast, hd, nh, nk)
					exact := fast && hd%32 == 0
					for h := 0; h < nh; h++ {
						qh := q[h*hd : (h+1)*hd]
						for j := 0; j < sstride; j++ {
							got := s[h*sstride+j]
							if j >= nk {
								if got != -7 {
									t.Fatalf("scoreRowsF16 %s: wrote s[%d] past head %d's scores", what, h*sstride+j, h)
								}
								continue
							}
							if exact && got != s32[h*sstride+j] {
								t.Fatalf("scoreRowsF16 %s [%d,%d]: %v, float32 kernel %v", what, h, j, got, s32[h*sstride+j])
							}
							kj := k32[rows[j] : int(rows[j])+hd]
							checkClose(t, fmt.Sprintf("scoreRowsF16 %s [%d,%d]", what, h, j), got, scale*exactDot(qh, kj), scale*absDot(qh, kj))
						}
						for d := 0; d < hd; d++ {
							var want, mag float64
							for j := 0; j < nk; j++ {
								x := float64(p[h*sstride+j]) * float64(v32[int(rows[j])+d])
								want += x
								mag += math.Abs(x)
							}
							if exact && out[h*hd+d] != out32[h*hd+d] {
								t.Fatalf("pvRowsF16 %s [%d,%d]: %v, float32 kernel %v", what, h, d, out[h*hd+d], out32[h*hd+d])
							}
							checkClose(t, fmt.Sprintf("pvRowsF16 %s [%d,%d]", what, h, d), out[h*hd+d], want, mag)
						}
					}
					for i := nh * hd; i < len(out); i++ {
						if out[i] != -7 {
							t.Fatalf("pvRowsF16 %s: wrote out[%d] past the heads", what, i)
						}
					}
				}
			}
		}
	}
}

// TestToF16: the cache's rounding (VCVTPS2PH in blocks of 8, model.F32ToF16 for the rest)
// equals model.F32ToF16 bit for bit: ties to even, overflow to infinity, subnormals, zeros of
// both signs, at lengths around the block.
func TestToF16(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	specials := []float32{0, float32(math.Copysign(0, -1)), 1, -1, 65504, 65520, 1e6, -1e6, 6e-8, 3e-8, 1e-10,
		6.1e-5, 1 + 1.0/2048, 1 + 3.0/2048, float32(math.Inf(1)), float32(math.Inf(-1))}
	for _, n := range []int{1, 7, 8, 9, 16, 23, 64} {
		src := make([]float32, n)
		for i := range src {
			if i < len(specials) && r.IntN(2) == 0 {
				src[i] = specials[i]
			} else {
				src[i] = float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(10)-6)))
			}
		}
		got := make([]uint16, n)
		toF16(got, src)
		back := make([]float32, n)
		fromF16(back, got)
		for i, x := range src {
			if want := model.F32ToF16(x); got[i] != want {
				t.Fatalf("n=%d [%d] %v: %#04x, want %#04x", n, i, x, got[i], want)
			}
			if want := model.F16ToF32(got[i]); back[i] != want {
				t.Fatalf("n=%d [%d] widening %#04x: %v, want %v", n, i, got[i], back[i], want)
			}
		}
	}
}

// TestKernelSet pins the names that arbor bench reports for each combination of features, and
// the name for this machine.
func TestKernelSet(t *testing.T) {
	saved := currentFlags()
	defer saved.set()
	want := "portable"
	switch {
	case hasAVX2 && hasVNNI && hasVBMI:
		want = "avx512vnni+vbmi+avx2+fma+f16c"
	case hasAVX2 && hasVNNI:
		want = "avx512vnni+avx2+fma+f16c"
	case hasAVX2 && hasAVXVNNI:
		want = "avxvnni+avx2+fma+f16c"
	case hasAVX2:
		want = "avx2+fma+f16c"
	case hasNEON && hasSDOT:
		want = "neon+dotprod"
	case hasNEON:
		want = "neon"
	}
	if got := KernelSet(); got != want {
		t.Errorf("KernelSet() = %q here, want %q", got, want)
	}
	for _, c := range []struct {
		f    kernelFlags
		want string
	}{
		{kernelFlags{avx2: true, avxvnni: true, vnni: true, vbmi: true}, "avx512vnni+vbmi+avx2+fma+f16c"},
		{kernelFlags{avx2: true, vnni: true, vbmi: true}, "avx512vnni+vbmi+avx2+fma+f16c"},
		{kernelFlags{avx2: true, avxvnni: true, vnni: true}, "avx512vnni+avx2+fma+f16c"},
		{kernelFlags{avx2: true, avxvnni: true}, "avxvnni+avx2+fma+f16c"},
		{kernelFlags{avx2: true}, "avx2+fma+f16c"},
		{kernelFlags{avxvnni: true, vnni: true, vbmi: true}, "portable"}, // VNNI kernels are never used without AVX2
		{kernelFlags{neon: true, sdot: true}, "neon+dotprod"},
		{kernelFlags{neon: true}, "neon"},
		{kernelFlags{}, "portable"},
	} {
		c.f.set()
		if got := KernelSet(); got != c.want {
			t.Errorf("KernelSet() with %+v = %q, want %q", c.f, got, c.want)
		}
	}
	saved.set()
	portable(func() {
		if got := KernelSet(); got != "portable" {
			t.Errorf("KernelSet() with the assembly off = %q, want portable", got)
		}
	})
}

// TestRMSNorm checks RMSNorm (four sums, or vector sums where the CPU has them) against one
// float64 sum taken in order, on lengths with and without tails after the vector blocks of 16
// and 8 and the blocks of four; in place too, as the q/k norms use it.
func TestRMSNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	for _, n := range []int{1, 3, 4, 7, 8, 15, 24, 43, 64, 897, 2048} {
		x := make([]float32, n)
		w := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64()) * 3
			w[i] = float32(rng.NormFloat64())
		}
		var ss float64
		for _, v := range x {
			ss += float64(v) * float64(v)
		}
		want := float32(1 / math.Sqrt(ss/float64(n)+1e-6))
		out := make([]float32, n)
		got := RMSNorm(out, x, w, 1e-6)
		if math.Abs(float64(got-want)) > 1e-6*float64(want) {
			t.Fatalf("n=%d: scale %v, want %v", n, got, want)
		}
		for i := range x {
			if e := x[i] * got * w[i]; out[i] != e {
				t.Fatalf("n=%d: out[%d] = %v, want %v", n, i, out[i], e)
			}
		}
		RMSNorm(x, x, w, 1e-6)
		for i := range x {
			if x[i] != out[i] {
				t.Fatalf("n=%d in place: x[%d] = %v, want %v", n, i, x[i], out[i])
			}
		}
	}
}

// TestQuantizeRowsInParts checks that quantizing rows in separate ranges (as the workers do
// while they norm or gate them) gives what one quantize call gives: the quants, the scales and
// the bytes packed for the VNNI kernels, each row's bytes packed as q8PackU8 packs eight.
func TestQuantizeRowsInParts(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{2, 5, 8, 16} {
		const cols = 96
		x := make([]float32, n*cols)
		for i := range x {
			x[i] = float32(rng.NormFloat64()) * 4
		}
		var whole, parts q8Acts
		whole.quantize(x, n, cols)
		parts.begin(n, cols)
		for _, r := range [][2]int{{n / 2, n}, {0, n / 2}} { // out of order, as workers finish
			parts.quantizeRows(x, r[0], r[1], cols)
		}
		if !slices.Equal(whole.q, parts.q) || !slices.Equal(whole.d, parts.d) || !bytes.Equal(whole.u, parts.u) {
			t.Fatalf("n=%d: quantized in parts differs from whole", n)
		}
		if n%8 == 0 && q8PackedBytes(cols/32) {
			if len(parts.u) != n*cols {
				t.Fatalf("n=%d: %d packed bytes, want %d", n, len(parts.u), n*cols)
			}
			want := make([]byte, n*cols)
			for r := 0; r < n/8; r++ {
				q8PackU8(want[r*8*cols:], whole.q[r*8*cols:], cols, cols/32)
			}
			if !bytes.Equal(parts.u, want) {
				t.Fatalf("n=%d: bytes packed by rows differ from q8PackU8's", n)
			}
		}
	}
}

// TestQ8PaddedRuns: the tokens left over from runs of eight, padded to eight for the
// eight-token kernel (padRun, the tunable pad-tokens), give the outputs of the four- and
// one-token kernels bit for bit, on every kernel set this CPU runs: for 1 to 15 tokens (decode
// batches and a prefill tile's tail), with a bias, accumulating, over rows that cut a group and
// over columns in one chunk or several, and over a worker's range that starts and ends inside
// the matrix.
func TestQ8PaddedRuns(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 11))
	saved := tune.padTokens
	defer func() { tune.padTokens = saved }()
	for _, set := range KernelSets() {
		restore, err := UseKernelSet(set)
		if err != nil {
			t.Fatal(err)
		}
		for _, shape := range [][2]int{{43, 96}, {40, kChunkQ8 + 3*model.Q8Block}} {
			rows, cols := shape[0], shape[1]
			m := benchMatrixT(t, model.Q8_0, rows, cols, r)
			bias := randVec(r, rows)
			for n := 1; n <= 15; n++ {
				x := randVec(r, n*cols)
				var qa q8Acts
				qa.quantize(x, n, cols)
				for _, c := range []struct {
					accum  bool
					bias   []float32
					lo, hi int
				}{{false, nil, 0, rows}, {false, bias, 0, rows}, {true, nil, 8, 32}, {true, nil, 0, rows}} {
					run := func(pad int) []float32 {
						tune.padTokens = pad
						out := make([]float32, n*rows)
						for i := range out {
							out[i] = float32(i%3) - 1
						}
						task := &matmulTask{m: m, x: x, q: &qa, n: n, out: out, outStride: rows, accum: c.accum,
							bias: c.bias, scratch: newScratch(1)}
						task.run(c.lo, c.hi, 0)
						return out
					}
					want := run(8)                  // never padded
					for pad := 0; pad <= 7; pad++ { // 0: the kernel set's rule
						got := run(pad)
						for i := range got {
							if got[i] != want[i] {
								t.Fatalf("%s %dx%d, %d tokens, pad-tokens=%d, accum=%v bias=%v rows [%d, %d): out[%d] = %v, want %v",
									set, rows, cols, n, pad, c.accum, c.bias != nil, c.lo, c.hi, i, got[i], want[i])
							}
						}
					}
				}
			}
		}
		restore()
	}
}
