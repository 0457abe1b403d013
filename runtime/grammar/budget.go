package grammar

import (
	"container/heap"
	"context"
	"math"
)

// A value under a grammar can be closed in a known number of bytes: the shortest way from the
// current configuration to the end of the root rule. With that, a decoder that must stop within
// a token budget can keep, near the end, only tokens after which the value still fits, and so
// finish a whole value instead of one cut off mid-string (the engine's Request.FitGrammar). A
// byte is counted as one token: tokenizers whose vocabulary holds every single byte (byte-level
// BPE, byte fallback) can always spell the shortest way one token a byte.

// unreachable is the distance of a node with no way to the end of its rule (none remain after
// finish; kept as a guard against overflow in sums).
const unreachable = math.MaxInt32 / 4

// distances computes, for every node, the fewest bytes from it to the end of its own rule: an
// edge costs 1, an epsilon 0, a call the callee's distance plus its return node's. The call
// term makes this a shortest path over a grammar rather than a graph; Knuth's generalization of
// Dijkstra's algorithm solves it, since a node's cost is never below any of the costs it is
// built from: nodes leave a heap in order of distance, each final when it leaves, and each
// leaving node offers its predecessors a new estimate. O(E log E) whatever the schema, so a
// hostile one costs no more than its size, which compiling already bounds.
func distances(nodes []node) []int32 {
	n := len(nodes)
	dist := make([]int32, n)
	done := make([]bool, n)
	preds := make([][]int32, n)
	for i := range nodes {
		nd := &nodes[i]
		dist[i] = unreachable
		for _, e := range nd.edges {
			preds[e.to] = append(preds[e.to], int32(i))
		}
		for _, t := range nd.eps {
			preds[t] = append(preds[t], int32(i))
		}
		if nd.call >= 0 {
			preds[nd.call] = append(preds[nd.call], int32(i))
			preds[nd.ret] = append(preds[nd.ret], int32(i))
		}
	}
	var h distHeap
	for i := range nodes {
		if nodes[i].final {
			dist[i] = 0
			heap.Push(&h, distItem{0, int32(i)})
		}
	}
	// estimate is node i's cost from the current distances (an upper bound until all its
	// inputs are final).
	estimate := func(i int32) int32 {
		nd := &nodes[i]
		best := int32(unreachable)
		if nd.final {
			best = 0
		}
		for _, e := range nd.edges {
			best = min(best, 1+dist[e.to])
		}
		for _, t := range nd.eps {
			best = min(best, dist[t])
		}
		if nd.call >= 0 {
			best = min(best, dist[nd.call]+dist[nd.ret])
		}
		return min(best, unreachable)
	}
	for h.Len() > 0 {
		it := heap.Pop(&h).(distItem)
		if done[it.node] || it.d > dist[it.node] {
			continue // a stale entry
		}
		done[it.node] = true
		for _, p := range preds[it.node] {
			if done[p] {
				continue
			}
			if d := estimate(p); d < dist[p] {
				dist[p] = d
				heap.Push(&h, distItem{d, p})
			}
		}
	}
	return dist
}

type distItem struct {
	d    int32
	node int32
}

// distHeap is a min-heap of distItem by distance.
type distHeap []distItem

func (h distHeap) Len() int           { return len(h) }
func (h distHeap) Less(i, j int) bool { return h[i].d < h[j].d }
func (h distHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *distHeap) Push(x any)        { *h = append(*h, x.(distItem)) }
func (h *distHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// remaining is the fewest bytes that complete the value from configurations s (0 when one of
// them has accepted; unreachable when s is empty): the distance to the end of the current rule,
// then each frame's return node's distance to the end of its own.
func (g *Grammar) remaining(s []config) int {
	dist := g.dist()
	best := int32(unreachable)
	for _, c := range s {
		if c.node == acceptNode {
			return 0
		}
		d := dist[c.node]
		for f := c.st; f != nil && d < best; f = f.parent {
			d += dist[f.ret]
		}
		best = min(best, d)
	}
	return int(best)
}

// Remaining is the fewest bytes that complete the value from here (0 once it is complete).
func (m *Matcher) Remaining() int {
	if m.done {
		return 0
	}
	return m.g.remaining(m.cur)
}

// AllowedWithin reports whether token tok may come next (allowed), and whether it also leaves
// a value that can still be completed within left-1 more bytes (fits): with left tokens to go,
// the budget's rule. left < 0 is no budget: fits is then allowed, and the grammar's distances
// are never computed. EOS is allowed once the value is complete. One pass over the token's
// bytes answers both, so a caller that must tell a grammar's refusal from the budget's pays
// for one.
func (m *Matcher) AllowedWithin(tok int32, left int) (allowed, fits bool) {
	if tok < 0 || int(tok) >= m.v.size || m.done {
		return false, false
	}
	if m.v.isEOS[tok] {
		allowed = m.CanEnd()
		return allowed, allowed && left != 0
	}
	b := m.v.bytes[tok]
	if len(b) == 0 {
		return false, false
	}
	st := m.advance(m.cur, b)
	if len(st) == 0 {
		return false, false
	}
	return true, left < 0 || m.g.remaining(st) <= left-1
}

// FillMaskWithin is FillMask under a budget of left tokens: it sets the bits of the tokens
// AllowedWithin lets fit. It walks the whole token trie (the free-string shortcut of FillMask
// would allow every plain-text token at once), pruning a subtree once even its longest tokens
// could not bring the value back within the budget; its masks are not cached, since they depend
// on left. The engine calls it only when the budget binds, for the last tokens of an output.
func (m *Matcher) FillMaskWithin(ctx context.Context, mask []uint64, left int) error {
	mask = mask[:m.v.MaskWords()]
	clear(mask)
	if m.done || left < 1 {
		return nil
	}
	m.setEOS(mask)
	return m.walk(ctx, mask, left)
}
