//go:build amd64 && !purego

#include "textflag.h"

// Every function ends with PCALIGN $64 (after its RET, never run), which makes the linker
// start it on a 64-byte boundary: Go aligns functions to 32 bytes, and a kernel's loops on the
// other half of a cache line ran 5 to 10% apart (q8group_gen.py's align_functions, which adds
// the same to the generated files, has the figures). Keep it when adding a function.

// AVX-512 attention kernels, for CPUs where hasVNNI holds (AVX-512 F, BW, VL; the dispatch
// checks it). Like the AVX2 ones, every function ends with VZEROUPPER.

// func pv4F16AVX512(p0, p1, p2, p3 *float32, v *uint16, rows *int32, n int, nc int, o0, o1, o2, o3 *float32)
//
// pv2F16AVX2 for four heads at a time in 512-bit registers: for each 32-column chunk of the
// value rows (rows[j] their offsets in halves), oh[c] += ph[j] * v[rows[j]+c] over j = 0..n-1
// in order, one FMA per head and 16 columns, the weight broadcast from memory. A row's chunk is
// widened once for the four heads (the AVX2 kernel widens it once per two). Each output lane
// sees the same FMAs in the same order as in pv2F16AVX2, so the sums are bit for bit the same.
// The heads' outputs are read and written once per chunk; CX counts rows, R12 is the chunk's
// byte offset in the outputs.
TEXT ·pv4F16AVX512(SB), NOSPLIT, $0-96
	MOVQ         p0+0(FP), SI
	MOVQ         p1+8(FP), DI
	MOVQ         p2+16(FP), R8
	MOVQ         p3+24(FP), R9
	MOVQ         v+32(FP), DX
	MOVQ         rows+40(FP), BX
	MOVQ         n+48(FP), R10
	MOVQ         nc+56(FP), R11
	XORQ         R12, R12

pv4zchunk:
	MOVQ         o0+64(FP), R13
	VMOVUPS      (R13)(R12*1), Z0
	VMOVUPS      64(R13)(R12*1), Z1
	MOVQ         o1+72(FP), R13
	VMOVUPS      (R13)(R12*1), Z2
	VMOVUPS      64(R13)(R12*1), Z3
	MOVQ         o2+80(FP), R13
	VMOVUPS      (R13)(R12*1), Z4
	VMOVUPS      64(R13)(R12*1), Z5
	MOVQ         o3+88(FP), R13
	VMOVUPS      (R13)(R12*1), Z6
	VMOVUPS      64(R13)(R12*1), Z7
	XORQ         CX, CX

pv4zrow:
	MOVLQSX      (BX)(CX*4), AX
	LEAQ         (DX)(AX*2), AX
	VCVTPH2PS    (AX), Z8
	VCVTPH2PS    32(AX), Z9
	VFMADD231PS.BCST (SI)(CX*4), Z8, Z0
	VFMADD231PS.BCST (SI)(CX*4), Z9, Z1
	VFMADD231PS.BCST (DI)(CX*4), Z8, Z2
	VFMADD231PS.BCST (DI)(CX*4), Z9, Z3
	VFMADD231PS.BCST (R8)(CX*4), Z8, Z4
	VFMADD231PS.BCST (R8)(CX*4), Z9, Z5
	VFMADD231PS.BCST (R9)(CX*4), Z8, Z6
	VFMADD231PS.BCST (R9)(CX*4), Z9, Z7
	INCQ         CX
	CMPQ         CX, R10
	JLT          pv4zrow
	MOVQ         o0+64(FP), R13
	VMOVUPS      Z0, (R13)(R12*1)
	VMOVUPS      Z1, 64(R13)(R12*1)
	MOVQ         o1+72(FP), R13
	VMOVUPS      Z2, (R13)(R12*1)
	VMOVUPS      Z3, 64(R13)(R12*1)
	MOVQ         o2+80(FP), R13
	VMOVUPS      Z4, (R13)(R12*1)
	VMOVUPS      Z5, 64(R13)(R12*1)
	MOVQ         o3+88(FP), R13
	VMOVUPS      Z6, (R13)(R12*1)
	VMOVUPS      Z7, 64(R13)(R12*1)
	ADDQ         $64, DX
	ADDQ         $128, R12
	DECQ         R11
	JNZ          pv4zchunk
	VZEROUPPER
	RET
	PCALIGN $64
