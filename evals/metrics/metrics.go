// Package metrics scores an eval run from its per-sample records (evals.Record): accuracy as
// avg@k with a 95% confidence interval, unbiased pass@k, majority-vote maj@k, token, latency
// and Arbor's usage extras, breakdowns by subject and level, and a paired comparison of two
// runs over the problems they share.
//
// Conventions, applied everywhere in the package:
//
//   - A sample whose Error is set failed for good: it is counted in Errors and never graded,
//     neither as right nor as wrong. Only the other ("graded") samples enter accuracy,
//     pass@k, maj@k, tokens and latency; a problem whose samples all failed is left out of
//     every per-problem figure.
//   - Accuracy is avg@k: the mean over problems of the share of correct samples among the
//     problem's graded samples, so every problem weighs the same however many samples it has.
//   - Confidence intervals are percentile bootstraps that resample problems (not samples,
//     which are correlated within a problem), with BootstrapResamples resamples drawn from a
//     fixed seed: the same records always give the same interval.
//   - Percentiles (median, p90) interpolate linearly between order statistics.
package metrics

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/arborlabs/arbor/evals"
)

// BootstrapResamples is the number of resamples behind every confidence interval.
const BootstrapResamples = 2000

// bootstrapSeed seeds every bootstrap, so intervals are reproducible.
const bootstrapSeed = 0x5eed_a7b0_2026

// Dist summarises a distribution of per-sample values.
type Dist struct {
	Mean   float64 `json:"mean"`
	Median float64 `json:"median"`
	P90    float64 `json:"p90"`
}

// LatencyDist is the latency distribution, in milliseconds.
type LatencyDist struct {
	MeanMS   float64 `json:"mean_ms"`
	MedianMS float64 `json:"median_ms"`
	P90MS    float64 `json:"p90_ms"`
}

// KVDist is the distribution of the server's reported KV-cache peak, in tokens.
type KVDist struct {
	Samples int     `json:"samples"` // how many samples reported it
	Mean    float64 `json:"mean"`
	Median  float64 `json:"median"`
	Max     int     `json:"max"`
}

// Group is the accuracy of a subset of problems (one subject, one level).
type Group struct {
	Problems int        `json:"problems"` // problems with at least one graded sample
	Samples  int        `json:"samples"`  // all samples, errors included
	Errors   int        `json:"errors"`
	Accuracy float64    `json:"accuracy"`
	CI95     [2]float64 `json:"ci95"`
}

// Summary is the scored run.
type Summary struct {
	// Problems counts distinct problems, Samples all records, Errors the failed samples,
	// Graded the others and Correct those of them graded right.
	Problems int `json:"problems"`
	// GradedProblems counts problems with at least one graded sample: the problems accuracy,
	// pass@k and maj@k are averaged over.
	GradedProblems int `json:"graded_problems"`
	Samples        int `json:"samples"`
	Errors         int `json:"errors"`
	Graded         int `json:"graded"`
	Correct        int `json:"correct"`
	// K is the number of samples per problem: the most any problem has (errors included).
	K int `json:"k"`

	Accuracy float64    `json:"accuracy"` // avg@k
	CI95     [2]float64 `json:"ci95"`     // problem-level bootstrap
	// PassAtK holds pass@k for k = 1, 2, 4, ... up to K (and K itself), each averaged over the
	// problems with at least k graded samples.
	PassAtK map[int]float64 `json:"pass_at_k"`
	// MajAtK is maj@K: the share of problems whose majority answer is correct.
	MajAtK float64 `json:"maj_at_k"`

	Tokens           Dist        `json:"tokens"` // completion tokens
	PromptTokensMean float64     `json:"prompt_tokens_mean"`
	Latency          LatencyDist `json:"latency"`

	// Extras, present only when some graded sample has them (non-zero for the counts).
	KVPeakTokens      *KVDist  `json:"kv_peak_tokens,omitempty"`
	PrunedTokensMean  *float64 `json:"pruned_tokens_mean,omitempty"`
	TreeToolCallsMean *float64 `json:"tree_tool_calls_mean,omitempty"`
	// TreeValidShare is the share of graded tree-mode samples whose response is a whole task
	// tree (records without the mark are not counted).
	TreeValidShare    *float64 `json:"tree_valid_share,omitempty"`
	AttendedShareMean *float64 `json:"attended_share_mean,omitempty"`
	ToolCallsMean     *float64 `json:"tool_calls_mean,omitempty"`
	TurnsMean         *float64 `json:"turns_mean,omitempty"`

	// FinishReasons counts the samples by finish reason (samples without one are not
	// counted; failed samples usually have none).
	FinishReasons map[string]int `json:"finish_reasons"`

	// BySubject and ByLevel break accuracy down when the records carry a subject or level
	// (a problem's first record decides; problems without one go under "(none)").
	BySubject map[string]Group `json:"by_subject,omitempty"`
	ByLevel   map[string]Group `json:"by_level,omitempty"`
}

// NoGroup is the BySubject / ByLevel key of problems without a subject or level.
const NoGroup = "(none)"

// problem is one problem's records, in sample order.
type problem struct {
	id      string
	subject string
	level   string
	all     []evals.Record // every sample, errors included
	graded  []evals.Record // samples without an error
	correct int
}

func (p *problem) score() float64 { return float64(p.correct) / float64(len(p.graded)) }

// group returns the records' problems, sorted by ID, each with its samples sorted by index.
func group(records []evals.Record) []*problem {
	byID := map[string]*problem{}
	var out []*problem
	for _, r := range records {
		p := byID[r.Problem]
		if p == nil {
			p = &problem{id: r.Problem, subject: r.Subject, level: r.Level}
			byID[r.Problem] = p
			out = append(out, p)
		}
		p.all = append(p.all, r)
	}
	for _, p := range out {
		slices.SortStableFunc(p.all, func(a, b evals.Record) int { return cmp.Compare(a.Sample, b.Sample) })
		for _, r := range p.all {
			if r.Error != "" {
				continue
			}
			p.graded = append(p.graded, r)
			if r.Correct {
				p.correct++
			}
		}
	}
	slices.SortFunc(out, func(a, b *problem) int { return cmp.Compare(a.id, b.id) })
	return out
}

// PassAtK is the unbiased pass@k estimate for one problem with n graded samples of which c
// are correct: 1 - C(n-c, k)/C(n, k), the chance that k samples drawn without replacement
// include a correct one. It is computed as 1 - prod_{i=n-c+1}^{n} (1 - k/i), which needs no
// large binomials. It returns NaN when the arguments make no sense (k < 1, k > n, c outside
// [0, n]).
func PassAtK(n, c, k int) float64 {
	if k < 1 || k > n || c < 0 || c > n {
		return math.NaN()
	}
	if c == 0 {
		return 0
	}
	if n-c < k {
		return 1
	}
	prod := 1.0
	for i := n - c + 1; i <= n; i++ {
		prod *= 1 - float64(k)/float64(i)
	}
	return 1 - prod
}

// majority returns whether the problem's majority answer is correct: a vote over the extracted
// answers of its graded samples (samples without an extracted answer do not vote), ties going
// to the answer seen first (in sample order); the winner is correct if the first sample holding
// it was graded correct. No votes at all count as wrong.
func majority(graded []evals.Record) bool {
	counts := map[string]int{}
	var order []string
	first := map[string]bool{}
	for _, r := range graded {
		if r.Extracted == nil {
			continue
		}
		a := *r.Extracted
		if _, ok := counts[a]; !ok {
			order = append(order, a)
			first[a] = r.Correct
		}
		counts[a]++
	}
	best, bestN := "", 0
	for _, a := range order {
		if counts[a] > bestN {
			best, bestN = a, counts[a]
		}
	}
	return bestN > 0 && first[best]
}

// quantile is the q-quantile of sorted values, interpolating linearly; 0 for none.
func quantile(sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	h := float64(n-1) * q
	lo := int(math.Floor(h))
	if lo >= n-1 {
		return sorted[n-1]
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func dist(v []float64) (m, median, p90 float64) {
	s := slices.Clone(v)
	slices.Sort(s)
	return mean(s), quantile(s, 0.5), quantile(s, 0.9)
}

// bootstrapCI is the 95% percentile-bootstrap interval of the mean of v (one value per
// problem), resampling v with replacement BootstrapResamples times from a fixed seed.
func bootstrapCI(v []float64) [2]float64 {
	n := len(v)
	if n == 0 {
		return [2]float64{}
	}
	r := rand.New(rand.NewPCG(bootstrapSeed, uint64(n)))
	means := make([]float64, BootstrapResamples)
	for b := range means {
		s := 0.0
		for range n {
			s += v[r.IntN(n)]
		}
		means[b] = s / float64(n)
	}
	slices.Sort(means)
	return [2]float64{quantile(means, 0.025), quantile(means, 0.975)}
}

// accuracy is avg@k over the problems with graded samples, with its bootstrap interval.
func accuracy(ps []*problem) (acc float64, ci [2]float64, graded int) {
	var scores []float64
	for _, p := range ps {
		if len(p.graded) > 0 {
			scores = append(scores, p.score())
		}
	}
	return mean(scores), bootstrapCI(scores), len(scores)
}

func meanPtr(v []float64) *float64 {
	if len(v) == 0 {
		return nil
	}
	m := mean(v)
	return &m
}

// Summarize scores a run's records (see the package comment for the conventions). Records
// are expected to be unique per problem and sample (report.Load keeps the last of duplicates).
func Summarize(records []evals.Record) Summary {
	ps := group(records)
	s := Summary{Problems: len(ps), Samples: len(records), PassAtK: map[int]float64{}, FinishReasons: map[string]int{}}

	var tokens, prompt, latency, kv, pruned, tree, valid, attended, tools, turns []float64
	kvMax := 0
	hasSubject, hasLevel := false, false
	for _, p := range ps {
		s.K = max(s.K, len(p.all))
		for _, r := range p.all {
			if r.FinishReason != "" {
				s.FinishReasons[r.FinishReason]++
			}
			if r.Subject != "" {
				hasSubject = true
			}
			if r.Level != "" {
				hasLevel = true
			}
			if r.Error != "" {
				s.Errors++
				continue
			}
			s.Graded++
			if r.Correct {
				s.Correct++
			}
			tokens = append(tokens, float64(r.CompletionTokens))
			prompt = append(prompt, float64(r.PromptTokens))
			latency = append(latency, r.LatencyMS)
			if r.KVPeakTokens != nil {
				kv = append(kv, float64(*r.KVPeakTokens))
				kvMax = max(kvMax, *r.KVPeakTokens)
			}
			if r.PrunedTokens != nil {
				pruned = append(pruned, float64(*r.PrunedTokens))
			}
			if r.TreeToolCalls != nil {
				tree = append(tree, float64(*r.TreeToolCalls))
			}
			if r.TreeValid != nil {
				v := 0.0
				if *r.TreeValid {
					v = 1
				}
				valid = append(valid, v)
			}
			if r.AttendedShare != nil {
				attended = append(attended, *r.AttendedShare)
			}
			tools = append(tools, float64(r.ToolCalls))
			turns = append(turns, float64(r.Turns))
		}
	}

	s.Accuracy, s.CI95, s.GradedProblems = accuracy(ps)

	for k := 1; k <= s.K; k *= 2 {
		s.PassAtK[k] = passAtK(ps, k)
	}
	if s.K > 0 {
		s.PassAtK[s.K] = passAtK(ps, s.K)
	}
	maj := 0
	for _, p := range ps {
		if len(p.graded) > 0 && majority(p.graded) {
			maj++
		}
	}
	if s.GradedProblems > 0 {
		s.MajAtK = float64(maj) / float64(s.GradedProblems)
	}

	s.Tokens.Mean, s.Tokens.Median, s.Tokens.P90 = dist(tokens)
	s.PromptTokensMean = mean(prompt)
	s.Latency.MeanMS, s.Latency.MedianMS, s.Latency.P90MS = dist(latency)
	if len(kv) > 0 {
		d := &KVDist{Samples: len(kv), Max: kvMax}
		d.Mean, d.Median, _ = dist(kv)
		s.KVPeakTokens = d
	}
	s.PrunedTokensMean = meanPtr(pruned)
	s.TreeToolCallsMean = meanPtr(tree)
	s.TreeValidShare = meanPtr(valid)
	s.AttendedShareMean = meanPtr(attended)
	if slices.ContainsFunc(tools, func(x float64) bool { return x != 0 }) {
		s.ToolCallsMean = meanPtr(tools)
	}
	if slices.ContainsFunc(turns, func(x float64) bool { return x != 0 }) {
		s.TurnsMean = meanPtr(turns)
	}

	if hasSubject {
		s.BySubject = groups(ps, func(p *problem) string { return p.subject })
	}
	if hasLevel {
		s.ByLevel = groups(ps, func(p *problem) string { return p.level })
	}
	return s
}

// passAtK averages pass@k over the problems with at least k graded samples (0 if none).
func passAtK(ps []*problem, k int) float64 {
	var v []float64
	for _, p := range ps {
		if len(p.graded) >= k {
			v = append(v, PassAtK(len(p.graded), p.correct, k))
		}
	}
	return mean(v)
}

func groups(ps []*problem, key func(*problem) string) map[string]Group {
	by := map[string][]*problem{}
	for _, p := range ps {
		k := key(p)
		if k == "" {
			k = NoGroup
		}
		by[k] = append(by[k], p)
	}
	out := map[string]Group{}
	for k, gp := range by {
		g := Group{}
		for _, p := range gp {
			g.Samples += len(p.all)
			g.Errors += len(p.all) - len(p.graded)
		}
		g.Accuracy, g.CI95, g.Problems = accuracy(gp)
		out[k] = g
	}
	return out
}
