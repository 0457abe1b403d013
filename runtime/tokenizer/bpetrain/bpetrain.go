// Package bpetrain trains a byte-level BPE tokenizer on a corpus and writes it as Hugging
// Face tokenizer.json and tokenizer_config.json files that Arbor's tokenizer package (and
// Hugging Face tokenizers) load.
//
// The tokenizer it makes is built like Qwen3's: text is first split on added tokens (the
// control tokens in Options.Specials and the whole strings in Options.Tokens), the rest is
// pre-tokenized with Pattern, which puts every digit in a piece of its own (so numbers are
// always tokenized digit by digit), each piece is mapped to GPT-2's byte-level characters and
// merged by the learned BPE merges. The base vocabulary holds all 256 bytes, so any text
// encodes and decodes back exactly.
//
// Training counts the distinct pieces of the corpus once and then repeatedly merges the most
// frequent adjacent pair of symbols, updating the pair counts only in the pieces that hold the
// merged pair (a max-heap with lazy deletion picks the next pair). Ties are broken by the pair's
// symbol ids, so the same corpus and options always give the same files.
package bpetrain

import (
	"container/heap"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// Options configures Train.
type Options struct {
	// VocabSize is the number of ids of the finished tokenizer: the 256 byte tokens, the
	// learned merges, Specials and Tokens together. Training stops earlier if no pair occurs
	// MinFrequency times any more (Result.Stats.StoppedEarly).
	VocabSize int
	// MinFrequency is the least number of occurrences of a pair worth a merge; 0 means 2.
	MinFrequency int
	// Specials are control tokens such as "<|im_start|>", "<|im_end|>", "<|endoftext|>",
	// "<tool_call>": added tokens with "special": true, which Arbor's EncodeText reads as plain
	// text. They get the ids right after the BPE vocabulary, in this order.
	Specials []string
	// Tokens are whole strings that must always be one token, such as the JSON keys
	// "\"answer\":". They are written as added tokens with "special": false, which Hugging
	// Face and Arbor match in the text before pre-tokenization (everywhere, including inside
	// data), and get the ids after Specials, in this order.
	Tokens []string
}

// Result is a trained tokenizer.
type Result struct {
	// Vocab holds the BPE tokens' raw bytes by id: ids 0-255 are the single bytes, the merges
	// follow. Specials and Tokens come after (ids len(Vocab)...).
	Vocab []string
	// Merges are the learned merges in rank order, as pairs of ids into Vocab.
	Merges [][2]int32
	// Specials and Tokens are as in Options.
	Specials, Tokens []string
	// Stats describes the training run.
	Stats Stats

	ids    map[string]int32  // raw bytes -> BPE id
	ranks  map[uint64]rankID // merge pair -> rank and merged id
	added  *addedSplitter
	addIDs map[string]int32
}

// Stats describes a training run.
type Stats struct {
	Texts          int   // texts read
	Bytes          int64 // bytes read
	Pieces         int64 // pre-tokenized pieces (outside added tokens)
	DistinctPieces int   // distinct pieces, the words BPE works on
	AddedMatches   int64 // occurrences of Specials and Tokens in the corpus
	Merges         int   // merges learned
	StoppedEarly   bool  // no pair reached MinFrequency before VocabSize was reached
}

type rankID struct{ rank, id int32 }

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// VocabSize is the number of ids: BPE tokens, Specials and Tokens.
func (r *Result) VocabSize() int { return len(r.Vocab) + len(r.Specials) + len(r.Tokens) }

// TokenText returns the text of id as it appears in tokenizer.json (byte-level characters
// for BPE tokens), or "" for an id out of range.
func (r *Result) TokenText(id int32) string {
	n := int32(len(r.Vocab))
	switch {
	case id < 0:
		return ""
	case id < n:
		return byteLevel(r.Vocab[id])
	case id < n+int32(len(r.Specials)):
		return r.Specials[id-n]
	case id < n+int32(len(r.Specials)+len(r.Tokens)):
		return r.Tokens[id-n-int32(len(r.Specials))]
	}
	return ""
}

// ID returns the id of an added token (a special or one of Tokens).
func (r *Result) ID(added string) (int32, bool) {
	id, ok := r.addIDs[added]
	return id, ok
}

// word is a distinct piece of the corpus as a sequence of symbol ids, with its count.
type word struct {
	syms []int32
	n    int64
}

// pairEntry is a heap entry: a pair and its count when pushed (stale if the count changed).
type pairEntry struct {
	n    int64
	a, b int32
}

type pairHeap []pairEntry

func (h pairHeap) Len() int { return len(h) }
func (h pairHeap) Less(i, j int) bool {
	if h[i].n != h[j].n {
		return h[i].n > h[j].n
	}
	if h[i].a != h[j].a {
		return h[i].a < h[j].a
	}
	return h[i].b < h[j].b
}
func (h pairHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pairHeap) Push(x any)   { *h = append(*h, x.(pairEntry)) }
func (h *pairHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// checkAdded validates Specials and Tokens.
func checkAdded(o Options) error {
	seen := map[string]bool{}
	for _, list := range [][]string{o.Specials, o.Tokens} {
		for _, s := range list {
			switch {
			case s == "":
				return errors.New("bpetrain: empty added token")
			case !utf8.ValidString(s):
				return fmt.Errorf("bpetrain: added token %q is not valid UTF-8", s)
			case seen[s]:
				return fmt.Errorf("bpetrain: added token %q listed twice", s)
			case byteLevelDecode(s) != s:
				// A ByteLevel decoder would turn the token's characters into other bytes.
				return fmt.Errorf("bpetrain: added token %q does not survive byte-level decoding "+
					"(it is made only of byte-level characters such as Ġ)", s)
			}
			seen[s] = true
		}
	}
	return nil
}

// Train learns a byte-level BPE vocabulary from texts.
func Train(texts iter.Seq[string], o Options) (*Result, error) {
	if err := checkAdded(o); err != nil {
		return nil, err
	}
	nAdded := len(o.Specials) + len(o.Tokens)
	target := o.VocabSize - nAdded // BPE tokens wanted
	if target < 256 {
		return nil, fmt.Errorf("bpetrain: VocabSize %d is less than 256 bytes + %d added tokens", o.VocabSize, nAdded)
	}
	minFreq := int64(o.MinFrequency)
	if minFreq <= 0 {
		minFreq = 2
	}
	r := &Result{Specials: slices.Clone(o.Specials), Tokens: slices.Clone(o.Tokens)}
	r.initAdded()

	// Count the distinct pieces.
	counts := map[string]int64{}
	for text := range texts {
		text = strings.ToValidUTF8(text, "\uFFFD")
		r.Stats.Texts++
		r.Stats.Bytes += int64(len(text))
		r.added.split(text, func(seg string, id int32) {
			if id >= 0 {
				r.Stats.AddedMatches++
				return
			}
			splitPieces(seg, func(p string) {
				counts[p]++
				r.Stats.Pieces++
			})
		})
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	r.Stats.DistinctPieces = len(keys)

	r.Vocab = make([]string, 256, target)
	r.ids = make(map[string]int32, target)
	for b := range 256 {
		r.Vocab[b] = string([]byte{byte(b)})
		r.ids[r.Vocab[b]] = int32(b)
	}

	words := make([]word, len(keys))
	pairs := map[uint64]int64{}   // current count of each pair
	where := map[uint64][]int32{} // words that hold (or held) each pair
	for wi, k := range keys {
		syms := make([]int32, len(k))
		for i := 0; i < len(k); i++ {
			syms[i] = int32(k[i])
		}
		n := counts[k]
		words[wi] = word{syms, n}
		for i := 0; i+1 < len(syms); i++ {
			key := pairKey(syms[i], syms[i+1])
			pairs[key] += n
			if l := where[key]; len(l) == 0 || l[len(l)-1] != int32(wi) {
				where[key] = append(l, int32(wi))
			}
		}
	}
	h := make(pairHeap, 0, len(pairs))
	for key, n := range pairs {
		h = append(h, pairEntry{n, int32(key >> 32), int32(uint32(key))})
	}
	heap.Init(&h)

	seen := make([]int32, len(words)) // merge number+1 at which a word was last visited
	delta := map[uint64]int64{}
	for len(r.Vocab) < target {
		if h.Len() == 0 {
			r.Stats.StoppedEarly = true
			break
		}
		e := heap.Pop(&h).(pairEntry)
		key := pairKey(e.a, e.b)
		if pairs[key] != e.n {
			continue // stale
		}
		if e.n < minFreq {
			r.Stats.StoppedEarly = true
			break
		}
		s := r.Vocab[e.a] + r.Vocab[e.b]
		id, ok := r.ids[s]
		if !ok {
			id = int32(len(r.Vocab))
			r.Vocab = append(r.Vocab, s)
			r.ids[s] = id
		}
		r.Merges = append(r.Merges, [2]int32{e.a, e.b})
		stamp := int32(len(r.Merges))

		clear(delta)
		for _, wi := range where[key] {
			if seen[wi] == stamp {
				continue
			}
			seen[wi] = stamp
			w := &words[wi]
			if !hasPair(w.syms, e.a, e.b) {
				continue
			}
			for i := 0; i+1 < len(w.syms); i++ {
				delta[pairKey(w.syms[i], w.syms[i+1])] -= w.n
			}
			w.syms = mergePair(w.syms, e.a, e.b, id)
			for i := 0; i+1 < len(w.syms); i++ {
				k := pairKey(w.syms[i], w.syms[i+1])
				delta[k] += w.n
				if w.syms[i] == id || w.syms[i+1] == id {
					if l := where[k]; len(l) == 0 || l[len(l)-1] != wi {
						where[k] = append(l, wi)
					}
				}
			}
		}
		delete(where, key)
		for k, d := range delta {
			if d == 0 {
				continue
			}
			n := pairs[k] + d
			if n <= 0 {
				delete(pairs, k)
				continue
			}
			pairs[k] = n
			heap.Push(&h, pairEntry{n, int32(k >> 32), int32(uint32(k))})
		}
	}
	r.Stats.Merges = len(r.Merges)
	r.initRanks()
	return r, nil
}

func hasPair(syms []int32, a, b int32) bool {
	for i := 0; i+1 < len(syms); i++ {
		if syms[i] == a && syms[i+1] == b {
			return true
		}
	}
	return false
}

// mergePair replaces the non-overlapping occurrences of a b, left to right, with id, in place.
func mergePair(syms []int32, a, b, id int32) []int32 {
	out := syms[:0]
	for i := 0; i < len(syms); i++ {
		if i+1 < len(syms) && syms[i] == a && syms[i+1] == b {
			out = append(out, id)
			i++
			continue
		}
		out = append(out, syms[i])
	}
	return out
}

// initAdded numbers the added tokens from len(r.Vocab) on (during training, before the
// vocabulary is known, their ids only need to be >= 0) and builds their splitter.
func (r *Result) initAdded() {
	base := int32(len(r.Vocab))
	r.addIDs = map[string]int32{}
	var toks []addedTok
	for i, s := range append(slices.Clone(r.Specials), r.Tokens...) {
		toks = append(toks, addedTok{s, base + int32(i)})
		r.addIDs[s] = base + int32(i)
	}
	r.added = newAddedSplitter(toks)
}

// initRanks indexes the merges for Encode, once training is done.
func (r *Result) initRanks() {
	r.ranks = make(map[uint64]rankID, len(r.Merges))
	for i, m := range r.Merges {
		k := pairKey(m[0], m[1])
		if _, dup := r.ranks[k]; !dup {
			r.ranks[k] = rankID{int32(i), r.ids[r.Vocab[m[0]]+r.Vocab[m[1]]]}
		}
	}
	r.initAdded() // now with the final ids
}
