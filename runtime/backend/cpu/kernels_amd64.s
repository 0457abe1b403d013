//go:build amd64 && !purego

#include "textflag.h"

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
TEXT ·xgetbv(SB), NOSPLIT, $0-8
	MOVL $0, CX
	XGETBV
	MOVL AX, eax+0(FP)
	MOVL DX, edx+4(FP)
	RET

// hsum8 reduces the 8 lanes of Y0 into the low lane of X0 (clobbers X1).
#define HSUM_Y0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS       X1, X0, X0 \
	VMOVHLPS     X0, X0, X1 \
	VADDPS       X1, X0, X0 \
	VPSHUFD      $1, X0, X1 \
	VADDSS       X1, X0, X0

// func dotF32AVX2(a, b *float32, n int) float32
TEXT ·dotF32AVX2(SB), NOSPLIT, $0-28
	MOVQ   a+0(FP), SI
	MOVQ   b+8(FP), DI
	MOVQ   n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

f32loop32:
	CMPQ        CX, $32
	JLT         f32loop8
	VMOVUPS     (SI), Y4
	VMOVUPS     32(SI), Y5
	VMOVUPS     64(SI), Y6
	VMOVUPS     96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ        $128, SI
	ADDQ        $128, DI
	SUBQ        $32, CX
	JMP         f32loop32

f32loop8:
	CMPQ        CX, $8
	JLT         f32reduce
	VMOVUPS     (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         f32loop8

f32reduce:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
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
TEXT ·dotF16AVX2(SB), NOSPLIT, $0-28
	MOVQ   w+0(FP), SI
	MOVQ   x+8(FP), DI
	MOVQ   n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

f16loop32:
	CMPQ        CX, $32
	JLT         f16loop8
	VCVTPH2PS   (SI), Y4
	VCVTPH2PS   16(SI), Y5
	VCVTPH2PS   32(SI), Y6
	VCVTPH2PS   48(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ        $64, SI
	ADDQ        $128, DI
	SUBQ        $32, CX
	JMP         f16loop32

f16loop8:
	CMPQ        CX, $8
	JLT         f16reduce
	VCVTPH2PS   (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ        $16, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         f16loop8

f16reduce:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
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
TEXT ·dotBF16AVX2(SB), NOSPLIT, $0-28
	MOVQ   w+0(FP), SI
	MOVQ   x+8(FP), DI
	MOVQ   n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

bf16loop32:
	CMPQ        CX, $32
	JLT         bf16loop8
	VPMOVZXWD   (SI), Y4
	VPMOVZXWD   16(SI), Y5
	VPMOVZXWD   32(SI), Y6
	VPMOVZXWD   48(SI), Y7
	VPSLLD      $16, Y4, Y4
	VPSLLD      $16, Y5, Y5
	VPSLLD      $16, Y6, Y6
	VPSLLD      $16, Y7, Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ        $64, SI
	ADDQ        $128, DI
	SUBQ        $32, CX
	JMP         bf16loop32

bf16loop8:
	CMPQ        CX, $8
	JLT         bf16reduce
	VPMOVZXWD   (SI), Y4
	VPSLLD      $16, Y4, Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ        $16, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         bf16loop8

bf16reduce:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
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

// Q8 block math, the way ggml does it on AVX2: VPMADDUBSW multiplies unsigned by signed bytes,
// so the weight's sign is moved onto the activation (VPSIGNB) and the weight made non-negative
// (VPABSB). |w| <= 128 and |x| <= 127, so each int16 pair sum stays below 32767 and never
// saturates. VPMADDWD by ones widens the pairs to eight int32 lanes, which are converted to
// float and multiplied-accumulated by the block's scale (weight d times activation d).

// Q8BLK computes the eight int32 partial sums of one q8 block: R = madd(|w|, x*sign(w)), with
// the weight quants at WQ(SI) and the activation quants at XQ(DI); T is a temporary.
#define Q8BLK(WQ, XQ, R, T) \
	VMOVDQU    XQ(DI), R \
	VPSIGNB    WQ(SI), R, R \
	VPABSB     WQ(SI), T \
	VPMADDUBSW R, T, R \
	VPMADDWD   Y13, R, R

// func dotQ8AVX2(w *byte, xq *int8, xd *float32, nb int) float32
//
// Eight blocks per iteration: their int32 partial sums are reduced to one vector of eight
// block sums (VPHADDD tree), whose lanes are converted and multiplied by the eight blocks'
// scales at once (the weight scales gathered with VPINSRW and converted by one VCVTPH2PS).
// That is one convert and one FMA per eight blocks instead of a scalar f16 conversion,
// broadcast, convert and FMA per block.
TEXT ·dotQ8AVX2(SB), NOSPLIT, $0-36
	MOVQ         w+0(FP), SI
	MOVQ         xq+8(FP), DI
	MOVQ         xd+16(FP), DX
	MOVQ         nb+24(FP), CX
	VXORPS       Y0, Y0, Y0
	VXORPS       Y1, Y1, Y1
	MOVL         $0x00010001, AX
	VMOVD        AX, X13
	VPBROADCASTD X13, Y13

q8loop8:
	CMPQ        CX, $8
	JLT         q8loop1
	PREFETCHT0  512(SI)
	PREFETCHT0  576(SI)
	PREFETCHT0  640(SI)
	PREFETCHT0  704(SI)
	PREFETCHT0  768(SI)
	VPINSRW     $0, (SI), X14, X14
	VPINSRW     $1, 34(SI), X14, X14
	VPINSRW     $2, 68(SI), X14, X14
	VPINSRW     $3, 102(SI), X14, X14
	VPINSRW     $4, 136(SI), X14, X14
	VPINSRW     $5, 170(SI), X14, X14
	VPINSRW     $6, 204(SI), X14, X14
	VPINSRW     $7, 238(SI), X14, X14
	Q8BLK(2, 0, Y2, Y6)
	Q8BLK(36, 32, Y3, Y6)
	VPHADDD     Y3, Y2, Y2
	Q8BLK(70, 64, Y3, Y6)
	Q8BLK(104, 96, Y4, Y6)
	VPHADDD     Y4, Y3, Y3
	VPHADDD     Y3, Y2, Y2
	Q8BLK(138, 128, Y3, Y6)
	Q8BLK(172, 160, Y4, Y6)
	VPHADDD     Y4, Y3, Y3
	Q8BLK(206, 192, Y4, Y6)
	Q8BLK(240, 224, Y5, Y6)
	VPHADDD     Y5, Y4, Y4
	VPHADDD     Y4, Y3, Y3
	// Y2 = [blocks 0-3, low halves | blocks 0-3, high halves], Y3 the same for blocks 4-7.
	VPERM2I128  $0x20, Y3, Y2, Y4
	VPERM2I128  $0x31, Y3, Y2, Y5
	VPADDD      Y5, Y4, Y4
	VCVTDQ2PS   Y4, Y4
	VCVTPH2PS   X14, Y14
	VMULPS      (DX), Y14, Y14
	VFMADD231PS Y14, Y4, Y0
	ADDQ        $272, SI
	ADDQ        $256, DI
	ADDQ        $32, DX
	SUBQ        $8, CX
	JMP         q8loop8

q8loop1:
	TESTQ        CX, CX
	JEQ          q8done
	MOVWLZX      (SI), AX
	VMOVD        AX, X2
	VCVTPH2PS    X2, X2
	VMULSS       (DX), X2, X2
	VBROADCASTSS X2, Y2
	Q8BLK(2, 0, Y3, Y6)
	VCVTDQ2PS    Y3, Y3
	VFMADD231PS  Y2, Y3, Y1
	ADDQ         $34, SI
	ADDQ         $32, DI
	ADDQ         $4, DX
	DECQ         CX
	JMP          q8loop1

q8done:
	VADDPS     Y1, Y0, Y0
	HSUM_Y0
	VMOVSS     X0, ret+32(FP)
	VZEROUPPER
	RET

// One token of the 1-row x 4-token q8 kernel: activation bytes at XQ, activation scale at XD,
// weight sign in Y6, |weight| in Y7, weight scale (broadcast) in Y5, accumulator ACC.
#define Q8TOK(XQ, XD, ACC) \
	VMOVDQU      XQ, Y8 \
	VPSIGNB      Y6, Y8, Y8 \
	VPMADDUBSW   Y8, Y7, Y8 \
	VPMADDWD     Y13, Y8, Y8 \
	VCVTDQ2PS    Y8, Y8 \
	VBROADCASTSS XD, Y9 \
	VMULPS       Y5, Y9, Y9 \
	VFMADD231PS  Y9, Y8, ACC

// One token of one block in the eight-block groups: the combined scale (weight d times
// activation d) was computed for the whole group and is broadcast from the stack at SC.
#define Q8TOKS(XQ, SC, ACC) \
	VMOVDQU      XQ, Y8 \
	VPSIGNB      Y6, Y8, Y8 \
	VPMADDUBSW   Y8, Y7, Y8 \
	VPMADDWD     Y13, Y8, Y8 \
	VCVTDQ2PS    Y8, Y8 \
	VBROADCASTSS SC, Y9 \
	VFMADD231PS  Y9, Y8, ACC

// func dotQ8x4AVX2(w *byte, xq *int8, xd *float32, nb int, qstride int, dstride int, out *float32)
//
// Inner products of one q8_0 weight row with four quantized activation rows (prefill, and
// batches of sequences decoding together): each weight block is loaded and split into sign
// and magnitude once for all four. Token t's quants start at xq+t*qstride bytes and its scales
// at xd+t*dstride bytes; out gets the four sums.
//
// Blocks go in groups of eight: the group's eight weight scales are gathered and converted
// with one VCVTPH2PS, multiplied by each token's eight activation scales with one VMULPS, and
// parked on the stack, from where each block's FMA broadcasts its scale with a plain load.
// That takes the scale conversion and multiplication off the vector ALUs, which the integer
// multiplies already keep busy. Leftover blocks (nb mod 8) take the one-block path.
TEXT ·dotQ8x4AVX2(SB), NOSPLIT, $128-56
	MOVQ         w+0(FP), SI
	MOVQ         xq+8(FP), DI
	MOVQ         xd+16(FP), DX
	MOVQ         nb+24(FP), CX
	MOVQ         qstride+32(FP), R8
	MOVQ         dstride+40(FP), R9
	LEAQ         (R8)(R8*2), R10
	LEAQ         (R9)(R9*2), R11
	VXORPS       Y0, Y0, Y0
	VXORPS       Y1, Y1, Y1
	VXORPS       Y2, Y2, Y2
	VXORPS       Y3, Y3, Y3
	MOVL         $0x00010001, AX
	VMOVD        AX, X13
	VPBROADCASTD X13, Y13

q8x4group:
	CMPQ        CX, $8
	JLT         q8x4loop
	VPINSRW     $0, 0(SI), X14, X14
	VPINSRW     $1, 34(SI), X14, X14
	VPINSRW     $2, 68(SI), X14, X14
	VPINSRW     $3, 102(SI), X14, X14
	VPINSRW     $4, 136(SI), X14, X14
	VPINSRW     $5, 170(SI), X14, X14
	VPINSRW     $6, 204(SI), X14, X14
	VPINSRW     $7, 238(SI), X14, X14
	VCVTPH2PS   X14, Y14
	VMULPS      (DX), Y14, Y10
	VMOVUPS     Y10, 0(SP)
	VMULPS      (DX)(R9*1), Y14, Y10
	VMOVUPS     Y10, 32(SP)
	VMULPS      (DX)(R9*2), Y14, Y10
	VMOVUPS     Y10, 64(SP)
	VMULPS      (DX)(R11*1), Y14, Y10
	VMOVUPS     Y10, 96(SP)
	VMOVDQU     2(SI), Y6
	VPABSB      Y6, Y7
	Q8TOKS(0(DI), 0(SP), Y0)
	Q8TOKS(0(DI)(R8*1), 32(SP), Y1)
	Q8TOKS(0(DI)(R8*2), 64(SP), Y2)
	Q8TOKS(0(DI)(R10*1), 96(SP), Y3)
	VMOVDQU     36(SI), Y6
	VPABSB      Y6, Y7
	Q8TOKS(32(DI), 4(SP), Y0)
	Q8TOKS(32(DI)(R8*1), 36(SP), Y1)
	Q8TOKS(32(DI)(R8*2), 68(SP), Y2)
	Q8TOKS(32(DI)(R10*1), 100(SP), Y3)
	VMOVDQU     70(SI), Y6
	VPABSB      Y6, Y7
	Q8TOKS(64(DI), 8(SP), Y0)
	Q8TOKS(64(DI)(R8*1), 40(SP), Y1)
	Q8TOKS(64(DI)(R8*2), 72(SP), Y2)
	Q8TOKS(64(DI)(R10*1), 104(SP), Y3)
	VMOVDQU     104(SI), Y6
	VPABSB      Y6, Y7
	Q8TOKS(96(DI), 12(SP), Y0)
	Q8TOKS(96(DI)(R8*1), 44(SP), Y1)
	Q8TOKS(96(DI)(R8*2), 76(SP), Y2)
	Q8TOKS(96(DI)(R10*1), 108(SP), Y3)
	VMOVDQU     138(SI), Y6
	VPABSB      Y6, Y7
	Q8TOKS(128(DI), 16(SP), Y0)
	Q8TOKS(128(DI)(R8*1), 48(SP), Y1)
	Q8TOKS(128(DI)(R8*2), 80(SP), Y2)
	Q8TOKS(128(DI)(R10*1), 112(SP), Y3)
	VMOVDQU     172(SI), Y6
	VPABSB      Y6, Y7
	Q8TOKS(160(DI), 20(SP), Y0)
	Q8TOKS(160(DI)(R8*1), 52(SP), Y1)
	Q8TOKS(160(DI)(R8*2), 84(SP), Y2)
	Q8TOKS(160(DI)(R10*1), 116(SP), Y3)
	VMOVDQU     206(SI), Y6
	VPABSB      Y6, Y7
	Q8TOKS(192(DI), 24(SP), Y0)
	Q8TOKS(192(DI)(R8*1), 56(SP), Y1)
	Q8TOKS(192(DI)(R8*2), 88(SP), Y2)
	Q8TOKS(192(DI)(R10*1), 120(SP), Y3)
	VMOVDQU     240(SI), Y6
	VPABSB      Y6, Y7
	Q8TOKS(224(DI), 28(SP), Y0)
	Q8TOKS(224(DI)(R8*1), 60(SP), Y1)
	Q8TOKS(224(DI)(R8*2), 92(SP), Y2)
	Q8TOKS(224(DI)(R10*1), 124(SP), Y3)
	ADDQ        $272, SI
	ADDQ        $256, DI
	ADDQ        $32, DX
	SUBQ        $8, CX
	JMP         q8x4group

q8x4loop:
	TESTQ        CX, CX
	JEQ          q8x4done
	MOVWLZX      (SI), AX
	VMOVD        AX, X5
	VCVTPH2PS    X5, X5
	VBROADCASTSS X5, Y5
	VMOVDQU      2(SI), Y6
	VPABSB       Y6, Y7
	Q8TOK((DI), (DX), Y0)
	Q8TOK((DI)(R8*1), (DX)(R9*1), Y1)
	Q8TOK((DI)(R8*2), (DX)(R9*2), Y2)
	Q8TOK((DI)(R10*1), (DX)(R11*1), Y3)
	ADDQ         $34, SI
	ADDQ         $32, DI
	ADDQ         $4, DX
	DECQ         CX
	JMP          q8x4loop

q8x4done:
	// Reduce the four accumulators to [sum0 sum1 sum2 sum3] with two rounds of pairwise adds.
	MOVQ         out+48(FP), DI
	VHADDPS      Y1, Y0, Y0
	VHADDPS      Y3, Y2, Y2
	VHADDPS      Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VMOVUPS      X0, (DI)
	VZEROUPPER
	RET

// One token of one block for the 8-token kernel: like Q8TOKS with the weight sign in Y8 and
// |weight| in Y9.
#define Q8TOK8(XQ, SC, ACC) \
	VMOVDQU      XQ, Y10 \
	VPSIGNB      Y8, Y10, Y10 \
	VPMADDUBSW   Y10, Y9, Y10 \
	VPMADDWD     Y13, Y10, Y10 \
	VCVTDQ2PS    Y10, Y10 \
	VBROADCASTSS SC, Y11 \
	VFMADD231PS  Y11, Y10, ACC

// func dotQ8x8AVX2(w *byte, xq *int8, xd *float32, nb int, qstride int, dstride int, out *float32)
//
// dotQ8x4AVX2 for eight tokens: each weight block is loaded and split once for eight
// activation rows, with eight accumulators (Y0..Y7). The eight-block groups park 8 tokens x
// 8 blocks of combined scales on the stack; leftover blocks broadcast each token's scale and
// multiply it by the weight's (Y14) one block at a time.
TEXT ·dotQ8x8AVX2(SB), NOSPLIT, $256-56
	MOVQ         w+0(FP), SI
	MOVQ         xq+8(FP), DI
	MOVQ         xd+16(FP), DX
	MOVQ         nb+24(FP), CX
	MOVQ         qstride+32(FP), R8
	MOVQ         dstride+40(FP), R9
	LEAQ         (R8)(R8*2), R10
	LEAQ         (R8)(R8*4), R11
	LEAQ         (R10)(R8*4), R12
	VXORPS       Y0, Y0, Y0
	VXORPS       Y1, Y1, Y1
	VXORPS       Y2, Y2, Y2
	VXORPS       Y3, Y3, Y3
	VXORPS       Y4, Y4, Y4
	VXORPS       Y5, Y5, Y5
	VXORPS       Y6, Y6, Y6
	VXORPS       Y7, Y7, Y7
	MOVL         $0x00010001, AX
	VMOVD        AX, X13
	VPBROADCASTD X13, Y13

q8x8group:
	CMPQ        CX, $8
	JLT         q8x8loop
	VPINSRW     $0, 0(SI), X14, X14
	VPINSRW     $1, 34(SI), X14, X14
	VPINSRW     $2, 68(SI), X14, X14
	VPINSRW     $3, 102(SI), X14, X14
	VPINSRW     $4, 136(SI), X14, X14
	VPINSRW     $5, 170(SI), X14, X14
	VPINSRW     $6, 204(SI), X14, X14
	VPINSRW     $7, 238(SI), X14, X14
	VCVTPH2PS   X14, Y14
	MOVQ        DX, BX
	VMULPS      (BX), Y14, Y12
	VMOVUPS     Y12, 0(SP)
	ADDQ        R9, BX
	VMULPS      (BX), Y14, Y12
	VMOVUPS     Y12, 32(SP)
	ADDQ        R9, BX
	VMULPS      (BX), Y14, Y12
	VMOVUPS     Y12, 64(SP)
	ADDQ        R9, BX
	VMULPS      (BX), Y14, Y12
	VMOVUPS     Y12, 96(SP)
	ADDQ        R9, BX
	VMULPS      (BX), Y14, Y12
	VMOVUPS     Y12, 128(SP)
	ADDQ        R9, BX
	VMULPS      (BX), Y14, Y12
	VMOVUPS     Y12, 160(SP)
	ADDQ        R9, BX
	VMULPS      (BX), Y14, Y12
	VMOVUPS     Y12, 192(SP)
	ADDQ        R9, BX
	VMULPS      (BX), Y14, Y12
	VMOVUPS     Y12, 224(SP)
	VMOVDQU     2(SI), Y8
	VPABSB      Y8, Y9
	Q8TOK8(0(DI), 0(SP), Y0)
	Q8TOK8(0(DI)(R8*1), 32(SP), Y1)
	Q8TOK8(0(DI)(R8*2), 64(SP), Y2)
	Q8TOK8(0(DI)(R10*1), 96(SP), Y3)
	Q8TOK8(0(DI)(R8*4), 128(SP), Y4)
	Q8TOK8(0(DI)(R11*1), 160(SP), Y5)
	Q8TOK8(0(DI)(R10*2), 192(SP), Y6)
	Q8TOK8(0(DI)(R12*1), 224(SP), Y7)
	VMOVDQU     36(SI), Y8
	VPABSB      Y8, Y9
	Q8TOK8(32(DI), 4(SP), Y0)
	Q8TOK8(32(DI)(R8*1), 36(SP), Y1)
	Q8TOK8(32(DI)(R8*2), 68(SP), Y2)
	Q8TOK8(32(DI)(R10*1), 100(SP), Y3)
	Q8TOK8(32(DI)(R8*4), 132(SP), Y4)
	Q8TOK8(32(DI)(R11*1), 164(SP), Y5)
	Q8TOK8(32(DI)(R10*2), 196(SP), Y6)
	Q8TOK8(32(DI)(R12*1), 228(SP), Y7)
	VMOVDQU     70(SI), Y8
	VPABSB      Y8, Y9
	Q8TOK8(64(DI), 8(SP), Y0)
	Q8TOK8(64(DI)(R8*1), 40(SP), Y1)
	Q8TOK8(64(DI)(R8*2), 72(SP), Y2)
	Q8TOK8(64(DI)(R10*1), 104(SP), Y3)
	Q8TOK8(64(DI)(R8*4), 136(SP), Y4)
	Q8TOK8(64(DI)(R11*1), 168(SP), Y5)
	Q8TOK8(64(DI)(R10*2), 200(SP), Y6)
	Q8TOK8(64(DI)(R12*1), 232(SP), Y7)
	VMOVDQU     104(SI), Y8
	VPABSB      Y8, Y9
	Q8TOK8(96(DI), 12(SP), Y0)
	Q8TOK8(96(DI)(R8*1), 44(SP), Y1)
	Q8TOK8(96(DI)(R8*2), 76(SP), Y2)
	Q8TOK8(96(DI)(R10*1), 108(SP), Y3)
	Q8TOK8(96(DI)(R8*4), 140(SP), Y4)
	Q8TOK8(96(DI)(R11*1), 172(SP), Y5)
	Q8TOK8(96(DI)(R10*2), 204(SP), Y6)
	Q8TOK8(96(DI)(R12*1), 236(SP), Y7)
	VMOVDQU     138(SI), Y8
	VPABSB      Y8, Y9
	Q8TOK8(128(DI), 16(SP), Y0)
	Q8TOK8(128(DI)(R8*1), 48(SP), Y1)
	Q8TOK8(128(DI)(R8*2), 80(SP), Y2)
	Q8TOK8(128(DI)(R10*1), 112(SP), Y3)
	Q8TOK8(128(DI)(R8*4), 144(SP), Y4)
	Q8TOK8(128(DI)(R11*1), 176(SP), Y5)
	Q8TOK8(128(DI)(R10*2), 208(SP), Y6)
	Q8TOK8(128(DI)(R12*1), 240(SP), Y7)
	VMOVDQU     172(SI), Y8
	VPABSB      Y8, Y9
	Q8TOK8(160(DI), 20(SP), Y0)
	Q8TOK8(160(DI)(R8*1), 52(SP), Y1)
	Q8TOK8(160(DI)(R8*2), 84(SP), Y2)
	Q8TOK8(160(DI)(R10*1), 116(SP), Y3)
	Q8TOK8(160(DI)(R8*4), 148(SP), Y4)
	Q8TOK8(160(DI)(R11*1), 180(SP), Y5)
	Q8TOK8(160(DI)(R10*2), 212(SP), Y6)
	Q8TOK8(160(DI)(R12*1), 244(SP), Y7)
	VMOVDQU     206(SI), Y8
	VPABSB      Y8, Y9
	Q8TOK8(192(DI), 24(SP), Y0)
	Q8TOK8(192(DI)(R8*1), 56(SP), Y1)
	Q8TOK8(192(DI)(R8*2), 88(SP), Y2)
	Q8TOK8(192(DI)(R10*1), 120(SP), Y3)
	Q8TOK8(192(DI)(R8*4), 152(SP), Y4)
	Q8TOK8(192(DI)(R11*1), 184(SP), Y5)
	Q8TOK8(192(DI)(R10*2), 216(SP), Y6)
	Q8TOK8(192(DI)(R12*1), 248(SP), Y7)
	VMOVDQU     240(SI), Y8
	VPABSB      Y8, Y9
	Q8TOK8(224(DI), 28(SP), Y0)
	Q8TOK8(224(DI)(R8*1), 60(SP), Y1)
	Q8TOK8(224(DI)(R8*2), 92(SP), Y2)
	Q8TOK8(224(DI)(R10*1), 124(SP), Y3)
	Q8TOK8(224(DI)(R8*4), 156(SP), Y4)
	Q8TOK8(224(DI)(R11*1), 188(SP), Y5)
	Q8TOK8(224(DI)(R10*2), 220(SP), Y6)
	Q8TOK8(224(DI)(R12*1), 252(SP), Y7)
	ADDQ        $272, SI
	ADDQ        $256, DI
	ADDQ        $32, DX
	SUBQ        $8, CX
	JMP         q8x8group

q8x8loop:
	TESTQ        CX, CX
	JEQ          q8x8done
	MOVWLZX      (SI), AX
	VMOVD        AX, X14
	VCVTPH2PS    X14, X14
	VBROADCASTSS X14, Y14
	VMOVDQU      2(SI), Y8
	VPABSB       Y8, Y9
	MOVQ         DX, BX
	VBROADCASTSS (BX), Y12
	VMULPS       Y14, Y12, Y12
	VMOVSS       X12, 0(SP)
	ADDQ         R9, BX
	VBROADCASTSS (BX), Y12
	VMULPS       Y14, Y12, Y12
	VMOVSS       X12, 4(SP)
	ADDQ         R9, BX
	VBROADCASTSS (BX), Y12
	VMULPS       Y14, Y12, Y12
	VMOVSS       X12, 8(SP)
	ADDQ         R9, BX
	VBROADCASTSS (BX), Y12
	VMULPS       Y14, Y12, Y12
	VMOVSS       X12, 12(SP)
	ADDQ         R9, BX
	VBROADCASTSS (BX), Y12
	VMULPS       Y14, Y12, Y12
	VMOVSS       X12, 16(SP)
	ADDQ         R9, BX
	VBROADCASTSS (BX), Y12
	VMULPS       Y14, Y12, Y12
	VMOVSS       X12, 20(SP)
	ADDQ         R9, BX
	VBROADCASTSS (BX), Y12
	VMULPS       Y14, Y12, Y12
	VMOVSS       X12, 24(SP)
	ADDQ         R9, BX
	VBROADCASTSS (BX), Y12
	VMULPS       Y14, Y12, Y12
	VMOVSS       X12, 28(SP)
	Q8TOK8((DI), 0(SP), Y0)
	Q8TOK8((DI)(R8*1), 4(SP), Y1)
	Q8TOK8((DI)(R8*2), 8(SP), Y2)
	Q8TOK8((DI)(R10*1), 12(SP), Y3)
	Q8TOK8((DI)(R8*4), 16(SP), Y4)
	Q8TOK8((DI)(R11*1), 20(SP), Y5)
	Q8TOK8((DI)(R10*2), 24(SP), Y6)
	Q8TOK8((DI)(R12*1), 28(SP), Y7)
	ADDQ         $34, SI
	ADDQ         $32, DI
	ADDQ         $4, DX
	DECQ         CX
	JMP          q8x8loop

q8x8done:
	MOVQ         out+48(FP), DI
	VHADDPS      Y1, Y0, Y0
	VHADDPS      Y3, Y2, Y2
	VHADDPS      Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VMOVUPS      X0, (DI)
	VHADDPS      Y5, Y4, Y4
	VHADDPS      Y7, Y6, Y6
	VHADDPS      Y6, Y4, Y4
	VEXTRACTF128 $1, Y4, X5
	VADDPS       X5, X4, X4
	VMOVUPS      X4, 16(DI)
	VZEROUPPER
	RET

// func gemm3x4F32AVX2(w *float32, ldw int, x *float32, ldx int, n int, out *float32)
//
// The 3-row x 4-token register block of a float32 matrix product in dot form: rows at
// w+r*ldw, tokens at x+t*ldx (strides in floats), n a multiple of 8. The three weight vectors
// stay in registers and each activation vector is an FMA memory operand, so the twelve
// accumulators (Y0..Y11) fit in the sixteen registers with the weights (Y12..Y14). out gets
// twelve sums, row-major: out[r*4+t].
TEXT ·gemm3x4F32AVX2(SB), NOSPLIT, $0-48
	MOVQ   w+0(FP), SI
	MOVQ   ldw+8(FP), R8
	MOVQ   x+16(FP), DI
	MOVQ   ldx+24(FP), R9
	MOVQ   n+32(FP), CX
	SHLQ   $2, R8
	SHLQ   $2, R9
	LEAQ   (R9)(R9*2), R10
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

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
	VHADDPS      Y1, Y0, Y0
	VHADDPS      Y3, Y2, Y2
	VHADDPS      Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VMOVUPS      X0, (DI)
	VHADDPS      Y5, Y4, Y4
	VHADDPS      Y7, Y6, Y6
	VHADDPS      Y6, Y4, Y4
	VEXTRACTF128 $1, Y4, X5
	VADDPS       X5, X4, X4
	VMOVUPS      X4, 16(DI)
	VHADDPS      Y9, Y8, Y8
	VHADDPS      Y11, Y10, Y10
	VHADDPS      Y10, Y8, Y8
	VEXTRACTF128 $1, Y8, X9
	VADDPS       X9, X8, X8
	VMOVUPS      X8, 32(DI)
	VZEROUPPER
	RET

// func cvtF16AVX2(dst *float32, src *uint16, n int)
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

// func swigluAVX2(gate, up *float32, n int)
//
// g[i] = g[i] / (1 + exp(-g[i])) * u[i] for i < n (a multiple of 8): SiLU of the gate times
// the up projection.
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

// func pvRowsAVX2(p *float32, v *float32, vstride int, n int, out *float32)
//
// out[0:32] += sum over j < n of p[j] * v[j*vstride : j*vstride+32] (vstride in floats): one
// 32-wide slice of one head's attention output over a run of value rows, kept in registers
// for the whole run. Even and odd rows go to separate accumulators so that consecutive FMAs
// do not wait on each other.
TEXT ·pvRowsAVX2(SB), NOSPLIT, $0-40
	MOVQ    p+0(FP), SI
	MOVQ    v+8(FP), DI
	MOVQ    vstride+16(FP), R8
	MOVQ    n+24(FP), CX
	MOVQ    out+32(FP), DX
	SHLQ    $2, R8
	VMOVUPS (DX), Y0
	VMOVUPS 32(DX), Y1
	VMOVUPS 64(DX), Y2
	VMOVUPS 96(DX), Y3
	VXORPS  Y4, Y4, Y4
	VXORPS  Y5, Y5, Y5
	VXORPS  Y6, Y6, Y6
	VXORPS  Y7, Y7, Y7

pvloop2:
	CMPQ         CX, $2
	JLT          pvloop1
	VBROADCASTSS (SI), Y8
	VBROADCASTSS 4(SI), Y9
	VFMADD231PS  (DI), Y8, Y0
	VFMADD231PS  32(DI), Y8, Y1
	VFMADD231PS  64(DI), Y8, Y2
	VFMADD231PS  96(DI), Y8, Y3
	VFMADD231PS  (DI)(R8*1), Y9, Y4
	VFMADD231PS  32(DI)(R8*1), Y9, Y5
	VFMADD231PS  64(DI)(R8*1), Y9, Y6
	VFMADD231PS  96(DI)(R8*1), Y9, Y7
	ADDQ         $8, SI
	LEAQ         (DI)(R8*2), DI
	SUBQ         $2, CX
	JMP          pvloop2

pvloop1:
	TESTQ        CX, CX
	JEQ          pvdone
	VBROADCASTSS (SI), Y8
	VFMADD231PS  (DI), Y8, Y0
	VFMADD231PS  32(DI), Y8, Y1
	VFMADD231PS  64(DI), Y8, Y2
	VFMADD231PS  96(DI), Y8, Y3

pvdone:
	VADDPS     Y4, Y0, Y0
	VADDPS     Y5, Y1, Y1
	VADDPS     Y6, Y2, Y2
	VADDPS     Y7, Y3, Y3
	VMOVUPS    Y0, (DX)
	VMOVUPS    Y1, 32(DX)
	VMOVUPS    Y2, 64(DX)
	VMOVUPS    Y3, 96(DX)
	VZEROUPPER
	RET

DATA q8c<>+0(SB)/4, $0x7fffffff // |x| mask
DATA q8c<>+4(SB)/4, $0x42fe0000 // 127
DATA q8c<>+8(SB)/4, $0
DATA q8c<>+12(SB)/4, $4
DATA q8c<>+16(SB)/4, $1
DATA q8c<>+20(SB)/4, $5
DATA q8c<>+24(SB)/4, $2
DATA q8c<>+28(SB)/4, $6
DATA q8c<>+32(SB)/4, $3
DATA q8c<>+36(SB)/4, $7
GLOBL q8c<>(SB), RODATA|NOPTR, $40

// func quantizeQ8AVX2(x *float32, q *int8, d *float32, nb int)
//
// ggml's x86 q8_0 activation quantization, nb blocks of 32: amax = max|x|, d = amax/127
// rounded to f16 (stored widened back to float32), q = x*(127/amax) converted with the
// default rounding (to nearest, ties to even), packed to bytes. An all-zero block gets d = 0
// and zero quants.
TEXT ·quantizeQ8AVX2(SB), NOSPLIT, $0-32
	MOVQ         x+0(FP), SI
	MOVQ         q+8(FP), DI
	MOVQ         d+16(FP), DX
	MOVQ         nb+24(FP), CX
	VBROADCASTSS q8c<>+0(SB), Y15
	VBROADCASTSS q8c<>+4(SB), X14
	VMOVDQU      q8c<>+8(SB), Y13

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
	// Packing works within 128-bit lanes; VPERMD puts the four-byte groups back in order.
	VPACKSSDW    Y1, Y0, Y0
	VPACKSSDW    Y3, Y2, Y2
	VPACKSSWB    Y2, Y0, Y0
	VPERMD       Y0, Y13, Y0
	VMOVDQU      Y0, (DI)
	ADDQ         $128, SI
	ADDQ         $32, DI
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
