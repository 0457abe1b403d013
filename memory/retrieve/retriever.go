package retrieve

import (
	"context"
	"fmt"
	"sync"
)

// Result is one retrieved chunk with the scores that placed it.
type Result struct {
	ID string
	// Cosine is the chunk's cosine similarity to the query vector (of the int8 vectors);
	// 0 when no query vector was given.
	Cosine float64
	// BM25 is the chunk's keyword score for the query text; 0 when it shares no word.
	BM25 float64
	// Fused is the reciprocal-rank-fusion score that orders the results.
	Fused float64
	// CosineRank and BM25Rank are the chunk's 1-based ranks in each candidate list, 0 where
	// it did not make that list.
	CosineRank, BM25Rank int
}

// Retriever is hybrid retrieval over one session's chunks: exact cosine search over int8
// vectors and BM25 over the texts, fused by reciprocal rank. It is safe for concurrent use.
type Retriever struct {
	mu      sync.RWMutex // orders Add/Remove against Search across both indexes
	vectors *VectorIndex
	words   *BM25
	// Depth is how many candidates each ranking contributes to fusion (at least k).
	// Deeper lists let a chunk that is second-tier in both rankings rise above one that
	// tops only one; 50 is plenty for k up to about 10.
	Depth int
}

// NewRetriever returns an empty retriever for vectors of dim components.
func NewRetriever(dim int) *Retriever {
	return &Retriever{vectors: NewVectorIndex(dim), words: NewBM25(), Depth: 50}
}

// Dim returns the vector width.
func (r *Retriever) Dim() int { return r.vectors.Dim() }

// Len returns the number of chunks.
func (r *Retriever) Len() int { return r.vectors.Len() }

// Add stores a chunk, replacing any chunk with the same id.
func (r *Retriever) Add(id, text string, vec []float32) error {
	if len(vec) != r.vectors.Dim() {
		return fmt.Errorf("retrieve: chunk %q has %d dimensions, want %d", id, len(vec), r.vectors.Dim())
	}
	q, scale := Quantize(vec)
	return r.AddQuantized(id, text, q, scale)
}

// AddQuantized stores a chunk whose vector is already int8 with a scale, as stored.
func (r *Retriever) AddQuantized(id, text string, q []int8, scale float32) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.vectors.AddQuantized(id, q, scale); err != nil {
		return err
	}
	r.words.Add(id, text)
	return nil
}

// Remove drops a chunk; it reports whether it was there.
func (r *Retriever) Remove(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	ok := r.vectors.Remove(id)
	r.words.Remove(id)
	return ok
}

// Search returns up to k chunks for a query, in fused order. Either half may be absent: an
// empty text skips BM25, a nil vector skips cosine, and the fusion then follows the other
// ranking alone. Every result carries both its cosine and its BM25 score, computed for it
// even when it made only one candidate list.
func (r *Retriever) Search(ctx context.Context, text string, vec []float32, k int) ([]Result, error) {
	if k <= 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	depth := max(r.Depth, k)
	r.mu.RLock()
	defer r.mu.RUnlock()
	var cosHits, kwHits []Hit
	// The keyword search runs beside the vector scan: on a large session both take
	// milliseconds, and the scan's own workers do not always keep every core busy.
	var wg sync.WaitGroup
	if text != "" {
		wg.Go(func() { kwHits = r.words.Search(text, depth) })
	}
	var err error
	if vec != nil {
		cosHits, err = r.vectors.Search(vec, depth)
	}
	wg.Wait()
	if err != nil {
		return nil, err
	}
	fused := Fuse(RRFK, ids(cosHits), ids(kwHits))
	fused = fused[:min(k, len(fused))]
	out := make([]Result, len(fused))
	for i, f := range fused {
		res := Result{ID: f.ID, Fused: f.Score, CosineRank: f.Ranks[0], BM25Rank: f.Ranks[1]}
		if res.CosineRank > 0 {
			res.Cosine = cosHits[res.CosineRank-1].Score
		} else if vec != nil {
			res.Cosine, _, _ = r.vectors.Cosine(f.ID, vec)
		}
		if res.BM25Rank > 0 {
			res.BM25 = kwHits[res.BM25Rank-1].Score
		} else if text != "" {
			res.BM25, _ = r.words.Score(f.ID, text)
		}
		out[i] = res
	}
	return out, nil
}

func ids(hits []Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.ID
	}
	return out
}
