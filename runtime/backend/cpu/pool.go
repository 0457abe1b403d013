package cpu

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// task is a unit of parallel work: Run(lo, hi, w) handles items [lo, hi) on worker w (w indexes
// per-worker scratch). Tasks are long-lived structs whose fields are set before each dispatch,
// so dispatching allocates nothing.
type task interface {
	run(lo, hi, w int)
}

// pool is a fixed set of worker goroutines, one per thread; the calling goroutine is worker 0
// and does a share of the work itself, so a pool of one runs everything inline.
//
// A decode step dispatches about seven products per layer (170 for a 24-layer model) plus
// attention, each only tens to hundreds of microseconds long, so waking a parked goroutine
// for each (a futex round trip, several microseconds, more on a busy machine) would cost a
// visible share of the step. Workers therefore spin on a generation counter for a short while
// after each job and only park when no new job came: during a forward pass they stay awake,
// between steps they sleep.
type pool struct {
	n      int
	gen    atomic.Uint64 // bumped once per dispatch, after t and bounds are set
	undone atomic.Int32  // workers (other than the caller) still running the current job
	t      task
	bounds [65]int // worker w runs [bounds[w], bounds[w+1])

	mu       sync.Mutex
	wake     *sync.Cond
	sleepers atomic.Int32 // workers parked (or about to park) on wake
	closed   atomic.Bool
}

// spinFor is how long an idle worker polls for the next job before parking. It spans the gaps
// between the products of one forward pass (norms, RoPE, quantization: microseconds) but not
// the time between steps.
const spinFor = 200 * time.Microsecond

func newPool(n int) *pool {
	n = min(max(n, 1), 64)
	p := &pool{n: n}
	p.wake = sync.NewCond(&p.mu)
	for w := 1; w < n; w++ {
		go p.worker(w)
	}
	return p
}

func (p *pool) worker(w int) {
	seen := uint64(0)
	for {
		g := p.await(seen)
		if g == seen {
			return // closed
		}
		seen = g
		if lo, hi := p.bounds[w], p.bounds[w+1]; lo < hi {
			p.t.run(lo, hi, w)
		}
		p.undone.Add(-1)
	}
}

// await returns the generation after seen, spinning first and then parking; it returns seen
// when the pool is closed.
func (p *pool) await(seen uint64) uint64 {
	var deadline time.Time
	for i := 0; ; i++ {
		if g := p.gen.Load(); g != seen {
			return g
		}
		if p.closed.Load() {
			return seen
		}
		if i&255 != 255 {
			continue
		}
		// Every few hundred polls: check the clock, and let other goroutines run.
		now := time.Now()
		if deadline.IsZero() {
			deadline = now.Add(spinFor)
		} else if now.After(deadline) {
			break
		}
		runtime.Gosched()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sleepers.Add(1)
	defer p.sleepers.Add(-1)
	for {
		if g := p.gen.Load(); g != seen {
			return g
		}
		if p.closed.Load() {
			return seen
		}
		p.wake.Wait()
	}
}

// parallel splits [0, total) into one contiguous range per worker, rounded to multiples of
// grain (so that, e.g., q8_0 rows or cache lines are not split), and waits for all of them.
func (p *pool) parallel(t task, total, grain int) {
	if total <= 0 {
		return
	}
	if p.n <= 1 || total <= max(grain, 1) {
		t.run(0, total, 0)
		return
	}
	for w := 0; w <= p.n; w++ {
		p.bounds[w] = p.start(total, grain, w)
	}
	p.t = t
	p.undone.Store(int32(p.n - 1))
	// The atomic add publishes t, bounds and undone to workers that observe the new generation.
	p.gen.Add(1)
	if p.sleepers.Load() > 0 {
		p.mu.Lock()
		p.wake.Broadcast()
		p.mu.Unlock()
	}
	t.run(p.bounds[0], p.bounds[1], 0)
	for i := 0; p.undone.Load() != 0; i++ {
		if i&255 == 255 {
			runtime.Gosched()
		}
	}
	p.t = nil
}

// start is where worker w's range begins when parallel splits [0, total) by grain (start(w+1)
// is where it ends): tasks that follow one another over the same items can give each worker
// the items it had before, whose data is in its own cache.
func (p *pool) start(total, grain, w int) int {
	grain = max(grain, 1)
	units := (total + grain - 1) / grain
	n := max(min(p.n, units), 1)
	if w >= p.n {
		return total
	}
	per, extra := units/n, units%n
	return min((per*min(w, n)+min(w, extra))*grain, total)
}

func (p *pool) close() {
	if p.closed.Swap(true) {
		return
	}
	p.mu.Lock()
	p.wake.Broadcast()
	p.mu.Unlock()
}
