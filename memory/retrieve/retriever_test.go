package retrieve

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/arborlabs/arbor/memory/embed"
)

func TestRetrieverHybrid(t *testing.T) {
	h := embed.NewHashed(0)
	r := NewRetriever(h.Dim())
	texts := []string{
		"I just adopted a puppy, his name is Biscuit.",
		"The weather in Lisbon was lovely this weekend.",
		"Can you help me write a cover letter for a nursing job?",
		"My sister Ana lives in Porto and works as an architect.",
		"I'm allergic to peanuts.",
		"Biscuit chewed my shoes again today!",
		"What's a good recipe for a vegetarian lasagna?",
	}
	for i, text := range texts {
		if err := r.Add(fmt.Sprintf("t%02d", i), text, h.EmbedOne(text)); err != nil {
			t.Fatal(err)
		}
	}
	if r.Len() != len(texts) {
		t.Fatalf("Len %d", r.Len())
	}
	ctx := context.Background()
	q := "what did I name my puppy?"
	res, err := r.Search(ctx, q, h.EmbedOne(q), 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range res {
		t.Logf("%s fused %.5f cos %.3f (#%d) bm25 %.3f (#%d)", x.ID, x.Fused, x.Cosine, x.CosineRank, x.BM25, x.BM25Rank)
	}
	if len(res) != 3 || res[0].ID != "t00" {
		t.Fatalf("top result %v, want t00", res)
	}
	// Fused order and scores follow Fuse over the two candidate lists, and every result
	// carries both scores, checked against each index directly.
	for i, x := range res {
		if i > 0 && x.Fused > res[i-1].Fused {
			t.Fatal("not in fused order")
		}
		want := 0.0
		if x.CosineRank > 0 {
			want += 1 / float64(RRFK+x.CosineRank)
		}
		if x.BM25Rank > 0 {
			want += 1 / float64(RRFK+x.BM25Rank)
		}
		if math.Abs(x.Fused-want) > 1e-15 {
			t.Fatalf("%s fused %v, want %v", x.ID, x.Fused, want)
		}
		c, _, _ := r.vectors.Cosine(x.ID, h.EmbedOne(q))
		b, _ := r.words.Score(x.ID, q)
		if math.Abs(c-x.Cosine) > 1e-12 || math.Abs(b-x.BM25) > 1e-12 {
			t.Fatalf("%s scores %v %v, want %v %v", x.ID, x.Cosine, x.BM25, c, b)
		}
	}

	// Keyword-only and vector-only queries.
	kw, _ := r.Search(ctx, "Biscuit", nil, 5)
	if len(kw) != 2 || kw[0].Cosine != 0 || kw[0].CosineRank != 0 {
		t.Fatalf("keyword-only: %+v", kw)
	}
	vo, _ := r.Search(ctx, "", h.EmbedOne("peanut allergy"), 1)
	if len(vo) != 1 || vo[0].ID != "t04" || vo[0].BM25 != 0 {
		t.Fatalf("vector-only: %+v", vo)
	}

	if !r.Remove("t00") || r.Remove("t00") {
		t.Fatal("Remove should report presence once")
	}
	res, _ = r.Search(ctx, q, h.EmbedOne(q), 3)
	for _, x := range res {
		if x.ID == "t00" {
			t.Fatal("removed chunk retrieved")
		}
	}
	if err := r.Add("bad", "x", make([]float32, 3)); err == nil {
		t.Fatal("wrong width accepted")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := r.Search(cctx, q, nil, 3); err == nil {
		t.Fatal("cancelled context accepted")
	}
}

// Searches run concurrently with each other and with Add and Remove (run under -race).
func TestRetrieverConcurrent(t *testing.T) {
	h := embed.NewHashed(64)
	r := NewRetriever(64)
	for i := range parallelMin + 100 { // large enough for the parallel scan
		text := fmt.Sprintf("chunk %d about topic %d", i, i%17)
		if err := r.Add(fmt.Sprintf("c%d", i), text, h.EmbedOne(text)); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	done := make(chan error, 4)
	for g := range 4 {
		go func() {
			for i := range 20 {
				q := fmt.Sprintf("topic %d", (g+i)%17)
				if g == 0 {
					r.Add(fmt.Sprintf("new%d", i), q, h.EmbedOne(q))
					r.Remove(fmt.Sprintf("c%d", i))
				}
				res, err := r.Search(ctx, q, h.EmbedOne(q), 5)
				if err == nil && len(res) != 5 {
					err = fmt.Errorf("%d results", len(res))
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
