package sample

import (
	"math/bits"
	"slices"
)

// cand is a candidate token: its id and a value, the logit before weighting and the
// unnormalised probability exp((logit-max)/T) after.
type cand struct {
	id int32
	v  float32
}

// better orders candidates by value, highest first, ties to the lowest id: a strict total order,
// so every selection below is deterministic.
func better(a, b cand) bool { return a.v > b.v || (a.v == b.v && a.id < b.id) }

func byBetter(a, b cand) int {
	if better(a, b) {
		return -1
	}
	if better(b, a) {
		return 1
	}
	return 0
}

// heapPush offers c to h, a min-heap (root = worst under better) holding at most k candidates,
// and returns the heap. Scanning the vocabulary in id order, a candidate enters a full heap only
// when strictly better than the root, so ties at the boundary go to the lower id.
func heapPush(h []cand, k int, c cand) []cand {
	if len(h) < k {
		h = append(h, c)
		for i := len(h) - 1; i > 0; {
			parent := (i - 1) / 2
			if !better(h[parent], h[i]) {
				break
			}
			h[parent], h[i] = h[i], h[parent]
			i = parent
		}
		return h
	}
	if !better(c, h[0]) {
		return h
	}
	h[0] = c
	for i := 0; ; {
		worst, l := i, 2*i+1
		if l < len(h) && better(h[worst], h[l]) {
			worst = l
		}
		if r := l + 1; r < len(h) && better(h[worst], h[r]) {
			worst = r
		}
		if worst == i {
			return h
		}
		h[i], h[worst] = h[worst], h[i]
		i = worst
	}
}

// selectTop rearranges c so that c[:k] holds the k best candidates (in no particular order), in
// expected linear time: quickselect with a median-of-three pivot, falling back to a sort when the
// pivots keep coming out badly.
func selectTop(c []cand, k int) {
	if k <= 0 || k >= len(c) {
		return
	}
	lo, hi := 0, len(c)
	for budget := 2 * bits.Len(uint(len(c))); hi-lo > 16; budget-- {
		if budget == 0 {
			slices.SortFunc(c[lo:hi], byBetter)
			return
		}
		// Lomuto partition around the median of three: c[lo:p] better than the pivot.
		m := lo + (hi-lo)/2
		medianOfThree(c, lo, m, hi-1)
		c[m], c[hi-1] = c[hi-1], c[m]
		pivot := c[hi-1]
		p := lo
		for i := lo; i < hi-1; i++ {
			if better(c[i], pivot) {
				c[i], c[p] = c[p], c[i]
				p++
			}
		}
		c[p], c[hi-1] = c[hi-1], c[p]
		switch {
		case p == k || p+1 == k:
			return
		case p > k:
			hi = p
		default:
			lo = p + 1
		}
	}
	slices.SortFunc(c[lo:hi], byBetter)
}

// medianOfThree orders c[a], c[b], c[c2] so that c[b] is their median under better.
func medianOfThree(c []cand, a, b, c2 int) {
	if better(c[b], c[a]) {
		c[a], c[b] = c[b], c[a]
	}
	if better(c[c2], c[b]) {
		c[b], c[c2] = c[c2], c[b]
		if better(c[b], c[a]) {
			c[a], c[b] = c[b], c[a]
		}
	}
}

// selectMass rearranges weighted candidates so that c[:n] is the smallest set of the best ones
// whose weights sum to at least target (top-p's nucleus; the candidate that crosses the target
// is kept), and returns n and that sum. Like quickselect it partitions around a pivot; it then
// keeps or discards the better side by its mass, so it never sorts more than a final handful.
func selectMass(c []cand, target float64) (int, float64) {
	lo, hi := 0, len(c)
	kept := 0.0 // weight of c[:lo], all better than anything in c[lo:hi]
	for budget := 2 * bits.Len(uint(len(c))); hi-lo > 16 && budget > 0; budget-- {
		m := lo + (hi-lo)/2
		medianOfThree(c, lo, m, hi-1)
		pivot := c[m]
		// Partition c[lo:hi] into better than the pivot, the pivot, worse; summing the first part.
		c[m], c[hi-1] = c[hi-1], c[m]
		p := lo
		above := 0.0
		for i := lo; i < hi-1; i++ {
			if better(c[i], pivot) {
				above += float64(c[i].v)
				c[i], c[p] = c[p], c[i]
				p++
			}
		}
		c[p], c[hi-1] = c[hi-1], c[p]
		switch {
		case kept+above >= target:
			hi = p // the nucleus ends among the better part
		case kept+above+float64(pivot.v) >= target:
			return p + 1, kept + above + float64(pivot.v)
		default:
			kept += above + float64(pivot.v)
			lo = p + 1
		}
	}
	slices.SortFunc(c[lo:hi], byBetter)
	for i := lo; i < hi; i++ {
		kept += float64(c[i].v)
		if kept >= target {
			return i + 1, kept
		}
	}
	// Rounding left the target just out of reach: keep everything.
	return hi, kept
}
