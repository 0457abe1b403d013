package cpu

import (
	"sync"
	"time"
)

// WeightBytesPerToken is the bytes of weights one decode step reads: every layer's matrices
// and the output projection, in their stored types (the token embedding contributes one row,
// which is left out). Divided into the machine's memory bandwidth it bounds decode speed.
func (b *Backend) WeightBytesPerToken() int64 {
	var n int64
	for i := range b.layers {
		l := &b.layers[i]
		for _, m := range []*matrix{l.q, l.k, l.v, l.o, l.gate, l.up, l.down} {
			n += m.bytes()
		}
	}
	return n + b.output.bytes()
}

func (m *matrix) bytes() int64 {
	return int64(m.rows) * int64(m.dtype.RowBytes(m.cols))
}

// MeasureReadBandwidth streams a buffer of size bytes (much larger than the caches) with
// threads goroutines, each reading its own part with the same vector loads the matrix kernels
// use, and returns the best of a few passes in bytes per second: the memory read bandwidth
// that bounds a memory-bound decode step.
func MeasureReadBandwidth(size, threads int) float64 {
	threads = max(threads, 1)
	n := size / 4
	buf := make([]float32, n)
	for i := range buf {
		buf[i] = 1 // touch every page, so the timed passes read memory, not the zero page
	}
	per := n / threads &^ 7
	var sink [64]float32
	best := 0.0
	for pass := 0; pass < 4; pass++ {
		var wg sync.WaitGroup
		start := time.Now()
		for w := 0; w < threads; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				part := buf[w*per : (w+1)*per]
				sink[w%64] += dot(part, part)
			}(w)
		}
		wg.Wait()
		if bw := float64(per*threads*4) / time.Since(start).Seconds(); bw > best {
			best = bw
		}
	}
	return best
}
