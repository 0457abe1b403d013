package metrics

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/arborlabs/arbor/evals"
)

// Comparison pairs two runs (A and B) over the problems both have graded.
//
// Diff is B's accuracy minus A's, with a paired bootstrap interval (problems resampled, each
// carrying both runs' scores, fixed seed). PValue is an exact two-sided sign test over the
// problems where the runs' per-problem avg@k scores differ: under the null hypothesis each
// such problem is equally likely to favour either run. With one sample per problem this is
// exactly McNemar's exact test on the discordant problems; with several, a problem counts for
// the run whose share of correct samples is higher. Problems where both score the same carry
// no information about the sign and are left out (no discordant problems: p = 1).
type Comparison struct {
	Both  int `json:"both"`   // problems present in both runs
	OnlyA int `json:"only_a"` // problems only A has
	OnlyB int `json:"only_b"` // problems only B has
	// Paired counts the problems both runs graded (at least one sample without an error in
	// each): the problems every figure below is computed over.
	Paired    int        `json:"paired"`
	AccuracyA float64    `json:"accuracy_a"`
	AccuracyB float64    `json:"accuracy_b"`
	Diff      float64    `json:"diff"` // AccuracyB - AccuracyA
	CI95      [2]float64 `json:"ci95"` // of Diff
	// BetterA and BetterB count the problems where that run scores higher; Ties the rest.
	BetterA int     `json:"better_a"`
	BetterB int     `json:"better_b"`
	Ties    int     `json:"ties"`
	PValue  float64 `json:"p_value"`
	Method  string  `json:"method"`
}

// CompareMethod names the test behind Comparison.PValue.
const CompareMethod = "exact two-sided sign test on problems whose avg@k differs (McNemar's exact test at k=1); paired problem bootstrap for the CI"

// Compare pairs runs a and b over their common problems (see Comparison).
func Compare(a, b []evals.Record) Comparison {
	pa, pb := group(a), group(b)
	byB := map[string]*problem{}
	for _, p := range pb {
		byB[p.id] = p
	}
	c := Comparison{Method: CompareMethod}
	var sa, sb, d []float64
	for _, p := range pa { // sorted by ID, so the bootstrap sees a fixed order
		q, ok := byB[p.id]
		if !ok {
			c.OnlyA++
			continue
		}
		c.Both++
		if len(p.graded) == 0 || len(q.graded) == 0 {
			continue
		}
		x, y := p.score(), q.score()
		sa, sb, d = append(sa, x), append(sb, y), append(d, y-x)
		switch {
		case x > y:
			c.BetterA++
		case y > x:
			c.BetterB++
		default:
			c.Ties++
		}
	}
	c.OnlyB = len(pb) - c.Both
	c.Paired = len(d)
	c.AccuracyA, c.AccuracyB = mean(sa), mean(sb)
	c.Diff = c.AccuracyB - c.AccuracyA
	c.CI95 = pairedBootstrapCI(d)
	c.PValue = SignTest(c.BetterA, c.BetterB)
	return c
}

// pairedBootstrapCI is the 95% percentile-bootstrap interval of the mean per-problem
// difference: resampling the differences is resampling the problems with both runs' scores.
func pairedBootstrapCI(d []float64) [2]float64 {
	n := len(d)
	if n == 0 {
		return [2]float64{}
	}
	r := rand.New(rand.NewPCG(bootstrapSeed^0xc0ffee, uint64(n)))
	means := make([]float64, BootstrapResamples)
	for i := range means {
		s := 0.0
		for range n {
			s += d[r.IntN(n)]
		}
		means[i] = s / float64(n)
	}
	slices.Sort(means)
	return [2]float64{quantile(means, 0.025), quantile(means, 0.975)}
}

// SignTest is the exact two-sided sign-test p-value for x successes against y failures
// (binomial with p = 1/2): twice the smaller tail, at most 1. No trials gives 1.
func SignTest(x, y int) float64 {
	n := x + y
	if n == 0 {
		return 1
	}
	m := min(x, y)
	tail := 0.0
	for i := 0; i <= m; i++ {
		tail += math.Exp(logChoose(n, i) - float64(n)*math.Ln2)
	}
	return min(1, 2*tail)
}

func logChoose(n, k int) float64 {
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return a - b - c
}
