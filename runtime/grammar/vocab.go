package grammar

import (
	"bytes"
	"slices"
)

// Vocab is a tokenizer's vocabulary as the grammar sees it: each token's raw bytes, arranged in
// a trie for mask computation. Build it once per tokenizer (NewVocab); it is immutable.
type Vocab struct {
	size  int
	bytes [][]byte
	eos   []int32
	isEOS []bool
	// The trie in preorder: node i consumes byte[i] at depth[i] (1 = a token's first byte);
	// its subtree ends before next[i]; tokens whose bytes end here are ids[idLo[i]:idHi[i]].
	tByte  []byte
	tDepth []uint16
	tNext  []uint32
	tIDLo  []uint32
	tIDHi  []uint32
	ids    []int32 // token ids sorted by their bytes
	maxLen int
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
	for id, b := range tokenBytes {
		if len(b) > 0 && !v.isEOS[id] {
			v.ids = append(v.ids, int32(id))
		}
	}
	slices.SortFunc(v.ids, func(a, b int32) int {
		if c := bytes.Compare(tokenBytes[a], tokenBytes[b]); c != 0 {
			return c
		}
		return int(a - b)
	})
	// Preorder trie from the sorted token list: each token adds nodes for the bytes past its
	// common prefix with the previous token.
	var path []int // node index at each depth-1 along the current token
	var prev []byte
	for k, id := range v.ids {
		tb := tokenBytes[id]
		common := 0
		for common < len(prev) && common < len(tb) && prev[common] == tb[common] {
			common++
		}
		if common == len(tb) && len(tb) == len(prev) {
			// Same bytes as the previous token: extend its id range.
			v.tIDHi[path[len(tb)-1]] = uint32(k + 1)
			continue
		}
		path = path[:common]
		for d := common; d < len(tb); d++ {
			v.tByte = append(v.tByte, tb[d])
			v.tDepth = append(v.tDepth, uint16(d+1))
			v.tNext = append(v.tNext, 0)
			v.tIDLo = append(v.tIDLo, 0)
			v.tIDHi = append(v.tIDHi, 0)
			path = append(path, len(v.tByte)-1)
		}
		last := path[len(tb)-1]
		v.tIDLo[last], v.tIDHi[last] = uint32(k), uint32(k+1)
		prev = tb
		v.maxLen = max(v.maxLen, len(tb))
	}
	// next[i]: the first node after i's subtree, i.e. the next node at depth <= depth[i].
	n := len(v.tByte)
	var stack []int
	for i := 0; i < n; i++ {
		for len(stack) > 0 && v.tDepth[stack[len(stack)-1]] >= v.tDepth[i] {
			v.tNext[stack[len(stack)-1]] = uint32(i)
			stack = stack[:len(stack)-1]
		}
		stack = append(stack, i)
	}
	for _, s := range stack {
		v.tNext[s] = uint32(n)
	}
	return v
}

// Size is the number of token ids (the mask covers ids 0 to Size-1).
func (v *Vocab) Size() int { return v.size }

// MaskWords is the length of a mask bitset ([]uint64) for this vocabulary.
func (v *Vocab) MaskWords() int { return (v.size + 63) / 64 }

// TrieNodes is the number of nodes of the token trie.
func (v *Vocab) TrieNodes() int { return len(v.tByte) }

// Bytes returns a token's bytes (nil for special tokens).
func (v *Vocab) Bytes(id int32) []byte {
	if id < 0 || int(id) >= v.size {
		return nil
	}
	return v.bytes[id]
}
