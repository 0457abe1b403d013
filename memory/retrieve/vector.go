package retrieve

import (
	"container/heap"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
)

// Hit is one ranked result: a chunk id and its score.
type Hit struct {
	ID    string
	Score float64
}

// better orders hits: higher score first, then the smaller id, so that ties rank the same
// way whatever order chunks were added or removed in.
func better(a, b Hit) bool {
	if a.Score != b.Score {
		return a.Score > b.Score
	}
	return a.ID < b.ID
}

// VectorIndex holds one session's chunk vectors as int8 with a scale each and answers
// exact cosine top-K queries. Vectors are stored in one flat slice, chunk after chunk, so a
// search streams through memory. It is safe for concurrent use; searches run in parallel
// with each other.
type VectorIndex struct {
	mu     sync.RWMutex
	dim    int
	ids    []string
	pos    map[string]int
	q      []int8    // len(ids)*dim values
	scales []float32 // max-abs scale of each vector, kept for callers that dequantize
	inv    []float64 // 1/sqrt(sum q^2) of each quantized vector, 0 for a zero vector
}

// NewVectorIndex returns an empty index of vectors of dim components.
func NewVectorIndex(dim int) *VectorIndex {
	return &VectorIndex{dim: dim, pos: map[string]int{}}
}

// Dim returns the vector width.
func (x *VectorIndex) Dim() int { return x.dim }

// Len returns the number of vectors.
func (x *VectorIndex) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.ids)
}

// Add quantizes vec and stores it under id, replacing any vector already there.
func (x *VectorIndex) Add(id string, vec []float32) error {
	if len(vec) != x.dim {
		return fmt.Errorf("retrieve: vector of %d dimensions, index has %d", len(vec), x.dim)
	}
	q, scale := Quantize(vec)
	return x.AddQuantized(id, q, scale)
}

// AddQuantized stores an already quantized vector (as the storage layer keeps them) under
// id, replacing any vector already there. q is copied.
func (x *VectorIndex) AddQuantized(id string, q []int8, scale float32) error {
	if len(q) != x.dim {
		return fmt.Errorf("retrieve: vector of %d dimensions, index has %d", len(q), x.dim)
	}
	if id == "" {
		return errors.New("retrieve: empty chunk id")
	}
	var inv float64
	if ss := sumSquares(q); ss > 0 {
		inv = 1 / math.Sqrt(float64(ss))
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if p, ok := x.pos[id]; ok {
		copy(x.q[p*x.dim:(p+1)*x.dim], q)
		x.scales[p], x.inv[p] = scale, inv
		return nil
	}
	x.pos[id] = len(x.ids)
	x.ids = append(x.ids, id)
	x.q = append(x.q, q...)
	x.scales = append(x.scales, scale)
	x.inv = append(x.inv, inv)
	return nil
}

// Remove drops id's vector; it reports whether there was one. The last vector moves into
// the hole, so removal is O(dim).
func (x *VectorIndex) Remove(id string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	p, ok := x.pos[id]
	if !ok {
		return false
	}
	last := len(x.ids) - 1
	if p != last {
		copy(x.q[p*x.dim:(p+1)*x.dim], x.q[last*x.dim:(last+1)*x.dim])
		x.ids[p], x.scales[p], x.inv[p] = x.ids[last], x.scales[last], x.inv[last]
		x.pos[x.ids[p]] = p
	}
	delete(x.pos, id)
	x.ids = x.ids[:last]
	x.q = x.q[:last*x.dim]
	x.scales = x.scales[:last]
	x.inv = x.inv[:last]
	return true
}

// Vector returns a copy of id's quantized vector and its scale.
func (x *VectorIndex) Vector(id string) (q []int8, scale float32, ok bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	p, ok := x.pos[id]
	if !ok {
		return nil, 0, false
	}
	return append([]int8(nil), x.q[p*x.dim:(p+1)*x.dim]...), x.scales[p], true
}

// query is a quantized query vector with its inverse norm.
type query struct {
	q   []int8
	inv float64
}

func (x *VectorIndex) prepare(vec []float32) (query, error) {
	if len(vec) != x.dim {
		return query{}, fmt.Errorf("retrieve: query of %d dimensions, index has %d", len(vec), x.dim)
	}
	q, _ := Quantize(vec)
	var inv float64
	if ss := sumSquares(q); ss > 0 {
		inv = 1 / math.Sqrt(float64(ss))
	}
	return query{q, inv}, nil
}

// Cosine returns the cosine similarity between vec and id's stored vector, computed the
// way Search computes it (both quantized).
func (x *VectorIndex) Cosine(id string, vec []float32) (float64, bool, error) {
	qu, err := x.prepare(vec)
	if err != nil {
		return 0, false, err
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	p, ok := x.pos[id]
	if !ok {
		return 0, false, nil
	}
	return float64(DotInt8(qu.q, x.q[p*x.dim:(p+1)*x.dim])) * qu.inv * x.inv[p], true, nil
}

// parallelMin is the number of vectors below which a search stays on one goroutine:
// under it, starting goroutines costs more than it saves.
const parallelMin = 8192

// Search returns the k stored vectors most cosine-similar to vec, best first (ties by
// smaller id). The query is quantized like the stored vectors, and the cosine is that of
// the two quantized vectors: the scales cancel, leaving dot(q_a, q_b) / (|q_a| |q_b|).
// The search is exact: every vector is scored. A zero query vector finds nothing.
func (x *VectorIndex) Search(vec []float32, k int) ([]Hit, error) {
	qu, err := x.prepare(vec)
	if err != nil {
		return nil, err
	}
	if k <= 0 || qu.inv == 0 {
		// Nothing is similar to the zero vector (the hashed embedding of a text with no
		// words): ranking every chunk at cosine 0 by id would feed noise into fusion.
		return nil, nil
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	n := len(x.ids)
	workers := runtime.GOMAXPROCS(0)
	if n < parallelMin || workers < 2 {
		t := x.scan(qu, k, 0, n)
		return t.sorted(), nil
	}
	// Split the scan into one contiguous range per processor, each with its own top-K,
	// then merge: exactness is kept because the global top-K is within the union.
	parts := make([]topK, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := n*w/workers, n*(w+1)/workers
		wg.Go(func() { parts[w] = x.scan(qu, k, lo, hi) })
	}
	wg.Wait()
	all := parts[0]
	for _, p := range parts[1:] {
		for _, h := range p.h {
			all.offer(h.Score, h.ID)
		}
	}
	return all.sorted(), nil
}

// scan scores vectors [lo, hi) and keeps the best k.
func (x *VectorIndex) scan(qu query, k, lo, hi int) topK {
	t := topK{k: k, h: make([]Hit, 0, min(k, hi-lo))}
	d := x.dim
	data := x.q
	for i := lo; i < hi; i++ {
		s := float64(DotInt8(qu.q, data[i*d:(i+1)*d:(i+1)*d])) * qu.inv * x.inv[i]
		// Cheap reject before touching the heap: most vectors are worse than the current Kth.
		if len(t.h) == k && s < t.h[0].Score {
			continue
		}
		t.offer(s, x.ids[i])
	}
	return t
}

// topK keeps the k best hits seen in a min-heap whose root is the worst kept hit.
type topK struct {
	k int
	h []Hit
}

func (t *topK) Len() int           { return len(t.h) }
func (t *topK) Less(i, j int) bool { return better(t.h[j], t.h[i]) }
func (t *topK) Swap(i, j int)      { t.h[i], t.h[j] = t.h[j], t.h[i] }
func (t *topK) Push(v any)         { t.h = append(t.h, v.(Hit)) }
func (t *topK) Pop() any {
	v := t.h[len(t.h)-1]
	t.h = t.h[:len(t.h)-1]
	return v
}

func (t *topK) offer(score float64, id string) {
	h := Hit{ID: id, Score: score}
	if len(t.h) < t.k {
		heap.Push(t, h)
		return
	}
	if better(h, t.h[0]) {
		t.h[0] = h
		heap.Fix(t, 0)
	}
}

// sorted empties the heap into best-first order.
func (t *topK) sorted() []Hit {
	out := make([]Hit, len(t.h))
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = heap.Pop(t).(Hit)
	}
	return out
}
