package retrieve

import (
	"math"
	"slices"
	"sync"

	"github.com/arborlabs/arbor/memory/embed"
)

// BM25 parameters: the usual defaults (Robertson et al.; Lucene and Elasticsearch use the same).
const (
	BM25K1 = 1.2
	BM25B  = 0.75
)

// BM25 is an incremental keyword index over chunk texts, tokenized by embed.Words so that it
// agrees with the hashed embedder on what a word is.
//
// A term's weight in a document is
//
//	idf(t) * tf*(k1+1) / (tf + k1*(1 - b + b*len/avglen))
//	idf(t) = ln(1 + (N - df + 0.5)/(df + 0.5))
//
// (Lucene's idf, which never goes negative, so a very common word adds a little rather than
// subtracting). A query's score is the sum over its distinct terms. It is safe for
// concurrent use.
type BM25 struct {
	mu       sync.RWMutex
	slots    []bm25Doc        // documents by slot; removed ones are tombstoned
	bySlot   map[string]int32 // live document id -> slot
	postings map[string][]posting
	df       map[string]int // live documents containing the term
	totalLen int64          // sum of live document lengths
	dead     int
	scratch  sync.Pool // *bm25Scratch, one per concurrent search
}

// bm25Scratch is a search's reusable working memory: a score per slot and the slots
// touched. Pooled because at 200k documents a common query word touches most of them, and
// allocating both per search made the garbage collector a large share of the time.
type bm25Scratch struct {
	scores  []float64
	touched []int32
}

type bm25Doc struct {
	id    string
	len   int32
	terms []string // distinct terms, for Remove
	alive bool
}

type posting struct {
	slot int32
	tf   int32
}

// NewBM25 returns an empty index.
func NewBM25() *BM25 {
	return &BM25{bySlot: map[string]int32{}, postings: map[string][]posting{}, df: map[string]int{}}
}

// Len returns the number of documents.
func (x *BM25) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.bySlot)
}

// Add indexes text under docID, replacing any document already there.
func (x *BM25) Add(docID, text string) {
	words := embed.Words(text)
	tf := make(map[string]int32, len(words))
	for _, w := range words {
		tf[w]++
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.removeLocked(docID)
	slot := int32(len(x.slots))
	d := bm25Doc{id: docID, len: int32(len(words)), terms: make([]string, 0, len(tf)), alive: true}
	for t, n := range tf {
		d.terms = append(d.terms, t)
		x.postings[t] = append(x.postings[t], posting{slot, n})
		x.df[t]++
	}
	x.slots = append(x.slots, d)
	x.bySlot[docID] = slot
	x.totalLen += int64(d.len)
}

// Remove drops docID; it reports whether it was there.
func (x *BM25) Remove(docID string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.removeLocked(docID)
}

func (x *BM25) removeLocked(docID string) bool {
	slot, ok := x.bySlot[docID]
	if !ok {
		return false
	}
	d := &x.slots[slot]
	// Statistics change now; the postings keep the dead slot until compaction, and searches
	// skip it. That makes Remove cost the document's distinct terms, not the postings' length.
	for _, t := range d.terms {
		if x.df[t]--; x.df[t] == 0 {
			delete(x.df, t)
		}
	}
	x.totalLen -= int64(d.len)
	d.alive, d.terms = false, nil
	delete(x.bySlot, docID)
	x.dead++
	if x.dead > 1024 && x.dead > len(x.bySlot) {
		x.compactLocked()
	}
	return true
}

// compactLocked rebuilds the postings without dead slots, renumbering the live ones.
func (x *BM25) compactLocked() {
	remap := make([]int32, len(x.slots))
	live := x.slots[:0:0]
	for i, d := range x.slots {
		remap[i] = -1
		if d.alive {
			remap[i] = int32(len(live))
			x.bySlot[d.id] = int32(len(live))
			live = append(live, d)
		}
	}
	for t, ps := range x.postings {
		kept := ps[:0]
		for _, p := range ps {
			if s := remap[p.slot]; s >= 0 {
				kept = append(kept, posting{s, p.tf})
			}
		}
		if len(kept) == 0 {
			delete(x.postings, t)
		} else {
			x.postings[t] = kept
		}
	}
	x.slots = live
	x.dead = 0
}

// queryTerms returns the distinct words of a query, in first-seen order.
func queryTerms(q string) []string {
	words := embed.Words(q)
	seen := make(map[string]bool, len(words))
	out := words[:0]
	for _, w := range words {
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

func (x *BM25) idf(t string) float64 {
	n := float64(len(x.bySlot))
	df := float64(x.df[t])
	return math.Log(1 + (n-df+0.5)/(df+0.5))
}

// Search returns the k documents with the highest BM25 score for query, best first (ties
// by smaller id). Documents that share no term with the query are not returned.
func (x *BM25) Search(query string, k int) []Hit {
	terms := queryTerms(query)
	if k <= 0 || len(terms) == 0 {
		return nil
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	n := len(x.bySlot)
	if n == 0 {
		return nil
	}
	avg := float64(x.totalLen) / float64(n)
	// Scores accumulate in a dense array indexed by slot (faster than a map for common
	// terms with long postings); touched lists the slots to read back and clear.
	sc, _ := x.scratch.Get().(*bm25Scratch)
	if sc == nil {
		sc = new(bm25Scratch)
	}
	if len(sc.scores) < len(x.slots) {
		sc.scores = make([]float64, len(x.slots))
	}
	scores := sc.scores[:len(x.slots)]
	touched := sc.touched[:0]
	// termScore unrolled with the per-search constants hoisted: the denominator is
	// tf + k1(1-b) + (k1 b / avg) len.
	c0, c1 := BM25K1*(1-BM25B), BM25K1*BM25B/avg
	for _, t := range terms {
		ps := x.postings[t]
		if len(ps) == 0 {
			continue
		}
		num := x.idf(t) * (BM25K1 + 1)
		for _, p := range ps {
			d := &x.slots[p.slot]
			if !d.alive {
				continue
			}
			if scores[p.slot] == 0 {
				touched = append(touched, p.slot)
			}
			tf := float64(p.tf)
			scores[p.slot] += num * tf / (tf + c0 + c1*float64(d.len))
		}
	}
	top := topK{k: k, h: make([]Hit, 0, min(k, len(touched)))}
	for _, s := range touched {
		sc := scores[s]
		scores[s] = 0
		if len(top.h) == k && sc < top.h[0].Score {
			continue
		}
		top.offer(sc, x.slots[s].id)
	}
	sc.touched = touched
	x.scratch.Put(sc)
	return top.sorted()
}

// Score returns docID's BM25 score for query (0 if it shares no term), and whether docID
// is indexed.
func (x *BM25) Score(docID, query string) (float64, bool) {
	terms := queryTerms(query)
	x.mu.RLock()
	defer x.mu.RUnlock()
	slot, ok := x.bySlot[docID]
	if !ok {
		return 0, false
	}
	d := &x.slots[slot]
	avg := float64(x.totalLen) / float64(len(x.bySlot))
	var s float64
	for _, t := range terms {
		// Postings are in slot order (slots only grow, compaction keeps the order), so a
		// binary search finds the document without walking a common term's long list.
		ps := x.postings[t]
		if i, found := slices.BinarySearchFunc(ps, slot, func(p posting, s int32) int { return int(p.slot - s) }); found {
			s += termScore(x.idf(t), float64(ps[i].tf), float64(d.len), avg)
		}
	}
	return s, true
}

func termScore(idf, tf, dl, avg float64) float64 {
	return idf * tf * (BM25K1 + 1) / (tf + BM25K1*(1-BM25B+BM25B*dl/avg))
}
