package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/arborlabs/arbor/evals"
	"github.com/arborlabs/arbor/evals/metrics"
)

// Plot file names.
const (
	AccuracyPlot = "accuracy.svg"
	TokensPlot   = "tokens.svg"
	KVPeakPlot   = "kvpeak.svg"
)

// Summary is what summary.json holds: the run's settings as run.json gives them, the count
// of results lines that could not be read, and the scores (flattened in).
type Summary struct {
	Run          map[string]any `json:"run"`
	SkippedLines int            `json:"skipped_lines"`
	metrics.Summary
}

// Write scores the run in dir and writes report.md, summary.json and the plots
// (accuracy.svg, tokens.svg when any sample was graded, kvpeak.svg when the samples report
// kv_peak_tokens) into dir.
func Write(dir string) error {
	run, err := LoadRun(dir)
	if err != nil {
		return err
	}
	records, skipped, err := LoadResults(filepath.Join(dir, ResultsFile))
	if err != nil {
		return err
	}
	s := metrics.Summarize(records)
	sum := Summary{Run: run, SkippedLines: skipped, Summary: s}
	b, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, SummaryFile), append(b, '\n'), 0o644); err != nil {
		return err
	}
	plots, err := writePlots(dir, records, s)
	if err != nil {
		return err
	}
	var md bytes.Buffer
	markdown(&md, run, skipped, s, plots)
	return os.WriteFile(filepath.Join(dir, ReportFile), md.Bytes(), 0o644)
}

// runString is the first of keys run.json sets to a non-empty string.
func runString(run map[string]any, keys ...string) string {
	for _, k := range keys {
		if v, ok := run[k].(string); ok && v != "" {
			return v
		}
	}
	return ""
}

// cell makes s safe inside a markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.Join(strings.Fields(s), " ")
}

// settingValue renders one run.json value: strings as they are, the rest as compact JSON
// (whose object keys encoding/json sorts).
func settingValue(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func pct(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }

// accCI renders an accuracy with its interval: "33.3% [12.0%, 50.0%]".
func accCI(acc float64, ci [2]float64) string {
	return fmt.Sprintf("%s [%s, %s]", pct(acc), pct(ci[0]), pct(ci[1]))
}

func num(x float64) string { return fmt.Sprintf("%.1f", x) }

func title(run map[string]any) string {
	parts := []string{}
	for _, p := range []string{runString(run, "task"), runString(run, "model")} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return "Eval report"
	}
	return "Eval report: " + strings.Join(parts, " / ")
}

func markdown(w io.Writer, run map[string]any, skipped int, s metrics.Summary, plots []string) {
	fmt.Fprintf(w, "# %s\n\n", title(run))
	if len(run) > 0 {
		fmt.Fprintf(w, "## Settings\n\n| setting | value |\n|---|---|\n")
		for _, k := range slices.Sorted(maps.Keys(run)) {
			fmt.Fprintf(w, "| %s | %s |\n", cell(k), cell(settingValue(run[k])))
		}
		fmt.Fprintln(w)
	}

	fmt.Fprintf(w, "## Results\n\n")
	fmt.Fprintf(w, "**Errors: %d of %d samples failed** (not graded: excluded from accuracy; problems whose samples all failed are excluded from pass@k and maj@k).", s.Errors, s.Samples)
	if skipped > 0 {
		fmt.Fprintf(w, " **%d malformed line(s) in %s were skipped.**", skipped, ResultsFile)
	}
	fmt.Fprintf(w, "\n\n| metric | value |\n|---|---|\n")
	row := func(k, v string) { fmt.Fprintf(w, "| %s | %s |\n", k, v) }
	row("problems (graded / all)", fmt.Sprintf("%d / %d", s.GradedProblems, s.Problems))
	row("samples (graded / errors / all)", fmt.Sprintf("%d / %d / %d", s.Graded, s.Errors, s.Samples))
	row("samples per problem (k)", fmt.Sprint(s.K))
	row(fmt.Sprintf("accuracy (avg@%d) [95%% CI]", s.K), accCI(s.Accuracy, s.CI95))
	for _, k := range slices.Sorted(maps.Keys(s.PassAtK)) {
		row(fmt.Sprintf("pass@%d", k), pct(s.PassAtK[k]))
	}
	row(fmt.Sprintf("maj@%d", s.K), pct(s.MajAtK))
	row("completion tokens (mean / median / p90)", fmt.Sprintf("%s / %s / %s", num(s.Tokens.Mean), num(s.Tokens.Median), num(s.Tokens.P90)))
	row("prompt tokens (mean)", num(s.PromptTokensMean))
	row("latency s (mean / median / p90)", fmt.Sprintf("%.2f / %.2f / %.2f", s.Latency.MeanMS/1000, s.Latency.MedianMS/1000, s.Latency.P90MS/1000))
	if kv := s.KVPeakTokens; kv != nil {
		row("KV peak tokens (mean / median / max)", fmt.Sprintf("%s / %s / %d (%d samples)", num(kv.Mean), num(kv.Median), kv.Max, kv.Samples))
	}
	opt := func(k string, v *float64, format string) {
		if v != nil {
			row(k, fmt.Sprintf(format, *v))
		}
	}
	opt("pruned tokens (mean)", s.PrunedTokensMean, "%.1f")
	opt("in-decode tool calls (mean)", s.TreeToolCallsMean, "%.2f")
	if s.TreeValidShare != nil {
		row("valid task trees", pct(*s.TreeValidShare))
	}
	opt("attended share (mean)", s.AttendedShareMean, "%.3f")
	opt("harness tool calls (mean)", s.ToolCallsMean, "%.2f")
	opt("turns (mean)", s.TurnsMean, "%.2f")
	fmt.Fprintln(w)

	groupTable(w, "By subject", "subject", s.BySubject)
	groupTable(w, "By level", "level", s.ByLevel)

	fmt.Fprintf(w, "## Finish reasons\n\n")
	if len(s.FinishReasons) == 0 {
		fmt.Fprintf(w, "No sample reported a finish reason.\n\n")
	} else {
		fmt.Fprintf(w, "| finish reason | samples |\n|---|---|\n")
		for _, k := range slices.Sorted(maps.Keys(s.FinishReasons)) {
			fmt.Fprintf(w, "| %s | %d |\n", cell(k), s.FinishReasons[k])
		}
		fmt.Fprintln(w)
	}

	if len(plots) > 0 {
		fmt.Fprintf(w, "## Plots\n\n")
		for _, p := range plots {
			fmt.Fprintf(w, "![%s](%s)\n\n", strings.TrimSuffix(p, ".svg"), p)
		}
	}
	fmt.Fprintf(w, "Accuracy is avg@k: the mean over problems of the share of a problem's graded samples that are correct. "+
		"Its 95%% CI is a percentile bootstrap over problems (%d resamples, fixed seed). "+
		"pass@k is the unbiased estimator 1 - C(n-c,k)/C(n,k) over problems with at least k graded samples; "+
		"maj@k a majority vote over extracted answers (ties to the answer seen first).\n", metrics.BootstrapResamples)
}

func groupTable(w io.Writer, heading, name string, groups map[string]metrics.Group) {
	if len(groups) == 0 {
		return
	}
	fmt.Fprintf(w, "## %s\n\n| %s | problems | samples | errors | accuracy [95%% CI] |\n|---|---|---|---|---|\n", heading, name)
	for _, k := range slices.Sorted(maps.Keys(groups)) {
		g := groups[k]
		fmt.Fprintf(w, "| %s | %d | %d | %d | %s |\n", cell(k), g.Problems, g.Samples, g.Errors, accCI(g.Accuracy, g.CI95))
	}
	fmt.Fprintln(w)
}

// loaded is one run of a comparison.
type loaded struct {
	name    string
	run     map[string]any
	records []evals.Record
	s       metrics.Summary
}

// WriteCompare writes a markdown comparison of the runs in dirs: a table of them side by side
// (task, model, accuracy with its CI, pass@k, maj@k, mean completion tokens, mean KV peak),
// then each run after the first paired with the first (metrics.Compare: difference, its CI,
// the sign-test p-value).
func WriteCompare(dirs []string, out io.Writer) error {
	if len(dirs) == 0 {
		return fmt.Errorf("report: no runs to compare")
	}
	var runs []loaded
	ks := map[int]bool{}
	for _, d := range dirs {
		run, records, err := Load(d)
		if err != nil {
			return err
		}
		l := loaded{name: filepath.Base(filepath.Clean(d)), run: run, records: records, s: metrics.Summarize(records)}
		for k := range l.s.PassAtK {
			ks[k] = true
		}
		runs = append(runs, l)
	}
	kList := slices.Sorted(maps.Keys(ks))
	dash := func(s string) string {
		if s == "" {
			return "–"
		}
		return cell(s)
	}

	var b bytes.Buffer
	fmt.Fprintf(&b, "# Comparison\n\n| run | task | model | problems | errors | accuracy [95%% CI] |")
	for _, k := range kList {
		fmt.Fprintf(&b, " pass@%d |", k)
	}
	fmt.Fprintf(&b, " maj@k | mean tokens | mean KV peak |\n|---|---|---|---|---|---|")
	for range kList {
		b.WriteString("---|")
	}
	b.WriteString("---|---|---|\n")
	for _, r := range runs {
		s := r.s
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %d | %s |", cell(r.name), dash(runString(r.run, "task")), dash(runString(r.run, "model")),
			s.GradedProblems, s.Errors, accCI(s.Accuracy, s.CI95))
		for _, k := range kList {
			if v, ok := s.PassAtK[k]; ok {
				fmt.Fprintf(&b, " %s |", pct(v))
			} else {
				b.WriteString(" – |")
			}
		}
		kv := "–"
		if s.KVPeakTokens != nil {
			kv = num(s.KVPeakTokens.Mean)
		}
		fmt.Fprintf(&b, " %s (k=%d) | %s | %s |\n", pct(s.MajAtK), s.K, num(s.Tokens.Mean), kv)
	}

	if len(runs) > 1 {
		first := runs[0]
		fmt.Fprintf(&b, "\n## Paired with %s\n\n", cell(first.name))
		fmt.Fprintf(&b, "| run | both | only %s | only run | paired | accuracy %s | accuracy run | difference [95%% CI] | better: first / run / tie | p-value |\n|---|---|---|---|---|---|---|---|---|---|\n", cell(first.name), cell(first.name))
		for _, r := range runs[1:] {
			c := metrics.Compare(first.records, r.records)
			fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %s | %s | %+.1f pp [%+.1f, %+.1f] | %d / %d / %d | %s |\n",
				cell(r.name), c.Both, c.OnlyA, c.OnlyB, c.Paired, pct(c.AccuracyA), pct(c.AccuracyB),
				100*c.Diff, 100*c.CI95[0], 100*c.CI95[1], c.BetterA, c.BetterB, c.Ties, pvalue(c.PValue))
		}
		fmt.Fprintf(&b, "\nDifference: the run's accuracy minus %s's, over the problems both graded. CI: paired bootstrap over problems. p-value: %s.\n", cell(first.name), metrics.CompareMethod)
	}
	_, err := out.Write(b.Bytes())
	return err
}

func pvalue(p float64) string {
	if p < 1e-4 {
		return fmt.Sprintf("%.1e", p)
	}
	return fmt.Sprintf("%.4f", p)
}
