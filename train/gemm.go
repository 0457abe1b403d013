package train

import (
	"fmt"
	"runtime"
	"sync"
)

// gemm computes C[m,n] += A[m,k] · B[k,n] for row-major matrices with leading dimensions
// (row strides, in elements) lda, ldb and ldc. It runs on the calling goroutine.
//
// With AVX2 the work goes to the 6×16 micro-kernel over blocks of k (so the block of B the
// kernel streams stays in L2), one-row kernels for the last m%6 rows, and portable loops for
// the last n%16 columns.
func gemm(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m <= 0 || n <= 0 || k <= 0 {
		return
	}
	if len(a) < (m-1)*lda+k || len(b) < (k-1)*ldb+n || len(c) < (m-1)*ldc+n || lda < k || ldb < n || ldc < n {
		panic(fmt.Sprintf("train: gemm %dx%dx%d: operands too short (a %d/%d, b %d/%d, c %d/%d)",
			m, n, k, len(a), lda, len(b), ldb, len(c), ldc))
	}
	if !useAVX2 {
		gemmGo(m, n, k, a, lda, b, ldb, c, ldc)
		return
	}
	n16 := n &^ 15
	if n16 > 0 {
		kc := 256
		if n > 512 {
			kc = 128
		}
		for k0 := 0; k0 < k; k0 += kc {
			kk := min(kc, k-k0)
			i := 0
			for ; i+6 <= m; i += 6 {
				ap := &a[i*lda+k0]
				for j := 0; j < n16; j += 16 {
					gemm6x16(ap, lda, &b[k0*ldb+j], ldb, &c[i*ldc+j], ldc, kk)
				}
			}
			for ; i < m; i++ {
				ap := &a[i*lda+k0]
				for j := 0; j < n16; j += 16 {
					gemm1x16(ap, &b[k0*ldb+j], ldb, &c[i*ldc+j], kk)
				}
			}
		}
	}
	if n16 < n {
		gemmGo(m, n-n16, k, a, lda, b[n16:], ldb, c[n16:], ldc)
	}
}

// gemmGo is gemm's portable form: rows of C accumulate scaled rows of B.
func gemmGo(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		crow := c[i*ldc : i*ldc+n]
		arow := a[i*lda : i*lda+k]
		for p, av := range arow {
			if av == 0 {
				continue
			}
			brow := b[p*ldb : p*ldb+n]
			for j := range crow {
				crow[j] += av * brow[j]
			}
		}
	}
}

// gemmT computes C[m,n] += A^T · B where A is stored [k,m] (A^T[i][p] = a[p*lda+i]): the
// product of a transposed gradient with activations that weight gradients need, without
// transposing anything.
func gemmT(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m <= 0 || n <= 0 || k <= 0 {
		return
	}
	if len(a) < (k-1)*lda+m || len(b) < (k-1)*ldb+n || len(c) < (m-1)*ldc+n || lda < m || ldb < n || ldc < n {
		panic(fmt.Sprintf("train: gemmT %dx%dx%d: operands too short (a %d/%d, b %d/%d, c %d/%d)",
			m, n, k, len(a), lda, len(b), ldb, len(c), ldc))
	}
	if !useAVX2 {
		gemmTGo(m, n, k, a, lda, b, ldb, c, ldc)
		return
	}
	n16 := n &^ 15
	if n16 > 0 {
		kc := 256
		if n > 512 {
			kc = 128
		}
		for k0 := 0; k0 < k; k0 += kc {
			kk := min(kc, k-k0)
			i := 0
			for ; i+6 <= m; i += 6 {
				ap := &a[k0*lda+i]
				for j := 0; j < n16; j += 16 {
					gemm6x16T(ap, lda, &b[k0*ldb+j], ldb, &c[i*ldc+j], ldc, kk)
				}
			}
			for ; i < m; i++ {
				ap := &a[k0*lda+i]
				for j := 0; j < n16; j += 16 {
					gemm1x16T(ap, lda, &b[k0*ldb+j], ldb, &c[i*ldc+j], kk)
				}
			}
		}
	}
	if n16 < n {
		gemmTGo(m, n-n16, k, a, lda, b[n16:], ldb, c[n16:], ldc)
	}
}

// gemmTGo is gemmT's portable form.
func gemmTGo(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	for p := 0; p < k; p++ {
		brow := b[p*ldb : p*ldb+n]
		for i, av := range a[p*lda : p*lda+m] {
			if av == 0 {
				continue
			}
			crow := c[i*ldc : i*ldc+n]
			for j := range crow {
				crow[j] += av * brow[j]
			}
		}
	}
}

// pool runs index ranges on a fixed number of goroutines.
type pool struct {
	workers int
}

func newPool(workers int) *pool {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	return &pool{workers: workers}
}

// run splits [0,n) into one contiguous chunk per worker, each a multiple of grain long (but the
// last), and calls fn(worker, lo, hi) on each, the first on the calling goroutine. It returns
// when all are done.
func (p *pool) run(n, grain int, fn func(w, lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	chunks := (n + grain - 1) / grain
	nw := min(p.workers, chunks)
	if nw <= 1 {
		fn(0, 0, n)
		return
	}
	per := (chunks + nw - 1) / nw * grain
	var wg sync.WaitGroup
	for w := 1; w < nw; w++ {
		lo, hi := w*per, min(n, (w+1)*per)
		if lo >= hi {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(w, lo, hi)
		}()
	}
	fn(0, 0, min(n, per))
	wg.Wait()
}

// gemm is the package gemm with the rows of C split across the workers.
func (p *pool) gemm(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m <= 0 || n <= 0 || k <= 0 {
		return
	}
	p.run(m, 6, func(_, lo, hi int) {
		gemm(hi-lo, n, k, a[lo*lda:], lda, b, ldb, c[lo*ldc:], ldc)
	})
}

// gemmT is the package gemmT with the rows of C split across the workers.
func (p *pool) gemmT(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m <= 0 || n <= 0 || k <= 0 {
		return
	}
	p.run(m, 6, func(_, lo, hi int) {
		gemmT(hi-lo, n, k, a[lo:], lda, b, ldb, c[lo*ldc:], ldc)
	})
}

// transpose writes dst[j*ldd+i] = src[i*lds+j] for i < rows, j < cols, in 32×32 tiles.
func transpose(dst []float32, ldd int, src []float32, lds int, rows, cols int) {
	const tile = 32
	for i0 := 0; i0 < rows; i0 += tile {
		i1 := min(rows, i0+tile)
		for j0 := 0; j0 < cols; j0 += tile {
			j1 := min(cols, j0+tile)
			for i := i0; i < i1; i++ {
				s := src[i*lds : i*lds+j1]
				for j := j0; j < j1; j++ {
					dst[j*ldd+i] = s[j]
				}
			}
		}
	}
}
