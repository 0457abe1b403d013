package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/arborlabs/arbor/internal/schematest"
	"github.com/arborlabs/arbor/tools"
	"github.com/arborlabs/arbor/tools/calc"
)

// lookupParams is the local tool's parameters schema.
const lookupParams = `{"type":"object","properties":{"key":{"type":"string","maxLength":8}},"required":["key"],"additionalProperties":false}`

// forcedTreeSchema is a user-constrained TIM schema: exactly two top-level tasks, each with
// exactly two subtasks, each with exactly two sub-subtasks (two levels of subtasks below the
// top), and every task calls the lookup tool. Strings are short so a random model ends.
func forcedTreeSchema() string {
	str := `{"type":"string","maxLength":12}`
	tooluse := `{"type":"object","properties":{"tool_name":{"const":"lookup"},"parameters":` + lookupParams +
		`,"tool_result":{}},"required":["tool_name","parameters","tool_result"],"additionalProperties":false}`
	task := func(sub string) string {
		props := `"thought":` + str + `,"tooluse":` + tooluse
		req := `"thought","tooluse"`
		if sub != "" {
			props += `,"subtasks":{"type":"array","minItems":2,"maxItems":2,"items":` + sub + `}`
			req += `,"subtasks"`
		}
		props += `,"conclusion":` + str
		req += `,"conclusion"`
		return `{"type":"object","properties":{` + props + `},"required":[` + req + `],"additionalProperties":false}`
	}
	level3 := task("")
	level2 := task(level3)
	level1 := task(level2)
	return `{"type":"object","properties":{"reasoning":{"type":"array","minItems":2,"maxItems":2,"items":` + level1 +
		`},"answer":` + str + `},"required":["reasoning","answer"],"additionalProperties":false}`
}

// toolServer is a local HTTP tool that records the arguments it was called with.
type toolServer struct {
	*httptest.Server
	mu      sync.Mutex
	calls   []json.RawMessage
	answers map[string]string // compact arguments -> the answer given
}

func newToolServer(t *testing.T) *toolServer {
	ts := &toolServer{answers: map[string]string{}}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts.mu.Lock()
		defer ts.mu.Unlock()
		ts.calls = append(ts.calls, body)
		answer := fmt.Sprintf(`{"value":%d,"note":"call %d"}`, 100+len(ts.calls), len(ts.calls))
		var c bytes.Buffer
		_ = json.Compact(&c, body)
		ts.answers[c.String()] = answer
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, answer)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *toolServer) host() string {
	u, _ := url.Parse(ts.URL)
	return u.Host
}

// treeServer starts the server on the demo model with tree options.
func treeServer(t *testing.T, opt TreeOptions) *testServer {
	eng := newDemoEngine(t, engineOpts{pages: 256, ctx: 4096})
	return startServer(t, FromEngine(eng), Model{}, Options{Tree: opt})
}

func treeUsage(t *testing.T, body []byte) (content string, u map[string]any) {
	t.Helper()
	content, _, u = treeChoice(t, body)
	return content, u
}

// treeChoice is a chat response's first choice: its content and finish reason, and the usage.
func treeChoice(t *testing.T, body []byte) (content, finish string, u map[string]any) {
	t.Helper()
	var resp struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage map[string]any `json:"usage"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return resp.Choices[0].Message.Content, resp.Choices[0].FinishReason, resp.Usage
}

// TestTreeEndToEnd is the end-to-end check: a request whose schema forces two levels
// of subtasks and a tool call per task gets valid JSON; every call reached the local HTTP tool
// with arguments that validate; the results are in the tree; usage shows tokens pruned.
func TestTreeEndToEnd(t *testing.T) {
	tool := newToolServer(t)
	srv := treeServer(t, TreeOptions{AllowHosts: []string{tool.host()}})
	schema := forcedTreeSchema()
	body := `{"model":"arbor-demo","temperature":0,"max_tokens":3000,
		"messages":[{"role":"user","content":"Look up the eight keys and sum the values."}],
		"tools":[{"type":"function","name":"lookup","description":"Looks a key up.","url":"` + tool.URL + `/lookup","method":"POST","timeout":5,"parameters":` + lookupParams + `}],
		"reasoning_format":{"type":"tree","max_depth":3,"pruning_buffer":0,"position_policy":"reencode","schema":` + schema + `}}`
	status, _, resp := srv.post(t, "/v1/chat/completions", body)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, resp)
	}
	content, u := treeUsage(t, resp)
	v := schematest.Validator(t, json.RawMessage(schema))
	var doc any
	if err := json.Unmarshal([]byte(content), &doc); err != nil {
		t.Fatalf("content is not JSON: %v\n%s", err, content)
	}
	if err := v.Validate(doc); err != nil {
		t.Fatalf("content does not match the schema: %v\n%s", err, content)
	}
	// Walk the tree: every task has a tool use whose result is the tool's answer to exactly
	// those parameters. (A request caches results by arguments, so a repeated key is served
	// from the cache and the tool sees it once.)
	const tasks = 2 + 4 + 8
	var uses []map[string]json.RawMessage
	var walk func(raw json.RawMessage)
	walk = func(raw json.RawMessage) {
		var task struct {
			ToolUse  map[string]json.RawMessage `json:"tooluse"`
			Subtasks []json.RawMessage          `json:"subtasks"`
		}
		if err := json.Unmarshal(raw, &task); err != nil {
			t.Fatal(err)
		}
		uses = append(uses, task.ToolUse)
		for _, s := range task.Subtasks {
			walk(s)
		}
	}
	var root struct{ Reasoning []json.RawMessage }
	_ = json.Unmarshal([]byte(content), &root)
	for _, task := range root.Reasoning {
		walk(task)
	}
	if len(uses) != tasks {
		t.Fatalf("%d tool uses in the tree, want %d", len(uses), tasks)
	}
	pv := schematest.Validator(t, json.RawMessage(lookupParams))
	distinct := map[string]bool{}
	for i, use := range uses {
		var args any
		if err := json.Unmarshal(use["parameters"], &args); err != nil {
			t.Fatal(err)
		}
		if err := pv.Validate(args); err != nil {
			t.Fatalf("call %d: arguments %s do not validate: %v", i, use["parameters"], err)
		}
		answer, ok := tool.answers[string(use["parameters"])]
		if !ok {
			t.Fatalf("call %d: the tool never saw arguments %s", i, use["parameters"])
		}
		if string(use["tool_result"]) != answer {
			t.Fatalf("call %d: tool_result %s, the tool answered %s", i, use["tool_result"], answer)
		}
		distinct[string(use["parameters"])] = true
	}
	if len(tool.calls) != len(distinct) {
		t.Fatalf("the tool was called %d times for %d distinct arguments", len(tool.calls), len(distinct))
	}
	if u["tool_calls"] != float64(tasks) {
		t.Fatalf("usage.tool_calls %v, want %d", u["tool_calls"], tasks)
	}
	pruned, _ := u["pruned_tokens"].(float64)
	peak, _ := u["kv_peak_tokens"].(float64)
	total, _ := u["total_tokens"].(float64)
	if pruned <= 0 || peak <= 0 || peak >= total {
		t.Fatalf("usage %v: want tokens pruned and a KV peak below the %v tokens written", u, total)
	}
	_, _, metrics := srv.get(t, "/metrics")
	for _, want := range []string{fmt.Sprintf(`arbor:tool_calls_total{outcome="ok"} %d`, len(distinct)), "arbor:kv_pruned_tokens_total " + fmt.Sprint(pruned)} {
		if !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestTreeStreamsAndDefaults: with --tree (Default), a plain request from a TIMRUN client
// (no reasoning_format) decodes a tree over the operator's tools, streamed as content, with the
// tree figures in the final usage chunk.
func TestTreeStreamsAndDefaults(t *testing.T) {
	srv := treeServer(t, TreeOptions{Default: true, Tools: []tools.Tool{calc.New()}})
	body := `{"model":"arbor-demo","temperature":0,"max_tokens":80,"stream":true,"stream_options":{"include_usage":true},
		"messages":[{"role":"user","content":"What is 6 times 7?"}]}`
	status, _, resp := srv.post(t, "/v1/chat/completions", body)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, resp)
	}
	var content strings.Builder
	var usage map[string]any
	sc := bufio.NewScanner(bytes.NewReader(resp))
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || line == "[DONE]" {
			continue
		}
		var chunk struct {
			Choices []struct {
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
			Usage map[string]any `json:"usage"`
		}
		if err := json.Unmarshal([]byte(line), &chunk); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		for _, c := range chunk.Choices {
			content.WriteString(c.Delta.Content)
		}
		if chunk.Usage != nil {
			usage = chunk.Usage
		}
	}
	if !strings.HasPrefix(content.String(), `{"reasoning":[{"thought":"`) {
		t.Fatalf("content %q is not the start of a task tree: %s", content.String(), resp)
	}
	if usage == nil || usage["kv_peak_tokens"] == nil || usage["tool_calls"] == nil {
		t.Fatalf("final usage %v lacks the tree figures", usage)
	}
	// reasoning_format "text" turns the default off for one request.
	status, _, resp = srv.post(t, "/v1/chat/completions", `{"model":"arbor-demo","max_tokens":4,"reasoning_format":"text","messages":[{"role":"user","content":"Hi"}]}`)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, resp)
	}
	if _, u := treeUsage(t, resp); u["kv_peak_tokens"] != nil {
		t.Fatalf("a text request reports tree usage: %v", u)
	}
}

// treeTexts returns the thought, conclusion and answer strings of a (possibly cut-off) tree
// answer, in order, up to where it stops being JSON.
func treeTexts(content string) []string {
	dec := json.NewDecoder(strings.NewReader(content))
	var out []string
	key := false // the last token was one of the free-text keys
	for {
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		s, isStr := tok.(string)
		if key && isStr {
			out = append(out, s)
			key = false
			continue
		}
		key = isStr && (s == "thought" || s == "conclusion" || s == "answer")
	}
}

// The server's MaxTextChars bounds every free-text field of a tree answer, in characters, and a
// request's reasoning_format.max_text_chars overrides it. The random-weights model would
// otherwise write strings of any length.
func TestTreeMaxTextChars(t *testing.T) {
	srv := treeServer(t, TreeOptions{MaxTextChars: 5})
	for _, tc := range []struct {
		format string
		max    int
	}{
		{`{"type":"tree","max_depth":2}`, 5},
		{`{"type":"tree","max_depth":2,"max_text_chars":2}`, 2},
	} {
		body := `{"model":"arbor-demo","temperature":0,"max_tokens":300,"reasoning_format":` + tc.format + `,
			"messages":[{"role":"user","content":"Tell me a long story."}]}`
		status, _, resp := srv.post(t, "/v1/chat/completions", body)
		if status != http.StatusOK {
			t.Fatalf("status %d: %s", status, resp)
		}
		content, _ := treeUsage(t, resp)
		texts := treeTexts(content)
		if len(texts) < 2 {
			t.Fatalf("%s: fewer than two complete texts in %q", tc.format, content)
		}
		full := 0
		for _, s := range texts {
			n := len([]rune(s))
			if n > tc.max {
				t.Fatalf("%s: text %q has %d characters, above %d", tc.format, s, n, tc.max)
			}
			if n == tc.max {
				full++
			}
		}
		// The bound is what stopped them: a random model does not close strings early.
		if full == 0 {
			t.Errorf("%s: no text reached the bound: %q", tc.format, texts)
		}
	}
}

// A tree request whose max_tokens would cut the tree gets a whole tree instead: near the end
// the decode allows only tokens after which the tree can still be closed, and finish_reason
// says "length". The random-weights model never closes a string by itself.
func TestTreeFitsMaxTokens(t *testing.T) {
	srv := treeServer(t, TreeOptions{})
	for _, maxTokens := range []int{120, 200} {
		body := fmt.Sprintf(`{"model":"arbor-demo","temperature":0,"max_tokens":%d,
			"reasoning_format":{"type":"tree","max_depth":2},
			"messages":[{"role":"user","content":"Tell me a long story."}]}`, maxTokens)
		status, _, resp := srv.post(t, "/v1/chat/completions", body)
		if status != http.StatusOK {
			t.Fatalf("status %d: %s", status, resp)
		}
		content, finish, u := treeChoice(t, resp)
		var tree struct {
			Reasoning []json.RawMessage `json:"reasoning"`
			Answer    *string           `json:"answer"`
		}
		if err := json.Unmarshal([]byte(content), &tree); err != nil || len(tree.Reasoning) == 0 || tree.Answer == nil {
			t.Fatalf("max_tokens %d: not a whole tree (%v): %q", maxTokens, err, content)
		}
		if n, _ := u["completion_tokens"].(float64); finish != "length" || n > float64(maxTokens) {
			t.Errorf("max_tokens %d: finish_reason %q after %v tokens, want length within the budget", maxTokens,
				finish, u["completion_tokens"])
		}
	}
	// Without tree mode a structured output is cut as before.
	body := `{"model":"arbor-demo","temperature":0,"max_tokens":40,"reasoning_format":"text",
		"response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"type":"object",
		"properties":{"story":{"type":"string"}},"required":["story"]}}},
		"messages":[{"role":"user","content":"Tell me a long story."}]}`
	status, _, resp := srv.post(t, "/v1/chat/completions", body)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, resp)
	}
	content, u := treeUsage(t, resp)
	if json.Valid([]byte(content)) || u["completion_tokens"] != float64(40) {
		t.Errorf("a plain structured output was closed early: %q, usage %v", content, u)
	}
}

func TestTreeBadRequests(t *testing.T) {
	tool := newToolServer(t)
	srv := treeServer(t, TreeOptions{AllowHosts: []string{tool.host()}, Tools: []tools.Tool{calc.New()}})
	noHosts := treeServer(t, TreeOptions{})
	msg := `"messages":[{"role":"user","content":"Hi"}]`
	tree := `"reasoning_format":{"type":"tree"}`
	for _, tc := range []struct {
		srv         *testServer
		body, param string
	}{
		{noHosts, `{` + msg + `,` + tree + `,"tools":[{"type":"function","name":"x","url":"` + tool.URL + `","parameters":{"type":"object"}}]}`, "tools[0].url"},
		{srv, `{` + msg + `,` + tree + `,"tools":[{"type":"function","name":"x","url":"http://example.com/x","parameters":{"type":"object"}}]}`, "tools[0].url"},
		{srv, `{` + msg + `,` + tree + `,"tools":[{"type":"function","function":{"name":"nowhere","parameters":{"type":"object"}}}]}`, "tools[0]"},
		{srv, `{` + msg + `,"reasoning_format":{"type":"forest"}}`, "reasoning_format.type"},
		{srv, `{` + msg + `,"reasoning_format":{"type":"tree","position_policy":"teleport"}}`, "reasoning_format.position_policy"},
		{srv, `{` + msg + `,"reasoning_format":{"type":"tree","pruning_buffer":-1}}`, "reasoning_format.pruning_buffer"},
		{srv, `{` + msg + `,"reasoning_format":{"type":"tree","max_depth":0}}`, "reasoning_format.max_depth"},
		{srv, `{` + msg + `,"reasoning_format":{"type":"tree","schema":[1]}}`, "reasoning_format.schema"},
		{srv, `{` + msg + `,"reasoning_format":{"type":"tree","max_text_chars":0}}`, "reasoning_format.max_text_chars"},
		{srv, `{` + msg + `,"reasoning_format":{"type":"tree","max_text_chars":100000}}`, "reasoning_format.max_text_chars"},
		{srv, `{` + msg + `,"reasoning_format":{"type":"tree","max_text_chars":10,"schema":` + forcedTreeSchema() + `}}`,
			"reasoning_format.max_text_chars"},
		{srv, `{` + msg + `,` + tree + `,"response_format":{"type":"json_object"}}`, "response_format"},
	} {
		status, _, body := tc.srv.post(t, "/v1/chat/completions", tc.body)
		if status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400: %s", tc.body, status, body)
			continue
		}
		if e := apiErr(t, body); e.Param == nil || *e.Param != tc.param {
			t.Errorf("%s: param %v, want %q (%s)", tc.body, e.Param, tc.param, e.Message)
		}
	}
	if len(tool.calls) != 0 {
		t.Fatalf("a refused request reached the tool %d times", len(tool.calls))
	}
}

// TestTreeFromResponseFormat: a response_format whose schema is the TIM response turns tree
// mode on (TIMRUN clients send the schema that way too): its tools run inside the decode.
func TestTreeFromResponseFormat(t *testing.T) {
	tool := newToolServer(t)
	srv := treeServer(t, TreeOptions{AllowHosts: []string{tool.host()}})
	body := `{"model":"arbor-demo","temperature":0,"max_tokens":3000,
		"messages":[{"role":"user","content":"Look the keys up."}],
		"tools":[{"type":"function","function":{"name":"lookup","parameters":` + lookupParams + `},"url":"` + tool.URL + `","method":"GET"}],
		"response_format":{"type":"json_schema","json_schema":{"name":"tim","schema":` + forcedTreeSchema() + `}}}`
	status, _, resp := srv.post(t, "/v1/chat/completions", body)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, resp)
	}
	content, u := treeUsage(t, resp)
	if !json.Valid([]byte(content)) || u["tool_calls"] != float64(14) {
		t.Fatalf("usage %v, content %s", u, content)
	}
	if len(tool.calls) == 0 {
		t.Fatal("the GET tool was never reached")
	}
}
