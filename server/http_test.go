package server

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/arborlabs/arbor/internal/testmodels"
	"github.com/arborlabs/arbor/runtime/chat/parsers"
	"github.com/arborlabs/arbor/runtime/engine"
	"github.com/arborlabs/arbor/runtime/tokenizer"
	"github.com/arborlabs/arbor/server/openai"
)

const hi = `"messages":[{"role":"user","content":"hi"}]`

// TestRequestErrors checks that every client mistake gets a 4xx in OpenAI's shape naming the
// field, and never a 500.
func TestRequestErrors(t *testing.T) {
	gen := newScripted(t, "ok")
	gen.ctx = 64
	ts := startServer(t, gen, Model{}, Options{MaxBodyBytes: 4 << 10})
	long := strings.Repeat("word ", 100)
	cases := []struct {
		name, path, body string
		status           int
		param, code, msg string
	}{
		{"malformed json", "/v1/chat/completions", `{"messages": [`, 400, "", "", "not valid JSON"},
		{"not an object", "/v1/chat/completions", `[1, 2]`, 400, "", "", "must be a JSON object"},
		{"empty body", "/v1/chat/completions", ``, 400, "", "", "empty"},
		{"missing messages", "/v1/chat/completions", `{"model": "arbor-demo"}`, 400, "messages", "", "'messages' is required"},
		{"empty messages", "/v1/chat/completions", `{"messages": []}`, 400, "messages", "", "must not be empty"},
		{"messages wrong type", "/v1/chat/completions", `{"messages": "hi"}`, 400, "messages", "", "'messages' must be an array of messages, got a string"},
		{"message content wrong type", "/v1/chat/completions", `{"messages": [{"role": "user", "content": 5}]}`, 400, "messages[0].content", "", "got a number"},
		{"message role missing", "/v1/chat/completions", `{"messages": [{"content": "x"}]}`, 400, "messages[0].role", "", "required"},
		{"message role unknown", "/v1/chat/completions", `{"messages": [{"role": "wizard", "content": "x"}]}`, 400, "messages[0].role", "", "wizard"},
		{"image part", "/v1/chat/completions", `{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}`, 400, "messages[0].content[0].type", "", "only text parts"},
		{"temperature string", "/v1/chat/completions", `{` + hi + `, "temperature": "hot"}`, 400, "temperature", "", "'temperature' must be a number, got a string"},
		{"temperature range", "/v1/chat/completions", `{` + hi + `, "temperature": 3}`, 400, "temperature", "", "outside [0, 2]"},
		{"top_p zero", "/v1/chat/completions", `{` + hi + `, "top_p": 0}`, 400, "top_p", "", "top_p"},
		{"top_k string", "/v1/chat/completions", `{` + hi + `, "top_k": "5"}`, 400, "top_k", "", "integer"},
		{"n fraction", "/v1/chat/completions", `{` + hi + `, "n": 1.5}`, 400, "n", "", "'n' must be an integer"},
		{"n too big", "/v1/chat/completions", `{` + hi + `, "n": 100}`, 400, "n", "", "between 1 and 16"},
		{"max_tokens zero", "/v1/chat/completions", `{` + hi + `, "max_tokens": 0}`, 400, "max_tokens", "", "at least 1"},
		{"max_completion_tokens string", "/v1/chat/completions", `{` + hi + `, "max_completion_tokens": "9"}`, 400, "max_completion_tokens", "", "integer"},
		{"stop number", "/v1/chat/completions", `{` + hi + `, "stop": 5}`, 400, "stop", "", "string or an array of strings"},
		{"stop mixed", "/v1/chat/completions", `{` + hi + `, "stop": ["a", 1]}`, 400, "stop", "", "string or an array of strings"},
		{"seed string", "/v1/chat/completions", `{` + hi + `, "seed": "x"}`, 400, "seed", "", "integer"},
		{"stream string", "/v1/chat/completions", `{` + hi + `, "stream": "yes"}`, 400, "stream", "", "boolean"},
		{"stream_options without stream", "/v1/chat/completions", `{` + hi + `, "stream_options": {"include_usage": true}}`, 400, "stream_options", "", "stream"},
		{"logprobs string", "/v1/chat/completions", `{` + hi + `, "logprobs": "yes"}`, 400, "logprobs", "", "boolean"},
		{"top_logprobs without logprobs", "/v1/chat/completions", `{` + hi + `, "top_logprobs": 2}`, 400, "top_logprobs", "", "logprobs"},
		{"top_logprobs range", "/v1/chat/completions", `{` + hi + `, "logprobs": true, "top_logprobs": 21}`, 400, "top_logprobs", "", "between 0 and 20"},
		{"tools wrong type", "/v1/chat/completions", `{` + hi + `, "tools": {"a": 1}}`, 400, "tools", "", "array"},
		{"tool without name", "/v1/chat/completions", `{` + hi + `, "tools": [{"type": "function", "function": {}}]}`, 400, "tools[0].function.name", "", "required"},
		{"tool_choice unknown", "/v1/chat/completions", `{` + hi + `, "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "always"}`, 400, "tool_choice", "", "always"},
		{"tool_choice names a missing tool", "/v1/chat/completions", `{` + hi + `, "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": {"type": "function", "function": {"name": "g"}}}`, 400, "tool_choice", "", "\"g\""},
		{"tool_choice without tools", "/v1/chat/completions", `{` + hi + `, "tool_choice": "required"}`, 400, "tool_choice", "", "needs 'tools'"},
		{"parallel_tool_calls string", "/v1/chat/completions", `{` + hi + `, "parallel_tool_calls": "no"}`, 400, "parallel_tool_calls", "", "boolean"},
		{"response_format unknown type", "/v1/chat/completions", `{` + hi + `, "response_format": {"type": "yaml"}}`, 400, "response_format", "", "yaml"},
		{"response_format json_schema without name", "/v1/chat/completions", `{` + hi + `, "response_format": {"type": "json_schema", "json_schema": {"schema": {}}}}`, 400, "response_format", "", "name"},
		{"response_format unsupported keyword", "/v1/chat/completions", `{` + hi + `, "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "integer", "multipleOf": 3}}}}`, 400, "response_format", "", "multipleOf"},
		{"response_format nested unsupported keyword", "/v1/chat/completions", `{` + hi + `, "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object", "properties": {"a": {"not": {}}}}}}}`, 400, "response_format", "", "\"not\" at /properties/a"},
		{"tool parameters unsupported keyword", "/v1/chat/completions", `{` + hi + `, "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "patternProperties": {}}}}], "tool_choice": "required"}`, 400, "tools[0].function.parameters", "", "patternProperties"},
		{"chat_template_kwargs wrong type", "/v1/chat/completions", `{` + hi + `, "chat_template_kwargs": {"enable_thinking": "no"}}`, 400, "chat_template_kwargs.enable_thinking", "", "boolean"},
		{"unknown model", "/v1/chat/completions", `{"model": "gpt-4", ` + hi + `}`, 400, "model", "model_not_found", "gpt-4"},
		{"model wrong type", "/v1/chat/completions", `{"model": 4, ` + hi + `}`, 400, "model", "", "string"},
		{"prompt too long", "/v1/chat/completions", `{"messages": [{"role": "user", "content": "` + long + `"}]}`, 400, "messages", "context_length_exceeded", "maximum context length is 64"},
		{"prompt plus max_tokens too long", "/v1/chat/completions", `{` + hi + `, "max_tokens": 60}`, 400, "messages", "context_length_exceeded", "max_tokens"},
		{"completions prompt missing", "/v1/completions", `{"max_tokens": 3}`, 400, "prompt", "", "required"},
		{"completions prompt object", "/v1/completions", `{"prompt": {"a": 1}}`, 400, "prompt", "", "got an object"},
		{"completions prompt mixed", "/v1/completions", `{"prompt": ["a", 1]}`, 400, "prompt", "", "only strings"},
		{"completions token outside vocab", "/v1/completions", `{"prompt": [1, 999999999]}`, 400, "prompt", "", "outside the vocabulary"},
		{"completions logprobs bool", "/v1/completions", `{"prompt": "x", "logprobs": true}`, 400, "logprobs", "", "integer"},
		{"completions echo", "/v1/completions", `{"prompt": "x", "echo": true}`, 400, "echo", "", "not supported"},
		{"completions too long", "/v1/completions", `{"prompt": "` + long + `"}`, 400, "messages", "context_length_exceeded", "maximum context length"},
		{"oversized body", "/v1/chat/completions", `{"messages": [{"role": "user", "content": "` + strings.Repeat("x", 5000) + `"}]}`, 413, "", "", "larger than the limit"},
		{"unknown route", "/v1/audio/speech", `{}`, 404, "", "", "Not Found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, _, body := ts.post(t, c.path, c.body)
			if status != c.status {
				t.Fatalf("status %d, want %d: %s", status, c.status, body)
			}
			e := apiErr(t, body)
			if got := deref(e.Param); got != c.param {
				t.Errorf("param %q, want %q (%s)", got, c.param, e.Message)
			}
			if got := deref(e.Code); got != c.code {
				t.Errorf("code %q, want %q", got, c.code)
			}
			if !strings.Contains(e.Message, c.msg) {
				t.Errorf("message %q does not say %q", e.Message, c.msg)
			}
		})
	}
	// Unknown fields are ignored; null counts as absent.
	if status, _, body := ts.post(t, "/v1/chat/completions", `{`+hi+`, "frobnicate": {"x": [1]}, "temperature": null, "logit_bias": {}}`); status != 200 {
		t.Fatalf("unknown fields: %d %s", status, body)
	}
	// 405 and a body streamed without Content-Length past the limit.
	if status, _, body := ts.get(t, "/v1/chat/completions"); status != 405 || apiErr(t, body).Message == "" {
		t.Fatalf("GET chat: %d %s", status, body)
	}
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write([]byte(`{"messages": [{"role": "user", "content": "` + strings.Repeat("y", 8000) + `"}]}`))
		_ = pw.Close()
	}()
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/v1/chat/completions", pr)
	if status, _, body := do(t, req); status != 413 {
		t.Fatalf("chunked oversized body: %d %s", status, body)
	}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func TestAuth(t *testing.T) {
	ts := startServer(t, newScripted(t, "ok"), Model{}, Options{APIKeys: []string{"sk-one", "sk-two"}})
	for _, c := range []struct {
		auth   string
		status int
	}{
		{"", 401}, {"Bearer sk-three", 401}, {"Bearer sk-on", 401}, {"Basic sk-one", 401}, {"sk-one", 401},
		{"Bearer sk-one", 200}, {"Bearer sk-two", 200}, {"bearer sk-two", 200},
	} {
		var h []string
		if c.auth != "" {
			h = []string{"Authorization", c.auth}
		}
		status, hdr, body := ts.post(t, "/v1/chat/completions", `{`+hi+`}`, h...)
		if status != c.status {
			t.Fatalf("%q: %d %s", c.auth, status, body)
		}
		if status == 401 && (apiErr(t, body).Type != openai.TypeAuthentication || hdr.Get("WWW-Authenticate") == "") {
			t.Fatalf("%q: %s %v", c.auth, body, hdr)
		}
	}
	// Health and metrics need no key; every other route does (even unknown ones).
	for path, want := range map[string]int{"/health": 200, "/metrics": 200, "/v1/models": 401, "/nowhere": 401} {
		if status, _, _ := ts.get(t, path); status != want {
			t.Fatalf("GET %s: %d, want %d", path, status, want)
		}
	}
}

// TestLifecycle: 503 while loading, 200 when ready, 503 again while draining.
func TestLifecycle(t *testing.T) {
	ts := startServer(t, nil, Model{}, Options{})
	for _, path := range []string{"/health", "/v1/models"} {
		status, hdr, body := ts.get(t, path)
		if status != 503 || hdr.Get("Retry-After") == "" || !strings.Contains(apiErr(t, body).Message, "loading") {
			t.Fatalf("%s while loading: %d %s", path, status, body)
		}
	}
	if status, _, _ := ts.post(t, "/v1/chat/completions", `{`+hi+`}`); status != 503 {
		t.Fatalf("chat while loading: %d", status)
	}
	if status, _, body := ts.get(t, "/metrics"); status != 200 || !strings.Contains(string(body), "arbor:num_requests_running 0") {
		t.Fatalf("metrics while loading: %d %s", status, body)
	}
	if err := ts.Ready(newScripted(t, "ok"), Model{Name: "m"}); err != nil {
		t.Fatal(err)
	}
	if status, _, _ := ts.get(t, "/health"); status != 200 {
		t.Fatalf("health when ready: %d", status)
	}
	if err := ts.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/health", "/v1/models"} {
		if status, _, body := ts.get(t, path); status != 503 || !strings.Contains(string(body), "shutting down") {
			t.Fatalf("%s while draining: %d %s", path, status, body)
		}
	}
}

// panicky is a generator whose Submit panics: the recover middleware must answer 500 in the
// error shape and the server must go on.
type panicky struct{ *scripted }

func (p panicky) Submit(ctx context.Context, req engine.Request) (EventStream, error) {
	panic("boom")
}

func TestPanicIs500(t *testing.T) {
	ts := startServer(t, panicky{newScripted(t)}, Model{}, Options{})
	status, _, body := ts.post(t, "/v1/chat/completions", `{`+hi+`}`)
	if status != 500 || apiErr(t, body).Type != openai.TypeServer || strings.Contains(string(body), "boom") {
		t.Fatalf("panic: %d %s", status, body)
	}
	if status, _, _ := ts.get(t, "/health"); status != 200 {
		t.Fatalf("after the panic: %d", status)
	}
}

// TestQueueFull: with one running slot and a queue of one, a third concurrent request gets
// 429 with Retry-After. The backend is gated, so the first request stays running and the
// second stays queued for as long as the test needs.
func TestQueueFull(t *testing.T) {
	gate := make(chan struct{})
	eng := newDemoEngine(t, engineOpts{maxSeqs: 1, maxQueue: 1, gate: gate})
	ts := startServer(t, FromEngine(eng), Model{}, Options{})
	var wg sync.WaitGroup
	statuses := make([]int, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i], _, _ = ts.post(t, "/v1/chat/completions", `{`+hi+`, "max_tokens": 3}`)
		}()
		if i == 0 {
			waitFor(t, "the first request to run", func() bool { return eng.Stats().Running == 1 })
		}
	}
	waitFor(t, "the second request to queue", func() bool { return eng.Stats().Waiting == 1 })
	status, hdr, body := ts.post(t, "/v1/chat/completions", `{`+hi+`, "max_tokens": 3}`)
	if status != 429 || hdr.Get("Retry-After") == "" || apiErr(t, body).Type != openai.TypeRateLimit {
		t.Fatalf("third request: %d %v %s", status, hdr, body)
	}
	close(gate)
	wg.Wait()
	if statuses[0] != 200 || statuses[1] != 200 {
		t.Fatalf("queued requests: %v", statuses)
	}
	waitFor(t, "the engine to be idle", func() bool { st := eng.Stats(); return st.Running == 0 && st.KVPagesInUse == 0 })
}

// TestDisconnectFreesPages: a client that goes away mid-stream aborts its request; the engine
// frees its pages, long before max_tokens would have been reached.
func TestDisconnectFreesPages(t *testing.T) {
	gate := make(chan struct{})
	eng := newDemoEngine(t, engineOpts{gate: gate, ctx: 512, pages: 64})
	ts := startServer(t, FromEngine(eng), Model{}, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+"/v1/chat/completions",
		strings.NewReader(`{`+hi+`, "max_tokens": 400, "stream": true}`))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	// Let a few steps run and read the first chunks: the request is running, pages held.
	for range 3 {
		gate <- struct{}{}
	}
	rd := bufio.NewReader(res.Body)
	if line, err := rd.ReadString('\n'); err != nil || !strings.HasPrefix(line, "data: ") {
		t.Fatalf("first line %q %v", line, err)
	}
	if st := eng.Stats(); st.Running != 1 || st.KVPagesInUse == 0 {
		t.Fatalf("stats while streaming: %+v", st)
	}
	cancel()
	res.Body.Close()
	// Keep stepping until the engine notices; it must free everything and stop generating.
	waitFor(t, "the pages to be freed", func() bool {
		select {
		case gate <- struct{}{}:
		default:
		}
		st := eng.Stats()
		return st.Running == 0 && st.Waiting == 0 && st.KVPagesInUse == 0
	})
	if gen := eng.Stats().GenTokens; gen >= 400 {
		t.Fatalf("generated %d tokens: the request ran to the end instead of being cancelled", gen)
	}
	close(gate)
	// The handler records the abort when it sees the stream end, which may come after the
	// engine freed the pages.
	waitFor(t, "the metrics to count the abort", func() bool {
		_, _, body := ts.get(t, "/metrics")
		return strings.Contains(string(body), `arbor:request_success_total{finished_reason="abort"} 1`)
	})
}

func TestMetrics(t *testing.T) {
	eng := newDemoEngine(t, engineOpts{})
	ts := startServer(t, FromEngine(eng), Model{}, Options{})
	if status, _, body := ts.post(t, "/v1/chat/completions", `{`+hi+`, "max_tokens": 4, "temperature": 0}`); status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	status, _, body := ts.get(t, "/metrics")
	if status != 200 {
		t.Fatal(status)
	}
	text := string(body)
	for _, name := range []string{
		"arbor:num_requests_running", "arbor:num_requests_waiting", "arbor:kv_cache_usage_perc",
		"arbor:prefix_cache_queries", "arbor:prefix_cache_hits", "arbor:prompt_tokens_total",
		"arbor:generation_tokens_total", "arbor:request_success_total{finished_reason=",
		"arbor:time_to_first_token_seconds_bucket", "arbor:inter_token_latency_seconds_bucket",
		"arbor:e2e_request_latency_seconds_bucket", "arbor:request_queue_time_seconds_bucket",
		"arbor:num_preemptions_total", "arbor:kv_cache_cached_pages", "go_goroutines", "process_open_fds",
	} {
		if !strings.Contains(text, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if !strings.Contains(text, "arbor:time_to_first_token_seconds_count 1") || !strings.Contains(text, "arbor:inter_token_latency_seconds_count") {
		t.Errorf("histograms not observed:\n%s", text)
	}
}

// TestChatTemplateGolden renders the golden conversations of runtime/chat through the server:
// the prompt the engine gets is the tokenization of the reference rendering, and the tool-call
// format is detected from the template.
func TestChatTemplateGoldenQwen3(t *testing.T) {
	if n := runGolden(t, "qwen3.jinja", newScripted(t).tok, parsers.ToolFormatHermes); n < 5 {
		t.Fatalf("ran %d golden cases", n)
	}
}

func TestChatTemplateGoldenLlama3(t *testing.T) {
	tok, err := tokenizer.FromFile(testmodels.TokenizerJSON(t, "llama3"))
	if err != nil {
		t.Fatal(err)
	}
	if n := runGolden(t, "llama3.jinja", tok, parsers.ToolFormatLlama3); n < 2 {
		t.Fatalf("ran %d golden cases", n)
	}
}

func runGolden(t *testing.T, template string, tok *tokenizer.Tokenizer, format parsers.ToolFormat) int {
	raw, err := os.ReadFile(filepath.Join("..", "runtime", "chat", "testdata", "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var golden struct {
		Cases []struct {
			Name     string `json:"name"`
			Template string `json:"template"`
			Input    struct {
				Messages            json.RawMessage `json:"messages"`
				Tools               json.RawMessage `json:"tools"`
				AddGenerationPrompt bool            `json:"add_generation_prompt"`
				EnableThinking      *bool           `json:"enable_thinking"`
			} `json:"input"`
			Expected string `json:"expected"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(raw, &golden); err != nil {
		t.Fatal(err)
	}
	src := readTemplate(t, template)
	ran := 0
	for _, c := range golden.Cases {
		if c.Template != template || !c.Input.AddGenerationPrompt {
			continue // the server always adds the generation prompt
		}
		ran++
		t.Run(c.Name, func(t *testing.T) {
			gen := newScripted(t, "ok")
			gen.tok = tok
			ts := startServer(t, gen, Model{ChatTemplate: src}, Options{})
			body := map[string]any{"messages": c.Input.Messages}
			if len(c.Input.Tools) > 0 {
				body["tools"] = c.Input.Tools
			}
			if c.Input.EnableThinking != nil {
				body["chat_template_kwargs"] = map[string]any{"enable_thinking": *c.Input.EnableThinking}
			}
			b, _ := json.Marshal(body)
			if status, _, res := ts.post(t, "/v1/chat/completions", string(b)); status != 200 {
				t.Fatalf("%d %s", status, res)
			}
			reqs := gen.requests()
			// As in runtime/chat's golden test: the reference renderer is JavaScript, whose
			// tojson writes the schema's 250.0 as 250; Python's (and ours) keeps 250.0.
			want := tok.Encode(strings.ReplaceAll(c.Expected, `"default": 250}`, `"default": 250.0}`))
			if len(reqs) != 1 || !slices.Equal(reqs[0].Prompt, want) {
				t.Fatalf("prompt\n%q\nwant\n%q", tok.Decode(reqs[0].Prompt), c.Expected)
			}
			if st := ts.state.Load(); st.toolFormat != format {
				t.Fatalf("tool format %v, want %v", st.toolFormat, format)
			}
		})
	}
	return ran
}
