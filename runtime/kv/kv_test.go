package kv

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// world is the test model: a fake page memory that the returned Moves are applied to, and for
// every live sequence the token ids it must read back, in order.
type world struct {
	t     *testing.T
	pool  *Pool
	mem   [][]int // [page][slot] token id
	seqs  []*Sequence
	want  [][]int
	next  int // next token id
	moved int // slots copied by the last operation
}

func newWorld(t *testing.T, pages, pageSize int) *world {
	w := &world{t: t, pool: NewPool(pages, pageSize), mem: make([][]int, pages)}
	for i := range w.mem {
		w.mem[i] = make([]int, w.pool.PageSize())
	}
	return w
}

// apply executes moves in order on the fake memory after checking the promises Move documents.
// seq is the sequence the moves belong to, others must not see any write.
func (w *world) apply(seq *Sequence, moves []Move) {
	w.t.Helper()
	P := w.pool.PageSize()
	written := map[[2]int]bool{}
	w.moved = 0
	for i, m := range moves {
		if m.N <= 0 || m.SrcOff < 0 || m.DstOff < 0 || m.SrcOff+m.N > P || m.DstOff+m.N > P {
			w.t.Fatalf("move %d %+v out of page bounds", i, m)
		}
		if m.SrcPage == m.DstPage && m.SrcOff < m.DstOff+m.N && m.DstOff < m.SrcOff+m.N {
			w.t.Fatalf("move %d %+v overlaps itself", i, m)
		}
		if w.pool.Ref(m.DstPage) != 1 || !slices.Contains(seq.Pages(), m.DstPage) {
			w.t.Fatalf("move %d %+v writes page %d (ref %d) not held by its sequence alone", i, m, m.DstPage, w.pool.Ref(m.DstPage))
		}
		for k := 0; k < m.N; k++ {
			if written[[2]int{int(m.SrcPage), m.SrcOff + k}] {
				w.t.Fatalf("move %d %+v reads a slot an earlier move wrote", i, m)
			}
		}
		for k := 0; k < m.N; k++ {
			key := [2]int{int(m.DstPage), m.DstOff + k}
			if written[key] {
				w.t.Fatalf("move %d %+v writes a slot twice", i, m)
			}
			written[key] = true
		}
		copy(w.mem[m.DstPage][m.DstOff:m.DstOff+m.N], w.mem[m.SrcPage][m.SrcOff:m.SrcOff+m.N])
		w.moved += m.N
	}
}

// write stores fresh token ids in the slots just appended, as the forward pass would.
func (w *world) write(i, from int) {
	s := w.seqs[i]
	for k := from; k < s.Len(); k++ {
		page, off := s.Slot(k)
		if r := w.pool.Ref(page); r != 1 {
			w.t.Fatalf("seq %d writes token %d into page %d with ref %d", i, k, page, r)
		}
		w.mem[page][off] = w.next
		w.want[i] = append(w.want[i], w.next)
		w.next++
	}
}

func (w *world) add() int {
	w.seqs = append(w.seqs, w.pool.NewSequence())
	w.want = append(w.want, nil)
	return len(w.seqs) - 1
}

// snapshot captures everything an operation that fails must leave unchanged.
func (w *world) snapshot() string {
	p := w.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	out := fmt.Sprint(p.ref, p.next, p.prev, p.numFree.Load(), p.peak.Load())
	for _, s := range w.seqs {
		out += fmt.Sprint(s.pages, s.n)
	}
	return out
}

// check verifies every sequence reads its tokens and the pool's books balance.
func (w *world) check() {
	w.t.Helper()
	p := w.pool
	P := p.PageSize()
	holders := make([]int32, p.Capacity())
	for i, s := range w.seqs {
		if s.Len() != len(w.want[i]) {
			w.t.Fatalf("seq %d: Len %d, want %d", i, s.Len(), len(w.want[i]))
		}
		if len(s.Pages()) != (s.Len()+P-1)/P {
			w.t.Fatalf("seq %d: %d pages for %d tokens", i, len(s.Pages()), s.Len())
		}
		for k, tok := range w.want[i] {
			page, off := s.Slot(k)
			if got := w.mem[page][off]; got != tok {
				w.t.Fatalf("seq %d token %d: read %d, want %d (pages %v)", i, k, got, tok, s.Pages())
			}
		}
		seen := map[int32]bool{}
		for _, id := range s.Pages() {
			if seen[id] {
				w.t.Fatalf("seq %d holds page %d twice: %v", i, id, s.Pages())
			}
			seen[id] = true
			holders[id]++
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	free := 0
	inList := make([]bool, p.Capacity())
	sentinel := int32(p.capacity)
	for id := p.next[sentinel]; id != sentinel; id = p.next[id] {
		if inList[id] {
			w.t.Fatalf("free list loops at page %d", id)
		}
		if p.next[p.prev[id]] != id {
			w.t.Fatalf("free list links broken at page %d", id)
		}
		inList[id] = true
		free++
	}
	for id := range holders {
		if p.ref[id] != holders[id] {
			w.t.Fatalf("page %d: ref %d, held by %d sequences", id, p.ref[id], holders[id])
		}
		if inList[id] != (holders[id] == 0) {
			w.t.Fatalf("page %d: in free list %v with %d holders", id, inList[id], holders[id])
		}
	}
	if int64(free) != p.numFree.Load() {
		w.t.Fatalf("free list holds %d pages, NumFree %d", free, p.numFree.Load())
	}
	if inUse := int64(p.capacity - free); p.peak.Load() < inUse {
		w.t.Fatalf("peak %d below in-use %d", p.peak.Load(), inUse)
	}
}

// TestRandomOperations runs random operation sequences on several sequences against the model,
// checking contents, books, the cost bounds of Remove and that failures change nothing.
func TestRandomOperations(t *testing.T) {
	for _, tc := range []struct{ pages, pageSize, steps int }{
		{64, 1, 2000},
		{40, 3, 2000},
		{24, 4, 2000},
		{48, 16, 2000},
		{8, 4, 2000}, // tight: exercises ErrOutOfPages often
	} {
		t.Run(fmt.Sprintf("pages%d_size%d", tc.pages, tc.pageSize), func(t *testing.T) {
			for seed := uint64(1); seed <= 3; seed++ {
				runRandom(t, tc.pages, tc.pageSize, tc.steps, seed)
			}
		})
	}
}

func runRandom(t *testing.T, pages, pageSize, steps int, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 99))
	w := newWorld(t, pages, pageSize)
	P := pageSize
	var outOfPages int
	for step := 0; step < steps; step++ {
		if len(w.seqs) == 0 || rng.IntN(12) == 0 {
			w.add()
		}
		i := rng.IntN(len(w.seqs))
		s := w.seqs[i]
		before := w.snapshot()
		var err error
		switch op := rng.IntN(10); {
		case op < 4: // Append
			n := 1 + rng.IntN(2*P+2)
			if rng.IntN(3) == 0 {
				n = 1
			}
			from := s.Len()
			var moves []Move
			moves, err = s.Append(n)
			if err == nil {
				w.apply(s, moves)
				w.write(i, from)
			}
		case op < 5: // Fork
			if len(w.seqs) < 8 {
				c := s.Fork()
				w.seqs = append(w.seqs, c)
				w.want = append(w.want, slices.Clone(w.want[i]))
			}
		case op < 8: // Remove
			if s.Len() == 0 {
				continue
			}
			// Mostly short ranges (subtasks), so sequences grow long enough to share pages;
			// a third of them a page multiple, the paths that copy little or nothing.
			b := rng.IntN(s.Len() + 1)
			var e int
			switch rng.IntN(6) {
			case 0:
				e = b + rng.IntN(s.Len()-b+1)
			case 1, 2:
				e = min(b+P*(1+rng.IntN(2)), s.Len())
			default:
				e = min(b+1+rng.IntN(2*P), s.Len())
			}
			L := s.Len()
			shared := false
			for _, id := range s.Pages() {
				shared = shared || w.pool.Ref(id) > 1
			}
			var moves []Move
			moves, err = s.Remove(b, e)
			if err == nil {
				w.apply(s, moves)
				w.want[i] = slices.Delete(w.want[i], b, e)
				bound := L - e
				if shared {
					bound += b % P
				}
				if w.moved > bound {
					t.Fatalf("remove [%d,%d) of %d (P %d, shared %v) copied %d slots, bound %d", b, e, L, P, shared, w.moved, bound)
				}
				if (e-b)%P == 0 && b%P == 0 && w.moved != 0 {
					t.Fatalf("page-aligned remove [%d,%d) copied %d slots", b, e, w.moved)
				}
			}
		case op < 9: // Truncate
			n := rng.IntN(s.Len() + 1)
			if err = s.Truncate(n); err == nil {
				w.want[i] = w.want[i][:n]
			}
		default: // Free, and drop the sequence
			s.Free()
			w.want[i] = nil
			if rng.IntN(2) == 0 {
				w.seqs = slices.Delete(w.seqs, i, i+1)
				w.want = slices.Delete(w.want, i, i+1)
			}
		}
		if err != nil {
			if !errors.Is(err, ErrOutOfPages) {
				t.Fatalf("step %d: unexpected error %v", step, err)
			}
			outOfPages++
			if after := w.snapshot(); after != before {
				t.Fatalf("step %d: failed operation (%v) changed state", step, err)
			}
		}
		w.check()
	}
	for _, s := range w.seqs {
		s.Free()
	}
	w.want = make([][]int, len(w.seqs))
	w.check()
	if w.pool.NumFree() != w.pool.Capacity() || w.pool.InUse() != 0 {
		t.Fatalf("after freeing all: %d free of %d, %d in use", w.pool.NumFree(), w.pool.Capacity(), w.pool.InUse())
	}
	if pages <= 8 && outOfPages == 0 {
		t.Fatalf("a pool of %d pages never ran out: the failure path went untested", pages)
	}
}

// TestRemoveCost pins the copies Remove does for each shape of range, on unshared sequences.
func TestRemoveCost(t *testing.T) {
	const P = 4
	for _, tc := range []struct {
		name       string
		len, b, e  int
		copied     int
		pagesAfter int
	}{
		{"empty range", 20, 5, 5, 0, 5},
		{"suffix", 20, 6, 20, 0, 2},
		{"everything", 20, 0, 20, 0, 0},
		{"aligned whole pages", 20, 4, 12, 0, 3},
		{"aligned prefix", 20, 0, 8, 0, 3},
		{"page multiple, few tokens before", 20, 5, 9, 1, 4},       // copy 1 head token
		{"page multiple, few tokens after", 18, 7, 15, 1, 3},       // o=3, t=1: token 15 joins page 1
		{"page multiple, short tail page", 17, 6, 14, 2, 3},        // o=2, t=2
		{"page multiple, tail shorter than head", 16, 3, 11, 1, 2}, // o=3, t=1
		{"shift by one", 20, 4, 5, 15, 5},                          // all 15 after are copied
		{"shift, unaligned", 20, 3, 9, 11, 4},                      // 11 after
		{"shift, in one page", 8, 1, 2, 6, 2},                      // overlapping runs in a page
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, 16, P)
			w.add()
			moves, err := w.seqs[0].Append(tc.len)
			if err != nil || moves != nil {
				t.Fatalf("append: %v %v", moves, err)
			}
			w.write(0, 0)
			moves, err = w.seqs[0].Remove(tc.b, tc.e)
			if err != nil {
				t.Fatal(err)
			}
			w.apply(w.seqs[0], moves)
			w.want[0] = slices.Delete(w.want[0], tc.b, tc.e)
			w.check()
			if w.moved != tc.copied {
				t.Errorf("copied %d slots (%+v), want %d", w.moved, moves, tc.copied)
			}
			if got := len(w.seqs[0].Pages()); got != tc.pagesAfter {
				t.Errorf("%d pages after, want %d", got, tc.pagesAfter)
			}
			if w.pool.InUse() != tc.pagesAfter {
				t.Errorf("pool has %d pages in use, want %d", w.pool.InUse(), tc.pagesAfter)
			}
		})
	}
}

func TestForkCopyOnWrite(t *testing.T) {
	w := newWorld(t, 8, 4)
	a := w.add()
	if _, err := w.seqs[a].Append(6); err != nil {
		t.Fatal(err)
	}
	w.write(a, 0)
	b := len(w.seqs)
	w.seqs = append(w.seqs, w.seqs[a].Fork())
	w.want = append(w.want, slices.Clone(w.want[a]))
	if w.pool.InUse() != 2 {
		t.Fatalf("fork allocated: %d pages in use", w.pool.InUse())
	}
	for _, id := range w.seqs[a].Pages() {
		if w.pool.Ref(id) != 2 {
			t.Fatalf("page %d ref %d after fork, want 2", id, w.pool.Ref(id))
		}
	}
	// Appending to b writes into the shared half-full page 1: it must be copied first.
	moves, err := w.seqs[b].Append(1)
	if err != nil {
		t.Fatal(err)
	}
	if len(moves) != 1 || moves[0].N != 2 || moves[0].SrcPage != w.seqs[a].Pages()[1] {
		t.Fatalf("copy-on-write moves %+v", moves)
	}
	w.apply(w.seqs[b], moves)
	w.write(b, 6)
	// a's last page is now its own again: appending copies nothing.
	moves, err = w.seqs[a].Append(2)
	if err != nil || moves != nil {
		t.Fatalf("append to now-exclusive page: %v %v", moves, err)
	}
	w.write(a, 6)
	w.check()
	if w.pool.Ref(w.seqs[a].Pages()[0]) != 2 {
		t.Fatal("the full first page should still be shared")
	}
	// Page-aligned appends onto a shared full page need no copy.
	c := len(w.seqs)
	w.seqs = append(w.seqs, w.seqs[a].Fork())
	w.want = append(w.want, slices.Clone(w.want[a]))
	moves, err = w.seqs[c].Append(3)
	if err != nil || moves != nil {
		t.Fatalf("append after a full shared page: %v %v", moves, err)
	}
	w.write(c, 8)
	w.check()
}

func TestOutOfPages(t *testing.T) {
	p := NewPool(3, 4)
	s := p.NewSequence()
	if _, err := s.Append(13); !errors.Is(err, ErrOutOfPages) {
		t.Fatalf("append beyond capacity: %v", err)
	}
	if s.Len() != 0 || p.NumFree() != 3 {
		t.Fatalf("failed append changed state: len %d, free %d", s.Len(), p.NumFree())
	}
	if _, err := s.Append(12); err != nil {
		t.Fatal(err)
	}
	if p.NumFree() != 0 || p.Peak() != 3 {
		t.Fatalf("free %d peak %d", p.NumFree(), p.Peak())
	}
	if _, err := s.Append(1); !errors.Is(err, ErrOutOfPages) {
		t.Fatalf("append to a full pool: %v", err)
	}
	s.Free()
	if p.Peak() != 3 || p.InUse() != 0 {
		t.Fatalf("peak %d in use %d", p.Peak(), p.InUse())
	}
	p.ResetPeak()
	if p.Peak() != 0 {
		t.Fatalf("peak after reset %d", p.Peak())
	}
}

func TestBadArguments(t *testing.T) {
	p := NewPool(4, 0)
	if p.PageSize() != DefaultPageSize {
		t.Fatalf("page size %d, want default %d", p.PageSize(), DefaultPageSize)
	}
	s := p.NewSequence()
	if _, err := s.Append(10); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"negative append", func() error { _, err := s.Append(-1); return err }()},
		{"truncate past end", s.Truncate(11)},
		{"truncate negative", s.Truncate(-1)},
		{"remove reversed", func() error { _, err := s.Remove(5, 4); return err }()},
		{"remove past end", func() error { _, err := s.Remove(5, 11); return err }()},
		{"remove negative", func() error { _, err := s.Remove(-1, 2); return err }()},
	} {
		if tc.err == nil || errors.Is(tc.err, ErrOutOfPages) {
			t.Errorf("%s: error %v", tc.name, tc.err)
		}
	}
	if s.Len() != 10 {
		t.Fatalf("bad calls changed the sequence: len %d", s.Len())
	}
}

// TestConcurrentReaders runs the figures' readers beside a scheduler goroutine; with -race it
// checks that they need no further locking.
func TestConcurrentReaders(t *testing.T) {
	p := NewPool(64, 4)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			if p.InUse()+p.NumFree() != p.Capacity() && p.Peak() > p.Capacity() {
				t.Error("inconsistent figures")
			}
			_ = p.Ref(0)
		}
	}()
	seqs := []*Sequence{p.NewSequence(), p.NewSequence()}
	for i := 0; i < 2000; i++ {
		s := seqs[i%2]
		if _, err := s.Append(1 + i%7); err != nil {
			s.Free()
		}
		if i%50 == 0 {
			p.ResetPeak()
		}
	}
	close(done)
	wg.Wait()
}

func BenchmarkAppend(b *testing.B) {
	p := NewPool(4096, DefaultPageSize)
	s := p.NewSequence()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Append(1); err != nil {
			s.Free()
		}
	}
}

func BenchmarkRemove(b *testing.B) {
	for _, bc := range []struct {
		name       string
		begin, end int
	}{
		{"aligned_pages", 1024, 2048},
		{"page_multiple_unaligned", 1030, 2054},
		{"shift", 1030, 1500},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := NewPool(1024, DefaultPageSize)
			s := p.NewSequence()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Append(4096 - s.Len()); err != nil {
					b.Fatal(err)
				}
				if _, err := s.Remove(bc.begin, bc.end); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
