package cpu

import (
	"testing"
	"time"

	"github.com/arborlabs/arbor/runtime/model"
)

func minTime(reps, inner int, f func()) time.Duration {
	best := time.Hour
	for r := 0; r < reps; r++ {
		s := time.Now()
		for i := 0; i < inner; i++ {
			f()
		}
		if d := time.Since(s); d < best {
			best = d
		}
	}
	return best / time.Duration(inner)
}

func TestAB(t *testing.T) {
	const rows, cols = 4864, 896
	m := benchMatrix(t, model.Q8_0, rows, cols)
	big := make([]byte, 0, 30*len(m.q8))
	for i := 0; i < 30; i++ {
		big = append(big, m.q8...)
	}
	x := make([]float32, cols)
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	var qa q8Acts
	qa.quantize(x, 1, cols)
	nrows := len(big) / 952
	for i := 0; i < 3; i++ {
		a := minTime(5, 1, func() {
			for r := 0; r < nrows; r++ {
				dotQ8AVX2(&big[r*952], &qa.q[0], &qa.d[0], 28)
			}
		})
		b := minTime(5, 1, func() {
			for r := 0; r < nrows; r++ {
				dotQ8AVX2b(&big[r*952], &qa.q[0], &qa.d[0], 28)
			}
		})
		t.Logf("prefetch %.2f GB/s, none %.2f GB/s", float64(len(big))/a.Seconds()/1e9, float64(len(big))/b.Seconds()/1e9)
	}
}
