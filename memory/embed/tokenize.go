package embed

import (
	"strings"
	"unicode"
)

// Words splits text into lowercased words: maximal runs of letters, digits and combining
// marks (marks keep words in scripts such as Devanagari or decomposed Latin whole).
// Everything else separates words. The hashed embedder and the BM25 index both use it, so
// the keyword and vector rankings agree on what a word is.
//
// Scripts written without spaces (Chinese, Japanese) come out as one word per run; the
// embedder's character n-grams still match inside such runs.
func Words(text string) []string {
	return AppendWords(nil, text)
}

// AppendWords appends the words of text to dst and returns it; see Words.
func AppendWords(dst []string, text string) []string {
	lower := strings.ToLower(text)
	start := -1
	for i, r := range lower {
		if isWordRune(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			dst = append(dst, lower[start:i])
			start = -1
		}
	}
	if start >= 0 {
		dst = append(dst, lower[start:])
	}
	return dst
}

func isWordRune(r rune) bool {
	if r < 0x80 {
		// ASCII fast path: most chat text is mostly ASCII.
		return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r >= 'A' && r <= 'Z'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}
