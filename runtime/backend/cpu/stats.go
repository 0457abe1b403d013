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
// threads goroutines, each reading its own part the way the one-token product reads a weight
// matrix (readRows), and returns the best of a few passes in bytes per second: the memory
// read bandwidth that bounds a memory-bound decode step. One sequential stream per thread
// would understate it by a tenth to a fifth here (BenchmarkMemRead).
func MeasureReadBandwidth(size, threads int) float64 {
	const cols = 2048 // rows of 8 KiB, as in a 1B model's matrices
	threads = max(threads, 1)
	per := size / 4 / threads / cols * cols
	if per == 0 {
		return 0
	}
	buf := make([]float32, per*threads)
	for i := range buf {
		buf[i] = 1 // touch every page, so the timed passes read memory, not the zero page
	}
	x := make([]float32, cols)
	var sink [64]float32
	best := 0.0
	for pass := 0; pass < 4; pass++ {
		var wg sync.WaitGroup
		start := time.Now()
		for w := 0; w < threads; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				sink[w%64] += readRows(buf[w*per:(w+1)*per], x, vecStream)
			}(w)
		}
		wg.Wait()
		if bw := float64(per*threads*4) / time.Since(start).Seconds(); bw > best {
			best = bw
		}
	}
	return best
}

// readRows reads m as rows of len(x) in runVec's pattern: blocks of up to 4*stream rows, the
// four quarters of each side by side; rows left over one at a time. It returns the sum of
// the rows' products with x, so that the reads are not optimized away (and can be checked).
func readRows(m, x []float32, stream int) float32 {
	c := len(x)
	rows := len(m) / c
	var o [4]float32
	var s float32
	r := 0
	for {
		q := min((rows-r)/4, stream)
		if q == 0 {
			break
		}
		for end := r + q; r < end; r++ {
			dot4F32(m[r*c:], q*c, x, &o)
			s += (o[0] + o[1]) + (o[2] + o[3])
		}
		r += 3 * q
	}
	for ; r < rows; r++ {
		s += dot(m[r*c:(r+1)*c], x)
	}
	return s
}
