// Package grammar compiles JSON Schemas into byte-level pushdown automata and computes, for a
// tokenizer's vocabulary, which tokens may come next (constrained decoding).
//
// The automaton is a recursive transition network: nodes with byte-range edges, epsilon edges,
// call nodes (push a return node, enter a rule) and final nodes (pop). Rules exist for $ref
// targets (so recursive schemas are a stack of frames, never unrolled) and for free JSON values;
// everything else is inlined. A matcher's state is the set of live (node, stack) configurations
// after the epsilon closure; it is almost always a single configuration.
//
// Output is canonical compact JSON: no whitespace anywhere, object members in schema order.
// See CompileSchema for the keywords supported and what is enforced.
//
// Schemas come from clients, so what a grammar may cost is bounded before it is spent: the
// automaton has at most MaxNodes nodes (building stops at the budget); patterns are
// determinized within a state and work budget, and enums share a trie of their bytes, so both
// stay one configuration however ambiguous or long; a schema that admits no finite value is
// refused (ErrNoValue) and branches that cannot finish are pruned, so a mask is never empty
// mid-value; one mask's computation is bounded by MaskWorkBudget and its context; computed
// masks live in one process-wide cache of MaskCacheBytes.
package grammar

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// edge consumes one byte in [lo, hi] and moves to node to.
type edge struct {
	lo, hi byte
	to     int32
}

type node struct {
	edges []edge
	eps   []int32
	call  int32 // rule start to enter (-1: none); the rule returns to ret
	ret   int32
	final bool // the end of a rule: pop the stack (or accept at the bottom)
	// strLoop: inside a free string, where every plain-text token leaves the state as it is
	// (the node loops on any character and leaves on '"').
	strLoop bool
	// strLeft > 0: a position of a bounded string with room for strLeft more characters, where
	// every plain-text token of at most strLeft characters is allowed.
	strLeft int32
	// tail: a call node whose return node leads, consuming nothing, only to the end of the
	// calling rule. The call then needs no frame of its own (a tail call), which also keeps a
	// rule that refers to itself before consuming anything ({"anyOf":[..., {"$ref":"#"}]}) from
	// stacking frames without end.
	tail bool
}

// Grammar is a compiled automaton; it is immutable and safe for concurrent use (its masks live
// in the process-wide mask cache). Make one Matcher per sequence.
type Grammar struct {
	nodes []node
	// dist is, per node, the fewest bytes to the end of its rule (budget.go), computed on the
	// first budgeted use: most grammars never need it.
	dist  func() []int32
	start int32
	id    uint64 // names the grammar in the shared mask cache

	hits, misses atomic.Int64 // mask cache lookups, for benchmarks
}

// builder assembles the node graph.
type builder struct {
	nodes []node
	// over is set once the automaton outgrows MaxNodes: building stops at the next check, so a
	// schema too large to compile costs at most the budget, never its own size.
	over  bool
	any   int32 // start of the free-JSON-value rule (-1 until needed)
	anyOb int32 // start of the free-JSON-object rule
	doc   *document
	refs  map[string]int32 // ref pointer -> rule start, per document
	// shared: rules of small subschemas by their canonical text, per document.
	shared  map[string]int32
	hasRefs bool // the document holds a "$ref" somewhere
}

func newBuilder() *builder { return &builder{any: -1, anyOb: -1} }

func (b *builder) newNode() int32 {
	if len(b.nodes) >= MaxNodes {
		// Past the budget every new node is the same scratch node: whatever is being built is
		// thrown away at the next checkSize, and memory stays bounded meanwhile.
		b.over = true
		b.nodes[MaxNodes-1] = node{call: -1, ret: -1}
		return MaxNodes - 1
	}
	b.nodes = append(b.nodes, node{call: -1, ret: -1})
	return int32(len(b.nodes) - 1)
}

func (b *builder) edge(from int32, lo, hi byte, to int32) {
	b.nodes[from].edges = append(b.nodes[from].edges, edge{lo, hi, to})
}

func (b *builder) eps(from, to int32) { b.nodes[from].eps = append(b.nodes[from].eps, to) }

// lit consumes the bytes of s from from and returns the node after them.
func (b *builder) lit(from int32, s string) int32 {
	cur := from
	for i := 0; i < len(s); i++ {
		n := b.newNode()
		b.edge(cur, s[i], s[i], n)
		cur = n
	}
	if cur == from { // empty literal: still a fresh node, so that callers may attach loops
		cur = b.newNode()
		b.eps(from, cur)
	}
	return cur
}

// call enters the rule starting at rule from from and returns the node reached after it.
func (b *builder) call(from, rule int32) int32 {
	c := b.newNode()
	ret := b.newNode()
	b.nodes[c].call, b.nodes[c].ret = rule, ret
	b.eps(from, c)
	return ret
}

// rule makes a new rule: body builds it from its start node and returns its end, which becomes
// final. The start is returned before the body is built, so bodies may call the rule itself.
func (b *builder) rule(body func(start int32) (int32, error)) (int32, error) {
	start := b.newNode()
	end, err := body(start)
	if err != nil {
		return -1, err
	}
	fin := b.newNode()
	b.nodes[fin].final = true
	b.eps(end, fin)
	return start, nil
}

func (b *builder) grammar(start int32) *Grammar {
	g := &Grammar{nodes: slices.Clip(b.nodes), start: start, id: grammarIDs.Add(1)}
	g.dist = sync.OnceValue(func() []int32 { return distances(g.nodes) })
	return g
}

var grammarIDs atomic.Uint64

// Nodes is the automaton's size, a measure of the memory the grammar holds.
func (g *Grammar) Nodes() int { return len(g.nodes) }

// MaxNodes bounds the automaton's size: a schema whose automaton would be larger is refused
// (a 400 naming the limit), not built. A node with its edges takes 80 to 200 bytes, so one
// compilation holds at most about 100 MB. The task-tree schema over a few tools needs a few
// thousand nodes; an unbounded integer about 250.
const MaxNodes = 1 << 19

// SizeError is a schema whose automaton would pass MaxNodes.
type SizeError struct {
	Path string // JSON pointer of the subschema being compiled when the budget ran out
}

func (e *SizeError) Error() string {
	return fmt.Sprintf("the schema's automaton passes the limit of %d nodes (while compiling %s): fewer "+
		"properties, items, enum values or smaller bounds (maxLength, maxItems, pattern repetitions) would fit",
		MaxNodes, orRoot(e.Path))
}

func (b *builder) checkSize(path string) error {
	if b.over {
		return &SizeError{Path: path}
	}
	return nil
}

// --- JSON lexical pieces ---

// jsonChar consumes one JSON-encoded string character (a code point: plain ASCII other than
// '"', '\\' and controls; an escape, \u escapes of surrogates excepted so that every escape is
// one code point; or a valid UTF-8 sequence) from a to z. ctl says whether the escapes of
// control characters are allowed (\n etc.; a pattern's '.' excludes the newline).
func (b *builder) jsonChar(a, z int32, newline bool) {
	b.edge(a, 0x20, 0x21, z)
	b.edge(a, 0x23, 0x5B, z)
	b.edge(a, 0x5D, 0x7F, z)
	esc := b.newNode()
	b.edge(a, '\\', '\\', esc)
	for _, c := range []byte{'"', '\\', '/', 'b', 'f', 'r', 't'} {
		b.edge(esc, c, c, z)
	}
	if newline {
		b.edge(esc, 'n', 'n', z)
	}
	u := b.newNode()
	b.edge(esc, 'u', 'u', u)
	h2, hd, h3, h4 := b.newNode(), b.newNode(), b.newNode(), b.newNode()
	b.edge(u, '0', '9', h2)
	b.edge(u, 'a', 'c', h2)
	b.edge(u, 'A', 'C', h2)
	b.edge(u, 'e', 'f', h2)
	b.edge(u, 'E', 'F', h2)
	b.edge(u, 'd', 'd', hd)
	b.edge(u, 'D', 'D', hd)
	b.hex(h2, h3)
	b.edge(hd, '0', '7', h3)
	b.hex(h3, h4)
	b.hex(h4, z)
	b.utf8Multi(a, z)
}

func (b *builder) hex(a, z int32) {
	b.edge(a, '0', '9', z)
	b.edge(a, 'a', 'f', z)
	b.edge(a, 'A', 'F', z)
}

// utf8Multi consumes one valid multi-byte UTF-8 sequence (U+0080 and up, no surrogates).
func (b *builder) utf8Multi(a, z int32) {
	c1 := b.newNode()
	b.edge(c1, 0x80, 0xBF, z)
	c2 := b.newNode()
	b.edge(c2, 0x80, 0xBF, c1)
	b.edge(a, 0xC2, 0xDF, c1)
	e0, ed, f0, f4 := b.newNode(), b.newNode(), b.newNode(), b.newNode()
	b.edge(a, 0xE0, 0xE0, e0)
	b.edge(e0, 0xA0, 0xBF, c1)
	b.edge(a, 0xE1, 0xEC, c2)
	b.edge(a, 0xED, 0xED, ed)
	b.edge(ed, 0x80, 0x9F, c1)
	b.edge(a, 0xEE, 0xEF, c2)
	c3 := b.newNode()
	b.edge(c3, 0x80, 0xBF, c2)
	b.edge(a, 0xF0, 0xF0, f0)
	b.edge(f0, 0x90, 0xBF, c2)
	b.edge(a, 0xF1, 0xF3, c3)
	b.edge(a, 0xF4, 0xF4, f4)
	b.edge(f4, 0x80, 0x8F, c2)
}

// freeString consumes a JSON string with minLen to maxLen characters (maxLen < 0: unbounded).
func (b *builder) freeString(from int32, minLen, maxLen int) int32 {
	open := b.lit(from, `"`)
	end := b.newNode()
	cur := open
	for i := 0; ; i++ {
		if i >= minLen {
			b.edge(cur, '"', '"', end)
		}
		if maxLen >= 0 && i == maxLen {
			break
		}
		if maxLen < 0 && i >= minLen {
			b.jsonChar(cur, cur, true)
			b.nodes[cur].strLoop = true
			break
		}
		if b.over {
			break // refused at the next checkSize; do not spend the rest of maxLength first
		}
		next := b.newNode()
		b.jsonChar(cur, next, true)
		if maxLen >= 0 {
			b.nodes[cur].strLeft = int32(maxLen - i)
		}
		cur = next
	}
	return end
}

// anyValue returns the start of the rule for any JSON value (built once).
func (b *builder) anyValue() int32 {
	if b.any >= 0 {
		return b.any
	}
	b.anyValueRules()
	return b.any
}

func (b *builder) anyObject() int32 {
	if b.anyOb >= 0 {
		return b.anyOb
	}
	b.anyValueRules()
	return b.anyOb
}

func (b *builder) anyValueRules() {
	// Reserve both starts first: the bodies call each other.
	b.any, _ = b.rule(func(start int32) (int32, error) {
		b.any = start
		end := b.newNode()
		b.anyOb, _ = b.rule(func(os int32) (int32, error) {
			b.anyOb = os
			return b.objectBody(os, nil), nil
		})
		b.eps(b.call(start, b.anyOb), end)
		b.eps(b.arrayBody(start, nil), end)
		b.eps(b.freeString(start, 0, -1), end)
		b.eps(b.numberAny(start), end)
		for _, s := range []string{"true", "false", "null"} {
			b.eps(b.lit(start, s), end)
		}
		return end, nil
	})
}

// objectBody consumes {} or {"key":value,...} with free keys; value (nil: any JSON value) builds
// each member's value from a node and returns the node after it.
func (b *builder) objectBody(from int32, value func(int32) (int32, error)) int32 {
	open := b.lit(from, "{")
	end := b.newNode()
	b.edge(open, '}', '}', end)
	member := b.newNode()
	b.eps(open, member)
	k := b.freeString(member, 0, -1)
	colon := b.lit(k, ":")
	var after int32
	if value == nil {
		after = b.call(colon, b.anyValue())
	} else {
		after, _ = value(colon)
	}
	b.edge(after, '}', '}', end)
	comma := b.newNode()
	b.edge(after, ',', ',', comma)
	b.eps(comma, member)
	return end
}

// arrayBody consumes [] or [v,...] with free items (value nil: any JSON value).
func (b *builder) arrayBody(from int32, value func(int32) (int32, error)) int32 {
	open := b.lit(from, "[")
	end := b.newNode()
	b.edge(open, ']', ']', end)
	item := b.newNode()
	b.eps(open, item)
	var after int32
	if value == nil {
		after = b.call(item, b.anyValue())
	} else {
		after, _ = value(item)
	}
	b.edge(after, ']', ']', end)
	comma := b.newNode()
	b.edge(after, ',', ',', comma)
	b.eps(comma, item)
	return end
}
