package grammar

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// A practical subset of ECMA-262 regular expressions for "pattern", matched against the whole
// string (anchors are implied: a string that matches whole also contains a match). Supported:
// literal characters, escapes (\d \D \w \W \s \S, \. \\ \/ and other escaped punctuation, \n
// \t \r), classes [...] and [^...] (negated classes may only list ASCII), '.', groups (...) and
// (?:...), alternation, and the quantifiers ? * + {m} {m,} {m,n}, optional ^ at the start and $
// at the end. Not supported: backreferences, lookaround, \b, \p{...}, lazy quantifiers.

type reKind int

const (
	reChars reKind = iota // one character from a set
	reSeq
	reAlt
	reRepeat
)

type re struct {
	kind     reKind
	set      *charSet
	subs     []*re
	min, max int // reRepeat; max -1: unbounded
}

// charSet is a set of characters: ASCII by bitmap, non-ASCII either all or listed runes.
type charSet struct {
	ascii    [2]uint64
	nonASCII bool   // every non-ASCII code point
	runes    []rune // listed non-ASCII runes (when nonASCII is false)
}

func (c *charSet) addRange(lo, hi rune) error {
	for r := lo; r <= hi; r++ {
		if r < 128 {
			c.ascii[r/64] |= 1 << (r % 64)
		} else if !c.nonASCII {
			if hi-lo > 256 {
				return fmt.Errorf("non-ASCII class ranges are not supported")
			}
			c.runes = append(c.runes, r)
		}
	}
	return nil
}

func (c *charSet) has(r byte) bool { return c.ascii[r/64]&(1<<(r%64)) != 0 }

func (c *charSet) union(d *charSet) {
	c.ascii[0] |= d.ascii[0]
	c.ascii[1] |= d.ascii[1]
	c.nonASCII = c.nonASCII || d.nonASCII
	c.runes = append(c.runes, d.runes...)
}

func (c *charSet) negate() error {
	if len(c.runes) > 0 {
		return fmt.Errorf("negated classes may only list ASCII characters")
	}
	c.ascii[0], c.ascii[1] = ^c.ascii[0], ^c.ascii[1]
	c.nonASCII = !c.nonASCII
	return nil
}

func classOf(letter byte) (*charSet, bool) {
	c := &charSet{}
	switch letter | 0x20 {
	case 'd':
		_ = c.addRange('0', '9')
	case 'w':
		_ = c.addRange('0', '9')
		_ = c.addRange('a', 'z')
		_ = c.addRange('A', 'Z')
		_ = c.addRange('_', '_')
	case 's':
		for _, r := range " \t\n\r\f\v" {
			_ = c.addRange(r, r)
		}
	default:
		return nil, false
	}
	if letter >= 'A' && letter <= 'Z' {
		_ = c.negate()
	}
	return c, true
}

type reParser struct {
	s   string
	pos int
}

func parseRegex(s string) (*re, error) {
	if len(s) > 0 && s[0] == '^' {
		s = s[1:]
	}
	if len(s) > 0 && s[len(s)-1] == '$' && (len(s) < 2 || s[len(s)-2] != '\\') {
		s = s[:len(s)-1]
	}
	p := &reParser{s: s}
	r, err := p.alt()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.s) {
		return nil, fmt.Errorf("unexpected %q at offset %d of the pattern", p.s[p.pos], p.pos)
	}
	return r, nil
}

func (p *reParser) alt() (*re, error) {
	var alts []*re
	for {
		s, err := p.seq()
		if err != nil {
			return nil, err
		}
		alts = append(alts, s)
		if p.pos < len(p.s) && p.s[p.pos] == '|' {
			p.pos++
			continue
		}
		break
	}
	if len(alts) == 1 {
		return alts[0], nil
	}
	return &re{kind: reAlt, subs: alts}, nil
}

func (p *reParser) seq() (*re, error) {
	r := &re{kind: reSeq}
	for p.pos < len(p.s) && p.s[p.pos] != '|' && p.s[p.pos] != ')' {
		a, err := p.atom()
		if err != nil {
			return nil, err
		}
		a, err = p.quant(a)
		if err != nil {
			return nil, err
		}
		r.subs = append(r.subs, a)
	}
	return r, nil
}

func (p *reParser) quant(a *re) (*re, error) {
	if p.pos >= len(p.s) {
		return a, nil
	}
	min, max := 0, 0
	switch p.s[p.pos] {
	case '?':
		min, max = 0, 1
	case '*':
		min, max = 0, -1
	case '+':
		min, max = 1, -1
	case '{':
		end := p.pos + 1
		for end < len(p.s) && p.s[end] != '}' {
			end++
		}
		if end == len(p.s) {
			return nil, fmt.Errorf("unclosed {")
		}
		body := p.s[p.pos+1 : end]
		var err error
		if i := indexByte(body, ','); i < 0 {
			min, err = strconv.Atoi(body)
			max = min
		} else {
			min, err = strconv.Atoi(body[:i])
			if err == nil {
				if body[i+1:] == "" {
					max = -1
				} else {
					max, err = strconv.Atoi(body[i+1:])
				}
			}
		}
		if err != nil || min < 0 || (max >= 0 && max < min) || min > 1000 || max > 1000 {
			return nil, fmt.Errorf("bad or too large repetition {%s}", body)
		}
		p.pos = end
	default:
		return a, nil
	}
	p.pos++
	if p.pos < len(p.s) && (p.s[p.pos] == '?' || p.s[p.pos] == '+') {
		return nil, fmt.Errorf("lazy and possessive quantifiers are not supported")
	}
	return &re{kind: reRepeat, subs: []*re{a}, min: min, max: max}, nil
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func (p *reParser) atom() (*re, error) {
	c := p.s[p.pos]
	switch c {
	case '(':
		p.pos++
		if p.pos+1 < len(p.s) && p.s[p.pos] == '?' {
			if p.s[p.pos+1] != ':' {
				return nil, fmt.Errorf("lookaround and named groups are not supported")
			}
			p.pos += 2
		}
		r, err := p.alt()
		if err != nil {
			return nil, err
		}
		if p.pos >= len(p.s) || p.s[p.pos] != ')' {
			return nil, fmt.Errorf("unclosed (")
		}
		p.pos++
		return r, nil
	case '[':
		return p.class()
	case '.':
		p.pos++
		set := &charSet{}
		_ = set.addRange('\n', '\n')
		_ = set.negate()
		return &re{kind: reChars, set: set}, nil
	case '\\':
		set, err := p.escape(false)
		if err != nil {
			return nil, err
		}
		return &re{kind: reChars, set: set}, nil
	case '^', '$':
		return nil, fmt.Errorf("anchors are only supported at the start and end")
	case '*', '+', '?', '{':
		return nil, fmt.Errorf("nothing to repeat at offset %d", p.pos)
	}
	r, n := utf8.DecodeRuneInString(p.s[p.pos:])
	p.pos += n
	set := &charSet{}
	if err := set.addRange(r, r); err != nil {
		return nil, err
	}
	return &re{kind: reChars, set: set}, nil
}

// escape parses \x at p.pos (inClass: inside [...]).
func (p *reParser) escape(inClass bool) (*charSet, error) {
	if p.pos+1 >= len(p.s) {
		return nil, fmt.Errorf("trailing backslash")
	}
	c := p.s[p.pos+1]
	p.pos += 2
	if set, ok := classOf(c); ok {
		return set, nil
	}
	set := &charSet{}
	var r rune
	switch c {
	case 'n':
		r = '\n'
	case 't':
		r = '\t'
	case 'r':
		r = '\r'
	case 'f':
		r = '\f'
	case 'v':
		r = '\v'
	default:
		if (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') {
			return nil, fmt.Errorf("escape \\%c is not supported", c)
		}
		r = rune(c)
	}
	_ = set.addRange(r, r)
	return set, nil
}

func (p *reParser) class() (*re, error) {
	p.pos++ // [
	set := &charSet{}
	neg := false
	if p.pos < len(p.s) && p.s[p.pos] == '^' {
		neg = true
		p.pos++
	}
	first := true
	for {
		if p.pos >= len(p.s) {
			return nil, fmt.Errorf("unclosed [")
		}
		c := p.s[p.pos]
		if c == ']' && !first {
			p.pos++
			break
		}
		first = false
		var lo rune
		if c == '\\' {
			s, err := p.escape(true)
			if err != nil {
				return nil, err
			}
			if single, ok := singleRune(s); ok {
				lo = single
			} else {
				set.union(s)
				continue
			}
		} else {
			r, n := utf8.DecodeRuneInString(p.s[p.pos:])
			p.pos += n
			lo = r
		}
		hi := lo
		if p.pos+1 < len(p.s) && p.s[p.pos] == '-' && p.s[p.pos+1] != ']' {
			p.pos++
			if p.s[p.pos] == '\\' {
				s, err := p.escape(true)
				if err != nil {
					return nil, err
				}
				single, ok := singleRune(s)
				if !ok {
					return nil, fmt.Errorf("bad class range")
				}
				hi = single
			} else {
				r, n := utf8.DecodeRuneInString(p.s[p.pos:])
				p.pos += n
				hi = r
			}
			if hi < lo {
				return nil, fmt.Errorf("bad class range")
			}
		}
		if err := set.addRange(lo, hi); err != nil {
			return nil, err
		}
	}
	if neg {
		if err := set.negate(); err != nil {
			return nil, err
		}
	}
	return &re{kind: reChars, set: set}, nil
}

func singleRune(s *charSet) (rune, bool) {
	if s.nonASCII || len(s.runes) > 0 {
		return 0, false
	}
	found := rune(-1)
	for r := 0; r < 128; r++ {
		if s.has(byte(r)) {
			if found >= 0 {
				return 0, false
			}
			found = rune(r)
		}
	}
	return found, found >= 0
}

// regex emits r from node from and returns the node after it.
func (b *builder) regex(from int32, r *re) int32 {
	switch r.kind {
	case reChars:
		to := b.newNode()
		b.charSet(from, to, r.set)
		return to
	case reSeq:
		cur := from
		for _, s := range r.subs {
			cur = b.regex(cur, s)
		}
		if cur == from {
			cur = b.newNode()
			b.eps(from, cur)
		}
		return cur
	case reAlt:
		end := b.newNode()
		for _, s := range r.subs {
			entry := b.newNode()
			b.eps(from, entry)
			b.eps(b.regex(entry, s), end)
		}
		return end
	case reRepeat:
		cur := from
		for i := 0; i < r.min; i++ {
			cur = b.regex(cur, r.subs[0])
		}
		end := b.newNode()
		b.eps(cur, end)
		if r.max < 0 {
			loop := b.newNode()
			b.eps(cur, loop)
			b.eps(b.regex(loop, r.subs[0]), loop)
			b.eps(loop, end)
			return end
		}
		for i := r.min; i < r.max; i++ {
			cur = b.regex(cur, r.subs[0])
			b.eps(cur, end)
		}
		return end
	}
	panic("unreachable")
}

// charSet emits one JSON-encoded character of set from a to z.
func (b *builder) charSet(a, z int32, set *charSet) {
	for c := 0; c < 128; c++ {
		if !set.has(byte(c)) {
			continue
		}
		switch {
		case c == '"' || c == '\\':
			b.edge(b.lit(a, `\`), byte(c), byte(c), z)
		case c == '\n':
			b.edge(b.lit(a, `\`), 'n', 'n', z)
		case c == '\t':
			b.edge(b.lit(a, `\`), 't', 't', z)
		case c == '\r':
			b.edge(b.lit(a, `\`), 'r', 'r', z)
		case c < 0x20:
			b.eps(b.lit(a, fmt.Sprintf(`\u%04x`, c)), z)
		default:
			lo := c
			for c+1 < 128 && c+1 != '"' && c+1 != '\\' && set.has(byte(c+1)) {
				c++
			}
			b.edge(a, byte(lo), byte(c), z)
		}
	}
	if set.nonASCII {
		b.utf8Multi(a, z)
	}
	for _, r := range set.runes {
		var buf [4]byte
		n := utf8.EncodeRune(buf[:], r)
		b.eps(b.lit(a, string(buf[:n])), z)
	}
}
