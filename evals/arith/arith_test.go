package arith

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/arborlabs/arbor/evals"
)

// checkSolution recomputes every "a op b = c" line of p's solution and the final answer.
func checkSolution(t *testing.T, p evals.Problem) {
	t.Helper()
	lines := strings.Split(p.Solution, "\n")
	if len(lines) < 2 {
		t.Fatalf("%s: solution too short: %q", p.ID, p.Solution)
	}
	steps, last := lines[:len(lines)-1], lines[len(lines)-1]
	if want := "The answer is " + p.Answer + "."; last != want {
		t.Errorf("%s: last line %q, want %q", p.ID, last, want)
	}
	if strconv.Itoa(len(steps)) != p.Level {
		t.Errorf("%s: %d steps, level %s", p.ID, len(steps), p.Level)
	}
	known := map[int]bool{}
	for _, f := range numberRE.FindAllString(p.Question, -1) {
		n, _ := strconv.Atoi(f)
		known[n] = true
	}
	var c int
	for _, l := range steps {
		var a, b int
		var op string
		if n, err := fmt.Sscanf(l, "%d %s %d = %d", &a, &op, &b, &c); n != 4 || err != nil {
			t.Fatalf("%s: bad step %q: %v", p.ID, l, err)
		}
		var want int
		switch op {
		case "+":
			want = a + b
		case "-":
			want = a - b
		case "*":
			want = a * b
		case "/":
			if b == 0 || a%b != 0 {
				t.Fatalf("%s: inexact division %q", p.ID, l)
			}
			want = a / b
		default:
			t.Fatalf("%s: unknown operator in %q", p.ID, l)
		}
		if c != want {
			t.Errorf("%s: %q: want %d", p.ID, l, want)
		}
		if c < 0 {
			t.Errorf("%s: negative intermediate %q", p.ID, l)
		}
		// Every operand is a number of the question or an earlier result.
		for _, x := range []int{a, b} {
			if !known[x] {
				t.Errorf("%s: %q: %d is neither in the question nor an earlier result", p.ID, l, x)
			}
		}
		known[c] = true
	}
	if strconv.Itoa(c) != p.Answer {
		t.Errorf("%s: last step gives %d, answer %s", p.ID, c, p.Answer)
	}
}

var numberRE = regexp.MustCompile(`[0-9]+`)

func TestDeterministic(t *testing.T) {
	a := Generate(Options{Count: 50, Seed: 7})
	b := Generate(Options{Count: 50, Seed: 7})
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different problems")
	}
	c := Generate(Options{Count: 50, Seed: 8})
	if reflect.DeepEqual(a, c) {
		t.Fatal("different seeds, same problems")
	}
	// A shorter count is a prefix of a longer one.
	if p := Generate(Options{Count: 10, Seed: 7}); !reflect.DeepEqual(p, a[:10]) {
		t.Fatal("count 10 is not a prefix of count 50")
	}
}

// TestGolden pins the first problem of seed 1, so a change to the generator (which would change
// training data and eval sets) is noticed.
func TestGolden(t *testing.T) {
	p := Generate(Options{Count: 1, Seed: 1})[0]
	if p.ID != "arith-1-0" {
		t.Errorf("id %q", p.ID)
	}
	if got, want := fmt.Sprintf("%s|%s|%s|%s", p.Question, p.Answer, p.Subject, p.Level), golden; got != want {
		t.Errorf("seed 1 problem 0 changed:\n got %q\nwant %q", got, want)
	}
}

func TestSolutionsAndRange(t *testing.T) {
	ids := map[string]bool{}
	for seed := range uint64(20) {
		ps := Generate(Options{Count: 500, Seed: seed})
		if len(ps) != 500 {
			t.Fatalf("seed %d: %d problems", seed, len(ps))
		}
		for i, p := range ps {
			if want := fmt.Sprintf("arith-%d-%d", seed, i); p.ID != want {
				t.Errorf("id %q, want %q", p.ID, want)
			}
			if ids[p.ID] {
				t.Errorf("duplicate id %s", p.ID)
			}
			ids[p.ID] = true
			checkSolution(t, p)
			n, err := strconv.Atoi(p.Answer)
			if err != nil || n < 0 || n > 2000 {
				t.Errorf("%s: answer %q out of range", p.ID, p.Answer)
			}
			if !strings.HasSuffix(p.Question, "?") || p.Incorrect != nil {
				t.Errorf("%s: odd problem %+v", p.ID, p)
			}
		}
	}
}

func TestTemplatesAndSteps(t *testing.T) {
	ps := Generate(Options{Count: 100, Seed: 42})
	tmpl, steps := map[string]int{}, map[string]int{}
	for _, p := range ps {
		tmpl[p.Subject]++
		steps[p.Level]++
	}
	if len(tmpl) < 6 {
		t.Errorf("only %d templates in 100 problems: %v", len(tmpl), tmpl)
	}
	for _, s := range []string{"2", "3", "4"} {
		if steps[s] == 0 {
			t.Errorf("no %s-step problems: %v", s, steps)
		}
	}
	for _, o := range []Options{{MinSteps: 3, MaxSteps: 3}, {MinSteps: 4}, {MaxSteps: 2}, {MinSteps: 1, MaxSteps: 9}} {
		o.Count, o.Seed = 300, 3
		lo, hi := max(o.MinSteps, 2), 4
		if o.MaxSteps != 0 {
			hi = min(o.MaxSteps, 4)
		}
		if o.MinSteps == 0 {
			lo = 2
		}
		for _, p := range Generate(o) {
			n, _ := strconv.Atoi(p.Level)
			if n < lo || n > hi {
				t.Fatalf("%+v: %d steps", o, n)
			}
			checkSolution(t, p)
		}
	}
	if ps := Generate(Options{Count: 0}); len(ps) != 0 {
		t.Errorf("count 0: %d problems", len(ps))
	}
}

func TestExamples(t *testing.T) {
	for _, p := range Generate(Options{Count: 12, Seed: 5}) {
		t.Logf("%s [%s, %s steps] %s => %s\n%s", p.ID, p.Subject, p.Level, p.Question, p.Answer, p.Solution)
	}
}

const golden = "There are 2 groups of 9 children at a zoo. 3 more children join them, and then 5 children go home. All the children now form teams of 2. How many teams are there?|8|teams|4"
