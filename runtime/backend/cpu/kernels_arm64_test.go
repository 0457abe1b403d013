//go:build arm64 && !purego

package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/arborlabs/arbor/runtime/model"
)

// The NEON kernels against the portable ones. The shared tests (TestDotKernels,
// TestDot4Kernels, TestQ8Kernels, ...) run the NEON kernels too, since needFast and portable
// know hasNEON; these add what is particular to arm64: both q8_0 paths (SDOT and the widening
// multiply), and exact integer sums.

func TestNEONDetected(t *testing.T) {
	if !hasNEON {
		t.Fatal("no ASIMD/FP reported on arm64: every arm64 CPU has them")
	}
	t.Logf("dot-product extension (SDOT): %v; kernels %q", hasSDOT, KernelSet())
}

// withSDOT runs f with the q8_0 kernels on the SDOT path (on), or on the widening-multiply
// path; it skips where the CPU lacks SDOT and on is asked for.
func withSDOT(t *testing.T, on bool, f func()) {
	t.Helper()
	saved := hasSDOT
	if on && !saved {
		t.Skip("no dot-product extension here")
	}
	hasSDOT = on
	defer func() { hasSDOT = saved }()
	f()
}

// TestQ8KernelsNoSDOT runs the shared q8_0 kernel test on the widening-multiply path.
func TestQ8KernelsNoSDOT(t *testing.T) {
	withSDOT(t, false, func() { TestQ8Kernels(t) })
}

// TestQ8NEONExact checks both NEON q8_0 paths against the portable kernel: with unit scales
// every output is an integer sum held exactly in float32, so they must agree exactly (extreme
// quants included: -128 weights, ±127 activations); with real scales they must agree bit for
// bit as well, since both scale each block the same way (weight x token scale, then one fused
// multiply-add, which Go's compiler also emits for the portable acc += sum * scale on arm64).
func TestQ8NEONExact(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	const rows = 8
	for _, nb := range []int{1, 2, 5, 16} {
		c := nb * model.Q8Block
		for _, unit := range []bool{true, false} {
			src := make([]byte, 0, rows*nb*model.Q8BlockBytes)
			for i := 0; i < rows; i++ {
				row := randQ8Row(r, nb)
				if unit {
					for b := 0; b < nb; b++ {
						row[b*model.Q8BlockBytes], row[b*model.Q8BlockBytes+1] = 0x00, 0x3c // f16 1.0
					}
				}
				if i == 3 {
					for j := 2; j < len(row); j += model.Q8BlockBytes {
						for k := 0; k < model.Q8Block; k++ {
							row[j+k] = 0x80 // -128 everywhere
						}
					}
				}
				src = append(src, row...)
			}
			qg := newQ8Groups(src, rows, c)
			qa := q8Acts{q: make([]int16, 8*c), d: make([]float32, 8*nb)}
			for i := range qa.q {
				qa.q[i] = int16(r.IntN(255) - 127)
			}
			for i := 0; i+1 < 8*c; i += 7 {
				qa.q[i] = 127
				qa.q[i+1] = -127
			}
			for i := range qa.d {
				qa.d[i] = 1
				if !unit {
					qa.d[i] = float32(r.Float64()*0.05 + 1e-3)
				}
			}
			w, s := qg.quants(0, 0, nb), qg.scales(0, 0, nb)
			for _, T := range []int{1, 4, 8} {
				for _, add := range []bool{false, true} {
					want := make([]float32, 8*9)
					for i := range want {
						want[i] = float32(i%3) - 1
					}
					got := map[string][]float32{}
					for _, sdot := range []bool{true, false} {
						name := map[bool]string{true: "SDOT", false: "SMULL"}[sdot]
						if sdot && !hasSDOT {
							continue
						}
						o := append([]float32(nil), want...)
						withSDOT(t, sdot, func() { q8Group(w, s, qa.q, c, qa.d, nb, nb, T, o, 9, add) })
						got[name] = o
					}
					q8GroupGeneric(w, s, qa.q, c, qa.d, nb, nb, T, want, 9, add)
					for name, o := range got {
						for i := range want {
							if math.Float32bits(o[i]) != math.Float32bits(want[i]) {
								t.Errorf("%s nb=%d unit=%v T=%d add=%v out[%d]: %v, portable %v", name, nb, unit, T, add, i, o[i], want[i])
							}
						}
					}
				}
			}
		}
	}
}

// TestDotNEONvsPortable: the float dot kernels against the portable ones within the shared
// tests' bound (they add in different orders), over lengths around every loop's step.
func TestDotNEONvsPortable(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	for n := 1; n <= 70; n++ {
		a, b := randVec(r, n), randVec(r, n)
		h := make([]uint16, n)
		for i, v := range a {
			h[i] = model.F32ToF16(v)
		}
		var want, wantH float32
		portable(func() { want, wantH = dot(a, b), dotF16(h, b) })
		checkClose(t, fmt.Sprintf("dot n=%d", n), dot(a, b), float64(want), absDot(a, b))
		checkClose(t, fmt.Sprintf("dotF16 n=%d", n), dotF16(h, b), float64(wantH), absDot(a, b)+1)

		// bf16 rows: the dot close to the portable one, the widening exact.
		bf := make([]uint16, n)
		for i, v := range a {
			bf[i] = uint16(math.Float32bits(v) >> 16)
		}
		var wantB float32
		portable(func() { wantB = dotBF16(bf, b) })
		checkClose(t, fmt.Sprintf("dotBF16 n=%d", n), dotBF16(bf, b), float64(wantB), absDot(a, b)+1)
		wide := make([]float32, n)
		cvtBF16(wide, bf)
		for i, v := range bf {
			if math.Float32bits(wide[i]) != uint32(v)<<16 {
				t.Fatalf("cvtBF16 n=%d [%d]: %#x from %#x", n, i, math.Float32bits(wide[i]), v)
			}
		}

		// axpy: one fused multiply-add per element on both paths, so bit for bit.
		y, y2 := randVec(r, n), make([]float32, n)
		copy(y2, y)
		axpy(-1.25, a, y)
		axpyGeneric(-1.25, a, y2)
		for i := range y {
			if math.Float32bits(y[i]) != math.Float32bits(y2[i]) {
				t.Fatalf("axpy n=%d [%d]: %v, portable %v", n, i, y[i], y2[i])
			}
		}
	}
}

// TestMaxNEONNaN: the vector max treats NaNs as softmaxInPlace's loop does: one after s[0]
// loses, one in s[0] wins.
func TestMaxNEONNaN(t *testing.T) {
	nan := float32(math.NaN())
	r := rand.New(rand.NewPCG(9, 9))
	for _, at := range []int{-1, 0, 1, 5, 13, 31} {
		s := randVec(r, 32)
		if at >= 0 {
			s[at] = nan
		}
		got := maxNEON(&s[0], len(s))
		want := s[0]
		for _, v := range s {
			if v > want {
				want = v
			}
		}
		if math.Float32bits(got) != math.Float32bits(want) && !(got != got && want != want) {
			t.Errorf("NaN at %d: max %v, portable %v", at, got, want)
		}
	}
}

// TestToF16NEONBits: FCVTN against model.F32ToF16 on random float32 bit patterns (NaNs with
// payloads, infinities, subnormals of both formats) and on every f16 value and the midpoints
// above each (the ties).
func TestToF16NEONBits(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 10))
	var src []float32
	for i := 0; i < 1<<16; i++ {
		src = append(src, math.Float32frombits(r.Uint32()))
		f := model.F16ToF32(uint16(i))
		src = append(src, f, math.Float32frombits(math.Float32bits(f)+1<<12))
	}
	src = src[:len(src)&^7]
	got := make([]uint16, len(src))
	cvtF32ToF16NEON(&got[0], &src[0], len(src))
	for i, x := range src {
		if want := model.F32ToF16(x); got[i] != want {
			t.Fatalf("%#08x: %#04x, want %#04x", math.Float32bits(x), got[i], want)
		}
	}
}

// TestPVNEONExact: pvRows and pvRowsF16 on NEON give the portable outputs bit for bit (one
// fused multiply-add per element and row, in row order, on both paths), with an odd head out,
// more rows than a tile and head sizes with and without a tail past the 32-wide chunks.
func TestPVNEONExact(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 11))
	for _, hd := range []int{32, 64, 72, 128} {
		for _, nh := range []int{1, 3, 4} {
			const n, nrows = 100, 130
			v := randVec(r, nrows*hd)
			vh := make([]uint16, len(v))
			for i, x := range v {
				vh[i] = model.F32ToF16(x)
			}
			rows := make([]int32, n)
			for j := range rows {
				rows[j] = int32(r.IntN(nrows) * hd)
			}
			p := randVec(r, nh*(n+1))
			got, want := make([]float32, nh*hd), make([]float32, nh*hd)
			pvRows(p, n+1, nh, v, rows, hd, got)
			portable(func() { pvRows(p, n+1, nh, v, rows, hd, want) })
			gotH, wantH := make([]float32, nh*hd), make([]float32, nh*hd)
			pvRowsF16(p, n+1, nh, vh, rows, hd, gotH, false, nil)
			portable(func() { pvRowsF16(p, n+1, nh, vh, rows, hd, wantH, false, nil) })
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("pvRows hd=%d nh=%d [%d]: %v, portable %v", hd, nh, i, got[i], want[i])
				}
				if math.Float32bits(gotH[i]) != math.Float32bits(wantH[i]) {
					t.Fatalf("pvRowsF16 hd=%d nh=%d [%d]: %v, portable %v", hd, nh, i, gotH[i], wantH[i])
				}
			}
		}
	}
}

// TestScoresNEONExact: scoreRows and scoreRowsF16 on NEON give, bit for bit, the scores of
// dot and dotF16 per head (as the loop without four-head blocks computes them): scores4NEON adds
// as dotF32NEON and dotF16NEON do. Head counts below four repeat heads, others leave an
// overlapping last four; 200 keys make three tiles.
func TestScoresNEONExact(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 12))
	for _, hd := range []int{8, 64, 72, 128, 1024} {
		for _, nh := range []int{1, 2, 3, 4, 6, 8} {
			const n, nrows = 200, 70
			k := randVec(r, nrows*hd)
			kh := make([]uint16, len(k))
			for i, x := range k {
				kh[i] = model.F32ToF16(x)
			}
			rows := make([]int32, n)
			for j := range rows {
				rows[j] = int32(r.IntN(nrows) * hd)
			}
			q := randVec(r, nh*hd)
			const ss = n + 2
			got, want := make([]float32, nh*ss), make([]float32, nh*ss)
			gotH, wantH := make([]float32, nh*ss), make([]float32, nh*ss)
			scoreRows(q, hd, nh, k, rows, got, ss, 0.125)
			scoreRowsF16(q, hd, nh, kh, rows, gotH, ss, 0.125, false, nil)
			for j, r := range rows {
				for h := 0; h < nh; h++ {
					want[h*ss+j] = dot(k[r:int(r)+hd], q[h*hd:(h+1)*hd]) * 0.125
					wantH[h*ss+j] = dotF16(kh[r:int(r)+hd], q[h*hd:(h+1)*hd]) * 0.125
				}
			}
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("scoreRows hd=%d nh=%d [%d]: %v, dot %v", hd, nh, i, got[i], want[i])
				}
				if math.Float32bits(gotH[i]) != math.Float32bits(wantH[i]) {
					t.Fatalf("scoreRowsF16 hd=%d nh=%d [%d]: %v, dotF16 %v", hd, nh, i, gotH[i], wantH[i])
				}
			}
		}
	}
}

// TestSlotMaxNEON: slotMax with maxIntoNEON is Go's max element by element, bit for bit (±0,
// a NaN), over lengths around the 8-wide step.
func TestSlotMaxNEON(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 13))
	for _, n := range []int{8, 9, 16, 31, 64} {
		const group = 3
		probs := randVec(r, group*n)
		probs[0], probs[n] = float32(math.Copysign(0, -1)), 0
		probs[2*n+5] = float32(math.NaN())
		got, want := make([]float32, n), make([]float32, n)
		slotMax(probs, group, n, got)
		copy(want, probs[:n])
		for h := 1; h < group; h++ {
			for j := range want {
				want[j] = max(want[j], probs[h*n+j])
			}
		}
		for j := range want {
			if math.Float32bits(got[j]) != math.Float32bits(want[j]) && !(got[j] != got[j] && want[j] != want[j]) {
				t.Fatalf("n=%d [%d]: %v, want %v", n, j, got[j], want[j])
			}
		}
	}
}
