package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// The pre-tokenizer regexes of the tokenizers Arbor serves. Every request runs through one of
// them, so they get hand-written matchers, which FuzzPattern checks against regexp2.
const (
	// gpt2Pattern is ByteLevel's built-in split (use_regex: true) and GGUF pre "default"/"gpt2".
	gpt2Pattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
	// qwen2Pattern is Qwen2/Qwen2.5/Qwen3's Split regex (GGUF pre "qwen2").
	qwen2Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|` +
		`\s*[\r\n]+|\s+(?!\S)|\s+`
	// llama3Pattern is Llama 3's Split regex (GGUF pre "llama-bpe"): digits in runs of up to 3.
	llama3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|` +
		` ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// knownPattern returns a hand-written matcher for the patterns above, nil for any other.
func knownPattern(expr string) matcher {
	switch expr {
	case gpt2Pattern:
		return gpt2Matcher{}
	case qwen2Pattern:
		return &splitMatcher{maxDigits: 1}
	case llama3Pattern:
		return &splitMatcher{maxDigits: 3}
	}
	return nil
}

// Character classes of the patterns: letter (\p{L}), number (\p{N}), whitespace (\s, the
// Unicode White_Space property as in Oniguruma and regexp2), anything else.
type charClass uint8

const (
	clsOther charClass = iota
	clsLetter
	clsNumber
	clsSpace
)

var asciiClass = func() (t [128]charClass) {
	for c := 0; c < 128; c++ {
		switch r := rune(c); {
		case unicode.IsLetter(r):
			t[c] = clsLetter
		case unicode.IsNumber(r):
			t[c] = clsNumber
		case unicode.IsSpace(r):
			t[c] = clsSpace
		}
	}
	return t
}()

// classAt returns the class and size of the character at s[i] (i < len(s)).
func classAt(s string, i int) (charClass, rune, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return asciiClass[c], rune(c), 1
	}
	r, size := utf8.DecodeRuneInString(s[i:])
	switch {
	case unicode.IsLetter(r):
		return clsLetter, r, size
	case unicode.IsNumber(r):
		return clsNumber, r, size
	case unicode.IsSpace(r):
		return clsSpace, r, size
	}
	return clsOther, r, size
}

// runOf returns the end of the run of characters of class cls starting at i.
func runOf(s string, i int, cls charClass) int {
	for i < len(s) {
		c, _, size := classAt(s, i)
		if c != cls {
			break
		}
		i += size
	}
	return i
}

// contraction returns the end of 's, 't, 're, 've, 'm, 'll or 'd at s[i] (s[i] == '\”),
// or -1. foldCase accepts ASCII upper case too, as the (?i:...) group of Qwen2 and Llama 3
// does in the reference tokenizers and llama.cpp.
func contraction(s string, i int, foldCase bool) int {
	lower := func(j int) byte {
		if j >= len(s) {
			return 0
		}
		c := s[j]
		if foldCase && c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		return c
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
	return -1
}

// spaceRun handles the three whitespace alternatives shared by all patterns at a whitespace
// character: \s+(?!\S) takes the run but leaves its last character to prefix the next word,
// unless the run ends the text; a single whitespace character before a word is \s+.
func spaceRun(s string, i int) int {
	j := runOf(s, i, clsSpace)
	if j == len(s) {
		return j
	}
	_, size := utf8.DecodeLastRuneInString(s[i:j])
	if j-size > i {
		return j - size
	}
	return j
}

// splitMatcher implements qwen2Pattern (maxDigits 1) and llama3Pattern (maxDigits 3), trying
// the alternatives in the regex's order at each position, as a backtracking engine would:
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d) | [^\r\n\p{L}\p{N}]?\p{L}+ | \p{N}{1,maxDigits} |
//	 ?[^\s\p{L}\p{N}]+[\r\n]* | \s*[\r\n]+ | \s+(?!\S) | \s+
//
// Some alternative always matches, so the matches tile the text.
type splitMatcher struct{ maxDigits int }

func (m *splitMatcher) findAll(s string, dst [][2]int) [][2]int {
	for i := 0; i < len(s); {
		end := m.matchAt(s, i)
		dst = append(dst, [2]int{i, end})
		i = end
	}
	return dst
}

func (m *splitMatcher) matchAt(s string, i int) int {
	cls, r, size := classAt(s, i)
	if r == '\'' {
		if e := contraction(s, i, true); e > 0 {
			return e
		}
	}
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if cls == clsLetter {
		return runOf(s, i+size, clsLetter)
	}
	if cls != clsNumber && r != '\r' && r != '\n' && i+size < len(s) {
		if nc, _, _ := classAt(s, i+size); nc == clsLetter {
			return runOf(s, i+size, clsLetter)
		}
	}
	// \p{N}{1,maxDigits}
	if cls == clsNumber {
		j := i + size
		for n := 1; n < m.maxDigits && j < len(s); n++ {
			c, _, sz := classAt(s, j)
			if c != clsNumber {
				break
			}
			j += sz
		}
		return j
	}
	//  ?[^\s\p{L}\p{N}]+[\r\n]*
	k := i
	if r == ' ' && i+1 < len(s) {
		k = i + 1
	}
	if kc, _, _ := classAt(s, k); kc == clsOther {
		j := runOf(s, k, clsOther)
		for j < len(s) && (s[j] == '\r' || s[j] == '\n') {
			j++
		}
		return j
	}
	// Only whitespace is left. \s*[\r\n]+ ends after the run's last line break, if any.
	j := runOf(s, i, clsSpace)
	for e := j; e > i; e-- {
		if s[e-1] == '\r' || s[e-1] == '\n' {
			return e
		}
	}
	return spaceRun(s, i)
}

// gpt2Matcher implements gpt2Pattern:
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
type gpt2Matcher struct{}

func (gpt2Matcher) findAll(s string, dst [][2]int) [][2]int {
	for i := 0; i < len(s); {
		end := gpt2MatchAt(s, i)
		dst = append(dst, [2]int{i, end})
		i = end
	}
	return dst
}

func gpt2MatchAt(s string, i int) int {
	cls, r, _ := classAt(s, i)
	if r == '\'' {
		if e := contraction(s, i, false); e > 0 {
			return e
		}
	}
	k, kc := i, cls
	if r == ' ' && i+1 < len(s) {
		if c, _, _ := classAt(s, i+1); c != clsSpace {
			k, kc = i+1, c // the optional space joins a following letter, number or symbol run
		}
	}
	if kc != clsSpace {
		return runOf(s, k, kc)
	}
	return spaceRun(s, i)
}
