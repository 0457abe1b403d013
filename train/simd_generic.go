//go:build !amd64 || purego

package train

// Without the assembly the portable loops of gemm.go do all the work.

var useAVX2 = false

func gemm6x16(a *float32, lda int, b *float32, ldb int, c *float32, ldc int, k int) {
	panic("train: gemm6x16 without AVX2")
}

func gemm1x16(a *float32, b *float32, ldb int, c *float32, k int) {
	panic("train: gemm1x16 without AVX2")
}

func gemm6x16T(a *float32, lda int, b *float32, ldb int, c *float32, ldc int, k int) {
	panic("train: gemm6x16T without AVX2")
}

func gemm1x16T(a *float32, lda int, b *float32, ldb int, c *float32, k int) {
	panic("train: gemm1x16T without AVX2")
}
