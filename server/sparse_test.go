package server

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/arborlabs/arbor/runtime/engine"
	"github.com/arborlabs/arbor/runtime/sparse"
)

// TestSparseAttentionReachesEngine: the sparse_attention field, or its absence, becomes the
// engine request's sparse config: the server's default when absent, none for "none", the
// server's config (or the model's default placement) with the request's budget and recent
// for "delta"; a bad value is a 400 naming it.
func TestSparseAttentionReachesEngine(t *testing.T) {
	const layers = 12
	def := sparse.DefaultConfig(layers)
	own := sparse.DefaultConfig(layers)
	own.Layers[layers-1] = sparse.Full
	own.Budget, own.Recent = 32, 4
	with := func(c sparse.Config, budget, recent int) *sparse.Config {
		c.Budget, c.Recent = budget, recent
		return &c
	}
	for _, c := range []struct {
		name         string
		serverConfig *sparse.Config
		field        string
		want         *sparse.Config
	}{
		{"no default, absent", nil, "", nil},
		{"no default, none", nil, `"none"`, nil},
		{"no default, delta", nil, `"delta"`, &def},
		{"no default, budget", nil, `{"type": "delta", "budget": 5}`, with(def, 5, sparse.DefaultRecent)},
		{"no default, both", nil, `{"type": "delta", "budget": 5, "recent": 2}`, with(def, 5, 2)},
		{"default, absent", &own, "", &own},
		{"default, none", &own, `"none"`, nil},
		{"default, none object", &own, `{"type": "none"}`, nil},
		{"default, delta", &own, `"delta"`, &own},
		{"default, recent", &own, `{"type": "delta", "recent": 3}`, with(own, 32, 3)},
	} {
		gen := newScripted(t, "ok")
		ts := startServer(t, gen, Model{Layers: layers, Sparse: c.serverConfig}, Options{})
		field := ""
		if c.field != "" {
			field = `, "sparse_attention": ` + c.field
		}
		for _, body := range []struct{ path, body string }{
			{"/v1/chat/completions", `{"messages": [{"role": "user", "content": "hi"}], "n": 2` + field + `}`},
			{"/v1/completions", `{"prompt": "hi", "n": 2` + field + `}`},
		} {
			if status, _, b := ts.post(t, body.path, body.body); status != 200 {
				t.Fatalf("%s %s: %d %s", c.name, body.path, status, b)
			}
		}
		reqs := gen.requests()
		if len(reqs) != 4 {
			t.Fatalf("%s: %d engine requests, want 4", c.name, len(reqs))
		}
		for i, r := range reqs {
			if !reflect.DeepEqual(r.Sparse, c.want) {
				t.Errorf("%s: request %d has sparse %+v, want %+v", c.name, i, r.Sparse, c.want)
			}
		}
	}

	// A server that does not know its model's depth cannot place "delta" itself.
	ts := startServer(t, newScripted(t, "ok"), Model{}, Options{})
	if status, _, b := ts.post(t, "/v1/completions", `{"prompt": "hi", "sparse_attention": "delta"}`); status != 400 {
		t.Fatalf("delta without the model's layers: %d %s", status, b)
	}
	ts = startServer(t, newScripted(t, "ok"), Model{Layers: layers}, Options{})
	for _, path := range []string{"/v1/chat/completions", "/v1/completions"} {
		body := `{"prompt": "hi", "sparse_attention": {"type": "delta", "budget": 0}}`
		if path == "/v1/chat/completions" {
			body = `{"messages": [{"role": "user", "content": "hi"}], "sparse_attention": "sometimes"}`
		}
		status, _, b := ts.post(t, path, body)
		if status != 400 {
			t.Fatalf("%s: bad sparse_attention: %d %s", path, status, b)
		}
		if e := apiErr(t, b); e.Param == nil || !strings.HasPrefix(*e.Param, "sparse_attention") ||
			e.Type != "invalid_request_error" {
			t.Fatalf("%s: error %+v", path, e)
		}
	}
}

// TestAttendedShareInUsage: usage carries attended_share (attended over context slots of the
// decode steps, all choices together) when the request ran with sparse attention, in a whole
// response and in a stream's usage chunk, and not otherwise.
func TestAttendedShareInUsage(t *testing.T) {
	gen := newScripted(t, "a", "b")
	gen.result = func(req engine.Request, r *engine.Result) {
		r.ContextTokens, r.AttendedTokens = 120, 120
		if req.Sparse != nil {
			r.SparseAttention, r.AttendedTokens = true, 30
		}
	}
	ts := startServer(t, gen, Model{Layers: 8}, Options{})
	share := func(body []byte) *float64 {
		t.Helper()
		var u struct {
			Usage *struct {
				Share *float64 `json:"attended_share"`
			} `json:"usage"`
		}
		if err := json.Unmarshal(body, &u); err != nil || u.Usage == nil {
			t.Fatalf("no usage in %s (%v)", body, err)
		}
		return u.Usage.Share
	}
	// lastData is a stream's last data line before [DONE]: the usage chunk.
	lastData := func(body []byte) []byte {
		t.Helper()
		var last string
		for _, line := range strings.Split(string(body), "\n") {
			if d, ok := strings.CutPrefix(line, "data: "); ok && d != "[DONE]" {
				last = d
			}
		}
		return []byte(last)
	}
	chat := `{"messages": [{"role": "user", "content": "hi"}]`
	for _, c := range []struct {
		path, body string
		stream     bool
		want       float64 // 0: absent
	}{
		{"/v1/chat/completions", chat + `, "sparse_attention": "delta"}`, false, 0.25},
		{"/v1/chat/completions", chat + `, "n": 3, "sparse_attention": {"type": "delta", "budget": 4}}`, false, 0.25},
		{"/v1/chat/completions", chat + `}`, false, 0},
		{"/v1/chat/completions", chat + `, "sparse_attention": "none"}`, false, 0},
		{"/v1/completions", `{"prompt": "hi", "sparse_attention": "delta"}`, false, 0.25},
		{"/v1/completions", `{"prompt": "hi"}`, false, 0},
		{"/v1/chat/completions", chat + `, "stream": true, "stream_options": {"include_usage": true}, ` +
			`"sparse_attention": "delta"}`, true, 0.25},
		{"/v1/chat/completions", chat + `, "stream": true, "stream_options": {"include_usage": true}}`, true, 0},
		{"/v1/completions", `{"prompt": "hi", "stream": true, "stream_options": {"include_usage": true}, ` +
			`"sparse_attention": "delta"}`, true, 0.25},
	} {
		status, _, body := ts.post(t, c.path, c.body)
		if status != 200 {
			t.Fatalf("%s %s: %d %s", c.path, c.body, status, body)
		}
		if c.stream {
			body = lastData(body)
		}
		got := share(body)
		switch {
		case c.want == 0 && got != nil:
			t.Errorf("%s %s: attended_share %v, want none", c.path, c.body, *got)
		case c.want != 0 && (got == nil || *got != c.want):
			t.Errorf("%s %s: attended_share %v, want %v in %s", c.path, c.body, got, c.want, body)
		}
	}
}

// TestAttentionMetrics: /metrics exposes the engine's attended and context token totals as
// counters; a request with sparse attention runs on the real engine and is counted there.
func TestAttentionMetrics(t *testing.T) {
	gen := newScripted(t, "ok")
	gen.stats = engine.Stats{AttendedTokens: 30, ContextTokens: 120}
	ts := startServer(t, gen, Model{}, Options{})
	_, _, body := ts.get(t, "/metrics")
	for _, line := range []string{"arbor:attention_attended_tokens_total 30", "arbor:attention_context_tokens_total 120",
		"# TYPE arbor:attention_attended_tokens_total counter", "# TYPE arbor:attention_context_tokens_total counter"} {
		if !strings.Contains(string(body), line) {
			t.Errorf("/metrics lacks %q", line)
		}
	}

	eng := newDemoEngine(t, engineOpts{})
	m := loadDemo(t)
	ts = startServer(t, FromEngine(eng), Model{Layers: m.Config.NumLayers}, Options{})
	if status, _, b := ts.post(t, "/v1/chat/completions", `{"messages": [{"role": "user", "content": "hi"}], `+
		`"max_tokens": 4, "temperature": 0, "sparse_attention": {"type": "delta", "budget": 2, "recent": 1}}`); status != 200 {
		t.Fatalf("sparse request on the demo engine: %d %s", status, b)
	}
	st := eng.Stats()
	_, _, body = ts.get(t, "/metrics")
	for _, line := range []string{
		"arbor:attention_attended_tokens_total " + jsonNum(st.AttendedTokens),
		"arbor:attention_context_tokens_total " + jsonNum(st.ContextTokens),
	} {
		if !strings.Contains(string(body), line) {
			t.Errorf("/metrics lacks %q", line)
		}
	}
}

func jsonNum(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
