package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arborlabs/arbor/evals"
)

func ptr[T any](v T) *T { return &v }

// writeRun writes run.json and results.jsonl (the records, then tail verbatim) into a new
// directory named name.
func writeRun(t *testing.T, name string, run map[string]any, records []evals.Record, tail string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(run)
	if err := os.WriteFile(filepath.Join(dir, RunFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for _, r := range records {
		line, _ := json.Marshal(r)
		buf.Write(line)
		buf.WriteByte('\n')
	}
	buf.WriteString(tail)
	if err := os.WriteFile(filepath.Join(dir, ResultsFile), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// sampleRun: 6 problems x 2 samples, in two subjects and two levels, with KV peaks; problem
// p5's second sample failed. Right: p0 both, p1 one of two, p2 both, the rest none:
// avg@2 = (1 + 0.5 + 1 + 0 + 0 + 0) / 6 = 41.7%.
func sampleRun(right func(p, s int) bool) []evals.Record {
	var rs []evals.Record
	for p := range 6 {
		for s := range 2 {
			ok := right(p, s)
			ans := "wrong"
			if ok {
				ans = "42"
			}
			r := evals.Record{
				Problem: fmt.Sprintf("p%d", p), Sample: s, Subject: []string{"Algebra", "Geometry"}[p%2], Level: fmt.Sprint(1 + p%3),
				Gold: "42", Response: ans, Extracted: ptr(ans), Correct: ok, FinishReason: "stop",
				PromptTokens: 50, CompletionTokens: 100 * (p + 1), LatencyMS: float64(1000 * (s + 1)),
				KVPeakTokens: ptr(150 + 100*p + s),
			}
			if p == 5 && s == 1 {
				r.Error, r.Extracted, r.FinishReason, r.CompletionTokens = "HTTP 500", nil, "", 0
			}
			rs = append(rs, r)
		}
	}
	return rs
}

func baseRight(p, s int) bool { return p == 0 || p == 2 || (p == 1 && s == 0) }

func checkSVG(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	head := strings.TrimSpace(string(b))
	if !strings.HasPrefix(head, "<svg") && !strings.HasPrefix(head, "<?xml") {
		t.Fatalf("%s starts with %.40q", path, head)
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: not valid XML: %v", path, err)
		}
	}
}

func TestWrite(t *testing.T) {
	run := map[string]any{"task": "math", "model": "qwen3-8b", "samples": 2, "sampling": map[string]any{"temperature": 0.6, "top_p": 0.95}}
	dir := writeRun(t, "run1", run, sampleRun(baseRight), `{"problem":"p0","sample":1,"gold":"4`)
	if err := Write(dir); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"# Eval report: math / qwen3-8b",
		"| model | qwen3-8b |",
		`| sampling | {"temperature":0.6,"top_p":0.95} |`,
		"| accuracy (avg@2) [95% CI] | 41.7% [",
		"**Errors: 1 of 12 samples failed**",
		"**1 malformed line(s) in results.jsonl were skipped.**",
		"| pass@1 | 41.7% |",
		"| pass@2 | 60.0% |", // p5 has one graded sample: out of pass@2; 3 of the other 5 solved
		"| maj@2 | ",
		"## By subject",
		"| Algebra | 3 | 6 | 0 | 66.7% [",
		"| Geometry | 3 | 6 | 1 | 16.7% [",
		"## By level",
		"| stop | 11 |",
		"![accuracy](accuracy.svg)",
		"![tokens](tokens.svg)",
		"![kvpeak](kvpeak.svg)",
		"| KV peak tokens (mean / median / max) | ",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
	for _, f := range []string{AccuracyPlot, TokensPlot, KVPeakPlot} {
		checkSVG(t, filepath.Join(dir, f))
	}
	var sum map[string]any
	b, err := os.ReadFile(filepath.Join(dir, SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	if sum["run"].(map[string]any)["model"] != "qwen3-8b" || sum["skipped_lines"] != 1.0 || sum["errors"] != 1.0 || sum["problems"] != 6.0 {
		t.Fatalf("summary.json: %s", b)
	}
	// Deterministic: a second Write gives the same report and summary.
	if err := Write(dir); err != nil {
		t.Fatal(err)
	}
	md2, _ := os.ReadFile(filepath.Join(dir, ReportFile))
	b2, _ := os.ReadFile(filepath.Join(dir, SummaryFile))
	if !bytes.Equal(md, md2) || !bytes.Equal(b, b2) {
		t.Fatal("two writes differ")
	}
}

// Without subjects, levels or KV peaks: no breakdown tables, no kvpeak.svg.
func TestWritePlainRun(t *testing.T) {
	rs := []evals.Record{
		{Problem: "a", Extracted: ptr("1"), Correct: true, CompletionTokens: 10},
		{Problem: "b", Extracted: ptr("2"), Correct: false, CompletionTokens: 20},
	}
	dir := writeRun(t, "plain", map[string]any{}, rs, "")
	if err := os.Remove(filepath.Join(dir, RunFile)); err != nil { // a missing run.json is tolerated
		t.Fatal(err)
	}
	if err := Write(dir); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, ReportFile))
	for _, want := range []string{"# Eval report\n", "| accuracy (avg@1) [95% CI] | 50.0% [0.0%, 100.0%] |", "**Errors: 0 of 2 samples failed**", "No sample reported a finish reason."} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
	for _, absent := range []string{"By subject", "By level", "kvpeak", "malformed"} {
		if strings.Contains(string(md), absent) {
			t.Errorf("report.md has %q:\n%s", absent, md)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, KVPeakPlot)); err == nil {
		t.Error("kvpeak.svg without KV data")
	}
	checkSVG(t, filepath.Join(dir, AccuracyPlot))
	checkSVG(t, filepath.Join(dir, TokensPlot))
}

func TestLoadTruncatedAndReplaced(t *testing.T) {
	rs := sampleRun(baseRight)
	// A retry of p1#1 later in the file replaces the first attempt (which was wrong).
	retry := rs[3]
	retry.Correct, retry.Extracted = true, ptr("42")
	rs = append(rs, retry)
	dir := writeRun(t, "trunc", map[string]any{"task": "math"}, rs, `{"problem":"p3","sample":0,"gold":"42","resp`)
	run, got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if run["task"] != "math" || len(got) != 12 {
		t.Fatalf("run %v, %d records", run, len(got))
	}
	if got[3].Key() != "p1#1" || !got[3].Correct {
		t.Fatalf("p1#1 not replaced in place: %+v", got[3])
	}
	_, skipped, err := LoadResults(filepath.Join(dir, ResultsFile))
	if err != nil || skipped != 1 {
		t.Fatalf("skipped %d, %v", skipped, err)
	}
	if _, _, err := Load(t.TempDir()); err == nil {
		t.Fatal("a directory without results.jsonl loaded")
	}
}

func TestWriteCompare(t *testing.T) {
	a := writeRun(t, "base", map[string]any{"task": "math", "model": "m-small"}, sampleRun(baseRight), "")
	// The second run is right on every sample of p0..p4 (p5's graded sample stays wrong).
	b := writeRun(t, "better", map[string]any{"task": "math", "model": "m-large"}, sampleRun(func(p, s int) bool { return p < 5 }), "")
	var out bytes.Buffer
	if err := WriteCompare([]string{a, b}, &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"| run | task | model | problems | errors | accuracy [95% CI] | pass@1 | pass@2 | maj@k | mean tokens | mean KV peak |",
		"| base | math | m-small | 6 | 1 | 41.7% [",
		"| better | math | m-large | 6 | 1 | 83.3% [",
		"## Paired with base",
		// p1 (0.5 -> 1), p3 and p4 (0 -> 1) favour the second run: diff = (0.5+1+1)/6 = 41.7 pp,
		// sign test 3 of 3: p = 2/8.
		"| better | 6 | 0 | 0 | 6 | 41.7% | 83.3% | +41.7 pp [",
		"| 0 / 3 / 3 | 0.2500 |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("comparison lacks %q:\n%s", want, got)
		}
	}
	var again bytes.Buffer
	if err := WriteCompare([]string{a, b}, &again); err != nil || again.String() != got {
		t.Fatalf("not deterministic: %v", err)
	}
	if err := WriteCompare(nil, &out); err == nil {
		t.Fatal("no runs: no error")
	}
}

// A run with nothing graded (empty, or every sample failed) still gets a report.
func TestWriteNothingGraded(t *testing.T) {
	failed := []evals.Record{{Problem: "a", Error: "HTTP 500"}, {Problem: "a", Sample: 1, Error: "HTTP 500"}}
	for name, rs := range map[string][]evals.Record{"empty": nil, "failed": failed} {
		dir := writeRun(t, name, map[string]any{"task": "aime"}, rs, "")
		if err := Write(dir); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		md, _ := os.ReadFile(filepath.Join(dir, ReportFile))
		if !strings.Contains(string(md), fmt.Sprintf("**Errors: %d of %d samples failed**", len(rs), len(rs))) {
			t.Fatalf("%s:\n%s", name, md)
		}
		checkSVG(t, filepath.Join(dir, AccuracyPlot))
	}
}
