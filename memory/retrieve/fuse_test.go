package retrieve

import (
	"math"
	"slices"
	"testing"
)

func TestFuseHandComputed(t *testing.T) {
	got := Fuse(60, []string{"a", "b", "c"}, []string{"c", "a", "d"})
	// a: 1/61 + 1/62, c: 1/63 + 1/61, b: 1/62, d: 1/63.
	want := []Fused{
		{"a", 1.0/61 + 1.0/62, []int{1, 2}},
		{"c", 1.0/63 + 1.0/61, []int{3, 1}},
		{"b", 1.0 / 62, []int{2, 0}},
		{"d", 1.0 / 63, []int{0, 3}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i].ID != want[i].ID || math.Abs(got[i].Score-want[i].Score) > 1e-15 || !slices.Equal(got[i].Ranks, want[i].Ranks) {
			t.Fatalf("rank %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestFuseTies(t *testing.T) {
	// p and q both score 1/62 + 1/63 with best rank 2: the smaller id first. Then x and y
	// tie at 1/61 with best rank 1: again the smaller id first.
	got := Fuse(0, []string{"y", "p", "q"}, []string{"x", "q", "p"})
	ids := []string{}
	for _, f := range got {
		ids = append(ids, f.ID)
	}
	if !slices.Equal(ids, []string{"p", "q", "x", "y"}) {
		t.Fatalf("order %v, want [p q x y]", ids)
	}
	if got := Fuse(60); len(got) != 0 {
		t.Fatalf("no rankings: %v", got)
	}
	one := Fuse(60, []string{"a", "b"}, nil)
	if len(one) != 2 || one[0].ID != "a" || one[1].Ranks[1] != 0 {
		t.Fatalf("one empty ranking: %+v", one)
	}
}
