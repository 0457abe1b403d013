package tokenizer

import (
	"fmt"
	"math"
	"sync"
	"unicode/utf8"
)

// byteToRune is GPT-2's bytes_to_unicode table: printable Latin-1 bytes stand for themselves,
// the others are moved to U+0100 upwards, so every byte has a visible, non-space character.
var (
	byteToRune [256]rune
	runeToByte = map[rune]byte{}
)

func init() {
	n := rune(0)
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			byteToRune[b] = rune(b)
		} else {
			byteToRune[b] = 256 + n
			n++
		}
		runeToByte[byteToRune[b]] = byte(b)
	}
}

// byteLevelString maps raw bytes to their byte-level characters.
func byteLevelString(s string) string {
	buf := make([]byte, 0, len(s)*2)
	for i := 0; i < len(s); i++ {
		buf = utf8.AppendRune(buf, byteToRune[s[i]])
	}
	return string(buf)
}

// merge is the outcome of merging an adjacent pair: its priority (lower first) and new id.
type merge struct {
	rank int32
	id   int32
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// bpeModel is tokenizers' BPE model. Merges are looked up by pair of ids; a piece's ids are
// cached because the same words recur constantly in real text.
type bpeModel struct {
	vocab        map[string]int32 // model vocabulary only (added tokens are split out earlier)
	merges       map[uint64]merge
	unk          int32 // -1: none
	fuseUnk      bool
	byteFallback bool
	byteIDs      [256]int32 // <0xNN> token ids for byte fallback, -1 if missing
	byteLevelIDs [256]int32 // ids of the byte-level characters, -1 if missing
	ignoreMerges bool

	mu    sync.RWMutex
	cache map[string][]int32
}

const (
	cacheMaxEntries = 1 << 16
	cacheMaxPiece   = 64 // bytes; longer pieces rarely repeat
	// Pieces up to this many symbols are merged by rescanning a rank array, which beats a
	// heap for the short words that make up nearly all text.
	smallPiece = 48
)

func newBPEModel(vocab map[string]int32, unk int32) *bpeModel {
	m := &bpeModel{vocab: vocab, merges: map[uint64]merge{}, unk: unk, cache: map[string][]int32{}}
	for b := 0; b < 256; b++ {
		m.byteIDs[b] = -1
		if id, ok := vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.byteIDs[b] = id
		}
		m.byteLevelIDs[b] = -1
		if id, ok := vocab[string(byteToRune[b])]; ok {
			m.byteLevelIDs[b] = id
		}
	}
	return m
}

// addMerge registers the merge of tokens a and b with the given rank. It fails if a, b or
// their concatenation is not in the vocabulary, as tokenizers does.
func (m *bpeModel) addMerge(a, b string, rank int) error {
	ia, ok := m.vocab[a]
	if !ok {
		return fmt.Errorf("merge %q %q: %q not in vocabulary", a, b, a)
	}
	ib, ok := m.vocab[b]
	if !ok {
		return fmt.Errorf("merge %q %q: %q not in vocabulary", a, b, b)
	}
	id, ok := m.vocab[a+b]
	if !ok {
		return fmt.Errorf("merge %q %q: %q not in vocabulary", a, b, a+b)
	}
	k := pairKey(ia, ib)
	if _, dup := m.merges[k]; !dup { // the first (lowest-ranked) occurrence wins
		m.merges[k] = merge{rank: int32(rank), id: id}
	}
	return nil
}

type bpeScratch struct {
	ids   []int32
	pos   []int32
	ranks []int32
	syms  []symbol
	heap  mergeHeap
}

// encode appends the ids of one pre-tokenized piece. With byteLevel the piece is raw text
// whose bytes map to byte-level characters; otherwise it is in vocabulary form already.
func (m *bpeModel) encode(piece string, byteLevel bool, out []int32, sc *bpeScratch) []int32 {
	if piece == "" {
		return out
	}
	cacheable := len(piece) <= cacheMaxPiece
	if cacheable {
		m.mu.RLock()
		ids, ok := m.cache[piece]
		m.mu.RUnlock()
		if ok {
			return append(out, ids...)
		}
	}
	start := len(out)
	out = m.encodeUncached(piece, byteLevel, out, sc)
	if cacheable {
		ids := append([]int32(nil), out[start:]...)
		m.mu.Lock()
		if len(m.cache) >= cacheMaxEntries {
			clear(m.cache) // crude, but bounded and cheap; hot pieces come back quickly
		}
		m.cache[piece] = ids
		m.mu.Unlock()
	}
	return out
}

func (m *bpeModel) encodeUncached(piece string, byteLevel bool, out []int32, sc *bpeScratch) []int32 {
	if m.ignoreMerges {
		tok := piece
		if byteLevel {
			tok = byteLevelString(piece)
		}
		if id, ok := m.vocab[tok]; ok {
			return append(out, id)
		}
	}
	// Initial symbols: one per byte (byte-level) or per character, with byte fallback or
	// the unknown token for characters the vocabulary lacks.
	ids, pos := sc.ids[:0], sc.pos[:0]
	if byteLevel {
		for i := 0; i < len(piece); i++ {
			id := m.byteLevelIDs[piece[i]]
			if id < 0 {
				ids, pos = m.unknown(ids, pos, int32(i))
				continue
			}
			ids, pos = append(ids, id), append(pos, int32(i))
		}
	} else {
		for i := 0; i < len(piece); {
			_, size := utf8.DecodeRuneInString(piece[i:])
			if id, ok := m.vocab[piece[i:i+size]]; ok {
				ids, pos = append(ids, id), append(pos, int32(i))
			} else if m.byteFallback && m.hasBytes(piece[i:i+size]) {
				for j := i; j < i+size; j++ {
					ids, pos = append(ids, m.byteIDs[piece[j]]), append(pos, int32(j))
				}
			} else {
				ids, pos = m.unknown(ids, pos, int32(i))
			}
			i += size
		}
	}
	sc.ids, sc.pos = ids, pos
	if len(ids) <= smallPiece {
		return append(out, m.mergeSmall(ids, sc)...)
	}
	return m.mergeHeap(ids, out, sc)
}

func (m *bpeModel) hasBytes(s string) bool {
	for i := 0; i < len(s); i++ {
		if m.byteIDs[s[i]] < 0 {
			return false
		}
	}
	return true
}

// unknown appends the unknown token, fused with a preceding one when fuse_unk is set. Without
// an unknown token the character is dropped (tokenizers would fail the whole encode).
func (m *bpeModel) unknown(ids, pos []int32, at int32) ([]int32, []int32) {
	if m.unk < 0 {
		return ids, pos
	}
	if m.fuseUnk && len(ids) > 0 && ids[len(ids)-1] == m.unk {
		return ids, pos
	}
	return append(ids, m.unk), append(pos, at)
}

// mergeSmall applies merges in rank order, leftmost first among equal ranks, keeping the rank
// of each adjacent pair in an array so that a merge only re-examines its two neighbours.
func (m *bpeModel) mergeSmall(ids []int32, sc *bpeScratch) []int32 {
	if len(ids) < 2 {
		return ids
	}
	ranks := sc.ranks[:0]
	for i := 0; i+1 < len(ids); i++ {
		ranks = append(ranks, m.rankOf(ids[i], ids[i+1]))
	}
	for {
		best, bi := int32(math.MaxInt32), -1
		for i, r := range ranks {
			if r < best {
				best, bi = r, i
			}
		}
		if bi < 0 {
			break
		}
		ids[bi] = m.merges[pairKey(ids[bi], ids[bi+1])].id
		ids = append(ids[:bi+1], ids[bi+2:]...)
		ranks = append(ranks[:bi], ranks[bi+1:]...)
		if bi > 0 {
			ranks[bi-1] = m.rankOf(ids[bi-1], ids[bi])
		}
		if bi < len(ranks) {
			ranks[bi] = m.rankOf(ids[bi], ids[bi+1])
		}
	}
	sc.ranks = ranks
	return ids
}

func (m *bpeModel) rankOf(a, b int32) int32 {
	if mg, ok := m.merges[pairKey(a, b)]; ok {
		return mg.rank
	}
	return math.MaxInt32
}

// symbol is a node of the doubly linked list the heap-based merge works on.
type symbol struct {
	id         int32
	prev, next int32
}

type mergeCand struct {
	rank        int32
	left, right int32 // symbol indices; left doubles as the position tie-breaker
	lid, rid    int32 // ids at push time, to detect stale candidates
}

// mergeHeap is a binary min-heap of merge candidates ordered by (rank, left position), written
// out rather than through container/heap to avoid boxing every candidate in an interface.
type mergeHeap []mergeCand

func (c mergeCand) before(d mergeCand) bool {
	return c.rank < d.rank || (c.rank == d.rank && c.left < d.left)
}

func (h *mergeHeap) push(c mergeCand) {
	*h = append(*h, c)
	a := *h
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if !a[i].before(a[p]) {
			break
		}
		a[i], a[p] = a[p], a[i]
		i = p
	}
}

func (h *mergeHeap) pop() mergeCand {
	a := *h
	top := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a = a[:n]
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && a[r].before(a[l]) {
			m = r
		}
		if !a[m].before(a[i]) {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	*h = a
	return top
}

// mergeHeap is the O(n log n) merge for long pieces (long words, whitespace runs, CJK runs).
func (m *bpeModel) mergeHeap(ids []int32, out []int32, sc *bpeScratch) []int32 {
	syms := sc.syms[:0]
	for i, id := range ids {
		syms = append(syms, symbol{id: id, prev: int32(i - 1), next: int32(i + 1)})
	}
	syms[len(syms)-1].next = -1
	h := sc.heap[:0]
	push := func(l int32) {
		r := syms[l].next
		if r < 0 {
			return
		}
		if mg, ok := m.merges[pairKey(syms[l].id, syms[r].id)]; ok {
			h.push(mergeCand{rank: mg.rank, left: l, right: r, lid: syms[l].id, rid: syms[r].id})
		}
	}
	for i := range syms {
		push(int32(i))
	}
	for len(h) > 0 {
		c := h.pop()
		l, r := c.left, c.right
		if syms[l].id != c.lid || syms[l].next != r || syms[r].id != c.rid {
			continue // stale: one side has merged since
		}
		syms[l].id = m.merges[pairKey(c.lid, c.rid)].id
		syms[l].next = syms[r].next
		if nx := syms[r].next; nx >= 0 {
			syms[nx].prev = l
		}
		syms[r].id = -1
		if p := syms[l].prev; p >= 0 {
			push(p)
		}
		push(l)
	}
	for i := int32(0); i >= 0; i = syms[i].next {
		out = append(out, syms[i].id)
	}
	sc.syms, sc.heap = syms, h
	return out
}
