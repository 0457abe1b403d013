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
// The list is kept in release order (pages are taken from the front and returned to the back), so
// it is already the LRU order that prefix caching needs: a later version can leave a page with
// ref 0 and a prefix hash in the list, revive it with unlinkLocked when a new sequence shares the
// prefix, and evict from the front.
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

	numFree atomic.Int64
	peak    atomic.Int64
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

// NumFree is the number of pages in the free list.
func (p *Pool) NumFree() int { return int(p.numFree.Load()) }

// InUse is the number of pages held by at least one sequence.
func (p *Pool) InUse() int { return p.capacity - int(p.numFree.Load()) }

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

// allocLocked takes the least recently released free page. Callers check NumFree first: running
// dry here is a bookkeeping bug.
func (p *Pool) allocLocked() int32 {
	id := p.next[p.capacity]
	if id == int32(p.capacity) {
		panic("kv: allocLocked on an empty free list")
	}
	p.unlinkLocked(id)
	p.ref[id] = 1
	inUse := int64(p.capacity) - p.numFree.Add(-1)
	if inUse > p.peak.Load() {
		p.peak.Store(inUse)
	}
	return id
}

func (p *Pool) retainLocked(id int32) {
	if p.ref[id] <= 0 {
		panic(fmt.Sprintf("kv: retain of free page %d", id))
	}
	p.ref[id]++
}

// releaseLocked drops one holder of id and returns the page to the free list when none is left.
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
	return fmt.Errorf("%s: need %d free pages, %d free of %d: %w", op, need, p.numFree.Load(), p.capacity, ErrOutOfPages)
}
