package metrics

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/arborlabs/arbor/evals"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

func str(s string) *string { return &s }

func rec(problem string, sample int, correct bool, extracted *string) evals.Record {
	return evals.Record{Problem: problem, Sample: sample, Correct: correct, Extracted: extracted}
}

func TestPassAtKHandComputed(t *testing.T) {
	for _, c := range []struct {
		n, c, k int
		want    float64
	}{
		{5, 2, 1, 0.4},
		{5, 2, 2, 0.7},
		{5, 2, 3, 0.9}, // 1 - C(3,3)/C(5,3) = 1 - 1/10
		{5, 2, 4, 1},   // only 3 wrong samples: any 4 include a right one
		{5, 0, 1, 0},
		{5, 0, 5, 0},
		{5, 5, 1, 1},
		{5, 5, 5, 1},
		{1, 1, 1, 1},
		{1, 0, 1, 0},
		{10, 3, 1, 0.3},
	} {
		if got := PassAtK(c.n, c.c, c.k); !near(got, c.want) {
			t.Errorf("PassAtK(%d,%d,%d) = %v, want %v", c.n, c.c, c.k, got, c.want)
		}
	}
	for _, bad := range [][3]int{{5, 2, 0}, {5, 2, 6}, {5, 6, 1}, {5, -1, 1}} {
		if got := PassAtK(bad[0], bad[1], bad[2]); !math.IsNaN(got) {
			t.Errorf("PassAtK%v = %v, want NaN", bad, got)
		}
	}
}

// The product form agrees with the binomial definition computed exactly, and stays finite
// where the factorials would not.
func TestPassAtKMatchesBinomials(t *testing.T) {
	for n := 1; n <= 40; n++ {
		for c := 0; c <= n; c++ {
			for k := 1; k <= n; k++ {
				num := new(big.Int).Binomial(int64(n-c), int64(k))
				den := new(big.Int).Binomial(int64(n), int64(k))
				q, _ := new(big.Rat).SetFrac(num, den).Float64()
				if got := PassAtK(n, c, k); math.Abs(got-(1-q)) > 1e-12 {
					t.Fatalf("PassAtK(%d,%d,%d) = %v, binomials give %v", n, c, k, got, 1-q)
				}
			}
		}
	}
	if got := PassAtK(100000, 3, 1000); math.IsNaN(got) || got <= 0 || got >= 1 {
		t.Fatalf("large n: %v", got)
	}
}

func TestSummarizeExcludesErrors(t *testing.T) {
	var rs []evals.Record
	// p1: right, wrong, right, failed: 2 of 3 graded.
	rs = append(rs, rec("p1", 0, true, str("7")), rec("p1", 1, false, str("8")), rec("p1", 2, true, str("7")))
	failed := rec("p1", 3, false, nil)
	failed.Error = "timeout"
	rs = append(rs, failed)
	// p2: four wrong.
	for i := range 4 {
		rs = append(rs, rec("p2", i, false, str("1")))
	}
	// p3: all four failed: out of accuracy, pass@k and maj@k.
	for i := range 4 {
		r := rec("p3", i, false, nil)
		r.Error = "HTTP 500"
		rs = append(rs, r)
	}
	s := Summarize(rs)
	if s.Problems != 3 || s.GradedProblems != 2 || s.Samples != 12 || s.Errors != 5 || s.Graded != 7 || s.Correct != 2 || s.K != 4 {
		t.Fatalf("counts: %+v", s)
	}
	if !near(s.Accuracy, 1.0/3) {
		t.Fatalf("accuracy %v, want 1/3", s.Accuracy)
	}
	// pass@1: mean(2/3, 0); pass@2: p1 (n=3, c=2) is 1, p2 0; pass@4: only p2 has 4 graded.
	want := map[int]float64{1: 1.0 / 3, 2: 0.5, 4: 0}
	if len(s.PassAtK) != len(want) {
		t.Fatalf("pass@k %v, want %v", s.PassAtK, want)
	}
	for k, w := range want {
		if !near(s.PassAtK[k], w) {
			t.Fatalf("pass@%d = %v, want %v", k, s.PassAtK[k], w)
		}
	}
	if !near(s.MajAtK, 0.5) { // p1's majority "7" is right, p2's "1" wrong
		t.Fatalf("maj@k %v", s.MajAtK)
	}
	if s.CI95[0] > s.Accuracy || s.CI95[1] < s.Accuracy || s.CI95[0] < 0 || s.CI95[1] > 2.0/3+1e-12 {
		t.Fatalf("CI %v around %v", s.CI95, s.Accuracy)
	}
	if _, err := json.Marshal(s); err != nil {
		t.Fatal(err)
	}
}

func TestMajorityTies(t *testing.T) {
	for _, c := range []struct {
		name string
		rs   []evals.Record
		want bool
	}{
		{"tie goes to first seen (wrong)", []evals.Record{rec("p", 0, false, str("A")), rec("p", 1, true, str("B")), rec("p", 2, false, str("A")), rec("p", 3, true, str("B"))}, false},
		{"tie goes to first seen (right)", []evals.Record{rec("p", 0, true, str("B")), rec("p", 1, false, str("A"))}, true},
		// Sample order, not record order, decides who is first.
		{"first seen by sample index", []evals.Record{rec("p", 1, false, str("A")), rec("p", 0, true, str("B"))}, true},
		{"no answer does not vote", []evals.Record{rec("p", 0, false, nil), rec("p", 1, false, nil), rec("p", 2, true, str("5"))}, true},
		{"plain majority", []evals.Record{rec("p", 0, true, str("5")), rec("p", 1, false, str("6")), rec("p", 2, false, str("6"))}, false},
		{"no votes at all is wrong", []evals.Record{rec("p", 0, false, nil)}, false},
	} {
		if got := Summarize(c.rs).MajAtK; got != map[bool]float64{true: 1, false: 0}[c.want] {
			t.Errorf("%s: maj@k = %v", c.name, got)
		}
	}
	// A failed sample's answer does not vote.
	failed := rec("p", 0, false, str("A"))
	failed.Error = "x"
	rs := []evals.Record{failed, rec("p", 1, false, str("A")), rec("p", 2, true, str("B")), rec("p", 3, true, str("B"))}
	if got := Summarize(rs).MajAtK; got != 1 {
		t.Errorf("failed sample voted: maj@k = %v", got)
	}
}

func TestBreakdownsAndExtras(t *testing.T) {
	kv := func(v int) *int { return &v }
	share := 0.25
	yes, no := true, false
	rs := []evals.Record{
		{Problem: "a", Subject: "Algebra", Level: "1", Correct: true, CompletionTokens: 100, PromptTokens: 10, LatencyMS: 1000, KVPeakTokens: kv(300), FinishReason: "stop", AttendedShare: &share, TreeValid: &yes},
		{Problem: "b", Subject: "Algebra", Level: "2", Correct: false, CompletionTokens: 200, PromptTokens: 20, LatencyMS: 3000, KVPeakTokens: kv(500), FinishReason: "length", TreeValid: &no},
		{Problem: "c", Subject: "Geometry", Correct: true, CompletionTokens: 300, PromptTokens: 30, LatencyMS: 2000, FinishReason: "stop"},
	}
	s := Summarize(rs)
	if s.Tokens.Mean != 200 || s.Tokens.Median != 200 || !near(s.Tokens.P90, 280) || s.PromptTokensMean != 20 {
		t.Fatalf("tokens %+v", s.Tokens)
	}
	if s.Latency.MeanMS != 2000 || s.Latency.MedianMS != 2000 || !near(s.Latency.P90MS, 2800) {
		t.Fatalf("latency %+v", s.Latency)
	}
	if s.KVPeakTokens == nil || *s.KVPeakTokens != (KVDist{Samples: 2, Mean: 400, Median: 400, Max: 500}) {
		t.Fatalf("kv %+v", s.KVPeakTokens)
	}
	if s.AttendedShareMean == nil || *s.AttendedShareMean != 0.25 || s.PrunedTokensMean != nil || s.ToolCallsMean != nil || s.TurnsMean != nil {
		t.Fatalf("extras %+v", s)
	}
	if s.TreeValidShare == nil || *s.TreeValidShare != 0.5 { // of the two marked records
		t.Fatalf("valid trees %v", s.TreeValidShare)
	}
	if s.FinishReasons["stop"] != 2 || s.FinishReasons["length"] != 1 {
		t.Fatalf("finish %v", s.FinishReasons)
	}
	if g := s.BySubject["Algebra"]; g.Problems != 2 || g.Accuracy != 0.5 {
		t.Fatalf("algebra %+v", g)
	}
	if g := s.BySubject["Geometry"]; g.Problems != 1 || g.Accuracy != 1 || g.CI95 != [2]float64{1, 1} {
		t.Fatalf("geometry %+v", g)
	}
	if g := s.ByLevel[NoGroup]; g.Problems != 1 {
		t.Fatalf("levels %v", s.ByLevel)
	}
	b, _ := json.Marshal(Summarize([]evals.Record{{Problem: "x"}}))
	for _, absent := range []string{"by_subject", "by_level", "kv_peak_tokens", "turns_mean"} {
		if strings.Contains(string(b), absent) {
			t.Fatalf("%s present without data: %s", absent, b)
		}
	}
}

// run builds a run of n problems with k samples each, right on the problems right says.
func run(n, k int, right func(i int) bool) []evals.Record {
	var rs []evals.Record
	for i := range n {
		for j := range k {
			rs = append(rs, rec(fmt.Sprintf("q%03d", i), j, right(i), str("x")))
		}
	}
	return rs
}

func TestBootstrapDeterministic(t *testing.T) {
	rs := run(50, 3, func(i int) bool { return i%3 == 0 })
	a, b := Summarize(rs), Summarize(rs)
	if a.CI95 != b.CI95 {
		t.Fatalf("two CIs for the same run: %v %v", a.CI95, b.CI95)
	}
	// Record order does not matter either.
	rev := make([]evals.Record, len(rs))
	for i, r := range rs {
		rev[len(rs)-1-i] = r
	}
	if c := Summarize(rev); c.CI95 != a.CI95 {
		t.Fatalf("reordered records: %v vs %v", c.CI95, a.CI95)
	}
	// 17 of 50 right: the interval holds the estimate and is roughly +-0.13 wide.
	if a.CI95[0] >= a.Accuracy || a.CI95[1] <= a.Accuracy || a.CI95[1]-a.CI95[0] < 0.15 || a.CI95[1]-a.CI95[0] > 0.35 {
		t.Fatalf("CI %v for %v", a.CI95, a.Accuracy)
	}
	if x, y := Compare(rs, rs), Compare(rs, rs); x != y {
		t.Fatalf("compare not deterministic")
	}
}

func TestCompareIdentical(t *testing.T) {
	rs := run(40, 2, func(i int) bool { return i%2 == 0 })
	c := Compare(rs, rs)
	if c.Diff != 0 || c.PValue != 1 || c.CI95 != [2]float64{0, 0} || c.Both != 40 || c.Paired != 40 || c.OnlyA != 0 || c.OnlyB != 0 || c.Ties != 40 {
		t.Fatalf("identical runs: %+v", c)
	}
}

func TestCompareBetterRun(t *testing.T) {
	// A is right on q000..q019; B on q000..q039, and B also has 5 problems A lacks, A 3 that B
	// lacks.
	a := run(63, 1, func(i int) bool { return i < 20 })
	a = a[:60]
	a = append(a, rec("onlyA1", 0, true, nil), rec("onlyA2", 0, true, nil), rec("onlyA3", 0, true, nil))
	b := run(60, 1, func(i int) bool { return i < 40 })
	for i := range 5 {
		b = append(b, rec(fmt.Sprintf("onlyB%d", i), 0, false, nil))
	}
	c := Compare(a, b)
	if c.Both != 60 || c.OnlyA != 3 || c.OnlyB != 5 || c.Paired != 60 {
		t.Fatalf("counts %+v", c)
	}
	if !near(c.AccuracyA, 20.0/60) || !near(c.AccuracyB, 40.0/60) || !near(c.Diff, 20.0/60) {
		t.Fatalf("accuracies %+v", c)
	}
	if c.BetterB != 20 || c.BetterA != 0 || c.Ties != 40 {
		t.Fatalf("discordant %+v", c)
	}
	if want := 2 * math.Pow(0.5, 20); !near(c.PValue, want) {
		t.Fatalf("p = %v, want %v", c.PValue, want)
	}
	if c.CI95[0] <= 0 || c.CI95[1] > 0.6 || c.CI95[0] > c.Diff || c.CI95[1] < c.Diff {
		t.Fatalf("CI %v", c.CI95)
	}
	// Swapped: the difference changes sign, the p-value does not.
	r := Compare(b, a)
	if !near(r.Diff, -c.Diff) || r.PValue != c.PValue || r.BetterA != 20 {
		t.Fatalf("reversed %+v", r)
	}
}

func TestSignTest(t *testing.T) {
	for _, c := range []struct {
		x, y int
		want float64
	}{
		{0, 0, 1},
		{1, 0, 1},
		{3, 3, 1},
		{0, 5, 2.0 / 32},
		{1, 5, 2 * 7.0 / 64},    // P(X<=1 | n=6) = 7/64
		{8, 2, 2 * 56.0 / 1024}, // P(X<=2 | n=10) = (1+10+45)/1024
	} {
		if got := SignTest(c.x, c.y); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("SignTest(%d,%d) = %v, want %v", c.x, c.y, got, c.want)
		}
	}
}

// pass@k is reported for powers of two below K and for K itself.
func TestPassAtKKeys(t *testing.T) {
	s := Summarize(run(4, 3, func(i int) bool { return i == 0 }))
	if len(s.PassAtK) != 3 || s.K != 3 {
		t.Fatalf("pass@k %v", s.PassAtK)
	}
	for _, k := range []int{1, 2, 3} {
		if !near(s.PassAtK[k], 0.25) {
			t.Fatalf("pass@%d = %v", k, s.PassAtK[k])
		}
	}
	if e := Summarize(nil); e.Accuracy != 0 || len(e.PassAtK) != 0 || e.CI95 != [2]float64{} {
		t.Fatalf("empty %+v", e)
	}
}
