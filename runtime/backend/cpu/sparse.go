package cpu

import (
	"fmt"
	"math"

	"github.com/arborlabs/arbor/runtime/backend"
	"github.com/arborlabs/arbor/runtime/sparse"
)

// sparseSeq is the DELTA state of one decode token that attends sparsely in this step: the
// pages the latest select layer picked, and the buffers that layer's scores go through. It
// lives for one Forward: selection is redone at every step, at every select layer.
type sparseSeq struct {
	cfg    *sparse.Config
	forced []int32 // SparsePages: replaces the picks when set
	n      int     // context slots of the token (its slot + 1)
	pages  int     // logical pages of those slots
	picked []int32 // logical pages the sparse layers attend to; empty until a select layer ran
	// tokMax[g*n+j]: the largest probability the query heads of KV head g give slot j (0 for a
	// slot outside a sliding window), written by the select layer's attention items, reduced
	// over g into page scores.
	tokMax []float32
	scores []float32
}

// prepareSparse decides, for each token of the step, whether it attends sparsely, and
// resets the state of those that do. Only a sequence's single decode token whose slots fill
// more pages than a selection keeps does. Under a model's sliding window, select layers
// score the window's slots (the others score 0) and sparse layers read the picked pages'
// slots inside the window.
func (b *Backend) prepareSparse(batch *backend.Batch) {
	b.tokSparse = grow(b.tokSparse, len(b.tokSeq))
	for i := range b.tokSparse {
		b.tokSparse[i] = -1
	}
	b.nSparse = 0
	t := 0
	for si := range batch.Seqs {
		s := &batch.Seqs[si]
		t += len(s.Tokens)
		n := s.Start + 1
		if s.Sparse == nil || len(s.Tokens) != 1 || !s.Sparse.Active(n, b.pageSize) {
			continue
		}
		if b.nSparse == len(b.sparse) {
			b.sparse = append(b.sparse, sparseSeq{})
		}
		sp := &b.sparse[b.nSparse]
		pages := (n + b.pageSize - 1) / b.pageSize
		*sp = sparseSeq{
			cfg: s.Sparse, forced: s.SparsePages, n: n, pages: pages, picked: sp.picked[:0],
			tokMax: growDoubling(sp.tokMax, b.cfg.NumKVHeads*n), scores: growDoubling(sp.scores, pages),
		}
		b.tokSparse[t-1] = int32(b.nSparse)
		b.nSparse++
	}
}

// checkSparsePages validates forced selections: ascending logical pages of the sequence.
func (b *Backend) checkSparsePages(batch *backend.Batch) error {
	for si := range batch.Seqs {
		s := &batch.Seqs[si]
		pages := (s.Start + len(s.Tokens) + b.pageSize - 1) / b.pageSize
		for i, p := range s.SparsePages {
			if p < 0 || int(p) >= pages || (i > 0 && p <= s.SparsePages[i-1]) {
				return fmt.Errorf("%w: sequence %d: sparse pages must ascend within its %d pages (page %d at %d)",
					backend.ErrBadBatch, si, pages, p, i)
			}
		}
	}
	return nil
}

// sparseRows fills rows with the cache offsets (for KV head g) of the slots a sparse token
// attends to in layer mode m, and returns how many; ok is false where it attends to its
// whole context (a dense token, sp nil; full and select layers; a sparse layer with no pick
// yet).
func (b *Backend) sparseRows(sp *sparseSeq, m sparse.Mode, pages []int32, g int, rows []int32) (int, bool) {
	if sp == nil || m != sparse.Sparse {
		return 0, false
	}
	picked := sp.picked
	if sp.forced != nil {
		picked = sp.forced
	}
	if len(picked) == 0 {
		return 0, false
	}
	hd := b.cfg.HeadDim
	first := b.windowStart(sp.n - 1)
	n := 0
	for _, p := range picked {
		lo := int(p) * b.pageSize
		hi := min(lo+b.pageSize, sp.n)
		if lo < first {
			lo = min(first, hi)
		}
		b.slotRows(pages, lo, hi, g*hd, rows[n:])
		n += hi - lo
	}
	return n, true
}

// selectPages runs after a select layer's attention: each sparse token's page scores (the
// sum over a page's slots of the largest probability any query head gives the slot) and its
// picks for the sparse layers above.
func (b *Backend) selectPages(li int) {
	kvh := b.cfg.NumKVHeads
	for i := range b.nSparse {
		sp := &b.sparse[i]
		if sp.cfg.Layers[li] != sparse.Select {
			continue
		}
		sparse.PageScores(sp.tokMax, kvh, sp.n, sp.n, b.pageSize, sp.scores)
		sp.picked = sp.cfg.Pick(sp.scores, sp.pages, sp.picked)
	}
}

// windowStart is the first slot a token at slot may attend to under the model's sliding
// window (0 without one).
func (b *Backend) windowStart(slot int) int {
	if w := b.cfg.SlidingWindow; w > 0 && slot-w+1 > 0 {
		return slot - w + 1
	}
	return 0
}

// slotMax sets dst[j] to the largest of the group heads' probabilities for slot j.
func slotMax(probs []float32, group, n int, dst []float32) {
	copy(dst[:n], probs[:n])
	for h := 1; h < group; h++ {
		row := probs[h*n : (h+1)*n]
		j := 0
		if hasAVX2 && n >= 8 {
			j = n &^ 7
			maxIntoAVX2(&dst[0], &row[0], j)
		} else if hasNEON && n >= 8 {
			j = n &^ 7
			maxIntoNEON(&dst[0], &row[0], j)
		}
		for ; j < n; j++ {
			dst[j] = max(dst[j], row[j])
		}
	}
}

// probeLayer reports layer li's attention of each sequence's last new token to the probe:
// the full attention's probabilities of every query head over its context, recomputed here
// from the cache (analysis only, so plain loops), whatever the layer attended to.
func (b *Backend) probeLayer(li int, l *layer) {
	cfg := &b.cfg
	hd, kvh := cfg.HeadDim, cfg.NumKVHeads
	group := cfg.NumHeads / kvh
	scale := float32(1 / math.Sqrt(float64(hd)))
	key := make([]float32, hd)
	t := 0
	for si := range b.batch.Seqs {
		s := &b.batch.Seqs[si]
		t += len(s.Tokens)
		last := t - 1
		slot := int(b.tokSlot[last])
		first := b.windowStart(slot)
		n := slot + 1 - first
		probs := make([]float32, cfg.NumHeads*n)
		for j := 0; j < n; j++ {
			off := b.slotOffset(s.Pages, first+j)
			for g := 0; g < kvh; g++ {
				l.kCache.load(off+g*hd, key)
				for h := g * group; h < (g+1)*group; h++ {
					probs[h*n+j] = dot(key, b.q[last*b.qDim+h*hd:last*b.qDim+(h+1)*hd]) * scale
				}
			}
		}
		for h := 0; h < cfg.NumHeads; h++ {
			softmaxInPlace(probs[h*n : (h+1)*n])
		}
		ev := backend.AttentionProbe{Layer: li, Seq: si, Heads: cfg.NumHeads, First: first, N: n, Probs: probs}
		if s.Sparse != nil {
			ev.Mode = s.Sparse.Layers[li]
		}
		if k := b.tokSparse[last]; k >= 0 && ev.Mode == sparse.Sparse {
			sp := &b.sparse[k]
			ev.Picked = sp.picked
			if sp.forced != nil {
				ev.Picked = sp.forced
			}
		}
		b.probe(&ev)
	}
}

// SetAttentionProbe implements backend.AttentionProber.
func (b *Backend) SetAttentionProbe(fn func(*backend.AttentionProbe)) { b.probe = fn }

var _ backend.AttentionProber = (*Backend)(nil)

// growDoubling is grow for buffers that follow a decode's context, one slot longer each step:
// they double, so that steps do not reallocate.
func growDoubling[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n, max(n, 2*cap(s)))
	}
	return s[:n]
}

// AttentionTime is the wall time the attention of a backend's layers took since it was made
// (scores, softmax, weighted values and, in select layers, the picks), by the layer's mode
// for the step's sparse tokens: a layer of a step with no token attending sparsely counts as
// full. Benchmarks compare a sparse layer's time with a full one's.
type AttentionTime struct {
	Layers [3]int64 // layer passes, by sparse.Mode
	Nanos  [3]int64
}

// AttentionTime returns the attention time so far.
func (b *Backend) AttentionTime() AttentionTime { return b.attnTime }
