package arith

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/arborlabs/arbor/evals"
	"github.com/arborlabs/arbor/evals/grade"
	"github.com/arborlabs/arbor/tools/calc"
)

// knowledge are numbers a template's steps may use without the question stating them.
var knowledge = map[string][]string{"budget": {"12"}, "coins": {"25", "10", "5"}}

var (
	// numbers of the question: integers (perhaps with thousands separators) and fractions.
	questionNumRE = regexp.MustCompile(`[0-9][0-9,]*(/[0-9]+)?`)
	// operands of an expression: integers and parenthesised fractions.
	operandRE = regexp.MustCompile(`\([0-9]+/[0-9]+\)|[0-9]+`)
)

// checkWorked checks a worked problem: every step's expression evaluates (with Arbor's
// calculator) exactly to its result, every operand is a number of the question or an earlier
// result, the solution text and the answer agree with the steps, and the grader accepts the
// answer.
func checkWorked(t *testing.T, w Worked) {
	t.Helper()
	p := w.Problem
	if strconv.Itoa(len(w.Steps)) != p.Level {
		t.Errorf("%s: %d steps, level %s", p.ID, len(w.Steps), p.Level)
	}
	known := map[string]bool{}
	for _, c := range knowledge[p.Subject] {
		known[c] = true // facts of the world the story takes as known (12 months in a year)
	}
	for _, f := range questionNumRE.FindAllString(p.Question, -1) {
		f = strings.TrimRight(f, ",")
		r, ok := new(big.Rat).SetString(strings.ReplaceAll(f, ",", ""))
		if ok {
			known[r.RatString()] = true
		}
	}
	var lines []string
	for _, s := range w.Steps {
		v, err := calc.Evaluate(s.Expr)
		if err != nil {
			t.Fatalf("%s: step %q: %v", p.ID, s.Expr, err)
		}
		if v.RatString() != s.Result {
			t.Errorf("%s: %s = %s, step says %s", p.ID, s.Expr, v.RatString(), s.Result)
		}
		if v.Sign() < 0 {
			t.Errorf("%s: negative result %s", p.ID, s.Expr)
		}
		for _, o := range operandRE.FindAllString(s.Expr, -1) {
			r, _ := new(big.Rat).SetString(strings.Trim(o, "()"))
			if !known[r.RatString()] {
				t.Errorf("%s: %q: %s is neither in the question nor an earlier result\n%s", p.ID, s.Expr, o, p.Question)
			}
		}
		if s.Says == "" || strings.Contains(s.Says, "%!") || !strings.HasSuffix(s.Says, ".") {
			t.Errorf("%s: conclusion %q", p.ID, s.Says)
		}
		known[s.Result] = true
		lines = append(lines, s.Expr+" = "+s.Result)
	}
	last := w.Steps[len(w.Steps)-1].Result
	if p.Answer != last {
		t.Errorf("%s: answer %s, last result %s", p.ID, p.Answer, last)
	}
	if want := strings.Join(lines, "\n") + "\nThe answer is " + last + "."; p.Solution != want {
		t.Errorf("%s: solution %q, want %q", p.ID, p.Solution, want)
	}
	if r := grade.Grade(evals.TaskArith, "The answer is "+p.Answer+".", p.Answer); !r.Correct {
		t.Errorf("%s: the grader rejects its own gold %q: %+v", p.ID, p.Answer, r)
	}
	for _, bad := range []string{"%!", "{P}", "{O}", "  ", ".."} {
		if strings.Contains(p.Question, bad) {
			t.Errorf("%s: %q in question %q", p.ID, bad, p.Question)
		}
	}
	if !strings.HasSuffix(p.Question, "?") || p.Incorrect != nil || w.Unit == "" {
		t.Errorf("%s: odd problem %+v", p.ID, w)
	}
}

func TestDeterministic(t *testing.T) {
	for _, split := range []string{"", SplitTrain, SplitHeldout} {
		a := GenerateWorked(Options{Count: 50, Seed: 7, Split: split, MaxSteps: 5})
		b := GenerateWorked(Options{Count: 50, Seed: 7, Split: split, MaxSteps: 5})
		if !reflect.DeepEqual(a, b) {
			t.Fatal("same seed, different problems")
		}
		c := GenerateWorked(Options{Count: 50, Seed: 8, Split: split, MaxSteps: 5})
		if reflect.DeepEqual(a, c) {
			t.Fatal("different seeds, same problems")
		}
		// A shorter count is a prefix of a longer one.
		if p := GenerateWorked(Options{Count: 10, Seed: 7, Split: split, MaxSteps: 5}); !reflect.DeepEqual(p, a[:10]) {
			t.Fatal("count 10 is not a prefix of count 50")
		}
	}
	ps := Generate(Options{Count: 20, Seed: 7})
	ws := GenerateWorked(Options{Count: 20, Seed: 7})
	for i := range ps {
		if !reflect.DeepEqual(ps[i], ws[i].Problem) {
			t.Fatalf("Generate and GenerateWorked differ at %d", i)
		}
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
	w := GenerateWorked(Options{Count: 1, Seed: 1, Split: SplitTrain, MaxSteps: 5})[0]
	if got := fmt.Sprintf("%s|%s|%v", w.Problem.ID, w.Problem.Question, w.Steps); got != goldenTrain {
		t.Errorf("train seed 1 problem 0 changed:\n got %q\nwant %q", got, goldenTrain)
	}
}

// TestStepsExact generates 10,000 problems (all splits, 2 to 5 steps) and checks each with the
// calculator.
func TestStepsExact(t *testing.T) {
	ids := map[string]bool{}
	n := 0
	for _, o := range []Options{{Seed: 0}, {Seed: 1, Split: SplitTrain}, {Seed: HeldoutSeed, Split: SplitHeldout},
		{Seed: 2, MinSteps: 5, MaxSteps: 5}, {Seed: 3, MinSteps: 2, MaxSteps: 5}} {
		o.Count = 2000
		ws := GenerateWorked(o)
		for i, w := range ws {
			prefix := "arith-"
			if o.Split != "" {
				prefix += o.Split + "-"
			}
			if want := fmt.Sprintf("%s%d-%d", prefix, o.Seed, i); w.Problem.ID != want {
				t.Errorf("id %q, want %q", w.Problem.ID, want)
			}
			if ids[w.Problem.ID] {
				t.Errorf("duplicate id %s", w.Problem.ID)
			}
			ids[w.Problem.ID] = true
			checkWorked(t, w)
			n++
		}
	}
	if n != 10000 {
		t.Fatalf("%d problems", n)
	}
}

func TestSplits(t *testing.T) {
	all, train, held := TemplateNames(""), TemplateNames(SplitTrain), TemplateNames(SplitHeldout)
	if len(all) < 25 || len(train)+len(held) != len(all) || len(held) < 6 {
		t.Errorf("templates: %d all, %d train, %d heldout", len(all), len(train), len(held))
	}
	for _, h := range held {
		if slices.Contains(train, h) {
			t.Errorf("template %s in both splits", h)
		}
	}
	if n := NameCount(""); n < 60 || NameCount(SplitHeldout) < n/6 || NameCount(SplitTrain)+NameCount(SplitHeldout) != n {
		t.Errorf("names: %d all, %d train, %d heldout", n, NameCount(SplitTrain), NameCount(SplitHeldout))
	}
	_, trainPeople := pools(SplitTrain)
	_, heldPeople := pools(SplitHeldout)
	names := regexp.MustCompile(`\b[A-Z][a-z]+\b`)
	heldName := map[string]bool{}
	for _, p := range heldPeople {
		heldName[p.name] = true
	}
	trainName := map[string]bool{}
	for _, p := range trainPeople {
		trainName[p.name] = true
	}
	for _, w := range GenerateWorked(Options{Count: 2000, Seed: 11, Split: SplitTrain, MaxSteps: 5}) {
		if slices.Contains(held, w.Problem.Subject) {
			t.Fatalf("train problem from held-out template %s", w.Problem.Subject)
		}
		for _, n := range names.FindAllString(w.Problem.Question, -1) {
			if heldName[n] {
				t.Fatalf("train problem names held-out %s: %s", n, w.Problem.Question)
			}
		}
	}
	for _, w := range GenerateWorked(Options{Count: 500, Seed: HeldoutSeed, Split: SplitHeldout, MaxSteps: 5}) {
		if !slices.Contains(held, w.Problem.Subject) {
			t.Fatalf("heldout problem from training template %s", w.Problem.Subject)
		}
		for _, n := range names.FindAllString(w.Problem.Question, -1) {
			if trainName[n] {
				t.Fatalf("heldout problem names training %s: %s", n, w.Problem.Question)
			}
		}
	}
	for _, c := range []struct {
		o  Options
		ok bool
	}{{Options{Split: SplitTrain, Seed: 5}, true}, {Options{Split: SplitTrain, Seed: HeldoutSeed}, false},
		{Options{Split: SplitHeldout, Seed: HeldoutSeed}, true}, {Options{Split: SplitHeldout, Seed: 3}, false},
		{Options{Split: SplitUnseen, Seed: HeldoutSeed}, true}, {Options{Split: SplitUnseen, Seed: 7}, false},
		{Options{Seed: 3}, true}, {Options{Split: "dev"}, false}} {
		if err := c.o.Check(); (err == nil) != c.ok {
			t.Errorf("%+v: Check %v", c.o, err)
		}
	}
	// unseen: the training templates and names, at evaluation seeds, with IDs of their own.
	for i, w := range GenerateWorked(Options{Count: 300, Seed: HeldoutSeed, Split: SplitUnseen, MaxSteps: 5}) {
		if slices.Contains(held, w.Problem.Subject) || w.Problem.ID != fmt.Sprintf("arith-unseen-%d-%d", HeldoutSeed, i) {
			t.Fatalf("unseen problem %s from template %s", w.Problem.ID, w.Problem.Subject)
		}
		for _, n := range names.FindAllString(w.Problem.Question, -1) {
			if heldName[n] {
				t.Fatalf("unseen problem names held-out %s: %s", n, w.Problem.Question)
			}
		}
	}
}

func TestTemplatesAndSteps(t *testing.T) {
	ps := Generate(Options{Count: 300, Seed: 42, MaxSteps: 5})
	tmpl, steps := map[string]int{}, map[string]int{}
	for _, p := range ps {
		tmpl[p.Subject]++
		steps[p.Level]++
	}
	if len(tmpl) < 25 {
		t.Errorf("only %d templates in 300 problems: %v", len(tmpl), tmpl)
	}
	for _, s := range []string{"2", "3", "4", "5"} {
		if steps[s] == 0 {
			t.Errorf("no %s-step problems: %v", s, steps)
		}
	}
	for _, o := range []Options{{MinSteps: 3, MaxSteps: 3}, {MinSteps: 4}, {MaxSteps: 2}, {MinSteps: 1, MaxSteps: 9}, {MinSteps: 5}} {
		o.Count, o.Seed = 300, 3
		lo, hi := max(o.MinSteps, 2), 4
		if o.MaxSteps != 0 {
			hi = min(o.MaxSteps, 5)
		}
		if o.MinSteps == 0 {
			lo = 2
		}
		hi = max(hi, lo)
		for _, w := range GenerateWorked(o) {
			n, _ := strconv.Atoi(w.Problem.Level)
			if n < lo || n > hi {
				t.Fatalf("%+v: %d steps", o, n)
			}
			checkWorked(t, w)
		}
	}
	if ps := Generate(Options{Count: 0}); len(ps) != 0 {
		t.Errorf("count 0: %d problems", len(ps))
	}
}

// TestVariety measures the wording's variety: distinct questions, fraction and large answers.
func TestVariety(t *testing.T) {
	ws := GenerateWorked(Options{Count: 5000, Seed: 9, MaxSteps: 5})
	qs, firsts := map[string]bool{}, map[string]bool{}
	fracs, big6 := 0, 0
	for _, w := range ws {
		qs[w.Problem.Question] = true
		f := strings.Fields(w.Problem.Question)
		firsts[strings.Join(f[:min(3, len(f))], " ")] = true
		if strings.Contains(w.Problem.Answer, "/") {
			fracs++
		}
		if len(w.Problem.Answer) >= 5 {
			big6++
		}
	}
	t.Logf("5000 problems: %d distinct questions, %d distinct openings, %d fraction answers, %d answers of 5+ digits",
		len(qs), len(firsts), fracs, big6)
	if len(qs) < 4990 || len(firsts) < 300 || fracs < 100 || big6 < 300 {
		t.Errorf("too little variety")
	}
}

func TestExamples(t *testing.T) {
	for _, w := range GenerateWorked(Options{Count: 12, Seed: 5, MaxSteps: 5}) {
		p := w.Problem
		t.Logf("%s [%s, %s steps] %s => %s\n%v", p.ID, p.Subject, p.Level, p.Question, p.Answer, w.Steps)
	}
}

const golden = "The school opened 51 years ago. There are 12 floors at the hotel, each with 50 guests. 215 guests leave early. Then 50 more guests come in. Next, 202 guests go home. How many guests are left in the end?|233|hotel|4"

const goldenTrain = "arith-train-1-0|Freya buys 3 candles at $32 each. She picks up 7 T-shirts for $36 apiece. Delivery costs $5 more. She pays with a $400 bill. How much change does she get, in dollars?|[{3*32 96 The candles cost $96.} {7*36 252 The T-shirts cost $252.} {96+252 348 Together that is $348.} {348+5 353 With delivery the bill is $353.} {400-353 47 The change is $47.}]"

// TestPoolsLeaveHeldoutOut: no word of a held-out setting (its place, containers, things, maker,
// verb, product) is in the pools the training settings draw from, so that a held-out problem's
// nouns stay unseen in training.
func TestPoolsLeaveHeldoutOut(t *testing.T) {
	held := heldoutWords
	for _, w := range []string{"library", "shelves", "books", "stadium", "fans", "aquarium", "tanks", "turtles",
		"museum", "rooms", "visitors", "loom", "weaves", "scarves", "kiln", "fires", "bowls"} {
		if !held[w] {
			t.Errorf("heldoutWords lacks %q", w)
		}
	}
	var pooled []string
	pooled = append(pooled, moverPool...)
	pooled = append(pooled, objectPool...)
	pooled = append(pooled, verbPool...)
	for _, c := range containerPool {
		pooled = append(pooled, c[0], c[1])
	}
	for _, h := range holderPool {
		pooled = append(pooled, strings.ToLower(strings.TrimPrefix(h, "The ")))
	}
	for _, m := range makerPool {
		pooled = append(pooled, strings.ToLower(strings.TrimPrefix(m, "A ")))
	}
	for _, w := range pooled {
		if held[w] {
			t.Errorf("%q is a held-out setting's word and in a training pool", w)
		}
	}
	if len(held) < 20 {
		t.Fatalf("only %d held-out words: %v", len(held), held)
	}
	// And training problems do draw from the pools: a noun of no setting shows up.
	seen := 0
	for _, w := range GenerateWorked(Options{Count: 400, Seed: 3, Split: SplitTrain, MaxSteps: 5}) {
		if strings.Contains(w.Problem.Question, " hikers") || strings.Contains(w.Problem.Question, " helmets") ||
			strings.Contains(w.Problem.Question, " batteries") || strings.Contains(w.Problem.Question, " sheds") {
			seen++
		}
	}
	if seen == 0 {
		t.Error("no training problem drew from the pools")
	}

	// Made-up words are never a held-out word, and training problems use them: a unit that no
	// pool or setting holds shows up.
	g := &gen{r: rand.New(rand.NewPCG(1, 2))}
	for range 20000 {
		w := g.madeUp()
		if held[w] || held[w+"s"] || len(w) < 2 || strings.Trim(w, "abcdefghijklmnopqrstuvwxyz") != "" {
			t.Fatalf("made-up word %q", w)
		}
	}
	known := map[string]bool{}
	for _, w := range pooled {
		known[w] = true
	}
	for _, s := range []setting{shopCrates, personBoxes, warehouse, orchard, parking, buses, trainCars, farmPens,
		bakeryTrays, postBags, toyBins, docks, hotel, flowerbeds} {
		for _, x := range s.things {
			known[x] = true
		}
	}
	for _, m := range []maker{toyMachine, printer, oven, bottler, robot, sewing, press, candles} {
		known[m.product] = true
	}
	families := []string{"crates", "boxes", "warehouse", "orchard", "parking", "pens", "buses", "train", "trays",
		"mailbags", "bins", "ships", "hotel", "flowerbeds", "toys", "printer", "oven", "bottling", "robot", "sewing",
		"press", "candles"}
	madeUp := 0
	for _, w := range GenerateWorked(Options{Count: 400, Seed: 3, Split: SplitTrain, MaxSteps: 5}) {
		if !known[w.Unit] && slices.Contains(families, w.Problem.Subject) {
			madeUp++
		}
	}
	if madeUp == 0 {
		t.Error("no training problem of the families counts made-up things")
	}
}
