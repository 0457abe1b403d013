// Package arith generates multi-step arithmetic word problems: short stories (shops, crates,
// warehouses, savings, recipes, sharing, rates, trips ...) of 2 to 5 operations on integers up
// to six digits and on exact fractions, each with a worked solution kept in structured form
// (GenerateWorked: one calculator expression, exact result and conclusion sentence per step)
// and as text (Problem.Solution: one "expression = result" line per step, then "The answer is
// X.").
//
// It serves two users: the eval harness's arith task (Generate) and the training corpus of
// Arbor's demo model (train/corpus, through GenerateWorked). The wording varies widely: several
// phrasings per fact and per question, synonyms for objects and verbs, independent facts in
// varied order, the question sometimes first, and now and then an irrelevant sentence.
//
// # Splits and seeds
//
// Two families of templates share their phrasing among settings that bring only nouns: the
// stock family (a holder with containers of things, then things added and taken away: a shop's
// crates of jars, a stadium's sections of fans) and the rates family (a machine making things at
// a rate). Six of their settings (HeldoutTemplates) and a fifth of the names are kept out of
// training, so that a held-out problem is a familiar kind of story about places, things, machines
// and people a model never saw; the other templates, stories of a kind of their own, are all
// trained on (see HeldoutTemplates for why). Half of the time a training setting draws its nouns
// and sizes from word pools that hold none of the held-out settings' words, a third of those
// words made up from syllables (see varySetting and madeUp).
// Options.Split "train" uses only the training templates and names, "heldout" only the held-out
// ones, and "" or "all" everything.
// Seeds are split too: training data uses seeds below HeldoutSeed (1,000,000) and evaluation
// sets seeds from HeldoutSeed up (Options.Check enforces it for the "train", "heldout" and
// "unseen" splits), so that held-out problems differ from training ones in seed, template and
// names. "unseen" is the training templates and names at evaluation seeds: problems of the
// trained kinds that training never drew. A problem's ID carries its split and seed:
// "arith-<seed>-<i>" for the whole generator, "arith-<split>-<seed>-<i>" for the splits.
//
// Generation is deterministic: the same Options give the same problems on every machine
// (math/rand/v2's PCG, seeded per problem from Seed and the index, so that a shorter Count is a
// prefix of a longer one). Every intermediate result and the answer are non-negative; most are
// integers, and the fraction templates give exact fractions (answers such as "7/2", reduced,
// which the grader compares as exact rationals). Every step's expression is in the language of
// Arbor's calculator (tools/calc) and evaluates exactly to its result.
package arith

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/arborlabs/arbor/evals"
)

// HeldoutSeed is the first seed of evaluation sets: training uses seeds below it.
const HeldoutSeed = 1_000_000

// Splits.
const (
	SplitAll     = "all"
	SplitTrain   = "train"
	SplitHeldout = "heldout"
	// SplitUnseen draws the training templates and names with evaluation seeds: problems of
	// the kinds the model was trained on that it never saw.
	SplitUnseen = "unseen"
)

// Options configures Generate and GenerateWorked.
type Options struct {
	Count int
	Seed  uint64
	// MinSteps and MaxSteps bound the number of operations per problem (0: 2 and 4); they are
	// clamped to the 2 to 5 the templates support.
	MinSteps, MaxSteps int
	// Split selects templates and names: "" or "all" everything, "train" the training ones,
	// "heldout" the held-out ones (see the package doc).
	Split string
}

// Check reports options that break the split rules: an unknown split, a "train" seed at or
// above HeldoutSeed, a "heldout" seed below it.
func (o Options) Check() error {
	switch o.Split {
	case "", SplitAll:
	case SplitTrain:
		if o.Seed >= HeldoutSeed {
			return fmt.Errorf("arith: train split with seed %d: training seeds are below %d", o.Seed, HeldoutSeed)
		}
	case SplitHeldout, SplitUnseen:
		if o.Seed < HeldoutSeed {
			return fmt.Errorf("arith: %s split with seed %d: evaluation seeds are %d and up", o.Split, o.Seed, HeldoutSeed)
		}
	default:
		return fmt.Errorf("arith: unknown split %q (want %q, %q, %q or %q)", o.Split, SplitAll, SplitTrain, SplitHeldout, SplitUnseen)
	}
	return nil
}

// Step is one operation of a worked solution.
type Step struct {
	// Expr is a calculator expression (tools/calc) over numbers of the question and earlier
	// results, e.g. "24*17" then "408-150". A fraction operand is parenthesised: "(3/4)*12".
	Expr string
	// Result is Expr's exact value as the calculator writes it: an integer or a reduced
	// fraction ("408", "7/2").
	Result string
	// Says is a short sentence stating the result, e.g. "The shop ordered 408 jars."
	Says string
}

// Worked is a problem with its solution's steps; Problem.Answer is the last step's Result.
type Worked struct {
	Problem evals.Problem
	Steps   []Step
	// Unit is what the answer counts ("jars", "dollars"), for a sentence stating it.
	Unit string
}

// Generate returns o.Count problems (see the package doc for IDs). Subject is the template's
// name and Level the number of steps, for breakdowns. Options that fail Check still generate
// (the eval harness picks its own seeds); training code should call Check.
func Generate(o Options) []evals.Problem {
	ws := GenerateWorked(o)
	out := make([]evals.Problem, len(ws))
	for i, w := range ws {
		out[i] = w.Problem
	}
	return out
}

// GenerateWorked returns o.Count problems with their steps.
func GenerateWorked(o Options) []Worked {
	lo, hi := o.MinSteps, o.MaxSteps
	if lo == 0 {
		lo = 2
	}
	if hi == 0 {
		hi = 4
	}
	lo, hi = min(max(lo, 2), 5), min(max(hi, 2), 5)
	if hi < lo {
		hi = lo
	}
	tmpls, names := pools(o.Split)
	prefix := "arith-"
	if o.Split == SplitTrain || o.Split == SplitHeldout || o.Split == SplitUnseen {
		prefix += o.Split + "-"
	}
	out := make([]Worked, 0, max(o.Count, 0))
	for i := range o.Count {
		r := rand.New(rand.NewPCG(o.Seed, 0x6a09e667f3bcc909^uint64(i)*0x9e3779b97f4a7c15))
		steps := lo + r.IntN(hi-lo+1)
		t := tmpls[r.IntN(len(tmpls))]
		g := &gen{r: r, names: names, want: steps, vary: !slices.Contains(HeldoutTemplates, t.name)}
		s := t.fn(g)
		if len(g.steps) != steps {
			panic(fmt.Sprintf("arith: template %s made %d steps, want %d", t.name, len(g.steps), steps))
		}
		q := g.question(s)
		last := g.steps[len(g.steps)-1].Result
		lines := make([]string, 0, steps+1)
		for _, st := range g.steps {
			lines = append(lines, st.Expr+" = "+st.Result)
		}
		lines = append(lines, "The answer is "+last+".")
		out = append(out, Worked{
			Problem: evals.Problem{
				ID:       fmt.Sprintf("%s%d-%d", prefix, o.Seed, i),
				Question: q,
				Answer:   last,
				Solution: strings.Join(lines, "\n"),
				Subject:  t.name,
				Level:    strconv.Itoa(steps),
			},
			Steps: g.steps,
			Unit:  s.unit,
		})
	}
	return out
}

// pools returns the templates and names of a split.
func pools(split string) ([]template, []person) {
	if split == SplitUnseen {
		split = SplitTrain
	}
	var ts []template
	for _, t := range templates {
		held := slices.Contains(HeldoutTemplates, t.name)
		if split == SplitTrain && held || split == SplitHeldout && !held {
			continue
		}
		ts = append(ts, t)
	}
	var ps []person
	for i, p := range people {
		held := i%5 == 4 // every fifth name
		if split == SplitTrain && held || split == SplitHeldout && !held {
			continue
		}
		ps = append(ps, p)
	}
	return ts, ps
}

// TemplateNames lists the templates of a split.
func TemplateNames(split string) []string {
	ts, _ := pools(split)
	var out []string
	for _, t := range ts {
		out = append(out, t.name)
	}
	return out
}

// NameCount is how many names a split draws people from.
func NameCount(split string) int {
	_, ps := pools(split)
	return len(ps)
}

// story is what a template returns: its facts in groups (the facts of a group may come in any
// order; groups come in order), the question (phrasings to pick from), and the answer's unit.
type story struct {
	groups [][]string
	ask    []string
	unit   string
}

func (s *story) fact(f string) { s.groups = append(s.groups, []string{f}) }

// free adds facts that may come in any order.
func (s *story) free(fs ...string) { s.groups = append(s.groups, fs) }

// then appends a sentence to the last group's last fact (a clause that must follow it).
func (s *story) then(f string) {
	g := s.groups[len(s.groups)-1]
	g[len(g)-1] += " " + f
}

// gen is one problem's random source, names, wanted step count and the steps so far.
type gen struct {
	r     *rand.Rand
	names []person
	want  int
	steps []Step
	used  map[string]bool
	// vary lets a family's setting draw other nouns and numbers from the pools (see
	// varySetting): true for every template but the held-out ones.
	vary bool
}

// left is how many steps are still to make.
func (g *gen) left() int { return g.want - len(g.steps) }

// n returns a random integer in [lo, hi].
func (g *gen) n(lo, hi int64) int64 { return lo + g.r.Int64N(hi-lo+1) }

func (g *gen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

type person struct{ name, sub, obj, pos string }

// Sub is the subject pronoun capitalised; Pos the possessive capitalised.
func (p person) Sub() string { return capital(p.sub) }
func (p person) Pos() string { return capital(p.pos) }

// has and does agree with the pronoun (always third person singular here).
func capital(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

// person picks a name not used yet in this problem.
func (g *gen) person() person {
	if g.used == nil {
		g.used = map[string]bool{}
	}
	for {
		p := g.names[g.r.IntN(len(g.names))]
		if !g.used[p.name] || len(g.used) >= len(g.names) {
			g.used[p.name] = true
			return p
		}
	}
}

// Numbers.

func ri(n int64) *big.Rat { return new(big.Rat).SetInt64(n) }

func frac(a, b int64) *big.Rat { return big.NewRat(a, b) }

// lit writes a value as a calculator operand: an integer plainly, a fraction in parentheses.
func lit(x *big.Rat) string {
	if x.IsInt() {
		return x.Num().String()
	}
	return "(" + x.RatString() + ")"
}

// num writes a value for the question text: fractions as "3/4", large integers sometimes with
// thousands separators (when sep).
func num(x *big.Rat, sep bool) string {
	if !x.IsInt() {
		return x.RatString()
	}
	s := x.Num().String()
	if !sep || len(s) < 5 {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// q writes a number of the question (with separators half the time for large ones).
func (g *gen) q(x any) string {
	switch v := x.(type) {
	case int64:
		return num(ri(v), g.r.IntN(2) == 0)
	case int:
		return num(ri(int64(v)), g.r.IntN(2) == 0)
	case *big.Rat:
		return num(v, g.r.IntN(2) == 0)
	}
	panic(fmt.Sprintf("arith: q(%T)", x))
}

// says formats a result for a conclusion.
func says(x *big.Rat) string { return num(x, false) }

// op computes a op b, records the step with its conclusion (says: a format with one %s, the
// result) and returns the result. A negative result or division by zero is a template bug.
func (g *gen) op(a *big.Rat, op byte, b *big.Rat, saysf string) *big.Rat {
	c := new(big.Rat)
	switch op {
	case '+':
		c.Add(a, b)
	case '-':
		c.Sub(a, b)
	case '*':
		c.Mul(a, b)
	case '/':
		if b.Sign() == 0 {
			panic("arith: division by zero")
		}
		c.Quo(a, b)
	}
	if c.Sign() < 0 {
		panic(fmt.Sprintf("arith: negative result %s %c %s", a.RatString(), op, b.RatString()))
	}
	g.steps = append(g.steps, Step{Expr: lit(a) + string(op) + lit(b), Result: c.RatString(),
		Says: fmt.Sprintf(saysf, says(c))})
	return c
}

// expr records a step of a longer expression whose value the caller computed.
func (g *gen) expr(e string, v *big.Rat, saysf string) *big.Rat {
	g.steps = append(g.steps, Step{Expr: e, Result: v.RatString(), Says: fmt.Sprintf(saysf, says(v))})
	return v
}

// events spends the remaining steps but keep on additions and removals of the integer quantity
// v, each a sentence of the story in time order. add and sub are phrasings with one %s (the
// amount); total the conclusion after each event (%s: the new total).
func (g *gen) events(s *story, v *big.Rat, keep int, add, sub []string, total string) *big.Rat {
	var clauses []string
	lastAdd := -1
	for g.left() > keep {
		vi := v.Num().Int64()
		doSub := vi >= 4 && (lastAdd == 1 || lastAdd == -1 && g.r.IntN(2) == 0 || lastAdd == 0 && g.r.IntN(3) == 0)
		if doSub {
			k := g.n(1, min(vi-1, max(vi/2, 1)))
			v = g.op(v, '-', ri(k), total)
			clauses = append(clauses, fmt.Sprintf(g.pick(sub...), g.q(k)))
			lastAdd = 0
		} else {
			hi := min(max(vi/2, 12), 999_999-vi) // answers stay within six digits
			if hi < 2 {
				hi = 12
			}
			k := g.n(2, hi)
			v = g.op(v, '+', ri(k), total)
			clauses = append(clauses, fmt.Sprintf(g.pick(add...), g.q(k)))
			lastAdd = 1
		}
	}
	for i, c := range clauses {
		lead := ""
		if i > 0 {
			lead = g.pick("then ", "after that, ", "later, ", "next, ", "")
		}
		s.fact(capital(lead+c) + ".")
	}
	return v
}

// question assembles the question: facts (independent ones shuffled), perhaps an irrelevant
// sentence, the question at the end (or, now and then, first).
func (g *gen) question(s story) string {
	var facts []string
	for _, grp := range s.groups {
		grp = slices.Clone(grp)
		g.r.Shuffle(len(grp), func(i, j int) { grp[i], grp[j] = grp[j], grp[i] })
		facts = append(facts, grp...)
	}
	for i, f := range facts {
		facts[i] = capital(f)
	}
	if g.chance(0.15) {
		// One about a person comes first, so that it cannot stand between a name and its
		// pronoun; others anywhere.
		d, about := g.distractor()
		at := 0
		if !about {
			at = g.r.IntN(len(facts) + 1)
		}
		facts = slices.Insert(facts, at, d)
	}
	ask := g.pick(s.ask...)
	if g.chance(0.08) {
		return strings.TrimSpace("Here is a problem. " + strings.Join(facts, " ") + " " + ask)
	}
	return strings.Join(facts, " ") + " " + ask
}

// distractor is an irrelevant sentence; about says whether it names a person.
func (g *gen) distractor() (s string, about bool) {
	p := g.person()
	switch g.r.IntN(9) {
	case 0:
		return fmt.Sprintf("%s likes the color %s.", p.name, g.pick("blue", "green", "red", "yellow", "purple")), true
	case 1:
		return fmt.Sprintf("It was a %s day.", g.pick("sunny", "rainy", "windy", "cold", "warm")), false
	case 2:
		return fmt.Sprintf("%s is %d years old.", p.name, g.n(8, 70)), true
	case 3:
		return fmt.Sprintf("The %s opened %d years ago.", g.pick("shop", "school", "library", "market"), g.n(2, 90)), false
	case 4:
		return fmt.Sprintf("%s has a %s named %s.", p.name, g.pick("dog", "cat", "parrot", "rabbit"),
			g.pick("Max", "Luna", "Pepper", "Biscuit", "Coco")), true
	case 5:
		return fmt.Sprintf("The nearest town is %d kilometres away.", g.n(2, 40)), false
	case 6:
		return fmt.Sprintf("Everyone agreed it was %s.", g.pick("fun", "a long day", "hard work", "worth it")), false
	case 7:
		return fmt.Sprintf("The weather forecast said %d degrees.", g.n(5, 35)), false
	}
	return fmt.Sprintf("%s wears a %s hat.", p.name, g.pick("red", "striped", "woolly", "big")), true
}

// divisorsIn returns the k in [lo, hi] dividing v with v/k >= 2.
func divisorsIn(v, lo, hi int64) []int64 {
	var ds []int64
	for k := lo; k <= hi; k++ {
		if v%k == 0 && v/k >= 2 {
			ds = append(ds, k)
		}
	}
	return ds
}
