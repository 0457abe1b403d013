//go:build amd64 && !purego

#include "textflag.h"

// The q8_0 kernels over row groups (see q8group.go for the layout). A group block is eight
// rows by 32 columns: eight f16 scales (one per row) and eight 32-byte quads, quad c holding
// columns 4c and 4c+1 of rows 0..7 in its first 16 bytes and columns 4c+2 and 4c+3 in its
// last 16, a row's two columns side by side. VPMOVSXBW widens each half to sixteen int16, so
// that lane r of an 8-lane vector holds row r's two weights; VPMADDWD against the token's two
// activation quants (int16, broadcast to every lane) multiplies and adds the pair, and VPADDD
// sums the halves and quads: the block's exact integer dot product for eight rows, with no
// per-row scale broadcast or horizontal sum. Then one conversion and one FMA per block scale
// it by weight scale x activation scale. (ggml's int8 products, VPSIGNB and VPMADDUBSW then a
// VPMADDWD by ones, take as many vector operations per 32 products, two of them multiplies,
// but a quad against eight tokens takes more cycles that way on Zen 3; likely because the sign
// step can take the multiplies' two pipes and makes each token's chain longer.)
//
// The one-stream kernels prefetch the quads 8 KiB ahead in every block; the four-stream one
// leaves it to the hardware (see q8group_gen.py, which writes this file).
//
// Register use: Y8/Y9 the quad's halves widened, Y10/Y11 scratch, Y12 the eight rows' scales.

// Q8Q0 and Q8Q are one quad (Y8, Y9) against one token, whose int16 quant pairs for the two
// halves are at XL and XH: the first quad of a block sets the token's integer sum, the others
// add to it.
#define Q8Q0(XL, XH, ACC) \
	VPBROADCASTD XL, Y10 \
	VPMADDWD     Y8, Y10, ACC \
	VPBROADCASTD XH, Y11 \
	VPMADDWD     Y9, Y11, Y11 \
	VPADDD       Y11, ACC, ACC

#define Q8Q(XL, XH, ACC) \
	VPBROADCASTD XL, Y10 \
	VPMADDWD     Y8, Y10, Y10 \
	VPADDD       Y10, ACC, ACC \
	VPBROADCASTD XH, Y11 \
	VPMADDWD     Y9, Y11, Y11 \
	VPADDD       Y11, ACC, ACC

// Q8QUAD loads quad c of the block, its halves widened to int16.
#define Q8QUAD(OFF) \
	VPMOVSXBW OFF(SI), Y8 \
	VPMOVSXBW OFF+16(SI), Y9

// Q8SCALE is the block's scale for one token: the rows' scales (Y12) times the token's
// activation scale at D, left in Y10.
#define Q8SCALE(D) \
	VBROADCASTSS D, Y10 \
	VMULPS       Y12, Y10, Y10


// func q8g1AVX2(w *byte, s *byte, xq *int16, xd *float32, nb int, out *float32, add int)
//
// One token against one row group: w the group's quads from the first block, s its scales,
// xq/xd the token's quants and scales, nb blocks; out gets the eight rows' sums (added to what
// is there if add is not 0).
TEXT ·q8g1AVX2(SB), NOSPLIT, $0-56
	MOVQ   w+0(FP), SI
	MOVQ   s+8(FP), BX
	MOVQ   xq+16(FP), DI
	MOVQ   xd+24(FP), DX
	MOVQ   nb+32(FP), CX
	VXORPS Y4, Y4, Y4

q8g1block:
	PREFETCHT0 8192(SI)
	PREFETCHT0 8192+64(SI)
	PREFETCHT0 8192+128(SI)
	PREFETCHT0 8192+192(SI)
	PREFETCHT0 256(BX)
	VCVTPH2PS (BX), Y12
	Q8QUAD(0)
	VPBROADCASTD 0(DI), Y10
	VPMADDWD     Y8, Y10, Y0
	VPBROADCASTD 4(DI), Y11
	VPMADDWD     Y9, Y11, Y1
	Q8QUAD(32)
	VPBROADCASTD 8(DI), Y10
	VPMADDWD     Y8, Y10, Y10
	VPADDD       Y10, Y0, Y0
	VPBROADCASTD 12(DI), Y11
	VPMADDWD     Y9, Y11, Y11
	VPADDD       Y11, Y1, Y1
	Q8QUAD(64)
	VPBROADCASTD 16(DI), Y10
	VPMADDWD     Y8, Y10, Y10
	VPADDD       Y10, Y0, Y0
	VPBROADCASTD 20(DI), Y11
	VPMADDWD     Y9, Y11, Y11
	VPADDD       Y11, Y1, Y1
	Q8QUAD(96)
	VPBROADCASTD 24(DI), Y10
	VPMADDWD     Y8, Y10, Y10
	VPADDD       Y10, Y0, Y0
	VPBROADCASTD 28(DI), Y11
	VPMADDWD     Y9, Y11, Y11
	VPADDD       Y11, Y1, Y1
	Q8QUAD(128)
	VPBROADCASTD 32(DI), Y10
	VPMADDWD     Y8, Y10, Y10
	VPADDD       Y10, Y0, Y0
	VPBROADCASTD 36(DI), Y11
	VPMADDWD     Y9, Y11, Y11
	VPADDD       Y11, Y1, Y1
	Q8QUAD(160)
	VPBROADCASTD 40(DI), Y10
	VPMADDWD     Y8, Y10, Y10
	VPADDD       Y10, Y0, Y0
	VPBROADCASTD 44(DI), Y11
	VPMADDWD     Y9, Y11, Y11
	VPADDD       Y11, Y1, Y1
	Q8QUAD(192)
	VPBROADCASTD 48(DI), Y10
	VPMADDWD     Y8, Y10, Y10
	VPADDD       Y10, Y0, Y0
	VPBROADCASTD 52(DI), Y11
	VPMADDWD     Y9, Y11, Y11
	VPADDD       Y11, Y1, Y1
	Q8QUAD(224)
	VPBROADCASTD 56(DI), Y10
	VPMADDWD     Y8, Y10, Y10
	VPADDD       Y10, Y0, Y0
	VPBROADCASTD 60(DI), Y11
	VPMADDWD     Y9, Y11, Y11
	VPADDD       Y11, Y1, Y1
	VPADDD      Y1, Y0, Y0
	VCVTDQ2PS   Y0, Y0
	Q8SCALE((DX))
	VFMADD231PS Y10, Y0, Y4
	ADDQ        $256, SI
	ADDQ        $16, BX
	ADDQ        $64, DI
	ADDQ        $4, DX
	DECQ        CX
	JNZ         q8g1block
	MOVQ        out+40(FP), DI
	CMPQ        add+48(FP), $0
	JEQ         q8g1store
	VADDPS      (DI), Y4, Y4

q8g1store:
	VMOVUPS     Y4, (DI)
	VZEROUPPER
	RET


// func q8g1x4AVX2(w *byte, s *byte, xq *int16, xd *float32, nb int, sstride int, out *float32, ostride int, add int, ng int, gstride int)
//
// One token against four row groups at once, sstride bytes apart in w and s: four memory
// streams in flight instead of one (see runQ8), and each activation broadcast serves four
// groups. Group k's eight sums go to out+k*ostride (bytes), added to what is there if add is
// not 0. ng runs of four: after each, w and s advance by gstride and out by 32 bytes. Integer
// sums in Y0..Y3, float sums in Y4..Y7, the token's quant pairs broadcast in Y10/Y11, its
// scale in Y14. No prefetch.
// Frame: 0 and 8 the run's w and s.
	PCALIGN $2048
TEXT ·q8g1x4AVX2(SB), NOSPLIT, $16-88
	MOVQ   w+0(FP), AX
	MOVQ   AX, 0(SP)
	MOVQ   s+8(FP), AX
	MOVQ   AX, 8(SP)
	MOVQ   sstride+40(FP), R8
	LEAQ   (R8)(R8*2), R9
	MOVQ   out+48(FP), R10
	MOVQ   ostride+56(FP), R11
	LEAQ   (R11)(R11*2), R13
	MOVQ   ng+72(FP), R12

q8g1x4AVX2run:
	MOVQ   0(SP), SI
	MOVQ   8(SP), BX
	MOVQ   xq+16(FP), DI
	MOVQ   xd+24(FP), DX
	MOVQ   nb+32(FP), CX
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

q8g1x4AVX2block:
	VPBROADCASTD 0(DI), Y10
	VPBROADCASTD 4(DI), Y11
	VPMOVSXBW    0(SI), Y8
	VPMADDWD     Y8, Y10, Y0
	VPMOVSXBW    16(SI), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y0, Y0
	VPMOVSXBW    0(SI)(R8*1), Y8
	VPMADDWD     Y8, Y10, Y1
	VPMOVSXBW    16(SI)(R8*1), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y1, Y1
	VPMOVSXBW    0(SI)(R8*2), Y8
	VPMADDWD     Y8, Y10, Y2
	VPMOVSXBW    16(SI)(R8*2), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y2, Y2
	VPMOVSXBW    0(SI)(R9*1), Y8
	VPMADDWD     Y8, Y10, Y3
	VPMOVSXBW    16(SI)(R9*1), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y3, Y3
	VPBROADCASTD 8(DI), Y10
	VPBROADCASTD 12(DI), Y11
	VPMOVSXBW    32(SI), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y0, Y0
	VPMOVSXBW    48(SI), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y0, Y0
	VPMOVSXBW    32(SI)(R8*1), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y1, Y1
	VPMOVSXBW    48(SI)(R8*1), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y1, Y1
	VPMOVSXBW    32(SI)(R8*2), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y2, Y2
	VPMOVSXBW    48(SI)(R8*2), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y2, Y2
	VPMOVSXBW    32(SI)(R9*1), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y3, Y3
	VPMOVSXBW    48(SI)(R9*1), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y3, Y3
	VPBROADCASTD 16(DI), Y10
	VPBROADCASTD 20(DI), Y11
	VPMOVSXBW    64(SI), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y0, Y0
	VPMOVSXBW    80(SI), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y0, Y0
	VPMOVSXBW    64(SI)(R8*1), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y1, Y1
	VPMOVSXBW    80(SI)(R8*1), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y1, Y1
	VPMOVSXBW    64(SI)(R8*2), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y2, Y2
	VPMOVSXBW    80(SI)(R8*2), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y2, Y2
	VPMOVSXBW    64(SI)(R9*1), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y3, Y3
	VPMOVSXBW    80(SI)(R9*1), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y3, Y3
	VPBROADCASTD 24(DI), Y10
	VPBROADCASTD 28(DI), Y11
	VPMOVSXBW    96(SI), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y0, Y0
	VPMOVSXBW    112(SI), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y0, Y0
	VPMOVSXBW    96(SI)(R8*1), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y1, Y1
	VPMOVSXBW    112(SI)(R8*1), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y1, Y1
	VPMOVSXBW    96(SI)(R8*2), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y2, Y2
	VPMOVSXBW    112(SI)(R8*2), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y2, Y2
	VPMOVSXBW    96(SI)(R9*1), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y3, Y3
	VPMOVSXBW    112(SI)(R9*1), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y3, Y3
	VPBROADCASTD 32(DI), Y10
	VPBROADCASTD 36(DI), Y11
	VPMOVSXBW    128(SI), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y0, Y0
	VPMOVSXBW    144(SI), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y0, Y0
	VPMOVSXBW    128(SI)(R8*1), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y1, Y1
	VPMOVSXBW    144(SI)(R8*1), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y1, Y1
	VPMOVSXBW    128(SI)(R8*2), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y2, Y2
	VPMOVSXBW    144(SI)(R8*2), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y2, Y2
	VPMOVSXBW    128(SI)(R9*1), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y3, Y3
	VPMOVSXBW    144(SI)(R9*1), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y3, Y3
	VPBROADCASTD 40(DI), Y10
	VPBROADCASTD 44(DI), Y11
	VPMOVSXBW    160(SI), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y0, Y0
	VPMOVSXBW    176(SI), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y0, Y0
	VPMOVSXBW    160(SI)(R8*1), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y1, Y1
	VPMOVSXBW    176(SI)(R8*1), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y1, Y1
	VPMOVSXBW    160(SI)(R8*2), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y2, Y2
	VPMOVSXBW    176(SI)(R8*2), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y2, Y2
	VPMOVSXBW    160(SI)(R9*1), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y3, Y3
	VPMOVSXBW    176(SI)(R9*1), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y3, Y3
	VPBROADCASTD 48(DI), Y10
	VPBROADCASTD 52(DI), Y11
	VPMOVSXBW    192(SI), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y0, Y0
	VPMOVSXBW    208(SI), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y0, Y0
	VPMOVSXBW    192(SI)(R8*1), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y1, Y1
	VPMOVSXBW    208(SI)(R8*1), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y1, Y1
	VPMOVSXBW    192(SI)(R8*2), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y2, Y2
	VPMOVSXBW    208(SI)(R8*2), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y2, Y2
	VPMOVSXBW    192(SI)(R9*1), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y3, Y3
	VPMOVSXBW    208(SI)(R9*1), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y3, Y3
	VPBROADCASTD 56(DI), Y10
	VPBROADCASTD 60(DI), Y11
	VPMOVSXBW    224(SI), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y0, Y0
	VPMOVSXBW    240(SI), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y0, Y0
	VPMOVSXBW    224(SI)(R8*1), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y1, Y1
	VPMOVSXBW    240(SI)(R8*1), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y1, Y1
	VPMOVSXBW    224(SI)(R8*2), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y2, Y2
	VPMOVSXBW    240(SI)(R8*2), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y2, Y2
	VPMOVSXBW    224(SI)(R9*1), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y3, Y3
	VPMOVSXBW    240(SI)(R9*1), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y3, Y3
	VBROADCASTSS (DX), Y14
	VCVTPH2PS    (BX), Y12
	VMULPS       Y14, Y12, Y12
	VCVTDQ2PS    Y0, Y0
	VFMADD231PS  Y12, Y0, Y4
	VCVTPH2PS    (BX)(R8*1), Y12
	VMULPS       Y14, Y12, Y12
	VCVTDQ2PS    Y1, Y1
	VFMADD231PS  Y12, Y1, Y5
	VCVTPH2PS    (BX)(R8*2), Y12
	VMULPS       Y14, Y12, Y12
	VCVTDQ2PS    Y2, Y2
	VFMADD231PS  Y12, Y2, Y6
	VCVTPH2PS    (BX)(R9*1), Y12
	VMULPS       Y14, Y12, Y12
	VCVTDQ2PS    Y3, Y3
	VFMADD231PS  Y12, Y3, Y7
	ADDQ        $256, SI
	ADDQ        $16, BX
	ADDQ        $64, DI
	ADDQ        $4, DX
	DECQ        CX
	JNZ         q8g1x4AVX2block
	CMPQ         add+64(FP), $0
	JEQ          q8g1x4AVX2store
	VADDPS       (R10), Y4, Y4
	VADDPS       (R10)(R11*1), Y5, Y5
	VADDPS       (R10)(R11*2), Y6, Y6
	VADDPS       (R10)(R13*1), Y7, Y7

q8g1x4AVX2store:
	VMOVUPS      Y4, (R10)
	VMOVUPS      Y5, (R10)(R11*1)
	VMOVUPS      Y6, (R10)(R11*2)
	VMOVUPS      Y7, (R10)(R13*1)
	ADDQ         $32, R10
	MOVQ         gstride+80(FP), AX
	ADDQ         AX, 0(SP)
	ADDQ         AX, 8(SP)
	DECQ         R12
	JNZ          q8g1x4AVX2run
	VZEROUPPER
	RET


// func q8g1x4PF(w *byte, s *byte, xq *int16, xd *float32, nb int, sstride int, out *float32, ostride int, add int, ng int, gstride int, pfd int)
//
// One token against four row groups at once, sstride bytes apart in w and s: four memory
// streams in flight instead of one (see runQ8), and each activation broadcast serves four
// groups. Group k's eight sums go to out+k*ostride (bytes), added to what is there if add is
// not 0. ng runs of four: after each, w and s advance by gstride and out by 32 bytes. Integer
// sums in Y0..Y3, float sums in Y4..Y7, the token's quant pairs broadcast in Y10/Y11, its
// scale in Y14. Each stream prefetches pfd bytes ahead.
// Frame: 0 and 8 the run's w and s.
	PCALIGN $2048
TEXT ·q8g1x4PF(SB), NOSPLIT, $16-96
	MOVQ   w+0(FP), AX
	MOVQ   AX, 0(SP)
	MOVQ   s+8(FP), AX
	MOVQ   AX, 8(SP)
	MOVQ   sstride+40(FP), R8
	LEAQ   (R8)(R8*2), R9
	MOVQ   out+48(FP), R10
	MOVQ   ostride+56(FP), R11
	LEAQ   (R11)(R11*2), R13
	MOVQ   ng+72(FP), R12

q8g1x4PFrun:
	MOVQ   0(SP), SI
	MOVQ   8(SP), BX
	MOVQ   xq+16(FP), DI
	MOVQ   xd+24(FP), DX
	MOVQ   nb+32(FP), CX
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

q8g1x4PFblock:
	MOVQ   pfd+88(FP), AX
	ADDQ   SI, AX
	PREFETCHT0 0(AX)
	PREFETCHT0 64(AX)
	PREFETCHT0 128(AX)
	PREFETCHT0 192(AX)
	PREFETCHT0 0(AX)(R8*1)
	PREFETCHT0 64(AX)(R8*1)
	PREFETCHT0 128(AX)(R8*1)
	PREFETCHT0 192(AX)(R8*1)
	PREFETCHT0 0(AX)(R8*2)
	PREFETCHT0 64(AX)(R8*2)
	PREFETCHT0 128(AX)(R8*2)
	PREFETCHT0 192(AX)(R8*2)
	PREFETCHT0 0(AX)(R9*1)
	PREFETCHT0 64(AX)(R9*1)
	PREFETCHT0 128(AX)(R9*1)
	PREFETCHT0 192(AX)(R9*1)
	VPBROADCASTD 0(DI), Y10
	VPBROADCASTD 4(DI), Y11
	VPMOVSXBW    0(SI), Y8
	VPMADDWD     Y8, Y10, Y0
	VPMOVSXBW    16(SI), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y0, Y0
	VPMOVSXBW    0(SI)(R8*1), Y8
	VPMADDWD     Y8, Y10, Y1
	VPMOVSXBW    16(SI)(R8*1), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y1, Y1
	VPMOVSXBW    0(SI)(R8*2), Y8
	VPMADDWD     Y8, Y10, Y2
	VPMOVSXBW    16(SI)(R8*2), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y2, Y2
	VPMOVSXBW    0(SI)(R9*1), Y8
	VPMADDWD     Y8, Y10, Y3
	VPMOVSXBW    16(SI)(R9*1), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y3, Y3
	VPBROADCASTD 8(DI), Y10
	VPBROADCASTD 12(DI), Y11
	VPMOVSXBW    32(SI), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y0, Y0
	VPMOVSXBW    48(SI), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y0, Y0
	VPMOVSXBW    32(SI)(R8*1), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y1, Y1
	VPMOVSXBW    48(SI)(R8*1), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y1, Y1
	VPMOVSXBW    32(SI)(R8*2), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y2, Y2
	VPMOVSXBW    48(SI)(R8*2), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y2, Y2
	VPMOVSXBW    32(SI)(R9*1), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y3, Y3
	VPMOVSXBW    48(SI)(R9*1), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y3, Y3
	VPBROADCASTD 16(DI), Y10
	VPBROADCASTD 20(DI), Y11
	VPMOVSXBW    64(SI), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y0, Y0
	VPMOVSXBW    80(SI), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y0, Y0
	VPMOVSXBW    64(SI)(R8*1), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y1, Y1
	VPMOVSXBW    80(SI)(R8*1), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y1, Y1
	VPMOVSXBW    64(SI)(R8*2), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y2, Y2
	VPMOVSXBW    80(SI)(R8*2), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y2, Y2
	VPMOVSXBW    64(SI)(R9*1), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y3, Y3
	VPMOVSXBW    80(SI)(R9*1), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y3, Y3
	VPBROADCASTD 24(DI), Y10
	VPBROADCASTD 28(DI), Y11
	VPMOVSXBW    96(SI), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y0, Y0
	VPMOVSXBW    112(SI), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y0, Y0
	VPMOVSXBW    96(SI)(R8*1), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y1, Y1
	VPMOVSXBW    112(SI)(R8*1), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y1, Y1
	VPMOVSXBW    96(SI)(R8*2), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y2, Y2
	VPMOVSXBW    112(SI)(R8*2), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y2, Y2
	VPMOVSXBW    96(SI)(R9*1), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y3, Y3
	VPMOVSXBW    112(SI)(R9*1), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y3, Y3
	VPBROADCASTD 32(DI), Y10
	VPBROADCASTD 36(DI), Y11
	VPMOVSXBW    128(SI), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y0, Y0
	VPMOVSXBW    144(SI), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y0, Y0
	VPMOVSXBW    128(SI)(R8*1), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y1, Y1
	VPMOVSXBW    144(SI)(R8*1), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y1, Y1
	VPMOVSXBW    128(SI)(R8*2), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y2, Y2
	VPMOVSXBW    144(SI)(R8*2), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y2, Y2
	VPMOVSXBW    128(SI)(R9*1), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y3, Y3
	VPMOVSXBW    144(SI)(R9*1), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y3, Y3
	VPBROADCASTD 40(DI), Y10
	VPBROADCASTD 44(DI), Y11
	VPMOVSXBW    160(SI), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y0, Y0
	VPMOVSXBW    176(SI), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y0, Y0
	VPMOVSXBW    160(SI)(R8*1), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y1, Y1
	VPMOVSXBW    176(SI)(R8*1), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y1, Y1
	VPMOVSXBW    160(SI)(R8*2), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y2, Y2
	VPMOVSXBW    176(SI)(R8*2), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y2, Y2
	VPMOVSXBW    160(SI)(R9*1), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y3, Y3
	VPMOVSXBW    176(SI)(R9*1), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y3, Y3
	VPBROADCASTD 48(DI), Y10
	VPBROADCASTD 52(DI), Y11
	VPMOVSXBW    192(SI), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y0, Y0
	VPMOVSXBW    208(SI), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y0, Y0
	VPMOVSXBW    192(SI)(R8*1), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y1, Y1
	VPMOVSXBW    208(SI)(R8*1), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y1, Y1
	VPMOVSXBW    192(SI)(R8*2), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y2, Y2
	VPMOVSXBW    208(SI)(R8*2), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y2, Y2
	VPMOVSXBW    192(SI)(R9*1), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y3, Y3
	VPMOVSXBW    208(SI)(R9*1), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y3, Y3
	VPBROADCASTD 56(DI), Y10
	VPBROADCASTD 60(DI), Y11
	VPMOVSXBW    224(SI), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y0, Y0
	VPMOVSXBW    240(SI), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y0, Y0
	VPMOVSXBW    224(SI)(R8*1), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y1, Y1
	VPMOVSXBW    240(SI)(R8*1), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y1, Y1
	VPMOVSXBW    224(SI)(R8*2), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y2, Y2
	VPMOVSXBW    240(SI)(R8*2), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y2, Y2
	VPMOVSXBW    224(SI)(R9*1), Y8
	VPMADDWD     Y8, Y10, Y8
	VPADDD       Y8, Y3, Y3
	VPMOVSXBW    240(SI)(R9*1), Y9
	VPMADDWD     Y9, Y11, Y9
	VPADDD       Y9, Y3, Y3
	VBROADCASTSS (DX), Y14
	VCVTPH2PS    (BX), Y12
	VMULPS       Y14, Y12, Y12
	VCVTDQ2PS    Y0, Y0
	VFMADD231PS  Y12, Y0, Y4
	VCVTPH2PS    (BX)(R8*1), Y12
	VMULPS       Y14, Y12, Y12
	VCVTDQ2PS    Y1, Y1
	VFMADD231PS  Y12, Y1, Y5
	VCVTPH2PS    (BX)(R8*2), Y12
	VMULPS       Y14, Y12, Y12
	VCVTDQ2PS    Y2, Y2
	VFMADD231PS  Y12, Y2, Y6
	VCVTPH2PS    (BX)(R9*1), Y12
	VMULPS       Y14, Y12, Y12
	VCVTDQ2PS    Y3, Y3
	VFMADD231PS  Y12, Y3, Y7
	ADDQ        $256, SI
	ADDQ        $16, BX
	ADDQ        $64, DI
	ADDQ        $4, DX
	DECQ        CX
	JNZ         q8g1x4PFblock
	CMPQ         add+64(FP), $0
	JEQ          q8g1x4PFstore
	VADDPS       (R10), Y4, Y4
	VADDPS       (R10)(R11*1), Y5, Y5
	VADDPS       (R10)(R11*2), Y6, Y6
	VADDPS       (R10)(R13*1), Y7, Y7

q8g1x4PFstore:
	VMOVUPS      Y4, (R10)
	VMOVUPS      Y5, (R10)(R11*1)
	VMOVUPS      Y6, (R10)(R11*2)
	VMOVUPS      Y7, (R10)(R13*1)
	ADDQ         $32, R10
	MOVQ         gstride+80(FP), AX
	ADDQ         AX, 0(SP)
	ADDQ         AX, 8(SP)
	DECQ         R12
	JNZ          q8g1x4PFrun
	VZEROUPPER
	RET


// func q8g4AVX2(w *byte, s *byte, xq *int16, xd *float32, nb int, qstride int, dstride int, out *float32, ostride int, add int)
//
// Four tokens against one row group: token t's quants at xq+t*qstride, its scales at
// xd+t*dstride (bytes). Token t's eight sums go to out+t*ostride (bytes), added to what is
// there if add is not 0. Float sums in Y4..Y7.
	PCALIGN $2048
TEXT ·q8g4AVX2(SB), NOSPLIT, $0-80
	MOVQ   w+0(FP), SI
	MOVQ   s+8(FP), BX
	MOVQ   xq+16(FP), DI
	MOVQ   xd+24(FP), DX
	MOVQ   nb+32(FP), CX
	MOVQ   qstride+40(FP), R8
	MOVQ   dstride+48(FP), R9
	LEAQ   (R8)(R8*2), R10
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

q8g4block:
	PREFETCHT0 8192(SI)
	PREFETCHT0 8192+64(SI)
	PREFETCHT0 8192+128(SI)
	PREFETCHT0 8192+192(SI)
	VCVTPH2PS (BX), Y12
	Q8QUAD(0)
	Q8Q0(0(DI), 4(DI), Y0)
	Q8Q0(0(DI)(R8*1), 4(DI)(R8*1), Y1)
	Q8Q0(0(DI)(R8*2), 4(DI)(R8*2), Y2)
	Q8Q0(0(DI)(R10*1), 4(DI)(R10*1), Y3)
	Q8QUAD(32)
	Q8Q(8(DI), 12(DI), Y0)
	Q8Q(8(DI)(R8*1), 12(DI)(R8*1), Y1)
	Q8Q(8(DI)(R8*2), 12(DI)(R8*2), Y2)
	Q8Q(8(DI)(R10*1), 12(DI)(R10*1), Y3)
	Q8QUAD(64)
	Q8Q(16(DI), 20(DI), Y0)
	Q8Q(16(DI)(R8*1), 20(DI)(R8*1), Y1)
	Q8Q(16(DI)(R8*2), 20(DI)(R8*2), Y2)
	Q8Q(16(DI)(R10*1), 20(DI)(R10*1), Y3)
	Q8QUAD(96)
	Q8Q(24(DI), 28(DI), Y0)
	Q8Q(24(DI)(R8*1), 28(DI)(R8*1), Y1)
	Q8Q(24(DI)(R8*2), 28(DI)(R8*2), Y2)
	Q8Q(24(DI)(R10*1), 28(DI)(R10*1), Y3)
	Q8QUAD(128)
	Q8Q(32(DI), 36(DI), Y0)
	Q8Q(32(DI)(R8*1), 36(DI)(R8*1), Y1)
	Q8Q(32(DI)(R8*2), 36(DI)(R8*2), Y2)
	Q8Q(32(DI)(R10*1), 36(DI)(R10*1), Y3)
	Q8QUAD(160)
	Q8Q(40(DI), 44(DI), Y0)
	Q8Q(40(DI)(R8*1), 44(DI)(R8*1), Y1)
	Q8Q(40(DI)(R8*2), 44(DI)(R8*2), Y2)
	Q8Q(40(DI)(R10*1), 44(DI)(R10*1), Y3)
	Q8QUAD(192)
	Q8Q(48(DI), 52(DI), Y0)
	Q8Q(48(DI)(R8*1), 52(DI)(R8*1), Y1)
	Q8Q(48(DI)(R8*2), 52(DI)(R8*2), Y2)
	Q8Q(48(DI)(R10*1), 52(DI)(R10*1), Y3)
	Q8QUAD(224)
	Q8Q(56(DI), 60(DI), Y0)
	Q8Q(56(DI)(R8*1), 60(DI)(R8*1), Y1)
	Q8Q(56(DI)(R8*2), 60(DI)(R8*2), Y2)
	Q8Q(56(DI)(R10*1), 60(DI)(R10*1), Y3)
	MOVQ        DX, AX
	VCVTDQ2PS   Y0, Y0
	Q8SCALE((AX))
	VFMADD231PS Y10, Y0, Y4
	ADDQ        R9, AX
	VCVTDQ2PS   Y1, Y1
	Q8SCALE((AX))
	VFMADD231PS Y10, Y1, Y5
	ADDQ        R9, AX
	VCVTDQ2PS   Y2, Y2
	Q8SCALE((AX))
	VFMADD231PS Y10, Y2, Y6
	ADDQ        R9, AX
	VCVTDQ2PS   Y3, Y3
	Q8SCALE((AX))
	VFMADD231PS Y10, Y3, Y7
	ADDQ        $256, SI
	ADDQ        $16, BX
	ADDQ        $64, DI
	ADDQ        $4, DX
	DECQ        CX
	JNZ         q8g4block
	MOVQ        out+56(FP), DI
	MOVQ        ostride+64(FP), R8
	LEAQ        (R8)(R8*2), R10
	CMPQ         add+72(FP), $0
	JEQ          q8g4store
	VADDPS       (DI), Y4, Y4
	VADDPS       (DI)(R8*1), Y5, Y5
	VADDPS       (DI)(R8*2), Y6, Y6
	VADDPS       (DI)(R10*1), Y7, Y7

q8g4store:
	VMOVUPS      Y4, (DI)
	VMOVUPS      Y5, (DI)(R8*1)
	VMOVUPS      Y6, (DI)(R8*2)
	VMOVUPS      Y7, (DI)(R10*1)
	VZEROUPPER
	RET


// func q8g8AVX2(w *byte, s *byte, xq *int16, xd *float32, nb int, qstride int, dstride int, out *float32, ostride int, add int, ng int, gstride int)
//
// q8g4AVX2 for eight tokens and ng consecutive row groups (gstride bytes apart in w and s; each
// group's outputs 8 floats after the last's): one call for a run of groups. The integer sums
// take Y0..Y7, so the float sums live in the frame (one load and one store per token and
// block, against its 16 VPMADDWD and 16 VPADDD). Frame: 0..255 the float sums, 256 the groups
// left, 264/272 the group's w and s, 280 its out.
	PCALIGN $2048
TEXT ·q8g8AVX2(SB), NOSPLIT, $288-96
	MOVQ      ng+80(FP), AX
	MOVQ      AX, 256(SP)
	MOVQ      w+0(FP), AX
	MOVQ      AX, 264(SP)
	MOVQ      s+8(FP), AX
	MOVQ      AX, 272(SP)
	MOVQ      out+56(FP), AX
	MOVQ      AX, 280(SP)
	MOVQ      dstride+48(FP), R9

q8g8group:
	MOVQ   264(SP), SI
	MOVQ   272(SP), BX
	MOVQ   xq+16(FP), DI
	MOVQ   xd+24(FP), DX
	MOVQ   nb+32(FP), CX
	MOVQ   qstride+40(FP), R8
	LEAQ   (R8)(R8*2), R10
	LEAQ   (R8)(R8*4), R11
	LEAQ   (R10)(R8*4), R12
	VXORPS Y0, Y0, Y0
	VMOVUPS Y0, 0(SP)
	VMOVUPS Y0, 32(SP)
	VMOVUPS Y0, 64(SP)
	VMOVUPS Y0, 96(SP)
	VMOVUPS Y0, 128(SP)
	VMOVUPS Y0, 160(SP)
	VMOVUPS Y0, 192(SP)
	VMOVUPS Y0, 224(SP)

q8g8block:
	PREFETCHT0 8192(SI)
	PREFETCHT0 8192+64(SI)
	PREFETCHT0 8192+128(SI)
	PREFETCHT0 8192+192(SI)
	VCVTPH2PS (BX), Y12
	Q8QUAD(0)
	Q8Q0(0(DI), 4(DI), Y0)
	Q8Q0(0(DI)(R8*1), 4(DI)(R8*1), Y1)
	Q8Q0(0(DI)(R8*2), 4(DI)(R8*2), Y2)
	Q8Q0(0(DI)(R10*1), 4(DI)(R10*1), Y3)
	Q8Q0(0(DI)(R8*4), 4(DI)(R8*4), Y4)
	Q8Q0(0(DI)(R11*1), 4(DI)(R11*1), Y5)
	Q8Q0(0(DI)(R10*2), 4(DI)(R10*2), Y6)
	Q8Q0(0(DI)(R12*1), 4(DI)(R12*1), Y7)
	Q8QUAD(32)
	Q8Q(8(DI), 12(DI), Y0)
	Q8Q(8(DI)(R8*1), 12(DI)(R8*1), Y1)
	Q8Q(8(DI)(R8*2), 12(DI)(R8*2), Y2)
	Q8Q(8(DI)(R10*1), 12(DI)(R10*1), Y3)
	Q8Q(8(DI)(R8*4), 12(DI)(R8*4), Y4)
	Q8Q(8(DI)(R11*1), 12(DI)(R11*1), Y5)
	Q8Q(8(DI)(R10*2), 12(DI)(R10*2), Y6)
	Q8Q(8(DI)(R12*1), 12(DI)(R12*1), Y7)
	Q8QUAD(64)
	Q8Q(16(DI), 20(DI), Y0)
	Q8Q(16(DI)(R8*1), 20(DI)(R8*1), Y1)
	Q8Q(16(DI)(R8*2), 20(DI)(R8*2), Y2)
	Q8Q(16(DI)(R10*1), 20(DI)(R10*1), Y3)
	Q8Q(16(DI)(R8*4), 20(DI)(R8*4), Y4)
	Q8Q(16(DI)(R11*1), 20(DI)(R11*1), Y5)
	Q8Q(16(DI)(R10*2), 20(DI)(R10*2), Y6)
	Q8Q(16(DI)(R12*1), 20(DI)(R12*1), Y7)
	Q8QUAD(96)
	Q8Q(24(DI), 28(DI), Y0)
	Q8Q(24(DI)(R8*1), 28(DI)(R8*1), Y1)
	Q8Q(24(DI)(R8*2), 28(DI)(R8*2), Y2)
	Q8Q(24(DI)(R10*1), 28(DI)(R10*1), Y3)
	Q8Q(24(DI)(R8*4), 28(DI)(R8*4), Y4)
	Q8Q(24(DI)(R11*1), 28(DI)(R11*1), Y5)
	Q8Q(24(DI)(R10*2), 28(DI)(R10*2), Y6)
	Q8Q(24(DI)(R12*1), 28(DI)(R12*1), Y7)
	Q8QUAD(128)
	Q8Q(32(DI), 36(DI), Y0)
	Q8Q(32(DI)(R8*1), 36(DI)(R8*1), Y1)
	Q8Q(32(DI)(R8*2), 36(DI)(R8*2), Y2)
	Q8Q(32(DI)(R10*1), 36(DI)(R10*1), Y3)
	Q8Q(32(DI)(R8*4), 36(DI)(R8*4), Y4)
	Q8Q(32(DI)(R11*1), 36(DI)(R11*1), Y5)
	Q8Q(32(DI)(R10*2), 36(DI)(R10*2), Y6)
	Q8Q(32(DI)(R12*1), 36(DI)(R12*1), Y7)
	Q8QUAD(160)
	Q8Q(40(DI), 44(DI), Y0)
	Q8Q(40(DI)(R8*1), 44(DI)(R8*1), Y1)
	Q8Q(40(DI)(R8*2), 44(DI)(R8*2), Y2)
	Q8Q(40(DI)(R10*1), 44(DI)(R10*1), Y3)
	Q8Q(40(DI)(R8*4), 44(DI)(R8*4), Y4)
	Q8Q(40(DI)(R11*1), 44(DI)(R11*1), Y5)
	Q8Q(40(DI)(R10*2), 44(DI)(R10*2), Y6)
	Q8Q(40(DI)(R12*1), 44(DI)(R12*1), Y7)
	Q8QUAD(192)
	Q8Q(48(DI), 52(DI), Y0)
	Q8Q(48(DI)(R8*1), 52(DI)(R8*1), Y1)
	Q8Q(48(DI)(R8*2), 52(DI)(R8*2), Y2)
	Q8Q(48(DI)(R10*1), 52(DI)(R10*1), Y3)
	Q8Q(48(DI)(R8*4), 52(DI)(R8*4), Y4)
	Q8Q(48(DI)(R11*1), 52(DI)(R11*1), Y5)
	Q8Q(48(DI)(R10*2), 52(DI)(R10*2), Y6)
	Q8Q(48(DI)(R12*1), 52(DI)(R12*1), Y7)
	Q8QUAD(224)
	Q8Q(56(DI), 60(DI), Y0)
	Q8Q(56(DI)(R8*1), 60(DI)(R8*1), Y1)
	Q8Q(56(DI)(R8*2), 60(DI)(R8*2), Y2)
	Q8Q(56(DI)(R10*1), 60(DI)(R10*1), Y3)
	Q8Q(56(DI)(R8*4), 60(DI)(R8*4), Y4)
	Q8Q(56(DI)(R11*1), 60(DI)(R11*1), Y5)
	Q8Q(56(DI)(R10*2), 60(DI)(R10*2), Y6)
	Q8Q(56(DI)(R12*1), 60(DI)(R12*1), Y7)
	MOVQ        DX, AX
	VCVTDQ2PS   Y0, Y0
	Q8SCALE((AX))
	VMOVUPS     0(SP), Y11
	VFMADD231PS Y10, Y0, Y11
	VMOVUPS     Y11, 0(SP)
	ADDQ        R9, AX
	VCVTDQ2PS   Y1, Y1
	Q8SCALE((AX))
	VMOVUPS     32(SP), Y11
	VFMADD231PS Y10, Y1, Y11
	VMOVUPS     Y11, 32(SP)
	ADDQ        R9, AX
	VCVTDQ2PS   Y2, Y2
	Q8SCALE((AX))
	VMOVUPS     64(SP), Y11
	VFMADD231PS Y10, Y2, Y11
	VMOVUPS     Y11, 64(SP)
	ADDQ        R9, AX
	VCVTDQ2PS   Y3, Y3
	Q8SCALE((AX))
	VMOVUPS     96(SP), Y11
	VFMADD231PS Y10, Y3, Y11
	VMOVUPS     Y11, 96(SP)
	ADDQ        R9, AX
	VCVTDQ2PS   Y4, Y4
	Q8SCALE((AX))
	VMOVUPS     128(SP), Y11
	VFMADD231PS Y10, Y4, Y11
	VMOVUPS     Y11, 128(SP)
	ADDQ        R9, AX
	VCVTDQ2PS   Y5, Y5
	Q8SCALE((AX))
	VMOVUPS     160(SP), Y11
	VFMADD231PS Y10, Y5, Y11
	VMOVUPS     Y11, 160(SP)
	ADDQ        R9, AX
	VCVTDQ2PS   Y6, Y6
	Q8SCALE((AX))
	VMOVUPS     192(SP), Y11
	VFMADD231PS Y10, Y6, Y11
	VMOVUPS     Y11, 192(SP)
	ADDQ        R9, AX
	VCVTDQ2PS   Y7, Y7
	Q8SCALE((AX))
	VMOVUPS     224(SP), Y11
	VFMADD231PS Y10, Y7, Y11
	VMOVUPS     Y11, 224(SP)
	ADDQ        $256, SI
	ADDQ        $16, BX
	ADDQ        $64, DI
	ADDQ        $4, DX
	DECQ        CX
	JNZ         q8g8block
	MOVQ        280(SP), DI
	MOVQ        ostride+64(FP), R8
	CMPQ        add+72(FP), $0
	JEQ         q8g8store
	VMOVUPS 0(SP), Y0
	VADDPS  (DI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    R8, DI
	VMOVUPS 32(SP), Y0
	VADDPS  (DI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    R8, DI
	VMOVUPS 64(SP), Y0
	VADDPS  (DI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    R8, DI
	VMOVUPS 96(SP), Y0
	VADDPS  (DI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    R8, DI
	VMOVUPS 128(SP), Y0
	VADDPS  (DI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    R8, DI
	VMOVUPS 160(SP), Y0
	VADDPS  (DI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    R8, DI
	VMOVUPS 192(SP), Y0
	VADDPS  (DI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    R8, DI
	VMOVUPS 224(SP), Y0
	VADDPS  (DI), Y0, Y0
	VMOVUPS Y0, (DI)
	JMP     q8g8next

q8g8store:
	VMOVUPS 0(SP), Y0
	VMOVUPS Y0, (DI)
	ADDQ    R8, DI
	VMOVUPS 32(SP), Y0
	VMOVUPS Y0, (DI)
	ADDQ    R8, DI
	VMOVUPS 64(SP), Y0
	VMOVUPS Y0, (DI)
	ADDQ    R8, DI
	VMOVUPS 96(SP), Y0
	VMOVUPS Y0, (DI)
	ADDQ    R8, DI
	VMOVUPS 128(SP), Y0
	VMOVUPS Y0, (DI)
	ADDQ    R8, DI
	VMOVUPS 160(SP), Y0
	VMOVUPS Y0, (DI)
	ADDQ    R8, DI
	VMOVUPS 192(SP), Y0
	VMOVUPS Y0, (DI)
	ADDQ    R8, DI
	VMOVUPS 224(SP), Y0
	VMOVUPS Y0, (DI)

q8g8next:
	MOVQ        gstride+88(FP), AX
	ADDQ        AX, 264(SP)
	ADDQ        AX, 272(SP)
	ADDQ        $32, 280(SP)
	DECQ        256(SP)
	JNZ         q8g8group
	VZEROUPPER
	RET

// q8avxQuadRows: within each 128-bit lane (after VPERMQ $0xd8 has put rows 0..3, then 4..7, of
// a quad's two halves side by side), row r's two words side by side: its four columns in a
// dword.
DATA q8avxQuadRows<>+0(SB)/1, $0
DATA q8avxQuadRows<>+1(SB)/1, $1
DATA q8avxQuadRows<>+2(SB)/1, $8
DATA q8avxQuadRows<>+3(SB)/1, $9
DATA q8avxQuadRows<>+4(SB)/1, $2
DATA q8avxQuadRows<>+5(SB)/1, $3
DATA q8avxQuadRows<>+6(SB)/1, $10
DATA q8avxQuadRows<>+7(SB)/1, $11
DATA q8avxQuadRows<>+8(SB)/1, $4
DATA q8avxQuadRows<>+9(SB)/1, $5
DATA q8avxQuadRows<>+10(SB)/1, $12
DATA q8avxQuadRows<>+11(SB)/1, $13
DATA q8avxQuadRows<>+12(SB)/1, $6
DATA q8avxQuadRows<>+13(SB)/1, $7
DATA q8avxQuadRows<>+14(SB)/1, $14
DATA q8avxQuadRows<>+15(SB)/1, $15
DATA q8avxQuadRows<>+16(SB)/1, $0
DATA q8avxQuadRows<>+17(SB)/1, $1
DATA q8avxQuadRows<>+18(SB)/1, $8
DATA q8avxQuadRows<>+19(SB)/1, $9
DATA q8avxQuadRows<>+20(SB)/1, $2
DATA q8avxQuadRows<>+21(SB)/1, $3
DATA q8avxQuadRows<>+22(SB)/1, $10
DATA q8avxQuadRows<>+23(SB)/1, $11
DATA q8avxQuadRows<>+24(SB)/1, $4
DATA q8avxQuadRows<>+25(SB)/1, $5
DATA q8avxQuadRows<>+26(SB)/1, $12
DATA q8avxQuadRows<>+27(SB)/1, $13
DATA q8avxQuadRows<>+28(SB)/1, $6
DATA q8avxQuadRows<>+29(SB)/1, $7
DATA q8avxQuadRows<>+30(SB)/1, $14
DATA q8avxQuadRows<>+31(SB)/1, $15
GLOBL q8avxQuadRows<>(SB), RODATA|NOPTR, $32

// q8avx128: bytes of 128.
DATA q8avx128<>+0(SB)/8, $0x8080808080808080
DATA q8avx128<>+8(SB)/8, $0x8080808080808080
DATA q8avx128<>+16(SB)/8, $0x8080808080808080
DATA q8avx128<>+24(SB)/8, $0x8080808080808080
GLOBL q8avx128<>(SB), RODATA|NOPTR, $32

// func q8PackU8AVX2(dst *byte, src *int16, qstride int, nb int, ntok int)
//
// q8PackU8VNNI without AVX-512: ntok tokens' quants (int16 in [-128, 127], token t at
// src+t*qstride bytes) for nb blocks to unsigned bytes q+128, token t at dst+t*nb*32.
// VPACKSSWB packs within 128-bit lanes; VPERMQ puts the four 8-byte runs back in order.
	PCALIGN $2048
TEXT ·q8PackU8AVX2(SB), NOSPLIT, $0-40
	MOVQ    dst+0(FP), DI
	MOVQ    src+8(FP), SI
	MOVQ    qstride+16(FP), R8
	VMOVDQU q8avx128<>(SB), Y2
	MOVQ    ntok+32(FP), DX

q8packavxtok:
	MOVQ    SI, BX
	MOVQ    nb+24(FP), CX

q8packavxblock:
	VMOVDQU   (BX), Y0
	VMOVDQU   32(BX), Y1
	VPACKSSWB Y1, Y0, Y0
	VPERMQ    $0xd8, Y0, Y0
	VPXOR     Y2, Y0, Y0
	VMOVDQU   Y0, (DI)
	ADDQ      $64, BX
	ADDQ      $32, DI
	DECQ      CX
	JNZ       q8packavxblock
	ADDQ      R8, SI
	DECQ      DX
	JNZ       q8packavxtok
	VZEROUPPER
	RET

// func q8g8AVXVNNI(w *byte, s *byte, xu *byte, xd *float32, nb int, ustride int, dstride int, out *float32, ostride int, add int, ng int, gstride int)
//
// q8g8DPBUSD's contract on AVX-VNNI for 8 tokens: their quants as bytes q+128 (token t at
// xu+t*ustride), their scales at xd+t*dstride, ng groups gstride bytes apart. Y0..Y7 the
// tokens' integer sums, Y8 the quad (a row a lane), Y9 128 x the rows' block
// sums of weights, Y10 bytes of 128, Y11 the quad's shuffle, Y12/Y13 the tokens' four bytes
// broadcast, Y14 the rows' scales. Frame: 0..255 the float sums, 256 the groups left,
// 264/272 the group's w and s, 280 its out.
	PCALIGN $2048
TEXT ·q8g8AVXVNNI(SB), NOSPLIT, $288-96
	MOVQ      ng+80(FP), AX
	MOVQ      AX, 256(SP)
	MOVQ      w+0(FP), AX
	MOVQ      AX, 264(SP)
	MOVQ      s+8(FP), AX
	MOVQ      AX, 272(SP)
	MOVQ      out+56(FP), AX
	MOVQ      AX, 280(SP)
	MOVQ      dstride+48(FP), R9
	VMOVDQU q8avx128<>(SB), Y10
	VMOVDQU q8avxQuadRows<>(SB), Y11

q8g8AVXVNNIgroup:
	MOVQ   264(SP), SI
	MOVQ   272(SP), BX
	MOVQ   xu+16(FP), DI
	MOVQ   xd+24(FP), DX
	MOVQ   nb+32(FP), CX
	MOVQ   ustride+40(FP), R8
	LEAQ   (R8)(R8*2), R10
	LEAQ   (R8)(R8*4), R11
	LEAQ   (R10)(R8*4), R12
	VXORPS Y0, Y0, Y0
	VMOVUPS Y0, 0(SP)
	VMOVUPS Y0, 32(SP)
	VMOVUPS Y0, 64(SP)
	VMOVUPS Y0, 96(SP)
	VMOVUPS Y0, 128(SP)
	VMOVUPS Y0, 160(SP)
	VMOVUPS Y0, 192(SP)
	VMOVUPS Y0, 224(SP)

q8g8AVXVNNIblock:
	PREFETCHT0 8192(SI)
	PREFETCHT0 8192+64(SI)
	PREFETCHT0 8192+128(SI)
	PREFETCHT0 8192+192(SI)
	VPXOR      Y9, Y9, Y9
	VPXOR      Y0, Y0, Y0
	VPXOR      Y1, Y1, Y1
	VPXOR      Y2, Y2, Y2
	VPXOR      Y3, Y3, Y3
	VPXOR      Y4, Y4, Y4
	VPXOR      Y5, Y5, Y5
	VPXOR      Y6, Y6, Y6
	VPXOR      Y7, Y7, Y7
	VPERMQ     $0xd8, 0(SI), Y8
	VPSHUFB    Y11, Y8, Y8
	BYTE $0xC4; BYTE $0x42; BYTE $0x2d; BYTE $0x50; BYTE $0xc8 // VPDPBUSD Y8, Y10, Y9
	VPBROADCASTD 0(DI), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xc0 // VPDPBUSD Y8, Y12, Y0
	VPBROADCASTD 0(DI)(R8*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xc8 // VPDPBUSD Y8, Y13, Y1
	VPBROADCASTD 0(DI)(R8*2), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xd0 // VPDPBUSD Y8, Y12, Y2
	VPBROADCASTD 0(DI)(R10*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xd8 // VPDPBUSD Y8, Y13, Y3
	VPBROADCASTD 0(DI)(R8*4), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xe0 // VPDPBUSD Y8, Y12, Y4
	VPBROADCASTD 0(DI)(R11*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xe8 // VPDPBUSD Y8, Y13, Y5
	VPBROADCASTD 0(DI)(R10*2), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xf0 // VPDPBUSD Y8, Y12, Y6
	VPBROADCASTD 0(DI)(R12*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xf8 // VPDPBUSD Y8, Y13, Y7
	VPERMQ     $0xd8, 32(SI), Y8
	VPSHUFB    Y11, Y8, Y8
	BYTE $0xC4; BYTE $0x42; BYTE $0x2d; BYTE $0x50; BYTE $0xc8 // VPDPBUSD Y8, Y10, Y9
	VPBROADCASTD 4(DI), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xc0 // VPDPBUSD Y8, Y12, Y0
	VPBROADCASTD 4(DI)(R8*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xc8 // VPDPBUSD Y8, Y13, Y1
	VPBROADCASTD 4(DI)(R8*2), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xd0 // VPDPBUSD Y8, Y12, Y2
	VPBROADCASTD 4(DI)(R10*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xd8 // VPDPBUSD Y8, Y13, Y3
	VPBROADCASTD 4(DI)(R8*4), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xe0 // VPDPBUSD Y8, Y12, Y4
	VPBROADCASTD 4(DI)(R11*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xe8 // VPDPBUSD Y8, Y13, Y5
	VPBROADCASTD 4(DI)(R10*2), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xf0 // VPDPBUSD Y8, Y12, Y6
	VPBROADCASTD 4(DI)(R12*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xf8 // VPDPBUSD Y8, Y13, Y7
	VPERMQ     $0xd8, 64(SI), Y8
	VPSHUFB    Y11, Y8, Y8
	BYTE $0xC4; BYTE $0x42; BYTE $0x2d; BYTE $0x50; BYTE $0xc8 // VPDPBUSD Y8, Y10, Y9
	VPBROADCASTD 8(DI), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xc0 // VPDPBUSD Y8, Y12, Y0
	VPBROADCASTD 8(DI)(R8*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xc8 // VPDPBUSD Y8, Y13, Y1
	VPBROADCASTD 8(DI)(R8*2), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xd0 // VPDPBUSD Y8, Y12, Y2
	VPBROADCASTD 8(DI)(R10*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xd8 // VPDPBUSD Y8, Y13, Y3
	VPBROADCASTD 8(DI)(R8*4), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xe0 // VPDPBUSD Y8, Y12, Y4
	VPBROADCASTD 8(DI)(R11*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xe8 // VPDPBUSD Y8, Y13, Y5
	VPBROADCASTD 8(DI)(R10*2), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xf0 // VPDPBUSD Y8, Y12, Y6
	VPBROADCASTD 8(DI)(R12*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xf8 // VPDPBUSD Y8, Y13, Y7
	VPERMQ     $0xd8, 96(SI), Y8
	VPSHUFB    Y11, Y8, Y8
	BYTE $0xC4; BYTE $0x42; BYTE $0x2d; BYTE $0x50; BYTE $0xc8 // VPDPBUSD Y8, Y10, Y9
	VPBROADCASTD 12(DI), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xc0 // VPDPBUSD Y8, Y12, Y0
	VPBROADCASTD 12(DI)(R8*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xc8 // VPDPBUSD Y8, Y13, Y1
	VPBROADCASTD 12(DI)(R8*2), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xd0 // VPDPBUSD Y8, Y12, Y2
	VPBROADCASTD 12(DI)(R10*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xd8 // VPDPBUSD Y8, Y13, Y3
	VPBROADCASTD 12(DI)(R8*4), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xe0 // VPDPBUSD Y8, Y12, Y4
	VPBROADCASTD 12(DI)(R11*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xe8 // VPDPBUSD Y8, Y13, Y5
	VPBROADCASTD 12(DI)(R10*2), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xf0 // VPDPBUSD Y8, Y12, Y6
	VPBROADCASTD 12(DI)(R12*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xf8 // VPDPBUSD Y8, Y13, Y7
	VPERMQ     $0xd8, 128(SI), Y8
	VPSHUFB    Y11, Y8, Y8
	BYTE $0xC4; BYTE $0x42; BYTE $0x2d; BYTE $0x50; BYTE $0xc8 // VPDPBUSD Y8, Y10, Y9
	VPBROADCASTD 16(DI), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xc0 // VPDPBUSD Y8, Y12, Y0
	VPBROADCASTD 16(DI)(R8*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xc8 // VPDPBUSD Y8, Y13, Y1
	VPBROADCASTD 16(DI)(R8*2), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xd0 // VPDPBUSD Y8, Y12, Y2
	VPBROADCASTD 16(DI)(R10*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xd8 // VPDPBUSD Y8, Y13, Y3
	VPBROADCASTD 16(DI)(R8*4), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xe0 // VPDPBUSD Y8, Y12, Y4
	VPBROADCASTD 16(DI)(R11*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xe8 // VPDPBUSD Y8, Y13, Y5
	VPBROADCASTD 16(DI)(R10*2), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xf0 // VPDPBUSD Y8, Y12, Y6
	VPBROADCASTD 16(DI)(R12*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xf8 // VPDPBUSD Y8, Y13, Y7
	VPERMQ     $0xd8, 160(SI), Y8
	VPSHUFB    Y11, Y8, Y8
	BYTE $0xC4; BYTE $0x42; BYTE $0x2d; BYTE $0x50; BYTE $0xc8 // VPDPBUSD Y8, Y10, Y9
	VPBROADCASTD 20(DI), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xc0 // VPDPBUSD Y8, Y12, Y0
	VPBROADCASTD 20(DI)(R8*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xc8 // VPDPBUSD Y8, Y13, Y1
	VPBROADCASTD 20(DI)(R8*2), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xd0 // VPDPBUSD Y8, Y12, Y2
	VPBROADCASTD 20(DI)(R10*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xd8 // VPDPBUSD Y8, Y13, Y3
	VPBROADCASTD 20(DI)(R8*4), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xe0 // VPDPBUSD Y8, Y12, Y4
	VPBROADCASTD 20(DI)(R11*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xe8 // VPDPBUSD Y8, Y13, Y5
	VPBROADCASTD 20(DI)(R10*2), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xf0 // VPDPBUSD Y8, Y12, Y6
	VPBROADCASTD 20(DI)(R12*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xf8 // VPDPBUSD Y8, Y13, Y7
	VPERMQ     $0xd8, 192(SI), Y8
	VPSHUFB    Y11, Y8, Y8
	BYTE $0xC4; BYTE $0x42; BYTE $0x2d; BYTE $0x50; BYTE $0xc8 // VPDPBUSD Y8, Y10, Y9
	VPBROADCASTD 24(DI), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xc0 // VPDPBUSD Y8, Y12, Y0
	VPBROADCASTD 24(DI)(R8*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xc8 // VPDPBUSD Y8, Y13, Y1
	VPBROADCASTD 24(DI)(R8*2), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xd0 // VPDPBUSD Y8, Y12, Y2
	VPBROADCASTD 24(DI)(R10*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xd8 // VPDPBUSD Y8, Y13, Y3
	VPBROADCASTD 24(DI)(R8*4), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xe0 // VPDPBUSD Y8, Y12, Y4
	VPBROADCASTD 24(DI)(R11*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xe8 // VPDPBUSD Y8, Y13, Y5
	VPBROADCASTD 24(DI)(R10*2), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xf0 // VPDPBUSD Y8, Y12, Y6
	VPBROADCASTD 24(DI)(R12*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xf8 // VPDPBUSD Y8, Y13, Y7
	VPERMQ     $0xd8, 224(SI), Y8
	VPSHUFB    Y11, Y8, Y8
	BYTE $0xC4; BYTE $0x42; BYTE $0x2d; BYTE $0x50; BYTE $0xc8 // VPDPBUSD Y8, Y10, Y9
	VPBROADCASTD 28(DI), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xc0 // VPDPBUSD Y8, Y12, Y0
	VPBROADCASTD 28(DI)(R8*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xc8 // VPDPBUSD Y8, Y13, Y1
	VPBROADCASTD 28(DI)(R8*2), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xd0 // VPDPBUSD Y8, Y12, Y2
	VPBROADCASTD 28(DI)(R10*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xd8 // VPDPBUSD Y8, Y13, Y3
	VPBROADCASTD 28(DI)(R8*4), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xe0 // VPDPBUSD Y8, Y12, Y4
	VPBROADCASTD 28(DI)(R11*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xe8 // VPDPBUSD Y8, Y13, Y5
	VPBROADCASTD 28(DI)(R10*2), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xf0 // VPDPBUSD Y8, Y12, Y6
	VPBROADCASTD 28(DI)(R12*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xf8 // VPDPBUSD Y8, Y13, Y7
	VCVTPH2PS  (BX), Y14
	MOVQ       DX, AX
	VPSUBD     Y9, Y0, Y0
	VCVTDQ2PS  Y0, Y0
	VBROADCASTSS (AX), Y15
	VMULPS     Y14, Y15, Y15
	VMOVUPS    0(SP), Y12
	VFMADD231PS Y15, Y0, Y12
	VMOVUPS    Y12, 0(SP)
	ADDQ       R9, AX
	VPSUBD     Y9, Y1, Y1
	VCVTDQ2PS  Y1, Y1
	VBROADCASTSS (AX), Y15
	VMULPS     Y14, Y15, Y15
	VMOVUPS    32(SP), Y12
	VFMADD231PS Y15, Y1, Y12
	VMOVUPS    Y12, 32(SP)
	ADDQ       R9, AX
	VPSUBD     Y9, Y2, Y2
	VCVTDQ2PS  Y2, Y2
	VBROADCASTSS (AX), Y15
	VMULPS     Y14, Y15, Y15
	VMOVUPS    64(SP), Y12
	VFMADD231PS Y15, Y2, Y12
	VMOVUPS    Y12, 64(SP)
	ADDQ       R9, AX
	VPSUBD     Y9, Y3, Y3
	VCVTDQ2PS  Y3, Y3
	VBROADCASTSS (AX), Y15
	VMULPS     Y14, Y15, Y15
	VMOVUPS    96(SP), Y12
	VFMADD231PS Y15, Y3, Y12
	VMOVUPS    Y12, 96(SP)
	ADDQ       R9, AX
	VPSUBD     Y9, Y4, Y4
	VCVTDQ2PS  Y4, Y4
	VBROADCASTSS (AX), Y15
	VMULPS     Y14, Y15, Y15
	VMOVUPS    128(SP), Y12
	VFMADD231PS Y15, Y4, Y12
	VMOVUPS    Y12, 128(SP)
	ADDQ       R9, AX
	VPSUBD     Y9, Y5, Y5
	VCVTDQ2PS  Y5, Y5
	VBROADCASTSS (AX), Y15
	VMULPS     Y14, Y15, Y15
	VMOVUPS    160(SP), Y12
	VFMADD231PS Y15, Y5, Y12
	VMOVUPS    Y12, 160(SP)
	ADDQ       R9, AX
	VPSUBD     Y9, Y6, Y6
	VCVTDQ2PS  Y6, Y6
	VBROADCASTSS (AX), Y15
	VMULPS     Y14, Y15, Y15
	VMOVUPS    192(SP), Y12
	VFMADD231PS Y15, Y6, Y12
	VMOVUPS    Y12, 192(SP)
	ADDQ       R9, AX
	VPSUBD     Y9, Y7, Y7
	VCVTDQ2PS  Y7, Y7
	VBROADCASTSS (AX), Y15
	VMULPS     Y14, Y15, Y15
	VMOVUPS    224(SP), Y12
	VFMADD231PS Y15, Y7, Y12
	VMOVUPS    Y12, 224(SP)
	ADDQ       $256, SI
	ADDQ       $16, BX
	ADDQ       $32, DI
	ADDQ       $4, DX
	DECQ       CX
	JNZ        q8g8AVXVNNIblock
	MOVQ        280(SP), DI
	MOVQ        ostride+64(FP), R8
	CMPQ        add+72(FP), $0
	JEQ         q8g8AVXVNNIstore
	VMOVUPS 0(SP), Y0
	VADDPS  (DI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    R8, DI
	VMOVUPS 32(SP), Y0
	VADDPS  (DI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    R8, DI
	VMOVUPS 64(SP), Y0
	VADDPS  (DI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    R8, DI
	VMOVUPS 96(SP), Y0
	VADDPS  (DI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    R8, DI
	VMOVUPS 128(SP), Y0
	VADDPS  (DI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    R8, DI
	VMOVUPS 160(SP), Y0
	VADDPS  (DI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    R8, DI
	VMOVUPS 192(SP), Y0
	VADDPS  (DI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    R8, DI
	VMOVUPS 224(SP), Y0
	VADDPS  (DI), Y0, Y0
	VMOVUPS Y0, (DI)
	JMP     q8g8AVXVNNInext

q8g8AVXVNNIstore:
	VMOVUPS 0(SP), Y0
	VMOVUPS Y0, (DI)
	ADDQ    R8, DI
	VMOVUPS 32(SP), Y0
	VMOVUPS Y0, (DI)
	ADDQ    R8, DI
	VMOVUPS 64(SP), Y0
	VMOVUPS Y0, (DI)
	ADDQ    R8, DI
	VMOVUPS 96(SP), Y0
	VMOVUPS Y0, (DI)
	ADDQ    R8, DI
	VMOVUPS 128(SP), Y0
	VMOVUPS Y0, (DI)
	ADDQ    R8, DI
	VMOVUPS 160(SP), Y0
	VMOVUPS Y0, (DI)
	ADDQ    R8, DI
	VMOVUPS 192(SP), Y0
	VMOVUPS Y0, (DI)
	ADDQ    R8, DI
	VMOVUPS 224(SP), Y0
	VMOVUPS Y0, (DI)

q8g8AVXVNNInext:
	MOVQ        gstride+88(FP), AX
	ADDQ        AX, 264(SP)
	ADDQ        AX, 272(SP)
	ADDQ        $32, 280(SP)
	DECQ        256(SP)
	JNZ         q8g8AVXVNNIgroup
	VZEROUPPER
	RET

// func q8g4AVXVNNI(w *byte, s *byte, xu *byte, xd *float32, nb int, ustride int, dstride int, out *float32, ostride int, add int, ng int, gstride int)
//
// q8g8DPBUSD's contract on AVX-VNNI for 4 tokens: their quants as bytes q+128 (token t at
// xu+t*ustride), their scales at xd+t*dstride, ng groups gstride bytes apart. Y0..Y3 the
// tokens' integer sums (Y4..Y7 their odd quads'), Y8 the quad (a row a lane), Y9 128 x the rows' block
// sums of weights, Y10 bytes of 128, Y11 the quad's shuffle, Y12/Y13 the tokens' four bytes
// broadcast, Y14 the rows' scales. Frame: 0..127 the float sums, 256 the groups left,
// 264/272 the group's w and s, 280 its out.
	PCALIGN $2048
TEXT ·q8g4AVXVNNI(SB), NOSPLIT, $288-96
	MOVQ      ng+80(FP), AX
	MOVQ      AX, 256(SP)
	MOVQ      w+0(FP), AX
	MOVQ      AX, 264(SP)
	MOVQ      s+8(FP), AX
	MOVQ      AX, 272(SP)
	MOVQ      out+56(FP), AX
	MOVQ      AX, 280(SP)
	MOVQ      dstride+48(FP), R9
	VMOVDQU q8avx128<>(SB), Y10
	VMOVDQU q8avxQuadRows<>(SB), Y11

q8g4AVXVNNIgroup:
	MOVQ   264(SP), SI
	MOVQ   272(SP), BX
	MOVQ   xu+16(FP), DI
	MOVQ   xd+24(FP), DX
	MOVQ   nb+32(FP), CX
	MOVQ   ustride+40(FP), R8
	LEAQ   (R8)(R8*2), R10
	LEAQ   (R8)(R8*4), R11
	LEAQ   (R10)(R8*4), R12
	VXORPS Y0, Y0, Y0
	VMOVUPS Y0, 0(SP)
	VMOVUPS Y0, 32(SP)
	VMOVUPS Y0, 64(SP)
	VMOVUPS Y0, 96(SP)

q8g4AVXVNNIblock:
	PREFETCHT0 8192(SI)
	PREFETCHT0 8192+64(SI)
	PREFETCHT0 8192+128(SI)
	PREFETCHT0 8192+192(SI)
	VPXOR      Y9, Y9, Y9
	VPXOR      Y0, Y0, Y0
	VPXOR      Y1, Y1, Y1
	VPXOR      Y2, Y2, Y2
	VPXOR      Y3, Y3, Y3
	VPXOR      Y4, Y4, Y4
	VPXOR      Y5, Y5, Y5
	VPXOR      Y6, Y6, Y6
	VPXOR      Y7, Y7, Y7
	VPERMQ     $0xd8, 0(SI), Y8
	VPSHUFB    Y11, Y8, Y8
	BYTE $0xC4; BYTE $0x42; BYTE $0x2d; BYTE $0x50; BYTE $0xc8 // VPDPBUSD Y8, Y10, Y9
	VPBROADCASTD 0(DI), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xc0 // VPDPBUSD Y8, Y12, Y0
	VPBROADCASTD 0(DI)(R8*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xc8 // VPDPBUSD Y8, Y13, Y1
	VPBROADCASTD 0(DI)(R8*2), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xd0 // VPDPBUSD Y8, Y12, Y2
	VPBROADCASTD 0(DI)(R10*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xd8 // VPDPBUSD Y8, Y13, Y3
	VPERMQ     $0xd8, 32(SI), Y8
	VPSHUFB    Y11, Y8, Y8
	BYTE $0xC4; BYTE $0x42; BYTE $0x2d; BYTE $0x50; BYTE $0xc8 // VPDPBUSD Y8, Y10, Y9
	VPBROADCASTD 4(DI), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xe0 // VPDPBUSD Y8, Y12, Y4
	VPBROADCASTD 4(DI)(R8*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xe8 // VPDPBUSD Y8, Y13, Y5
	VPBROADCASTD 4(DI)(R8*2), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xf0 // VPDPBUSD Y8, Y12, Y6
	VPBROADCASTD 4(DI)(R10*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xf8 // VPDPBUSD Y8, Y13, Y7
	VPERMQ     $0xd8, 64(SI), Y8
	VPSHUFB    Y11, Y8, Y8
	BYTE $0xC4; BYTE $0x42; BYTE $0x2d; BYTE $0x50; BYTE $0xc8 // VPDPBUSD Y8, Y10, Y9
	VPBROADCASTD 8(DI), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xc0 // VPDPBUSD Y8, Y12, Y0
	VPBROADCASTD 8(DI)(R8*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xc8 // VPDPBUSD Y8, Y13, Y1
	VPBROADCASTD 8(DI)(R8*2), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xd0 // VPDPBUSD Y8, Y12, Y2
	VPBROADCASTD 8(DI)(R10*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xd8 // VPDPBUSD Y8, Y13, Y3
	VPERMQ     $0xd8, 96(SI), Y8
	VPSHUFB    Y11, Y8, Y8
	BYTE $0xC4; BYTE $0x42; BYTE $0x2d; BYTE $0x50; BYTE $0xc8 // VPDPBUSD Y8, Y10, Y9
	VPBROADCASTD 12(DI), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xe0 // VPDPBUSD Y8, Y12, Y4
	VPBROADCASTD 12(DI)(R8*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xe8 // VPDPBUSD Y8, Y13, Y5
	VPBROADCASTD 12(DI)(R8*2), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xf0 // VPDPBUSD Y8, Y12, Y6
	VPBROADCASTD 12(DI)(R10*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xf8 // VPDPBUSD Y8, Y13, Y7
	VPERMQ     $0xd8, 128(SI), Y8
	VPSHUFB    Y11, Y8, Y8
	BYTE $0xC4; BYTE $0x42; BYTE $0x2d; BYTE $0x50; BYTE $0xc8 // VPDPBUSD Y8, Y10, Y9
	VPBROADCASTD 16(DI), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xc0 // VPDPBUSD Y8, Y12, Y0
	VPBROADCASTD 16(DI)(R8*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xc8 // VPDPBUSD Y8, Y13, Y1
	VPBROADCASTD 16(DI)(R8*2), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xd0 // VPDPBUSD Y8, Y12, Y2
	VPBROADCASTD 16(DI)(R10*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xd8 // VPDPBUSD Y8, Y13, Y3
	VPERMQ     $0xd8, 160(SI), Y8
	VPSHUFB    Y11, Y8, Y8
	BYTE $0xC4; BYTE $0x42; BYTE $0x2d; BYTE $0x50; BYTE $0xc8 // VPDPBUSD Y8, Y10, Y9
	VPBROADCASTD 20(DI), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xe0 // VPDPBUSD Y8, Y12, Y4
	VPBROADCASTD 20(DI)(R8*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xe8 // VPDPBUSD Y8, Y13, Y5
	VPBROADCASTD 20(DI)(R8*2), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xf0 // VPDPBUSD Y8, Y12, Y6
	VPBROADCASTD 20(DI)(R10*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xf8 // VPDPBUSD Y8, Y13, Y7
	VPERMQ     $0xd8, 192(SI), Y8
	VPSHUFB    Y11, Y8, Y8
	BYTE $0xC4; BYTE $0x42; BYTE $0x2d; BYTE $0x50; BYTE $0xc8 // VPDPBUSD Y8, Y10, Y9
	VPBROADCASTD 24(DI), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xc0 // VPDPBUSD Y8, Y12, Y0
	VPBROADCASTD 24(DI)(R8*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xc8 // VPDPBUSD Y8, Y13, Y1
	VPBROADCASTD 24(DI)(R8*2), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xd0 // VPDPBUSD Y8, Y12, Y2
	VPBROADCASTD 24(DI)(R10*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xd8 // VPDPBUSD Y8, Y13, Y3
	VPERMQ     $0xd8, 224(SI), Y8
	VPSHUFB    Y11, Y8, Y8
	BYTE $0xC4; BYTE $0x42; BYTE $0x2d; BYTE $0x50; BYTE $0xc8 // VPDPBUSD Y8, Y10, Y9
	VPBROADCASTD 28(DI), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xe0 // VPDPBUSD Y8, Y12, Y4
	VPBROADCASTD 28(DI)(R8*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xe8 // VPDPBUSD Y8, Y13, Y5
	VPBROADCASTD 28(DI)(R8*2), Y12
	BYTE $0xC4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xf0 // VPDPBUSD Y8, Y12, Y6
	VPBROADCASTD 28(DI)(R10*1), Y13
	BYTE $0xC4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xf8 // VPDPBUSD Y8, Y13, Y7
	VCVTPH2PS  (BX), Y14
	MOVQ       DX, AX
	VPADDD     Y4, Y0, Y0
	VPSUBD     Y9, Y0, Y0
	VCVTDQ2PS  Y0, Y0
	VBROADCASTSS (AX), Y15
	VMULPS     Y14, Y15, Y15
	VMOVUPS    0(SP), Y12
	VFMADD231PS Y15, Y0, Y12
	VMOVUPS    Y12, 0(SP)
	ADDQ       R9, AX
	VPADDD     Y5, Y1, Y1
	VPSUBD     Y9, Y1, Y1
	VCVTDQ2PS  Y1, Y1
	VBROADCASTSS (AX), Y15
	VMULPS     Y14, Y15, Y15
	VMOVUPS    32(SP), Y12
	VFMADD231PS Y15, Y1, Y12
	VMOVUPS    Y12, 32(SP)
	ADDQ       R9, AX
	VPADDD     Y6, Y2, Y2
	VPSUBD     Y9, Y2, Y2
	VCVTDQ2PS  Y2, Y2
	VBROADCASTSS (AX), Y15
	VMULPS     Y14, Y15, Y15
	VMOVUPS    64(SP), Y12
	VFMADD231PS Y15, Y2, Y12
	VMOVUPS    Y12, 64(SP)
	ADDQ       R9, AX
	VPADDD     Y7, Y3, Y3
	VPSUBD     Y9, Y3, Y3
	VCVTDQ2PS  Y3, Y3
	VBROADCASTSS (AX), Y15
	VMULPS     Y14, Y15, Y15
	VMOVUPS    96(SP), Y12
	VFMADD231PS Y15, Y3, Y12
	VMOVUPS    Y12, 96(SP)
	ADDQ       $256, SI
	ADDQ       $16, BX
	ADDQ       $32, DI
	ADDQ       $4, DX
	DECQ       CX
	JNZ        q8g4AVXVNNIblock
	MOVQ        280(SP), DI
	MOVQ        ostride+64(FP), R8
	CMPQ        add+72(FP), $0
	JEQ         q8g4AVXVNNIstore
	VMOVUPS 0(SP), Y0
	VADDPS  (DI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    R8, DI
	VMOVUPS 32(SP), Y0
	VADDPS  (DI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    R8, DI
	VMOVUPS 64(SP), Y0
	VADDPS  (DI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    R8, DI
	VMOVUPS 96(SP), Y0
	VADDPS  (DI), Y0, Y0
	VMOVUPS Y0, (DI)
	JMP     q8g4AVXVNNInext

q8g4AVXVNNIstore:
	VMOVUPS 0(SP), Y0
	VMOVUPS Y0, (DI)
	ADDQ    R8, DI
	VMOVUPS 32(SP), Y0
	VMOVUPS Y0, (DI)
	ADDQ    R8, DI
	VMOVUPS 64(SP), Y0
	VMOVUPS Y0, (DI)
	ADDQ    R8, DI
	VMOVUPS 96(SP), Y0
	VMOVUPS Y0, (DI)

q8g4AVXVNNInext:
	MOVQ        gstride+88(FP), AX
	ADDQ        AX, 264(SP)
	ADDQ        AX, 272(SP)
	ADDQ        $32, 280(SP)
	DECQ        256(SP)
	JNZ         q8g4AVXVNNIgroup
	VZEROUPPER
	RET
	PCALIGN $2048
