//go:build amd64 && !purego

package retrieve

import "golang.org/x/sys/cpu"

// The AVX2 int8 dot product in dot_amd64.s. Plain Go runs about 250 ns for 512 components
// on the 2-core EPYC this was written on, which makes an exact scan of 50,000 chunks miss
// the 5 ms goal; the vector kernel is several times faster. Build with -tags purego for
// the portable path.

//go:noescape
func dotInt8AVX2(a, b *int8, n int) int32

// hasAVX2 says dotInt8AVX2 can run: AVX2 in the CPU and the OS saving YMM registers
// (golang.org/x/sys/cpu checks both). Tests may turn it off to exercise the portable kernel.
var hasAVX2 = cpu.X86.HasAVX2

func dotInt8(a, b []int8) int32 {
	n := min(len(a), len(b))
	if !hasAVX2 || n < 32 {
		return dotInt8Go(a[:n], b[:n])
	}
	m := n &^ 31
	s := dotInt8AVX2(&a[0], &b[0], m)
	if m < n {
		s += dotInt8Go(a[m:n], b[m:n])
	}
	return s
}
