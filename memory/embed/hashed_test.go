package embed

import (
	"context"
	"math"
	"slices"
	"testing"
)

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func TestWords(t *testing.T) {
	got := Words("Hello, WORLD! It's 2026; café naïve Straße — 東京タワー")
	want := []string{"hello", "world", "it", "s", "2026", "café", "naïve", "straße", "東京タワー"}
	if !slices.Equal(got, want) {
		t.Fatalf("Words = %q, want %q", got, want)
	}
	if w := Words("  ...  "); len(w) != 0 {
		t.Fatalf("Words of punctuation = %q, want none", w)
	}
}

func TestHashedDeterministic(t *testing.T) {
	h := NewHashed(0)
	texts := []string{"My sister's name is Alice and she lives in Lyon.", "", "ünïcode ÅÄÖ 東京"}
	a, err := h.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewHashed(DefaultHashedDim).Embed(context.Background(), texts)
	for i := range a {
		if !slices.Equal(a[i], b[i]) {
			t.Fatalf("text %d: two embedders disagree", i)
		}
		if !slices.Equal(a[i], h.EmbedOne(texts[i])) {
			t.Fatalf("text %d: EmbedOne differs from Embed", i)
		}
	}
	// Pin a few values so that an accidental change to the features shows up here (and
	// prompts a new Name version, since vectors stored earlier would no longer match).
	pinned := map[int]float32{2: 0.058025885, 16: -0.058025885, 24: -0.058025885, 36: 0.16247247}
	for i, want := range pinned {
		if math.Abs(float64(a[0][i]-want)) > 1e-6 {
			t.Errorf("dim %d = %v, want %v (features changed? bump the Name version)", i, a[0][i], want)
		}
	}
}

func TestHashedDimsAndNorm(t *testing.T) {
	for _, dim := range []int{64, 512, 1000} {
		h := NewHashed(dim)
		if h.Dim() != dim {
			t.Fatalf("Dim = %d, want %d", h.Dim(), dim)
		}
		vs, _ := h.Embed(context.Background(), []string{"the quick brown fox jumps over the lazy dog", "", "!!!"})
		for i, v := range vs {
			if len(v) != dim {
				t.Fatalf("dim %d text %d: len %d", dim, i, len(v))
			}
		}
		if n := math.Sqrt(dot(vs[0], vs[0])); math.Abs(n-1) > 1e-5 {
			t.Fatalf("dim %d: norm %v, want 1", dim, n)
		}
		if dot(vs[1], vs[1]) != 0 || dot(vs[2], vs[2]) != 0 {
			t.Fatalf("dim %d: empty or punctuation-only text should embed to zero", dim)
		}
	}
	if NewHashed(64).Name() == NewHashed(512).Name() {
		t.Fatal("different widths must have different names")
	}
}

func TestHashedSimilarity(t *testing.T) {
	h := NewHashed(0)
	cases := []struct{ a, para, unrelated string }{
		{"My daughter's birthday is on the fourth of March.",
			"When is my daughter's birthday? I think it was in March.",
			"The quarterly revenue report shows strong growth in Asia."},
		{"I adopted a golden retriever puppy named Biscuit last week.",
			"What is the name of the puppy I adopted?",
			"Please convert this spreadsheet into a bar chart."},
		{"We moved to Barcelona because of my new job at the hospital.",
			"Why did we move to Barcelona?",
			"How many grams of flour go into a sourdough loaf?"},
		{"I'm allergic to peanuts, so avoid them in any recipe.",
			"Remember my peanut allergy when suggesting recipes.",
			"The train to Vienna leaves at seven in the morning."},
	}
	for _, c := range cases {
		v := h.EmbedOne(c.a)
		sp, su := dot(v, h.EmbedOne(c.para)), dot(v, h.EmbedOne(c.unrelated))
		t.Logf("paraphrase %.3f unrelated %.3f: %q", sp, su, c.a)
		if sp <= su+0.05 {
			t.Errorf("paraphrase similarity %.3f not clearly above unrelated %.3f for %q", sp, su, c.a)
		}
	}
	// Inflections meet through character n-grams even with no word in common.
	s := dot(h.EmbedOne("remembering"), h.EmbedOne("remembered"))
	if s < 0.3 {
		t.Errorf("inflected forms similarity %.3f, want >= 0.3", s)
	}
}

func TestHashedCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := NewHashed(0).Embed(ctx, []string{"x"}); err == nil {
		t.Fatal("want an error for a cancelled context")
	}
}

// A 50-word chat message, the size the memory embeds on every turn.
const message50 = "Yesterday I finally booked the flights for our family trip to Portugal in August. " +
	"We land in Lisbon on the twelfth, spend four days there, then drive down to the Algarve " +
	"where my cousin Marta has a house near Lagos. Please remind me to renew my old passport " +
	"before June?"

func BenchmarkHashed50Words(b *testing.B) {
	if n := len(Words(message50)); n != 50 {
		b.Fatalf("message has %d words", n)
	}
	h := NewHashed(0)
	texts := []string{message50}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Embed(ctx, texts); err != nil {
			b.Fatal(err)
		}
	}
}
