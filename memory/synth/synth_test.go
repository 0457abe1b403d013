package synth

import (
	"reflect"
	"strings"
	"testing"
	"unicode"
)

func TestGenerate(t *testing.T) {
	for _, opt := range []Options{{Turns: 40, Seed: 1}, {Turns: 1000, Seed: 2}, {Turns: 1000, Facts: 300, MinGap: 50, Seed: 3}} {
		d, err := Generate(opt)
		if err != nil {
			t.Fatal(err)
		}
		facts := opt.Facts
		if facts == 0 {
			facts = opt.Turns / 10
		}
		gap := max(opt.MinGap, 10)
		if len(d.Turns) != opt.Turns || len(d.Questions) != facts || d.SessionLen != 20 {
			t.Fatalf("%+v: %d turns, %d questions, sessions of %d", opt, len(d.Turns), len(d.Questions), d.SessionLen)
		}
		para := 0
		seen := map[int]bool{}
		for i, q := range d.Questions {
			if i > 0 && q.AskedAt < d.Questions[i-1].AskedAt {
				t.Fatalf("questions out of order at %d", i)
			}
			if q.AskedAt-q.FactTurn < gap || seen[q.AskedAt] || seen[q.FactTurn] {
				t.Fatalf("question %+v: gap under %d or a turn used twice", q, gap)
			}
			seen[q.AskedAt], seen[q.FactTurn] = true, true
			if !strings.Contains(d.Turns[q.FactTurn].User, q.Answer) || d.Turns[q.AskedAt].User != q.Text {
				t.Fatalf("question %+v: fact turn %q, question turn %q", q, d.Turns[q.FactTurn].User, d.Turns[q.AskedAt].User)
			}
			if q.Paraphrased {
				para++
			}
		}
		if para != facts/2 {
			t.Fatalf("%d of %d questions paraphrased", para, facts)
		}
		for i, tr := range d.Turns {
			if tr.User == "" || tr.Reply == "" {
				t.Fatalf("turn %d empty", i)
			}
		}
		again, _ := Generate(opt)
		if !reflect.DeepEqual(d, again) {
			t.Fatalf("%+v: not deterministic", opt)
		}
		opt.Seed++
		if other, _ := Generate(opt); reflect.DeepEqual(d.Turns, other.Turns) {
			t.Fatalf("%+v: another seed gave the same dialogue", opt)
		}
	}
	for _, bad := range []Options{{Turns: 1}, {Turns: 200000}, {Turns: 20, MinGap: 20}, {Turns: 30, Facts: 15}} {
		if _, err := Generate(bad); err == nil {
			t.Fatalf("%+v accepted", bad)
		}
	}
}

// TestParaphrasesShareNoContentWord: a paraphrased question has no content word in common
// with the fact's statement, so only meaning can connect them.
func TestParaphrasesShareNoContentWord(t *testing.T) {
	content := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' }) {
			if !function[w] {
				m[w] = true
			}
		}
		return m
	}
	for _, k := range kinds {
		state := content(k.state)
		for w := range content(k.para) {
			if state[w] {
				t.Errorf("%q and %q share %q", k.state, k.para, w)
			}
		}
		if len(content(k.ask)) == 0 {
			t.Errorf("%q has no content word", k.ask)
		}
	}
}

var function = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`a an the and or of to in on at by for with from is are was be it i my me
		what which where when who how do did does am if s this that there out up off one`) {
		function[w] = true
	}
}
