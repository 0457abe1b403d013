// Package arith generates multi-step arithmetic word problems: short stories (people, objects,
// buying, sharing equally, groups, rates) of 2 to 4 operations (+ - * /) on small numbers, each
// with a worked solution of one "a op b = c" line per step ending "The answer is N.".
//
// Generation is deterministic: the same Options give the same problems on every machine
// (math/rand/v2's PCG, seeded per problem from Seed and the index, so that a shorter Count is a
// prefix of a longer one). Every intermediate result and the answer are non-negative integers;
// divisions are exact.
package arith

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/arborlabs/arbor/evals"
)

// Options configures Generate.
type Options struct {
	Count int
	Seed  uint64
	// MinSteps and MaxSteps bound the number of operations per problem (0: 2 and 4); they are
	// clamped to the 2 to 4 the templates support.
	MinSteps, MaxSteps int
}

// Generate returns o.Count problems with IDs "arith-<seed>-<i>". Subject is the template's
// name and Level the number of steps, for breakdowns.
func Generate(o Options) []evals.Problem {
	lo, hi := o.MinSteps, o.MaxSteps
	if lo == 0 {
		lo = 2
	}
	if hi == 0 {
		hi = 4
	}
	lo, hi = min(max(lo, 2), 4), min(max(hi, 2), 4)
	if hi < lo {
		hi = lo
	}
	out := make([]evals.Problem, 0, max(o.Count, 0))
	for i := range o.Count {
		g := &gen{r: rand.New(rand.NewPCG(o.Seed, 0x6a09e667f3bcc909^uint64(i)*0x9e3779b97f4a7c15))}
		steps := lo + g.r.IntN(hi-lo+1)
		t := templates[g.r.IntN(len(templates))]
		q, ans := t.fn(g, steps)
		if len(g.lines) != steps {
			panic(fmt.Sprintf("arith: template %s made %d steps, want %d", t.name, len(g.lines), steps))
		}
		out = append(out, evals.Problem{
			ID:       fmt.Sprintf("arith-%d-%d", o.Seed, i),
			Question: q,
			Answer:   strconv.Itoa(ans),
			Solution: strings.Join(g.lines, "\n") + fmt.Sprintf("\nThe answer is %d.", ans),
			Subject:  t.name,
			Level:    strconv.Itoa(steps),
		})
	}
	return out
}

// gen is one problem's random source and the solution lines so far.
type gen struct {
	r     *rand.Rand
	lines []string
}

// n returns a random integer in [lo, hi].
func (g *gen) n(lo, hi int) int { return lo + g.r.IntN(hi-lo+1) }

func (g *gen) pick(xs []string) string { return xs[g.r.IntN(len(xs))] }

// do computes a op b, records the step and returns the result; a negative result or an
// inexact division is a template bug.
func (g *gen) do(a int, op byte, b int) int {
	var c int
	switch op {
	case '+':
		c = a + b
	case '-':
		c = a - b
	case '*':
		c = a * b
	case '/':
		if b == 0 || a%b != 0 {
			panic(fmt.Sprintf("arith: inexact division %d / %d", a, b))
		}
		c = a / b
	}
	if c < 0 {
		panic(fmt.Sprintf("arith: negative result %d %c %d", a, op, b))
	}
	g.lines = append(g.lines, fmt.Sprintf("%d %c %d = %d", a, op, b, c))
	return c
}

type person struct{ name, sub, obj, pos string }

func (p person) Sub() string { return strings.ToUpper(p.sub[:1]) + p.sub[1:] }

var (
	women   = []string{"Mia", "Ava", "Zoe", "Lena", "Priya", "Sofia", "Nora", "Amara", "Yuki", "Elena"}
	men     = []string{"Leo", "Omar", "Ben", "Kai", "Diego", "Sam", "Ivan", "Raj", "Theo", "Jonas"}
	objects = []string{"pencils", "stickers", "marbles", "cards", "beads", "shells", "stamps", "buttons"}
	// sharable are the things the sharing template shares.
	sharable = []string{"pencils", "stickers", "marbles", "cards", "apples", "oranges", "plums", "cherries"}
	goods    = []string{"notebooks", "pens", "mugs", "books", "T-shirts", "plants"}
	things   = []string{"bike", "game", "jacket", "telescope", "guitar", "tent"}
	treats   = []string{"cookies", "muffins", "rolls", "cupcakes"}
	ordinal  = []string{"first", "second", "third", "fourth", "fifth"}
)

func (g *gen) person() person {
	if g.r.IntN(2) == 0 {
		return person{g.pick(women), "she", "her", "her"}
	}
	return person{g.pick(men), "he", "him", "his"}
}

// series joins clauses as "a and then b" or "a, then b, and then c".
func series(cs []string) string {
	switch len(cs) {
	case 0:
		return ""
	case 1:
		return cs[0]
	case 2:
		return cs[0] + " and then " + cs[1]
	}
	return strings.Join(cs[:len(cs)-1], ", then ") + ", and then " + cs[len(cs)-1]
}

// bill is the smallest usual banknote (or multiple of 100) above total.
func bill(total int) int {
	for _, b := range []int{5, 10, 20, 50, 100} {
		if b > total {
			return b
		}
	}
	return (total/100 + 1) * 100
}

type template struct {
	name string
	fn   func(g *gen, steps int) (question string, answer int)
}

// templates, in a fixed order (the generator picks by index).
var templates = []template{
	{"boxes", boxes},
	{"shopping", shopping},
	{"sharing", sharing},
	{"teams", teams},
	{"rates", rates},
	{"savings", savings},
	{"bakery", bakery},
	{"reading", reading},
	{"train", train},
}

// boxes: "Mia has 12 boxes of 4 pencils. She gives away 15 pencils and then buys 7 more."
func boxes(g *gen, steps int) (string, int) {
	p, it := g.person(), g.pick(objects)
	a, b := g.n(3, 12), g.n(2, 9)
	v := g.do(a, '*', b)
	var cs []string
	last := byte(0)
	for len(g.lines) < steps {
		var divs []int
		for k := 2; k <= 5; k++ {
			if v%k == 0 && v/k >= 2 {
				divs = append(divs, k)
			}
		}
		op := "+-/"[g.r.IntN(3)]
		if op == last || (op == '-' && v < 4) || (op == '/' && len(divs) == 0) {
			op = '+'
		}
		switch op {
		case '+':
			k := g.n(2, 15)
			v = g.do(v, '+', k)
			cs = append(cs, fmt.Sprintf("%s %d more", g.pick([]string{"buys", "finds", "is given"}), k))
		case '-':
			k := g.n(1, min(v-1, 20))
			v = g.do(v, '-', k)
			cs = append(cs, fmt.Sprintf("%s %d %s", g.pick([]string{"gives away", "loses", "uses"}), k, it))
		case '/':
			k := divs[g.r.IntN(len(divs))]
			v = g.do(v, '/', k)
			cs = append(cs, fmt.Sprintf("splits them into %d equal piles, keeping one", k))
		}
		last = op
	}
	return fmt.Sprintf("%s has %d boxes of %d %s. %s %s. How many %s does %s have now?",
		p.name, a, b, it, p.Sub(), series(cs), it, p.sub), v
}

// shopping: items at a price each, perhaps a fee or a second item, paid with a banknote.
func shopping(g *gen, steps int) (string, int) {
	p := g.person()
	a, pa, it := g.n(2, 9), g.n(2, 12), g.pick(goods)
	x := g.do(a, '*', pa)
	var q string
	switch steps {
	case 2:
		q = fmt.Sprintf("%s buys %d %s for $%d each.", p.name, a, it, pa)
	case 3:
		f := g.n(2, 9)
		x = g.do(x, '+', f)
		q = fmt.Sprintf("%s buys %d %s for $%d each. Delivery costs $%d more.", p.name, a, it, pa, f)
	default:
		it2 := g.pick(goods)
		for it2 == it {
			it2 = g.pick(goods)
		}
		b, pb := g.n(2, 6), g.n(2, 9)
		y := g.do(b, '*', pb)
		x = g.do(x, '+', y)
		q = fmt.Sprintf("%s buys %d %s for $%d each and %d %s for $%d each.", p.name, a, it, pa, b, it2, pb)
	}
	note := bill(x)
	c := g.do(note, '-', x)
	return fmt.Sprintf("%s %s pays with a $%d bill. How many dollars of change does %s get?", q, p.Sub(), note, p.sub), c
}

// sharing: a collection grows, perhaps some are kept back, and the rest is shared equally.
func sharing(g *gen, steps int) (string, int) {
	p, it := g.person(), g.pick(sharable)
	k := g.n(2, 8)
	var b, c int
	if steps >= 3 {
		b, c = g.n(2, 5), g.n(2, 10)
	} else {
		b, c = g.n(2, 20), 1
	}
	d := 0
	if steps == 4 {
		d = g.n(1, 9)
	}
	share := (b*c+d)/k + 1 + g.n(0, 6) // so the first amount is at least 1
	total := k*share + d
	a := total - b*c
	var q string
	if steps >= 3 {
		x := g.do(b, '*', c)
		g.do(a, '+', x)
		q = fmt.Sprintf("%s has %d %s and buys %d bags of %d more.", p.name, a, it, b, c)
	} else {
		g.do(a, '+', b)
		q = fmt.Sprintf("%s has %d %s and gets %d more.", p.name, a, it, b)
	}
	rest := total
	if steps == 4 {
		rest = g.do(total, '-', d)
		q += fmt.Sprintf(" %s keeps %d for %sself and shares the rest equally among %d friends.", p.Sub(), d, p.obj, k)
	} else {
		q += fmt.Sprintf(" %s shares them equally among %d friends.", p.Sub(), k)
	}
	v := g.do(rest, '/', k)
	return q + fmt.Sprintf(" How many %s does each friend get?", it), v
}

// teams: groups of children, some join or leave, then they form teams of equal size.
func teams(g *gen, steps int) (string, int) {
	place := g.pick([]string{"camp", "museum", "park", "science fair", "zoo"})
	for {
		grp, size, t := g.n(2, 8), g.n(3, 9), g.n(2, 6)
		x := grp * size
		q := fmt.Sprintf("There are %d groups of %d children at a %s.", grp, size, place)
		var join, leave int
		switch steps {
		case 2:
			if x%t != 0 {
				continue
			}
		case 3:
			join = t - x%t + t*g.n(0, 2)
		case 4:
			join = g.n(3, 12)
			leave = (x+join)%t + t*g.n(0, 2)
			if leave == 0 {
				leave = t
			}
			if x+join-leave < t {
				continue
			}
		}
		v := g.do(grp, '*', size)
		if join > 0 {
			v = g.do(v, '+', join)
			q += fmt.Sprintf(" %d more children join them", join)
			if leave > 0 {
				v = g.do(v, '-', leave)
				q += fmt.Sprintf(", and then %d children go home", leave)
			}
			q += "."
		}
		v = g.do(v, '/', t)
		return q + fmt.Sprintf(" All the children now form teams of %d. How many teams are there?", t), v
	}
}

var makers = []struct{ maker, verb, product, unit string }{
	{"A machine", "makes", "toys", "hour"},
	{"A printer", "prints", "pages", "minute"},
	{"A bakery oven", "bakes", "loaves", "hour"},
	{"A bottling line", "fills", "bottles", "minute"},
	{"A robot", "packs", "parcels", "hour"},
}

// rates: a rate times a duration, perhaps on two days, perhaps less the faulty ones.
func rates(g *gen, steps int) (string, int) {
	m := makers[g.r.IntN(len(makers))]
	r, h := g.n(3, 15), g.n(2, 9)
	x := g.do(r, '*', h)
	q := fmt.Sprintf("%s %s %d %s per %s. It runs for %d %ss", m.maker, m.verb, r, m.product, m.unit, h, m.unit)
	if steps >= 3 {
		h2 := g.n(2, 9)
		y := g.do(r, '*', h2)
		x = g.do(x, '+', y)
		q += fmt.Sprintf(" in the morning and %d %ss in the afternoon", h2, m.unit)
	}
	q += "."
	if steps != 3 {
		d := g.n(1, min(x-1, 20))
		x = g.do(x, '-', d)
		return q + fmt.Sprintf(" %d of the %s are faulty. How many good %s are there?", d, m.product, m.product), x
	}
	return q + fmt.Sprintf(" How many %s does it %s in all?", m.product, strings.TrimSuffix(m.verb, "s")), x
}

// savings: weekly savings, perhaps a gift, a purchase, perhaps the rest split into jars.
func savings(g *gen, steps int) (string, int) {
	p := g.person()
	a, w := g.n(3, 15), g.n(2, 10)
	v := g.do(a, '*', w)
	q := fmt.Sprintf("%s saves $%d a week for %d weeks.", p.name, a, w)
	if steps >= 3 {
		gift := g.n(5, 30)
		v = g.do(v, '+', gift)
		q += fmt.Sprintf(" %s grandmother gives %s $%d.", strings.ToUpper(p.pos[:1])+p.pos[1:], p.obj, gift)
	}
	thing := g.pick(things)
	if steps == 4 {
		k := g.n(2, 5)
		// spend leaves a multiple of k (at least k).
		spend := v%k + k*g.n(0, max((v-v%k)/k-1, 0))
		if spend == 0 {
			spend = k // v is at least 11 and k at most 5, so at least k is left
		}
		v = g.do(v, '-', spend)
		v = g.do(v, '/', k)
		return q + fmt.Sprintf(" %s spends $%d on a %s and splits the rest equally into %d jars. How many dollars go in each jar?",
			p.Sub(), spend, thing, k), v
	}
	spend := g.n(1, v-1)
	v = g.do(v, '-', spend)
	return q + fmt.Sprintf(" %s spends $%d on a %s. How many dollars does %s have left?", p.Sub(), spend, thing, p.sub), v
}

// bakery: trays of treats, perhaps extra baked or some sold, packed into bags of equal size.
func bakery(g *gen, steps int) (string, int) {
	tr := g.pick(treats)
	for {
		a, b, k := g.n(2, 8), g.n(4, 12), g.n(2, 6)
		x := a * b
		var extra, sold int
		switch steps {
		case 2:
			if x%k != 0 {
				continue
			}
		case 3:
			sold = x%k + k*g.n(0, 3)
			if sold == 0 {
				sold = k
			}
		case 4:
			extra = g.n(2, 12)
			sold = (x+extra)%k + k*g.n(0, 3)
			if sold == 0 {
				sold = k
			}
		}
		if x+extra-sold < k {
			continue
		}
		q := fmt.Sprintf("A baker makes %d trays of %d %s.", a, b, tr)
		v := g.do(a, '*', b)
		if extra > 0 {
			v = g.do(v, '+', extra)
			q += fmt.Sprintf(" She bakes %d more %s.", extra, tr)
		}
		if sold > 0 {
			v = g.do(v, '-', sold)
			q += fmt.Sprintf(" She sells %d %s at the counter and packs the rest into bags of %d.", sold, tr, k)
		} else {
			q += fmt.Sprintf(" She packs them into bags of %d.", k)
		}
		v = g.do(v, '/', k)
		return q + " How many bags does she fill?", v
	}
}

// reading: pages read at a daily pace out of a book's length.
func reading(g *gen, steps int) (string, int) {
	p := g.person()
	a, d := g.n(5, 20), g.n(2, 7)
	x := a * d
	var e, b, f int
	switch steps {
	case 3:
		e = g.n(5, 30)
		x += e
	case 4:
		b, f = g.n(5, 20), g.n(2, 5)
		x += b * f
	}
	pages := x + g.n(10, 150)
	q := fmt.Sprintf("A book has %d pages. %s reads %d pages a day for %d days", pages, p.name, a, d)
	v := g.do(a, '*', d)
	switch steps {
	case 3:
		v = g.do(v, '+', e)
		q += fmt.Sprintf(" and then %d more pages on Sunday.", e)
	case 4:
		y := g.do(b, '*', f)
		v = g.do(v, '+', y)
		q += fmt.Sprintf(", and then %d pages a day for %d more days.", b, f)
	default:
		q += "."
	}
	left := g.do(pages, '-', v)
	return q + fmt.Sprintf(" How many pages does %s still have to read?", p.sub), left
}

// train: cars of passengers, then people get off and on at the stops.
func train(g *gen, steps int) (string, int) {
	c, s := g.n(3, 8), g.n(10, 30)
	v := g.do(c, '*', s)
	q := fmt.Sprintf("A train has %d cars with %d passengers in each.", c, s)
	var events []string
	for len(g.lines) < steps {
		if v >= 10 && g.r.IntN(2) == 0 {
			k := g.n(2, min(v-1, 40))
			v = g.do(v, '-', k)
			events = append(events, fmt.Sprintf("%d get off", k))
		} else {
			k := g.n(2, 25)
			v = g.do(v, '+', k)
			events = append(events, fmt.Sprintf("%d get on", k))
		}
	}
	for i := 0; i < len(events); i += 2 {
		stop := fmt.Sprintf(" At the %s stop, %s", ordinal[i/2], events[i])
		if i+1 < len(events) {
			stop += " and " + events[i+1]
		}
		q += stop + "."
	}
	return q + " How many passengers are on the train now?", v
}
