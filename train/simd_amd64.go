//go:build amd64 && !purego

package train

import "golang.org/x/sys/cpu"

// The AVX2+FMA micro-kernels of gemm_amd64.s. Pointers and element strides; the Go callers in
// gemm.go check the bounds, the assembly trusts them.

//go:noescape
func gemm6x16(a *float32, lda int, b *float32, ldb int, c *float32, ldc int, k int)

//go:noescape
func gemm1x16(a *float32, b *float32, ldb int, c *float32, k int)

// useAVX2 says the kernels can run (AVX2 and FMA, with the OS saving YMM state, which x/sys/cpu
// checks). Tests turn it off to exercise the portable path.
var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func gemm6x16T(a *float32, lda int, b *float32, ldb int, c *float32, ldc int, k int)

//go:noescape
func gemm1x16T(a *float32, lda int, b *float32, ldb int, c *float32, k int)
