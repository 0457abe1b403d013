//go:build !arm64 || purego

package cpu

// Without the arm64 assembly there are no NEON kernels; these stubs are never called (hasNEON
// is false) and exist so that the dispatching code compiles everywhere. The flags are
// variables, as hasAVX2 is, so that the tests can switch every fast path off the same way.

var (
	hasNEON = false
	hasSDOT = false
)

func dotF32NEON(a, b *float32, n int) float32                             { panic("unreachable") }
func dotF16NEON(w *uint16, x *float32, n int) float32                     { panic("unreachable") }
func dot4F32NEON(w *float32, stride int, x *float32, n int, out *float32) { panic("unreachable") }
func dot4F16NEON(w *uint16, stride int, x *float32, n int, out *float32)  { panic("unreachable") }
func dotBF16NEON(w *uint16, x *float32, n int) float32                    { panic("unreachable") }
func dot4BF16NEON(w *uint16, stride int, x *float32, n int, out *float32) { panic("unreachable") }
func quantizeQ8NEON(x *float32, q *int16, d *float32, nb int)             { panic("unreachable") }
func cvtF32ToF16NEON(dst *uint16, src *float32, n int)                    { panic("unreachable") }
func scores4NEON(q0, q1, q2, q3 *float32, k *float32, rows *int32, n int, hd int, s0, s1, s2, s3 *float32, scale float32) {
	panic("unreachable")
}
func scores4F16NEON(q0, q1, q2, q3 *float32, k *uint16, rows *int32, n int, hd int, s0, s1, s2, s3 *float32, scale float32) {
	panic("unreachable")
}
func scoresNEON(H int, q0, q1, q2, q3 *float32, k *float32, rows *int32, n, hd int, s0, s1, s2, s3 *float32, scale float32) {
	panic("unreachable")
}
func scoresF16NEON(H int, q0, q1, q2, q3 *float32, k *uint16, rows *int32, n, hd int, s0, s1, s2, s3 *float32, scale float32) {
	panic("unreachable")
}
func pv2NEON(p0, p1 *float32, v *float32, rows *int32, n int, nc int, o0, o1 *float32) {
	panic("unreachable")
}
func pv2F16NEON(p0, p1 *float32, v *uint16, rows *int32, n int, nc int, o0, o1 *float32) {
	panic("unreachable")
}
func gemm3x4NEON(w *float32, ldw int, x *float32, ldx int, n int, out *float32) {
	panic("unreachable")
}
func cvtF16NEON(dst *float32, src *uint16, n int)         { panic("unreachable") }
func cvtBF16NEON(dst *float32, src *uint16, n int)        { panic("unreachable") }
func maxNEON(s *float32, n int) float32                   { panic("unreachable") }
func expSubNEON(s *float32, n int, m float32) float32     { panic("unreachable") }
func swigluNEON(gate, up *float32, n int)                 { panic("unreachable") }
func maxIntoNEON(dst, src *float32, n int)                { panic("unreachable") }
func scaleNEON(s *float32, n int, c float32)              { panic("unreachable") }
func sumSquaresNEON(x *float32, n int) float64            { panic("unreachable") }
func normScaleNEON(out, x, w *float32, n int, s float32)  { panic("unreachable") }
func axpyF16NEON(a float32, x *uint16, y *float32, n int) { panic("unreachable") }
func axpyNEON(a float32, x, y *float32, n int)            { panic("unreachable") }
func q8g1NEON(w, s *byte, xq *int16, xd *float32, nb int, out *float32, add int) {
	panic("unreachable")
}
func q8g4NEON(w, s *byte, xq *int16, xd *float32, nb int, qstride int, dstride int, out *float32, ostride int, add int) {
	panic("unreachable")
}
