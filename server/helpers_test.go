package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/arborlabs/arbor/runtime/backend"
	"github.com/arborlabs/arbor/runtime/backend/cpu"
	"github.com/arborlabs/arbor/runtime/engine"
	"github.com/arborlabs/arbor/runtime/model"
	"github.com/arborlabs/arbor/runtime/model/demo"
	"github.com/arborlabs/arbor/runtime/tokenizer"
	api "github.com/arborlabs/arbor/server/openai"
)

// The demo model is built once per test binary (random weights take a second or so); each
// test gets its own backend (KV memory) and engine over the shared, read-only weights.
var demoModel = sync.OnceValues(demo.Random)

// demoTokenizer is the demo's (Qwen3's) tokenizer, built once (about a second).
var demoTokenizer = sync.OnceValues(demo.Tokenizer)

func loadDemo(t *testing.T) *model.Model {
	t.Helper()
	m, err := demoModel()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// gatedBackend runs a forward step only when the test lets it (one receive from gate per step;
// close the gate to run freely). Tests use it to hold requests in the running or waiting state
// without relying on timing.
type gatedBackend struct {
	backend.Backend
	gate chan struct{}
}

func (g *gatedBackend) Forward(b *backend.Batch, logits [][]float32) error {
	<-g.gate
	return g.Backend.Forward(b, logits)
}

type engineOpts struct {
	pages, ctx, maxSeqs, maxQueue int
	gate                          chan struct{} // nil: ungated
}

// newDemoEngine starts an engine on the demo model; it is shut down when the test ends.
func newDemoEngine(t *testing.T, o engineOpts) *engine.Engine {
	t.Helper()
	m := loadDemo(t)
	if o.pages == 0 {
		o.pages = 64
	}
	if o.ctx == 0 {
		o.ctx = 512
	}
	be, err := cpu.New(m, cpu.Options{Threads: 1, PageSize: 16, NumPages: o.pages})
	if err != nil {
		t.Fatal(err)
	}
	var b backend.Backend = be
	if o.gate != nil {
		b = &gatedBackend{Backend: be, gate: o.gate}
	}
	eng := engine.New(b, m.Tokenizer, engine.Options{MaxContext: o.ctx, MaxSeqs: o.maxSeqs, MaxQueue: o.maxQueue})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = eng.Shutdown(ctx)
		_ = be.Close()
	})
	return eng
}

// testServer is a server behind httptest with its generator.
type testServer struct {
	*Server
	URL string
	gen Generator
}

func startServer(t *testing.T, gen Generator, m Model, opt Options) *testServer {
	t.Helper()
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	s := New(opt)
	if gen != nil {
		if m.Name == "" {
			m.Name = "arbor-demo"
		}
		if err := s.Ready(gen, m); err != nil {
			t.Fatal(err)
		}
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return &testServer{Server: s, URL: hs.URL, gen: gen}
}

func (ts *testServer) client(opts ...option.RequestOption) openai.Client {
	return openai.NewClient(append([]option.RequestOption{
		option.WithBaseURL(ts.URL + "/v1/"), option.WithAPIKey("unused"), option.WithMaxRetries(0),
	}, opts...)...)
}

// post sends a raw JSON body and returns the status, headers and body.
func (ts *testServer) post(t *testing.T, path, body string, headers ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return do(t, req)
}

func (ts *testServer) get(t *testing.T, path string, headers ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, http.Header, []byte) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, res.Header, b
}

// apiErr decodes an OpenAI error body, failing the test if the shape is wrong.
func apiErr(t *testing.T, body []byte) api.APIError {
	t.Helper()
	var e struct {
		Error *struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Param   *string `json:"param"`
			Code    *string `json:"code"`
		} `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&e); err != nil || e.Error == nil || e.Error.Message == "" || e.Error.Type == "" {
		t.Fatalf("not an OpenAI error body: %s", body)
	}
	return api.APIError{Message: e.Error.Message, Type: e.Error.Type, Param: e.Error.Param, Code: e.Error.Code}
}

// waitFor polls cond until it holds: a wait on a state, not a timed assertion (the test's own
// deadline bounds it).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		runtime.Gosched()
		time.Sleep(2 * time.Millisecond)
	}
}

// scripted is a Generator that plays fixed output: the text pieces as token events, then a
// last event. It records the requests it gets. It stands in for the engine where the demo
// model's random output cannot show a behaviour (tool calls, reasoning).
type scripted struct {
	tok    *tokenizer.Tokenizer
	ctx    int
	pieces []string
	finish string
	// result, when set, adds to each request's result (figures the engine would fill);
	// stats are what Stats reports.
	result func(engine.Request, *engine.Result)
	stats  engine.Stats

	mu   sync.Mutex
	reqs []engine.Request
}

func newScripted(t *testing.T, pieces ...string) *scripted {
	t.Helper()
	tok, err := demoTokenizer()
	if err != nil {
		t.Fatal(err)
	}
	return &scripted{tok: tok, ctx: 4096, pieces: pieces, finish: engine.FinishStop}
}

func (g *scripted) Submit(ctx context.Context, req engine.Request) (EventStream, error) {
	g.mu.Lock()
	g.reqs = append(g.reqs, req)
	g.mu.Unlock()
	st := &fedStream{}
	send := st.send
	var ids []int32
	var text strings.Builder
	for i, p := range g.pieces {
		send(engine.Event{Token: int32(100 + i), Text: p, Logprob: -0.5})
		ids = append(ids, int32(100+i))
		text.WriteString(p)
	}
	res := &engine.Result{IDs: ids, Text: text.String(), PromptTokens: len(req.Prompt), CompletionTokens: len(ids),
		FinishReason: g.finish}
	if g.result != nil {
		g.result(req, res)
	}
	send(engine.Event{Token: -1, Done: true, Result: res})
	return st, nil
}

func (g *scripted) requests() []engine.Request {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]engine.Request(nil), g.reqs...)
}

func (g *scripted) Stats() engine.Stats                { return g.stats }
func (g *scripted) MaxContext() int                    { return g.ctx }
func (g *scripted) Tokenizer() *tokenizer.Tokenizer    { return g.tok }
func (g *scripted) Shutdown(ctx context.Context) error { return nil }

// fedStream is an EventStream of events queued before it is read: Recv hands them out in
// order, then io.EOF.
type fedStream struct {
	mu     sync.Mutex
	events []engine.Event
}

func (s *fedStream) send(ev engine.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, ev)
}

func (s *fedStream) Recv(ctx context.Context) (engine.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.events) == 0 {
		return engine.Event{}, io.EOF
	}
	ev := s.events[0]
	s.events = s.events[1:]
	return ev, nil
}

// readTemplate reads a chat template of runtime/chat's test data.
func readTemplate(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "runtime", "chat", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
