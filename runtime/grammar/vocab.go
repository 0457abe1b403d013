package grammar

import (
	"bytes"
	"slices"
	"unicode/utf8"
)

// Vocab is a tokenizer's vocabulary as the grammar sees it: each token's raw bytes, arranged in
// a trie for mask computation. Build it once per tokenizer (NewVocab); it is immutable.
type Vocab struct {
	size  int
	bytes [][]byte
	eos   []int32
	isEOS []bool
	all   trie // every token with bytes
	// Tokens of plain string text (valid UTF-8, no '"', '\\' or control bytes) leave a free
	// string where it is: in that state they are all allowed (plainMask) and only the other
	// tokens need a walk (rest).
	plainMask []uint64
	rest      trie
	// plainUpTo[k-1]: the plain tokens of at most k characters (k up to maxPlainRunes).
	plainUpTo     [][]uint64
	maxPlainRunes int
	maxLen        int
}

// trie is a token trie in preorder: node i consumes byte[i] at depth[i] (1 = a token's first
// byte); its subtree ends before next[i]; the tokens whose bytes end there are
// ids[idLo[i]:idHi[i]].
type trie struct {
	tByte  []byte
	tDepth []uint16
	tNext  []uint32
	tIDLo  []uint32
	tIDHi  []uint32
	ids    []int32 // token ids sorted by their bytes
}

// NewVocab builds the vocabulary from each token's bytes (nil or empty: a special or control
// token, never allowed by a grammar) and the end-of-sequence ids (allowed once the value is
// complete).
func NewVocab(tokenBytes [][]byte, eos []int32) *Vocab {
	v := &Vocab{size: len(tokenBytes), bytes: tokenBytes, eos: slices.Clone(eos), isEOS: make([]bool, len(tokenBytes))}
	for _, e := range eos {
		if e >= 0 && int(e) < len(tokenBytes) {
			v.isEOS[e] = true
		}
	}
	v.plainMask = make([]uint64, v.MaskWords())
	var ids, rest []int32
	for id, b := range tokenBytes {
		if len(b) == 0 || v.isEOS[id] {
			continue
		}
		ids = append(ids, int32(id))
		v.maxLen = max(v.maxLen, len(b))
		if plainText(b) {
			v.plainMask[id/64] |= 1 << (uint(id) % 64)
		} else {
			rest = append(rest, int32(id))
		}
	}
	byRunes := map[int][]int32{}
	for id, b := range tokenBytes {
		if len(b) > 0 && !v.isEOS[id] && plainText(b) {
			n := utf8.RuneCount(b)
			byRunes[n] = append(byRunes[n], int32(id))
			v.maxPlainRunes = max(v.maxPlainRunes, n)
		}
	}
	words := v.MaskWords()
	flat := make([]uint64, words*v.maxPlainRunes)
	for k := 1; k <= v.maxPlainRunes; k++ {
		m := flat[(k-1)*words : k*words]
		if k > 1 {
			copy(m, v.plainUpTo[k-2])
		}
		for _, id := range byRunes[k] {
			m[id/64] |= 1 << (uint(id) % 64)
		}
		v.plainUpTo = append(v.plainUpTo, m)
	}
	v.all.build(ids, tokenBytes)
	v.rest.build(rest, tokenBytes)
	return v
}

func plainText(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c == '"' || c == '\\' {
			return false
		}
	}
	return utf8.Valid(b)
}

func (t *trie) build(ids []int32, tokenBytes [][]byte) {
	slices.SortFunc(ids, func(a, b int32) int {
		if c := bytes.Compare(tokenBytes[a], tokenBytes[b]); c != 0 {
			return c
		}
		return int(a - b)
	})
	t.ids = ids
	// Each token adds nodes for the bytes past its common prefix with the previous token.
	var path []int // node index at each depth-1 along the current token
	var prev []byte
	for k, id := range ids {
		tb := tokenBytes[id]
		common := 0
		for common < len(prev) && common < len(tb) && prev[common] == tb[common] {
			common++
		}
		if k > 0 && common == len(tb) && len(tb) == len(prev) {
			t.tIDHi[path[len(tb)-1]] = uint32(k + 1) // same bytes as the previous token
			continue
		}
		path = path[:common]
		for d := common; d < len(tb); d++ {
			t.tByte = append(t.tByte, tb[d])
			t.tDepth = append(t.tDepth, uint16(d+1))
			t.tNext = append(t.tNext, 0)
			t.tIDLo = append(t.tIDLo, 0)
			t.tIDHi = append(t.tIDHi, 0)
			path = append(path, len(t.tByte)-1)
		}
		last := path[len(tb)-1]
		t.tIDLo[last], t.tIDHi[last] = uint32(k), uint32(k+1)
		prev = tb
	}
	// next[i]: the first node after i's subtree, i.e. the next node at depth <= depth[i].
	n := len(t.tByte)
	var stack []int
	for i := 0; i < n; i++ {
		for len(stack) > 0 && t.tDepth[stack[len(stack)-1]] >= t.tDepth[i] {
			t.tNext[stack[len(stack)-1]] = uint32(i)
			stack = stack[:len(stack)-1]
		}
		stack = append(stack, i)
	}
	for _, s := range stack {
		t.tNext[s] = uint32(n)
	}
}

// Size is the number of token ids (the mask covers ids 0 to Size-1).
func (v *Vocab) Size() int { return v.size }

// MaskWords is the length of a mask bitset ([]uint64) for this vocabulary.
func (v *Vocab) MaskWords() int { return (v.size + 63) / 64 }

// TrieNodes is the number of nodes of the token trie.
func (v *Vocab) TrieNodes() int { return len(v.all.tByte) }

// Bytes returns a token's bytes (nil for special tokens).
func (v *Vocab) Bytes(id int32) []byte {
	if id < 0 || int(id) >= v.size {
		return nil
	}
	return v.bytes[id]
}
