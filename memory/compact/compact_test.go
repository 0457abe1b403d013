package compact

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

func TestExtractiveKeepsFactsWithinBudget(t *testing.T) {
	e := &Extractive{}
	ctx := context.Background()
	s, err := e.Update(ctx, "", Turn{
		User:  "Hi there! My sister Alice moved to Lisbon in 2019. She works as a nurse at the Santa Maria hospital. How are you today?",
		Reply: "Nice to hear from you. Lisbon is a lovely city with many hills. I am doing well, thanks for asking.",
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := e.count(s); n > DefaultBudget {
		t.Fatalf("summary of %d tokens over the budget of %d: %q", n, DefaultBudget, s)
	}
	for _, fact := range []string{"Alice", "Lisbon", "2019", "nurse"} {
		if !strings.Contains(s, fact) {
			t.Errorf("summary %q lost %q", s, fact)
		}
	}
	if strings.Contains(s, "How are you today") {
		t.Errorf("summary %q kept small talk", s)
	}
	// A later turn with new facts: they come in, and what was already there stays while it fits.
	s2, err := e.Update(ctx, s, Turn{
		User:  "By the way, my flight to Tokyo is on March 14 and costs 1,240 dollars.",
		Reply: "That is a long flight. Tokyo in March is cherry blossom season.",
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, fact := range []string{"Tokyo", "March 14", "1,240", "Alice"} {
		if !strings.Contains(s2, fact) {
			t.Errorf("second summary %q lost %q", s2, fact)
		}
	}
	// Deterministic: the same inputs give the same summary.
	if again, _ := e.Update(ctx, s, Turn{
		User:  "By the way, my flight to Tokyo is on March 14 and costs 1,240 dollars.",
		Reply: "That is a long flight. Tokyo in March is cherry blossom season.",
	}); again != s2 {
		t.Fatalf("not deterministic: %q then %q", s2, again)
	}
}

// TestExtractiveBudgetHolds: over many turns, with any counter, the summary never exceeds the
// budget, a repeated fact is kept once, and a sentence longer than the budget is cut to fit.
func TestExtractiveBudgetHolds(t *testing.T) {
	ctx := context.Background()
	chars := func(s string) int { return (len(s) + 3) / 4 } // a BPE-like count: a token per 4 bytes
	for _, e := range []*Extractive{{}, {Budget: 20}, {Budget: 60, Count: chars}} {
		s := ""
		for i := range 300 {
			var err error
			s, err = e.Update(ctx, s, Turn{
				User:  fmt.Sprintf("Order %d of the Zephyr project ships %d crates to warehouse %c on day %d.", i, 17*i+3, 'A'+rune(i%26), i%30),
				Reply: "Noted. The Zephyr project keeps growing, and every crate is tracked.",
			})
			if err != nil {
				t.Fatal(err)
			}
			if n := e.count(s); n > e.budget() {
				t.Fatalf("budget %d, turn %d: summary of %d tokens: %q", e.budget(), i, n, s)
			}
		}
		if !strings.Contains(s, "299") {
			t.Errorf("budget %d: the last turn's facts are not in %q", e.budget(), s)
		}
		if strings.Count(s, "The Zephyr project keeps growing") > 1 {
			t.Errorf("budget %d: a repeated sentence kept twice: %q", e.budget(), s)
		}
	}
	var b strings.Builder
	for i := range 200 {
		fmt.Fprintf(&b, "crate %d, ", i)
	}
	long := "Shipped to Oslo: " + b.String() + "all of them."
	e := &Extractive{Budget: 10}
	s, err := e.Update(ctx, "", Turn{User: long})
	if err != nil {
		t.Fatal(err)
	}
	if n := e.count(s); n == 0 || n > 10 {
		t.Fatalf("a 600-word sentence cut to %d tokens: %q", n, s)
	}
	if !strings.HasPrefix(s, "Shipped to Oslo: crate 0") {
		t.Fatalf("a long sentence cut to %q: want its first words", s)
	}
}

func TestExtractiveMerge(t *testing.T) {
	e := &Extractive{}
	ctx := context.Background()
	var sums []string
	for i := range 5 {
		sums = append(sums, fmt.Sprintf("Session %d: the user adopted a cat named Pixel%d and paid %d euros.", i, i, 100+i))
	}
	m, err := e.Merge(ctx, sums)
	if err != nil {
		t.Fatal(err)
	}
	if n := e.count(m); n > DefaultBudget {
		t.Fatalf("merged summary of %d tokens: %q", n, m)
	}
	if !strings.Contains(m, "Pixel4") {
		t.Errorf("the newest summary's fact is not in %q", m)
	}
	// In order: sentences keep the order of the summaries they came from.
	if i, j := strings.Index(m, "Session 0"), strings.Index(m, "Session 4"); i >= 0 && j >= 0 && i > j {
		t.Errorf("merged summary out of order: %q", m)
	}
	empty, err := e.Merge(ctx, nil)
	if err != nil || empty != "" {
		t.Fatalf("merge of nothing: %q, %v", empty, err)
	}
}

func TestExtractiveCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (&Extractive{}).Update(ctx, "", Turn{User: "Facts 1 and 2."}); err == nil {
		t.Fatal("a cancelled context summarised")
	}
}

func TestSentences(t *testing.T) {
	got := sentences("Pi is 3.14 exactly? No! It goes on.\nNew line here")
	want := []string{"Pi is 3.14 exactly?", "No!", "It goes on.", "New line here"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("sentences: %q, want %q", got, want)
	}
}

// TestExtractiveBoundedCost: a reply of 20,000 sentences is summarised in bounded time (its
// first and last sentences are considered), within the budget.
func TestExtractiveBoundedCost(t *testing.T) {
	var b strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&b, "Parcel %d weighs %d grams. ", i, 3*i+1)
	}
	e := &Extractive{}
	s, err := e.Update(context.Background(), "", Turn{User: "List the parcels.", Reply: b.String()})
	if err != nil {
		t.Fatal(err)
	}
	if n := e.count(s); n == 0 || n > DefaultBudget {
		t.Fatalf("summary of %d tokens: %q", n, s)
	}
}

func BenchmarkExtractiveUpdate(b *testing.B) {
	e := &Extractive{}
	prev := "The user's sister Alice moved to Lisbon in 2019. She is a nurse at Santa Maria. The user flies to Tokyo on March 14."
	turn := Turn{
		User:  "I also booked a hotel near Shinjuku for 6 nights at 180 dollars a night. Can you remind me to pack my charger?",
		Reply: "Of course. Six nights near Shinjuku at 180 dollars a night comes to 1,080 dollars. I will remind you about the charger.",
	}
	for b.Loop() {
		if _, err := e.Update(context.Background(), prev, turn); err != nil {
			b.Fatal(err)
		}
	}
}
