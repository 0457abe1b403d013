//go:build arm64 && !purego

package cpu

//go:generate python3 kernels_arm64_gen.py

import "golang.org/x/sys/cpu"

// The NEON kernels in kernels_arm64.s (written by kernels_arm64_gen.py). Pointers and lengths
// instead of slices, as on amd64: the Go wrappers check the lengths once.

//go:noescape
func dotF32NEON(a, b *float32, n int) float32

//go:noescape
func dotF16NEON(w *uint16, x *float32, n int) float32

//go:noescape
func dot4F32NEON(w *float32, stride int, x *float32, n int, out *float32)

//go:noescape
func dot4F16NEON(w *uint16, stride int, x *float32, n int, out *float32)

//go:noescape
func dotBF16NEON(w *uint16, x *float32, n int) float32

//go:noescape
func dot4BF16NEON(w *uint16, stride int, x *float32, n int, out *float32)

//go:noescape
func quantizeQ8NEON(x *float32, q *int16, d *float32, nb int)

//go:noescape
func cvtF32ToF16NEON(dst *uint16, src *float32, n int)

//go:noescape
func scores4NEON(q0, q1, q2, q3 *float32, k *float32, rows *int32, n int, hd int, s0, s1, s2, s3 *float32, scale float32)

//go:noescape
func scores4F16NEON(q0, q1, q2, q3 *float32, k *uint16, rows *int32, n int, hd int, s0, s1, s2, s3 *float32, scale float32)

//go:noescape
func scores3NEON(q0, q1, q2, q3 *float32, k *float32, rows *int32, n int, hd int, s0, s1, s2, s3 *float32, scale float32)

//go:noescape
func scores3F16NEON(q0, q1, q2, q3 *float32, k *uint16, rows *int32, n int, hd int, s0, s1, s2, s3 *float32, scale float32)

//go:noescape
func scores2NEON(q0, q1, q2, q3 *float32, k *float32, rows *int32, n int, hd int, s0, s1, s2, s3 *float32, scale float32)

//go:noescape
func scores2F16NEON(q0, q1, q2, q3 *float32, k *uint16, rows *int32, n int, hd int, s0, s1, s2, s3 *float32, scale float32)

//go:noescape
func scores1NEON(q0, q1, q2, q3 *float32, k *float32, rows *int32, n int, hd int, s0, s1, s2, s3 *float32, scale float32)

//go:noescape
func scores1F16NEON(q0, q1, q2, q3 *float32, k *uint16, rows *int32, n int, hd int, s0, s1, s2, s3 *float32, scale float32)

// scoresNEON is the NEON score kernel for the first H of the four heads (1 <= H <= 4): a KV
// head's last one to three query heads take a kernel for that many instead of repeating one.
func scoresNEON(H int, q0, q1, q2, q3 *float32, k *float32, rows *int32, n, hd int, s0, s1, s2, s3 *float32, scale float32) {
	switch H {
	case 4:
		scores4NEON(q0, q1, q2, q3, k, rows, n, hd, s0, s1, s2, s3, scale)
	case 3:
		scores3NEON(q0, q1, q2, q3, k, rows, n, hd, s0, s1, s2, s3, scale)
	case 2:
		scores2NEON(q0, q1, q2, q3, k, rows, n, hd, s0, s1, s2, s3, scale)
	default:
		scores1NEON(q0, q1, q2, q3, k, rows, n, hd, s0, s1, s2, s3, scale)
	}
}

// scoresF16NEON is scoresNEON over an f16 key cache.
func scoresF16NEON(H int, q0, q1, q2, q3 *float32, k *uint16, rows *int32, n, hd int, s0, s1, s2, s3 *float32, scale float32) {
	switch H {
	case 4:
		scores4F16NEON(q0, q1, q2, q3, k, rows, n, hd, s0, s1, s2, s3, scale)
	case 3:
		scores3F16NEON(q0, q1, q2, q3, k, rows, n, hd, s0, s1, s2, s3, scale)
	case 2:
		scores2F16NEON(q0, q1, q2, q3, k, rows, n, hd, s0, s1, s2, s3, scale)
	default:
		scores1F16NEON(q0, q1, q2, q3, k, rows, n, hd, s0, s1, s2, s3, scale)
	}
}

//go:noescape
func pv2NEON(p0, p1 *float32, v *float32, rows *int32, n int, nc int, o0, o1 *float32)

//go:noescape
func pv2F16NEON(p0, p1 *float32, v *uint16, rows *int32, n int, nc int, o0, o1 *float32)

//go:noescape
func gemm3x4NEON(w *float32, ldw int, x *float32, ldx int, n int, out *float32)

//go:noescape
func cvtF16NEON(dst *float32, src *uint16, n int)

//go:noescape
func cvtBF16NEON(dst *float32, src *uint16, n int)

//go:noescape
func maxNEON(s *float32, n int) float32

//go:noescape
func expSubNEON(s *float32, n int, m float32) float32

//go:noescape
func swigluNEON(gate, up *float32, n int)

//go:noescape
func maxIntoNEON(dst, src *float32, n int)

//go:noescape
func scaleNEON(s *float32, n int, c float32)

//go:noescape
func sumSquaresNEON(x *float32, n int) float64

//go:noescape
func normScaleNEON(out, x, w *float32, n int, s float32)

//go:noescape
func axpyNEON(a float32, x, y *float32, n int)

//go:noescape
func axpyF16NEON(a float32, x *uint16, y *float32, n int)

//go:noescape
func q8g1SDOT(w, s *byte, xq *int16, xd *float32, nb int, out *float32, add int)

//go:noescape
func q8g4SDOT(w, s *byte, xq *int16, xd *float32, nb int, qstride int, dstride int, out *float32, ostride int, add int)

//go:noescape
func q8g1SMULL(w, s *byte, xq *int16, xd *float32, nb int, out *float32, add int)

//go:noescape
func q8g4SMULL(w, s *byte, xq *int16, xd *float32, nb int, qstride int, dstride int, out *float32, ostride int, add int)

// hasNEON says the kernels above can run: Advanced SIMD with half-precision conversions, which
// every arm64 CPU has (the ASIMD and FP features are mandatory in ARMv8-A; checked anyway).
// hasSDOT says the CPU has the dot-product extension (SDOT), which the q8_0 kernels use when
// it is there; without it they take a widening-multiply path. Read once at start-up; tests may
// turn either off.
var (
	hasNEON = cpu.ARM64.HasASIMD && cpu.ARM64.HasFP
	hasSDOT = hasNEON && cpu.ARM64.HasASIMDDP
)

// q8g1NEON and q8g4NEON are the q8_0 group kernels for one and four tokens (see q8Group), on
// the path the CPU allows.
func q8g1NEON(w, s *byte, xq *int16, xd *float32, nb int, out *float32, add int) {
	if hasSDOT {
		q8g1SDOT(w, s, xq, xd, nb, out, add)
	} else {
		q8g1SMULL(w, s, xq, xd, nb, out, add)
	}
}

func q8g4NEON(w, s *byte, xq *int16, xd *float32, nb int, qstride int, dstride int, out *float32, ostride int, add int) {
	if hasSDOT {
		q8g4SDOT(w, s, xq, xd, nb, qstride, dstride, out, ostride, add)
	} else {
		q8g4SMULL(w, s, xq, xd, nb, qstride, dstride, out, ostride, add)
	}
}
