package kv

import (
	"fmt"
)

// Move asks the backend to copy N consecutive token slots (every layer, K and V) from
// SrcPage[SrcOff:SrcOff+N] to DstPage[DstOff:DstOff+N].
//
// The moves an operation returns are safe to execute one after the other in list order. They
// also keep two stronger promises, so a backend may batch them into one gather and one scatter:
// within a Move the source and destination ranges never overlap, and no Move reads a slot that an
// earlier Move in the same list writes. No slot is written twice, and only pages held by this
// sequence alone are written.
type Move struct {
	SrcPage int32
	SrcOff  int
	DstPage int32
	DstOff  int
	N       int
}

// Sequence is one sequence's page table: the physical pages holding its tokens in logical order,
// and its length in tokens. Token i lives in slot i%PageSize of page Pages()[i/PageSize]; slots
// stay dense (len(Pages()) == ceil(Len()/PageSize)).
//
// A Sequence is used by one goroutine (the scheduler); different sequences of one pool may be used
// from different goroutines.
type Sequence struct {
	pool  *Pool
	pages []int32
	n     int
	// ownLast records that the last page is known to be held by this sequence alone and to have
	// no prefix hash, so that Append within it needs neither the lock nor a ref-count check. Only
	// Fork, and AttachPrefix in another sequence after CommitPrefix here, can share a page this
	// sequence holds alone, so the flag is cleared by Fork and by CommitPrefix of the last page
	// (and, conservatively, by Remove, by a Truncate that releases pages, and whenever the last
	// page changes to one not just allocated).
	ownLast bool
	// pruned records that Remove has cut tokens out of the middle of the sequence: the KV of the
	// tokens from prunedAt on was computed over a context that is no longer the sequence's token
	// prefix (and their keys may have been re-rotated), so it differs from what a forward pass
	// over the sequence's tokens would give. CommitPrefix must never publish those pages.
	pruned   bool
	prunedAt int
}

// Len is the number of tokens (slots reserved).
func (s *Sequence) Len() int { return s.n }

// Pages is the page table. It aliases the sequence's own slice to keep the per-step path free of
// copies: treat it as read-only, valid until the next call that changes the sequence.
func (s *Sequence) Pages() []int32 { return s.pages }

// Pool is the pool the sequence draws its pages from.
func (s *Sequence) Pool() *Pool { return s.pool }

// Slot is the physical location of token i. It panics when i is outside [0, Len()), like an index
// expression.
func (s *Sequence) Slot(i int) (page int32, offset int) {
	if i < 0 || i >= s.n {
		panic(fmt.Sprintf("kv: slot %d of a sequence of %d tokens", i, s.n))
	}
	return s.pages[i/s.pool.pageSize], i % s.pool.pageSize
}

// Append reserves slots for n more tokens, allocating pages as needed. When the last page is
// partially filled and shared with another sequence (after Fork or Truncate), it is copied to a
// fresh page first, and the returned Move (at most one) tells the backend to copy its filled
// slots; the backend must perform it before writing the new tokens.
//
// With too few free pages, Append returns an error wrapping ErrOutOfPages and changes nothing.
func (s *Sequence) Append(n int) ([]Move, error) {
	if n <= 0 {
		if n < 0 {
			return nil, fmt.Errorf("kv: append %d tokens: negative count", n)
		}
		return nil, nil
	}
	p := s.pool
	off := s.n % p.pageSize
	// Fast path, lock-free: the new tokens fit in the last page, which we hold alone.
	if s.ownLast && off != 0 && s.n+n <= len(s.pages)*p.pageSize {
		s.n += n
		return nil, nil
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	cow := off != 0 && p.ref[s.pages[len(s.pages)-1]] > 1
	need := p.pagesFor(s.n+n) - len(s.pages)
	if cow {
		need++
	}
	if int64(need) > p.numFree.Load() {
		return nil, p.outOfPages(fmt.Sprintf("kv: append %d tokens to a sequence of %d", n, s.n), need)
	}
	var moves []Move
	if off != 0 && !cow {
		// We hold the partial last page alone and are about to write it. It still carries its
		// hash when it was committed full and then truncated into: the hash no longer
		// describes what it will hold. (The lock-free path above never meets a hashed page:
		// CommitPrefix of the last page clears ownLast.)
		p.unhashLocked(s.pages[len(s.pages)-1])
	}
	if cow {
		last := len(s.pages) - 1
		old, fresh := s.pages[last], p.allocLocked()
		moves = []Move{{SrcPage: old, DstPage: fresh, N: off}}
		p.releaseLocked(old)
		s.pages[last] = fresh
	}
	for len(s.pages) < p.pagesFor(s.n+n) {
		s.pages = append(s.pages, p.allocLocked())
	}
	// The last page is now fresh, or it was checked to have ref 1 above.
	s.ownLast = true
	s.n += n
	return moves, nil
}

// Fork returns a new sequence sharing all of s's pages (prefix sharing: ref counts +1). Neither
// sequence writes a shared page afterwards: Append and Remove copy it on write.
func (s *Sequence) Fork() *Sequence {
	p := s.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range s.pages {
		p.retainLocked(id)
	}
	s.ownLast = false
	return &Sequence{pool: p, pages: append([]int32(nil), s.pages...), n: s.n, pruned: s.pruned, prunedAt: s.prunedAt}
}

// Free releases all pages; the sequence is left empty and may be reused. Cached pages stay
// cached in the free list.
func (s *Sequence) Free() {
	p := s.pool
	p.mu.Lock()
	p.releaseTailLocked(s.pages)
	p.mu.Unlock()
	s.pages = s.pages[:0]
	s.n = 0
	s.ownLast = false
	s.pruned, s.prunedAt = false, 0
}

// releaseTailLocked releases pages back to front. A prefix chain is only of use from its start
// (AttachPrefix stops at the first missing page), so the free list, which evicts in release
// order, must lose a chain's later pages before its earlier ones.
func (p *Pool) releaseTailLocked(pages []int32) {
	for i := len(pages) - 1; i >= 0; i-- {
		p.releaseLocked(pages[i])
	}
}

// Truncate keeps the first n tokens and releases the pages past them. It never copies: a shared
// page that is now partially filled is copied on the next Append.
func (s *Sequence) Truncate(n int) error {
	if n < 0 || n > s.n {
		return fmt.Errorf("kv: truncate a sequence of %d tokens to %d", s.n, n)
	}
	s.truncate(n)
	return nil
}

func (s *Sequence) truncate(n int) {
	p := s.pool
	keep := p.pagesFor(n)
	// A cut inside a cached page leaves its hash: the slots past n are not written until Append
	// reserves them again, and Append drops the hash then (or copies the page if it is shared).
	// Until then the page still holds exactly what its hash describes.
	if keep < len(s.pages) {
		p.mu.Lock()
		p.releaseTailLocked(s.pages[keep:])
		p.mu.Unlock()
		s.pages = s.pages[:keep]
		s.ownLast = false
	}
	if s.pruned && n <= s.prunedAt {
		// Everything left predates the pruning, and what is appended next is computed over it.
		s.pruned = false
	}
	s.n = n
}

// prunedLocked is the bookkeeping after Remove cut [begin, end) with end < Len: the KV from begin
// on no longer matches the sequence's tokens (see pruned), and every page from begin's on that
// this sequence holds alone is written, by the moves or by the caller re-applying RoPE to the
// shifted keys, so it loses its hash. Shared pages are not written and keep theirs.
func (s *Sequence) prunedLocked(begin int) {
	p := s.pool
	for _, id := range s.pages[begin/p.pageSize:] {
		if p.ref[id] == 1 {
			p.unhashLocked(id)
		}
	}
	if !s.pruned || begin < s.prunedAt {
		s.pruned, s.prunedAt = true, begin
	}
}

// Remove deletes the tokens [begin, end) from the sequence (pruning a finished subtask). Tokens
// from end on shift down to begin, so logical slots stay dense. It edits the page table and
// returns the slot copies the backend must perform (see Move) before the next forward pass; pages
// left empty go back to the pool. Positions are not this package's concern: the caller re-applies
// RoPE to the shifted keys if its model needs it.
//
// The cost, with P the page size, r = end-begin and T = Len()-end the tokens after the range:
//   - end == Len(): a truncation, no copy.
//   - r a multiple of P and begin page-aligned: whole pages leave the page table, no copy.
//   - r a multiple of P, begin not aligned: the page holding begin and the page holding end must
//     merge; Remove copies whichever side is smaller, min(begin%P, tokens after end in its page)
//     slots, at most P-1 and never more than T.
//   - otherwise every token after the range changes its offset within a page, so exactly T slots
//     are copied; that is the least any dense layout allows.
//
// A page shared with another sequence is never written: where one would be, a fresh page takes
// its place and receives copies of the tokens it needs, adding at most begin%P copies to the
// figures above. Only then can Remove run out of pages; it returns an error wrapping
// ErrOutOfPages and changes nothing.
//
// Prefix cache: unless the range is a suffix, the KV after begin no longer is what a forward pass
// over the remaining tokens would compute, so CommitPrefix ignores the pages from begin's on (until
// a Truncate or Free cuts them off), and those pages that this sequence holds alone lose their
// hashes since they are about to be written. Pages already released keep theirs: their contents
// are untouched.
func (s *Sequence) Remove(begin, end int) ([]Move, error) {
	if begin < 0 || begin > end || end > s.n {
		return nil, fmt.Errorf("kv: remove [%d, %d) from a sequence of %d tokens", begin, end, s.n)
	}
	switch {
	case begin == end:
		return nil, nil
	case end == s.n:
		s.truncate(begin)
		return nil, nil
	case (end-begin)%s.pool.pageSize == 0:
		return s.removeWholePages(begin, end)
	default:
		return s.removeShifting(begin, end)
	}
}

// removeWholePages handles a range whose length is a multiple of the page size, so tokens after
// it keep their offsets within pages and most of the work is page-table editing.
func (s *Sequence) removeWholePages(begin, end int) ([]Move, error) {
	p := s.pool
	P := p.pageSize
	bp, ep, o := begin/P, end/P, begin%P // begin%P == end%P here
	p.mu.Lock()
	defer p.mu.Unlock()
	if o == 0 {
		for _, id := range s.pages[bp:ep] {
			p.releaseLocked(id)
		}
		s.pages = append(s.pages[:bp], s.pages[ep:]...)
		s.n -= end - begin
		s.ownLast = false
		s.prunedLocked(begin)
		return nil, nil
	}

	// Page bp holds the o kept tokens before begin at offsets [0, o); page ep holds the t tokens
	// from end to its end at offsets [o, o+t) (t >= 1 since end < Len). Both halves must end up on
	// one page. Copy the smaller half into the other page, if that page is ours alone; if neither
	// is, both halves go to a fresh page.
	t := min(P, s.n-ep*P) - o
	bPage, ePage := s.pages[bp], s.pages[ep]
	costB, costE := t, o // slots copied when keeping page bp, or page ep
	if p.ref[bPage] > 1 {
		costB = o + t
	}
	if p.ref[ePage] > 1 {
		costE = o + t
	}
	var moves []Move
	switch {
	case costB <= costE && p.ref[bPage] == 1:
		moves = []Move{{SrcPage: ePage, SrcOff: o, DstPage: bPage, DstOff: o, N: t}}
		for _, id := range s.pages[bp+1 : ep+1] {
			p.releaseLocked(id)
		}
		s.pages = append(s.pages[:bp+1], s.pages[ep+1:]...)
	case p.ref[ePage] == 1:
		moves = []Move{{SrcPage: bPage, DstPage: ePage, N: o}}
		for _, id := range s.pages[bp:ep] {
			p.releaseLocked(id)
		}
		s.pages = append(s.pages[:bp], s.pages[ep:]...)
	default:
		if p.numFree.Load() < 1 {
			msg := fmt.Sprintf("kv: remove [%d, %d) from a sequence of %d tokens", begin, end, s.n)
			return nil, p.outOfPages(msg, 1)
		}
		fresh := p.allocLocked()
		moves = []Move{
			{SrcPage: bPage, DstPage: fresh, N: o},
			{SrcPage: ePage, SrcOff: o, DstPage: fresh, DstOff: o, N: t},
		}
		for _, id := range s.pages[bp : ep+1] {
			p.releaseLocked(id)
		}
		s.pages[ep] = fresh
		s.pages = append(s.pages[:bp], s.pages[ep:]...)
	}
	s.n -= end - begin
	s.ownLast = false
	s.prunedLocked(begin)
	return moves, nil
}

// removeShifting handles a range whose length is not a multiple of the page size: every token
// after it lands at a different offset, so all of them are copied, in place where the destination
// page is ours alone.
//
// Destination page k of the new layout (k >= begin/P) is the old page k when that is held
// alone, else a fresh page. Copying in increasing token order is then safe: writing new slot d
// overwrites old token d, which is either removed (d < end) or was already read (d < j for the
// source token j = d+r being copied). Runs within one page are cut to at most r slots so that a
// move's source and destination never overlap.
func (s *Sequence) removeShifting(begin, end int) ([]Move, error) {
	p := s.pool
	P := p.pageSize
	r := end - begin
	newLen := s.n - r
	bp, o := begin/P, begin%P
	newPages := p.pagesFor(newLen)

	p.mu.Lock()
	defer p.mu.Unlock()
	need := 0
	for _, id := range s.pages[bp:newPages] {
		if p.ref[id] > 1 {
			need++
		}
	}
	if int64(need) > p.numFree.Load() {
		return nil, p.outOfPages(fmt.Sprintf("kv: remove [%d, %d) from a sequence of %d tokens", begin, end, s.n), need)
	}

	// dst[k-bp] is the physical page for new logical page k.
	dst := make([]int32, newPages-bp)
	// Runs break at page boundaries on either side (and every r slots within one page), so this
	// bounds the number of moves and saves regrowing the slice on long tails.
	moves := make([]Move, 0, 2*((s.n-end)/min(r, P)+2))
	for k := bp; k < newPages; k++ {
		old := s.pages[k]
		if p.ref[old] == 1 {
			dst[k-bp] = old
			continue
		}
		dst[k-bp] = p.allocLocked()
		if k == bp && o > 0 {
			// The kept tokens before begin share this page; they come along.
			moves = append(moves, Move{SrcPage: old, DstPage: dst[0], N: o})
		}
	}
	for j := end; j < s.n; {
		d := j - r
		src, so := s.pages[j/P], j%P
		dp, do := dst[d/P-bp], d%P
		n := min(P-so, P-do, s.n-j)
		if src == dp {
			n = min(n, r)
		}
		moves = append(moves, Move{SrcPage: src, SrcOff: so, DstPage: dp, DstOff: do, N: n})
		j += n
	}

	// Release the replaced shared pages and the pages past the new end, then install the table.
	for k := bp; k < len(s.pages); k++ {
		if k >= newPages || dst[k-bp] != s.pages[k] {
			p.releaseLocked(s.pages[k])
		}
	}
	s.pages = append(s.pages[:bp], dst...)
	s.n = newLen
	s.ownLast = false
	s.prunedLocked(begin)
	return moves, nil
}
