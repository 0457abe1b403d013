package cpu

import (
	"sync"
)

// task is a unit of parallel work: Run(lo, hi, w) handles items [lo, hi) on worker w (w indexes
// per-worker scratch). Tasks are long-lived structs whose fields are set before each dispatch,
// so dispatching allocates nothing.
type task interface {
	run(lo, hi, w int)
}

type job struct {
	t      task
	lo, hi int
	w      int
}

// pool is a fixed set of worker goroutines, one per thread; the calling goroutine is worker 0
// and does a share of the work itself, so a pool of one runs everything inline.
type pool struct {
	n    int
	jobs []chan job
	wg   sync.WaitGroup
	stop sync.Once
}

func newPool(n int) *pool {
	if n < 1 {
		n = 1
	}
	p := &pool{n: n, jobs: make([]chan job, n)}
	for w := 1; w < n; w++ {
		ch := make(chan job, 1)
		p.jobs[w] = ch
		go func() {
			for j := range ch {
				j.t.run(j.lo, j.hi, j.w)
				p.wg.Done()
			}
		}()
	}
	return p
}

// parallel splits [0, total) into one contiguous range per worker, rounded to multiples of
// grain (so that, e.g., q8_0 rows or cache lines are not split), and waits for all of them.
func (p *pool) parallel(t task, total, grain int) {
	if total <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	units := (total + grain - 1) / grain
	n := p.n
	if units < n {
		n = units
	}
	if n <= 1 {
		t.run(0, total, 0)
		return
	}
	per := units / n
	extra := units % n
	lo := 0
	bounds := [64]int{}
	for w := 0; w < n && w < len(bounds)-1; w++ {
		u := per
		if w < extra {
			u++
		}
		bounds[w] = lo
		lo += u * grain
	}
	bounds[n] = total
	p.wg.Add(n - 1)
	for w := 1; w < n; w++ {
		hi := bounds[w+1]
		if hi > total {
			hi = total
		}
		p.jobs[w] <- job{t: t, lo: bounds[w], hi: hi, w: w}
	}
	hi0 := bounds[1]
	if hi0 > total {
		hi0 = total
	}
	t.run(0, hi0, 0)
	p.wg.Wait()
}

func (p *pool) close() {
	p.stop.Do(func() {
		for w := 1; w < p.n; w++ {
			close(p.jobs[w])
		}
	})
}
