package cpu

import (
	"sync"
	"time"

	"github.com/arborlabs/arbor/runtime/model"
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

// BandwidthProbe measures the memory read bandwidth that bounds a memory-bound decode step: it
// streams a buffer much larger than the caches with threads goroutines, each running the
// one-token product (runVec) over its own part viewed as a float32 matrix of 8 KiB rows, so
// that memory is read exactly as a decode step reads weights. One sequential stream per thread
// would understate it by a tenth to a fifth here (BenchmarkMemRead). The buffer is allocated
// and touched once, so that a caller can measure again and again (arbor bench does, between
// decode steps, since the machine's bandwidth moves from minute to minute).
type BandwidthProbe struct {
	bytes int
	tasks []*matmulTask
}

// NewBandwidthProbe allocates the probe's buffer: size bytes (rounded down to whole rows per
// thread); nil when size is too small for one row per thread.
func NewBandwidthProbe(size, threads int) *BandwidthProbe {
	const cols = 2048 // rows of 8 KiB, as in a 1B model's matrices
	threads = max(threads, 1)
	per := size / 4 / threads / cols * cols
	if per == 0 {
		return nil
	}
	buf := make([]float32, per*threads)
	for i := range buf {
		buf[i] = 1 // touch every page, so the timed passes read memory, not the zero page
	}
	return &BandwidthProbe{bytes: len(buf) * 4, tasks: readTasks(buf, make([]float32, cols), threads)}
}

// Measure reads the buffer a few times and returns the best pass in bytes per second.
func (p *BandwidthProbe) Measure() float64 {
	best := 0.0
	for pass := 0; pass < 4; pass++ {
		start := time.Now()
		runReads(p.tasks)
		if bw := float64(p.bytes) / time.Since(start).Seconds(); bw > best {
			best = bw
		}
	}
	return best
}

// readTasks cuts buf into threads equal parts, each a float32 matrix of rows of len(x), and
// returns a one-token product with x over each: running one reads its part as decode reads a
// weight matrix.
func readTasks(buf, x []float32, threads int) []*matmulTask {
	cols := len(x)
	rows := len(buf) / threads / cols
	tasks := make([]*matmulTask, threads)
	for w := range tasks {
		m := &matrix{rows: rows, cols: cols, dtype: model.F32, f32: buf[w*rows*cols : (w+1)*rows*cols]}
		tasks[w] = &matmulTask{m: m, x: x, n: 1, out: make([]float32, rows), outStride: rows}
	}
	return tasks
}

// runReads runs the tasks' one-token products, each on its own goroutine, and waits for them.
func runReads(tasks []*matmulTask) {
	var wg sync.WaitGroup
	for _, t := range tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.runVec(0, t.m.rows)
		}()
	}
	wg.Wait()
}
