package grammar

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// Patterns and formats are compiled to deterministic automata. Their nondeterministic form can
// keep dozens of configurations alive at once ("(.*.*.*){19}" keeps about sixty), and a mask
// costs the trie walk times that; determinized, every position is one configuration. The
// subset construction is bounded in states and in work, and a pattern past either bound is
// refused with a 400 that names the limit.

const (
	// maxRegexNodes bounds a pattern's nondeterministic automaton, estimated from its parse
	// before anything is built (repetitions multiply: "(a{1000}){1000}" is refused here).
	maxRegexNodes = 1 << 16
	// maxDFAStates bounds the deterministic automaton of one pattern.
	maxDFAStates = 4096
	// maxDFAWork bounds the subset construction: byte transitions examined.
	maxDFAWork = 1 << 24
)

// regexSize estimates the nodes b.regex builds for r, saturating just past limit.
func regexSize(r *re, limit int) int {
	switch r.kind {
	case reChars:
		n := 2 // the target and a node for escapes
		for c := 0; c < 0x20; c++ {
			if r.set.has(byte(c)) {
				n += 6 // \u00XX
			}
		}
		if r.set.nonASCII {
			n += 8 + 32*len(r.set.except) // each exception splits the code point ranges
		}
		return n + 4*len(r.set.runes)
	case reSeq, reAlt:
		n := 2
		for _, s := range r.subs {
			n += regexSize(s, limit)
			if n > limit {
				return limit + 1
			}
		}
		return n
	case reRepeat:
		copies := r.max
		if copies < 0 {
			copies = r.min + 1
		}
		sub := regexSize(r.subs[0], limit)
		if copies > 0 && sub > (limit+1)/copies {
			return limit + 1
		}
		return sub*copies + 3
	}
	return 1
}

// regexDFA emits a deterministic automaton for r from node from, the string's body, and
// returns the node after the string's closing quote. The quote is an edge of the accepting
// states themselves (a raw '"' is never a character inside a JSON string, so it cannot clash
// with the pattern's edges), which keeps every position a single configuration.
// kw and path name the schema keyword in errors.
func (b *builder) regexDFA(from int32, r *re, kw, path string) (int32, error) {
	if regexSize(r, maxRegexNodes) > maxRegexNodes {
		return -1, &UnsupportedError{Keyword: kw, Path: path,
			Reason: fmt.Sprintf("its repetitions expand past %d automaton states", maxRegexNodes)}
	}
	nfa := newBuilder()
	s0 := nfa.newNode()
	acc := nfa.regex(s0, r)
	g := nfa.nodes

	// closure: the set of NFA nodes reachable from set by epsilons, sorted.
	var stack []int32
	mark := make([]uint32, len(g))
	var gen uint32
	closure := func(set []int32) []int32 {
		gen++
		out := make([]int32, 0, len(set))
		stack = append(stack[:0], set...)
		for _, n := range set {
			mark[n] = gen
		}
		for len(stack) > 0 {
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			out = append(out, n)
			for _, t := range g[n].eps {
				if mark[t] != gen {
					mark[t] = gen
					stack = append(stack, t)
				}
			}
		}
		slices.Sort(out)
		return out
	}
	keyOf := func(set []int32) string {
		k := make([]byte, 4*len(set))
		for i, n := range set {
			binary.LittleEndian.PutUint32(k[4*i:], uint32(n))
		}
		return string(k)
	}

	end := b.newNode()
	ids := map[string]int32{} // state key -> builder node
	var sets [][]int32        // the NFA set of each state, by discovery order
	var nodes []int32         // the builder node of each state
	state := func(set []int32) (int, error) {
		k := keyOf(set)
		if n, ok := ids[k]; ok {
			return int(n), nil
		}
		if len(sets) >= maxDFAStates {
			return -1, &UnsupportedError{Keyword: kw, Path: path,
				Reason: fmt.Sprintf("its deterministic automaton passes %d states", maxDFAStates)}
		}
		ids[k] = int32(len(sets))
		sets = append(sets, set)
		nd := b.newNode()
		nodes = append(nodes, nd)
		if _, ok := slices.BinarySearch(set, acc); ok {
			b.edge(nd, '"', '"', end)
		}
		return len(sets) - 1, nil
	}
	first, err := state(closure([]int32{s0}))
	if err != nil {
		return -1, err
	}
	b.eps(from, nodes[first])

	var targets [256][]int32
	work := 0
	for i := 0; i < len(sets); i++ {
		for c := range targets {
			targets[c] = targets[c][:0]
		}
		for _, n := range sets[i] {
			for _, e := range g[n].edges {
				work += int(e.hi) - int(e.lo) + 1
				for c := int(e.lo); c <= int(e.hi); c++ {
					targets[c] = append(targets[c], e.to)
				}
			}
		}
		if work > maxDFAWork {
			return -1, &UnsupportedError{Keyword: kw, Path: path,
				Reason: "it is too ambiguous to compile to a deterministic automaton within the work limit"}
		}
		if err := b.checkSize(path); err != nil {
			return -1, err
		}
		// Bytes with the same target set go to the same state; runs of them become one edge.
		prev, prevTo := -1, int32(-1)
		var prevKey string
		for c := 0; c <= 256; c++ {
			var k string
			var to int32 = -1
			if c < 256 && len(targets[c]) > 0 {
				k = keyOf(uniqSorted(targets[c]))
				if c > 0 && prev >= 0 && k == prevKey {
					continue // extends the current run
				}
				next, err := state(closure(uniqSorted(targets[c])))
				if err != nil {
					return -1, err
				}
				to = nodes[next]
			}
			if prev >= 0 {
				b.edge(nodes[i], byte(prev), byte(c-1), prevTo)
			}
			prev, prevTo, prevKey = -1, -1, ""
			if to >= 0 {
				prev, prevTo, prevKey = c, to, k
			}
		}
	}
	return end, nil
}

// uniqSorted sorts s in place and drops repeats.
func uniqSorted(s []int32) []int32 {
	slices.Sort(s)
	return slices.Compact(s)
}
