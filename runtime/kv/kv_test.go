package kv

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// world is the test model: a fake page memory that the returned Moves are applied to, and for
// every live sequence the values it must read back, in order.
//
// A slot holds a fake KV value that, like real KV, depends on the whole context: writing token t
// after a slot holding v stores kvStep(v, t). A sequence that only ever appended thus holds
// scratchKV(its tokens), while one whose middle Remove cut out holds values computed over the old
// context; so a page shared through the prefix cache can be checked against what a forward pass
// over its prefix would produce.
type world struct {
	t     *testing.T
	pool  *Pool
	mem   [][]uint64 // [page][slot] KV value
	seqs  []*Sequence
	want  [][]uint64 // per sequence, the KV values it reads back
	toks  [][]int32  // per sequence, its tokens (what page hashes are computed over)
	clean []int      // per sequence, how many leading tokens have KV equal to scratchKV(toks)
	// script is, per sequence, the tokens it appends (a prompt from a shared set, so that
	// prefixes repeat across sequences); past its end, or when nil, fresh token ids.
	script [][]int32
	next   int32 // next fresh token id
	moved  int   // slots copied by the last operation
	// pageKV holds, for each hash ever committed, the KV values of its page (from scratchKV of
	// the tokens the hash was computed over): what a cached page must hold.
	pageKV map[uint64][]uint64
}

const kvSeed = 0x5eed

func kvStep(prev uint64, tok int32) uint64 {
	x := prev*0x9e3779b97f4a7c15 + uint64(uint32(tok)) + 1
	x ^= x >> 31
	x *= 0xbf58476d1ce4e5b9
	return x ^ x>>29
}

// scratchKV is the KV a forward pass over toks from position 0 produces.
func scratchKV(toks []int32) []uint64 {
	out := make([]uint64, len(toks))
	prev := uint64(kvSeed)
	for i, t := range toks {
		prev = kvStep(prev, t)
		out[i] = prev
	}
	return out
}

func newWorld(t *testing.T, pages, pageSize int) *world {
	w := &world{t: t, pool: NewPool(pages, pageSize), mem: make([][]uint64, pages), next: 1 << 20,
		pageKV: map[uint64][]uint64{}}
	for i := range w.mem {
		w.mem[i] = make([]uint64, w.pool.PageSize())
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
			w.t.Fatalf("move %d %+v writes page %d (ref %d) not held by its sequence alone", i, m, m.DstPage,
				w.pool.Ref(m.DstPage))
		}
		if w.isHashed(m.DstPage) {
			w.t.Fatalf("move %d %+v writes page %d, which is still in the prefix cache", i, m, m.DstPage)
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

func (w *world) isHashed(page int32) bool {
	w.pool.mu.Lock()
	defer w.pool.mu.Unlock()
	return w.pool.hashed[page]
}

// write fills the slots just appended with their tokens' KV, as the forward pass would: each
// from the KV actually in the previous slot and the next token of the sequence's script.
func (w *world) write(i, from int) {
	s := w.seqs[i]
	for k := from; k < s.Len(); k++ {
		page, off := s.Slot(k)
		if r := w.pool.Ref(page); r != 1 {
			w.t.Fatalf("seq %d writes token %d into page %d with ref %d", i, k, page, r)
		}
		if w.isHashed(page) {
			w.t.Fatalf("seq %d writes token %d into page %d, which is still in the prefix cache", i, k, page)
		}
		tok := w.next
		if k < len(w.script[i]) {
			tok = w.script[i][k]
		} else {
			w.next++
		}
		prev := uint64(kvSeed)
		if k > 0 {
			pp, po := s.Slot(k - 1)
			prev = w.mem[pp][po]
		}
		w.mem[page][off] = kvStep(prev, tok)
		w.want[i] = append(w.want[i], w.mem[page][off])
		w.toks[i] = append(w.toks[i], tok)
	}
}

func (w *world) add() int { return w.addSeq(w.pool.NewSequence(), nil) }

func (w *world) addSeq(s *Sequence, script []int32) int {
	w.seqs = append(w.seqs, s)
	w.want = append(w.want, nil)
	w.toks = append(w.toks, nil)
	w.clean = append(w.clean, math.MaxInt)
	w.script = append(w.script, script)
	return len(w.seqs) - 1
}

// fork adds a fork of sequence i.
func (w *world) fork(i int) int {
	c := w.addSeq(w.seqs[i].Fork(), w.script[i])
	w.want[c] = slices.Clone(w.want[i])
	w.toks[c] = slices.Clone(w.toks[i])
	w.clean[c] = w.clean[i]
	return c
}

func (w *world) drop(i int) {
	w.seqs = slices.Delete(w.seqs, i, i+1)
	w.want = slices.Delete(w.want, i, i+1)
	w.toks = slices.Delete(w.toks, i, i+1)
	w.clean = slices.Delete(w.clean, i, i+1)
	w.script = slices.Delete(w.script, i, i+1)
}

// commit publishes sequence i's pages under hashes, which must be PageHashes of tokens that
// extend w.toks[i], and checks that every page that may be published was.
func (w *world) commit(i int, tokens []int32, hashes []uint64) {
	w.t.Helper()
	P := w.pool.PageSize()
	kvs := scratchKV(tokens)
	for k, h := range hashes {
		w.pageKV[h] = kvs[k*P : (k+1)*P]
	}
	s := w.seqs[i]
	s.CommitPrefix(hashes)
	n := min(len(hashes), s.Len()/P, w.clean[i]/P)
	p := w.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, h := range hashes[:n] {
		// Either this page is now cached under h, or another page already was (then this one
		// stays unhashed). A page hashed under another hash would mean two different prefixes.
		id := s.Pages()[k]
		other, ok := p.cache[h]
		switch {
		case p.hashed[id] && p.hash[id] != h:
			w.t.Fatalf("seq %d page %d (id %d): cached as %x, committed as %x", i, k, id, p.hash[id], h)
		case !ok || !p.hashed[id] && other == id:
			w.t.Fatalf("seq %d page %d (id %d): commit of a clean full page left %x uncached (pruned %v at %d, "+
				"clean %d, len %d)", i, k, id, h, s.pruned, s.prunedAt, w.clean[i], s.n)
		}
	}
}

// attach starts empty sequence i with the cached part of prompt[:limit] and checks the result.
func (w *world) attach(i int, prompt []int32, limit int) int {
	w.t.Helper()
	P := w.pool.PageSize()
	s := w.seqs[i]
	hashes := PageHashes(prompt[:limit], P)
	before := w.snapshot()
	got := s.AttachPrefix(hashes)
	if got%P != 0 || got > len(hashes)*P || got != s.Len() {
		w.t.Fatalf("attach of %d hashes: %d tokens, Len %d", len(hashes), got, s.Len())
	}
	if got == 0 && w.snapshot() != before {
		w.t.Fatal("attach that found nothing changed state")
	}
	w.pool.mu.Lock()
	if k := got / P; k < len(hashes) {
		if _, ok := w.pool.cache[hashes[k]]; ok {
			w.t.Fatalf("attach stopped at page %d, which is cached", k)
		}
	}
	w.pool.mu.Unlock()
	w.script[i] = prompt
	w.toks[i] = slices.Clone(prompt[:got])
	w.want[i] = scratchKV(w.toks[i])
	return got
}

// snapshot captures everything an operation that fails must leave unchanged.
func (w *world) snapshot() string {
	p := w.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	out := fmt.Sprint(p.ref, p.next, p.prev, p.numFree.Load(), p.peak.Load(), p.hash, p.hashed, len(p.cache),
		p.numCached.Load())
	for _, s := range w.seqs {
		out += fmt.Sprint(s.pages, s.n, s.pruned, s.prunedAt)
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
	// The prefix cache: hashed pages and map entries correspond one to one, and every cached
	// page, held or free, holds exactly the KV that a forward pass over its prefix computes.
	cached := 0
	for id := range p.capacity {
		if !p.hashed[id] {
			continue
		}
		cached++
		h := p.hash[id]
		if p.cache[h] != int32(id) {
			w.t.Fatalf("page %d hashed %x, but the cache maps it to page %d", id, h, p.cache[h])
		}
		kvs, ok := w.pageKV[h]
		if !ok {
			w.t.Fatalf("page %d cached under %x, which was never committed", id, h)
		}
		if !slices.Equal(w.mem[id], kvs) {
			w.t.Fatalf("cached page %d holds %v, its prefix needs %v", id, w.mem[id], kvs)
		}
	}
	if cached != len(p.cache) || int64(cached) != p.numCached.Load() {
		w.t.Fatalf("%d hashed pages, %d cache entries, CachedPages %d", cached, len(p.cache), p.numCached.Load())
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
			var sum prefixStats
			for seed := uint64(1); seed <= 3; seed++ {
				st := runRandom(t, tc.pages, tc.pageSize, tc.steps, seed)
				sum.attached += st.attached
				sum.revived += st.revived
				sum.evicted += st.evicted
				sum.forked += st.forked
			}
			t.Logf("%+v", sum)
			if sum.attached == 0 || sum.revived == 0 || sum.evicted == 0 {
				t.Fatalf("prefix cache paths went untested: %+v", sum)
			}
		})
	}
}

// prefixStats counts how often the random test exercised the prefix cache's paths.
type prefixStats struct{ attached, revived, evicted, forked int }

func runRandom(t *testing.T, pages, pageSize, steps int, seed uint64) (stats prefixStats) {
	rng := rand.New(rand.NewPCG(seed, 99))
	w := newWorld(t, pages, pageSize)
	P := pageSize
	// Prompts sharing prefixes of various lengths, over a small vocabulary so that tokens repeat
	// within and across them (fresh token ids start at 1<<20).
	base := make([]int32, 6*P+3)
	for k := range base {
		base[k] = int32(rng.IntN(5))
	}
	prompts := [][]int32{base, slices.Clone(base[:4*P+1]), slices.Clone(base), slices.Clone(base[:2*P+2])}
	prompts[2][P+rng.IntN(P)]++ // differs from base from page 1 on
	prompts[3] = append(prompts[3], 7, 7, 7)
	var outOfPages int
	for step := 0; step < steps; step++ {
		if len(w.seqs) == 0 || rng.IntN(12) == 0 && len(w.seqs) < 10 {
			w.add()
			if rng.IntN(2) == 0 {
				w.script[len(w.seqs)-1] = prompts[rng.IntN(len(prompts))]
			}
		}
		i := rng.IntN(len(w.seqs))
		s := w.seqs[i]
		before := w.snapshot()
		var err error
		cachedFree := w.cachedFree()
		switch op := rng.IntN(13); {
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
			if len(w.seqs) < 10 {
				w.fork(i)
				stats.forked++
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
				w.toks[i] = slices.Delete(w.toks[i], b, e)
				if e < L && b < e {
					w.clean[i] = min(w.clean[i], b)
					// The caller re-applies RoPE to every shifted key: all pages from b's on
					// that the sequence holds alone are written, so none may stay cached.
					for _, id := range s.Pages()[b/P:] {
						if w.pool.Ref(id) == 1 && w.isHashed(id) {
							t.Fatalf("remove [%d,%d) of %d left page %d, which it shifts, in the prefix cache",
								b, e, L, id)
						}
					}
				} else if e == L && b < e && b <= w.clean[i] {
					w.clean[i] = math.MaxInt // a truncation
				}
				bound := L - e
				if shared {
					bound += b % P
				}
				if w.moved > bound {
					t.Fatalf("remove [%d,%d) of %d (P %d, shared %v) copied %d slots, bound %d", b, e, L, P,
						shared, w.moved, bound)
				}
				if (e-b)%P == 0 && b%P == 0 && w.moved != 0 {
					t.Fatalf("page-aligned remove [%d,%d) copied %d slots", b, e, w.moved)
				}
			}
		case op < 9: // Truncate
			n := rng.IntN(s.Len() + 1)
			if err = s.Truncate(n); err == nil {
				w.want[i] = w.want[i][:n]
				w.toks[i] = w.toks[i][:n]
				if n <= w.clean[i] {
					w.clean[i] = math.MaxInt
				}
			}
		case op < 10: // Free, and drop the sequence
			s.Free()
			w.want[i], w.toks[i], w.clean[i] = nil, nil, math.MaxInt
			if rng.IntN(2) == 0 {
				w.drop(i)
			}
		case op < 11: // AttachPrefix, on a new sequence (or, at times, on a live one: a no-op)
			if s.Len() > 0 && rng.IntN(4) == 0 {
				if s.AttachPrefix(PageHashes(w.toks[i], P)) != 0 || w.snapshot() != before {
					t.Fatalf("step %d: attach on a sequence of %d tokens did something", step, s.Len())
				}
				break
			}
			if len(w.seqs) >= 10 { // make room: one request finishes, another arrives
				s.Free()
				w.drop(i)
				w.check()
				before = w.snapshot()
			}
			// Like the engine: attach the cached part of the prompt but never the whole of it
			// (the last token must be computed for its logits), compute the rest, commit.
			prompt := prompts[rng.IntN(len(prompts))]
			j := w.add()
			s = w.seqs[j]
			revived := w.cachedFree()
			got := w.attach(j, prompt, len(prompt)-1-rng.IntN(3))
			stats.attached += got
			for _, id := range s.Pages() {
				if slices.Contains(revived, id) {
					stats.revived++
				}
			}
			w.check()
			before = w.snapshot()
			var moves []Move
			if moves, err = s.Append(len(prompt) - got); err == nil {
				w.apply(s, moves)
				w.write(j, got)
				w.commit(j, w.toks[j], PageHashes(w.toks[j], P))
			}
		default: // CommitPrefix, at times with hashes past the sequence's end or fewer
			tokens := w.toks[i]
			if rng.IntN(4) == 0 {
				tokens = append(slices.Clone(tokens), prompts[0][:2*P]...)
			}
			hashes := PageHashes(tokens, P)
			if rng.IntN(4) == 0 {
				hashes = hashes[:rng.IntN(len(hashes)+1)]
			}
			w.commit(i, tokens, hashes)
		}
		for _, id := range cachedFree {
			if w.pool.Ref(int32(id)) > 0 && !w.isHashed(id) {
				stats.evicted++
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
	w.want = make([][]uint64, len(w.seqs))
	w.check()
	if w.pool.NumFree() != w.pool.Capacity() || w.pool.InUse() != 0 {
		t.Fatalf("after freeing all: %d free of %d, %d in use", w.pool.NumFree(), w.pool.Capacity(), w.pool.InUse())
	}
	if pages <= 8 && outOfPages == 0 {
		t.Fatalf("a pool of %d pages never ran out: the failure path went untested", pages)
	}
	return stats
}

// cachedFree lists the pages in the free list that hold a cached prefix.
func (w *world) cachedFree() []int32 {
	p := w.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	var ids []int32
	for id := range int32(p.capacity) {
		if p.hashed[id] && p.ref[id] == 0 {
			ids = append(ids, id)
		}
	}
	return ids
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
	b := w.fork(a)
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
	c := w.fork(a)
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
