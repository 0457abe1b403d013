package grammar

import (
	"errors"
	"fmt"
)

// ErrNoValue is returned (wrapped) for a schema that no finite JSON value satisfies, such as
// {"$ref":"#"} or two definitions that only refer to each other: every way through it recurses
// without end.
var ErrNoValue = errors.New(
	"no finite JSON value satisfies the schema (every alternative refers back to itself without end)")

// finish proves that the automaton accepts some finite output, removes every edge, epsilon and
// call that cannot lead to a complete one, and marks tail calls. After it, every configuration
// a matcher can reach has a way to finish (within the stack bound), so a mask is never empty
// while the value is incomplete. Each of roots (the start of every alternative's value) must be
// productive too: a choice of tools must not silently lose one whose schema has no value.
func (b *builder) finish(start int32, roots []int32) error {
	n := len(b.nodes)
	// A node is productive when some finite input leads from it to the end of its rule: it is
	// final, or an edge or epsilon leads to a productive node, or it calls a productive rule
	// whose return node is productive. Computed backwards from the final nodes with a work
	// list, in time linear in the graph.
	type rev struct{ from, call int32 } // call >= 0: from is a call node waiting on this one
	var preds [][]rev = make([][]rev, n)
	for i := range b.nodes {
		nd := &b.nodes[i]
		for _, e := range nd.edges {
			preds[e.to] = append(preds[e.to], rev{int32(i), -1})
		}
		for _, t := range nd.eps {
			preds[t] = append(preds[t], rev{int32(i), -1})
		}
		if nd.call >= 0 {
			preds[nd.call] = append(preds[nd.call], rev{int32(i), 1})
			preds[nd.ret] = append(preds[nd.ret], rev{int32(i), 1})
		}
	}
	prod := make([]bool, n)
	var work []int32
	for i := range b.nodes {
		if b.nodes[i].final {
			prod[i] = true
			work = append(work, int32(i))
		}
	}
	for len(work) > 0 {
		m := work[len(work)-1]
		work = work[:len(work)-1]
		for _, p := range preds[m] {
			if prod[p.from] {
				continue
			}
			if p.call >= 0 {
				c := &b.nodes[p.from]
				if !prod[c.call] || !prod[c.ret] {
					continue
				}
			}
			prod[p.from] = true
			work = append(work, p.from)
		}
	}
	for i, r := range roots {
		if !prod[r] {
			if len(roots) == 1 {
				return ErrNoValue
			}
			return fmt.Errorf("alternative %d: %w", i, ErrNoValue)
		}
	}
	if !prod[start] {
		return ErrNoValue
	}
	for i := range b.nodes {
		nd := &b.nodes[i]
		if !prod[i] {
			*nd = node{call: -1, ret: -1} // unreachable from any kept node
			continue
		}
		edges := nd.edges[:0]
		for _, e := range nd.edges {
			if prod[e.to] {
				edges = append(edges, e)
			}
		}
		nd.edges = edges
		eps := nd.eps[:0]
		for _, t := range nd.eps {
			if prod[t] {
				eps = append(eps, t)
			}
		}
		nd.eps = eps
		if nd.call >= 0 && (!prod[nd.call] || !prod[nd.ret]) {
			nd.call, nd.ret = -1, -1
		}
	}
	// Tail calls: the return node only passes, consuming nothing, to the end of the rule.
	const (
		unknown = iota
		visiting
		yes
		no
	)
	pass := make([]uint8, n)
	var passes func(int32) bool
	passes = func(i int32) bool {
		switch pass[i] {
		case yes:
			return true
		case no, visiting:
			return false
		}
		pass[i] = visiting
		nd := &b.nodes[i]
		ok := len(nd.edges) == 0 && nd.call < 0 && (nd.final || len(nd.eps) > 0)
		for _, t := range nd.eps {
			if !ok {
				break
			}
			ok = passes(t)
		}
		pass[i] = no
		if ok {
			pass[i] = yes
		}
		return ok
	}
	for i := range b.nodes {
		if nd := &b.nodes[i]; nd.call >= 0 && passes(nd.ret) {
			nd.tail = true
		}
	}
	return nil
}
