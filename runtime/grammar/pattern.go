package grammar

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
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

// charSet is a set of characters: ASCII by bitmap, non-ASCII either all but the runes listed
// in except, or just the listed runes.
type charSet struct {
	ascii    [2]uint64
	nonASCII bool   // every non-ASCII code point but except
	runes    []rune // listed non-ASCII runes (when nonASCII is false)
	except   []rune // non-ASCII runes left out (when nonASCII is true)
}

func (c *charSet) addRange(lo, hi rune) error {
	for r := lo; r <= hi; r++ {
		if r < 128 {
			c.ascii[r/64] |= 1 << (r % 64)
		} else if c.nonASCII {
			c.except = slices.DeleteFunc(c.except, func(x rune) bool { return x == r })
		} else {
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
	switch {
	case c.nonASCII && d.nonASCII:
		c.except = slices.DeleteFunc(c.except, func(x rune) bool { return !slices.Contains(d.except, x) })
	case c.nonASCII:
		c.except = slices.DeleteFunc(c.except, func(x rune) bool { return slices.Contains(d.runes, x) })
	case d.nonASCII:
		c.nonASCII = true
		c.except = slices.DeleteFunc(slices.Clone(d.except), func(x rune) bool { return slices.Contains(c.runes, x) })
		c.runes = nil
	default:
		c.runes = append(c.runes, d.runes...)
	}
}

// negate complements the set (within valid code points).
func (c *charSet) negate() {
	c.ascii[0], c.ascii[1] = ^c.ascii[0], ^c.ascii[1]
	c.nonASCII = !c.nonASCII
	c.runes, c.except = c.except, c.runes
}

// ecmaSpaces are the non-ASCII characters of ECMA-262's \s (WhiteSpace and LineTerminator).
var ecmaSpaces = []rune{0x00A0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006,
	0x2007, 0x2008, 0x2009, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF}

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
		c.runes = slices.Clone(ecmaSpaces)
	default:
		return nil, false
	}
	if letter >= 'A' && letter <= 'Z' {
		c.negate()
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
		if i := strings.IndexByte(body, ','); i < 0 {
			min, err = repetitionBound(body)
			max = min
		} else {
			min, err = repetitionBound(body[:i])
			if err == nil {
				if body[i+1:] == "" {
					max = -1
				} else {
					max, err = repetitionBound(body[i+1:])
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

// repetitionBound reads a repetition bound: decimal digits only. strconv.Atoi alone also takes a
// sign, which made "{+0}" a repetition of zero, where ECMA-262 (and the validators) read the
// "{" as a literal and the "+" as its quantifier: the generated strings then did not match.
func repetitionBound(s string) (int, error) {
	if s == "" || len(s) > 4 {
		return 0, fmt.Errorf("bad repetition count %q", s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("bad repetition count %q", s)
		}
	}
	return strconv.Atoi(s)
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
		// Any character but a line terminator (\n \r U+2028 U+2029), as in ECMA-262.
		p.pos++
		set := &charSet{runes: []rune{0x2028, 0x2029}}
		_ = set.addRange('\n', '\n')
		_ = set.addRange('\r', '\r')
		set.negate()
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
	if p.pos < len(p.s) && p.s[p.pos] == ']' {
		// ECMA-262 reads [] as a class of nothing and [^] as any character, where other
		// dialects read ']' as a member: refused rather than guessed.
		return nil, fmt.Errorf(`empty classes [] and [^] are not supported (write \] for a literal ']')`)
	}
	for {
		if p.pos >= len(p.s) {
			return nil, fmt.Errorf("unclosed [")
		}
		c := p.s[p.pos]
		if c == ']' {
			p.pos++
			break
		}
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
		set.negate()
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
		if len(set.except) == 0 {
			b.utf8Multi(a, z)
		} else {
			// Every non-ASCII code point but the excepted ones (and the surrogates, which
			// UTF-8 cannot hold), as runs of code points.
			ex := slices.Clone(set.except)
			slices.Sort(ex)
			lo := rune(0x80)
			for _, r := range append(ex, 0x110000) {
				if r > lo {
					b.runeRanges(a, z, lo, r-1)
				}
				lo = max(lo, r+1)
			}
		}
	}
	for _, r := range set.runes {
		var buf [4]byte
		n := utf8.EncodeRune(buf[:], r)
		b.eps(b.lit(a, string(buf[:n])), z)
	}
}

// runeRanges consumes one UTF-8 encoded code point in [lo, hi] (surrogates excepted) from a
// to z: the range is split until each piece is a run of byte ranges, one per position.
func (b *builder) runeRanges(a, z int32, lo, hi rune) {
	if lo > hi {
		return
	}
	if lo <= 0xDFFF && hi >= 0xD800 { // leave out the surrogates
		b.runeRanges(a, z, lo, 0xD7FF)
		b.runeRanges(a, z, 0xE000, hi)
		return
	}
	for _, edge := range []rune{0x7F, 0x7FF, 0xFFFF} { // one encoded length per piece
		if lo <= edge && hi > edge {
			b.runeRanges(a, z, lo, edge)
			b.runeRanges(a, z, edge+1, hi)
			return
		}
	}
	n := utf8.RuneLen(lo)
	if n == 1 {
		b.edge(a, byte(lo), byte(hi), z)
		return
	}
	// Split where lo and hi differ above their last i continuation bytes, until those bytes
	// span their whole range (0x80-0xBF) in every piece.
	for i := 1; i < n; i++ {
		m := rune(1)<<(6*i) - 1
		if lo&^m != hi&^m {
			if lo&m != 0 {
				b.runeRanges(a, z, lo, lo|m)
				b.runeRanges(a, z, (lo|m)+1, hi)
				return
			}
			if hi&m != m {
				b.runeRanges(a, z, lo, (hi&^m)-1)
				b.runeRanges(a, z, hi&^m, hi)
				return
			}
		}
	}
	var lb, hb [4]byte
	utf8.EncodeRune(lb[:], lo)
	utf8.EncodeRune(hb[:], hi)
	cur := a
	for k := 0; k < n; k++ {
		next := z
		if k < n-1 {
			next = b.newNode()
		}
		b.edge(cur, lb[k], hb[k], next)
		cur = next
	}
}
