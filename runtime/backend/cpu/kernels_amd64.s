//go:build amd64 && !purego

#include "textflag.h"

// Every function ends with PCALIGN $2048 (after its RET, never run), which makes the linker
// start it on a 2 KiB boundary, so that no kernel shorter than that straddles a 4 KiB boundary
// of the code, which slowed a kernel's loop by 10 to 15%, nor sits on whichever half of a
// cache line the Go code before it leaves (asmalign.py's align_functions, which adds the same
// to the generated files, has the figures). Keep it when adding a function.

// AVX2 + FMA + F16C kernels. Every function ends with VZEROUPPER so that SSE code in the
// runtime pays no transition penalty. Accumulators are kept in several registers so that the
// FMA latency (4-5 cycles) does not serialise the loop.

// func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL eaxArg+0(FP), AX
	MOVL ecxArg+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET

// func xgetbv() (eax, edx uint32)
	PCALIGN $2048
TEXT ·xgetbv(SB), NOSPLIT, $0-8
	MOVL $0, CX
	XGETBV
	MOVL AX, eax+0(FP)
	MOVL DX, edx+4(FP)
	RET

// HSUM_Y0 reduces the 8 lanes a of Y0 into the low lane of X0 as
// ((a0+a1)+(a2+a3)) + ((a4+a5)+(a6+a7)), the order in which DOT4_SUM reduces each of its four
// rows, so that one row's sum does not depend on which kernel computed it (clobbers X1).
#define HSUM_Y0 \
	VHADDPS      Y0, Y0, Y0 \
	VHADDPS      Y0, Y0, Y0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDSS       X1, X0, X0

// The single-row dots keep two accumulators (columns 16i..16i+7 and 16i+8..16i+15), as the
// four-row kernels below do for each row: a weight row's product is then bit for bit the same
// whether the one-token product reads it in a block of four or alone, and whether a token goes
// through the one-token product or is a prefill's remainder token (dot over a widened row).

// func dotF32AVX2(a, b *float32, n int) float32
	PCALIGN $2048
TEXT ·dotF32AVX2(SB), NOSPLIT, $0-28
	MOVQ   a+0(FP), SI
	MOVQ   b+8(FP), DI
	MOVQ   n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1

f32loop16:
	CMPQ        CX, $16
	JLT         f32loop8
	VMOVUPS     0(SI), Y4
	VMOVUPS     32(SI), Y5
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	ADDQ        $64, SI
	ADDQ        $64, DI
	SUBQ        $16, CX
	JMP         f32loop16

f32loop8:
	CMPQ        CX, $8
	JLT         f32reduce
	VMOVUPS     0(SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX

f32reduce:
	VADDPS Y1, Y0, Y0
	HSUM_Y0

f32tail:
	TESTQ       CX, CX
	JEQ         f32done
	VMOVSS      (SI), X1
	VFMADD231SS (DI), X1, X0
	ADDQ        $4, SI
	ADDQ        $4, DI
	DECQ        CX
	JMP         f32tail

f32done:
	VMOVSS     X0, ret+24(FP)
	VZEROUPPER
	RET

// func dotF16AVX2(w *uint16, x *float32, n int) float32
	PCALIGN $2048
TEXT ·dotF16AVX2(SB), NOSPLIT, $0-28
	MOVQ   w+0(FP), SI
	MOVQ   x+8(FP), DI
	MOVQ   n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1

f16loop16:
	CMPQ        CX, $16
	JLT         f16loop8
	VCVTPH2PS   0(SI), Y4
	VCVTPH2PS   16(SI), Y5
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	ADDQ        $32, SI
	ADDQ        $64, DI
	SUBQ        $16, CX
	JMP         f16loop16

f16loop8:
	CMPQ        CX, $8
	JLT         f16reduce
	VCVTPH2PS   0(SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ        $16, SI
	ADDQ        $32, DI
	SUBQ        $8, CX

f16reduce:
	VADDPS Y1, Y0, Y0
	HSUM_Y0

f16tail:
	TESTQ       CX, CX
	JEQ         f16done
	MOVWLZX     (SI), AX
	VMOVD       AX, X1
	VCVTPH2PS   X1, X1
	VFMADD231SS (DI), X1, X0
	ADDQ        $2, SI
	ADDQ        $4, DI
	DECQ        CX
	JMP         f16tail

f16done:
	VMOVSS     X0, ret+24(FP)
	VZEROUPPER
	RET

// func dotBF16AVX2(w *uint16, x *float32, n int) float32
	PCALIGN $2048
TEXT ·dotBF16AVX2(SB), NOSPLIT, $0-28
	MOVQ   w+0(FP), SI
	MOVQ   x+8(FP), DI
	MOVQ   n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1

bf16loop16:
	CMPQ        CX, $16
	JLT         bf16loop8
	VPMOVZXWD   0(SI), Y4
	VPSLLD      $16, Y4, Y4
	VPMOVZXWD   16(SI), Y5
	VPSLLD      $16, Y5, Y5
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	ADDQ        $32, SI
	ADDQ        $64, DI
	SUBQ        $16, CX
	JMP         bf16loop16

bf16loop8:
	CMPQ        CX, $8
	JLT         bf16reduce
	VPMOVZXWD   0(SI), Y4
	VPSLLD      $16, Y4, Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ        $16, SI
	ADDQ        $32, DI
	SUBQ        $8, CX

bf16reduce:
	VADDPS Y1, Y0, Y0
	HSUM_Y0

bf16tail:
	TESTQ       CX, CX
	JEQ         bf16done
	MOVWLZX     (SI), AX
	SHLL        $16, AX
	VMOVD       AX, X1
	VFMADD231SS (DI), X1, X0
	ADDQ        $2, SI
	ADDQ        $4, DI
	DECQ        CX
	JMP         bf16tail

bf16done:
	VMOVSS     X0, ret+24(FP)
	VZEROUPPER
	RET

// ZERO12 clears the twelve sums of a 3 x 4 register block (Y0..Y11).
#define ZERO12 \
	VXORPS Y0, Y0, Y0 \
	VXORPS Y1, Y1, Y1 \
	VXORPS Y2, Y2, Y2 \
	VXORPS Y3, Y3, Y3 \
	VXORPS Y4, Y4, Y4 \
	VXORPS Y5, Y5, Y5 \
	VXORPS Y6, Y6, Y6 \
	VXORPS Y7, Y7, Y7 \
	VXORPS Y8, Y8, Y8 \
	VXORPS Y9, Y9, Y9 \
	VXORPS Y10, Y10, Y10 \
	VXORPS Y11, Y11, Y11

// HADD4 sums each of four 8-lane vectors A, B, C, D horizontally into the four lanes of XA
// (A's sum first); XB, the low half of B, is scratch.
#define HADD4(A, B, C, D, XA, XB) \
	VHADDPS      B, A, A \
	VHADDPS      D, C, C \
	VHADDPS      C, A, A \
	VEXTRACTF128 $1, A, XB \
	VADDPS       XB, XA, XA

// func gemm3x4F32AVX2(w *float32, ldw int, x *float32, ldx int, n int, out *float32)
//
// The 3-row x 4-token register block of a float32 matrix product in dot form: rows at
// w+r*ldw, tokens at x+t*ldx (strides in floats), n a multiple of 8. The three weight vectors
// stay in registers and each activation vector is an FMA memory operand, so the twelve
// accumulators (Y0..Y11) fit in the sixteen registers with the weights (Y12..Y14). out gets
// twelve sums, row-major: out[r*4+t].
	PCALIGN $2048
TEXT ·gemm3x4F32AVX2(SB), NOSPLIT, $0-48
	MOVQ   w+0(FP), SI
	MOVQ   ldw+8(FP), R8
	MOVQ   x+16(FP), DI
	MOVQ   ldx+24(FP), R9
	MOVQ   n+32(FP), CX
	SHLQ   $2, R8
	SHLQ   $2, R9
	LEAQ   (R9)(R9*2), R10
	ZERO12

g34loop:
	CMPQ        CX, $8
	JLT         g34done
	VMOVUPS     (SI), Y12
	VMOVUPS     (SI)(R8*1), Y13
	VMOVUPS     (SI)(R8*2), Y14
	VFMADD231PS (DI), Y12, Y0
	VFMADD231PS (DI), Y13, Y4
	VFMADD231PS (DI), Y14, Y8
	VFMADD231PS (DI)(R9*1), Y12, Y1
	VFMADD231PS (DI)(R9*1), Y13, Y5
	VFMADD231PS (DI)(R9*1), Y14, Y9
	VFMADD231PS (DI)(R9*2), Y12, Y2
	VFMADD231PS (DI)(R9*2), Y13, Y6
	VFMADD231PS (DI)(R9*2), Y14, Y10
	VFMADD231PS (DI)(R10*1), Y12, Y3
	VFMADD231PS (DI)(R10*1), Y13, Y7
	VFMADD231PS (DI)(R10*1), Y14, Y11
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         g34loop

g34done:
	MOVQ         out+40(FP), DI
	HADD4(Y0, Y1, Y2, Y3, X0, X1)
	VMOVUPS      X0, (DI)
	HADD4(Y4, Y5, Y6, Y7, X4, X5)
	VMOVUPS      X4, 16(DI)
	HADD4(Y8, Y9, Y10, Y11, X8, X9)
	VMOVUPS      X8, 32(DI)
	VZEROUPPER
	RET

// func cvtF16AVX2(dst *float32, src *uint16, n int)
	PCALIGN $2048
TEXT ·cvtF16AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

cf16loop8:
	CMPQ      CX, $8
	JLT       cf16tail
	VCVTPH2PS (SI), Y0
	VMOVUPS   Y0, (DI)
	ADDQ      $16, SI
	ADDQ      $32, DI
	SUBQ      $8, CX
	JMP       cf16loop8

cf16tail:
	TESTQ     CX, CX
	JEQ       cf16done
	MOVWLZX   (SI), AX
	VMOVD     AX, X0
	VCVTPH2PS X0, X0
	VMOVSS    X0, (DI)
	ADDQ      $2, SI
	ADDQ      $4, DI
	DECQ      CX
	JMP       cf16tail

cf16done:
	VZEROUPPER
	RET

// func cvtBF16AVX2(dst *float32, src *uint16, n int)
	PCALIGN $2048
TEXT ·cvtBF16AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

cbf16loop8:
	CMPQ      CX, $8
	JLT       cbf16tail
	VPMOVZXWD (SI), Y0
	VPSLLD    $16, Y0, Y0
	VMOVUPS   Y0, (DI)
	ADDQ      $16, SI
	ADDQ      $32, DI
	SUBQ      $8, CX
	JMP       cbf16loop8

cbf16tail:
	TESTQ   CX, CX
	JEQ     cbf16done
	MOVWLZX (SI), AX
	SHLL    $16, AX
	MOVL    AX, (DI)
	ADDQ    $2, SI
	ADDQ    $4, DI
	DECQ    CX
	JMP     cbf16tail

cbf16done:
	VZEROUPPER
	RET

// func axpyAVX2(a float32, x, y *float32, n int)
	PCALIGN $2048
TEXT ·axpyAVX2(SB), NOSPLIT, $0-32
	VBROADCASTSS a+0(FP), Y0
	MOVQ         x+8(FP), SI
	MOVQ         y+16(FP), DI
	MOVQ         n+24(FP), CX

axloop16:
	CMPQ        CX, $16
	JLT         axloop8
	VMOVUPS     (DI), Y1
	VMOVUPS     32(DI), Y2
	VFMADD231PS (SI), Y0, Y1
	VFMADD231PS 32(SI), Y0, Y2
	VMOVUPS     Y1, (DI)
	VMOVUPS     Y2, 32(DI)
	ADDQ        $64, SI
	ADDQ        $64, DI
	SUBQ        $16, CX
	JMP         axloop16

axloop8:
	CMPQ        CX, $8
	JLT         axtail
	VMOVUPS     (DI), Y1
	VFMADD231PS (SI), Y0, Y1
	VMOVUPS     Y1, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         axloop8

axtail:
	TESTQ       CX, CX
	JEQ         axdone
	VMOVSS      (DI), X1
	VFMADD231SS (SI), X0, X1
	VMOVSS      X1, (DI)
	ADDQ        $4, SI
	ADDQ        $4, DI
	DECQ        CX
	JMP         axtail

axdone:
	VZEROUPPER
	RET

// exp over eight floats at once: e^x = 2^n * e^r with n = round(x*log2(e)) and
// r = x - n*ln(2) (ln 2 split in two parts so r stays exact), e^r from its degree-6 Taylor
// polynomial (|r| <= ln(2)/2: relative error about 1e-7), and 2^n added to the exponent
// bits. x is clamped to [-87, 88] so that 2^n stays a normal float.
DATA expc<>+0(SB)/4, $0x3fb8aa3b  // log2(e)
DATA expc<>+4(SB)/4, $0x3f318000  // ln(2), high part
DATA expc<>+8(SB)/4, $0xb95e8083  // ln(2), low part
DATA expc<>+12(SB)/4, $0x3ab60b61 // 1/720
DATA expc<>+16(SB)/4, $0x3c088889 // 1/120
DATA expc<>+20(SB)/4, $0x3d2aaaab // 1/24
DATA expc<>+24(SB)/4, $0x3e2aaaab // 1/6
DATA expc<>+28(SB)/4, $0x3f000000 // 1/2
DATA expc<>+32(SB)/4, $0x42b00000 // 88
DATA expc<>+36(SB)/4, $0xc2ae0000 // -87
DATA expc<>+40(SB)/4, $0x3f800000 // 1
DATA expc<>+44(SB)/4, $0x80000000 // sign bit
GLOBL expc<>(SB), RODATA|NOPTR, $48

#define EXP_CONSTS \
	VBROADCASTSS expc<>+0(SB), Y4 \
	VBROADCASTSS expc<>+4(SB), Y5 \
	VBROADCASTSS expc<>+8(SB), Y6 \
	VBROADCASTSS expc<>+12(SB), Y7 \
	VBROADCASTSS expc<>+16(SB), Y8 \
	VBROADCASTSS expc<>+20(SB), Y9 \
	VBROADCASTSS expc<>+24(SB), Y10 \
	VBROADCASTSS expc<>+28(SB), Y11 \
	VBROADCASTSS expc<>+32(SB), Y12 \
	VBROADCASTSS expc<>+36(SB), Y13 \
	VBROADCASTSS expc<>+40(SB), Y14

// Y0 = exp(Y0), using Y1 and Y2, with the constants of EXP_CONSTS in Y4..Y14.
#define EXP_Y0 \
	VMAXPS       Y13, Y0, Y0 \
	VMINPS       Y12, Y0, Y0 \
	VMULPS       Y4, Y0, Y1 \
	VROUNDPS     $0, Y1, Y1 \
	VFNMADD231PS Y5, Y1, Y0 \
	VFNMADD231PS Y6, Y1, Y0 \
	VMOVAPS      Y7, Y2 \
	VFMADD213PS  Y8, Y0, Y2 \
	VFMADD213PS  Y9, Y0, Y2 \
	VFMADD213PS  Y10, Y0, Y2 \
	VFMADD213PS  Y11, Y0, Y2 \
	VFMADD213PS  Y14, Y0, Y2 \
	VFMADD213PS  Y14, Y0, Y2 \
	VCVTPS2DQ    Y1, Y1 \
	VPSLLD       $23, Y1, Y1 \
	VPADDD       Y2, Y1, Y0

// func expSubAVX2(s *float32, n int, m float32) float32
//
// s[i] = exp(s[i]-m) for i < n (a multiple of 8); returns their sum (softmax).
	PCALIGN $2048
TEXT ·expSubAVX2(SB), NOSPLIT, $0-28
	MOVQ         s+0(FP), DI
	MOVQ         n+8(FP), CX
	VBROADCASTSS m+16(FP), Y15
	EXP_CONSTS
	VXORPS       Y3, Y3, Y3

esloop:
	CMPQ    CX, $8
	JLT     esdone
	VMOVUPS (DI), Y0
	VSUBPS  Y15, Y0, Y0
	EXP_Y0
	VMOVUPS Y0, (DI)
	VADDPS  Y0, Y3, Y3
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     esloop

esdone:
	VMOVAPS Y3, Y0
	HSUM_Y0
	VMOVSS     X0, ret+24(FP)
	VZEROUPPER
	RET

// func maxAVX2(s *float32, n int) float32
//
// The largest of s[0:n] (n a positive multiple of 8). NaNs after s[0] lose, as in
// softmaxInPlace's loop: VMAXPS keeps its second source unless the first is greater.
	PCALIGN $2048
TEXT ·maxAVX2(SB), NOSPLIT, $0-20
	MOVQ         s+0(FP), DI
	MOVQ         n+8(FP), CX
	VBROADCASTSS (DI), Y0

mxloop:
	VMOVUPS      (DI), Y1
	VMAXPS       Y0, Y1, Y0
	ADDQ         $32, DI
	SUBQ         $8, CX
	JNZ          mxloop
	VEXTRACTF128 $1, Y0, X1
	VMAXPS       X0, X1, X0
	VPERMILPS    $0x4e, X0, X1
	VMAXPS       X0, X1, X0
	VPERMILPS    $0xb1, X0, X1
	VMAXPS       X0, X1, X0
	VMOVSS       X0, ret+16(FP)
	VZEROUPPER
	RET

// func scaleAVX2(s *float32, n int, c float32)
//
// s[i] *= c for i < n (a positive multiple of 8).
	PCALIGN $2048
TEXT ·scaleAVX2(SB), NOSPLIT, $0-20
	MOVQ         s+0(FP), DI
	MOVQ         n+8(FP), CX
	VBROADCASTSS c+16(FP), Y1

scloop:
	VMULPS       (DI), Y1, Y0
	VMOVUPS      Y0, (DI)
	ADDQ         $32, DI
	SUBQ         $8, CX
	JNZ          scloop
	VZEROUPPER
	RET

// func swigluAVX2(gate, up *float32, n int)
//
// g[i] = g[i] / (1 + exp(-g[i])) * u[i] for i < n (a multiple of 8): SiLU of the gate times
// the up projection.
	PCALIGN $2048
TEXT ·swigluAVX2(SB), NOSPLIT, $0-24
	MOVQ         gate+0(FP), DI
	MOVQ         up+8(FP), SI
	MOVQ         n+16(FP), CX
	EXP_CONSTS
	VBROADCASTSS expc<>+44(SB), Y15

swloop:
	CMPQ    CX, $8
	JLT     swdone
	VMOVUPS (DI), Y3
	VXORPS  Y15, Y3, Y0
	EXP_Y0
	VADDPS  Y14, Y0, Y0
	VMULPS  (SI), Y3, Y3
	VDIVPS  Y0, Y3, Y3
	VMOVUPS Y3, (DI)
	ADDQ    $32, DI
	ADDQ    $32, SI
	SUBQ    $8, CX
	JMP     swloop

swdone:
	VZEROUPPER
	RET

// func sumSquaresAVX2(x *float32, n int) float64
//
// The sum of x[i]*x[i] for i < n (a positive multiple of 16), in float64 as RMSNorm takes it:
// each square is exact there, and four sums of four lanes keep the adds' latency covered.
	PCALIGN $2048
TEXT ·sumSquaresAVX2(SB), NOSPLIT, $0-24
	MOVQ        x+0(FP), SI
	MOVQ        n+8(FP), CX
	VXORPD      Y0, Y0, Y0
	VXORPD      Y1, Y1, Y1
	VXORPD      Y2, Y2, Y2
	VXORPD      Y3, Y3, Y3

ssloop:
	VCVTPS2PD   (SI), Y4
	VCVTPS2PD   16(SI), Y5
	VCVTPS2PD   32(SI), Y6
	VCVTPS2PD   48(SI), Y7
	VFMADD231PD Y4, Y4, Y0
	VFMADD231PD Y5, Y5, Y1
	VFMADD231PD Y6, Y6, Y2
	VFMADD231PD Y7, Y7, Y3
	ADDQ        $64, SI
	SUBQ        $16, CX
	JNZ         ssloop
	VADDPD      Y1, Y0, Y0
	VADDPD      Y3, Y2, Y2
	VADDPD      Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD      X1, X0, X0
	VPERMILPD   $1, X0, X1
	VADDSD      X1, X0, X0
	VMOVSD      X0, ret+16(FP)
	VZEROUPPER
	RET

// func normScaleAVX2(out, x, w *float32, n int, s float32)
//
// out[i] = x[i] * s * w[i] for i < n (a positive multiple of 8), rounded as RMSNorm's loop
// rounds: (x*s)*w. out may be x.
	PCALIGN $2048
TEXT ·normScaleAVX2(SB), NOSPLIT, $0-36
	MOVQ         out+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         w+16(FP), DX
	MOVQ         n+24(FP), CX
	VBROADCASTSS s+32(FP), Y15

nsloop:
	VMULPS       (SI), Y15, Y0
	VMULPS       (DX), Y0, Y0
	VMOVUPS      Y0, (DI)
	ADDQ         $32, SI
	ADDQ         $32, DX
	ADDQ         $32, DI
	SUBQ         $8, CX
	JNZ          nsloop
	VZEROUPPER
	RET

// func scores4AVX2(q0, q1, q2, q3 *float32, k *float32, rows *int32, n int, hd int, s0, s1, s2, s3 *float32, scale float32)
//
// Attention scores of four query heads (q0..q3, hd floats each) against the n >= 3 key rows at
// k+rows[j] (offsets in floats), in 3-key x 4-head register blocks: head t's scaled score for
// key j goes to st[j]. The last block overlaps the one before it where n is not a multiple of
// three (recomputing a score, harmlessly). The loop over keys is here rather than in Go: a
// block is only 8 x 12 FMAs at hd 64, and a Go call per block cost as much as the block. The
// sums are those of gemm3x4F32AVX2 (the same lanes, the same horizontal tree); hd a multiple
// of 8. Registers: Y0..Y11 the sums (key r, head t in Y(4r+t)), Y12..Y14 the keys, X15 scale.
	PCALIGN $2048
TEXT ·scores4AVX2(SB), NOSPLIT, $0-100
	MOVQ         q0+0(FP), SI
	MOVQ         q1+8(FP), DI
	MOVQ         q2+16(FP), R8
	MOVQ         q3+24(FP), R9
	MOVQ         k+32(FP), DX
	MOVQ         rows+40(FP), BX
	MOVQ         hd+56(FP), R13
	SHLQ         $2, R13
	VBROADCASTSS scale+96(FP), X15
	XORQ         CX, CX

sc4block:
	MOVQ         n+48(FP), AX
	SUBQ         $3, AX
	CMPQ         CX, AX
	CMOVQGT      AX, CX
	MOVLQSX      (BX)(CX*4), R10
	LEAQ         (DX)(R10*4), R10
	MOVLQSX      4(BX)(CX*4), R11
	LEAQ         (DX)(R11*4), R11
	MOVLQSX      8(BX)(CX*4), R12
	LEAQ         (DX)(R12*4), R12
	ZERO12
	XORQ         AX, AX

sc4loop:
	VMOVUPS      (R10)(AX*1), Y12
	VMOVUPS      (R11)(AX*1), Y13
	VMOVUPS      (R12)(AX*1), Y14
	VFMADD231PS  (SI)(AX*1), Y12, Y0
	VFMADD231PS  (SI)(AX*1), Y13, Y4
	VFMADD231PS  (SI)(AX*1), Y14, Y8
	VFMADD231PS  (DI)(AX*1), Y12, Y1
	VFMADD231PS  (DI)(AX*1), Y13, Y5
	VFMADD231PS  (DI)(AX*1), Y14, Y9
	VFMADD231PS  (R8)(AX*1), Y12, Y2
	VFMADD231PS  (R8)(AX*1), Y13, Y6
	VFMADD231PS  (R8)(AX*1), Y14, Y10
	VFMADD231PS  (R9)(AX*1), Y12, Y3
	VFMADD231PS  (R9)(AX*1), Y13, Y7
	VFMADD231PS  (R9)(AX*1), Y14, Y11
	ADDQ         $32, AX
	CMPQ         AX, R13
	JLT          sc4loop
	HADD4(Y0, Y1, Y2, Y3, X0, X1)
	VMULPS       X15, X0, X0
	HADD4(Y4, Y5, Y6, Y7, X4, X5)
	VMULPS       X15, X4, X4
	HADD4(Y8, Y9, Y10, Y11, X8, X9)
	VMULPS       X15, X8, X8
	MOVQ         s0+64(FP), R10
	LEAQ         (R10)(CX*4), R10
	VMOVSS       X0, (R10)
	VMOVSS       X4, 4(R10)
	VMOVSS       X8, 8(R10)
	MOVQ         s1+72(FP), R10
	LEAQ         (R10)(CX*4), R10
	VEXTRACTPS   $1, X0, (R10)
	VEXTRACTPS   $1, X4, 4(R10)
	VEXTRACTPS   $1, X8, 8(R10)
	MOVQ         s2+80(FP), R10
	LEAQ         (R10)(CX*4), R10
	VEXTRACTPS   $2, X0, (R10)
	VEXTRACTPS   $2, X4, 4(R10)
	VEXTRACTPS   $2, X8, 8(R10)
	MOVQ         s3+88(FP), R10
	LEAQ         (R10)(CX*4), R10
	VEXTRACTPS   $3, X0, (R10)
	VEXTRACTPS   $3, X4, 4(R10)
	VEXTRACTPS   $3, X8, 8(R10)
	ADDQ         $3, CX
	CMPQ         CX, n+48(FP)
	JLT          sc4block
	VZEROUPPER
	RET

// func pv2AVX2(p0, p1 *float32, v *float32, rows *int32, n int, nc int, o0, o1 *float32)
//
// Two heads' attention outputs over the n >= 1 value rows at v+rows[j] (offsets in floats):
// ot[0:32*nc] += sum over j of pt[j] * row j, in nc 32-wide chunks, each chunk of both heads in
// registers (Y0..Y3 head 0, Y4..Y7 head 1) for the whole loop over rows, so that a row's four
// vectors are loaded once for two heads. The loop over rows is here rather than in Go, for
// the reason given at scores4AVX2. Where both heads are the same (p0 == p1, o0 == o1) the
// second store repeats the first.
	PCALIGN $2048
TEXT ·pv2AVX2(SB), NOSPLIT, $0-64
	MOVQ         p0+0(FP), SI
	MOVQ         p1+8(FP), DI
	MOVQ         v+16(FP), DX
	MOVQ         rows+24(FP), BX
	MOVQ         n+32(FP), R10
	MOVQ         nc+40(FP), R11
	MOVQ         o0+48(FP), R8
	MOVQ         o1+56(FP), R9

pv2chunk:
	VMOVUPS      (R8), Y0
	VMOVUPS      32(R8), Y1
	VMOVUPS      64(R8), Y2
	VMOVUPS      96(R8), Y3
	VMOVUPS      (R9), Y4
	VMOVUPS      32(R9), Y5
	VMOVUPS      64(R9), Y6
	VMOVUPS      96(R9), Y7
	XORQ         CX, CX

pv2row:
	MOVLQSX      (BX)(CX*4), AX
	LEAQ         (DX)(AX*4), AX
	VBROADCASTSS (SI)(CX*4), Y8
	VBROADCASTSS (DI)(CX*4), Y9
	VMOVUPS      (AX), Y10
	VMOVUPS      32(AX), Y11
	VMOVUPS      64(AX), Y12
	VMOVUPS      96(AX), Y13
	VFMADD231PS  Y10, Y8, Y0
	VFMADD231PS  Y11, Y8, Y1
	VFMADD231PS  Y12, Y8, Y2
	VFMADD231PS  Y13, Y8, Y3
	VFMADD231PS  Y10, Y9, Y4
	VFMADD231PS  Y11, Y9, Y5
	VFMADD231PS  Y12, Y9, Y6
	VFMADD231PS  Y13, Y9, Y7
	INCQ         CX
	CMPQ         CX, R10
	JLT          pv2row
	VMOVUPS      Y0, (R8)
	VMOVUPS      Y1, 32(R8)
	VMOVUPS      Y2, 64(R8)
	VMOVUPS      Y3, 96(R8)
	VMOVUPS      Y4, (R9)
	VMOVUPS      Y5, 32(R9)
	VMOVUPS      Y6, 64(R9)
	VMOVUPS      Y7, 96(R9)
	ADDQ         $128, DX
	ADDQ         $128, R8
	ADDQ         $128, R9
	DECQ         R11
	JNZ          pv2chunk
	VZEROUPPER
	RET

// func scores4F16AVX2(q0, q1, q2, q3 *float32, k *uint16, rows *int32, n int, hd int, s0, s1, s2, s3 *float32, scale float32)
//
// scores4AVX2 over an f16 key cache: rows[j] are offsets in halves, and each 8-key vector is
// widened (VCVTPH2PS, exact) as it is loaded, so the sums are bit for bit those of
// scores4AVX2 over the same keys in float32. AX steps through the keys' bytes, two per lane,
// and indexes the float32 queries scaled by two.
	PCALIGN $2048
TEXT ·scores4F16AVX2(SB), NOSPLIT, $0-100
	MOVQ         q0+0(FP), SI
	MOVQ         q1+8(FP), DI
	MOVQ         q2+16(FP), R8
	MOVQ         q3+24(FP), R9
	MOVQ         k+32(FP), DX
	MOVQ         rows+40(FP), BX
	MOVQ         hd+56(FP), R13
	SHLQ         $1, R13
	VBROADCASTSS scale+96(FP), X15
	XORQ         CX, CX

sc4hblock:
	MOVQ         n+48(FP), AX
	SUBQ         $3, AX
	CMPQ         CX, AX
	CMOVQGT      AX, CX
	MOVLQSX      (BX)(CX*4), R10
	LEAQ         (DX)(R10*2), R10
	MOVLQSX      4(BX)(CX*4), R11
	LEAQ         (DX)(R11*2), R11
	MOVLQSX      8(BX)(CX*4), R12
	LEAQ         (DX)(R12*2), R12
	ZERO12
	XORQ         AX, AX

sc4hloop:
	VCVTPH2PS    (R10)(AX*1), Y12
	VCVTPH2PS    (R11)(AX*1), Y13
	VCVTPH2PS    (R12)(AX*1), Y14
	VFMADD231PS  (SI)(AX*2), Y12, Y0
	VFMADD231PS  (SI)(AX*2), Y13, Y4
	VFMADD231PS  (SI)(AX*2), Y14, Y8
	VFMADD231PS  (DI)(AX*2), Y12, Y1
	VFMADD231PS  (DI)(AX*2), Y13, Y5
	VFMADD231PS  (DI)(AX*2), Y14, Y9
	VFMADD231PS  (R8)(AX*2), Y12, Y2
	VFMADD231PS  (R8)(AX*2), Y13, Y6
	VFMADD231PS  (R8)(AX*2), Y14, Y10
	VFMADD231PS  (R9)(AX*2), Y12, Y3
	VFMADD231PS  (R9)(AX*2), Y13, Y7
	VFMADD231PS  (R9)(AX*2), Y14, Y11
	ADDQ         $16, AX
	CMPQ         AX, R13
	JLT          sc4hloop
	HADD4(Y0, Y1, Y2, Y3, X0, X1)
	VMULPS       X15, X0, X0
	HADD4(Y4, Y5, Y6, Y7, X4, X5)
	VMULPS       X15, X4, X4
	HADD4(Y8, Y9, Y10, Y11, X8, X9)
	VMULPS       X15, X8, X8
	MOVQ         s0+64(FP), R10
	LEAQ         (R10)(CX*4), R10
	VMOVSS       X0, (R10)
	VMOVSS       X4, 4(R10)
	VMOVSS       X8, 8(R10)
	MOVQ         s1+72(FP), R10
	LEAQ         (R10)(CX*4), R10
	VEXTRACTPS   $1, X0, (R10)
	VEXTRACTPS   $1, X4, 4(R10)
	VEXTRACTPS   $1, X8, 8(R10)
	MOVQ         s2+80(FP), R10
	LEAQ         (R10)(CX*4), R10
	VEXTRACTPS   $2, X0, (R10)
	VEXTRACTPS   $2, X4, 4(R10)
	VEXTRACTPS   $2, X8, 8(R10)
	MOVQ         s3+88(FP), R10
	LEAQ         (R10)(CX*4), R10
	VEXTRACTPS   $3, X0, (R10)
	VEXTRACTPS   $3, X4, 4(R10)
	VEXTRACTPS   $3, X8, 8(R10)
	ADDQ         $3, CX
	CMPQ         CX, n+48(FP)
	JLT          sc4hblock
	VZEROUPPER
	RET

// func scores2F16AVX2(q0, q1 *float32, k *uint16, rows *int32, n int, hd int, s0, s1 *float32, scale float32)
//
// scores4F16AVX2 for two heads (n >= 4): four keys a block, eight sums (Y0..Y7, key r's two
// heads in Y(2r), Y(2r+1)), each reduced by HADD4 as the four-head kernel reduces its own, so
// the two heads' scores are that kernel's bit for bit. A KV head of two query heads (Qwen3's
// small models) went through the four-head kernel, which computed each score twice. A last
// block of fewer than four keys starts at n-4 and writes again, with the same values, scores
// the block before it wrote.
	PCALIGN $2048
TEXT ·scores2F16AVX2(SB), NOSPLIT, $0-68
	MOVQ         q0+0(FP), SI
	MOVQ         q1+8(FP), DI
	MOVQ         k+16(FP), DX
	MOVQ         rows+24(FP), BX
	MOVQ         hd+40(FP), R13
	SHLQ         $1, R13
	VBROADCASTSS scale+64(FP), X15
	XORQ         CX, CX

sc2hblock:
	MOVQ         n+32(FP), AX
	SUBQ         $4, AX
	CMPQ         CX, AX
	CMOVQGT      AX, CX
	MOVLQSX      (BX)(CX*4), R10
	LEAQ         (DX)(R10*2), R10
	MOVLQSX      4(BX)(CX*4), R11
	LEAQ         (DX)(R11*2), R11
	MOVLQSX      8(BX)(CX*4), R12
	LEAQ         (DX)(R12*2), R12
	MOVLQSX      12(BX)(CX*4), R8
	LEAQ         (DX)(R8*2), R8
	VXORPS       Y0, Y0, Y0
	VXORPS       Y1, Y1, Y1
	VXORPS       Y2, Y2, Y2
	VXORPS       Y3, Y3, Y3
	VXORPS       Y4, Y4, Y4
	VXORPS       Y5, Y5, Y5
	VXORPS       Y6, Y6, Y6
	VXORPS       Y7, Y7, Y7
	XORQ         AX, AX

sc2hloop:
	VCVTPH2PS    (R10)(AX*1), Y8
	VCVTPH2PS    (R11)(AX*1), Y9
	VCVTPH2PS    (R12)(AX*1), Y10
	VCVTPH2PS    (R8)(AX*1), Y11
	VFMADD231PS  (SI)(AX*2), Y8, Y0
	VFMADD231PS  (DI)(AX*2), Y8, Y1
	VFMADD231PS  (SI)(AX*2), Y9, Y2
	VFMADD231PS  (DI)(AX*2), Y9, Y3
	VFMADD231PS  (SI)(AX*2), Y10, Y4
	VFMADD231PS  (DI)(AX*2), Y10, Y5
	VFMADD231PS  (SI)(AX*2), Y11, Y6
	VFMADD231PS  (DI)(AX*2), Y11, Y7
	ADDQ         $16, AX
	CMPQ         AX, R13
	JLT          sc2hloop
	HADD4(Y0, Y1, Y2, Y3, X0, X1)
	HADD4(Y4, Y5, Y6, Y7, X4, X5)
	VSHUFPS      $0x88, X4, X0, X2
	VSHUFPS      $0xdd, X4, X0, X3
	VMULPS       X15, X2, X2
	VMULPS       X15, X3, X3
	MOVQ         s0+48(FP), R10
	VMOVUPS      X2, (R10)(CX*4)
	MOVQ         s1+56(FP), R10
	VMOVUPS      X3, (R10)(CX*4)
	ADDQ         $4, CX
	CMPQ         CX, n+32(FP)
	JLT          sc2hblock
	VZEROUPPER
	RET

// func pv2F16AVX2(p0, p1 *float32, v *uint16, rows *int32, n int, nc int, o0, o1 *float32)
//
// pv2AVX2 over an f16 value cache: rows[j] are offsets in halves, each row's 32-column chunk
// (64 bytes) widened as it is loaded; the sums are those of pv2AVX2 over the values in float32.
	PCALIGN $2048
TEXT ·pv2F16AVX2(SB), NOSPLIT, $0-64
	MOVQ         p0+0(FP), SI
	MOVQ         p1+8(FP), DI
	MOVQ         v+16(FP), DX
	MOVQ         rows+24(FP), BX
	MOVQ         n+32(FP), R10
	MOVQ         nc+40(FP), R11
	MOVQ         o0+48(FP), R8
	MOVQ         o1+56(FP), R9

pv2hchunk:
	VMOVUPS      (R8), Y0
	VMOVUPS      32(R8), Y1
	VMOVUPS      64(R8), Y2
	VMOVUPS      96(R8), Y3
	VMOVUPS      (R9), Y4
	VMOVUPS      32(R9), Y5
	VMOVUPS      64(R9), Y6
	VMOVUPS      96(R9), Y7
	XORQ         CX, CX

pv2hrow:
	MOVLQSX      (BX)(CX*4), AX
	LEAQ         (DX)(AX*2), AX
	VBROADCASTSS (SI)(CX*4), Y8
	VBROADCASTSS (DI)(CX*4), Y9
	VCVTPH2PS    (AX), Y10
	VCVTPH2PS    16(AX), Y11
	VCVTPH2PS    32(AX), Y12
	VCVTPH2PS    48(AX), Y13
	VFMADD231PS  Y10, Y8, Y0
	VFMADD231PS  Y11, Y8, Y1
	VFMADD231PS  Y12, Y8, Y2
	VFMADD231PS  Y13, Y8, Y3
	VFMADD231PS  Y10, Y9, Y4
	VFMADD231PS  Y11, Y9, Y5
	VFMADD231PS  Y12, Y9, Y6
	VFMADD231PS  Y13, Y9, Y7
	INCQ         CX
	CMPQ         CX, R10
	JLT          pv2hrow
	VMOVUPS      Y0, (R8)
	VMOVUPS      Y1, 32(R8)
	VMOVUPS      Y2, 64(R8)
	VMOVUPS      Y3, 96(R8)
	VMOVUPS      Y4, (R9)
	VMOVUPS      Y5, 32(R9)
	VMOVUPS      Y6, 64(R9)
	VMOVUPS      Y7, 96(R9)
	ADDQ         $64, DX
	ADDQ         $128, R8
	ADDQ         $128, R9
	DECQ         R11
	JNZ          pv2hchunk
	VZEROUPPER
	RET

// func cvtF32ToF16AVX2(dst *uint16, src *float32, n int)
//
// n (a multiple of 8) floats rounded to f16, to nearest even (VCVTPS2PH's immediate 0), as
// model.F32ToF16 rounds: the KV cache's writes.
	PCALIGN $2048
TEXT ·cvtF32ToF16AVX2(SB), NOSPLIT, $0-24
	MOVQ      dst+0(FP), DI
	MOVQ      src+8(FP), SI
	MOVQ      n+16(FP), CX

c2hloop:
	CMPQ      CX, $8
	JLT       c2hdone
	VMOVUPS   (SI), Y0
	VCVTPS2PH $0, Y0, (DI)
	ADDQ      $32, SI
	ADDQ      $16, DI
	SUBQ      $8, CX
	JMP       c2hloop

c2hdone:
	VZEROUPPER
	RET

DATA q8c<>+0(SB)/4, $0x7fffffff // |x| mask
DATA q8c<>+4(SB)/4, $0x42fe0000 // 127
GLOBL q8c<>(SB), RODATA|NOPTR, $8

// func quantizeQ8AVX2(x *float32, q *int16, d *float32, nb int)
//
// ggml's x86 q8_0 activation quantization, nb blocks of 32: amax = max|x|, d = amax/127
// rounded to f16 (stored widened back to float32), q = x*(127/amax) converted with the
// default rounding (to nearest, ties to even), stored as int16 (values within +-127) for the
// q8_0 kernels' VPMADDWD. An all-zero block gets d = 0 and zero quants.
	PCALIGN $2048
TEXT ·quantizeQ8AVX2(SB), NOSPLIT, $0-32
	MOVQ         x+0(FP), SI
	MOVQ         q+8(FP), DI
	MOVQ         d+16(FP), DX
	MOVQ         nb+24(FP), CX
	VBROADCASTSS q8c<>+0(SB), Y15
	VBROADCASTSS q8c<>+4(SB), X14

qzloop:
	TESTQ        CX, CX
	JEQ          qzdone
	VMOVUPS      (SI), Y0
	VMOVUPS      32(SI), Y1
	VMOVUPS      64(SI), Y2
	VMOVUPS      96(SI), Y3
	VANDPS       Y15, Y0, Y4
	VANDPS       Y15, Y1, Y5
	VMAXPS       Y5, Y4, Y4
	VANDPS       Y15, Y2, Y5
	VMAXPS       Y5, Y4, Y4
	VANDPS       Y15, Y3, Y5
	VMAXPS       Y5, Y4, Y4
	VEXTRACTF128 $1, Y4, X5
	VMAXPS       X5, X4, X4
	VMOVHLPS     X4, X4, X5
	VMAXPS       X5, X4, X4
	VPSHUFD      $1, X4, X5
	VMAXSS       X5, X4, X4
	// d = f16(amax/127), widened back.
	VDIVSS       X14, X4, X5
	VCVTPS2PH    $0, X5, X5
	VCVTPH2PS    X5, X5
	VMOVSS       X5, (DX)
	// id = 127/amax, or 0 when amax is 0.
	VDIVSS       X4, X14, X6
	VXORPS       X7, X7, X7
	VCMPSS       $4, X7, X4, X7
	VANDPS       X7, X6, X6
	VBROADCASTSS X6, Y6
	VMULPS       Y6, Y0, Y0
	VMULPS       Y6, Y1, Y1
	VMULPS       Y6, Y2, Y2
	VMULPS       Y6, Y3, Y3
	VCVTPS2DQ    Y0, Y0
	VCVTPS2DQ    Y1, Y1
	VCVTPS2DQ    Y2, Y2
	VCVTPS2DQ    Y3, Y3
	// Packing works within 128-bit lanes; VPERMQ puts the groups of four back in order.
	VPACKSSDW    Y1, Y0, Y0
	VPACKSSDW    Y3, Y2, Y2
	VPERMQ       $0xd8, Y0, Y0
	VPERMQ       $0xd8, Y2, Y2
	VMOVDQU      Y0, (DI)
	VMOVDQU      Y2, 32(DI)
	ADDQ         $128, SI
	ADDQ         $64, DI
	ADDQ         $4, DX
	DECQ         CX
	JMP          qzloop

qzdone:
	VZEROUPPER
	RET

// func prefetchAVX2(p *byte, n int)
//
// Asks for the n bytes at p to be brought into the cache (one PREFETCHT0 per 64-byte line),
// so that the next weight rows of a tiled product arrive while the current ones are used.
	PCALIGN $2048
TEXT ·prefetchAVX2(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX
	ADDQ SI, CX

pfloop:
	CMPQ       SI, CX
	JAE        pfdone
	PREFETCHT0 (SI)
	ADDQ       $64, SI
	JMP        pfloop

pfdone:
	RET

// func prefetchRowsAVX2(base *byte, rows *int32, n int, shift int, size int)
//
// Prefetches n attention rows of size bytes at base + rows[j]<<shift (the row offsets are in
// elements: shift 1 for an f16 cache, 2 for float32). A KV page is a few KB, so the hardware
// prefetchers, which stop at 4 KB boundaries, restart cold at every page of a gathered
// context; asking for the next tile's rows while computing this one's hides that.
	PCALIGN $2048
TEXT ·prefetchRowsAVX2(SB), NOSPLIT, $0-40
	MOVQ p+0(FP), DX
	MOVQ rows+8(FP), BX
	MOVQ n+16(FP), CX
	MOVQ shift+24(FP), R8
	MOVQ size+32(FP), R9
	TESTQ CX, CX
	JEQ  prdone

prrow:
	MOVLQSX    (BX), SI
	SHLXQ      R8, SI, SI
	ADDQ       DX, SI
	XORQ       AX, AX

prline:
	PREFETCHT0 (SI)(AX*1)
	ADDQ       $64, AX
	CMPQ       AX, R9
	JLT        prline
	ADDQ       $4, BX
	DECQ       CX
	JNZ        prrow

prdone:
	RET


// Four weight rows against one activation vector (one-token products): the rows are read as
// four streams at once, which keeps more of memory's bandwidth busy than one row after another,
// and each activation load serves four rows.
// Rows are stride bytes apart; n is a positive multiple of 8; out receives four sums.

// DOT4_SUM adds the four row sums in Y0..Y3 across lanes and stores them to (DX).
#define DOT4_SUM \
	VHADDPS      Y1, Y0, Y0 \
	VHADDPS      Y3, Y2, Y2 \
	VHADDPS      Y2, Y0, Y0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS       X1, X0, X0 \
	VMOVUPS      X0, (DX)

// DOT4_ZERO clears the eight accumulators (two per row).
#define DOT4_ZERO \
	VXORPS Y0, Y0, Y0 \
	VXORPS Y1, Y1, Y1 \
	VXORPS Y2, Y2, Y2 \
	VXORPS Y3, Y3, Y3 \
	VXORPS Y4, Y4, Y4 \
	VXORPS Y5, Y5, Y5 \
	VXORPS Y6, Y6, Y6 \
	VXORPS Y7, Y7, Y7

// DOT4_F32 accumulates 8 columns at byte offset off of the four f32 rows, times X, into A0..A3.
#define DOT4_F32(off, X, A0, A1, A2, A3) \
	VFMADD231PS off(SI), X, A0 \
	VFMADD231PS off(SI)(R8*1), X, A1 \
	VFMADD231PS off(SI)(R8*2), X, A2 \
	VFMADD231PS off(SI)(R9*1), X, A3

// DOT4_F16 and DOT4_BF16: the same for half-precision rows, widened in Y10/Y11 first.
#define DOT4_F16(off, X, A0, A1, A2, A3) \
	VCVTPH2PS   off(SI), Y10 \
	VCVTPH2PS   off(SI)(R8*1), Y11 \
	VFMADD231PS Y10, X, A0 \
	VFMADD231PS Y11, X, A1 \
	VCVTPH2PS   off(SI)(R8*2), Y10 \
	VCVTPH2PS   off(SI)(R9*1), Y11 \
	VFMADD231PS Y10, X, A2 \
	VFMADD231PS Y11, X, A3

#define DOT4_BF16(off, X, A0, A1, A2, A3) \
	VPMOVZXWD   off(SI), Y10 \
	VPMOVZXWD   off(SI)(R8*1), Y11 \
	VPSLLD      $16, Y10, Y10 \
	VPSLLD      $16, Y11, Y11 \
	VFMADD231PS Y10, X, A0 \
	VFMADD231PS Y11, X, A1 \
	VPMOVZXWD   off(SI)(R8*2), Y10 \
	VPMOVZXWD   off(SI)(R9*1), Y11 \
	VPSLLD      $16, Y10, Y10 \
	VPSLLD      $16, Y11, Y11 \
	VFMADD231PS Y10, X, A2 \
	VFMADD231PS Y11, X, A3

// DOT4_LOOP is the body of the four-row kernels once the arguments are in registers: STEP
// (DOT4_F32, DOT4_F16 or DOT4_BF16) takes 8 columns of the four rows, which are W8 weight
// bytes; 16 columns a round into two accumulators per row, then 8 if left, then the sums.
#define DOT4_LOOP(STEP, W8, W16) \
	DOT4_ZERO \
loop16: \
	CMPQ    CX, $16 \
	JLT     loop8 \
	VMOVUPS (DI), Y8 \
	VMOVUPS 32(DI), Y9 \
	STEP(0, Y8, Y0, Y1, Y2, Y3) \
	STEP(W8, Y9, Y4, Y5, Y6, Y7) \
	ADDQ    $W16, SI \
	ADDQ    $64, DI \
	SUBQ    $16, CX \
	JMP     loop16 \
loop8: \
	CMPQ    CX, $8 \
	JLT     done \
	VMOVUPS (DI), Y8 \
	STEP(0, Y8, Y0, Y1, Y2, Y3) \
done: \
	VADDPS  Y4, Y0, Y0 \
	VADDPS  Y5, Y1, Y1 \
	VADDPS  Y6, Y2, Y2 \
	VADDPS  Y7, Y3, Y3 \
	DOT4_SUM \
	VZEROUPPER \
	RET

// func dot4F32AVX2(w *float32, stride int, x *float32, n int, out *float32)
	PCALIGN $2048
TEXT ·dot4F32AVX2(SB), NOSPLIT, $0-40
	MOVQ w+0(FP), SI
	MOVQ stride+8(FP), R8
	MOVQ x+16(FP), DI
	MOVQ n+24(FP), CX
	MOVQ out+32(FP), DX
	LEAQ (R8)(R8*2), R9
	DOT4_LOOP(DOT4_F32, 32, 64)

// func dot4F16AVX2(w *uint16, stride int, x *float32, n int, out *float32)
	PCALIGN $2048
TEXT ·dot4F16AVX2(SB), NOSPLIT, $0-40
	MOVQ w+0(FP), SI
	MOVQ stride+8(FP), R8
	MOVQ x+16(FP), DI
	MOVQ n+24(FP), CX
	MOVQ out+32(FP), DX
	LEAQ (R8)(R8*2), R9
	DOT4_LOOP(DOT4_F16, 16, 32)

// func dot4BF16AVX2(w *uint16, stride int, x *float32, n int, out *float32)
	PCALIGN $2048
TEXT ·dot4BF16AVX2(SB), NOSPLIT, $0-40
	MOVQ w+0(FP), SI
	MOVQ stride+8(FP), R8
	MOVQ x+16(FP), DI
	MOVQ n+24(FP), CX
	MOVQ out+32(FP), DX
	LEAQ (R8)(R8*2), R9
	DOT4_LOOP(DOT4_BF16, 16, 32)

// func maxIntoAVX2(dst, src *float32, n int)
//
// dst[i] = max(dst[i], src[i]) for n (a multiple of 8) floats: a select layer's reduction of
// its heads' probabilities to one per slot.
	PCALIGN $2048
TEXT ·maxIntoAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

mxloop:
	CMPQ    CX, $8
	JLT     mxdone
	VMOVUPS (SI), Y0
	VMAXPS  (DI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     mxloop

mxdone:
	VZEROUPPER
	RET
	PCALIGN $2048
