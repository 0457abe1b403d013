package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/arborlabs/arbor/memory"
	"github.com/arborlabs/arbor/memory/session"
	"github.com/arborlabs/arbor/runtime/engine"
	"github.com/arborlabs/arbor/runtime/tokenizer"
	"github.com/arborlabs/arbor/server/openai"
	"github.com/arborlabs/arbor/tools"
	"github.com/arborlabs/arbor/tools/calc"
)

// Seeds for the request fuzzers: well-formed requests of every kind, and the mistakes the
// table tests name.
var (
	chatSeeds = []string{
		`{` + hi + `}`,
		`{"model":"arbor-demo",` + hi + `,"temperature":0.7,"top_p":0.9,"top_k":-1,"min_p":0.1,"seed":3,"n":2,"max_tokens":5,"stop":["\n"],"stream":true,"stream_options":{"include_usage":true}}`,
		`{"messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"a"}]},{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"1"}]}`,
		`{` + hi + `,"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"x":{"type":"integer"}}}}}],"tool_choice":"required"}`,
		`{` + hi + `,"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"f"}},"parallel_tool_calls":false}`,
		`{` + hi + `,"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object","properties":{"a":{"type":"string","maxLength":3}},"required":["a"]}}}}`,
		`{` + hi + `,"response_format":{"type":"json_object"},"logprobs":true,"top_logprobs":3}`,
		`{` + hi + `,"reasoning_format":{"type":"tree","max_depth":2,"pruning_buffer":1,"position_policy":"shift"}}`,
		`{` + hi + `,"reasoning_format":{"type":"tree","schema":{"type":"object","properties":{"reasoning":{"type":"array"},"answer":{"type":"string"}}}}}`,
		`{` + hi + `,"reasoning_format":{"type":"tree","schema":{"type":"integer"}}}`,
		`{` + hi + `,"reasoning_format":"tree","tools":[{"type":"function","name":"s","url":"http://127.0.0.1:9/x","parameters":{"type":"object"}}]}`,
		`{` + hi + `,"chat_template_kwargs":{"enable_thinking":false,"x":[1]}}`,
		`{` + hi + `,"sparse_attention":"delta"}`, `{` + hi + `,"sparse_attention":{"type":"delta","budget":64,"recent":8}}`,
		`{` + hi + `,"sparse_attention":{"type":"none","budget":1}}`, `{` + hi + `,"sparse_attention":{"budget":1e9}}`,
		`{"messages": [`, `[1, 2]`, ``, `{"messages": []}`, `{"messages": "hi"}`, `{"messages": [{"role": "user", "content": 5}]}`,
		`{"messages": [{"content": "x"}]}`, `{` + hi + `, "temperature": "hot"}`, `{` + hi + `, "n": 1.5}`, `{` + hi + `, "stop": ["a", 1]}`,
		`{` + hi + `, "tool_choice": "required"}`, `{` + hi + `, "max_tokens": 0}`, `{"messages":[null]}`, `{"messages":[{"role":null}]}`,
	}
	completionSeeds = []string{
		`{"prompt": "hello", "max_tokens": 3}`, `{"prompt": ["a", "b"], "n": 2, "logprobs": 2}`, `{"prompt": [1, 2, 3]}`,
		`{"prompt": [[1, 2], [3]], "stream": true}`, `{"prompt": [null]}`, `{"prompt": [[]]}`, `{"prompt": []}`,
		`{"prompt": [1, "a"]}`, `{"prompt": [[1, null]]}`, `{"prompt": [-1]}`, `{"prompt": [1.5]}`, `{"prompt": {}}`,
		`{"prompt": ""}`, `{"prompt": ["a", ""]}`, `{"prompt": [2147483648]}`, `{"prompt": "x", "echo": true}`,
		`{"prompt": "x", "suffix": "y"}`, `{"prompt": "x", "best_of": 2}`, `{"prompt": [[1], 2]}`, `{"max_tokens": 3}`,
	}
)

// checkAPIError fails unless err is nil or an *openai.APIError with a 4xx status and a message.
func checkAPIError(t *testing.T, body []byte, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var ae *openai.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("%q: error %T %v is not an *openai.APIError", body, err, err)
	}
	if ae.Status < 400 || ae.Status > 499 || ae.Message == "" || ae.Type == "" {
		t.Fatalf("%q: error %+v is not a 4xx in OpenAI's shape", body, ae)
	}
}

// FuzzParseChat runs chat bodies through the handler's parsing (the body, then the task-tree
// setup, which reads reasoning_format, tools and response_format further): it never panics,
// and every error is a 4xx openai.APIError.
func FuzzParseChat(f *testing.F) {
	for _, s := range chatSeeds {
		f.Add([]byte(s))
	}
	s := New(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Tree: TreeOptions{AllowHosts: []string{"127.0.0.1"}, Tools: []tools.Tool{calc.New()}}})
	f.Fuzz(func(t *testing.T, body []byte) {
		req, ae := openai.ParseChat(body)
		if ae != nil {
			if req != nil {
				t.Fatalf("%q: both a request and an error", body)
			}
			checkAPIError(t, body, ae)
			return
		}
		if req == nil || len(req.Messages) == 0 || req.N < 1 || req.N > openai.MaxN {
			t.Fatalf("%q: parsed to %+v", body, req)
		}
		_, err := s.treeFor(req)
		checkAPIError(t, body, err)
	})
}

// FuzzParseCompletion runs completions bodies through the handler's parser: it never panics,
// every error is a 4xx openai.APIError, and what it accepts is 1 to 16 prompts (times n), each a
// text or a non-empty list of ids that are not negative.
func FuzzParseCompletion(f *testing.F) {
	for _, s := range completionSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, ae := openai.ParseCompletion(body)
		if ae != nil {
			if req != nil {
				t.Fatalf("%q: both a request and an error", body)
			}
			checkAPIError(t, body, ae)
			return
		}
		if req == nil || len(req.Prompts) == 0 || len(req.Prompts)*req.N > openai.MaxN {
			t.Fatalf("%q: parsed to %+v", body, req)
		}
		for i, p := range req.Prompts {
			if p.IDs != nil && p.Text != "" {
				t.Fatalf("%q: prompt %d is both text and ids", body, i)
			}
			if p.IDs != nil && len(p.IDs) == 0 {
				t.Fatalf("%q: prompt %d is an empty id list", body, i)
			}
			for _, id := range p.IDs {
				if id < 0 {
					t.Fatalf("%q: prompt %d has id %d", body, i, id)
				}
			}
		}
	})
}

// quietGen answers every request with one short text and keeps nothing, so that a fuzzer can
// run the handlers end to end (template, token bound, tokenization, streaming) for as long as
// it likes.
type quietGen struct {
	tok *tokenizer.Tokenizer
}

func (g quietGen) Submit(ctx context.Context, req engine.Request) (EventStream, error) {
	st := &fedStream{}
	send := st.send
	send(engine.Event{Token: 100, Text: "ok", Logprob: -0.5})
	send(engine.Event{Token: -1, Done: true, Result: &engine.Result{IDs: []int32{100}, Text: "ok",
		PromptTokens: len(req.Prompt), CompletionTokens: 1, FinishReason: engine.FinishStop}})
	return st, nil
}
func (g quietGen) Stats() engine.Stats                { return engine.Stats{} }
func (g quietGen) MaxContext() int                    { return 512 }
func (g quietGen) Tokenizer() *tokenizer.Tokenizer    { return g.tok }
func (g quietGen) Shutdown(ctx context.Context) error { return nil }

// FuzzServe posts chat and completions bodies to the whole server over the demo tokenizer and
// its chat template: whatever the body, the answer is a 200 or a 4xx in OpenAI's error shape,
// never a 5xx (a panic in any handler is recovered as a 500 and fails here).
func FuzzServe(f *testing.F) {
	for _, s := range chatSeeds {
		f.Add(false, []byte(s))
	}
	for _, s := range completionSeeds {
		f.Add(true, []byte(s))
	}
	tok, err := demoTokenizer()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		`{"session_id":"s1","messages":[{"role":"user","content":"remember 42"}]}`,
		`{"session_id":"s1","messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":"c"}]}`,
		`{"session_id":"s1","stream":true,"messages":[{"role":"system","content":"x"},{"role":"user","content":"y"}]}`,
		`{"session_id":"s1","messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}`,
		`{"session_id":"../x","messages":[{"role":"user","content":"a"}]}`,
	} {
		f.Add(false, []byte(s))
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := memory.OpenBadger(f.TempDir(), memory.Options{Logger: quiet, GCInterval: -1})
	if err != nil {
		f.Fatal(err)
	}
	defer store.Close()
	mem, err := session.New(session.Config{Store: store, Log: quiet})
	if err != nil {
		f.Fatal(err)
	}
	defer mem.Close()
	s := New(Options{Logger: quiet, MaxBodyBytes: 1 << 20,
		Tree: TreeOptions{Tools: []tools.Tool{calc.New()}}, Memory: mem})
	if err := s.Ready(quietGen{tok: tok}, Model{Name: "arbor-demo"}); err != nil {
		f.Fatal(err)
	}
	h := s.Handler()
	f.Fuzz(func(t *testing.T, completions bool, body []byte) {
		path := "/v1/chat/completions"
		if completions {
			path = "/v1/completions"
		}
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == http.StatusOK {
			return
		}
		if rec.Code < 400 || rec.Code > 499 {
			t.Fatalf("%s %q: status %d: %s", path, body, rec.Code, rec.Body)
		}
		if !strings.Contains(rec.Body.String(), `"error":{"message":`) {
			t.Fatalf("%s %q: %d without an OpenAI error body: %s", path, body, rec.Code, rec.Body)
		}
	})
}

// FuzzEmbeddings sends bodies to /v1/embeddings: a 200, or a 4xx in OpenAI's error shape; never
// a panic or a 5xx (the built-in embedder cannot fail).
func FuzzEmbeddings(f *testing.F) {
	for _, s := range []string{`{"input":"hello"}`, `{"input":["a","b"],"encoding_format":"base64"}`, `{"input":[1,2,3]}`,
		`{"input":[[1],[2,3]],"model":"x","dimensions":512}`, `{"input":""}`, `{"input":[-1]}`, `{}`, `[`, `{"input":[1e99]}`} {
		f.Add([]byte(s))
	}
	tok, err := demoTokenizer()
	if err != nil {
		f.Fatal(err)
	}
	s := New(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxBodyBytes: 1 << 20})
	if err := s.Ready(quietGen{tok: tok}, Model{Name: "arbor-demo"}); err != nil {
		f.Fatal(err)
	}
	h := s.Handler()
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/v1/embeddings", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == http.StatusOK {
			return
		}
		if rec.Code < 400 || rec.Code > 499 || !strings.Contains(rec.Body.String(), `"error":{"message":`) {
			t.Fatalf("%q: status %d: %s", body, rec.Code, rec.Body)
		}
	})
}
