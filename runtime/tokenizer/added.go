package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// addedMatcher finds added tokens in text: leftmost match first, the longest token at that
// position winning, as tokenizers' Aho-Corasick (LeftmostLongest) splitter does.
type addedMatcher struct {
	nodes []trieNode
	first [256]bool // bytes that can start a token, to skip ahead quickly
	toks  []addedToken
}

type trieNode struct {
	next map[byte]int32
	tok  int32 // index into toks, -1 if no token ends here
}

func newAddedMatcher(toks []addedToken) *addedMatcher {
	if len(toks) == 0 {
		return nil
	}
	m := &addedMatcher{nodes: []trieNode{{tok: -1}}, toks: toks}
	for i, tk := range toks {
		if tk.Content == "" {
			continue
		}
		n := int32(0)
		for j := 0; j < len(tk.Content); j++ {
			b := tk.Content[j]
			nx, ok := m.nodes[n].next[b]
			if !ok {
				if m.nodes[n].next == nil {
					m.nodes[n].next = make(map[byte]int32)
				}
				nx = int32(len(m.nodes))
				m.nodes = append(m.nodes, trieNode{tok: -1})
				m.nodes[n].next[b] = nx
			}
			n = nx
		}
		m.nodes[n].tok = int32(i)
		m.first[tk.Content[0]] = true
	}
	return m
}

// longest returns the index of the longest token that starts at text[i:], or -1.
func (m *addedMatcher) longest(text string, i int) (tok int32, end int) {
	tok, end = -1, i
	n := int32(0)
	for j := i; j < len(text); j++ {
		nx, ok := m.nodes[n].next[text[j]]
		if !ok {
			break
		}
		n = nx
		if t := m.nodes[n].tok; t >= 0 {
			tok, end = t, j+1
		}
	}
	return tok, end
}

// split calls fn for each stretch of text in order: added tokens with their id, the text
// between them with id -1 (never empty). start is the stretch's byte offset in text (the
// stretch at 0 starts the text, which Metaspace's prepend_scheme "first" needs to know).
//
// asText, when not nil, is asked about each special token found at text[i:end]; when it says
// yes the match is passed over and its text stays in the surrounding stretch, as tokenizers
// does for special tokens under encode_special_tokens (split_special_tokens in transformers):
// the search goes on after the match, so no other added token is matched inside it. A nil
// matcher passes the text through.
func (m *addedMatcher) split(text string, asText func(i, end int) bool, fn func(seg string, id int32, start int)) {
	if m == nil {
		if text != "" {
			fn(text, -1, 0)
		}
		return
	}
	start := 0 // start of the pending plain text
	for i := 0; i < len(text); {
		if !m.first[text[i]] {
			i++
			continue
		}
		ti, end := m.longest(text, i)
		if ti < 0 {
			i++
			continue
		}
		tk := &m.toks[ti]
		if tk.Special && asText != nil && asText(i, end) {
			i = end
			continue
		}
		if tk.SingleWord && !m.singleWordOK(text, i, end) {
			// tokenizers drops such a match and moves on one character.
			i++
			continue
		}
		mstart, mend := i, end
		if tk.LStrip {
			for mstart > start {
				r, size := utf8.DecodeLastRuneInString(text[start:mstart])
				if !unicode.IsSpace(r) {
					break
				}
				mstart -= size
			}
		}
		if tk.RStrip {
			for mend < len(text) {
				r, size := utf8.DecodeRuneInString(text[mend:])
				if !unicode.IsSpace(r) {
					break
				}
				mend += size
			}
		}
		if mstart > start {
			fn(text[start:mstart], -1, start)
		}
		fn(tk.Content, tk.ID, mstart)
		start, i = mend, mend
	}
	if start < len(text) {
		fn(text[start:], -1, start)
	}
}

// singleWordOK reports whether text[i:end] is not glued to word characters on either side.
func (m *addedMatcher) singleWordOK(text string, i, end int) bool {
	isWord := func(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }
	if i > 0 {
		r, _ := utf8.DecodeLastRuneInString(text[:i])
		if isWord(r) {
			return false
		}
	}
	if end < len(text) {
		r, _ := utf8.DecodeRuneInString(text[end:])
		if isWord(r) {
			return false
		}
	}
	return true
}
