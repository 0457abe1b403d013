package kv

import (
	"math/bits"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestPageHashes(t *testing.T) {
	const P = 4
	rng := rand.New(rand.NewPCG(1, 2))
	toks := make([]int32, 5*P+3)
	for i := range toks {
		toks[i] = int32(rng.IntN(50000))
	}
	h := PageHashes(toks, P)
	if len(h) != 5 {
		t.Fatalf("%d hashes for %d tokens of page size %d, want 5 (the partial page has none)", len(h), len(toks), P)
	}
	if got := PageHashes(toks[:5*P], P); !slices.Equal(got, h) {
		t.Fatal("the trailing partial page changed the hashes")
	}
	if got := PageHashes(slices.Clone(toks), P); !slices.Equal(got, h) {
		t.Fatal("the same tokens hash differently")
	}
	if len(PageHashes(toks[:P-1], P)) != 0 || len(PageHashes(nil, P)) != 0 {
		t.Fatal("hashes for less than a page")
	}
	if slices.Contains(h[1:], h[0]) || len(slices.Compact(slices.Sorted(slices.Values(h)))) != len(h) {
		t.Fatalf("repeated hashes in one chain: %x", h)
	}
	// A change in page 2 keeps the hashes of pages 0 and 1 and changes every later one; a
	// change in page 0 changes all of them, since each hash covers the whole prefix.
	for _, page := range []int{0, 2, 4} {
		mod := slices.Clone(toks)
		mod[page*P+1]++
		hm := PageHashes(mod, P)
		for k := range h {
			if (hm[k] == h[k]) != (k < page) {
				t.Fatalf("token changed in page %d: hash %d equal %v", page, k, hm[k] == h[k])
			}
		}
	}
	// Swapping two whole pages changes the hash of both positions: it is a chain, not a set.
	sw := slices.Clone(toks)
	copy(sw[:P], toks[P:2*P])
	copy(sw[P:2*P], toks[:P])
	if hs := PageHashes(sw, P); hs[0] == h[0] || hs[1] == h[1] || hs[2] == h[2] {
		t.Fatal("swapping pages 0 and 1 kept a hash")
	}
	// Other page sizes give other chains, even over the same tokens.
	if h8 := PageHashes(toks, 2*P); slices.Contains(h, h8[0]) || slices.Contains(h, h8[1]) {
		t.Fatal("a page-size-8 hash equals a page-size-4 one")
	}
	// Odd page sizes hash their last token too.
	odd := PageHashes(toks[:3], 3)
	mod := slices.Clone(toks[:3])
	mod[2]++
	if PageHashes(mod, 3)[0] == odd[0] {
		t.Fatal("the last token of an odd-sized page is not hashed")
	}
	// Incremental hashing gives the same chain.
	var inc []uint64
	for n := 0; n <= len(toks); n += 3 {
		inc = AppendPageHashes(inc, toks[:n], P)
	}
	inc = AppendPageHashes(inc, toks, P)
	if !slices.Equal(inc, h) {
		t.Fatalf("incremental hashes %x, want %x", inc, h)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("page size 0 did not panic")
		}
	}()
	PageHashes(toks, 0)
}

// TestPageHashMixing checks what a well-mixed hash must do on the inputs a prefix cache sees:
// pages that differ in one token, or one bit of one token. Each flipped input bit should flip
// each output bit with probability 1/2, and near-identical pages should never collide.
func TestPageHashMixing(t *testing.T) {
	const P = 16
	rng := rand.New(rand.NewPCG(3, 4))
	page := make([]int32, P)
	var flips [64]int
	trials := 0
	seen := map[uint64]bool{}
	for range 400 {
		for i := range page {
			page[i] = int32(rng.IntN(1 << 17))
		}
		h := PageHashes(page, P)[0]
		seen[h] = true
		for tok := range P {
			for bit := range 17 {
				page[tok] ^= 1 << bit
				d := h ^ PageHashes(page, P)[0]
				page[tok] ^= 1 << bit
				for b := range 64 {
					flips[b] += int(d >> b & 1)
				}
				trials++
			}
			// Neighbouring token ids, the commonest near-miss between prompts.
			page[tok]++
			seen[PageHashes(page, P)[0]] = true
			page[tok]--
		}
	}
	for b, f := range flips {
		if r := float64(f) / float64(trials); r < 0.47 || r > 0.53 {
			t.Errorf("output bit %d flips in %.3f of single-bit input changes, want about 0.5", b, r)
		}
	}
	if want := 400 * (P + 1); len(seen) != want {
		t.Fatalf("%d distinct hashes among %d distinct pages", len(seen), want)
	}
	// The chain input mixes as well: one bit of the parent hash flips about half the output.
	total := 0
	for bit := range 64 {
		total += bits.OnesCount64(pageHash(0, page) ^ pageHash(1<<bit, page))
	}
	if avg := float64(total) / 64; avg < 28 || avg > 36 {
		t.Fatalf("a one-bit parent change flips %.1f output bits on average, want about 32", avg)
	}
}

// prefill starts a new sequence of w on prompt the way the engine does: attach what is cached,
// compute the rest, commit the full pages. It returns the sequence index and the tokens attached.
func (w *world) prefill(prompt []int32) (int, int) {
	w.t.Helper()
	i := w.add()
	got := w.attach(i, prompt, len(prompt)-1)
	moves, err := w.seqs[i].Append(len(prompt) - got)
	if err != nil {
		w.t.Fatal(err)
	}
	w.apply(w.seqs[i], moves)
	w.write(i, got)
	w.commit(i, w.toks[i], PageHashes(w.toks[i], w.pool.PageSize()))
	w.check()
	return i, got
}

func seqTokens(n int, first int32) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = first + int32(i)
	}
	return out
}

func TestAttachPrefix(t *testing.T) {
	const P = 4
	w := newWorld(t, 16, P)
	prompt := seqTokens(3*P+2, 100) // 3 full pages and a partial one
	a, got := w.prefill(prompt)
	if got != 0 {
		t.Fatalf("attach on an empty cache gave %d tokens", got)
	}
	if w.pool.CachedPages() != 3 {
		t.Fatalf("%d cached pages after committing 3 full pages", w.pool.CachedPages())
	}
	// The same prompt: 3 pages shared. A prompt of exactly 3 pages: only 2, since its last
	// token must be computed. A prompt that differs in page 1: page 0 only.
	b, got := w.prefill(prompt)
	if got != 3*P {
		t.Fatalf("same prompt attached %d tokens, want %d", got, 3*P)
	}
	for k := range 3 {
		if id := w.seqs[b].Pages()[k]; id != w.seqs[a].Pages()[k] || w.pool.Ref(id) != 2 {
			t.Fatalf("page %d: %d (ref %d), want a's page %d shared", k, id, w.pool.Ref(id), w.seqs[a].Pages()[k])
		}
	}
	if w.seqs[b].Pages()[3] == w.seqs[a].Pages()[3] {
		t.Fatal("the partial page was shared")
	}
	if _, got = w.prefill(prompt[:3*P]); got != 2*P {
		t.Fatalf("3-page prompt attached %d tokens, want %d", got, 2*P)
	}
	mod := slices.Clone(prompt)
	mod[P+1] = 7
	if _, got = w.prefill(mod); got != P {
		t.Fatalf("prompt differing in page 1 attached %d tokens, want %d", got, P)
	}
	// Not on a sequence that already holds tokens, and nothing when nothing matches.
	before := w.snapshot()
	if n := w.seqs[a].AttachPrefix(PageHashes(prompt, P)); n != 0 || w.snapshot() != before {
		t.Fatalf("attach on a non-empty sequence: %d tokens", n)
	}
	empty := w.add()
	before = w.snapshot()
	if n := w.seqs[empty].AttachPrefix(PageHashes(seqTokens(3*P, 900), P)); n != 0 || w.snapshot() != before {
		t.Fatalf("attach with no match: %d tokens", n)
	}
	if n := w.seqs[empty].AttachPrefix(nil); n != 0 || w.snapshot() != before {
		t.Fatalf("attach of no hashes: %d tokens", n)
	}
	// Appending after an attached prefix starts a fresh page and copies nothing.
	c, _ := w.prefill(prompt[:2*P+1])
	moves, err := w.seqs[c].Append(P)
	if err != nil || moves != nil {
		t.Fatalf("append after attach: %v %v", moves, err)
	}
	w.write(c, 2*P+1)
	w.check()
}

func TestCommitPrefix(t *testing.T) {
	const P = 4
	w := newWorld(t, 16, P)
	a := w.add()
	w.script[a] = seqTokens(6*P, 0)
	if _, err := w.seqs[a].Append(2*P + 1); err != nil {
		t.Fatal(err)
	}
	w.write(a, 0)
	// Hashes past the sequence's end (6 for 2 full pages and a partial one) are ignored.
	w.commit(a, w.script[a], PageHashes(w.script[a], P))
	w.check()
	if w.pool.CachedPages() != 2 {
		t.Fatalf("%d cached pages, want the 2 full ones", w.pool.CachedPages())
	}
	// Committing again changes nothing; a second sequence with the same tokens computed on its
	// own pages (no attach) keeps its pages uncached, since a's are the cached ones.
	before := w.snapshot()
	w.commit(a, w.toks[a], PageHashes(w.toks[a], P))
	if w.snapshot() != before {
		t.Fatal("a second commit changed state")
	}
	b := w.add()
	w.script[b] = w.script[a]
	if _, err := w.seqs[b].Append(2 * P); err != nil {
		t.Fatal(err)
	}
	w.write(b, 0)
	w.commit(b, w.toks[b], PageHashes(w.toks[b], P))
	w.check()
	if w.pool.CachedPages() != 2 || w.isHashed(w.seqs[b].Pages()[0]) {
		t.Fatalf("duplicate prefix: %d cached pages, b's page 0 hashed %v", w.pool.CachedPages(),
			w.isHashed(w.seqs[b].Pages()[0]))
	}
	// The pages stay cached when a lets go, and b's duplicates go back uncached.
	w.seqs[a].Free()
	w.seqs[b].Free()
	w.want[a], w.want[b] = nil, nil
	w.check()
	if w.pool.CachedPages() != 2 || w.pool.NumFree() != w.pool.Capacity() {
		t.Fatalf("after free: %d cached, %d free of %d", w.pool.CachedPages(), w.pool.NumFree(), w.pool.Capacity())
	}
}

// TestPrefixEviction checks that cached pages survive until memory runs out, go in LRU order
// (the tail of a prefix before its head), and that a page in use is never evicted.
func TestPrefixEviction(t *testing.T) {
	const P = 4
	w := newWorld(t, 8, P)
	pa, pb := seqTokens(2*P+1, 100), seqTokens(2*P+1, 200)
	a, _ := w.prefill(pa)
	b, _ := w.prefill(pb)
	w.seqs[a].Free() // released first: a's pages are the older ones
	w.seqs[b].Free()
	w.want[a], w.want[b] = nil, nil
	w.check()
	if w.pool.CachedPages() != 4 || w.pool.NumFree() != 8 {
		t.Fatalf("%d cached, %d free", w.pool.CachedPages(), w.pool.NumFree())
	}
	hash := func(toks []int32) []uint64 { return PageHashes(toks[:2*P], P) }
	cached := func(hashes []uint64) (n int) {
		w.pool.mu.Lock()
		defer w.pool.mu.Unlock()
		for _, h := range hashes {
			if _, ok := w.pool.cache[h]; !ok {
				break
			}
			n++
		}
		return n
	}
	// Free list, front first: the 2 blank pages, then a's pages as Free released them (tail
	// first: the partial page, never cached, then page 1, then page 0), then b's likewise.
	filler := w.add()
	for step, want := range []struct{ a, b int }{{2, 2}, {2, 2}, {2, 2}, {1, 2}, {0, 2}, {0, 2}, {0, 1}} {
		moves, err := w.seqs[filler].Append(P)
		if err != nil || moves != nil {
			t.Fatal(moves, err)
		}
		w.write(filler, step*P)
		w.check()
		if ga, gb := cached(hash(pa)), cached(hash(pb)); ga != want.a || gb != want.b {
			t.Fatalf("after allocating %d pages: a has %d cached pages, b %d; want %+v", step+1, ga, gb, want)
		}
	}
	// b's page 0, the last free page, is revived: it is in use now, and with the pool full an
	// allocation fails rather than evict it.
	c := w.add()
	if got := w.attach(c, pb, len(pb)-1); got != P {
		t.Fatalf("attached %d tokens, want %d", got, P)
	}
	w.check()
	if w.pool.NumFree() != 0 || w.pool.InUse() != 8 || w.pool.CachedPages() != 1 {
		t.Fatalf("after reviving: %d free, %d in use, %d cached", w.pool.NumFree(), w.pool.InUse(),
			w.pool.CachedPages())
	}
	before := w.snapshot()
	if _, err := w.seqs[filler].Append(1); err == nil || w.snapshot() != before {
		t.Fatalf("append to a full pool whose only cached page is in use: %v", err)
	}
}

// TestCachedPageNeverWritten drives the ways a cached page could be written in place: cut into
// by Truncate and appended to, alone or shared through AttachPrefix, and a Remove that shifts it.
func TestCachedPageNeverWritten(t *testing.T) {
	const P = 4
	w := newWorld(t, 16, P)
	prompt := seqTokens(2*P, 100)
	a := w.add()
	w.script[a] = prompt
	if _, err := w.seqs[a].Append(2 * P); err != nil { // the lock-free Append path holds page 1
		t.Fatal(err)
	}
	w.write(a, 0)
	w.commit(a, w.toks[a], PageHashes(w.toks[a], P))
	// Another sequence attaches page 0 (page 1 is kept out: the last token must be computed),
	// then a cuts into its own cached last page and into the shared page 0, and appends.
	b := w.add()
	w.attach(b, prompt, len(prompt)-1)
	w.check()
	for _, cut := range []int{2*P - 1, P - 2} {
		if err := w.seqs[a].Truncate(cut); err != nil {
			t.Fatal(err)
		}
		w.want[a], w.toks[a] = w.want[a][:cut], w.toks[a][:cut]
		w.script[a] = seqTokens(2*P, 500) // different tokens from here on
		w.check()
		moves, err := w.seqs[a].Append(1)
		if err != nil {
			t.Fatal(err)
		}
		w.apply(w.seqs[a], moves)
		w.write(a, cut)
		w.check() // the cached pages still hold their prefixes
	}
	if got := w.attach(w.add(), prompt, len(prompt)); got != P {
		t.Fatalf("after a's rewrite, attached %d tokens, want page 0 only", got)
	}
	// Remove shifts the keys after it: a page held alone from there on loses its hash.
	c := w.add()
	w.script[c] = seqTokens(4*P, 300)
	if _, err := w.seqs[c].Append(4 * P); err != nil {
		t.Fatal(err)
	}
	w.write(c, 0)
	w.commit(c, w.toks[c], PageHashes(w.toks[c], P))
	pages := slices.Clone(w.seqs[c].Pages())
	if moves, err := w.seqs[c].Remove(P, 2*P); err != nil || moves != nil {
		t.Fatal(moves, err)
	}
	w.want[c] = slices.Delete(w.want[c], P, 2*P)
	w.toks[c] = slices.Delete(w.toks[c], P, 2*P)
	w.check()
	for k, id := range pages {
		if w.isHashed(id) != (k < 2) { // page 1 was released untouched; 2 and 3 shift
			t.Fatalf("after remove, page %d (id %d) hashed %v", k, id, w.isHashed(id))
		}
	}
}

// TestCommitAfterRemove checks that pages whose KV was computed over a context Remove changed
// are never published, in the sequence or its forks, until a Truncate cuts them off.
func TestCommitAfterRemove(t *testing.T) {
	const P = 4
	w := newWorld(t, 32, P)
	a := w.add()
	w.script[a] = seqTokens(8*P, 100)
	if _, err := w.seqs[a].Append(6 * P); err != nil {
		t.Fatal(err)
	}
	w.write(a, 0)
	moves, err := w.seqs[a].Remove(2*P+1, 2*P+3)
	if err != nil {
		t.Fatal(err)
	}
	w.apply(w.seqs[a], moves)
	w.want[a] = slices.Delete(w.want[a], 2*P+1, 2*P+3)
	w.toks[a] = slices.Delete(w.toks[a], 2*P+1, 2*P+3)
	w.clean[a] = 2*P + 1
	w.commit(a, w.toks[a], PageHashes(w.toks[a], P))
	f := w.fork(a)
	w.commit(f, w.toks[f], PageHashes(w.toks[f], P))
	w.check()
	if w.pool.CachedPages() != 2 {
		t.Fatalf("%d cached pages, want the 2 before the removal", w.pool.CachedPages())
	}
	// Cut back to the removal point, recompute: the sequence is exact again.
	if err := w.seqs[a].Truncate(2 * P); err != nil {
		t.Fatal(err)
	}
	w.want[a], w.toks[a], w.clean[a] = w.want[a][:2*P], w.toks[a][:2*P], 1<<62
	if _, err := w.seqs[a].Append(3 * P); err != nil {
		t.Fatal(err)
	}
	w.write(a, 2*P)
	w.commit(a, w.toks[a], PageHashes(w.toks[a], P))
	w.check()
	if w.pool.CachedPages() != 5 {
		t.Fatalf("%d cached pages after recomputing, want 5", w.pool.CachedPages())
	}
}

func BenchmarkPageHashes(b *testing.B) {
	toks := seqTokens(4096, 1000)
	b.SetBytes(4 * int64(len(toks)))
	b.ReportAllocs()
	var h []uint64
	for b.Loop() {
		h = AppendPageHashes(h[:0], toks, DefaultPageSize)
	}
}

func BenchmarkAttachPrefix(b *testing.B) {
	const pages = 64
	p := NewPool(2*pages, DefaultPageSize)
	s := p.NewSequence()
	toks := seqTokens(pages*DefaultPageSize, 1000)
	hashes := PageHashes(toks, DefaultPageSize)
	if _, err := s.Append(len(toks)); err != nil {
		b.Fatal(err)
	}
	s.CommitPrefix(hashes)
	s.Free()
	b.ReportAllocs()
	for b.Loop() {
		if s.AttachPrefix(hashes) != len(toks) {
			b.Fatal("prefix not attached")
		}
		s.Free() // the pages go back to the free list, still cached
	}
}
