// Package kv keeps the host-side bookkeeping of the paged KV cache: which physical pages exist,
// who holds them (ref counts), which are free, and each sequence's page table.
//
// The KV memory itself (per layer arrays of pages) belongs to a backend. This package never
// touches it: where the bookkeeping needs data to move (copy-on-write of a shared page, the
// compaction after Remove), it returns Move operations that the backend performs before the
// next forward pass. The design follows vLLM's block pool: every page is created once at
// start-up, carries an id and a ref count, and free pages sit in an intrusive doubly linked list
// of page ids, so allocation, release and removal from the middle of the list are all O(1).
//
// Prefix caching: a sequence may commit its full pages under chained page hashes (PageHashes), and
// a new sequence whose prompt starts with the same tokens attaches those pages instead of
// computing them (AttachPrefix). A committed page whose last holder lets go stays in the free list
// with its hash, so the free list holds both blank pages and cached ones. The list is kept in
// release order (pages are taken from the front and returned to the back), which is the LRU
// order: allocation takes the least recently released page and evicts its hash, if any, while
// AttachPrefix revives a cached page by unlinking it from the middle of the list. Cached prefixes
// thus survive until their memory is actually needed, and caching costs no capacity.
//
// A page keeps its hash only while its contents are exactly what the hash describes: every path
// that hands out slots of a page held alone for writing (Append into a partial page, which a
// cached page becomes when Truncate cuts into it; Remove's moves and the keys it shifts) drops
// the hash first, and a page shared with another holder is never written (copy on write).
package kv

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
)

// DefaultPageSize is the number of token slots in a page unless told otherwise: vLLM's block size.
const DefaultPageSize = 16

// ErrOutOfPages reports that the pool lacks the free pages an operation needs. Operations that
// return it leave the pool and the sequence exactly as they were, so the scheduler can preempt
// or queue and retry.
var ErrOutOfPages = errors.New("kv: out of pages")

// Pool is the set of physical pages and their ref counts.
//
// Mutations (through Sequence methods) take one mutex per operation; the usage figures are atomics
// written under that mutex and read without it, so metrics readers never wait on the scheduler.
type Pool struct {
	pageSize int
	capacity int

	mu  sync.Mutex
	ref []int32 // holders of each page; 0 means the page is in the free list
	// next and prev link the free list. Index capacity is the sentinel, so the list is circular
	// and unlinking never special-cases the ends.
	next, prev []int32

	// The prefix cache. hashed[id] says page id is committed under the chained hash hash[id],
	// and cache maps each such hash back to its page, so cache and the hashed pages are in
	// one-to-one correspondence. A page keeps its entry whether held or in the free list; only
	// eviction (allocLocked) and writes (unhashLocked) remove it.
	hash   []uint64
	hashed []bool
	cache  map[uint64]int32

	numFree   atomic.Int64
	peak      atomic.Int64
	numCached atomic.Int64
}

// NewPool creates a pool of numPages pages of pageSize token slots each; pageSize 0 means
// DefaultPageSize. It panics on a negative count or size, or more pages than an int32 page id
// can name: those are configuration bugs, not runtime conditions.
func NewPool(numPages, pageSize int) *Pool {
	if pageSize == 0 {
		pageSize = DefaultPageSize
	}
	if pageSize < 0 || numPages < 0 || numPages >= math.MaxInt32 {
		panic(fmt.Sprintf("kv: NewPool(%d pages, page size %d): invalid size", numPages, pageSize))
	}
	p := &Pool{
		pageSize: pageSize,
		capacity: numPages,
		ref:      make([]int32, numPages),
		next:     make([]int32, numPages+1),
		prev:     make([]int32, numPages+1),
		hash:     make([]uint64, numPages),
		hashed:   make([]bool, numPages),
		cache:    make(map[uint64]int32),
	}
	s := int32(numPages)
	p.next[s], p.prev[s] = s, s
	for id := int32(0); id < s; id++ {
		p.pushBackLocked(id)
	}
	p.numFree.Store(int64(numPages))
	return p
}

// PageSize is the number of token slots per page.
func (p *Pool) PageSize() int { return p.pageSize }

// Capacity is the total number of pages.
func (p *Pool) Capacity() int { return p.capacity }

// NumFree is the number of pages an allocation can take: the pages in the free list, blank or
// cached (a cached page with no holder is evicted when taken).
func (p *Pool) NumFree() int { return int(p.numFree.Load()) }

// InUse is the number of pages held by at least one sequence.
func (p *Pool) InUse() int { return p.capacity - int(p.numFree.Load()) }

// CachedPages is the number of pages committed under a prefix hash, held or free. The cached pages
// that are free are counted in NumFree as well: they are reusable memory that also happens to
// hold a prefix.
func (p *Pool) CachedPages() int { return int(p.numCached.Load()) }

// Peak is the largest InUse seen since NewPool or the last ResetPeak.
func (p *Pool) Peak() int { return int(p.peak.Load()) }

// ResetPeak starts a new peak measurement from the current usage (e.g. per request or per
// metrics interval).
func (p *Pool) ResetPeak() {
	p.mu.Lock()
	p.peak.Store(int64(p.capacity) - p.numFree.Load())
	p.mu.Unlock()
}

// Ref is the number of sequences holding page; more than 1 means the page is shared (a forked
// prefix) and will never be written again until it is exclusive.
func (p *Pool) Ref(page int32) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return int(p.ref[page])
}

// NewSequence returns an empty sequence drawing its pages from p.
func (p *Pool) NewSequence() *Sequence { return &Sequence{pool: p} }

// pagesFor is the number of pages that n tokens occupy.
func (p *Pool) pagesFor(n int) int { return (n + p.pageSize - 1) / p.pageSize }

func (p *Pool) pushBackLocked(id int32) {
	s := int32(p.capacity)
	last := p.prev[s]
	p.next[last] = id
	p.prev[id] = last
	p.next[id] = s
	p.prev[s] = id
}

func (p *Pool) unlinkLocked(id int32) {
	n, pr := p.next[id], p.prev[id]
	p.next[pr] = n
	p.prev[n] = pr
	p.next[id], p.prev[id] = -1, -1
}

// allocLocked takes the least recently released free page for writing, evicting the prefix it
// caches, if any. Callers check NumFree first: running dry here is a bookkeeping bug.
func (p *Pool) allocLocked() int32 {
	id := p.next[p.capacity]
	if id == int32(p.capacity) {
		panic("kv: allocLocked on an empty free list")
	}
	p.unhashLocked(id)
	p.takeLocked(id)
	return id
}

// takeLocked moves free page id out of the free list to its first holder.
func (p *Pool) takeLocked(id int32) {
	p.unlinkLocked(id)
	p.ref[id] = 1
	inUse := int64(p.capacity) - p.numFree.Add(-1)
	if inUse > p.peak.Load() {
		p.peak.Store(inUse)
	}
}

// hashLocked records that page id holds the full page whose chained hash is h. It does nothing
// when the page already has a hash or another page has h: one page per prefix is enough, and the
// first one stays put so that sequences attaching it keep sharing one copy.
func (p *Pool) hashLocked(id int32, h uint64) {
	if p.hashed[id] {
		return
	}
	if _, dup := p.cache[h]; dup {
		return
	}
	p.hashed[id], p.hash[id] = true, h
	p.cache[h] = id
	p.numCached.Add(1)
}

// unhashLocked drops page id from the prefix cache, before it is written or reused.
func (p *Pool) unhashLocked(id int32) {
	if !p.hashed[id] {
		return
	}
	delete(p.cache, p.hash[id])
	p.hashed[id], p.hash[id] = false, 0
	p.numCached.Add(-1)
}

func (p *Pool) retainLocked(id int32) {
	if p.ref[id] <= 0 {
		panic(fmt.Sprintf("kv: retain of free page %d", id))
	}
	p.ref[id]++
}

// releaseLocked drops one holder of id and returns the page to the free list when none is left.
// A cached page keeps its hash there: it can be revived until allocation reaches it.
func (p *Pool) releaseLocked(id int32) {
	switch r := p.ref[id]; {
	case r <= 0:
		panic(fmt.Sprintf("kv: double release of page %d", id))
	case r == 1:
		p.ref[id] = 0
		p.pushBackLocked(id)
		p.numFree.Add(1)
	default:
		p.ref[id] = r - 1
	}
}

func (p *Pool) outOfPages(op string, need int) error {
	return fmt.Errorf("%s: need %d free pages, %d free of %d: %w", op, need, p.numFree.Load(), p.capacity,
		ErrOutOfPages)
}
