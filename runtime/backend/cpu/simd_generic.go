//go:build !amd64 || purego

package cpu

// Without the amd64 assembly every kernel takes its portable Go path; these stubs are never
// called (hasAVX2 is false) and exist so that the dispatching code compiles everywhere.

var hasAVX2, hasVNNI, hasVBMI, hasAVXVNNI = false, false, false, false

func dotF32AVX2(a, b *float32, n int) float32          { panic("unreachable") }
func dotF16AVX2(w *uint16, x *float32, n int) float32  { panic("unreachable") }
func dotBF16AVX2(w *uint16, x *float32, n int) float32 { panic("unreachable") }
func dot4F32AVX2(w *float32, stride int, x *float32, n int, out *float32) {
	panic("unreachable")
}
func dot4F16AVX2(w *uint16, stride int, x *float32, n int, out *float32) {
	panic("unreachable")
}
func dot4BF16AVX2(w *uint16, stride int, x *float32, n int, out *float32) {
	panic("unreachable")
}
func gemm3x4F32AVX2(w *float32, ldw int, x *float32, ldx int, n int, out *float32) {
	panic("unreachable")
}
func cvtF16AVX2(dst *float32, src *uint16, n int)  { panic("unreachable") }
func cvtBF16AVX2(dst *float32, src *uint16, n int) { panic("unreachable") }
func axpyAVX2(a float32, x, y *float32, n int)     { panic("unreachable") }

func expSubAVX2(s *float32, n int, m float32) float32    { panic("unreachable") }
func maxAVX2(s *float32, n int) float32                  { panic("unreachable") }
func scaleAVX2(s *float32, n int, c float32)             { panic("unreachable") }
func swigluAVX2(gate, up *float32, n int)                { panic("unreachable") }
func sumSquaresAVX2(x *float32, n int) float64           { panic("unreachable") }
func normScaleAVX2(out, x, w *float32, n int, s float32) { panic("unreachable") }

func scores4AVX2(q0, q1, q2, q3 *float32, k *float32, rows *int32, n int, hd int, s0, s1, s2, s3 *float32, scale float32) {
	panic("unreachable")
}
func pv2AVX2(p0, p1 *float32, v *float32, rows *int32, n int, nc int, o0, o1 *float32) {
	panic("unreachable")
}

func scores4F16AVX2(q0, q1, q2, q3 *float32, k *uint16, rows *int32, n int, hd int, s0, s1, s2, s3 *float32, scale float32) {
	panic("unreachable")
}
func scores2F16AVX2(q0, q1 *float32, k *uint16, rows *int32, n int, hd int, s0, s1 *float32, scale float32) {
	panic("unreachable")
}
func pv2F16AVX2(p0, p1 *float32, v *uint16, rows *int32, n int, nc int, o0, o1 *float32) {
	panic("unreachable")
}
func scoresAVX512(H int, q0, q1, q2, q3 *float32, k *float32, rows *int32, n, hd int, s0, s1, s2, s3 *float32, scale float32) {
	panic("unreachable")
}
func scoresF16AVX512(H int, q0, q1, q2, q3 *float32, k *uint16, rows *int32, n, hd int, s0, s1, s2, s3 *float32, scale float32) {
	panic("unreachable")
}
func expSubAVX512(s *float32, n int, m float32) float32 { panic("unreachable") }
func pvF16AVX512(H int, p *float32, pstride int, v *uint16, rows *int32, n, cols int, o *float32, ostride int) {
	panic("unreachable")
}
func cvtF32ToF16AVX2(dst *uint16, src *float32, n int) { panic("unreachable") }

func quantizeQ8AVX2(x *float32, q *int16, d *float32, nb int) { panic("unreachable") }

func prefetchRowsAVX2(p *byte, rows *int32, n int, shift int, size int) { panic("unreachable") }

func prefetchAVX2(p *byte, n int) { panic("unreachable") }

func q8g1AVX2(w *byte, s *byte, xq *int16, xd *float32, nb int, out *float32, add int) {
	panic("unreachable")
}
func q8g1x4AVX2(w *byte, s *byte, xq *int16, xd *float32, nb int, sstride int, out *float32, ostride int, add int, ng int, gstride int) {
	panic("unreachable")
}
func q8g1x4PF(w *byte, s *byte, xq *int16, xd *float32, nb int, sstride int, out *float32, ostride int, add int, ng int, gstride int, pfd int) {
	panic("unreachable")
}
func q8g1x4VNNI(w *byte, s *byte, xq *int16, xd *float32, nb int, sstride int, out *float32, ostride int, add int, ng int, gstride int, pfd int) {
	panic("unreachable")
}
func q8g1x4DPBUSD(w *byte, s *byte, xq *int16, xd *float32, nb int, sstride int, out *float32, ostride int, add int, ng int, gstride int, pfd int) {
	panic("unreachable")
}
func q8g4AVX2(w *byte, s *byte, xq *int16, xd *float32, nb int, qstride int, dstride int, out *float32, ostride int, add int) {
	panic("unreachable")
}
func q8g8AVX2(w *byte, s *byte, xq *int16, xd *float32, nb int, qstride int, dstride int, out *float32, ostride int, add int, ng int, gstride int) {
	panic("unreachable")
}

func maxIntoAVX2(dst, src *float32, n int) { panic("unreachable") }

func q8g4VNNI(w *byte, s *byte, xq *int16, xd *float32, nb int, qstride int, dstride int, out *float32, ostride int, add int, ng int, gstride int) {
	panic("unreachable")
}
func q8g8VNNI(w *byte, s *byte, xq *int16, xd *float32, nb int, qstride int, dstride int, out *float32, ostride int, add int, ng int, gstride int) {
	panic("unreachable")
}
func q8PackU8VNNI(dst *byte, src *int16, qstride int, nb int, ntok int) { panic("unreachable") }
func q8PackU8AVX2(dst *byte, src *int16, qstride int, nb int, ntok int) { panic("unreachable") }
func q8g4AVXVNNI(w *byte, s *byte, xu *byte, xd *float32, nb int, ustride int, dstride int, out *float32, ostride int, add int, ng int, gstride int) {
	panic("unreachable")
}
func q8g4DPBUSD16(w *byte, s *byte, xu *byte, xd *float32, nb int, ustride int, dstride int, out *float32, ostride int, add int, ng int, gstride int, pfd int) {
	panic("unreachable")
}
func q8g4DPBUSD16S(w *byte, s *byte, xu *byte, xd *float32, nb int, ustride int, dstride int, out *float32, ostride int, add int, ng int, gstride int, pfd int) {
	panic("unreachable")
}
func q8g8AVXVNNI(w *byte, s *byte, xu *byte, xd *float32, nb int, ustride int, dstride int, out *float32, ostride int, add int, ng int, gstride int) {
	panic("unreachable")
}
func q8g8DPBUSD(w *byte, s *byte, xu *byte, xd *float32, nb int, ustride int, dstride int, out *float32, ostride int, add int, ng int, gstride int) {
	panic("unreachable")
}
func q8g8DPBUSD16(w *byte, s *byte, xu *byte, xd *float32, nb int, ustride int, dstride int, out *float32, ostride int, add int, ng int, gstride int, pfd int) {
	panic("unreachable")
}
func q8g8DPBUSD16S(w *byte, s *byte, xu *byte, xd *float32, nb int, ustride int, dstride int, out *float32, ostride int, add int, ng int, gstride int, pfd int) {
	panic("unreachable")
}
