package retrieve

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSalienceWeight(t *testing.T) {
	s := DefaultSalience
	cases := []struct{ age, rec, want float64 }{
		{0, 0, 1},
		{100, 0, math.Exp(-0.2)},
		{100, 1, math.Exp(-0.2) + 0.5},
		{1000, 0, math.Exp(-2)},
		{math.Log(2) / 0.002, 0, 0.5},
	}
	for _, c := range cases {
		if got := s.Weight(c.age, c.rec); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Weight(%v, %v) = %v, want %v", c.age, c.rec, got, c.want)
		}
	}
}

func TestForgetPicksLowest(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	chunks := make([]ChunkState, 1000)
	for i := range chunks {
		chunks[i] = ChunkState{ID: fmt.Sprintf("c%04d", i), Age: float64(r.IntN(2000))}
		if r.IntN(4) == 0 {
			chunks[i].RecentlyRetrieved = 1
		}
	}
	got := Forget(chunks, ForgetFraction)
	if len(got) != 5 {
		t.Fatalf("picked %d of 1000 at 0.5%%, want 5", len(got))
	}
	// Reference: every weight, sorted; the picks must be the five smallest, in order.
	w := map[string]float64{}
	var all []float64
	for _, c := range chunks {
		w[c.ID] = DefaultSalience.Weight(c.Age, c.RecentlyRetrieved)
		all = append(all, w[c.ID])
	}
	slices.Sort(all)
	for i, id := range got {
		if w[id] != all[i] {
			t.Fatalf("pick %d (%s) has weight %v, the %dth lowest is %v", i, id, w[id], i, all[i])
		}
	}
	// A retrieved chunk is kept over an unretrieved one of the same age.
	pair := []ChunkState{{"old-used", 1500, 1}, {"old-unused", 1500, 0}}
	if got := Forget(pair, 0.5); !slices.Equal(got, []string{"old-unused"}) {
		t.Fatalf("Forget(pair) = %v", got)
	}
	// Ties (same weight) go to the smaller id; small memories forget nothing at 0.5%.
	tie := []ChunkState{{"b", 10, 0}, {"a", 10, 0}, {"c", 1, 0}}
	if got := Forget(tie, 0.5); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("tie: %v", got)
	}
	if got := Forget(chunks[:199], ForgetFraction); len(got) != 0 {
		t.Fatalf("199 chunks at 0.5%%: %v", got)
	}
	if got := Forget(chunks, 0); got != nil {
		t.Fatalf("fraction 0: %v", got)
	}
}
