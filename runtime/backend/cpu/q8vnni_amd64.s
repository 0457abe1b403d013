//go:build amd64 && !purego

#include "textflag.h"

// The AVX-512 VNNI q8_0 group kernels for four and eight tokens (q8group_gen.py writes this
// file; see it and q8group.go). Register use: Z0..Z7 the tokens' integer sums for the block,
// (row r in dword lanes 2r and 2r+1: its columns 4c, 4c+1 and 4c+2, 4c+3 of quad c), Z8 the
// quad, Z9..Z11 and Z24..Z29 scratch, Z12 the rows' scales (each twice), Z16..Z23 the tokens'
// float sums, Z30 and Z31 the lane permutations below.

// q8vnniPair: dword lane 2r takes lane r (row r's columns 4c, 4c+1), lane 2r+1 lane 8+r (its
// columns 4c+2, 4c+3).
DATA q8vnniPair<>+0(SB)/4, $0
DATA q8vnniPair<>+4(SB)/4, $8
DATA q8vnniPair<>+8(SB)/4, $1
DATA q8vnniPair<>+12(SB)/4, $9
DATA q8vnniPair<>+16(SB)/4, $2
DATA q8vnniPair<>+20(SB)/4, $10
DATA q8vnniPair<>+24(SB)/4, $3
DATA q8vnniPair<>+28(SB)/4, $11
DATA q8vnniPair<>+32(SB)/4, $4
DATA q8vnniPair<>+36(SB)/4, $12
DATA q8vnniPair<>+40(SB)/4, $5
DATA q8vnniPair<>+44(SB)/4, $13
DATA q8vnniPair<>+48(SB)/4, $6
DATA q8vnniPair<>+52(SB)/4, $14
DATA q8vnniPair<>+56(SB)/4, $7
DATA q8vnniPair<>+60(SB)/4, $15
GLOBL q8vnniPair<>(SB), RODATA|NOPTR, $64

// q8vnniTwice: lanes 2r and 2r+1 take lane r (a row's scale).
DATA q8vnniTwice<>+0(SB)/4, $0
DATA q8vnniTwice<>+4(SB)/4, $0
DATA q8vnniTwice<>+8(SB)/4, $1
DATA q8vnniTwice<>+12(SB)/4, $1
DATA q8vnniTwice<>+16(SB)/4, $2
DATA q8vnniTwice<>+20(SB)/4, $2
DATA q8vnniTwice<>+24(SB)/4, $3
DATA q8vnniTwice<>+28(SB)/4, $3
DATA q8vnniTwice<>+32(SB)/4, $4
DATA q8vnniTwice<>+36(SB)/4, $4
DATA q8vnniTwice<>+40(SB)/4, $5
DATA q8vnniTwice<>+44(SB)/4, $5
DATA q8vnniTwice<>+48(SB)/4, $6
DATA q8vnniTwice<>+52(SB)/4, $6
DATA q8vnniTwice<>+56(SB)/4, $7
DATA q8vnniTwice<>+60(SB)/4, $7
GLOBL q8vnniTwice<>(SB), RODATA|NOPTR, $64

// func q8g4VNNI(w *byte, s *byte, xq *int16, xd *float32, nb int, qstride int, dstride int, out *float32, ostride int, add int, ng int, gstride int)
//
// q8g8AVX2's contract for 4 tokens: token t's quants at xq+t*qstride, scales at
// xd+t*dstride, its eight sums per group to out+t*ostride (bytes), added to what is there if
// add is not 0; ng consecutive groups gstride bytes apart, each group's outputs 8 floats after
// the last's. Frame: 0 the groups left, 8/16 the group's w and s, 24 its out.
TEXT ·q8g4VNNI(SB), NOSPLIT, $32-96
	MOVQ      ng+80(FP), AX
	MOVQ      AX, 0(SP)
	MOVQ      w+0(FP), AX
	MOVQ      AX, 8(SP)
	MOVQ      s+8(FP), AX
	MOVQ      AX, 16(SP)
	MOVQ      out+56(FP), AX
	MOVQ      AX, 24(SP)
	MOVQ      dstride+48(FP), R9
	MOVQ      qstride+40(FP), R8
	LEAQ      (R8)(R8*2), R10
	LEAQ      (R8)(R8*4), R11
	LEAQ      (R10)(R8*4), R12
	VMOVDQU32 q8vnniPair<>(SB), Z30
	VMOVDQU32 q8vnniTwice<>(SB), Z31

q8g4VNNIgroup:
	MOVQ      8(SP), SI
	MOVQ      16(SP), BX
	MOVQ      xq+16(FP), DI
	MOVQ      xd+24(FP), DX
	MOVQ      nb+32(FP), CX
	VPXORD    Z16, Z16, Z16
	VPXORD    Z17, Z17, Z17
	VPXORD    Z18, Z18, Z18
	VPXORD    Z19, Z19, Z19

q8g4VNNIblock:
	PREFETCHT0 8192(SI)
	PREFETCHT0 8192+64(SI)
	PREFETCHT0 8192+128(SI)
	PREFETCHT0 8192+192(SI)
	VPXORD    Z0, Z0, Z0
	VPXORD    Z1, Z1, Z1
	VPXORD    Z2, Z2, Z2
	VPXORD    Z3, Z3, Z3
	VPMOVSXBW 0(SI), Z8
	VPERMD    Z8, Z30, Z8
	VPBROADCASTQ 0(DI), Z24
	VPDPWSSD  Z24, Z8, Z0
	VPBROADCASTQ 0(DI)(R8*1), Z25
	VPDPWSSD  Z25, Z8, Z1
	VPBROADCASTQ 0(DI)(R8*2), Z26
	VPDPWSSD  Z26, Z8, Z2
	VPBROADCASTQ 0(DI)(R10*1), Z27
	VPDPWSSD  Z27, Z8, Z3
	VPMOVSXBW 32(SI), Z8
	VPERMD    Z8, Z30, Z8
	VPBROADCASTQ 8(DI), Z24
	VPDPWSSD  Z24, Z8, Z0
	VPBROADCASTQ 8(DI)(R8*1), Z25
	VPDPWSSD  Z25, Z8, Z1
	VPBROADCASTQ 8(DI)(R8*2), Z26
	VPDPWSSD  Z26, Z8, Z2
	VPBROADCASTQ 8(DI)(R10*1), Z27
	VPDPWSSD  Z27, Z8, Z3
	VPMOVSXBW 64(SI), Z8
	VPERMD    Z8, Z30, Z8
	VPBROADCASTQ 16(DI), Z24
	VPDPWSSD  Z24, Z8, Z0
	VPBROADCASTQ 16(DI)(R8*1), Z25
	VPDPWSSD  Z25, Z8, Z1
	VPBROADCASTQ 16(DI)(R8*2), Z26
	VPDPWSSD  Z26, Z8, Z2
	VPBROADCASTQ 16(DI)(R10*1), Z27
	VPDPWSSD  Z27, Z8, Z3
	VPMOVSXBW 96(SI), Z8
	VPERMD    Z8, Z30, Z8
	VPBROADCASTQ 24(DI), Z24
	VPDPWSSD  Z24, Z8, Z0
	VPBROADCASTQ 24(DI)(R8*1), Z25
	VPDPWSSD  Z25, Z8, Z1
	VPBROADCASTQ 24(DI)(R8*2), Z26
	VPDPWSSD  Z26, Z8, Z2
	VPBROADCASTQ 24(DI)(R10*1), Z27
	VPDPWSSD  Z27, Z8, Z3
	VPMOVSXBW 128(SI), Z8
	VPERMD    Z8, Z30, Z8
	VPBROADCASTQ 32(DI), Z24
	VPDPWSSD  Z24, Z8, Z0
	VPBROADCASTQ 32(DI)(R8*1), Z25
	VPDPWSSD  Z25, Z8, Z1
	VPBROADCASTQ 32(DI)(R8*2), Z26
	VPDPWSSD  Z26, Z8, Z2
	VPBROADCASTQ 32(DI)(R10*1), Z27
	VPDPWSSD  Z27, Z8, Z3
	VPMOVSXBW 160(SI), Z8
	VPERMD    Z8, Z30, Z8
	VPBROADCASTQ 40(DI), Z24
	VPDPWSSD  Z24, Z8, Z0
	VPBROADCASTQ 40(DI)(R8*1), Z25
	VPDPWSSD  Z25, Z8, Z1
	VPBROADCASTQ 40(DI)(R8*2), Z26
	VPDPWSSD  Z26, Z8, Z2
	VPBROADCASTQ 40(DI)(R10*1), Z27
	VPDPWSSD  Z27, Z8, Z3
	VPMOVSXBW 192(SI), Z8
	VPERMD    Z8, Z30, Z8
	VPBROADCASTQ 48(DI), Z24
	VPDPWSSD  Z24, Z8, Z0
	VPBROADCASTQ 48(DI)(R8*1), Z25
	VPDPWSSD  Z25, Z8, Z1
	VPBROADCASTQ 48(DI)(R8*2), Z26
	VPDPWSSD  Z26, Z8, Z2
	VPBROADCASTQ 48(DI)(R10*1), Z27
	VPDPWSSD  Z27, Z8, Z3
	VPMOVSXBW 224(SI), Z8
	VPERMD    Z8, Z30, Z8
	VPBROADCASTQ 56(DI), Z24
	VPDPWSSD  Z24, Z8, Z0
	VPBROADCASTQ 56(DI)(R8*1), Z25
	VPDPWSSD  Z25, Z8, Z1
	VPBROADCASTQ 56(DI)(R8*2), Z26
	VPDPWSSD  Z26, Z8, Z2
	VPBROADCASTQ 56(DI)(R10*1), Z27
	VPDPWSSD  Z27, Z8, Z3
	VCVTPH2PS (BX), Y12
	VPERMPS   Z12, Z31, Z12
	MOVQ      DX, AX
	VPSHUFD   $0xb1, Z0, Z24
	VPADDD    Z24, Z0, Z0
	VCVTDQ2PS Z0, Z0
	VBROADCASTSS (AX), Z24
	VMULPS    Z12, Z24, Z24
	VFMADD231PS Z24, Z0, Z16
	ADDQ      R9, AX
	VPSHUFD   $0xb1, Z1, Z25
	VPADDD    Z25, Z1, Z1
	VCVTDQ2PS Z1, Z1
	VBROADCASTSS (AX), Z25
	VMULPS    Z12, Z25, Z25
	VFMADD231PS Z25, Z1, Z17
	ADDQ      R9, AX
	VPSHUFD   $0xb1, Z2, Z26
	VPADDD    Z26, Z2, Z2
	VCVTDQ2PS Z2, Z2
	VBROADCASTSS (AX), Z26
	VMULPS    Z12, Z26, Z26
	VFMADD231PS Z26, Z2, Z18
	ADDQ      R9, AX
	VPSHUFD   $0xb1, Z3, Z27
	VPADDD    Z27, Z3, Z3
	VCVTDQ2PS Z3, Z3
	VBROADCASTSS (AX), Z27
	VMULPS    Z12, Z27, Z27
	VFMADD231PS Z27, Z3, Z19
	ADDQ      $256, SI
	ADDQ      $16, BX
	ADDQ      $64, DI
	ADDQ      $4, DX
	DECQ      CX
	JNZ       q8g4VNNIblock
	MOVQ      24(SP), DI
	MOVQ      ostride+64(FP), R13
	VPMOVQD   Z16, Y16
	VPMOVQD   Z17, Y17
	VPMOVQD   Z18, Y18
	VPMOVQD   Z19, Y19
	CMPQ      add+72(FP), $0
	JEQ       q8g4VNNIstore
	VADDPS    (DI), Y16, Y16
	VMOVUPS   Y16, (DI)
	MOVQ      R13, AX
	VADDPS    (DI)(AX*1), Y17, Y17
	VMOVUPS   Y17, (DI)(AX*1)
	ADDQ      R13, AX
	VADDPS    (DI)(AX*1), Y18, Y18
	VMOVUPS   Y18, (DI)(AX*1)
	ADDQ      R13, AX
	VADDPS    (DI)(AX*1), Y19, Y19
	VMOVUPS   Y19, (DI)(AX*1)
	JMP       q8g4VNNInext

q8g4VNNIstore:
	VMOVUPS   Y16, (DI)
	MOVQ      R13, AX
	VMOVUPS   Y17, (DI)(AX*1)
	ADDQ      R13, AX
	VMOVUPS   Y18, (DI)(AX*1)
	ADDQ      R13, AX
	VMOVUPS   Y19, (DI)(AX*1)

q8g4VNNInext:
	MOVQ      gstride+88(FP), AX
	ADDQ      AX, 8(SP)
	ADDQ      AX, 16(SP)
	ADDQ      $32, 24(SP)
	DECQ      0(SP)
	JNZ       q8g4VNNIgroup
	VZEROUPPER
	RET

// func q8g8VNNI(w *byte, s *byte, xq *int16, xd *float32, nb int, qstride int, dstride int, out *float32, ostride int, add int, ng int, gstride int)
//
// q8g8AVX2's contract for 8 tokens: token t's quants at xq+t*qstride, scales at
// xd+t*dstride, its eight sums per group to out+t*ostride (bytes), added to what is there if
// add is not 0; ng consecutive groups gstride bytes apart, each group's outputs 8 floats after
// the last's. Frame: 0 the groups left, 8/16 the group's w and s, 24 its out.
	PCALIGN $2048
TEXT ·q8g8VNNI(SB), NOSPLIT, $32-96
	MOVQ      ng+80(FP), AX
	MOVQ      AX, 0(SP)
	MOVQ      w+0(FP), AX
	MOVQ      AX, 8(SP)
	MOVQ      s+8(FP), AX
	MOVQ      AX, 16(SP)
	MOVQ      out+56(FP), AX
	MOVQ      AX, 24(SP)
	MOVQ      dstride+48(FP), R9
	MOVQ      qstride+40(FP), R8
	LEAQ      (R8)(R8*2), R10
	LEAQ      (R8)(R8*4), R11
	LEAQ      (R10)(R8*4), R12
	VMOVDQU32 q8vnniPair<>(SB), Z30
	VMOVDQU32 q8vnniTwice<>(SB), Z31

q8g8VNNIgroup:
	MOVQ      8(SP), SI
	MOVQ      16(SP), BX
	MOVQ      xq+16(FP), DI
	MOVQ      xd+24(FP), DX
	MOVQ      nb+32(FP), CX
	VPXORD    Z16, Z16, Z16
	VPXORD    Z17, Z17, Z17
	VPXORD    Z18, Z18, Z18
	VPXORD    Z19, Z19, Z19
	VPXORD    Z20, Z20, Z20
	VPXORD    Z21, Z21, Z21
	VPXORD    Z22, Z22, Z22
	VPXORD    Z23, Z23, Z23

q8g8VNNIblock:
	PREFETCHT0 8192(SI)
	PREFETCHT0 8192+64(SI)
	PREFETCHT0 8192+128(SI)
	PREFETCHT0 8192+192(SI)
	VPXORD    Z0, Z0, Z0
	VPXORD    Z1, Z1, Z1
	VPXORD    Z2, Z2, Z2
	VPXORD    Z3, Z3, Z3
	VPXORD    Z4, Z4, Z4
	VPXORD    Z5, Z5, Z5
	VPXORD    Z6, Z6, Z6
	VPXORD    Z7, Z7, Z7
	VPMOVSXBW 0(SI), Z8
	VPERMD    Z8, Z30, Z8
	VPBROADCASTQ 0(DI), Z24
	VPDPWSSD  Z24, Z8, Z0
	VPBROADCASTQ 0(DI)(R8*1), Z25
	VPDPWSSD  Z25, Z8, Z1
	VPBROADCASTQ 0(DI)(R8*2), Z26
	VPDPWSSD  Z26, Z8, Z2
	VPBROADCASTQ 0(DI)(R10*1), Z27
	VPDPWSSD  Z27, Z8, Z3
	VPBROADCASTQ 0(DI)(R8*4), Z28
	VPDPWSSD  Z28, Z8, Z4
	VPBROADCASTQ 0(DI)(R11*1), Z29
	VPDPWSSD  Z29, Z8, Z5
	VPBROADCASTQ 0(DI)(R10*2), Z24
	VPDPWSSD  Z24, Z8, Z6
	VPBROADCASTQ 0(DI)(R12*1), Z25
	VPDPWSSD  Z25, Z8, Z7
	VPMOVSXBW 32(SI), Z8
	VPERMD    Z8, Z30, Z8
	VPBROADCASTQ 8(DI), Z24
	VPDPWSSD  Z24, Z8, Z0
	VPBROADCASTQ 8(DI)(R8*1), Z25
	VPDPWSSD  Z25, Z8, Z1
	VPBROADCASTQ 8(DI)(R8*2), Z26
	VPDPWSSD  Z26, Z8, Z2
	VPBROADCASTQ 8(DI)(R10*1), Z27
	VPDPWSSD  Z27, Z8, Z3
	VPBROADCASTQ 8(DI)(R8*4), Z28
	VPDPWSSD  Z28, Z8, Z4
	VPBROADCASTQ 8(DI)(R11*1), Z29
	VPDPWSSD  Z29, Z8, Z5
	VPBROADCASTQ 8(DI)(R10*2), Z24
	VPDPWSSD  Z24, Z8, Z6
	VPBROADCASTQ 8(DI)(R12*1), Z25
	VPDPWSSD  Z25, Z8, Z7
	VPMOVSXBW 64(SI), Z8
	VPERMD    Z8, Z30, Z8
	VPBROADCASTQ 16(DI), Z24
	VPDPWSSD  Z24, Z8, Z0
	VPBROADCASTQ 16(DI)(R8*1), Z25
	VPDPWSSD  Z25, Z8, Z1
	VPBROADCASTQ 16(DI)(R8*2), Z26
	VPDPWSSD  Z26, Z8, Z2
	VPBROADCASTQ 16(DI)(R10*1), Z27
	VPDPWSSD  Z27, Z8, Z3
	VPBROADCASTQ 16(DI)(R8*4), Z28
	VPDPWSSD  Z28, Z8, Z4
	VPBROADCASTQ 16(DI)(R11*1), Z29
	VPDPWSSD  Z29, Z8, Z5
	VPBROADCASTQ 16(DI)(R10*2), Z24
	VPDPWSSD  Z24, Z8, Z6
	VPBROADCASTQ 16(DI)(R12*1), Z25
	VPDPWSSD  Z25, Z8, Z7
	VPMOVSXBW 96(SI), Z8
	VPERMD    Z8, Z30, Z8
	VPBROADCASTQ 24(DI), Z24
	VPDPWSSD  Z24, Z8, Z0
	VPBROADCASTQ 24(DI)(R8*1), Z25
	VPDPWSSD  Z25, Z8, Z1
	VPBROADCASTQ 24(DI)(R8*2), Z26
	VPDPWSSD  Z26, Z8, Z2
	VPBROADCASTQ 24(DI)(R10*1), Z27
	VPDPWSSD  Z27, Z8, Z3
	VPBROADCASTQ 24(DI)(R8*4), Z28
	VPDPWSSD  Z28, Z8, Z4
	VPBROADCASTQ 24(DI)(R11*1), Z29
	VPDPWSSD  Z29, Z8, Z5
	VPBROADCASTQ 24(DI)(R10*2), Z24
	VPDPWSSD  Z24, Z8, Z6
	VPBROADCASTQ 24(DI)(R12*1), Z25
	VPDPWSSD  Z25, Z8, Z7
	VPMOVSXBW 128(SI), Z8
	VPERMD    Z8, Z30, Z8
	VPBROADCASTQ 32(DI), Z24
	VPDPWSSD  Z24, Z8, Z0
	VPBROADCASTQ 32(DI)(R8*1), Z25
	VPDPWSSD  Z25, Z8, Z1
	VPBROADCASTQ 32(DI)(R8*2), Z26
	VPDPWSSD  Z26, Z8, Z2
	VPBROADCASTQ 32(DI)(R10*1), Z27
	VPDPWSSD  Z27, Z8, Z3
	VPBROADCASTQ 32(DI)(R8*4), Z28
	VPDPWSSD  Z28, Z8, Z4
	VPBROADCASTQ 32(DI)(R11*1), Z29
	VPDPWSSD  Z29, Z8, Z5
	VPBROADCASTQ 32(DI)(R10*2), Z24
	VPDPWSSD  Z24, Z8, Z6
	VPBROADCASTQ 32(DI)(R12*1), Z25
	VPDPWSSD  Z25, Z8, Z7
	VPMOVSXBW 160(SI), Z8
	VPERMD    Z8, Z30, Z8
	VPBROADCASTQ 40(DI), Z24
	VPDPWSSD  Z24, Z8, Z0
	VPBROADCASTQ 40(DI)(R8*1), Z25
	VPDPWSSD  Z25, Z8, Z1
	VPBROADCASTQ 40(DI)(R8*2), Z26
	VPDPWSSD  Z26, Z8, Z2
	VPBROADCASTQ 40(DI)(R10*1), Z27
	VPDPWSSD  Z27, Z8, Z3
	VPBROADCASTQ 40(DI)(R8*4), Z28
	VPDPWSSD  Z28, Z8, Z4
	VPBROADCASTQ 40(DI)(R11*1), Z29
	VPDPWSSD  Z29, Z8, Z5
	VPBROADCASTQ 40(DI)(R10*2), Z24
	VPDPWSSD  Z24, Z8, Z6
	VPBROADCASTQ 40(DI)(R12*1), Z25
	VPDPWSSD  Z25, Z8, Z7
	VPMOVSXBW 192(SI), Z8
	VPERMD    Z8, Z30, Z8
	VPBROADCASTQ 48(DI), Z24
	VPDPWSSD  Z24, Z8, Z0
	VPBROADCASTQ 48(DI)(R8*1), Z25
	VPDPWSSD  Z25, Z8, Z1
	VPBROADCASTQ 48(DI)(R8*2), Z26
	VPDPWSSD  Z26, Z8, Z2
	VPBROADCASTQ 48(DI)(R10*1), Z27
	VPDPWSSD  Z27, Z8, Z3
	VPBROADCASTQ 48(DI)(R8*4), Z28
	VPDPWSSD  Z28, Z8, Z4
	VPBROADCASTQ 48(DI)(R11*1), Z29
	VPDPWSSD  Z29, Z8, Z5
	VPBROADCASTQ 48(DI)(R10*2), Z24
	VPDPWSSD  Z24, Z8, Z6
	VPBROADCASTQ 48(DI)(R12*1), Z25
	VPDPWSSD  Z25, Z8, Z7
	VPMOVSXBW 224(SI), Z8
	VPERMD    Z8, Z30, Z8
	VPBROADCASTQ 56(DI), Z24
	VPDPWSSD  Z24, Z8, Z0
	VPBROADCASTQ 56(DI)(R8*1), Z25
	VPDPWSSD  Z25, Z8, Z1
	VPBROADCASTQ 56(DI)(R8*2), Z26
	VPDPWSSD  Z26, Z8, Z2
	VPBROADCASTQ 56(DI)(R10*1), Z27
	VPDPWSSD  Z27, Z8, Z3
	VPBROADCASTQ 56(DI)(R8*4), Z28
	VPDPWSSD  Z28, Z8, Z4
	VPBROADCASTQ 56(DI)(R11*1), Z29
	VPDPWSSD  Z29, Z8, Z5
	VPBROADCASTQ 56(DI)(R10*2), Z24
	VPDPWSSD  Z24, Z8, Z6
	VPBROADCASTQ 56(DI)(R12*1), Z25
	VPDPWSSD  Z25, Z8, Z7
	VCVTPH2PS (BX), Y12
	VPERMPS   Z12, Z31, Z12
	MOVQ      DX, AX
	VPSHUFD   $0xb1, Z0, Z24
	VPADDD    Z24, Z0, Z0
	VCVTDQ2PS Z0, Z0
	VBROADCASTSS (AX), Z24
	VMULPS    Z12, Z24, Z24
	VFMADD231PS Z24, Z0, Z16
	ADDQ      R9, AX
	VPSHUFD   $0xb1, Z1, Z25
	VPADDD    Z25, Z1, Z1
	VCVTDQ2PS Z1, Z1
	VBROADCASTSS (AX), Z25
	VMULPS    Z12, Z25, Z25
	VFMADD231PS Z25, Z1, Z17
	ADDQ      R9, AX
	VPSHUFD   $0xb1, Z2, Z26
	VPADDD    Z26, Z2, Z2
	VCVTDQ2PS Z2, Z2
	VBROADCASTSS (AX), Z26
	VMULPS    Z12, Z26, Z26
	VFMADD231PS Z26, Z2, Z18
	ADDQ      R9, AX
	VPSHUFD   $0xb1, Z3, Z27
	VPADDD    Z27, Z3, Z3
	VCVTDQ2PS Z3, Z3
	VBROADCASTSS (AX), Z27
	VMULPS    Z12, Z27, Z27
	VFMADD231PS Z27, Z3, Z19
	ADDQ      R9, AX
	VPSHUFD   $0xb1, Z4, Z28
	VPADDD    Z28, Z4, Z4
	VCVTDQ2PS Z4, Z4
	VBROADCASTSS (AX), Z28
	VMULPS    Z12, Z28, Z28
	VFMADD231PS Z28, Z4, Z20
	ADDQ      R9, AX
	VPSHUFD   $0xb1, Z5, Z29
	VPADDD    Z29, Z5, Z5
	VCVTDQ2PS Z5, Z5
	VBROADCASTSS (AX), Z29
	VMULPS    Z12, Z29, Z29
	VFMADD231PS Z29, Z5, Z21
	ADDQ      R9, AX
	VPSHUFD   $0xb1, Z6, Z24
	VPADDD    Z24, Z6, Z6
	VCVTDQ2PS Z6, Z6
	VBROADCASTSS (AX), Z24
	VMULPS    Z12, Z24, Z24
	VFMADD231PS Z24, Z6, Z22
	ADDQ      R9, AX
	VPSHUFD   $0xb1, Z7, Z25
	VPADDD    Z25, Z7, Z7
	VCVTDQ2PS Z7, Z7
	VBROADCASTSS (AX), Z25
	VMULPS    Z12, Z25, Z25
	VFMADD231PS Z25, Z7, Z23
	ADDQ      $256, SI
	ADDQ      $16, BX
	ADDQ      $64, DI
	ADDQ      $4, DX
	DECQ      CX
	JNZ       q8g8VNNIblock
	MOVQ      24(SP), DI
	MOVQ      ostride+64(FP), R13
	VPMOVQD   Z16, Y16
	VPMOVQD   Z17, Y17
	VPMOVQD   Z18, Y18
	VPMOVQD   Z19, Y19
	VPMOVQD   Z20, Y20
	VPMOVQD   Z21, Y21
	VPMOVQD   Z22, Y22
	VPMOVQD   Z23, Y23
	CMPQ      add+72(FP), $0
	JEQ       q8g8VNNIstore
	VADDPS    (DI), Y16, Y16
	VMOVUPS   Y16, (DI)
	MOVQ      R13, AX
	VADDPS    (DI)(AX*1), Y17, Y17
	VMOVUPS   Y17, (DI)(AX*1)
	ADDQ      R13, AX
	VADDPS    (DI)(AX*1), Y18, Y18
	VMOVUPS   Y18, (DI)(AX*1)
	ADDQ      R13, AX
	VADDPS    (DI)(AX*1), Y19, Y19
	VMOVUPS   Y19, (DI)(AX*1)
	ADDQ      R13, AX
	VADDPS    (DI)(AX*1), Y20, Y20
	VMOVUPS   Y20, (DI)(AX*1)
	ADDQ      R13, AX
	VADDPS    (DI)(AX*1), Y21, Y21
	VMOVUPS   Y21, (DI)(AX*1)
	ADDQ      R13, AX
	VADDPS    (DI)(AX*1), Y22, Y22
	VMOVUPS   Y22, (DI)(AX*1)
	ADDQ      R13, AX
	VADDPS    (DI)(AX*1), Y23, Y23
	VMOVUPS   Y23, (DI)(AX*1)
	JMP       q8g8VNNInext

q8g8VNNIstore:
	VMOVUPS   Y16, (DI)
	MOVQ      R13, AX
	VMOVUPS   Y17, (DI)(AX*1)
	ADDQ      R13, AX
	VMOVUPS   Y18, (DI)(AX*1)
	ADDQ      R13, AX
	VMOVUPS   Y19, (DI)(AX*1)
	ADDQ      R13, AX
	VMOVUPS   Y20, (DI)(AX*1)
	ADDQ      R13, AX
	VMOVUPS   Y21, (DI)(AX*1)
	ADDQ      R13, AX
	VMOVUPS   Y22, (DI)(AX*1)
	ADDQ      R13, AX
	VMOVUPS   Y23, (DI)(AX*1)

q8g8VNNInext:
	MOVQ      gstride+88(FP), AX
	ADDQ      AX, 8(SP)
	ADDQ      AX, 16(SP)
	ADDQ      $32, 24(SP)
	DECQ      0(SP)
	JNZ       q8g8VNNIgroup
	VZEROUPPER
	RET

// q8vnniAct: for quad c (index vector c), dword lanes 0..7 take the block's dword 2c (the
// token's quants for columns 4c, 4c+1) and lanes 8..15 dword 2c+1 (columns 4c+2, 4c+3).
DATA q8vnniAct<>+0(SB)/4, $0
DATA q8vnniAct<>+4(SB)/4, $0
DATA q8vnniAct<>+8(SB)/4, $0
DATA q8vnniAct<>+12(SB)/4, $0
DATA q8vnniAct<>+16(SB)/4, $0
DATA q8vnniAct<>+20(SB)/4, $0
DATA q8vnniAct<>+24(SB)/4, $0
DATA q8vnniAct<>+28(SB)/4, $0
DATA q8vnniAct<>+32(SB)/4, $1
DATA q8vnniAct<>+36(SB)/4, $1
DATA q8vnniAct<>+40(SB)/4, $1
DATA q8vnniAct<>+44(SB)/4, $1
DATA q8vnniAct<>+48(SB)/4, $1
DATA q8vnniAct<>+52(SB)/4, $1
DATA q8vnniAct<>+56(SB)/4, $1
DATA q8vnniAct<>+60(SB)/4, $1
DATA q8vnniAct<>+64(SB)/4, $2
DATA q8vnniAct<>+68(SB)/4, $2
DATA q8vnniAct<>+72(SB)/4, $2
DATA q8vnniAct<>+76(SB)/4, $2
DATA q8vnniAct<>+80(SB)/4, $2
DATA q8vnniAct<>+84(SB)/4, $2
DATA q8vnniAct<>+88(SB)/4, $2
DATA q8vnniAct<>+92(SB)/4, $2
DATA q8vnniAct<>+96(SB)/4, $3
DATA q8vnniAct<>+100(SB)/4, $3
DATA q8vnniAct<>+104(SB)/4, $3
DATA q8vnniAct<>+108(SB)/4, $3
DATA q8vnniAct<>+112(SB)/4, $3
DATA q8vnniAct<>+116(SB)/4, $3
DATA q8vnniAct<>+120(SB)/4, $3
DATA q8vnniAct<>+124(SB)/4, $3
DATA q8vnniAct<>+128(SB)/4, $4
DATA q8vnniAct<>+132(SB)/4, $4
DATA q8vnniAct<>+136(SB)/4, $4
DATA q8vnniAct<>+140(SB)/4, $4
DATA q8vnniAct<>+144(SB)/4, $4
DATA q8vnniAct<>+148(SB)/4, $4
DATA q8vnniAct<>+152(SB)/4, $4
DATA q8vnniAct<>+156(SB)/4, $4
DATA q8vnniAct<>+160(SB)/4, $5
DATA q8vnniAct<>+164(SB)/4, $5
DATA q8vnniAct<>+168(SB)/4, $5
DATA q8vnniAct<>+172(SB)/4, $5
DATA q8vnniAct<>+176(SB)/4, $5
DATA q8vnniAct<>+180(SB)/4, $5
DATA q8vnniAct<>+184(SB)/4, $5
DATA q8vnniAct<>+188(SB)/4, $5
DATA q8vnniAct<>+192(SB)/4, $6
DATA q8vnniAct<>+196(SB)/4, $6
DATA q8vnniAct<>+200(SB)/4, $6
DATA q8vnniAct<>+204(SB)/4, $6
DATA q8vnniAct<>+208(SB)/4, $6
DATA q8vnniAct<>+212(SB)/4, $6
DATA q8vnniAct<>+216(SB)/4, $6
DATA q8vnniAct<>+220(SB)/4, $6
DATA q8vnniAct<>+224(SB)/4, $7
DATA q8vnniAct<>+228(SB)/4, $7
DATA q8vnniAct<>+232(SB)/4, $7
DATA q8vnniAct<>+236(SB)/4, $7
DATA q8vnniAct<>+240(SB)/4, $7
DATA q8vnniAct<>+244(SB)/4, $7
DATA q8vnniAct<>+248(SB)/4, $7
DATA q8vnniAct<>+252(SB)/4, $7
DATA q8vnniAct<>+256(SB)/4, $8
DATA q8vnniAct<>+260(SB)/4, $8
DATA q8vnniAct<>+264(SB)/4, $8
DATA q8vnniAct<>+268(SB)/4, $8
DATA q8vnniAct<>+272(SB)/4, $8
DATA q8vnniAct<>+276(SB)/4, $8
DATA q8vnniAct<>+280(SB)/4, $8
DATA q8vnniAct<>+284(SB)/4, $8
DATA q8vnniAct<>+288(SB)/4, $9
DATA q8vnniAct<>+292(SB)/4, $9
DATA q8vnniAct<>+296(SB)/4, $9
DATA q8vnniAct<>+300(SB)/4, $9
DATA q8vnniAct<>+304(SB)/4, $9
DATA q8vnniAct<>+308(SB)/4, $9
DATA q8vnniAct<>+312(SB)/4, $9
DATA q8vnniAct<>+316(SB)/4, $9
DATA q8vnniAct<>+320(SB)/4, $10
DATA q8vnniAct<>+324(SB)/4, $10
DATA q8vnniAct<>+328(SB)/4, $10
DATA q8vnniAct<>+332(SB)/4, $10
DATA q8vnniAct<>+336(SB)/4, $10
DATA q8vnniAct<>+340(SB)/4, $10
DATA q8vnniAct<>+344(SB)/4, $10
DATA q8vnniAct<>+348(SB)/4, $10
DATA q8vnniAct<>+352(SB)/4, $11
DATA q8vnniAct<>+356(SB)/4, $11
DATA q8vnniAct<>+360(SB)/4, $11
DATA q8vnniAct<>+364(SB)/4, $11
DATA q8vnniAct<>+368(SB)/4, $11
DATA q8vnniAct<>+372(SB)/4, $11
DATA q8vnniAct<>+376(SB)/4, $11
DATA q8vnniAct<>+380(SB)/4, $11
DATA q8vnniAct<>+384(SB)/4, $12
DATA q8vnniAct<>+388(SB)/4, $12
DATA q8vnniAct<>+392(SB)/4, $12
DATA q8vnniAct<>+396(SB)/4, $12
DATA q8vnniAct<>+400(SB)/4, $12
DATA q8vnniAct<>+404(SB)/4, $12
DATA q8vnniAct<>+408(SB)/4, $12
DATA q8vnniAct<>+412(SB)/4, $12
DATA q8vnniAct<>+416(SB)/4, $13
DATA q8vnniAct<>+420(SB)/4, $13
DATA q8vnniAct<>+424(SB)/4, $13
DATA q8vnniAct<>+428(SB)/4, $13
DATA q8vnniAct<>+432(SB)/4, $13
DATA q8vnniAct<>+436(SB)/4, $13
DATA q8vnniAct<>+440(SB)/4, $13
DATA q8vnniAct<>+444(SB)/4, $13
DATA q8vnniAct<>+448(SB)/4, $14
DATA q8vnniAct<>+452(SB)/4, $14
DATA q8vnniAct<>+456(SB)/4, $14
DATA q8vnniAct<>+460(SB)/4, $14
DATA q8vnniAct<>+464(SB)/4, $14
DATA q8vnniAct<>+468(SB)/4, $14
DATA q8vnniAct<>+472(SB)/4, $14
DATA q8vnniAct<>+476(SB)/4, $14
DATA q8vnniAct<>+480(SB)/4, $15
DATA q8vnniAct<>+484(SB)/4, $15
DATA q8vnniAct<>+488(SB)/4, $15
DATA q8vnniAct<>+492(SB)/4, $15
DATA q8vnniAct<>+496(SB)/4, $15
DATA q8vnniAct<>+500(SB)/4, $15
DATA q8vnniAct<>+504(SB)/4, $15
DATA q8vnniAct<>+508(SB)/4, $15
GLOBL q8vnniAct<>(SB), RODATA|NOPTR, $512

// func q8g1x4VNNI(w *byte, s *byte, xq *int16, xd *float32, nb int, sstride int, out *float32, ostride int, add int, ng int, gstride int, pfd int)
//
// q8g1x4PF's contract and outputs. Registers: Z0..Z3 the four groups' integer sums over even
// quads, Z4..Z7 over odd ones; Z8..Z15 the index vectors (q8vnniAct); Z16 the block's 32
// quants; Z17, Z18 the token's pairs for a quad; Z20..Z27 widened quads, then scratch; Y19 the
// token's block scale; Y28..Y31 the float sums. Frame: 0 and 8 the run's w and s.
	PCALIGN $2048
TEXT ·q8g1x4VNNI(SB), NOSPLIT, $16-96
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
	VMOVDQU32 q8vnniAct<>+0(SB), Z8
	VMOVDQU32 q8vnniAct<>+64(SB), Z9
	VMOVDQU32 q8vnniAct<>+128(SB), Z10
	VMOVDQU32 q8vnniAct<>+192(SB), Z11
	VMOVDQU32 q8vnniAct<>+256(SB), Z12
	VMOVDQU32 q8vnniAct<>+320(SB), Z13
	VMOVDQU32 q8vnniAct<>+384(SB), Z14
	VMOVDQU32 q8vnniAct<>+448(SB), Z15

q8g1x4VNNIrun:
	MOVQ   0(SP), SI
	MOVQ   8(SP), BX
	MOVQ   xq+16(FP), DI
	MOVQ   xd+24(FP), DX
	MOVQ   nb+32(FP), CX
	VPXORD Z28, Z28, Z28
	VPXORD Z29, Z29, Z29
	VPXORD Z30, Z30, Z30
	VPXORD Z31, Z31, Z31

	MOVQ   pfd+88(FP), AX
	ADDQ   SI, AX

q8g1x4VNNIblock:
	PREFETCHNTA 0(AX)
	PREFETCHNTA 64(AX)
	PREFETCHNTA 128(AX)
	PREFETCHNTA 192(AX)
	PREFETCHNTA 256(AX)
	PREFETCHNTA 0(AX)(R8*1)
	PREFETCHNTA 64(AX)(R8*1)
	PREFETCHNTA 128(AX)(R8*1)
	PREFETCHNTA 192(AX)(R8*1)
	PREFETCHNTA 256(AX)(R8*1)
	PREFETCHNTA 0(AX)(R8*2)
	PREFETCHNTA 64(AX)(R8*2)
	PREFETCHNTA 128(AX)(R8*2)
	PREFETCHNTA 192(AX)(R8*2)
	PREFETCHNTA 256(AX)(R8*2)
	PREFETCHNTA 0(AX)(R9*1)
	PREFETCHNTA 64(AX)(R9*1)
	PREFETCHNTA 128(AX)(R9*1)
	PREFETCHNTA 192(AX)(R9*1)
	PREFETCHNTA 256(AX)(R9*1)
	ADDQ   $272, AX
	VMOVDQU64 (DI), Z16
	VPERMD    Z16, Z8, Z17
	VPMOVSXBW 0(SI), Z20
	VPMADDWD  Z20, Z17, Z0
	VPMOVSXBW 0(SI)(R8*1), Z21
	VPMADDWD  Z21, Z17, Z1
	VPMOVSXBW 0(SI)(R8*2), Z22
	VPMADDWD  Z22, Z17, Z2
	VPMOVSXBW 0(SI)(R9*1), Z23
	VPMADDWD  Z23, Z17, Z3
	VPERMD    Z16, Z9, Z18
	VPMOVSXBW 32(SI), Z24
	VPMADDWD  Z24, Z18, Z4
	VPMOVSXBW 32(SI)(R8*1), Z25
	VPMADDWD  Z25, Z18, Z5
	VPMOVSXBW 32(SI)(R8*2), Z26
	VPMADDWD  Z26, Z18, Z6
	VPMOVSXBW 32(SI)(R9*1), Z27
	VPMADDWD  Z27, Z18, Z7
	VPERMD    Z16, Z10, Z17
	VPMOVSXBW 64(SI), Z20
	VPDPWSSD  Z20, Z17, Z0
	VPMOVSXBW 64(SI)(R8*1), Z21
	VPDPWSSD  Z21, Z17, Z1
	VPMOVSXBW 64(SI)(R8*2), Z22
	VPDPWSSD  Z22, Z17, Z2
	VPMOVSXBW 64(SI)(R9*1), Z23
	VPDPWSSD  Z23, Z17, Z3
	VPERMD    Z16, Z11, Z18
	VPMOVSXBW 96(SI), Z24
	VPDPWSSD  Z24, Z18, Z4
	VPMOVSXBW 96(SI)(R8*1), Z25
	VPDPWSSD  Z25, Z18, Z5
	VPMOVSXBW 96(SI)(R8*2), Z26
	VPDPWSSD  Z26, Z18, Z6
	VPMOVSXBW 96(SI)(R9*1), Z27
	VPDPWSSD  Z27, Z18, Z7
	VPERMD    Z16, Z12, Z17
	VPMOVSXBW 128(SI), Z20
	VPDPWSSD  Z20, Z17, Z0
	VPMOVSXBW 128(SI)(R8*1), Z21
	VPDPWSSD  Z21, Z17, Z1
	VPMOVSXBW 128(SI)(R8*2), Z22
	VPDPWSSD  Z22, Z17, Z2
	VPMOVSXBW 128(SI)(R9*1), Z23
	VPDPWSSD  Z23, Z17, Z3
	VPERMD    Z16, Z13, Z18
	VPMOVSXBW 160(SI), Z24
	VPDPWSSD  Z24, Z18, Z4
	VPMOVSXBW 160(SI)(R8*1), Z25
	VPDPWSSD  Z25, Z18, Z5
	VPMOVSXBW 160(SI)(R8*2), Z26
	VPDPWSSD  Z26, Z18, Z6
	VPMOVSXBW 160(SI)(R9*1), Z27
	VPDPWSSD  Z27, Z18, Z7
	VPERMD    Z16, Z14, Z17
	VPMOVSXBW 192(SI), Z20
	VPDPWSSD  Z20, Z17, Z0
	VPMOVSXBW 192(SI)(R8*1), Z21
	VPDPWSSD  Z21, Z17, Z1
	VPMOVSXBW 192(SI)(R8*2), Z22
	VPDPWSSD  Z22, Z17, Z2
	VPMOVSXBW 192(SI)(R9*1), Z23
	VPDPWSSD  Z23, Z17, Z3
	VPERMD    Z16, Z15, Z18
	VPMOVSXBW 224(SI), Z24
	VPDPWSSD  Z24, Z18, Z4
	VPMOVSXBW 224(SI)(R8*1), Z25
	VPDPWSSD  Z25, Z18, Z5
	VPMOVSXBW 224(SI)(R8*2), Z26
	VPDPWSSD  Z26, Z18, Z6
	VPMOVSXBW 224(SI)(R9*1), Z27
	VPDPWSSD  Z27, Z18, Z7
	VBROADCASTSS (DX), Y19
	VPADDD    Z4, Z0, Z0
	VEXTRACTI64X4 $1, Z0, Y20
	VPADDD    Y20, Y0, Y0
	VCVTPH2PS (BX), Y24
	VMULPS    Y19, Y24, Y24
	VCVTDQ2PS Y0, Y0
	VFMADD231PS Y24, Y0, Y28
	VPADDD    Z5, Z1, Z1
	VEXTRACTI64X4 $1, Z1, Y21
	VPADDD    Y21, Y1, Y1
	VCVTPH2PS (BX)(R8*1), Y25
	VMULPS    Y19, Y25, Y25
	VCVTDQ2PS Y1, Y1
	VFMADD231PS Y25, Y1, Y29
	VPADDD    Z6, Z2, Z2
	VEXTRACTI64X4 $1, Z2, Y22
	VPADDD    Y22, Y2, Y2
	VCVTPH2PS (BX)(R8*2), Y26
	VMULPS    Y19, Y26, Y26
	VCVTDQ2PS Y2, Y2
	VFMADD231PS Y26, Y2, Y30
	VPADDD    Z7, Z3, Z3
	VEXTRACTI64X4 $1, Z3, Y23
	VPADDD    Y23, Y3, Y3
	VCVTPH2PS (BX)(R9*1), Y27
	VMULPS    Y19, Y27, Y27
	VCVTDQ2PS Y3, Y3
	VFMADD231PS Y27, Y3, Y31
	ADDQ        $256, SI
	ADDQ        $16, BX
	ADDQ        $64, DI
	ADDQ        $4, DX
	DECQ        CX
	JNZ         q8g1x4VNNIblock
	CMPQ         add+64(FP), $0
	JEQ          q8g1x4VNNIstore
	VADDPS       (R10), Y28, Y28
	VADDPS       (R10)(R11*1), Y29, Y29
	VADDPS       (R10)(R11*2), Y30, Y30
	VADDPS       (R10)(R13*1), Y31, Y31

q8g1x4VNNIstore:
	VMOVUPS      Y28, (R10)
	VMOVUPS      Y29, (R10)(R11*1)
	VMOVUPS      Y30, (R10)(R11*2)
	VMOVUPS      Y31, (R10)(R13*1)
	ADDQ         $32, R10
	MOVQ         gstride+80(FP), AX
	ADDQ         AX, 0(SP)
	ADDQ         AX, 8(SP)
	DECQ         R12
	JNZ          q8g1x4VNNIrun
	VZEROUPPER
	RET


// q8vnniPermB: a group's quad pair (64 bytes) to dword lanes 8h+r, row r's columns 4c..4c+3 of
// the pair's quad h.
DATA q8vnniPermB<>+0(SB)/1, $0
DATA q8vnniPermB<>+1(SB)/1, $1
DATA q8vnniPermB<>+2(SB)/1, $16
DATA q8vnniPermB<>+3(SB)/1, $17
DATA q8vnniPermB<>+4(SB)/1, $2
DATA q8vnniPermB<>+5(SB)/1, $3
DATA q8vnniPermB<>+6(SB)/1, $18
DATA q8vnniPermB<>+7(SB)/1, $19
DATA q8vnniPermB<>+8(SB)/1, $4
DATA q8vnniPermB<>+9(SB)/1, $5
DATA q8vnniPermB<>+10(SB)/1, $20
DATA q8vnniPermB<>+11(SB)/1, $21
DATA q8vnniPermB<>+12(SB)/1, $6
DATA q8vnniPermB<>+13(SB)/1, $7
DATA q8vnniPermB<>+14(SB)/1, $22
DATA q8vnniPermB<>+15(SB)/1, $23
DATA q8vnniPermB<>+16(SB)/1, $8
DATA q8vnniPermB<>+17(SB)/1, $9
DATA q8vnniPermB<>+18(SB)/1, $24
DATA q8vnniPermB<>+19(SB)/1, $25
DATA q8vnniPermB<>+20(SB)/1, $10
DATA q8vnniPermB<>+21(SB)/1, $11
DATA q8vnniPermB<>+22(SB)/1, $26
DATA q8vnniPermB<>+23(SB)/1, $27
DATA q8vnniPermB<>+24(SB)/1, $12
DATA q8vnniPermB<>+25(SB)/1, $13
DATA q8vnniPermB<>+26(SB)/1, $28
DATA q8vnniPermB<>+27(SB)/1, $29
DATA q8vnniPermB<>+28(SB)/1, $14
DATA q8vnniPermB<>+29(SB)/1, $15
DATA q8vnniPermB<>+30(SB)/1, $30
DATA q8vnniPermB<>+31(SB)/1, $31
DATA q8vnniPermB<>+32(SB)/1, $32
DATA q8vnniPermB<>+33(SB)/1, $33
DATA q8vnniPermB<>+34(SB)/1, $48
DATA q8vnniPermB<>+35(SB)/1, $49
DATA q8vnniPermB<>+36(SB)/1, $34
DATA q8vnniPermB<>+37(SB)/1, $35
DATA q8vnniPermB<>+38(SB)/1, $50
DATA q8vnniPermB<>+39(SB)/1, $51
DATA q8vnniPermB<>+40(SB)/1, $36
DATA q8vnniPermB<>+41(SB)/1, $37
DATA q8vnniPermB<>+42(SB)/1, $52
DATA q8vnniPermB<>+43(SB)/1, $53
DATA q8vnniPermB<>+44(SB)/1, $38
DATA q8vnniPermB<>+45(SB)/1, $39
DATA q8vnniPermB<>+46(SB)/1, $54
DATA q8vnniPermB<>+47(SB)/1, $55
DATA q8vnniPermB<>+48(SB)/1, $40
DATA q8vnniPermB<>+49(SB)/1, $41
DATA q8vnniPermB<>+50(SB)/1, $56
DATA q8vnniPermB<>+51(SB)/1, $57
DATA q8vnniPermB<>+52(SB)/1, $42
DATA q8vnniPermB<>+53(SB)/1, $43
DATA q8vnniPermB<>+54(SB)/1, $58
DATA q8vnniPermB<>+55(SB)/1, $59
DATA q8vnniPermB<>+56(SB)/1, $44
DATA q8vnniPermB<>+57(SB)/1, $45
DATA q8vnniPermB<>+58(SB)/1, $60
DATA q8vnniPermB<>+59(SB)/1, $61
DATA q8vnniPermB<>+60(SB)/1, $46
DATA q8vnniPermB<>+61(SB)/1, $47
DATA q8vnniPermB<>+62(SB)/1, $62
DATA q8vnniPermB<>+63(SB)/1, $63
GLOBL q8vnniPermB<>(SB), RODATA|NOPTR, $64

// q8vnniActPair: for quad pair p (index vector p), dword lanes 0..7 take the block's packed
// quants' dword 2p (the token's quants for quad 2p's four columns), lanes 8..15 dword 2p+1.
DATA q8vnniActPair<>+0(SB)/4, $0
DATA q8vnniActPair<>+4(SB)/4, $0
DATA q8vnniActPair<>+8(SB)/4, $0
DATA q8vnniActPair<>+12(SB)/4, $0
DATA q8vnniActPair<>+16(SB)/4, $0
DATA q8vnniActPair<>+20(SB)/4, $0
DATA q8vnniActPair<>+24(SB)/4, $0
DATA q8vnniActPair<>+28(SB)/4, $0
DATA q8vnniActPair<>+32(SB)/4, $1
DATA q8vnniActPair<>+36(SB)/4, $1
DATA q8vnniActPair<>+40(SB)/4, $1
DATA q8vnniActPair<>+44(SB)/4, $1
DATA q8vnniActPair<>+48(SB)/4, $1
DATA q8vnniActPair<>+52(SB)/4, $1
DATA q8vnniActPair<>+56(SB)/4, $1
DATA q8vnniActPair<>+60(SB)/4, $1
DATA q8vnniActPair<>+64(SB)/4, $2
DATA q8vnniActPair<>+68(SB)/4, $2
DATA q8vnniActPair<>+72(SB)/4, $2
DATA q8vnniActPair<>+76(SB)/4, $2
DATA q8vnniActPair<>+80(SB)/4, $2
DATA q8vnniActPair<>+84(SB)/4, $2
DATA q8vnniActPair<>+88(SB)/4, $2
DATA q8vnniActPair<>+92(SB)/4, $2
DATA q8vnniActPair<>+96(SB)/4, $3
DATA q8vnniActPair<>+100(SB)/4, $3
DATA q8vnniActPair<>+104(SB)/4, $3
DATA q8vnniActPair<>+108(SB)/4, $3
DATA q8vnniActPair<>+112(SB)/4, $3
DATA q8vnniActPair<>+116(SB)/4, $3
DATA q8vnniActPair<>+120(SB)/4, $3
DATA q8vnniActPair<>+124(SB)/4, $3
DATA q8vnniActPair<>+128(SB)/4, $4
DATA q8vnniActPair<>+132(SB)/4, $4
DATA q8vnniActPair<>+136(SB)/4, $4
DATA q8vnniActPair<>+140(SB)/4, $4
DATA q8vnniActPair<>+144(SB)/4, $4
DATA q8vnniActPair<>+148(SB)/4, $4
DATA q8vnniActPair<>+152(SB)/4, $4
DATA q8vnniActPair<>+156(SB)/4, $4
DATA q8vnniActPair<>+160(SB)/4, $5
DATA q8vnniActPair<>+164(SB)/4, $5
DATA q8vnniActPair<>+168(SB)/4, $5
DATA q8vnniActPair<>+172(SB)/4, $5
DATA q8vnniActPair<>+176(SB)/4, $5
DATA q8vnniActPair<>+180(SB)/4, $5
DATA q8vnniActPair<>+184(SB)/4, $5
DATA q8vnniActPair<>+188(SB)/4, $5
DATA q8vnniActPair<>+192(SB)/4, $6
DATA q8vnniActPair<>+196(SB)/4, $6
DATA q8vnniActPair<>+200(SB)/4, $6
DATA q8vnniActPair<>+204(SB)/4, $6
DATA q8vnniActPair<>+208(SB)/4, $6
DATA q8vnniActPair<>+212(SB)/4, $6
DATA q8vnniActPair<>+216(SB)/4, $6
DATA q8vnniActPair<>+220(SB)/4, $6
DATA q8vnniActPair<>+224(SB)/4, $7
DATA q8vnniActPair<>+228(SB)/4, $7
DATA q8vnniActPair<>+232(SB)/4, $7
DATA q8vnniActPair<>+236(SB)/4, $7
DATA q8vnniActPair<>+240(SB)/4, $7
DATA q8vnniActPair<>+244(SB)/4, $7
DATA q8vnniActPair<>+248(SB)/4, $7
DATA q8vnniActPair<>+252(SB)/4, $7
GLOBL q8vnniActPair<>(SB), RODATA|NOPTR, $256

// func q8g1x4DPBUSD(w *byte, s *byte, xq *int16, xd *float32, nb int, sstride int, out *float32, ostride int, add int, ng int, gstride int, pfd int)
//
// q8g1x4PF's contract and outputs, for CPUs with AVX-512 VBMI as well as VNNI. Registers: Z0..Z3
// the four groups' integer sums over even quad pairs, Z4..Z7 over odd ones; Z8..Z11 the index
// vectors (q8vnniActPair); Z12 the weights' byte order (q8vnniPermB); Z13 bytes of 0x80; Z14
// -128 x the block's quant sum in lanes 0..7; Z15 scratch; Z16 the token's block quants, then
// packed to bytes; Z17, Z18 the token's quants for a quad pair; Y19 the token's block scale;
// Z20..Z27 weights, then scratch; Y28..Y31 the float sums. Frame: 0 and 8 the run's w and s.
	PCALIGN $2048
TEXT ·q8g1x4DPBUSD(SB), NOSPLIT, $16-96
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
	VMOVDQU32 q8vnniActPair<>+0(SB), Z8
	VMOVDQU32 q8vnniActPair<>+64(SB), Z9
	VMOVDQU32 q8vnniActPair<>+128(SB), Z10
	VMOVDQU32 q8vnniActPair<>+192(SB), Z11
	VMOVDQU8  q8vnniPermB<>(SB), Z12
	MOVL      $0x80808080, AX
	VPBROADCASTD AX, Z13

q8g1x4DPBUSDrun:
	MOVQ   0(SP), SI
	MOVQ   8(SP), BX
	MOVQ   xq+16(FP), DI
	MOVQ   xd+24(FP), DX
	MOVQ   nb+32(FP), CX
	VPXORD Z28, Z28, Z28
	VPXORD Z29, Z29, Z29
	VPXORD Z30, Z30, Z30
	VPXORD Z31, Z31, Z31

	MOVQ   pfd+88(FP), AX
	ADDQ   SI, AX

q8g1x4DPBUSDblock:
	PREFETCHNTA 0(AX)
	PREFETCHNTA 64(AX)
	PREFETCHNTA 128(AX)
	PREFETCHNTA 192(AX)
	PREFETCHNTA 256(AX)
	PREFETCHNTA 0(AX)(R8*1)
	PREFETCHNTA 64(AX)(R8*1)
	PREFETCHNTA 128(AX)(R8*1)
	PREFETCHNTA 192(AX)(R8*1)
	PREFETCHNTA 256(AX)(R8*1)
	PREFETCHNTA 0(AX)(R8*2)
	PREFETCHNTA 64(AX)(R8*2)
	PREFETCHNTA 128(AX)(R8*2)
	PREFETCHNTA 192(AX)(R8*2)
	PREFETCHNTA 256(AX)(R8*2)
	PREFETCHNTA 0(AX)(R9*1)
	PREFETCHNTA 64(AX)(R9*1)
	PREFETCHNTA 128(AX)(R9*1)
	PREFETCHNTA 192(AX)(R9*1)
	PREFETCHNTA 256(AX)(R9*1)
	ADDQ   $272, AX
	VMOVDQU64 (DI), Z16
	VPMOVWB   Z16, Y16
	VPXORD    Z15, Z15, Z15
	VPDPBUSD  Z16, Z13, Z15
	VPSHUFD   $0x4e, Y15, Y20
	VPADDD    Y20, Y15, Y15
	VPSHUFD   $0xb1, Y15, Y20
	VPADDD    Y20, Y15, Y15
	VPERMQ    $0x4e, Y15, Y20
	VPADDD    Y20, Y15, Y15
	VPXORD    Z14, Z14, Z14
	VPSUBD    Z15, Z14, Z14
	VMOVDQA32 Z14, Z0
	VPXORD    Z4, Z4, Z4
	VMOVDQA32 Z14, Z1
	VPXORD    Z5, Z5, Z5
	VMOVDQA32 Z14, Z2
	VPXORD    Z6, Z6, Z6
	VMOVDQA32 Z14, Z3
	VPXORD    Z7, Z7, Z7
	VPERMD    Z16, Z8, Z17
	VPERMB    0(SI), Z12, Z20
	VPXORD    Z13, Z20, Z20
	VPDPBUSD  Z17, Z20, Z0
	VPERMB    0(SI)(R8*1), Z12, Z21
	VPXORD    Z13, Z21, Z21
	VPDPBUSD  Z17, Z21, Z1
	VPERMB    0(SI)(R8*2), Z12, Z22
	VPXORD    Z13, Z22, Z22
	VPDPBUSD  Z17, Z22, Z2
	VPERMB    0(SI)(R9*1), Z12, Z23
	VPXORD    Z13, Z23, Z23
	VPDPBUSD  Z17, Z23, Z3
	VPERMD    Z16, Z9, Z18
	VPERMB    64(SI), Z12, Z24
	VPXORD    Z13, Z24, Z24
	VPDPBUSD  Z18, Z24, Z4
	VPERMB    64(SI)(R8*1), Z12, Z25
	VPXORD    Z13, Z25, Z25
	VPDPBUSD  Z18, Z25, Z5
	VPERMB    64(SI)(R8*2), Z12, Z26
	VPXORD    Z13, Z26, Z26
	VPDPBUSD  Z18, Z26, Z6
	VPERMB    64(SI)(R9*1), Z12, Z27
	VPXORD    Z13, Z27, Z27
	VPDPBUSD  Z18, Z27, Z7
	VPERMD    Z16, Z10, Z17
	VPERMB    128(SI), Z12, Z20
	VPXORD    Z13, Z20, Z20
	VPDPBUSD  Z17, Z20, Z0
	VPERMB    128(SI)(R8*1), Z12, Z21
	VPXORD    Z13, Z21, Z21
	VPDPBUSD  Z17, Z21, Z1
	VPERMB    128(SI)(R8*2), Z12, Z22
	VPXORD    Z13, Z22, Z22
	VPDPBUSD  Z17, Z22, Z2
	VPERMB    128(SI)(R9*1), Z12, Z23
	VPXORD    Z13, Z23, Z23
	VPDPBUSD  Z17, Z23, Z3
	VPERMD    Z16, Z11, Z18
	VPERMB    192(SI), Z12, Z24
	VPXORD    Z13, Z24, Z24
	VPDPBUSD  Z18, Z24, Z4
	VPERMB    192(SI)(R8*1), Z12, Z25
	VPXORD    Z13, Z25, Z25
	VPDPBUSD  Z18, Z25, Z5
	VPERMB    192(SI)(R8*2), Z12, Z26
	VPXORD    Z13, Z26, Z26
	VPDPBUSD  Z18, Z26, Z6
	VPERMB    192(SI)(R9*1), Z12, Z27
	VPXORD    Z13, Z27, Z27
	VPDPBUSD  Z18, Z27, Z7
	VBROADCASTSS (DX), Y19
	VPADDD    Z4, Z0, Z0
	VEXTRACTI64X4 $1, Z0, Y20
	VPADDD    Y20, Y0, Y0
	VCVTPH2PS (BX), Y24
	VMULPS    Y19, Y24, Y24
	VCVTDQ2PS Y0, Y0
	VFMADD231PS Y24, Y0, Y28
	VPADDD    Z5, Z1, Z1
	VEXTRACTI64X4 $1, Z1, Y21
	VPADDD    Y21, Y1, Y1
	VCVTPH2PS (BX)(R8*1), Y25
	VMULPS    Y19, Y25, Y25
	VCVTDQ2PS Y1, Y1
	VFMADD231PS Y25, Y1, Y29
	VPADDD    Z6, Z2, Z2
	VEXTRACTI64X4 $1, Z2, Y22
	VPADDD    Y22, Y2, Y2
	VCVTPH2PS (BX)(R8*2), Y26
	VMULPS    Y19, Y26, Y26
	VCVTDQ2PS Y2, Y2
	VFMADD231PS Y26, Y2, Y30
	VPADDD    Z7, Z3, Z3
	VEXTRACTI64X4 $1, Z3, Y23
	VPADDD    Y23, Y3, Y3
	VCVTPH2PS (BX)(R9*1), Y27
	VMULPS    Y19, Y27, Y27
	VCVTDQ2PS Y3, Y3
	VFMADD231PS Y27, Y3, Y31
	ADDQ        $256, SI
	ADDQ        $16, BX
	ADDQ        $64, DI
	ADDQ        $4, DX
	DECQ        CX
	JNZ         q8g1x4DPBUSDblock
	CMPQ         add+64(FP), $0
	JEQ          q8g1x4DPBUSDstore
	VADDPS       (R10), Y28, Y28
	VADDPS       (R10)(R11*1), Y29, Y29
	VADDPS       (R10)(R11*2), Y30, Y30
	VADDPS       (R10)(R13*1), Y31, Y31

q8g1x4DPBUSDstore:
	VMOVUPS      Y28, (R10)
	VMOVUPS      Y29, (R10)(R11*1)
	VMOVUPS      Y30, (R10)(R11*2)
	VMOVUPS      Y31, (R10)(R13*1)
	ADDQ         $32, R10
	MOVQ         gstride+80(FP), AX
	ADDQ         AX, 0(SP)
	ADDQ         AX, 8(SP)
	DECQ         R12
	JNZ          q8g1x4DPBUSDrun
	VZEROUPPER
	RET


// q8vnniQuads: two quads (64 bytes, 32 words) to dword lanes 2r (row r's columns 4c..4c+3 of
// the first quad) and 2r+1 (the same of the second).
DATA q8vnniQuads<>+0(SB)/2, $0
DATA q8vnniQuads<>+2(SB)/2, $8
DATA q8vnniQuads<>+4(SB)/2, $16
DATA q8vnniQuads<>+6(SB)/2, $24
DATA q8vnniQuads<>+8(SB)/2, $1
DATA q8vnniQuads<>+10(SB)/2, $9
DATA q8vnniQuads<>+12(SB)/2, $17
DATA q8vnniQuads<>+14(SB)/2, $25
DATA q8vnniQuads<>+16(SB)/2, $2
DATA q8vnniQuads<>+18(SB)/2, $10
DATA q8vnniQuads<>+20(SB)/2, $18
DATA q8vnniQuads<>+22(SB)/2, $26
DATA q8vnniQuads<>+24(SB)/2, $3
DATA q8vnniQuads<>+26(SB)/2, $11
DATA q8vnniQuads<>+28(SB)/2, $19
DATA q8vnniQuads<>+30(SB)/2, $27
DATA q8vnniQuads<>+32(SB)/2, $4
DATA q8vnniQuads<>+34(SB)/2, $12
DATA q8vnniQuads<>+36(SB)/2, $20
DATA q8vnniQuads<>+38(SB)/2, $28
DATA q8vnniQuads<>+40(SB)/2, $5
DATA q8vnniQuads<>+42(SB)/2, $13
DATA q8vnniQuads<>+44(SB)/2, $21
DATA q8vnniQuads<>+46(SB)/2, $29
DATA q8vnniQuads<>+48(SB)/2, $6
DATA q8vnniQuads<>+50(SB)/2, $14
DATA q8vnniQuads<>+52(SB)/2, $22
DATA q8vnniQuads<>+54(SB)/2, $30
DATA q8vnniQuads<>+56(SB)/2, $7
DATA q8vnniQuads<>+58(SB)/2, $15
DATA q8vnniQuads<>+60(SB)/2, $23
DATA q8vnniQuads<>+62(SB)/2, $31
GLOBL q8vnniQuads<>(SB), RODATA|NOPTR, $64

// func q8PackU8VNNI(dst *byte, src *int16, qstride int, nb int, ntok int)
//
// ntok tokens' quants (int16 in [-128, 127], token t at src+t*qstride bytes) for nb blocks to
// unsigned bytes q+128 (the low byte with its top bit flipped), token t at dst+t*nb*32.
	PCALIGN $2048
TEXT ·q8PackU8VNNI(SB), NOSPLIT, $0-40
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         qstride+16(FP), R8
	MOVL         $0x80808080, AX
	VPBROADCASTD AX, Y1
	MOVQ         ntok+32(FP), DX

q8packtok:
	MOVQ         SI, BX
	MOVQ         nb+24(FP), CX

q8packblock:
	VMOVDQU16    (BX), Z0
	VPMOVWB      Z0, Y0
	VPXOR        Y1, Y0, Y0
	VMOVDQU      Y0, (DI)
	ADDQ         $64, BX
	ADDQ         $32, DI
	DECQ         CX
	JNZ          q8packblock
	ADDQ         R8, SI
	DECQ         DX
	JNZ          q8packtok
	VZEROUPPER
	RET

// func q8g8DPBUSD(w *byte, s *byte, xu *byte, xd *float32, nb int, ustride int, dstride int, out *float32, ostride int, add int, ng int, gstride int)
//
// q8g8VNNI with VPDPBUSD: the tokens' quants as bytes q+128 from q8PackU8VNNI (token t at
// xu+t*ustride). Per pair of quads VPERMW puts each row's four columns of each in a lane
// (2r and 2r+1), one VPBROADCASTQ a token's eight bytes for them. Z13 is 128 x the rows'
// block sums of weights, negated; Z14 bytes of 128; Z28/Z29 the weight pairs' permutation and
// the scales' duplication. Frame: 0 the groups left, 8/16 the group's w and s, 24 its out.
	PCALIGN $2048
TEXT ·q8g8DPBUSD(SB), NOSPLIT, $32-96
	MOVQ      ng+80(FP), AX
	MOVQ      AX, 0(SP)
	MOVQ      w+0(FP), AX
	MOVQ      AX, 8(SP)
	MOVQ      s+8(FP), AX
	MOVQ      AX, 16(SP)
	MOVQ      out+56(FP), AX
	MOVQ      AX, 24(SP)
	MOVQ      dstride+48(FP), R9
	MOVQ      ustride+40(FP), R8
	LEAQ      (R8)(R8*2), R10
	LEAQ      (R8)(R8*4), R11
	LEAQ      (R10)(R8*4), R12
	VMOVDQU32 q8vnniQuads<>(SB), Z28
	VMOVDQU32 q8vnniTwice<>(SB), Z29
	MOVL      $0x80808080, AX
	VPBROADCASTD AX, Z14

q8g8DPBUSDgroup:
	MOVQ      8(SP), SI
	MOVQ      16(SP), BX
	MOVQ      xu+16(FP), DI
	MOVQ      xd+24(FP), DX
	MOVQ      nb+32(FP), CX
	VPXORD    Z16, Z16, Z16
	VPXORD    Z17, Z17, Z17
	VPXORD    Z18, Z18, Z18
	VPXORD    Z19, Z19, Z19
	VPXORD    Z20, Z20, Z20
	VPXORD    Z21, Z21, Z21
	VPXORD    Z22, Z22, Z22
	VPXORD    Z23, Z23, Z23

q8g8DPBUSDblock:
	PREFETCHT0 8192(SI)
	PREFETCHT0 8192+64(SI)
	PREFETCHT0 8192+128(SI)
	PREFETCHT0 8192+192(SI)
	VPXORD    Z13, Z13, Z13
	VPERMW    0(SI), Z28, Z8
	VPDPBUSD  Z8, Z14, Z13
	VPERMW    64(SI), Z28, Z9
	VPDPBUSD  Z9, Z14, Z13
	VPERMW    128(SI), Z28, Z10
	VPDPBUSD  Z10, Z14, Z13
	VPERMW    192(SI), Z28, Z11
	VPDPBUSD  Z11, Z14, Z13
	VPXORD    Z15, Z15, Z15
	VPSUBD    Z13, Z15, Z13
	VMOVDQA32 Z13, Z0
	VPBROADCASTQ 0(DI), Z24
	VPDPBUSD  Z8, Z24, Z0
	VMOVDQA32 Z13, Z1
	VPBROADCASTQ 0(DI)(R8*1), Z25
	VPDPBUSD  Z8, Z25, Z1
	VMOVDQA32 Z13, Z2
	VPBROADCASTQ 0(DI)(R8*2), Z26
	VPDPBUSD  Z8, Z26, Z2
	VMOVDQA32 Z13, Z3
	VPBROADCASTQ 0(DI)(R10*1), Z27
	VPDPBUSD  Z8, Z27, Z3
	VMOVDQA32 Z13, Z4
	VPBROADCASTQ 0(DI)(R8*4), Z24
	VPDPBUSD  Z8, Z24, Z4
	VMOVDQA32 Z13, Z5
	VPBROADCASTQ 0(DI)(R11*1), Z25
	VPDPBUSD  Z8, Z25, Z5
	VMOVDQA32 Z13, Z6
	VPBROADCASTQ 0(DI)(R10*2), Z26
	VPDPBUSD  Z8, Z26, Z6
	VMOVDQA32 Z13, Z7
	VPBROADCASTQ 0(DI)(R12*1), Z27
	VPDPBUSD  Z8, Z27, Z7
	VPBROADCASTQ 8(DI), Z24
	VPDPBUSD  Z9, Z24, Z0
	VPBROADCASTQ 8(DI)(R8*1), Z25
	VPDPBUSD  Z9, Z25, Z1
	VPBROADCASTQ 8(DI)(R8*2), Z26
	VPDPBUSD  Z9, Z26, Z2
	VPBROADCASTQ 8(DI)(R10*1), Z27
	VPDPBUSD  Z9, Z27, Z3
	VPBROADCASTQ 8(DI)(R8*4), Z24
	VPDPBUSD  Z9, Z24, Z4
	VPBROADCASTQ 8(DI)(R11*1), Z25
	VPDPBUSD  Z9, Z25, Z5
	VPBROADCASTQ 8(DI)(R10*2), Z26
	VPDPBUSD  Z9, Z26, Z6
	VPBROADCASTQ 8(DI)(R12*1), Z27
	VPDPBUSD  Z9, Z27, Z7
	VPBROADCASTQ 16(DI), Z24
	VPDPBUSD  Z10, Z24, Z0
	VPBROADCASTQ 16(DI)(R8*1), Z25
	VPDPBUSD  Z10, Z25, Z1
	VPBROADCASTQ 16(DI)(R8*2), Z26
	VPDPBUSD  Z10, Z26, Z2
	VPBROADCASTQ 16(DI)(R10*1), Z27
	VPDPBUSD  Z10, Z27, Z3
	VPBROADCASTQ 16(DI)(R8*4), Z24
	VPDPBUSD  Z10, Z24, Z4
	VPBROADCASTQ 16(DI)(R11*1), Z25
	VPDPBUSD  Z10, Z25, Z5
	VPBROADCASTQ 16(DI)(R10*2), Z26
	VPDPBUSD  Z10, Z26, Z6
	VPBROADCASTQ 16(DI)(R12*1), Z27
	VPDPBUSD  Z10, Z27, Z7
	VPBROADCASTQ 24(DI), Z24
	VPDPBUSD  Z11, Z24, Z0
	VPBROADCASTQ 24(DI)(R8*1), Z25
	VPDPBUSD  Z11, Z25, Z1
	VPBROADCASTQ 24(DI)(R8*2), Z26
	VPDPBUSD  Z11, Z26, Z2
	VPBROADCASTQ 24(DI)(R10*1), Z27
	VPDPBUSD  Z11, Z27, Z3
	VPBROADCASTQ 24(DI)(R8*4), Z24
	VPDPBUSD  Z11, Z24, Z4
	VPBROADCASTQ 24(DI)(R11*1), Z25
	VPDPBUSD  Z11, Z25, Z5
	VPBROADCASTQ 24(DI)(R10*2), Z26
	VPDPBUSD  Z11, Z26, Z6
	VPBROADCASTQ 24(DI)(R12*1), Z27
	VPDPBUSD  Z11, Z27, Z7
	VCVTPH2PS (BX), Y12
	VPERMPS   Z12, Z29, Z12
	MOVQ      DX, AX
	VPSHUFD   $0xb1, Z0, Z24
	VPADDD    Z24, Z0, Z0
	VCVTDQ2PS Z0, Z0
	VBROADCASTSS (AX), Z24
	VMULPS    Z12, Z24, Z24
	VFMADD231PS Z24, Z0, Z16
	ADDQ      R9, AX
	VPSHUFD   $0xb1, Z1, Z25
	VPADDD    Z25, Z1, Z1
	VCVTDQ2PS Z1, Z1
	VBROADCASTSS (AX), Z25
	VMULPS    Z12, Z25, Z25
	VFMADD231PS Z25, Z1, Z17
	ADDQ      R9, AX
	VPSHUFD   $0xb1, Z2, Z26
	VPADDD    Z26, Z2, Z2
	VCVTDQ2PS Z2, Z2
	VBROADCASTSS (AX), Z26
	VMULPS    Z12, Z26, Z26
	VFMADD231PS Z26, Z2, Z18
	ADDQ      R9, AX
	VPSHUFD   $0xb1, Z3, Z27
	VPADDD    Z27, Z3, Z3
	VCVTDQ2PS Z3, Z3
	VBROADCASTSS (AX), Z27
	VMULPS    Z12, Z27, Z27
	VFMADD231PS Z27, Z3, Z19
	ADDQ      R9, AX
	VPSHUFD   $0xb1, Z4, Z24
	VPADDD    Z24, Z4, Z4
	VCVTDQ2PS Z4, Z4
	VBROADCASTSS (AX), Z24
	VMULPS    Z12, Z24, Z24
	VFMADD231PS Z24, Z4, Z20
	ADDQ      R9, AX
	VPSHUFD   $0xb1, Z5, Z25
	VPADDD    Z25, Z5, Z5
	VCVTDQ2PS Z5, Z5
	VBROADCASTSS (AX), Z25
	VMULPS    Z12, Z25, Z25
	VFMADD231PS Z25, Z5, Z21
	ADDQ      R9, AX
	VPSHUFD   $0xb1, Z6, Z26
	VPADDD    Z26, Z6, Z6
	VCVTDQ2PS Z6, Z6
	VBROADCASTSS (AX), Z26
	VMULPS    Z12, Z26, Z26
	VFMADD231PS Z26, Z6, Z22
	ADDQ      R9, AX
	VPSHUFD   $0xb1, Z7, Z27
	VPADDD    Z27, Z7, Z7
	VCVTDQ2PS Z7, Z7
	VBROADCASTSS (AX), Z27
	VMULPS    Z12, Z27, Z27
	VFMADD231PS Z27, Z7, Z23
	ADDQ      $256, SI
	ADDQ      $16, BX
	ADDQ      $32, DI
	ADDQ      $4, DX
	DECQ      CX
	JNZ       q8g8DPBUSDblock
	MOVQ      24(SP), DI
	MOVQ      ostride+64(FP), R13
	VPMOVQD   Z16, Y16
	VPMOVQD   Z17, Y17
	VPMOVQD   Z18, Y18
	VPMOVQD   Z19, Y19
	VPMOVQD   Z20, Y20
	VPMOVQD   Z21, Y21
	VPMOVQD   Z22, Y22
	VPMOVQD   Z23, Y23
	CMPQ      add+72(FP), $0
	JEQ       q8g8DPBUSDstore
	VADDPS    (DI), Y16, Y16
	VMOVUPS   Y16, (DI)
	MOVQ      R13, AX
	VADDPS    (DI)(AX*1), Y17, Y17
	VMOVUPS   Y17, (DI)(AX*1)
	ADDQ      R13, AX
	VADDPS    (DI)(AX*1), Y18, Y18
	VMOVUPS   Y18, (DI)(AX*1)
	ADDQ      R13, AX
	VADDPS    (DI)(AX*1), Y19, Y19
	VMOVUPS   Y19, (DI)(AX*1)
	ADDQ      R13, AX
	VADDPS    (DI)(AX*1), Y20, Y20
	VMOVUPS   Y20, (DI)(AX*1)
	ADDQ      R13, AX
	VADDPS    (DI)(AX*1), Y21, Y21
	VMOVUPS   Y21, (DI)(AX*1)
	ADDQ      R13, AX
	VADDPS    (DI)(AX*1), Y22, Y22
	VMOVUPS   Y22, (DI)(AX*1)
	ADDQ      R13, AX
	VADDPS    (DI)(AX*1), Y23, Y23
	VMOVUPS   Y23, (DI)(AX*1)
	JMP       q8g8DPBUSDnext

q8g8DPBUSDstore:
	VMOVUPS   Y16, (DI)
	MOVQ      R13, AX
	VMOVUPS   Y17, (DI)(AX*1)
	ADDQ      R13, AX
	VMOVUPS   Y18, (DI)(AX*1)
	ADDQ      R13, AX
	VMOVUPS   Y19, (DI)(AX*1)
	ADDQ      R13, AX
	VMOVUPS   Y20, (DI)(AX*1)
	ADDQ      R13, AX
	VMOVUPS   Y21, (DI)(AX*1)
	ADDQ      R13, AX
	VMOVUPS   Y22, (DI)(AX*1)
	ADDQ      R13, AX
	VMOVUPS   Y23, (DI)(AX*1)

q8g8DPBUSDnext:
	MOVQ      gstride+88(FP), AX
	ADDQ      AX, 8(SP)
	ADDQ      AX, 16(SP)
	ADDQ      $32, 24(SP)
	DECQ      0(SP)
	JNZ       q8g8DPBUSDgroup
	VZEROUPPER
	RET

// q8vnniPairs: two groups' quad c (the first's 32 bytes in words 0-15, the second's in 16-31)
// to dword lanes r (row r of the first: its columns 4c, 4c+1 from word r, 4c+2, 4c+3 from word
// 8+r) and 8+r (the same of the second).
DATA q8vnniPairs<>+0(SB)/2, $0
DATA q8vnniPairs<>+2(SB)/2, $8
DATA q8vnniPairs<>+4(SB)/2, $1
DATA q8vnniPairs<>+6(SB)/2, $9
DATA q8vnniPairs<>+8(SB)/2, $2
DATA q8vnniPairs<>+10(SB)/2, $10
DATA q8vnniPairs<>+12(SB)/2, $3
DATA q8vnniPairs<>+14(SB)/2, $11
DATA q8vnniPairs<>+16(SB)/2, $4
DATA q8vnniPairs<>+18(SB)/2, $12
DATA q8vnniPairs<>+20(SB)/2, $5
DATA q8vnniPairs<>+22(SB)/2, $13
DATA q8vnniPairs<>+24(SB)/2, $6
DATA q8vnniPairs<>+26(SB)/2, $14
DATA q8vnniPairs<>+28(SB)/2, $7
DATA q8vnniPairs<>+30(SB)/2, $15
DATA q8vnniPairs<>+32(SB)/2, $16
DATA q8vnniPairs<>+34(SB)/2, $24
DATA q8vnniPairs<>+36(SB)/2, $17
DATA q8vnniPairs<>+38(SB)/2, $25
DATA q8vnniPairs<>+40(SB)/2, $18
DATA q8vnniPairs<>+42(SB)/2, $26
DATA q8vnniPairs<>+44(SB)/2, $19
DATA q8vnniPairs<>+46(SB)/2, $27
DATA q8vnniPairs<>+48(SB)/2, $20
DATA q8vnniPairs<>+50(SB)/2, $28
DATA q8vnniPairs<>+52(SB)/2, $21
DATA q8vnniPairs<>+54(SB)/2, $29
DATA q8vnniPairs<>+56(SB)/2, $22
DATA q8vnniPairs<>+58(SB)/2, $30
DATA q8vnniPairs<>+60(SB)/2, $23
DATA q8vnniPairs<>+62(SB)/2, $31
GLOBL q8vnniPairs<>(SB), RODATA|NOPTR, $64

// func q8g8DPBUSD16(w *byte, s *byte, xu *byte, xd *float32, nb int, ustride int, dstride int, out *float32, ostride int, add int, ng int, gstride int, pfd int)
//
// q8g8DPBUSD over ng pairs of groups (groups 2i and 2i+1, gstride bytes apart), pair i's
// sixteen sums per token to out+64i. Z13 is 128 x the rows' block sums of weights, taken off
// each token's block sum at the end of the block; R13 is gstride, the second group's offset.
// Each block prefetches the two groups' quants pfd bytes ahead.
// Frame: 0 the pairs left, 8/16 the pair's w and s, 24 its out.
	PCALIGN $2048
TEXT ·q8g8DPBUSD16(SB), NOSPLIT, $32-104
	MOVQ      ng+80(FP), AX
	MOVQ      AX, 0(SP)
	MOVQ      w+0(FP), AX
	MOVQ      AX, 8(SP)
	MOVQ      s+8(FP), AX
	MOVQ      AX, 16(SP)
	MOVQ      out+56(FP), AX
	MOVQ      AX, 24(SP)
	MOVQ      dstride+48(FP), R9
	MOVQ      ustride+40(FP), R8
	LEAQ      (R8)(R8*2), R10
	LEAQ      (R8)(R8*4), R11
	LEAQ      (R10)(R8*4), R12
	VMOVDQU32 q8vnniPairs<>(SB), Z28
	MOVL      $0x80808080, AX
	VPBROADCASTD AX, Z14

q8g8DPBUSD16pair:
	MOVQ      8(SP), SI
	MOVQ      16(SP), BX
	MOVQ      xu+16(FP), DI
	MOVQ      xd+24(FP), DX
	MOVQ      nb+32(FP), CX
	MOVQ      gstride+88(FP), R13
	VPXORD    Z16, Z16, Z16
	VPXORD    Z17, Z17, Z17
	VPXORD    Z18, Z18, Z18
	VPXORD    Z19, Z19, Z19
	VPXORD    Z20, Z20, Z20
	VPXORD    Z21, Z21, Z21
	VPXORD    Z22, Z22, Z22
	VPXORD    Z23, Z23, Z23

q8g8DPBUSD16block:
	MOVQ      pfd+96(FP), AX
	ADDQ      SI, AX
	PREFETCHT0 (AX)
	PREFETCHT0 64(AX)
	PREFETCHT0 128(AX)
	PREFETCHT0 192(AX)
	PREFETCHT0 (AX)(R13*1)
	PREFETCHT0 64(AX)(R13*1)
	PREFETCHT0 128(AX)(R13*1)
	PREFETCHT0 192(AX)(R13*1)
	VPXORD    Z13, Z13, Z13
	VPXORD    Z0, Z0, Z0
	VPXORD    Z1, Z1, Z1
	VPXORD    Z2, Z2, Z2
	VPXORD    Z3, Z3, Z3
	VPXORD    Z4, Z4, Z4
	VPXORD    Z5, Z5, Z5
	VPXORD    Z6, Z6, Z6
	VPXORD    Z7, Z7, Z7
	VMOVDQU   0(SI), Y8
	VINSERTI64X4 $1, 0(SI)(R13*1), Z8, Z8
	VPERMW    Z8, Z28, Z8
	VPDPBUSD  Z8, Z14, Z13
	VPBROADCASTD 0(DI), Z24
	VPDPBUSD  Z8, Z24, Z0
	VPBROADCASTD 0(DI)(R8*1), Z25
	VPDPBUSD  Z8, Z25, Z1
	VPBROADCASTD 0(DI)(R8*2), Z26
	VPDPBUSD  Z8, Z26, Z2
	VPBROADCASTD 0(DI)(R10*1), Z27
	VPDPBUSD  Z8, Z27, Z3
	VPBROADCASTD 0(DI)(R8*4), Z24
	VPDPBUSD  Z8, Z24, Z4
	VPBROADCASTD 0(DI)(R11*1), Z25
	VPDPBUSD  Z8, Z25, Z5
	VPBROADCASTD 0(DI)(R10*2), Z26
	VPDPBUSD  Z8, Z26, Z6
	VPBROADCASTD 0(DI)(R12*1), Z27
	VPDPBUSD  Z8, Z27, Z7
	VMOVDQU   32(SI), Y9
	VINSERTI64X4 $1, 32(SI)(R13*1), Z9, Z9
	VPERMW    Z9, Z28, Z9
	VPDPBUSD  Z9, Z14, Z13
	VPBROADCASTD 4(DI), Z24
	VPDPBUSD  Z9, Z24, Z0
	VPBROADCASTD 4(DI)(R8*1), Z25
	VPDPBUSD  Z9, Z25, Z1
	VPBROADCASTD 4(DI)(R8*2), Z26
	VPDPBUSD  Z9, Z26, Z2
	VPBROADCASTD 4(DI)(R10*1), Z27
	VPDPBUSD  Z9, Z27, Z3
	VPBROADCASTD 4(DI)(R8*4), Z24
	VPDPBUSD  Z9, Z24, Z4
	VPBROADCASTD 4(DI)(R11*1), Z25
	VPDPBUSD  Z9, Z25, Z5
	VPBROADCASTD 4(DI)(R10*2), Z26
	VPDPBUSD  Z9, Z26, Z6
	VPBROADCASTD 4(DI)(R12*1), Z27
	VPDPBUSD  Z9, Z27, Z7
	VMOVDQU   64(SI), Y8
	VINSERTI64X4 $1, 64(SI)(R13*1), Z8, Z8
	VPERMW    Z8, Z28, Z8
	VPDPBUSD  Z8, Z14, Z13
	VPBROADCASTD 8(DI), Z24
	VPDPBUSD  Z8, Z24, Z0
	VPBROADCASTD 8(DI)(R8*1), Z25
	VPDPBUSD  Z8, Z25, Z1
	VPBROADCASTD 8(DI)(R8*2), Z26
	VPDPBUSD  Z8, Z26, Z2
	VPBROADCASTD 8(DI)(R10*1), Z27
	VPDPBUSD  Z8, Z27, Z3
	VPBROADCASTD 8(DI)(R8*4), Z24
	VPDPBUSD  Z8, Z24, Z4
	VPBROADCASTD 8(DI)(R11*1), Z25
	VPDPBUSD  Z8, Z25, Z5
	VPBROADCASTD 8(DI)(R10*2), Z26
	VPDPBUSD  Z8, Z26, Z6
	VPBROADCASTD 8(DI)(R12*1), Z27
	VPDPBUSD  Z8, Z27, Z7
	VMOVDQU   96(SI), Y9
	VINSERTI64X4 $1, 96(SI)(R13*1), Z9, Z9
	VPERMW    Z9, Z28, Z9
	VPDPBUSD  Z9, Z14, Z13
	VPBROADCASTD 12(DI), Z24
	VPDPBUSD  Z9, Z24, Z0
	VPBROADCASTD 12(DI)(R8*1), Z25
	VPDPBUSD  Z9, Z25, Z1
	VPBROADCASTD 12(DI)(R8*2), Z26
	VPDPBUSD  Z9, Z26, Z2
	VPBROADCASTD 12(DI)(R10*1), Z27
	VPDPBUSD  Z9, Z27, Z3
	VPBROADCASTD 12(DI)(R8*4), Z24
	VPDPBUSD  Z9, Z24, Z4
	VPBROADCASTD 12(DI)(R11*1), Z25
	VPDPBUSD  Z9, Z25, Z5
	VPBROADCASTD 12(DI)(R10*2), Z26
	VPDPBUSD  Z9, Z26, Z6
	VPBROADCASTD 12(DI)(R12*1), Z27
	VPDPBUSD  Z9, Z27, Z7
	VMOVDQU   128(SI), Y8
	VINSERTI64X4 $1, 128(SI)(R13*1), Z8, Z8
	VPERMW    Z8, Z28, Z8
	VPDPBUSD  Z8, Z14, Z13
	VPBROADCASTD 16(DI), Z24
	VPDPBUSD  Z8, Z24, Z0
	VPBROADCASTD 16(DI)(R8*1), Z25
	VPDPBUSD  Z8, Z25, Z1
	VPBROADCASTD 16(DI)(R8*2), Z26
	VPDPBUSD  Z8, Z26, Z2
	VPBROADCASTD 16(DI)(R10*1), Z27
	VPDPBUSD  Z8, Z27, Z3
	VPBROADCASTD 16(DI)(R8*4), Z24
	VPDPBUSD  Z8, Z24, Z4
	VPBROADCASTD 16(DI)(R11*1), Z25
	VPDPBUSD  Z8, Z25, Z5
	VPBROADCASTD 16(DI)(R10*2), Z26
	VPDPBUSD  Z8, Z26, Z6
	VPBROADCASTD 16(DI)(R12*1), Z27
	VPDPBUSD  Z8, Z27, Z7
	VMOVDQU   160(SI), Y9
	VINSERTI64X4 $1, 160(SI)(R13*1), Z9, Z9
	VPERMW    Z9, Z28, Z9
	VPDPBUSD  Z9, Z14, Z13
	VPBROADCASTD 20(DI), Z24
	VPDPBUSD  Z9, Z24, Z0
	VPBROADCASTD 20(DI)(R8*1), Z25
	VPDPBUSD  Z9, Z25, Z1
	VPBROADCASTD 20(DI)(R8*2), Z26
	VPDPBUSD  Z9, Z26, Z2
	VPBROADCASTD 20(DI)(R10*1), Z27
	VPDPBUSD  Z9, Z27, Z3
	VPBROADCASTD 20(DI)(R8*4), Z24
	VPDPBUSD  Z9, Z24, Z4
	VPBROADCASTD 20(DI)(R11*1), Z25
	VPDPBUSD  Z9, Z25, Z5
	VPBROADCASTD 20(DI)(R10*2), Z26
	VPDPBUSD  Z9, Z26, Z6
	VPBROADCASTD 20(DI)(R12*1), Z27
	VPDPBUSD  Z9, Z27, Z7
	VMOVDQU   192(SI), Y8
	VINSERTI64X4 $1, 192(SI)(R13*1), Z8, Z8
	VPERMW    Z8, Z28, Z8
	VPDPBUSD  Z8, Z14, Z13
	VPBROADCASTD 24(DI), Z24
	VPDPBUSD  Z8, Z24, Z0
	VPBROADCASTD 24(DI)(R8*1), Z25
	VPDPBUSD  Z8, Z25, Z1
	VPBROADCASTD 24(DI)(R8*2), Z26
	VPDPBUSD  Z8, Z26, Z2
	VPBROADCASTD 24(DI)(R10*1), Z27
	VPDPBUSD  Z8, Z27, Z3
	VPBROADCASTD 24(DI)(R8*4), Z24
	VPDPBUSD  Z8, Z24, Z4
	VPBROADCASTD 24(DI)(R11*1), Z25
	VPDPBUSD  Z8, Z25, Z5
	VPBROADCASTD 24(DI)(R10*2), Z26
	VPDPBUSD  Z8, Z26, Z6
	VPBROADCASTD 24(DI)(R12*1), Z27
	VPDPBUSD  Z8, Z27, Z7
	VMOVDQU   224(SI), Y9
	VINSERTI64X4 $1, 224(SI)(R13*1), Z9, Z9
	VPERMW    Z9, Z28, Z9
	VPDPBUSD  Z9, Z14, Z13
	VPBROADCASTD 28(DI), Z24
	VPDPBUSD  Z9, Z24, Z0
	VPBROADCASTD 28(DI)(R8*1), Z25
	VPDPBUSD  Z9, Z25, Z1
	VPBROADCASTD 28(DI)(R8*2), Z26
	VPDPBUSD  Z9, Z26, Z2
	VPBROADCASTD 28(DI)(R10*1), Z27
	VPDPBUSD  Z9, Z27, Z3
	VPBROADCASTD 28(DI)(R8*4), Z24
	VPDPBUSD  Z9, Z24, Z4
	VPBROADCASTD 28(DI)(R11*1), Z25
	VPDPBUSD  Z9, Z25, Z5
	VPBROADCASTD 28(DI)(R10*2), Z26
	VPDPBUSD  Z9, Z26, Z6
	VPBROADCASTD 28(DI)(R12*1), Z27
	VPDPBUSD  Z9, Z27, Z7
	VCVTPH2PS (BX), Y12
	VCVTPH2PS (BX)(R13*1), Y15
	VINSERTF32X8 $1, Y15, Z12, Z12
	MOVQ      DX, AX
	VPSUBD    Z13, Z0, Z0
	VCVTDQ2PS Z0, Z0
	VBROADCASTSS (AX), Z24
	VMULPS    Z12, Z24, Z24
	VFMADD231PS Z24, Z0, Z16
	ADDQ      R9, AX
	VPSUBD    Z13, Z1, Z1
	VCVTDQ2PS Z1, Z1
	VBROADCASTSS (AX), Z25
	VMULPS    Z12, Z25, Z25
	VFMADD231PS Z25, Z1, Z17
	ADDQ      R9, AX
	VPSUBD    Z13, Z2, Z2
	VCVTDQ2PS Z2, Z2
	VBROADCASTSS (AX), Z26
	VMULPS    Z12, Z26, Z26
	VFMADD231PS Z26, Z2, Z18
	ADDQ      R9, AX
	VPSUBD    Z13, Z3, Z3
	VCVTDQ2PS Z3, Z3
	VBROADCASTSS (AX), Z27
	VMULPS    Z12, Z27, Z27
	VFMADD231PS Z27, Z3, Z19
	ADDQ      R9, AX
	VPSUBD    Z13, Z4, Z4
	VCVTDQ2PS Z4, Z4
	VBROADCASTSS (AX), Z24
	VMULPS    Z12, Z24, Z24
	VFMADD231PS Z24, Z4, Z20
	ADDQ      R9, AX
	VPSUBD    Z13, Z5, Z5
	VCVTDQ2PS Z5, Z5
	VBROADCASTSS (AX), Z25
	VMULPS    Z12, Z25, Z25
	VFMADD231PS Z25, Z5, Z21
	ADDQ      R9, AX
	VPSUBD    Z13, Z6, Z6
	VCVTDQ2PS Z6, Z6
	VBROADCASTSS (AX), Z26
	VMULPS    Z12, Z26, Z26
	VFMADD231PS Z26, Z6, Z22
	ADDQ      R9, AX
	VPSUBD    Z13, Z7, Z7
	VCVTDQ2PS Z7, Z7
	VBROADCASTSS (AX), Z27
	VMULPS    Z12, Z27, Z27
	VFMADD231PS Z27, Z7, Z23
	ADDQ      $256, SI
	ADDQ      $16, BX
	ADDQ      $32, DI
	ADDQ      $4, DX
	DECQ      CX
	JNZ       q8g8DPBUSD16block
	MOVQ      24(SP), DI
	MOVQ      ostride+64(FP), R13
	CMPQ      add+72(FP), $0
	JEQ       q8g8DPBUSD16store
	VADDPS    (DI), Z16, Z16
	VMOVUPS   Z16, (DI)
	MOVQ      R13, AX
	VADDPS    (DI)(AX*1), Z17, Z17
	VMOVUPS   Z17, (DI)(AX*1)
	ADDQ      R13, AX
	VADDPS    (DI)(AX*1), Z18, Z18
	VMOVUPS   Z18, (DI)(AX*1)
	ADDQ      R13, AX
	VADDPS    (DI)(AX*1), Z19, Z19
	VMOVUPS   Z19, (DI)(AX*1)
	ADDQ      R13, AX
	VADDPS    (DI)(AX*1), Z20, Z20
	VMOVUPS   Z20, (DI)(AX*1)
	ADDQ      R13, AX
	VADDPS    (DI)(AX*1), Z21, Z21
	VMOVUPS   Z21, (DI)(AX*1)
	ADDQ      R13, AX
	VADDPS    (DI)(AX*1), Z22, Z22
	VMOVUPS   Z22, (DI)(AX*1)
	ADDQ      R13, AX
	VADDPS    (DI)(AX*1), Z23, Z23
	VMOVUPS   Z23, (DI)(AX*1)
	JMP       q8g8DPBUSD16next

q8g8DPBUSD16store:
	VMOVUPS   Z16, (DI)
	MOVQ      R13, AX
	VMOVUPS   Z17, (DI)(AX*1)
	ADDQ      R13, AX
	VMOVUPS   Z18, (DI)(AX*1)
	ADDQ      R13, AX
	VMOVUPS   Z19, (DI)(AX*1)
	ADDQ      R13, AX
	VMOVUPS   Z20, (DI)(AX*1)
	ADDQ      R13, AX
	VMOVUPS   Z21, (DI)(AX*1)
	ADDQ      R13, AX
	VMOVUPS   Z22, (DI)(AX*1)
	ADDQ      R13, AX
	VMOVUPS   Z23, (DI)(AX*1)

q8g8DPBUSD16next:
	MOVQ      gstride+88(FP), AX
	SHLQ      $1, AX
	ADDQ      AX, 8(SP)
	ADDQ      AX, 16(SP)
	ADDQ      $64, 24(SP)
	DECQ      0(SP)
	JNZ       q8g8DPBUSD16pair
	VZEROUPPER
	RET

// func q8g8DPBUSD16S(w *byte, s *byte, xu *byte, xd *float32, nb int, ustride int, dstride int, out *float32, ostride int, add int, ng int, gstride int, pfd int)
//
// q8g8DPBUSD over ng pairs of groups (groups 2i and 2i+1, gstride bytes apart), pair i's
// sixteen sums per token to out+64i. Z13 is 128 x the rows' block sums of weights, taken off
// each token's block sum at the end of the block; R13 is gstride, the second group's offset.
// Each block prefetches the two groups' quants pfd bytes ahead and their scales too.
// Frame: 0 the pairs left, 8/16 the pair's w and s, 24 its out.
	PCALIGN $2048
TEXT ·q8g8DPBUSD16S(SB), NOSPLIT, $32-104
	MOVQ      ng+80(FP), AX
	MOVQ      AX, 0(SP)
	MOVQ      w+0(FP), AX
	MOVQ      AX, 8(SP)
	MOVQ      s+8(FP), AX
	MOVQ      AX, 16(SP)
	MOVQ      out+56(FP), AX
	MOVQ      AX, 24(SP)
	MOVQ      dstride+48(FP), R9
	MOVQ      ustride+40(FP), R8
	LEAQ      (R8)(R8*2), R10
	LEAQ      (R8)(R8*4), R11
	LEAQ      (R10)(R8*4), R12
	VMOVDQU32 q8vnniPairs<>(SB), Z28
	MOVL      $0x80808080, AX
	VPBROADCASTD AX, Z14

q8g8DPBUSD16Spair:
	MOVQ      8(SP), SI
	MOVQ      16(SP), BX
	MOVQ      xu+16(FP), DI
	MOVQ      xd+24(FP), DX
	MOVQ      nb+32(FP), CX
	MOVQ      gstride+88(FP), R13
	VPXORD    Z16, Z16, Z16
	VPXORD    Z17, Z17, Z17
	VPXORD    Z18, Z18, Z18
	VPXORD    Z19, Z19, Z19
	VPXORD    Z20, Z20, Z20
	VPXORD    Z21, Z21, Z21
	VPXORD    Z22, Z22, Z22
	VPXORD    Z23, Z23, Z23

q8g8DPBUSD16Sblock:
	MOVQ      pfd+96(FP), AX
	ADDQ      SI, AX
	PREFETCHT0 (AX)
	PREFETCHT0 64(AX)
	PREFETCHT0 128(AX)
	PREFETCHT0 192(AX)
	PREFETCHT0 (AX)(R13*1)
	PREFETCHT0 64(AX)(R13*1)
	PREFETCHT0 128(AX)(R13*1)
	PREFETCHT0 192(AX)(R13*1)
	MOVQ      pfd+96(FP), AX
	ADDQ      BX, AX
	PREFETCHT0 (AX)
	PREFETCHT0 (AX)(R13*1)
	VPXORD    Z13, Z13, Z13
	VPXORD    Z0, Z0, Z0
	VPXORD    Z1, Z1, Z1
	VPXORD    Z2, Z2, Z2
	VPXORD    Z3, Z3, Z3
	VPXORD    Z4, Z4, Z4
	VPXORD    Z5, Z5, Z5
	VPXORD    Z6, Z6, Z6
	VPXORD    Z7, Z7, Z7
	VMOVDQU   0(SI), Y8
	VINSERTI64X4 $1, 0(SI)(R13*1), Z8, Z8
	VPERMW    Z8, Z28, Z8
	VPDPBUSD  Z8, Z14, Z13
	VPBROADCASTD 0(DI), Z24
	VPDPBUSD  Z8, Z24, Z0
	VPBROADCASTD 0(DI)(R8*1), Z25
	VPDPBUSD  Z8, Z25, Z1
	VPBROADCASTD 0(DI)(R8*2), Z26
	VPDPBUSD  Z8, Z26, Z2
	VPBROADCASTD 0(DI)(R10*1), Z27
	VPDPBUSD  Z8, Z27, Z3
	VPBROADCASTD 0(DI)(R8*4), Z24
	VPDPBUSD  Z8, Z24, Z4
	VPBROADCASTD 0(DI)(R11*1), Z25
	VPDPBUSD  Z8, Z25, Z5
	VPBROADCASTD 0(DI)(R10*2), Z26
	VPDPBUSD  Z8, Z26, Z6
	VPBROADCASTD 0(DI)(R12*1), Z27
	VPDPBUSD  Z8, Z27, Z7
	VMOVDQU   32(SI), Y9
	VINSERTI64X4 $1, 32(SI)(R13*1), Z9, Z9
	VPERMW    Z9, Z28, Z9
	VPDPBUSD  Z9, Z14, Z13
	VPBROADCASTD 4(DI), Z24
	VPDPBUSD  Z9, Z24, Z0
	VPBROADCASTD 4(DI)(R8*1), Z25
	VPDPBUSD  Z9, Z25, Z1
	VPBROADCASTD 4(DI)(R8*2), Z26
	VPDPBUSD  Z9, Z26, Z2
	VPBROADCASTD 4(DI)(R10*1), Z27
	VPDPBUSD  Z9, Z27, Z3
	VPBROADCASTD 4(DI)(R8*4), Z24
	VPDPBUSD  Z9, Z24, Z4
	VPBROADCASTD 4(DI)(R11*1), Z25
	VPDPBUSD  Z9, Z25, Z5
	VPBROADCASTD 4(DI)(R10*2), Z26
	VPDPBUSD  Z9, Z26, Z6
	VPBROADCASTD 4(DI)(R12*1), Z27
	VPDPBUSD  Z9, Z27, Z7
	VMOVDQU   64(SI), Y8
	VINSERTI64X4 $1, 64(SI)(R13*1), Z8, Z8
	VPERMW    Z8, Z28, Z8
	VPDPBUSD  Z8, Z14, Z13
	VPBROADCASTD 8(DI), Z24
	VPDPBUSD  Z8, Z24, Z0
	VPBROADCASTD 8(DI)(R8*1), Z25
	VPDPBUSD  Z8, Z25, Z1
	VPBROADCASTD 8(DI)(R8*2), Z26
	VPDPBUSD  Z8, Z26, Z2
	VPBROADCASTD 8(DI)(R10*1), Z27
	VPDPBUSD  Z8, Z27, Z3
	VPBROADCASTD 8(DI)(R8*4), Z24
	VPDPBUSD  Z8, Z24, Z4
	VPBROADCASTD 8(DI)(R11*1), Z25
	VPDPBUSD  Z8, Z25, Z5
	VPBROADCASTD 8(DI)(R10*2), Z26
	VPDPBUSD  Z8, Z26, Z6
	VPBROADCASTD 8(DI)(R12*1), Z27
	VPDPBUSD  Z8, Z27, Z7
	VMOVDQU   96(SI), Y9
	VINSERTI64X4 $1, 96(SI)(R13*1), Z9, Z9
	VPERMW    Z9, Z28, Z9
	VPDPBUSD  Z9, Z14, Z13
	VPBROADCASTD 12(DI), Z24
	VPDPBUSD  Z9, Z24, Z0
	VPBROADCASTD 12(DI)(R8*1), Z25
	VPDPBUSD  Z9, Z25, Z1
	VPBROADCASTD 12(DI)(R8*2), Z26
	VPDPBUSD  Z9, Z26, Z2
	VPBROADCASTD 12(DI)(R10*1), Z27
	VPDPBUSD  Z9, Z27, Z3
	VPBROADCASTD 12(DI)(R8*4), Z24
	VPDPBUSD  Z9, Z24, Z4
	VPBROADCASTD 12(DI)(R11*1), Z25
	VPDPBUSD  Z9, Z25, Z5
	VPBROADCASTD 12(DI)(R10*2), Z26
	VPDPBUSD  Z9, Z26, Z6
	VPBROADCASTD 12(DI)(R12*1), Z27
	VPDPBUSD  Z9, Z27, Z7
	VMOVDQU   128(SI), Y8
	VINSERTI64X4 $1, 128(SI)(R13*1), Z8, Z8
	VPERMW    Z8, Z28, Z8
	VPDPBUSD  Z8, Z14, Z13
	VPBROADCASTD 16(DI), Z24
	VPDPBUSD  Z8, Z24, Z0
	VPBROADCASTD 16(DI)(R8*1), Z25
	VPDPBUSD  Z8, Z25, Z1
	VPBROADCASTD 16(DI)(R8*2), Z26
	VPDPBUSD  Z8, Z26, Z2
	VPBROADCASTD 16(DI)(R10*1), Z27
	VPDPBUSD  Z8, Z27, Z3
	VPBROADCASTD 16(DI)(R8*4), Z24
	VPDPBUSD  Z8, Z24, Z4
	VPBROADCASTD 16(DI)(R11*1), Z25
	VPDPBUSD  Z8, Z25, Z5
	VPBROADCASTD 16(DI)(R10*2), Z26
	VPDPBUSD  Z8, Z26, Z6
	VPBROADCASTD 16(DI)(R12*1), Z27
	VPDPBUSD  Z8, Z27, Z7
	VMOVDQU   160(SI), Y9
	VINSERTI64X4 $1, 160(SI)(R13*1), Z9, Z9
	VPERMW    Z9, Z28, Z9
	VPDPBUSD  Z9, Z14, Z13
	VPBROADCASTD 20(DI), Z24
	VPDPBUSD  Z9, Z24, Z0
	VPBROADCASTD 20(DI)(R8*1), Z25
	VPDPBUSD  Z9, Z25, Z1
	VPBROADCASTD 20(DI)(R8*2), Z26
	VPDPBUSD  Z9, Z26, Z2
	VPBROADCASTD 20(DI)(R10*1), Z27
	VPDPBUSD  Z9, Z27, Z3
	VPBROADCASTD 20(DI)(R8*4), Z24
	VPDPBUSD  Z9, Z24, Z4
	VPBROADCASTD 20(DI)(R11*1), Z25
	VPDPBUSD  Z9, Z25, Z5
	VPBROADCASTD 20(DI)(R10*2), Z26
	VPDPBUSD  Z9, Z26, Z6
	VPBROADCASTD 20(DI)(R12*1), Z27
	VPDPBUSD  Z9, Z27, Z7
	VMOVDQU   192(SI), Y8
	VINSERTI64X4 $1, 192(SI)(R13*1), Z8, Z8
	VPERMW    Z8, Z28, Z8
	VPDPBUSD  Z8, Z14, Z13
	VPBROADCASTD 24(DI), Z24
	VPDPBUSD  Z8, Z24, Z0
	VPBROADCASTD 24(DI)(R8*1), Z25
	VPDPBUSD  Z8, Z25, Z1
	VPBROADCASTD 24(DI)(R8*2), Z26
	VPDPBUSD  Z8, Z26, Z2
	VPBROADCASTD 24(DI)(R10*1), Z27
	VPDPBUSD  Z8, Z27, Z3
	VPBROADCASTD 24(DI)(R8*4), Z24
	VPDPBUSD  Z8, Z24, Z4
	VPBROADCASTD 24(DI)(R11*1), Z25
	VPDPBUSD  Z8, Z25, Z5
	VPBROADCASTD 24(DI)(R10*2), Z26
	VPDPBUSD  Z8, Z26, Z6
	VPBROADCASTD 24(DI)(R12*1), Z27
	VPDPBUSD  Z8, Z27, Z7
	VMOVDQU   224(SI), Y9
	VINSERTI64X4 $1, 224(SI)(R13*1), Z9, Z9
	VPERMW    Z9, Z28, Z9
	VPDPBUSD  Z9, Z14, Z13
	VPBROADCASTD 28(DI), Z24
	VPDPBUSD  Z9, Z24, Z0
	VPBROADCASTD 28(DI)(R8*1), Z25
	VPDPBUSD  Z9, Z25, Z1
	VPBROADCASTD 28(DI)(R8*2), Z26
	VPDPBUSD  Z9, Z26, Z2
	VPBROADCASTD 28(DI)(R10*1), Z27
	VPDPBUSD  Z9, Z27, Z3
	VPBROADCASTD 28(DI)(R8*4), Z24
	VPDPBUSD  Z9, Z24, Z4
	VPBROADCASTD 28(DI)(R11*1), Z25
	VPDPBUSD  Z9, Z25, Z5
	VPBROADCASTD 28(DI)(R10*2), Z26
	VPDPBUSD  Z9, Z26, Z6
	VPBROADCASTD 28(DI)(R12*1), Z27
	VPDPBUSD  Z9, Z27, Z7
	VCVTPH2PS (BX), Y12
	VCVTPH2PS (BX)(R13*1), Y15
	VINSERTF32X8 $1, Y15, Z12, Z12
	MOVQ      DX, AX
	VPSUBD    Z13, Z0, Z0
	VCVTDQ2PS Z0, Z0
	VBROADCASTSS (AX), Z24
	VMULPS    Z12, Z24, Z24
	VFMADD231PS Z24, Z0, Z16
	ADDQ      R9, AX
	VPSUBD    Z13, Z1, Z1
	VCVTDQ2PS Z1, Z1
	VBROADCASTSS (AX), Z25
	VMULPS    Z12, Z25, Z25
	VFMADD231PS Z25, Z1, Z17
	ADDQ      R9, AX
	VPSUBD    Z13, Z2, Z2
	VCVTDQ2PS Z2, Z2
	VBROADCASTSS (AX), Z26
	VMULPS    Z12, Z26, Z26
	VFMADD231PS Z26, Z2, Z18
	ADDQ      R9, AX
	VPSUBD    Z13, Z3, Z3
	VCVTDQ2PS Z3, Z3
	VBROADCASTSS (AX), Z27
	VMULPS    Z12, Z27, Z27
	VFMADD231PS Z27, Z3, Z19
	ADDQ      R9, AX
	VPSUBD    Z13, Z4, Z4
	VCVTDQ2PS Z4, Z4
	VBROADCASTSS (AX), Z24
	VMULPS    Z12, Z24, Z24
	VFMADD231PS Z24, Z4, Z20
	ADDQ      R9, AX
	VPSUBD    Z13, Z5, Z5
	VCVTDQ2PS Z5, Z5
	VBROADCASTSS (AX), Z25
	VMULPS    Z12, Z25, Z25
	VFMADD231PS Z25, Z5, Z21
	ADDQ      R9, AX
	VPSUBD    Z13, Z6, Z6
	VCVTDQ2PS Z6, Z6
	VBROADCASTSS (AX), Z26
	VMULPS    Z12, Z26, Z26
	VFMADD231PS Z26, Z6, Z22
	ADDQ      R9, AX
	VPSUBD    Z13, Z7, Z7
	VCVTDQ2PS Z7, Z7
	VBROADCASTSS (AX), Z27
	VMULPS    Z12, Z27, Z27
	VFMADD231PS Z27, Z7, Z23
	ADDQ      $256, SI
	ADDQ      $16, BX
	ADDQ      $32, DI
	ADDQ      $4, DX
	DECQ      CX
	JNZ       q8g8DPBUSD16Sblock
	MOVQ      24(SP), DI
	MOVQ      ostride+64(FP), R13
	CMPQ      add+72(FP), $0
	JEQ       q8g8DPBUSD16Sstore
	VADDPS    (DI), Z16, Z16
	VMOVUPS   Z16, (DI)
	MOVQ      R13, AX
	VADDPS    (DI)(AX*1), Z17, Z17
	VMOVUPS   Z17, (DI)(AX*1)
	ADDQ      R13, AX
	VADDPS    (DI)(AX*1), Z18, Z18
	VMOVUPS   Z18, (DI)(AX*1)
	ADDQ      R13, AX
	VADDPS    (DI)(AX*1), Z19, Z19
	VMOVUPS   Z19, (DI)(AX*1)
	ADDQ      R13, AX
	VADDPS    (DI)(AX*1), Z20, Z20
	VMOVUPS   Z20, (DI)(AX*1)
	ADDQ      R13, AX
	VADDPS    (DI)(AX*1), Z21, Z21
	VMOVUPS   Z21, (DI)(AX*1)
	ADDQ      R13, AX
	VADDPS    (DI)(AX*1), Z22, Z22
	VMOVUPS   Z22, (DI)(AX*1)
	ADDQ      R13, AX
	VADDPS    (DI)(AX*1), Z23, Z23
	VMOVUPS   Z23, (DI)(AX*1)
	JMP       q8g8DPBUSD16Snext

q8g8DPBUSD16Sstore:
	VMOVUPS   Z16, (DI)
	MOVQ      R13, AX
	VMOVUPS   Z17, (DI)(AX*1)
	ADDQ      R13, AX
	VMOVUPS   Z18, (DI)(AX*1)
	ADDQ      R13, AX
	VMOVUPS   Z19, (DI)(AX*1)
	ADDQ      R13, AX
	VMOVUPS   Z20, (DI)(AX*1)
	ADDQ      R13, AX
	VMOVUPS   Z21, (DI)(AX*1)
	ADDQ      R13, AX
	VMOVUPS   Z22, (DI)(AX*1)
	ADDQ      R13, AX
	VMOVUPS   Z23, (DI)(AX*1)

q8g8DPBUSD16Snext:
	MOVQ      gstride+88(FP), AX
	SHLQ      $1, AX
	ADDQ      AX, 8(SP)
	ADDQ      AX, 16(SP)
	ADDQ      $64, 24(SP)
	DECQ      0(SP)
	JNZ       q8g8DPBUSD16Spair
	VZEROUPPER
	RET

// func q8g4DPBUSD16(w *byte, s *byte, xu *byte, xd *float32, nb int, ustride int, dstride int, out *float32, ostride int, add int, ng int, gstride int, pfd int)
//
// q8g8DPBUSD for four tokens over ng pairs of groups (groups 2i and 2i+1, gstride bytes apart), pair i's
// sixteen sums per token to out+64i. Z13 is 128 x the rows' block sums of weights, taken off
// each token's block sum at the end of the block; R13 is gstride, the second group's offset.
// Each block prefetches the two groups' quants pfd bytes ahead.
// Frame: 0 the pairs left, 8/16 the pair's w and s, 24 its out.
	PCALIGN $2048
TEXT ·q8g4DPBUSD16(SB), NOSPLIT, $32-104
	MOVQ      ng+80(FP), AX
	MOVQ      AX, 0(SP)
	MOVQ      w+0(FP), AX
	MOVQ      AX, 8(SP)
	MOVQ      s+8(FP), AX
	MOVQ      AX, 16(SP)
	MOVQ      out+56(FP), AX
	MOVQ      AX, 24(SP)
	MOVQ      dstride+48(FP), R9
	MOVQ      ustride+40(FP), R8
	LEAQ      (R8)(R8*2), R10
	LEAQ      (R8)(R8*4), R11
	LEAQ      (R10)(R8*4), R12
	VMOVDQU32 q8vnniPairs<>(SB), Z28
	MOVL      $0x80808080, AX
	VPBROADCASTD AX, Z14

q8g4DPBUSD16pair:
	MOVQ      8(SP), SI
	MOVQ      16(SP), BX
	MOVQ      xu+16(FP), DI
	MOVQ      xd+24(FP), DX
	MOVQ      nb+32(FP), CX
	MOVQ      gstride+88(FP), R13
	VPXORD    Z16, Z16, Z16
	VPXORD    Z17, Z17, Z17
	VPXORD    Z18, Z18, Z18
	VPXORD    Z19, Z19, Z19

q8g4DPBUSD16block:
	MOVQ      pfd+96(FP), AX
	ADDQ      SI, AX
	PREFETCHT0 (AX)
	PREFETCHT0 64(AX)
	PREFETCHT0 128(AX)
	PREFETCHT0 192(AX)
	PREFETCHT0 (AX)(R13*1)
	PREFETCHT0 64(AX)(R13*1)
	PREFETCHT0 128(AX)(R13*1)
	PREFETCHT0 192(AX)(R13*1)
	VPXORD    Z13, Z13, Z13
	VPXORD    Z0, Z0, Z0
	VPXORD    Z1, Z1, Z1
	VPXORD    Z2, Z2, Z2
	VPXORD    Z3, Z3, Z3
	VMOVDQU   0(SI), Y8
	VINSERTI64X4 $1, 0(SI)(R13*1), Z8, Z8
	VPERMW    Z8, Z28, Z8
	VPDPBUSD  Z8, Z14, Z13
	VPBROADCASTD 0(DI), Z24
	VPDPBUSD  Z8, Z24, Z0
	VPBROADCASTD 0(DI)(R8*1), Z25
	VPDPBUSD  Z8, Z25, Z1
	VPBROADCASTD 0(DI)(R8*2), Z26
	VPDPBUSD  Z8, Z26, Z2
	VPBROADCASTD 0(DI)(R10*1), Z27
	VPDPBUSD  Z8, Z27, Z3
	VMOVDQU   32(SI), Y9
	VINSERTI64X4 $1, 32(SI)(R13*1), Z9, Z9
	VPERMW    Z9, Z28, Z9
	VPDPBUSD  Z9, Z14, Z13
	VPBROADCASTD 4(DI), Z24
	VPDPBUSD  Z9, Z24, Z0
	VPBROADCASTD 4(DI)(R8*1), Z25
	VPDPBUSD  Z9, Z25, Z1
	VPBROADCASTD 4(DI)(R8*2), Z26
	VPDPBUSD  Z9, Z26, Z2
	VPBROADCASTD 4(DI)(R10*1), Z27
	VPDPBUSD  Z9, Z27, Z3
	VMOVDQU   64(SI), Y8
	VINSERTI64X4 $1, 64(SI)(R13*1), Z8, Z8
	VPERMW    Z8, Z28, Z8
	VPDPBUSD  Z8, Z14, Z13
	VPBROADCASTD 8(DI), Z24
	VPDPBUSD  Z8, Z24, Z0
	VPBROADCASTD 8(DI)(R8*1), Z25
	VPDPBUSD  Z8, Z25, Z1
	VPBROADCASTD 8(DI)(R8*2), Z26
	VPDPBUSD  Z8, Z26, Z2
	VPBROADCASTD 8(DI)(R10*1), Z27
	VPDPBUSD  Z8, Z27, Z3
	VMOVDQU   96(SI), Y9
	VINSERTI64X4 $1, 96(SI)(R13*1), Z9, Z9
	VPERMW    Z9, Z28, Z9
	VPDPBUSD  Z9, Z14, Z13
	VPBROADCASTD 12(DI), Z24
	VPDPBUSD  Z9, Z24, Z0
	VPBROADCASTD 12(DI)(R8*1), Z25
	VPDPBUSD  Z9, Z25, Z1
	VPBROADCASTD 12(DI)(R8*2), Z26
	VPDPBUSD  Z9, Z26, Z2
	VPBROADCASTD 12(DI)(R10*1), Z27
	VPDPBUSD  Z9, Z27, Z3
	VMOVDQU   128(SI), Y8
	VINSERTI64X4 $1, 128(SI)(R13*1), Z8, Z8
	VPERMW    Z8, Z28, Z8
	VPDPBUSD  Z8, Z14, Z13
	VPBROADCASTD 16(DI), Z24
	VPDPBUSD  Z8, Z24, Z0
	VPBROADCASTD 16(DI)(R8*1), Z25
	VPDPBUSD  Z8, Z25, Z1
	VPBROADCASTD 16(DI)(R8*2), Z26
	VPDPBUSD  Z8, Z26, Z2
	VPBROADCASTD 16(DI)(R10*1), Z27
	VPDPBUSD  Z8, Z27, Z3
	VMOVDQU   160(SI), Y9
	VINSERTI64X4 $1, 160(SI)(R13*1), Z9, Z9
	VPERMW    Z9, Z28, Z9
	VPDPBUSD  Z9, Z14, Z13
	VPBROADCASTD 20(DI), Z24
	VPDPBUSD  Z9, Z24, Z0
	VPBROADCASTD 20(DI)(R8*1), Z25
	VPDPBUSD  Z9, Z25, Z1
	VPBROADCASTD 20(DI)(R8*2), Z26
	VPDPBUSD  Z9, Z26, Z2
	VPBROADCASTD 20(DI)(R10*1), Z27
	VPDPBUSD  Z9, Z27, Z3
	VMOVDQU   192(SI), Y8
	VINSERTI64X4 $1, 192(SI)(R13*1), Z8, Z8
	VPERMW    Z8, Z28, Z8
	VPDPBUSD  Z8, Z14, Z13
	VPBROADCASTD 24(DI), Z24
	VPDPBUSD  Z8, Z24, Z0
	VPBROADCASTD 24(DI)(R8*1), Z25
	VPDPBUSD  Z8, Z25, Z1
	VPBROADCASTD 24(DI)(R8*2), Z26
	VPDPBUSD  Z8, Z26, Z2
	VPBROADCASTD 24(DI)(R10*1), Z27
	VPDPBUSD  Z8, Z27, Z3
	VMOVDQU   224(SI), Y9
	VINSERTI64X4 $1, 224(SI)(R13*1), Z9, Z9
	VPERMW    Z9, Z28, Z9
	VPDPBUSD  Z9, Z14, Z13
	VPBROADCASTD 28(DI), Z24
	VPDPBUSD  Z9, Z24, Z0
	VPBROADCASTD 28(DI)(R8*1), Z25
	VPDPBUSD  Z9, Z25, Z1
	VPBROADCASTD 28(DI)(R8*2), Z26
	VPDPBUSD  Z9, Z26, Z2
	VPBROADCASTD 28(DI)(R10*1), Z27
	VPDPBUSD  Z9, Z27, Z3
	VCVTPH2PS (BX), Y12
	VCVTPH2PS (BX)(R13*1), Y15
	VINSERTF32X8 $1, Y15, Z12, Z12
	MOVQ      DX, AX
	VPSUBD    Z13, Z0, Z0
	VCVTDQ2PS Z0, Z0
	VBROADCASTSS (AX), Z24
	VMULPS    Z12, Z24, Z24
	VFMADD231PS Z24, Z0, Z16
	ADDQ      R9, AX
	VPSUBD    Z13, Z1, Z1
	VCVTDQ2PS Z1, Z1
	VBROADCASTSS (AX), Z25
	VMULPS    Z12, Z25, Z25
	VFMADD231PS Z25, Z1, Z17
	ADDQ      R9, AX
	VPSUBD    Z13, Z2, Z2
	VCVTDQ2PS Z2, Z2
	VBROADCASTSS (AX), Z26
	VMULPS    Z12, Z26, Z26
	VFMADD231PS Z26, Z2, Z18
	ADDQ      R9, AX
	VPSUBD    Z13, Z3, Z3
	VCVTDQ2PS Z3, Z3
	VBROADCASTSS (AX), Z27
	VMULPS    Z12, Z27, Z27
	VFMADD231PS Z27, Z3, Z19
	ADDQ      $256, SI
	ADDQ      $16, BX
	ADDQ      $32, DI
	ADDQ      $4, DX
	DECQ      CX
	JNZ       q8g4DPBUSD16block
	MOVQ      24(SP), DI
	MOVQ      ostride+64(FP), R13
	CMPQ      add+72(FP), $0
	JEQ       q8g4DPBUSD16store
	VADDPS    (DI), Z16, Z16
	VMOVUPS   Z16, (DI)
	MOVQ      R13, AX
	VADDPS    (DI)(AX*1), Z17, Z17
	VMOVUPS   Z17, (DI)(AX*1)
	ADDQ      R13, AX
	VADDPS    (DI)(AX*1), Z18, Z18
	VMOVUPS   Z18, (DI)(AX*1)
	ADDQ      R13, AX
	VADDPS    (DI)(AX*1), Z19, Z19
	VMOVUPS   Z19, (DI)(AX*1)
	JMP       q8g4DPBUSD16next

q8g4DPBUSD16store:
	VMOVUPS   Z16, (DI)
	MOVQ      R13, AX
	VMOVUPS   Z17, (DI)(AX*1)
	ADDQ      R13, AX
	VMOVUPS   Z18, (DI)(AX*1)
	ADDQ      R13, AX
	VMOVUPS   Z19, (DI)(AX*1)

q8g4DPBUSD16next:
	MOVQ      gstride+88(FP), AX
	SHLQ      $1, AX
	ADDQ      AX, 8(SP)
	ADDQ      AX, 16(SP)
	ADDQ      $64, 24(SP)
	DECQ      0(SP)
	JNZ       q8g4DPBUSD16pair
	VZEROUPPER
	RET

// func q8g4DPBUSD16S(w *byte, s *byte, xu *byte, xd *float32, nb int, ustride int, dstride int, out *float32, ostride int, add int, ng int, gstride int, pfd int)
//
// q8g8DPBUSD for four tokens over ng pairs of groups (groups 2i and 2i+1, gstride bytes apart), pair i's
// sixteen sums per token to out+64i. Z13 is 128 x the rows' block sums of weights, taken off
// each token's block sum at the end of the block; R13 is gstride, the second group's offset.
// Each block prefetches the two groups' quants pfd bytes ahead and their scales too.
// Frame: 0 the pairs left, 8/16 the pair's w and s, 24 its out.
	PCALIGN $2048
TEXT ·q8g4DPBUSD16S(SB), NOSPLIT, $32-104
	MOVQ      ng+80(FP), AX
	MOVQ      AX, 0(SP)
	MOVQ      w+0(FP), AX
	MOVQ      AX, 8(SP)
	MOVQ      s+8(FP), AX
	MOVQ      AX, 16(SP)
	MOVQ      out+56(FP), AX
	MOVQ      AX, 24(SP)
	MOVQ      dstride+48(FP), R9
	MOVQ      ustride+40(FP), R8
	LEAQ      (R8)(R8*2), R10
	LEAQ      (R8)(R8*4), R11
	LEAQ      (R10)(R8*4), R12
	VMOVDQU32 q8vnniPairs<>(SB), Z28
	MOVL      $0x80808080, AX
	VPBROADCASTD AX, Z14

q8g4DPBUSD16Spair:
	MOVQ      8(SP), SI
	MOVQ      16(SP), BX
	MOVQ      xu+16(FP), DI
	MOVQ      xd+24(FP), DX
	MOVQ      nb+32(FP), CX
	MOVQ      gstride+88(FP), R13
	VPXORD    Z16, Z16, Z16
	VPXORD    Z17, Z17, Z17
	VPXORD    Z18, Z18, Z18
	VPXORD    Z19, Z19, Z19

q8g4DPBUSD16Sblock:
	MOVQ      pfd+96(FP), AX
	ADDQ      SI, AX
	PREFETCHT0 (AX)
	PREFETCHT0 64(AX)
	PREFETCHT0 128(AX)
	PREFETCHT0 192(AX)
	PREFETCHT0 (AX)(R13*1)
	PREFETCHT0 64(AX)(R13*1)
	PREFETCHT0 128(AX)(R13*1)
	PREFETCHT0 192(AX)(R13*1)
	MOVQ      pfd+96(FP), AX
	ADDQ      BX, AX
	PREFETCHT0 (AX)
	PREFETCHT0 (AX)(R13*1)
	VPXORD    Z13, Z13, Z13
	VPXORD    Z0, Z0, Z0
	VPXORD    Z1, Z1, Z1
	VPXORD    Z2, Z2, Z2
	VPXORD    Z3, Z3, Z3
	VMOVDQU   0(SI), Y8
	VINSERTI64X4 $1, 0(SI)(R13*1), Z8, Z8
	VPERMW    Z8, Z28, Z8
	VPDPBUSD  Z8, Z14, Z13
	VPBROADCASTD 0(DI), Z24
	VPDPBUSD  Z8, Z24, Z0
	VPBROADCASTD 0(DI)(R8*1), Z25
	VPDPBUSD  Z8, Z25, Z1
	VPBROADCASTD 0(DI)(R8*2), Z26
	VPDPBUSD  Z8, Z26, Z2
	VPBROADCASTD 0(DI)(R10*1), Z27
	VPDPBUSD  Z8, Z27, Z3
	VMOVDQU   32(SI), Y9
	VINSERTI64X4 $1, 32(SI)(R13*1), Z9, Z9
	VPERMW    Z9, Z28, Z9
	VPDPBUSD  Z9, Z14, Z13
	VPBROADCASTD 4(DI), Z24
	VPDPBUSD  Z9, Z24, Z0
	VPBROADCASTD 4(DI)(R8*1), Z25
	VPDPBUSD  Z9, Z25, Z1
	VPBROADCASTD 4(DI)(R8*2), Z26
	VPDPBUSD  Z9, Z26, Z2
	VPBROADCASTD 4(DI)(R10*1), Z27
	VPDPBUSD  Z9, Z27, Z3
	VMOVDQU   64(SI), Y8
	VINSERTI64X4 $1, 64(SI)(R13*1), Z8, Z8
	VPERMW    Z8, Z28, Z8
	VPDPBUSD  Z8, Z14, Z13
	VPBROADCASTD 8(DI), Z24
	VPDPBUSD  Z8, Z24, Z0
	VPBROADCASTD 8(DI)(R8*1), Z25
	VPDPBUSD  Z8, Z25, Z1
	VPBROADCASTD 8(DI)(R8*2), Z26
	VPDPBUSD  Z8, Z26, Z2
	VPBROADCASTD 8(DI)(R10*1), Z27
	VPDPBUSD  Z8, Z27, Z3
	VMOVDQU   96(SI), Y9
	VINSERTI64X4 $1, 96(SI)(R13*1), Z9, Z9
	VPERMW    Z9, Z28, Z9
	VPDPBUSD  Z9, Z14, Z13
	VPBROADCASTD 12(DI), Z24
	VPDPBUSD  Z9, Z24, Z0
	VPBROADCASTD 12(DI)(R8*1), Z25
	VPDPBUSD  Z9, Z25, Z1
	VPBROADCASTD 12(DI)(R8*2), Z26
	VPDPBUSD  Z9, Z26, Z2
	VPBROADCASTD 12(DI)(R10*1), Z27
	VPDPBUSD  Z9, Z27, Z3
	VMOVDQU   128(SI), Y8
	VINSERTI64X4 $1, 128(SI)(R13*1), Z8, Z8
	VPERMW    Z8, Z28, Z8
	VPDPBUSD  Z8, Z14, Z13
	VPBROADCASTD 16(DI), Z24
	VPDPBUSD  Z8, Z24, Z0
	VPBROADCASTD 16(DI)(R8*1), Z25
	VPDPBUSD  Z8, Z25, Z1
	VPBROADCASTD 16(DI)(R8*2), Z26
	VPDPBUSD  Z8, Z26, Z2
	VPBROADCASTD 16(DI)(R10*1), Z27
	VPDPBUSD  Z8, Z27, Z3
	VMOVDQU   160(SI), Y9
	VINSERTI64X4 $1, 160(SI)(R13*1), Z9, Z9
	VPERMW    Z9, Z28, Z9
	VPDPBUSD  Z9, Z14, Z13
	VPBROADCASTD 20(DI), Z24
	VPDPBUSD  Z9, Z24, Z0
	VPBROADCASTD 20(DI)(R8*1), Z25
	VPDPBUSD  Z9, Z25, Z1
	VPBROADCASTD 20(DI)(R8*2), Z26
	VPDPBUSD  Z9, Z26, Z2
	VPBROADCASTD 20(DI)(R10*1), Z27
	VPDPBUSD  Z9, Z27, Z3
	VMOVDQU   192(SI), Y8
	VINSERTI64X4 $1, 192(SI)(R13*1), Z8, Z8
	VPERMW    Z8, Z28, Z8
	VPDPBUSD  Z8, Z14, Z13
	VPBROADCASTD 24(DI), Z24
	VPDPBUSD  Z8, Z24, Z0
	VPBROADCASTD 24(DI)(R8*1), Z25
	VPDPBUSD  Z8, Z25, Z1
	VPBROADCASTD 24(DI)(R8*2), Z26
	VPDPBUSD  Z8, Z26, Z2
	VPBROADCASTD 24(DI)(R10*1), Z27
	VPDPBUSD  Z8, Z27, Z3
	VMOVDQU   224(SI), Y9
	VINSERTI64X4 $1, 224(SI)(R13*1), Z9, Z9
	VPERMW    Z9, Z28, Z9
	VPDPBUSD  Z9, Z14, Z13
	VPBROADCASTD 28(DI), Z24
	VPDPBUSD  Z9, Z24, Z0
	VPBROADCASTD 28(DI)(R8*1), Z25
	VPDPBUSD  Z9, Z25, Z1
	VPBROADCASTD 28(DI)(R8*2), Z26
	VPDPBUSD  Z9, Z26, Z2
	VPBROADCASTD 28(DI)(R10*1), Z27
	VPDPBUSD  Z9, Z27, Z3
	VCVTPH2PS (BX), Y12
	VCVTPH2PS (BX)(R13*1), Y15
	VINSERTF32X8 $1, Y15, Z12, Z12
	MOVQ      DX, AX
	VPSUBD    Z13, Z0, Z0
	VCVTDQ2PS Z0, Z0
	VBROADCASTSS (AX), Z24
	VMULPS    Z12, Z24, Z24
	VFMADD231PS Z24, Z0, Z16
	ADDQ      R9, AX
	VPSUBD    Z13, Z1, Z1
	VCVTDQ2PS Z1, Z1
	VBROADCASTSS (AX), Z25
	VMULPS    Z12, Z25, Z25
	VFMADD231PS Z25, Z1, Z17
	ADDQ      R9, AX
	VPSUBD    Z13, Z2, Z2
	VCVTDQ2PS Z2, Z2
	VBROADCASTSS (AX), Z26
	VMULPS    Z12, Z26, Z26
	VFMADD231PS Z26, Z2, Z18
	ADDQ      R9, AX
	VPSUBD    Z13, Z3, Z3
	VCVTDQ2PS Z3, Z3
	VBROADCASTSS (AX), Z27
	VMULPS    Z12, Z27, Z27
	VFMADD231PS Z27, Z3, Z19
	ADDQ      $256, SI
	ADDQ      $16, BX
	ADDQ      $32, DI
	ADDQ      $4, DX
	DECQ      CX
	JNZ       q8g4DPBUSD16Sblock
	MOVQ      24(SP), DI
	MOVQ      ostride+64(FP), R13
	CMPQ      add+72(FP), $0
	JEQ       q8g4DPBUSD16Sstore
	VADDPS    (DI), Z16, Z16
	VMOVUPS   Z16, (DI)
	MOVQ      R13, AX
	VADDPS    (DI)(AX*1), Z17, Z17
	VMOVUPS   Z17, (DI)(AX*1)
	ADDQ      R13, AX
	VADDPS    (DI)(AX*1), Z18, Z18
	VMOVUPS   Z18, (DI)(AX*1)
	ADDQ      R13, AX
	VADDPS    (DI)(AX*1), Z19, Z19
	VMOVUPS   Z19, (DI)(AX*1)
	JMP       q8g4DPBUSD16Snext

q8g4DPBUSD16Sstore:
	VMOVUPS   Z16, (DI)
	MOVQ      R13, AX
	VMOVUPS   Z17, (DI)(AX*1)
	ADDQ      R13, AX
	VMOVUPS   Z18, (DI)(AX*1)
	ADDQ      R13, AX
	VMOVUPS   Z19, (DI)(AX*1)

q8g4DPBUSD16Snext:
	MOVQ      gstride+88(FP), AX
	SHLQ      $1, AX
	ADDQ      AX, 8(SP)
	ADDQ      AX, 16(SP)
	ADDQ      $64, 24(SP)
	DECQ      0(SP)
	JNZ       q8g4DPBUSD16Spair
	VZEROUPPER
	RET
	PCALIGN $2048
