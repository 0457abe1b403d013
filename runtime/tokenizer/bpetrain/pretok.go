package bpetrain

import (
	"sort"
	"strings"

	"github.com/arborlabs/arbor/runtime/tokenizer"
)

// Pattern is the pre-tokenizer regex written into tokenizer.json (a Split step, behavior
// Isolated): Qwen2/Qwen2.5/Qwen3's, which Arbor's tokenizer implements with a hand-written
// matcher, and which training splits with too (splitPieces): contractions, letter runs with at
// most one leading non-letter, non-digit character (usually a space), every number character
// on its own (\p{N} without a quantifier, so no merge can ever join two digits), punctuation
// runs with an optional leading space and trailing line breaks, and whitespace runs.
const Pattern = tokenizer.QwenPattern

// byteLevel returns the byte-level form of raw bytes: each byte becomes its table character.
func byteLevel(raw string) string { return tokenizer.ByteLevel(raw) }

// byteLevelDecode is what a ByteLevel decoder does with one token's text: if every character
// is in the table, the bytes they stand for; otherwise the text unchanged.
func byteLevelDecode(tok string) string {
	out, _ := tokenizer.FromByteLevel(tok)
	return out
}

// splitPieces calls fn with each match of Pattern in s, left to right; the matches cover s.
func splitPieces(s string, fn func(piece string)) { tokenizer.SplitQwen(s, fn) }

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
