//go:build amd64 && !purego

package cpu

//go:generate python3 scores_avx512_gen.py

import "os"

// The AVX2 kernels in kernels_amd64.s. Pointers and lengths instead of slices: the Go
// wrappers in kernels.go check the lengths once, and the assembly trusts them.

//go:noescape
func dotF32AVX2(a, b *float32, n int) float32

//go:noescape
func dotF16AVX2(w *uint16, x *float32, n int) float32

//go:noescape
func dotBF16AVX2(w *uint16, x *float32, n int) float32

//go:noescape
func dot4F32AVX2(w *float32, stride int, x *float32, n int, out *float32)

//go:noescape
func dot4F16AVX2(w *uint16, stride int, x *float32, n int, out *float32)

//go:noescape
func dot4BF16AVX2(w *uint16, stride int, x *float32, n int, out *float32)

//go:noescape
func gemm3x4F32AVX2(w *float32, ldw int, x *float32, ldx int, n int, out *float32)

//go:noescape
func cvtF16AVX2(dst *float32, src *uint16, n int)

//go:noescape
func cvtBF16AVX2(dst *float32, src *uint16, n int)

//go:noescape
func axpyAVX2(a float32, x, y *float32, n int)

func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

func xgetbv() (eax, edx uint32)

// hasAVX2 says the kernels above can run: AVX2, FMA and F16C in the CPU, and the OS saving the
// YMM registers (XCR0 bits 1 and 2). Read once at start-up; tests may turn it off to run the
// portable kernels.
var hasAVX2 = detectAVX2()

func detectAVX2() bool {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const (
		fma     = 1 << 12
		osxsave = 1 << 27
		avx     = 1 << 28
		f16c    = 1 << 29
	)
	if ecx1&(fma|osxsave|avx|f16c) != fma|osxsave|avx|f16c {
		return false
	}
	if xcr0, _ := xgetbv(); xcr0&6 != 6 {
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<5) != 0 // AVX2
}

// hasVNNI says the AVX-512 VNNI kernels (q8vnni_amd64.s: the q8_0 group products for four and
// eight tokens) can run alongside the AVX2 ones: AVX-512F, BW, VL and VNNI in the CPU (CPUID
// leaf 7: EBX bits 16, 30, 31, ECX bit 11), and the OS saving the opmask and ZMM state as well
// as the YMM (XCR0 bits 1, 2, 5, 6, 7). Setting ARBOR_NO_VNNI=1 in the environment turns them
// off (the AVX2 kernels run instead), to measure one against the other. Read once at
// start-up; tests may turn it off. The dispatch checks hasAVX2 first.
var hasVNNI = hasAVX2 && detectVNNI() && os.Getenv("ARBOR_NO_VNNI") != "1"

// hasVBMI says q8g1x4DPBUSD can run as well: hasVNNI and AVX-512 VBMI (VPERMB; CPUID leaf 7
// ECX bit 1), which Zen 4, Zen 5 and Intel CPUs from Ice Lake on have and Cascade Lake lacks.
// ARBOR_NO_VBMI=1 turns it off (one token's products then take q8g1x4VNNI), to measure one
// against the other. Read once at start-up; tests may turn it off.
var hasVBMI = hasVNNI && detectVBMI() && os.Getenv("ARBOR_NO_VBMI") != "1"

// hasAVXVNNI says the AVX-VNNI kernel (q8g8AVXVNNI: eight tokens' q8_0 products with the
// VEX-encoded, 256-bit VPDPBUSD) can run: AVX-VNNI in the CPU (CPUID leaf 7 subleaf 1, EAX bit
// 4: Intel's cores from Alder Lake on, Zen 5) and hasAVX2. Where hasVNNI holds too the
// AVX-512 kernels take those products instead. ARBOR_NO_AVXVNNI=1 turns it off, to measure one
// against the other. Read once at start-up; tests may turn it off.
var hasAVXVNNI = hasAVX2 && detectAVXVNNI() && os.Getenv("ARBOR_NO_AVXVNNI") != "1"

func detectAVXVNNI() bool {
	if maxID, _, _, _ := cpuid(0, 0); maxID < 7 {
		return false
	}
	if maxSub, _, _, _ := cpuid(7, 0); maxSub < 1 { // leaf 7's subleaves
		return false
	}
	eax1, _, _, _ := cpuid(7, 1)
	return eax1&(1<<4) != 0
}

func detectVBMI() bool {
	_, _, ecx7, _ := cpuid(7, 0)
	return ecx7&(1<<1) != 0
}

func detectVNNI() bool {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false
	}
	if _, _, ecx1, _ := cpuid(1, 0); ecx1&(1<<27) == 0 { // OSXSAVE: XGETBV is there
		return false
	}
	if xcr0, _ := xgetbv(); xcr0&0xe6 != 0xe6 {
		return false
	}
	_, ebx7, ecx7, _ := cpuid(7, 0)
	const f, bw, vl = 1 << 16, 1 << 30, 1 << 31
	return ebx7&(f|bw|vl) == f|bw|vl && ecx7&(1<<11) != 0
}

//go:noescape
func expSubAVX2(s *float32, n int, m float32) float32

//go:noescape
func maxAVX2(s *float32, n int) float32

//go:noescape
func scaleAVX2(s *float32, n int, c float32)

//go:noescape
func swigluAVX2(gate, up *float32, n int)

//go:noescape
func sumSquaresAVX2(x *float32, n int) float64

//go:noescape
func normScaleAVX2(out, x, w *float32, n int, s float32)

//go:noescape
func scores4AVX2(q0, q1, q2, q3 *float32, k *float32, rows *int32, n int, hd int, s0, s1, s2, s3 *float32, scale float32)

//go:noescape
func pv2AVX2(p0, p1 *float32, v *float32, rows *int32, n int, nc int, o0, o1 *float32)

//go:noescape
func scores4F16AVX2(q0, q1, q2, q3 *float32, k *uint16, rows *int32, n int, hd int, s0, s1, s2, s3 *float32, scale float32)

//go:noescape
func scores2F16AVX2(q0, q1 *float32, k *uint16, rows *int32, n int, hd int, s0, s1 *float32, scale float32)

//go:noescape
func pv2F16AVX2(p0, p1 *float32, v *uint16, rows *int32, n int, nc int, o0, o1 *float32)

// The 512-bit score and value kernels (scoresAVX512, scoresF16AVX512, pvF16AVX512) are declared
// in attn_avx512_amd64.go, which scores_avx512_gen.py writes with them.

//go:noescape
func cvtF32ToF16AVX2(dst *uint16, src *float32, n int)

//go:noescape
func quantizeQ8AVX2(x *float32, q *int16, d *float32, nb int)

//go:noescape
func prefetchRowsAVX2(p *byte, rows *int32, n int, shift int, size int)

//go:noescape
func prefetchAVX2(p *byte, n int)

//go:noescape
func q8g1AVX2(w *byte, s *byte, xq *int16, xd *float32, nb int, out *float32, add int)

//go:noescape
func q8g1x4AVX2(w *byte, s *byte, xq *int16, xd *float32, nb int, sstride int, out *float32, ostride int, add int, ng int, gstride int)

// q8g1x4PF is q8g1x4AVX2 with each stream prefetched pfd bytes ahead: what CPUs with VNNI ran
// for one token before q8g1x4VNNI, kept for ARBOR_VNNI_ONE=0 (see q8group_gen.py: measured
// faster than none on a Zen 5; on a Zen 3, which lacks AVX-512, shorter prefetch distances
// measured slower than none).
//
//go:noescape
func q8g1x4PF(w *byte, s *byte, xq *int16, xd *float32, nb int, sstride int, out *float32, ostride int, add int, ng int, gstride int, pfd int)

// q8g1x4VNNI is q8g1x4PF on 512-bit registers with VPDPWSSD (AVX-512 VNNI), its outputs
// bit for bit (see q8group_gen.py).
//
//go:noescape
func q8g1x4VNNI(w *byte, s *byte, xq *int16, xd *float32, nb int, sstride int, out *float32, ostride int, add int, ng int, gstride int, pfd int)

// q8g1x4DPBUSD is q8g1x4VNNI with VPERMB and VPDPBUSD on the weights' bytes (AVX-512 VBMI and
// VNNI): three instructions per 64 bytes of weights instead of four, its outputs bit for bit
// q8g1x4PF's (see q8group_gen.py).
//
//go:noescape
func q8g1x4DPBUSD(w *byte, s *byte, xq *int16, xd *float32, nb int, sstride int, out *float32, ostride int, add int, ng int, gstride int, pfd int)

//go:noescape
func q8g4AVX2(w *byte, s *byte, xq *int16, xd *float32, nb int, qstride int, dstride int, out *float32, ostride int, add int)

//go:noescape
func q8g8AVX2(w *byte, s *byte, xq *int16, xd *float32, nb int, qstride int, dstride int, out *float32, ostride int, add int, ng int, gstride int)

//go:noescape
func maxIntoAVX2(dst, src *float32, n int)

//go:noescape
func q8g4VNNI(w *byte, s *byte, xq *int16, xd *float32, nb int, qstride int, dstride int, out *float32, ostride int, add int, ng int, gstride int)

//go:noescape
func q8g8VNNI(w *byte, s *byte, xq *int16, xd *float32, nb int, qstride int, dstride int, out *float32, ostride int, add int, ng int, gstride int)

//go:noescape
func q8PackU8VNNI(dst *byte, src *int16, qstride int, nb int, ntok int)

//go:noescape
func q8PackU8AVX2(dst *byte, src *int16, qstride int, nb int, ntok int)

//go:noescape
func q8g4AVXVNNI(w *byte, s *byte, xu *byte, xd *float32, nb int, ustride int, dstride int, out *float32, ostride int, add int, ng int, gstride int)

//go:noescape
func q8g4DPBUSD16(w *byte, s *byte, xu *byte, xd *float32, nb int, ustride int, dstride int, out *float32, ostride int, add int, ng int, gstride int, pfd int)

//go:noescape
func q8g4DPBUSD16S(w *byte, s *byte, xu *byte, xd *float32, nb int, ustride int, dstride int, out *float32, ostride int, add int, ng int, gstride int, pfd int)

//go:noescape
func q8g8AVXVNNI(w *byte, s *byte, xu *byte, xd *float32, nb int, ustride int, dstride int, out *float32, ostride int, add int, ng int, gstride int)

//go:noescape
func q8g8DPBUSD(w *byte, s *byte, xu *byte, xd *float32, nb int, ustride int, dstride int, out *float32, ostride int, add int, ng int, gstride int)

//go:noescape
func q8g8DPBUSD16(w *byte, s *byte, xu *byte, xd *float32, nb int, ustride int, dstride int, out *float32, ostride int, add int, ng int, gstride int, pfd int)

//go:noescape
func q8g8DPBUSD16S(w *byte, s *byte, xu *byte, xd *float32, nb int, ustride int, dstride int, out *float32, ostride int, add int, ng int, gstride int, pfd int)
