package tokenizer

import (
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// A lower bound on the number of tokens of a text, from its length alone, lets a server refuse
// a prompt that cannot fit the context without tokenizing megabytes first. The argument:
//
//   - Encode splits the text into added tokens and sections between them; every section is
//     normalized, pre-tokenized into pieces and each piece is run through BPE. When no step drops
//     text (see tokenBound for the steps that may), every byte of the normalized sections ends
//     up in exactly one token, and every byte of the text outside them in an added token.
//   - A model token stands for at most as many bytes of normalized text as its vocabulary string
//     has bytes (a character of a piece is its own bytes, a Metaspace ▁ one space or nothing,
//     a <0xNN> byte-fallback token one byte). Under byte-level BPE each character of a token is
//     exactly one byte, so there its character count is the bound. An unknown token stands for
//     one character, at most 4 bytes. An added token stands for its content. The largest of all
//     these is maxBytes, L below.
//   - Normalizers may shrink text: Unicode normalization composes sequences and maps
//     compatibility characters to shorter ones, Lowercase maps the Kelvin sign (3 bytes) to k.
//     Each such step shrinks any text by at most a factor S (normShrink; the factors are checked
//     against every Unicode character in bound_test.go). A chain shrinks by at most the product.
//   - ASCII characters are left alone by those steps except where they start a composition with
//     the character after them, so an ASCII byte followed by an ASCII byte (or ending the text)
//     keeps its one byte whatever the normalizer; only the other bytes shrink by S. With A such
//     bytes in a text of B bytes, the normalized text has at least A + (B-A)/S bytes.
//
// So a text of B bytes has at least ceil((A + (B-A)/S) / L) tokens. Invalid UTF-8 does not
// weaken this: Encode first replaces each maximal invalid sequence (1 to 3 bytes) by U+FFFD,
// which is 3 bytes.
type tokenBound struct {
	maxBytes int // L; 0: no bound (a step may drop or swallow unbounded text)
	// The normalizer shrinks text by at most shrinkNum/shrinkDen (1/1: never).
	shrinkNum, shrinkDen int
	// asciiKept: every normalizer step keeps an ASCII byte followed by an ASCII byte.
	asciiKept bool
}

// MaxTokenBytes is the most bytes of input text one token of Encode's output can stand for,
// normalization included, or 0 when the tokenizer admits no such bound (a normalizer or
// pre-tokenizer that deletes text, added tokens that swallow the whitespace around them, or
// unknown characters that are dropped or fused). A text of B bytes has at least B divided by
// it (rounded up) tokens; MinTokens gives a tighter bound for mostly-ASCII text.
func (t *Tokenizer) MaxTokenBytes() int {
	b := t.bound
	if b.maxBytes == 0 {
		return 0
	}
	return (b.maxBytes*b.shrinkNum + b.shrinkDen - 1) / b.shrinkDen
}

// MinTokens is a lower bound on len(t.Encode(text)) (and on any encoding of text that splits it
// into parts encoded alone), computed in one pass over the bytes without tokenizing: a server
// can refuse a text that cannot fit a context without paying for its tokenization. It is 0
// when the tokenizer admits no bound (see MaxTokenBytes).
func (t *Tokenizer) MinTokens(text string) int {
	b := t.bound
	if b.maxBytes == 0 || text == "" {
		return 0
	}
	total := len(text)
	kept := 0
	if b.asciiKept && b.shrinkNum > b.shrinkDen {
		kept = keptASCII(text)
	}
	// (kept + (total-kept)/S) / L, rounded up, in integers: S = num/den.
	num := kept*b.shrinkNum + (total-kept)*b.shrinkDen
	den := b.shrinkNum * b.maxBytes
	return (num + den - 1) / den
}

// keptASCII counts the ASCII bytes followed by an ASCII byte or ending the text: those no
// normalizer step of asciiKept changes in length.
func keptASCII(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < utf8.RuneSelf && (i+1 == len(s) || s[i+1] < utf8.RuneSelf) {
			n++
		}
	}
	return n
}

// Shrink factors of the normalizers (checked by TestNormalizerShrink over all of Unicode):
// decomposition shrinks a character by at most 3 (U+212A KELVIN SIGN to K) canonically and 4
// (mathematical alphanumerics such as U+1D400 to A) by compatibility; canonical composition
// after it gives at most 7/2 in all (U+1FBE U+0308 U+0301, 7 bytes, to U+0390 ΐ, 2 bytes).
// Lowercase shrinks by at most 3 (the Kelvin sign to k).
var normFactors = map[norm.Form][2]int{
	norm.NFC:  {7, 2},
	norm.NFD:  {3, 1},
	norm.NFKC: {4, 1},
	norm.NFKD: {4, 1},
}

const lowercaseShrink = 3

// maxShrink caps the product of a normalizer chain's factors; a longer chain of shrinking steps
// than any real tokenizer has gets no bound rather than an overflow.
const maxShrink = 1 << 16

// normShrink returns the factor num/den by which n may shrink a text at most, whether every
// step keeps ASCII as keptASCII counts it, and ok false when n may shrink text without bound
// (Strip, a regex Replace, a Replace with empty content).
func normShrink(n normalizer) (num, den int, asciiKept, ok bool) {
	switch n := n.(type) {
	case nil:
		return 1, 1, true, true
	case unicodeNorm:
		f, known := normFactors[n.form]
		return f[0], f[1], true, known
	case lowercaseNorm:
		return lowercaseShrink, 1, true, true
	case prependNorm:
		return 1, 1, true, true
	case replaceNorm:
		r := n.r
		switch {
		case r.re != nil:
			return 0, 0, false, false
		case r.literal == "":
			return 1, 1, true, true // replaces nothing
		case r.content == "":
			return 0, 0, false, false
		case len(r.content) >= len(r.literal):
			return 1, 1, false, true // may turn kept ASCII into other bytes
		}
		return len(r.literal), len(r.content), false, true
	case stripNorm:
		if !n.left && !n.right {
			return 1, 1, true, true
		}
		return 0, 0, false, false
	case seqNorm:
		num, den, asciiKept = 1, 1, true
		for _, x := range n {
			xn, xd, xa, xok := normShrink(x)
			if !xok {
				return 0, 0, false, false
			}
			num, den, asciiKept = num*xn, den*xd, asciiKept && xa
			if num/den > maxShrink || den > maxShrink {
				return 0, 0, false, false
			}
		}
		return num, den, asciiKept, true
	}
	return 0, 0, false, false // a normalizer this analysis does not know
}

// preKeepsText reports whether every pre-tokenizer step keeps every byte of its input in some
// piece: splits that remove their matches or whitespace, and a Metaspace that replaces spaces
// with nothing, do not.
func preKeepsText(p *prePipeline) bool {
	for _, st := range p.steps {
		switch st := st.(type) {
		case *splitStep:
			if st.behavior == behRemoved {
				return false
			}
		case *metaspaceStep:
			if st.replacement == "" {
				return false
			}
		case *byteLevelStep, *digitsStep:
		default: // whitespaceSplitStep, or a step this analysis does not know
			return false
		}
	}
	return true
}

// computeBound works out the token bound once the tokenizer is built (see tokenBound).
func (t *Tokenizer) computeBound() tokenBound {
	num, den, asciiKept, ok := normShrink(t.normalizer)
	if !ok || t.model == nil || t.pre == nil || !preKeepsText(t.pre) {
		return tokenBound{}
	}
	m := t.model
	// Under a final ByteLevel step the model maps each byte of a piece to one symbol, so a
	// token's characters are the bytes it stands for. Otherwise (SentencePiece's ▁ words, or a
	// byte-level string built earlier in the pipeline) a token stands for at most its bytes.
	byteLevel := t.pre.byteLevel
	maxBytes := 1
	for tok := range m.vocab {
		n := len(tok)
		if byteLevel {
			n = utf8.RuneCountInString(tok)
		}
		maxBytes = max(maxBytes, n)
	}
	// Can a character miss the vocabulary? Then it becomes the unknown token (one character,
	// at most 4 bytes), unless there is none (the character is dropped) or unknowns are fused
	// (a run of any length is one token): no bound then.
	covered := true
	for b := range 256 {
		if byteLevel && m.byteLevelIDs[b] < 0 || !byteLevel && (!m.byteFallback || m.byteIDs[b] < 0) {
			covered = false
			break
		}
	}
	if !covered {
		if m.unk < 0 || m.fuseUnk {
			return tokenBound{}
		}
		maxBytes = max(maxBytes, utf8.UTFMax)
	}
	for _, a := range t.added {
		if a.LStrip || a.RStrip {
			return tokenBound{} // a match swallows the whitespace around it, however long
		}
		maxBytes = max(maxBytes, len(a.Content))
	}
	if t.normAdded != nil { // matched in normalized form, which may be longer
		for _, a := range t.normAdded.toks {
			maxBytes = max(maxBytes, len(a.Content))
		}
	}
	return tokenBound{maxBytes: maxBytes, shrinkNum: num, shrinkDen: den, asciiKept: asciiKept}
}
