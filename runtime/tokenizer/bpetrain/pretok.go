package bpetrain

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Pattern is the pre-tokenizer regex written into tokenizer.json (a Split step, behavior
// Isolated). It is the pattern of Qwen2/Qwen2.5/Qwen3, which Arbor's tokenizer implements with
// a hand-written matcher: contractions, letter runs with at most one leading non-letter,
// non-digit character (usually a space), every number character on its own (\p{N} without a
// quantifier, so no merge can ever join two digits), punctuation runs with an optional leading
// space and trailing line breaks, and whitespace runs. splitPieces implements it here.
const Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|` +
	`\s*[\r\n]+|\s+(?!\S)|\s+`

// byteRune is GPT-2's bytes-to-unicode table, which tokenizers' ByteLevel pre-tokenizer and
// decoder use: printable Latin-1 bytes stand for themselves, the other 68 bytes are given the
// characters from U+0100 upwards in byte order. runeByte is its inverse.
var (
	byteRune [256]rune
	runeByte = make(map[rune]byte, 256)
)

func init() {
	next := rune(0x100)
	for b := 0; b < 256; b++ {
		printable := (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
		if printable {
			byteRune[b] = rune(b)
		} else {
			byteRune[b] = next
			next++
		}
		runeByte[byteRune[b]] = byte(b)
	}
}

// byteLevel returns the byte-level form of raw bytes: each byte becomes its table character.
func byteLevel(raw string) string {
	var sb strings.Builder
	sb.Grow(2 * len(raw))
	for i := 0; i < len(raw); i++ {
		sb.WriteRune(byteRune[raw[i]])
	}
	return sb.String()
}

// byteLevelDecode is what a ByteLevel decoder does with one token's text: if every character
// is in the table, the bytes they stand for; otherwise the text unchanged.
func byteLevelDecode(tok string) string {
	out := make([]byte, 0, len(tok))
	for _, r := range tok {
		b, ok := runeByte[r]
		if !ok {
			return tok
		}
		out = append(out, b)
	}
	return string(out)
}

// Character classes of Pattern.
type class uint8

const (
	other  class = iota // [^\s\p{L}\p{N}]
	letter              // \p{L}
	number              // \p{N}
	space               // \s
)

func classOf(r rune) class {
	switch {
	case r < utf8.RuneSelf:
		return asciiClasses[r]
	case unicode.IsLetter(r):
		return letter
	case unicode.IsNumber(r):
		return number
	case unicode.IsSpace(r):
		return space
	}
	return other
}

var asciiClasses = func() (t [utf8.RuneSelf]class) {
	for r := rune(0); r < utf8.RuneSelf; r++ {
		switch {
		case unicode.IsLetter(r):
			t[r] = letter
		case unicode.IsNumber(r):
			t[r] = number
		case unicode.IsSpace(r):
			t[r] = space
		}
	}
	return t
}()

// at returns the rune at s[i], its size and class; i must be < len(s).
func at(s string, i int) (rune, int, class) {
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1, asciiClasses[c]
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	return r, n, classOf(r)
}

// skip returns the end of the run of class c that starts at i.
func skip(s string, i int, c class) int {
	for i < len(s) {
		_, n, k := at(s, i)
		if k != c {
			break
		}
		i += n
	}
	return i
}

func isBreak(r rune) bool { return r == '\r' || r == '\n' }

// splitPieces calls fn with each match of Pattern in s, left to right; the matches cover s.
func splitPieces(s string, fn func(piece string)) {
	for i := 0; i < len(s); {
		j := pieceEnd(s, i)
		fn(s[i:j])
		i = j
	}
}

// pieceEnd returns the end of the match of Pattern that starts at s[i], trying the
// alternatives in order as a backtracking regex engine does.
func pieceEnd(s string, i int) int {
	r, n, c := at(s, i)
	// (?i:'s|'t|'re|'ve|'m|'ll|'d), ASCII case folding.
	if r == '\'' {
		lower := func(k int) byte {
			if k < len(s) {
				return s[k] | 0x20 // folds ASCII letters; other bytes never compare equal below
			}
			return 0
		}
		switch lower(i + 1) {
		case 's', 't', 'm', 'd':
			return i + 2
		case 'r', 'v':
			if lower(i+2) == 'e' {
				return i + 3
			}
		case 'l':
			if lower(i+2) == 'l' {
				return i + 3
			}
		}
	}
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if c == letter {
		return skip(s, i+n, letter)
	}
	if c != number && !isBreak(r) && i+n < len(s) {
		if _, _, c2 := at(s, i+n); c2 == letter {
			return skip(s, i+n, letter)
		}
	}
	// \p{N}: one number character.
	if c == number {
		return i + n
	}
	//  ?[^\s\p{L}\p{N}]+[\r\n]*
	k := i
	if r == ' ' && i+1 < len(s) {
		k = i + 1
	}
	if _, _, ck := at(s, k); ck == other {
		j := skip(s, k, other)
		for j < len(s) && (s[j] == '\r' || s[j] == '\n') {
			j++
		}
		return j
	}
	// Whitespace. \s*[\r\n]+ ends just after the run's last line break.
	end := skip(s, i, space)
	for j := end; j > i; j-- {
		if s[j-1] == '\r' || s[j-1] == '\n' {
			return j
		}
	}
	// \s+(?!\S) leaves the run's last character for the next piece unless the run ends s;
	// a lone whitespace character before a non-space is \s+.
	if end == len(s) {
		return end
	}
	_, last := utf8.DecodeLastRuneInString(s[i:end])
	if end-last > i {
		return end - last
	}
	return end
}

// addedSplitter finds added tokens (specials and whole-string tokens) in text, leftmost and
// then longest first, as tokenizers and Arbor do before pre-tokenization.
type addedSplitter struct {
	byFirst map[byte][]addedTok // candidates by first byte, longest first
}

type addedTok struct {
	text string
	id   int32
}

func newAddedSplitter(toks []addedTok) *addedSplitter {
	a := &addedSplitter{byFirst: map[byte][]addedTok{}}
	for _, t := range toks {
		a.byFirst[t.text[0]] = append(a.byFirst[t.text[0]], t)
	}
	for _, l := range a.byFirst {
		sort.SliceStable(l, func(x, y int) bool { return len(l[x].text) > len(l[y].text) })
	}
	return a
}

// split calls fn for each stretch of plain text (id -1) and each added token, in order.
func (a *addedSplitter) split(text string, fn func(seg string, id int32)) {
	start := 0
	for i := 0; i < len(text); i++ {
		cands := a.byFirst[text[i]]
		if cands == nil {
			continue
		}
		for _, t := range cands {
			if strings.HasPrefix(text[i:], t.text) {
				if i > start {
					fn(text[start:i], -1)
				}
				fn(t.text, t.id)
				start = i + len(t.text)
				i = start - 1
				break
			}
		}
	}
	if start < len(text) {
		fn(text[start:], -1)
	}
}
