package retrieve

import (
	"math"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

// The expected scores are worked out by hand from the formula in BM25's doc comment.
func TestBM25HandComputed(t *testing.T) {
	x := NewBM25()
	x.Add("d1", "The cat sat.")           // 3 words
	x.Add("d2", "the dog sat on the mat") // 6 words
	x.Add("d3", "Cats and dogs")          // 3 words; "cats" is not "cat"
	// N = 3, avgdl = 12/3 = 4.
	// idf(cat) = ln(1 + (3-1+0.5)/(1+0.5)) = ln(8/3); idf(sat) = ln(1 + 1.5/2.5) = ln(1.6).
	// d1: 1 - 0.75 + 0.75*3/4 = 0.8125, so each tf=1 term gives 2.2/(1+1.2*0.8125) = 2.2/1.975.
	// d2: 1 - 0.75 + 0.75*6/4 = 1.375, so sat gives 2.2/(1+1.65) = 2.2/2.65.
	want1 := (math.Log(8.0/3) + math.Log(1.6)) * 2.2 / 1.975
	want2 := math.Log(1.6) * 2.2 / 2.65
	got := x.Search("cat? SAT, cat", 10) // repeated query words count once
	if len(got) != 2 || got[0].ID != "d1" || got[1].ID != "d2" {
		t.Fatalf("Search = %v, want d1 then d2", got)
	}
	if !near(got[0].Score, want1) || !near(got[1].Score, want2) {
		t.Fatalf("scores %v %v, want %v %v", got[0].Score, got[1].Score, want1, want2)
	}
	if s, ok := x.Score("d2", "cat sat"); !ok || !near(s, want2) {
		t.Fatalf("Score(d2) = %v %v, want %v", s, ok, want2)
	}
	if s, ok := x.Score("d3", "cat sat"); !ok || s != 0 {
		t.Fatalf("Score(d3) = %v %v, want 0 true", s, ok)
	}
	if got := x.Search("cat sat", 1); len(got) != 1 || got[0].ID != "d1" {
		t.Fatalf("k=1: %v", got)
	}
	if got := x.Search("zebra", 5); len(got) != 0 {
		t.Fatalf("no shared word should return nothing: %v", got)
	}

	// Removing d2 changes N, df and avgdl: N = 2, avgdl = 3, so length normalisation is 1
	// and each term scores its idf, ln(1 + 1.5/1.5) = ln 2.
	if !x.Remove("d2") || x.Remove("d2") {
		t.Fatal("Remove should report presence once")
	}
	got = x.Search("cat sat", 10)
	if len(got) != 1 || got[0].ID != "d1" || !near(got[0].Score, 2*math.Log(2)) {
		t.Fatalf("after Remove: %v, want d1 at %v", got, 2*math.Log(2))
	}
	// Replacing a document re-indexes it.
	x.Add("d3", "a cat")
	got = x.Search("cat", 10)
	if len(got) != 2 {
		t.Fatalf("after replace: %v", got)
	}
}

func TestBM25Compaction(t *testing.T) {
	x := NewBM25()
	for i := range 5000 {
		x.Add(string(rune('A'+i%26))+string(rune(i)), "common words here")
	}
	x.Add("keep", "common rare")
	removed := 0
	for i := range 5000 {
		if x.Remove(string(rune('A'+i%26)) + string(rune(i))) {
			removed++
		}
	}
	if removed != 5000 || x.Len() != 1 {
		t.Fatalf("removed %d, Len %d", removed, x.Len())
	}
	if len(x.slots) > 2000 {
		t.Fatalf("%d slots kept after removing most documents: no compaction", len(x.slots))
	}
	got := x.Search("common rare", 5)
	if len(got) != 1 || got[0].ID != "keep" {
		t.Fatalf("after compaction: %v", got)
	}
	if s, _ := x.Score("keep", "rare"); s <= 0 {
		t.Fatalf("Score after compaction %v", s)
	}
}
