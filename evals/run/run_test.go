package run

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go"

	"github.com/arborlabs/arbor/evals"
	"github.com/arborlabs/arbor/evals/metrics"
	"github.com/arborlabs/arbor/tools"
	"github.com/arborlabs/arbor/tools/calc"
)

// stub is an OpenAI-compatible chat endpoint with canned answers: problem "pK" (named in the
// prompt) answers sample s with answers[K][s]; some requests are refused first.
type stub struct {
	answers   map[string][]string
	throttle  string          // the first attempt of each sample of this problem gets 429, Retry-After: 0
	throttled map[string]bool // under mu: samples already refused once
	broken    string          // requests about this problem always get a 500
	gate      chan struct{}
	mu        sync.Mutex
	bodies    []map[string]any
	calls     atomic.Int32
}

var problemRE = regexp.MustCompile(`problem (p\d+)`)

func (s *stub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	w.Header().Set("Content-Type", "application/json")
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	s.mu.Lock()
	s.bodies = append(s.bodies, body)
	s.mu.Unlock()
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-r.Context().Done():
			return
		}
	}
	msgs := body["messages"].([]any)
	first := msgs[0].(map[string]any)["content"].(string)
	id := problemRE.FindStringSubmatch(first)[1]
	sample := 0
	if seed, ok := body["seed"].(float64); ok {
		sample = int(seed) - 100
	}
	// Refusing by sample, not by a global count, keeps the test deterministic under
	// concurrency: a count could land all its refusals on one sample and exhaust its retries.
	if id == s.throttle {
		key := fmt.Sprintf("%s#%d", id, sample)
		s.mu.Lock()
		again := s.throttled[key]
		if s.throttled == nil {
			s.throttled = map[string]bool{}
		}
		s.throttled[key] = true
		s.mu.Unlock()
		if !again {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"error":{"message":"slow down","type":"rate_limit_error"}}`))
			return
		}
	}
	if id == s.broken {
		w.WriteHeader(500)
		w.Write([]byte(`{"error":{"message":"boom","type":"server_error"}}`))
		return
	}
	content := s.answers[id][sample]
	msg := map[string]any{"role": "assistant", "content": content}
	finish := "stop"
	// The tool loop: "CALL expr" asks the calculator; its result comes back as a tool message.
	if expr, ok := strings.CutPrefix(content, "CALL "); ok {
		last := msgs[len(msgs)-1].(map[string]any)
		if last["role"] == "tool" {
			var res calc.Result
			json.Unmarshal([]byte(last["content"].(string)), &res)
			msg["content"] = fmt.Sprintf("The tool says %s, so \\boxed{%s}", res.Result, res.Result)
		} else {
			args, _ := json.Marshal(map[string]string{"expression": expr})
			msg["content"] = nil
			msg["tool_calls"] = []any{map[string]any{"id": "call_1", "type": "function",
				"function": map[string]any{"name": "calculator", "arguments": string(args)}}}
			finish = "tool_calls"
		}
	}
	json.NewEncoder(w).Encode(map[string]any{"id": "x", "object": "chat.completion", "created": 1, "model": body["model"],
		"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": finish}},
		"usage": map[string]any{"prompt_tokens": 10, "completion_tokens": len(content), "total_tokens": 10 + len(content),
			"kv_peak_tokens": 42}})
}

var boxedRE = regexp.MustCompile(`\\boxed\{([^}]*)\}`)

// boxed grades by the last \boxed{} (the real graders are evals/grade's).
func boxed(task, response, gold string) (bool, *string) {
	m := boxedRE.FindAllStringSubmatch(response, -1)
	if m == nil {
		return false, nil
	}
	x := m[len(m)-1][1]
	return x == gold, &x
}

func problems(n int) []evals.Problem {
	var ps []evals.Problem
	for i := range n {
		ps = append(ps, evals.Problem{ID: fmt.Sprintf("p%d", i), Question: fmt.Sprintf("This is problem p%d.", i),
			Answer: fmt.Sprint(i)})
	}
	return ps
}

func config(t *testing.T, url, dir string, ps []evals.Problem, n int) Config {
	t.Helper()
	pr, err := NewPrompter(evals.TaskMath, "")
	if err != nil {
		t.Fatal(err)
	}
	seed := int64(100)
	return Config{Task: evals.TaskMath, Problems: ps, Prompter: pr, Grade: boxed, BaseURL: url + "/v1", APIKey: "k",
		Model: "stub", N: n, Seed: &seed, Concurrency: 3, Dir: dir, Settings: map[string]any{"data": "fixture"}}
}

func readRecords(t *testing.T, dir string) map[string]evals.Record {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]evals.Record{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r evals.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		out[r.Key()] = r
	}
	return out
}

func TestRunGradesRetriesAndRecordsErrors(t *testing.T) {
	st := &stub{answers: map[string][]string{
		"p0": {`\boxed{0}`, `\boxed{1}`, `so \boxed{0}`},
		"p1": {`\boxed{1}`, `\boxed{1}`, `\boxed{1}`},
		"p2": {`no idea`, `\boxed{7}`, `\boxed{2}`},
	}, broken: "p3", throttle: "p1"}
	srv := httptest.NewServer(st)
	defer srv.Close()
	dir := t.TempDir()
	cfg := config(t, srv.URL, dir, problems(4), 3)
	cfg.Retries = 2
	out, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if out.Done != 12 || out.Errors != 3 || out.Interrupted {
		t.Fatalf("outcome %+v", out)
	}
	recs := readRecords(t, dir)
	want := map[string]bool{"p0#0": true, "p0#1": false, "p0#2": true, "p1#0": true, "p1#1": true, "p1#2": true,
		"p2#0": false, "p2#1": false, "p2#2": true}
	for k, c := range want {
		r := recs[k]
		if r.Error != "" || r.Correct != c {
			t.Errorf("%s: correct %v (want %v), error %q", k, r.Correct, c, r.Error)
		}
	}
	if r := recs["p2#0"]; r.Extracted != nil {
		t.Errorf("no boxed answer, extracted %q", *r.Extracted)
	}
	for s := range 3 {
		r := recs[fmt.Sprintf("p3#%d", s)]
		if r.Error == "" || !strings.Contains(r.Error, "after 3 attempts") || r.Correct {
			t.Errorf("p3#%d: a failing server must be an error, not a wrong answer: %+v", s, r)
		}
	}
	if n := st.calls.Load(); n != 3+3*2+3+3*3 { // per sample: p0, p2 once; p1 twice (a 429 first); p3 three attempts
		t.Errorf("%d calls to the server", n)
	}
	if r := recs["p1#0"]; r.KVPeakTokens == nil || *r.KVPeakTokens != 42 || r.PromptTokens != 10 {
		t.Errorf("usage not recorded: %+v", r)
	}
	// The prompt is the math template; the seed runs over the samples.
	st.mu.Lock()
	body := st.bodies[len(st.bodies)-1]
	st.mu.Unlock()
	if c := body["messages"].([]any)[0].(map[string]any)["content"].(string); !strings.Contains(c, `\boxed{}`) {
		t.Errorf("prompt %q", c)
	}
	// A rerun draws only the failed samples again.
	before := st.calls.Load()
	st.broken = ""
	st.answers["p3"] = []string{`\boxed{3}`, `\boxed{3}`, `\boxed{9}`}
	out, err = Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if out.Skipped != 9 || out.Done != 3 || out.Errors != 0 || st.calls.Load()-before != 3 {
		t.Fatalf("rerun %+v, %d calls", out, st.calls.Load()-before)
	}
	if r := readRecords(t, dir)["p3#2"]; r.Error != "" || r.Correct {
		t.Fatalf("p3#2 after the rerun: %+v", r)
	}
}

// TestInterruptedRunResumes: a run cancelled midway and run again ends with the same records
// as a run never interrupted.
func TestInterruptedRunResumes(t *testing.T) {
	answers := map[string][]string{}
	for i := range 10 {
		answers[fmt.Sprintf("p%d", i)] = []string{fmt.Sprintf(`\boxed{%d}`, i), fmt.Sprintf(`\boxed{%d}`, i%3)}
	}
	full := &stub{answers: answers}
	srv := httptest.NewServer(full)
	defer srv.Close()
	whole := t.TempDir()
	if _, err := Run(context.Background(), config(t, srv.URL, whole, problems(10), 2)); err != nil {
		t.Fatal(err)
	}

	gated := &stub{answers: answers, gate: make(chan struct{})}
	srv2 := httptest.NewServer(gated)
	defer srv2.Close()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for range 7 { // let seven requests through, then interrupt
			gated.gate <- struct{}{}
		}
		for len(readLines(dir)) < 7 { // wait until they are written
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	out, err := Run(ctx, config(t, srv2.URL, dir, problems(10), 2))
	if err != nil {
		t.Fatal(err)
	}
	if !out.Interrupted || out.Done != 7 {
		t.Fatalf("interrupted run: %+v", out)
	}
	close(gated.gate)
	out, err = Run(context.Background(), config(t, srv2.URL, dir, problems(10), 2))
	if err != nil || out.Skipped != 7 || out.Done != 13 {
		t.Fatalf("resumed run: %+v, %v", out, err)
	}
	a, b := readRecords(t, whole), readRecords(t, dir)
	if len(a) != 20 || len(b) != 20 {
		t.Fatalf("%d and %d records", len(a), len(b))
	}
	for k, ra := range a {
		rb := b[k]
		if ra.Correct != rb.Correct || ra.Response != rb.Response || ra.Error != rb.Error {
			t.Fatalf("%s: %+v vs %+v", k, ra, rb)
		}
	}
	// And so the same summary (latency aside, which is the clock's).
	sum := func(m map[string]evals.Record) metrics.Summary {
		var rs []evals.Record
		for _, r := range m {
			r.LatencyMS = 0
			rs = append(rs, r)
		}
		return metrics.Summarize(rs)
	}
	sa, sb := sum(a), sum(b)
	ja, _ := json.Marshal(sa)
	jb, _ := json.Marshal(sb)
	if string(ja) != string(jb) || sa.Accuracy == 0 {
		t.Fatalf("summaries differ:\n%s\n%s", ja, jb)
	}
}

func readLines(dir string) []string {
	b, _ := os.ReadFile(filepath.Join(dir, ResultsFile))
	return strings.FieldsFunc(string(b), func(r rune) bool { return r == '\n' })
}

// TestToolLoop: the harness runs the model's calculator calls and sends the results back.
func TestToolLoop(t *testing.T) {
	st := &stub{answers: map[string][]string{"p0": {"CALL 12*34+5"}}}
	srv := httptest.NewServer(st)
	defer srv.Close()
	dir := t.TempDir()
	cfg := config(t, srv.URL, dir, []evals.Problem{{ID: "p0", Question: "This is problem p0.", Answer: "413"}}, 1)
	cfg.Tools = []tools.Tool{calc.New()}
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	r := readRecords(t, dir)["p0#0"]
	if !r.Correct || r.Turns != 2 || r.ToolCalls != 1 || r.PromptTokens != 20 {
		t.Fatalf("record %+v", r)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.bodies) != 2 || st.bodies[0]["tools"] == nil {
		t.Fatalf("requests: %v", st.bodies)
	}
	roles := []string{}
	for _, m := range st.bodies[1]["messages"].([]any) {
		roles = append(roles, m.(map[string]any)["role"].(string))
	}
	if !slices.Equal(roles, []string{"user", "assistant", "tool"}) {
		t.Fatalf("second request's roles %v", roles)
	}
}

func TestGPQAPromptAndGold(t *testing.T) {
	pr, err := NewPrompter(evals.TaskGPQA, "")
	if err != nil {
		t.Fatal(err)
	}
	p := &evals.Problem{ID: "g", Question: "Which is a noble gas?", Answer: "Neon", Incorrect: []string{"Iron", "Sodium", "Carbon"}}
	prompt, gold, err := pr.Prompt(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(prompt, gold+") Neon") || !strings.Contains(prompt, "Answer: $LETTER") {
		t.Fatalf("gold %s, prompt:\n%s", gold, prompt)
	}
	if _, err := NewPrompter(evals.TaskGPQA, "{{.Nope}}"); err != nil {
		t.Fatal(err) // parses; fails when executed
	}
	bad, _ := NewPrompter(evals.TaskGPQA, "{{.Nope}}")
	if _, _, err := bad.Prompt(p); err == nil {
		t.Fatal("a template naming an unknown field executed")
	}
}

// TestDefaultPrompts: math-style tasks ask for a \boxed{} answer; arith asks the question
// alone, as its problems are posed to the demo model.
func TestDefaultPrompts(t *testing.T) {
	p := &evals.Problem{ID: "a", Question: "Mia has 3 boxes of 4 pens. How many pens?", Answer: "12"}
	for task, want := range map[string]string{evals.TaskArith: p.Question,
		evals.TaskGSM8K: p.Question + "\n\nPlease reason step by step, and put your final answer within \\boxed{}."} {
		pr, err := NewPrompter(task, "")
		if err != nil {
			t.Fatal(err)
		}
		if got, gold, err := pr.Prompt(p); err != nil || got != want || gold != "12" {
			t.Errorf("%s: prompt %q gold %q (%v)", task, got, gold, err)
		}
	}
}

// TestRetryable: what is tried again, and after how long (the server's Retry-After wins).
func TestRetryable(t *testing.T) {
	apiErr := func(status int, retryAfter string) error {
		h := http.Header{}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		return &openai.Error{StatusCode: status, Response: &http.Response{StatusCode: status, Header: h}}
	}
	for _, c := range []struct {
		err   error
		retry bool
		wait  time.Duration // exact when > 0
	}{
		{apiErr(429, "7"), true, 7 * time.Second},
		{apiErr(503, "0.5"), true, 500 * time.Millisecond},
		{apiErr(503, "100000"), true, 2 * time.Minute}, // capped
		{apiErr(500, ""), true, 0},
		{apiErr(408, ""), true, 0},
		{apiErr(400, "3"), false, 0},
		{apiErr(404, ""), false, 0},
		{context.DeadlineExceeded, true, 0},
		{errors.New("malformed"), false, 0},
	} {
		wait, retry := retryable(c.err, 3)
		if retry != c.retry || (c.wait > 0 && wait != c.wait) || (retry && c.wait == 0 && (wait <= 0 || wait > 30*time.Second)) {
			t.Errorf("%v: retry %v after %v", c.err, retry, wait)
		}
	}
}

// TestTreeRequests: a tree run asks for reasoning_format "tree", or keeps the extra body's own
// reasoning_format object; its records say whether each response is a whole task tree.
func TestTreeRequests(t *testing.T) {
	valid := `{"reasoning":[{"thought":"t","tooluse":null,"subtasks":null,"conclusion":"c"}],"answer":"0"}`
	st := &stub{answers: map[string][]string{"p0": {valid}, "p1": {`{"reasoning":[],"answer":"1"}`}}}
	srv := httptest.NewServer(st)
	defer srv.Close()
	for _, extra := range []map[string]any{nil, {"reasoning_format": map[string]any{"type": "tree", "pruning_buffer": 0}}} {
		dir := t.TempDir()
		cfg := config(t, srv.URL, dir, problems(2), 1)
		cfg.Tree, cfg.ExtraBody = true, extra
		if _, err := Run(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		recs := readRecords(t, dir)
		if v := recs["p0#0"].TreeValid; v == nil || !*v {
			t.Errorf("a whole tree: tree_valid %v", v)
		}
		if v := recs["p1#0"].TreeValid; v == nil || *v {
			t.Errorf("an empty reasoning list: tree_valid %v", v)
		}
		st.mu.Lock()
		got := st.bodies[len(st.bodies)-1]["reasoning_format"]
		st.mu.Unlock()
		want := any("tree")
		if extra != nil {
			want = map[string]any{"type": "tree", "pruning_buffer": 0.0}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("extra %v: reasoning_format %v, want %v", extra, got, want)
		}
	}
}
