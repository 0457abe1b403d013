package evals

import (
	"slices"
	"testing"
)

func TestOptionsShuffleByQuestion(t *testing.T) {
	p := &Problem{Question: "Which gas is inert?", Answer: "Argon", Incorrect: []string{"Oxygen", "Chlorine", "Fluorine"}}
	o1, c1 := Options(p)
	o2, c2 := Options(&Problem{Question: p.Question, Answer: p.Answer, Incorrect: slices.Clone(p.Incorrect)})
	if !slices.Equal(o1, o2) || c1 != c2 {
		t.Fatalf("same question, two orders: %v %s / %v %s", o1, c1, o2, c2)
	}
	if o1[c1[0]-'A'] != "Argon" || len(o1) != 4 {
		t.Fatalf("options %v, correct %s", o1, c1)
	}
	// Over many questions the correct option lands on every letter.
	seen := map[string]bool{}
	for i := range 64 {
		q := &Problem{Question: "Question " + string(rune('a'+i%26)) + string(rune('a'+i/26)), Answer: "x", Incorrect: []string{"a", "b", "c"}}
		_, c := Options(q)
		seen[c] = true
	}
	if len(seen) != 4 {
		t.Fatalf("correct letters over 64 questions: %v", seen)
	}
}
