package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arborlabs/arbor/evals"
	"github.com/arborlabs/arbor/evals/metrics"
)

// cannedMath answers testdata/eval_math.jsonl's problems: sample i (seed 100+i) of problem
// "...What is $1+1$..." gets cannedMath[0][i], and so on.
var cannedMath = []struct {
	marker  string
	answers [4]string
}{
	{"$1+1$", [4]string{`\boxed{2}`, `so \boxed{2}.`, `\boxed{3}`, `The answer is 2.`}},           // 3 of 4
	{`\frac{6}{8}`, [4]string{`\boxed{0.75}`, `\boxed{\frac{3}{4}}`, `\boxed{3/4}`, `\boxed{1}`}}, // 3 of 4
	{`\sqrt{8}`, [4]string{`\boxed{\sqrt{8}}`, `\boxed{2.83}`, `\boxed{4}`, `\boxed{2\sqrt2}`}},   // 2 of 4
	{"hexagon", [4]string{`I am not sure.`, `\boxed{5}`, `\boxed{5}`, `\boxed{6}`}},               // 1 of 4
}

func cannedServer(t *testing.T) *httptest.Server {
	t.Helper()
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Messages []struct{ Content string } `json:"messages"`
			Seed     int                        `json:"seed"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		content := ""
		for _, c := range cannedMath {
			if strings.Contains(body.Messages[0].Content, c.marker) {
				content = c.answers[body.Seed-100]
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"id": "x", "object": "chat.completion", "created": 1, "model": "canned",
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": content}}},
			"usage": map[string]any{"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30}})
	}))
}

func readSummary(t *testing.T, dir string) metrics.Summary {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s metrics.Summary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestEvalRunAgainstCannedServer: a run against a stub endpoint with canned answers has the
// accuracy, pass@k and maj@k worked out by hand; rescore changes nothing; compare runs.
func TestEvalRunAgainstCannedServer(t *testing.T) {
	srv := cannedServer(t)
	defer srv.Close()
	dir := filepath.Join(t.TempDir(), "run")
	var stdout, stderr bytes.Buffer
	err := run([]string{"eval", "run", "--task", "math", "--data", "testdata/eval_math.jsonl", "--base-url", srv.URL + "/v1",
		"--model", "canned", "--n", "4", "--seed", "100", "--out", dir, "--quiet"}, nil, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	s := readSummary(t, dir)
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	// Correct per problem: 3, 3, 2, 1 of 4.
	// avg@4 = (3+3+2+1)/16; pass@2 = mean(1, 1, 1-1/6, 1-3/6); pass@4 = 1.
	// maj@4: "2" (3 votes) right; 0.75, 3/4, \frac{3}{4} and 1 are four different texts, so the
	// first seen (0.75, right) wins; \sqrt{8} first of four (right); "5" twice (wrong).
	if s.Problems != 4 || s.Samples != 16 || s.Errors != 0 || !near(s.Accuracy, 9.0/16) {
		t.Fatalf("summary: %d problems, %d samples, %d errors, accuracy %v", s.Problems, s.Samples, s.Errors, s.Accuracy)
	}
	if !near(s.PassAtK[1], 9.0/16) || !near(s.PassAtK[2], (1+1+5.0/6+0.5)/4) || !near(s.PassAtK[4], 1) {
		t.Fatalf("pass@k %v", s.PassAtK)
	}
	if !near(s.MajAtK, 0.75) {
		t.Fatalf("maj@4 %v", s.MajAtK)
	}
	if !strings.Contains(stdout.String(), "accuracy 0.5625") {
		t.Fatalf("stdout %q", stdout.String())
	}
	report, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil || !strings.Contains(string(report), "Geometry") || !strings.Contains(string(report), "accuracy.svg") {
		t.Fatalf("report.md: %v\n%s", err, report)
	}
	// The stored responses graded again: the same verdicts.
	stdout.Reset()
	if err := run([]string{"eval", "rescore", dir}, nil, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "(0 changed)") {
		t.Fatalf("rescore: %s", stdout.String())
	}
	// A rerun draws nothing; compare puts the run beside itself.
	if err := run([]string{"eval", "run", "--task", "math", "--data", "testdata/eval_math.jsonl", "--base-url",
		"http://127.0.0.1:9/v1", "--model", "canned", "--n", "4", "--seed", "100", "--out", dir, "--quiet"}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("a finished run resumed: %v", err)
	}
	stdout.Reset()
	if err := run([]string{"eval", "compare", dir, dir}, nil, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "56.2%") {
		t.Fatalf("compare: %s", stdout.String())
	}
}

// TestEvalGradeCommand: `arbor eval grade` reads one response on stdin and prints one JSON
// object, on cases a careful human grades the same way.
func TestEvalGradeCommand(t *testing.T) {
	for _, c := range []struct {
		task, gold, response string
		correct              bool
		extracted            string // "" for null
	}{
		{"math", `2\sqrt{2}`, `First \boxed{3}, then corrected: \boxed{\sqrt{8}}`, true, `\sqrt{8}`},
		{"math", `\frac{3}{4}`, `So the answer is $0.75$.`, true, "0.75"},
		{"math", `10`, `I cannot tell.`, false, ""},
		{"aime", "33", `Final answer: 033`, true, "033"},
		{"gpqa", "C", `The answer is (B). Wait, actually Answer: C`, true, "C"},
		{"gsm8k", "1200", `She pays $1,200 in total. #### 1,200`, true, "1,200"},
		{"math", "5", `{"answer": "\\boxed{5}", "reasoning": []}`, true, "5"},
	} {
		var out bytes.Buffer
		if err := run([]string{"eval", "grade", "--task", c.task, "--gold", c.gold}, strings.NewReader(c.response), &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		var r struct {
			Correct   bool    `json:"correct"`
			Extracted *string `json:"extracted"`
		}
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatalf("%q: %v", out.String(), err)
		}
		got := ""
		if r.Extracted != nil {
			got = *r.Extracted
		}
		if r.Correct != c.correct || got != c.extracted {
			t.Errorf("%s %q (gold %s): %s", c.task, c.response, c.gold, out.String())
		}
	}
	if err := run([]string{"eval", "grade", "--task", "chess", "--gold", "e4"}, strings.NewReader("e4"), io.Discard, io.Discard); err == nil {
		t.Fatal("an unknown task was graded")
	}
}

// TestEvalRunOnArborServe: `arbor eval run` without --base-url serves the demo model in this
// process; task trees and the harness's tool loop go through the real server. The plumbing is
// what is checked here (the demo model's accuracy is TestShippedModelSolvesHeldout's).
func TestEvalRunOnArborServe(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
		rec  func(r evals.Record) bool
	}{
		{"plain", []string{"--max-tokens", "8"}, func(r evals.Record) bool { return r.CompletionTokens > 0 && r.Turns == 1 }},
		{"tree", []string{"--tree", "--max-tokens", "600"}, func(r evals.Record) bool {
			return r.KVPeakTokens != nil && r.FinishReason == "stop" && r.TreeValid != nil && *r.TreeValid
		}},
		// tool_choice "required" makes the model call the calculator at every turn, so the loop
		// runs until --max-turns; the tools field, replaced through --extra-body, bounds the
		// expression to a few characters, so that any call ends within max_tokens (the harness
		// still answers calls to "calculator" with its own).
		{"tools", []string{"--tools", "calculator", "--max-turns", "2", "--max-tokens", "64",
			"--extra-body", `{"tool_choice":"required","tools":[{"type":"function","function":{"name":"calculator",` +
				`"parameters":{"type":"object","properties":{"expression":{"type":"string","maxLength":6}},` +
				`"required":["expression"]}}}]}`}, func(r evals.Record) bool { return r.Turns == 2 && r.ToolCalls >= 1 }},
	} {
		out := filepath.Join(dir, c.name)
		args := append([]string{"eval", "run", "--task", "arith", "--count", "3", "--out", out, "--temperature", "0",
			"--ctx", "1024", "--quiet"}, c.args...)
		var stderr bytes.Buffer
		if err := run(args, nil, io.Discard, &stderr); err != nil {
			t.Fatalf("%s: %v\n%s", c.name, err, stderr.String())
		}
		f, err := os.Open(filepath.Join(out, "results.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var r evals.Record
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatal(err)
			}
			n++
			if r.Error != "" || !c.rec(r) {
				t.Errorf("%s: record %+v", c.name, r)
			}
		}
		f.Close()
		if n != 3 {
			t.Fatalf("%s: %d records", c.name, n)
		}
		if _, err := os.Stat(filepath.Join(out, "report.md")); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
}
