package grammar

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
)

// frame is one return address on a configuration's stack; frames are shared (persistent).
type frame struct {
	ret    int32
	depth  int32
	hash   uint64
	parent *frame
}

// config is one live position of the automaton: a node with outgoing byte edges (or acceptNode)
// and a stack.
type config struct {
	node int32
	st   *frame
}

// acceptNode marks a configuration that finished the root rule: the value is complete.
const acceptNode = -1

// maxStack bounds the stack depth (a left-recursive schema would otherwise loop forever).
const maxStack = 4096

// ErrRejected is returned (wrapped) by Accept and AcceptBytes for input the grammar does not
// allow.
var ErrRejected = errors.New("grammar: input not allowed")

func mix(a, b uint64) uint64 {
	h := (a ^ 0x9E3779B97F4A7C15) * 0xBF58476D1CE4E5B9
	h ^= b + 0x94D049BB133111EB + (h << 6) + (h >> 2)
	h *= 0x94D049BB133111EB
	return h ^ (h >> 31)
}

func (g *Grammar) push(st *frame, ret int32) *frame {
	f := &frame{ret: ret, parent: st, depth: 1}
	var ph uint64
	if st != nil {
		ph, f.depth = st.hash, st.depth+1
	}
	f.hash = mix(ph, uint64(ret))
	return f
}

// closure adds to dst every configuration with byte edges (and acceptNode) reachable from
// (n, st) without consuming input. seen is scratch for the visited (node, stack) pairs.
func (g *Grammar) closure(dst []config, seen []config, n int32, st *frame) ([]config, []config) {
	for _, s := range seen {
		if s.node == n && s.st == st {
			return dst, seen
		}
	}
	seen = append(seen, config{n, st})
	nd := &g.nodes[n]
	if nd.final {
		if st == nil {
			dst = addConfig(dst, config{acceptNode, nil})
		} else {
			dst, seen = g.closure(dst, seen, st.ret, st.parent)
		}
	}
	switch {
	case nd.call >= 0 && nd.tail:
		// Nothing follows the call in this rule: the callee returns straight to our caller.
		dst, seen = g.closure(dst, seen, nd.call, st)
	case nd.call >= 0 && (st == nil || st.depth < maxStack):
		dst, seen = g.closure(dst, seen, nd.call, g.push(st, nd.ret))
	}
	for _, e := range nd.eps {
		dst, seen = g.closure(dst, seen, e, st)
	}
	if len(nd.edges) > 0 {
		dst = addConfig(dst, config{n, st})
	}
	return dst, seen
}

func addConfig(dst []config, c config) []config {
	for _, d := range dst {
		if d.node == c.node && sameStack(d.st, c.st) {
			return dst
		}
	}
	return append(dst, c)
}

func sameStack(a, b *frame) bool {
	for a != b {
		if a == nil || b == nil || a.ret != b.ret || a.hash != b.hash {
			return false
		}
		a, b = a.parent, b.parent
	}
	return true
}

// step consumes byte c from the configurations src, appending the result to dst.
func (g *Grammar) step(dst, seen []config, src []config, c byte) ([]config, []config) {
	if len(src) == 1 && src[0].node >= 0 && g.nodes[src[0].node].strLoop &&
		c >= 0x20 && c < 0x80 && c != '"' && c != '\\' {
		return append(dst, src[0]), seen // plain text inside a free string
	}
	for _, cf := range src {
		if cf.node == acceptNode {
			continue
		}
		for _, e := range g.nodes[cf.node].edges {
			if c < e.lo || c > e.hi {
				continue
			}
			to := &g.nodes[e.to]
			if !to.final && to.call < 0 && len(to.eps) == 0 {
				// The common case: a plain node, no closure to compute.
				dst = addConfig(dst, config{e.to, cf.st})
				continue
			}
			seen = seen[:0]
			dst, seen = g.closure(dst, seen, e.to, cf.st)
		}
	}
	return dst, seen
}

func stateHash(s []config) uint64 {
	var h uint64
	for _, c := range s {
		var sh uint64
		if c.st != nil {
			sh = c.st.hash
		}
		h += mix(uint64(uint32(c.node)), sh) // order-independent
	}
	return mix(h, uint64(len(s)))
}

// Matcher follows one sequence through a grammar: which tokens may come next, and the state
// after each. Not safe for concurrent use.
type Matcher struct {
	g *Grammar
	v *Vocab

	cur    []config
	done   bool // EOS accepted after the value
	levels [][]config
	seen   []config
	tmpA   []config
	tmpB   []config
}

// NewMatcher starts a matcher at the beginning of the grammar's output.
func (g *Grammar) NewMatcher(v *Vocab) *Matcher {
	m := &Matcher{g: g, v: v, levels: make([][]config, v.maxLen+1)}
	m.Reset()
	return m
}

// Reset returns to the start.
func (m *Matcher) Reset() {
	m.cur, m.seen = m.g.closure(m.cur[:0], m.seen[:0], m.g.start, nil)
	m.done = false
}

// CanEnd reports whether the output so far is a complete value (EOS is allowed).
func (m *Matcher) CanEnd() bool {
	if m.done {
		return true
	}
	for _, c := range m.cur {
		if c.node == acceptNode {
			return true
		}
	}
	return false
}

// Complete reports whether the value is finished and nothing may follow it but EOS.
func (m *Matcher) Complete() bool {
	if m.done {
		return true
	}
	return len(m.cur) == 1 && m.cur[0].node == acceptNode
}

// Allowed reports whether token tok may come next.
func (m *Matcher) Allowed(tok int32) bool {
	allowed, _ := m.AllowedWithin(tok, -1)
	return allowed
}

// setEOS sets the EOS tokens' bits in mask when the value is complete enough to end.
func (m *Matcher) setEOS(mask []uint64) {
	if !m.CanEnd() {
		return
	}
	for _, e := range m.v.eos {
		if int(e) < m.v.size {
			mask[e/64] |= 1 << (uint(e) % 64)
		}
	}
}

// advance runs bytes from state s through the scratch buffers and returns the state after them
// (empty: rejected); the result is valid until the next call.
func (m *Matcher) advance(s []config, b []byte) []config {
	a, c := m.tmpA[:0], m.tmpB[:0]
	src := s
	for _, x := range b {
		a, m.seen = m.g.step(a[:0], m.seen, src, x)
		src = a
		if len(a) == 0 {
			break
		}
		a, c = c, a
	}
	m.tmpA, m.tmpB = a, c
	return src
}

// Accept moves past token tok, or returns an error (wrapping ErrRejected) if it is not allowed;
// the state is then unchanged.
func (m *Matcher) Accept(tok int32) error {
	if tok >= 0 && int(tok) < m.v.size && m.v.isEOS[tok] {
		if !m.CanEnd() || m.done {
			return fmt.Errorf("%w: end of sequence before the value is complete", ErrRejected)
		}
		m.done = true
		return nil
	}
	if tok < 0 || int(tok) >= m.v.size || len(m.v.bytes[tok]) == 0 {
		return fmt.Errorf("%w: token %d has no text", ErrRejected, tok)
	}
	return m.AcceptBytes(m.v.bytes[tok])
}

// AcceptBytes moves past bytes (forced text), or returns an error wrapping ErrRejected and
// leaves the state unchanged.
func (m *Matcher) AcceptBytes(b []byte) error {
	if m.done {
		return fmt.Errorf("%w: the output is complete", ErrRejected)
	}
	if len(b) == 0 {
		return nil
	}
	next := make([]config, 0, 4)
	a := m.cur
	for i, x := range b {
		next, m.seen = m.g.step(next[:0], m.seen, a, x)
		if len(next) == 0 {
			return fmt.Errorf("%w: byte %q at offset %d", ErrRejected, x, i)
		}
		if i == 0 {
			a = make([]config, 0, 4)
		}
		a, next = next, a
	}
	m.cur = append(m.cur[:0], a...)
	return nil
}

// ErrTooCostly is returned (wrapped) by FillMask when computing one mask takes more automaton
// steps than MaskWorkBudget: a grammar whose states are that ambiguous would hold a core for
// seconds per token.
var ErrTooCostly = errors.New("grammar: the allowed tokens cost more work to compute than the budget")

// MaskWorkBudget bounds the work of one mask: configurations advanced by one byte while the
// token trie is walked (and compared to keep them unique). A mask of a deterministic state
// over a 152k vocabulary takes well under a million; the budget is a fraction of a second of
// one core.
const MaskWorkBudget = 1 << 26

// cancelCheckNodes is how many trie nodes a walk visits between looks at its context.
const cancelCheckNodes = 4096

// FillMask sets bit i of mask (len >= v.MaskWords()) for every token i allowed next, EOS
// included once the value is complete, and clears the others. It stops early with ctx's error
// when ctx ends, or with ErrTooCostly past the work budget; the mask is then unusable.
func (m *Matcher) FillMask(ctx context.Context, mask []uint64) error {
	mask = mask[:m.v.MaskWords()]
	if m.done {
		clear(mask)
		return nil
	}
	key := maskKey{grammar: m.g.id, vocab: m.v, state: stateHash(m.cur)}
	if cached := masks.get(key); cached != nil {
		m.g.hits.Add(1)
		copy(mask, cached)
		return nil
	}
	m.g.misses.Add(1)
	clear(mask)
	if err := m.walk(ctx, mask, -1); err != nil {
		return err
	}
	m.setEOS(mask)
	masks.put(key, mask)
	return nil
}

// walk visits the token trie in preorder with the automaton, skipping every subtree whose
// prefix the grammar rejects. Unbounded (left < 0), in a free string plain-text tokens are all
// allowed at once and only the others are walked. With a budget of left tokens (see
// FillMaskWithin), a token is set only if the value can still be completed in left-1 bytes
// after it, and a subtree is skipped once even its longest tokens could not bring it there.
func (m *Matcher) walk(ctx context.Context, mask []uint64, left int) error {
	t := &m.v.all
	for _, c := range m.cur {
		if left < 0 && c.node != acceptNode && m.g.nodes[c.node].strLoop {
			for i, w := range m.v.plainMask {
				mask[i] |= w
			}
			t = &m.v.rest
			break
		}
	}
	if left < 0 && len(m.cur) == 1 && m.cur[0].node != acceptNode && t == &m.v.all {
		if left := int(m.g.nodes[m.cur[0].node].strLeft); left > 0 && m.v.maxPlainRunes > 0 {
			for i, w := range m.v.plainUpTo[min(left, m.v.maxPlainRunes)-1] {
				mask[i] |= w
			}
			t = &m.v.rest
		}
	}
	m.levels[0] = m.cur
	n := len(t.tByte)
	work, check := 0, cancelCheckNodes
	for i := 0; i < n; {
		d := int(t.tDepth[i])
		if check--; check == 0 {
			check = cancelCheckNodes
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		var next []config
		src := m.levels[d-1]
		next, m.seen = m.g.step(m.levels[d][:0], m.seen, src, t.tByte[i])
		m.levels[d] = next
		// A step costs its sources, and keeping its results unique costs their count squared.
		if work += len(src) + len(next)*len(next)/2; work > MaskWorkBudget {
			return fmt.Errorf("%w (%d automaton steps for one token mask)", ErrTooCostly, MaskWorkBudget)
		}
		if len(next) == 0 {
			i = int(t.tNext[i])
			continue
		}
		fits, skip := true, false
		if left >= 0 {
			rem := m.g.remaining(next)
			// Each further byte shortens the way by at most one.
			fits, skip = rem <= left-1, rem-(m.v.maxLen-d) > left-1
		}
		if fits {
			for k := t.tIDLo[i]; k < t.tIDHi[i]; k++ {
				id := t.ids[k]
				mask[id/64] |= 1 << (uint(id) % 64)
			}
		}
		if skip || (len(next) == 1 && next[0].node == acceptNode) {
			i = int(t.tNext[i])
			continue
		}
		i++
	}
	return nil
}

// CountMask is the number of bits set in a mask.
func CountMask(mask []uint64) int {
	n := 0
	for _, w := range mask {
		n += bits.OnesCount64(w)
	}
	return n
}

// CacheStats reports the grammar's mask cache hits and misses (for benchmarks).
func (g *Grammar) CacheStats() (hits, misses int64) { return g.hits.Load(), g.misses.Load() }
