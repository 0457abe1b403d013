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

// TestDynTake checks how a decode product's chunks are dealt out: each worker takes its own
// share (pool.start's split of the chunks) from the front, in order, then the others' from
// their back; and every chunk once, whatever the workers' timing.
func TestDynTake(t *testing.T) {
	for _, n := range []int{1, 2, 3} {
		p := newPool(n)
		d := &dynTask{}
		for _, nc := range []int{1, 2, 5, 8, 13} {
			d.reset(p, nil, nc*10-3, 10)
			// Worker 0 alone: its share in order, then the others' from the back.
			lo, hi := p.start(nc, 1, 0), p.start(nc, 1, 1)
			var want []int
			for c := lo; c < hi; c++ {
				want = append(want, c)
			}
			for w := 1; w < n; w++ {
				for c := p.start(nc, 1, w+1) - 1; c >= p.start(nc, 1, w); c-- {
					want = append(want, c)
				}
			}
			for i, c := range want {
				if got := d.take(0); got != c {
					t.Fatalf("n=%d chunks=%d: worker 0's claim %d took chunk %d, want %d", n, nc, i, got, c)
				}
			}
			if got := d.take(0); got != -1 {
				t.Fatalf("n=%d chunks=%d: a claim past the end took chunk %d", n, nc, got)
			}
			// Concurrently: every chunk once.
			d.reset(p, nil, nc*10-3, 10)
			seen := make([]atomic.Int32, nc)
			var wg sync.WaitGroup
			for w := 0; w < n; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for c := d.take(w); c >= 0; c = d.take(w) {
						seen[c].Add(1)
					}
				}()
			}
			wg.Wait()
			for c := range seen {
				if k := seen[c].Load(); k != 1 {
					t.Fatalf("n=%d chunks=%d: chunk %d taken %d times", n, nc, c, k)
				}
			}
		}
		p.close()
	}
}
