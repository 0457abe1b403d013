package cpu

import (
	"sync"
	"sync/atomic"
	"testing"
)

// rangeTask records which worker ran each item.
type rangeTask struct {
	ran []atomic.Int32 // worker+1 per item; 0: not run
	dup atomic.Bool
}

func (r *rangeTask) run(lo, hi, w int) {
	for i := lo; i < hi; i++ {
		if !r.ran[i].CompareAndSwap(0, int32(w+1)) {
			r.dup.Store(true)
		}
	}
}

// TestPoolStart checks that pool.start gives the ranges parallel runs: worker w runs exactly
// [start(w), start(w+1)), the ranges cover [0, total) once, and each begins on a grain.
func TestPoolStart(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4} {
		p := newPool(n)
		for _, grain := range []int{1, 3, 16} {
			for total := 0; total <= 40; total++ {
				r := &rangeTask{ran: make([]atomic.Int32, total)}
				p.parallel(r, total, grain)
				if r.dup.Load() {
					t.Fatalf("n=%d grain=%d total=%d: an item ran twice", n, grain, total)
				}
				if p.start(total, grain, 0) != 0 || p.start(total, grain, n) != total {
					t.Fatalf("n=%d grain=%d total=%d: ranges start at %d and end at %d", n, grain, total,
						p.start(total, grain, 0), p.start(total, grain, n))
				}
				for w := 0; w < n; w++ {
					lo, hi := p.start(total, grain, w), p.start(total, grain, w+1)
					if lo > hi || (lo < total && lo%grain != 0) {
						t.Fatalf("n=%d grain=%d total=%d: worker %d's range [%d, %d)", n, grain, total, w, lo, hi)
					}
					for i := lo; i < hi; i++ {
						// One worker's range runs inline on the caller (worker 0).
						want := int32(w + 1)
						if total <= grain {
							want = 1
						}
						if got := r.ran[i].Load(); got != want {
							t.Fatalf("n=%d grain=%d total=%d: item %d ran on worker %d, want %d", n, grain, total, i, got-1, want-1)
						}
					}
				}
			}
		}
		p.close()
	}
}

// TestAttnTake checks how attention's items are dealt out: every item once, whatever the
// workers' timing; and each worker starts with the last item of the tokens it placed (its
// pool.start range), before any other worker's.
func TestAttnTake(t *testing.T) {
	for _, n := range []int{1, 2, 3} {
		b := &Backend{pool: newPool(n)}
		b.cfg.NumKVHeads = 2
		a := &attnTask{b: b}
		for _, T := range []int{1, 2, 7, 8} {
			a.reset(T)
			for w := 0; w < n; w++ {
				lo, hi := b.pool.start(T, 1, w)*2, b.pool.start(T, 1, w+1)*2
				it := a.take(w)
				if lo < hi && it != hi-1 {
					t.Fatalf("n=%d T=%d: worker %d's first item %d, want %d (its own last)", n, T, w, it, hi-1)
				}
			}
			// Concurrently from here: the rest, once each.
			a.reset(T)
			seen := make([]atomic.Int32, 2*T)
			var wg sync.WaitGroup
			for w := 0; w < n; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for it := a.take(w); it >= 0; it = a.take(w) {
						seen[it].Add(1)
					}
				}()
			}
			wg.Wait()
			for i := range seen {
				if c := seen[i].Load(); c != 1 {
					t.Fatalf("n=%d T=%d: item %d taken %d times", n, T, i, c)
				}
			}
		}
		b.pool.close()
	}
}

// TestDynTake checks how a decode product's rows are dealt out: each worker takes its own
// share (pool.start's split) from the front, in order, in pieces of at most a chunk that start
// and end on multiples of the unit (or at the end); then half of another's remainder from its
// back; and every row once, whatever the workers' timing.
func TestDynTake(t *testing.T) {
	const unit, chunk = 4, 12
	for _, n := range []int{1, 2, 3} {
		p := newPool(n)
		d := &dynTask{}
		for _, total := range []int{1, 3, 4, 9, 40, 53, 130} {
			// Worker 0 alone: its share from its front, then the rest.
			d.reset(p, nil, total, chunk, unit)
			next := 0
			ownEnd := p.start(total, unit, 1)
			seen := make([]int, total)
			for {
				lo, hi := d.take(0)
				if lo >= hi {
					break
				}
				if hi-lo > chunk+unit || (lo%unit != 0) || (hi%unit != 0 && hi != total) {
					t.Fatalf("n=%d total=%d: piece [%d, %d) (chunk %d, unit %d)", n, total, lo, hi, chunk, unit)
				}
				if next < ownEnd {
					if lo != next {
						t.Fatalf("n=%d total=%d: worker 0 took [%d, %d) before the rest of its share from %d", n, total, lo, hi, next)
					}
					next = hi
				}
				for r := lo; r < hi; r++ {
					seen[r]++
				}
			}
			for r, c := range seen {
				if c != 1 {
					t.Fatalf("n=%d total=%d: worker 0 alone took row %d %d times", n, total, r, c)
				}
			}
			// Concurrently: every row once.
			d.reset(p, nil, total, chunk, unit)
			rows := make([]atomic.Int32, total)
			var wg sync.WaitGroup
			for w := 0; w < n; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for lo, hi := d.take(w); lo < hi; lo, hi = d.take(w) {
						for r := lo; r < hi; r++ {
							rows[r].Add(1)
						}
					}
				}()
			}
			wg.Wait()
			for r := range rows {
				if c := rows[r].Load(); c != 1 {
					t.Fatalf("n=%d total=%d: row %d taken %d times", n, total, r, c)
				}
			}
		}
		p.close()
	}
}
