package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestStreamChatMeasuresAStream(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		f := w.(http.Flusher)
		send := func(s string) { fmt.Fprintf(w, "data: %s\n\n", s); f.Flush() }
		send(`{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}`)
		for _, tok := range []string{"a", "", "b", "c"} {
			time.Sleep(2 * time.Millisecond)
			send(fmt.Sprintf(`{"choices":[{"index":0,"delta":{"content":%q}}]}`, tok))
		}
		send(`{"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}`)
		send(`{"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":4,` +
			`"prompt_tokens_details":{"cached_tokens":0}}}`)
		fmt.Fprint(w, ": a comment\n\n")
		send("[DONE]")
	}))
	defer srv.Close()
	r := streamChat(context.Background(), srv.Client(), srv.URL, chatRequest{Model: "m"}, 0)
	if r.outcome != outcomeOK {
		t.Fatalf("outcome %v: %s", r.outcome, r.err)
	}
	if r.chunks != 3 || len(r.itls) != 2 || r.ttft <= 0 || r.e2e < r.ttft {
		t.Errorf("chunks %d, itls %v, ttft %v, e2e %v", r.chunks, r.itls, r.ttft, r.e2e)
	}
	if r.finish != "length" || r.promptTokens != 7 || r.completionTokens != 4 || r.cachedTokens != 0 {
		t.Errorf("finish %q, usage %d/%d, cached %d", r.finish, r.promptTokens, r.completionTokens, r.cachedTokens)
	}
}

func TestStreamChatClassifies(t *testing.T) {
	cases := []struct {
		name    string
		handler http.HandlerFunc
		want    outcome
		errHas  string
	}{
		{"429 with Retry-After", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		}, outcomeRejected, ""},
		{"429 without Retry-After", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusTooManyRequests)
		}, outcomeError, "Retry-After"},
		{"500", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "boom", http.StatusInternalServerError)
		}, outcomeError, "HTTP 500"},
		{"error event", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "data: {\"error\":{\"message\":\"oops\",\"type\":\"server_error\"}}\n\n")
		}, outcomeError, "oops"},
		{"no [DONE]", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"content\":\"x\"},\"finish_reason\":\"length\"}]}\n\n")
		}, outcomeError, "[DONE]"},
		{"no usage", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w,
				"data: {\"choices\":[{\"delta\":{\"content\":\"x\"},\"finish_reason\":\"length\"}]}\n\ndata: "+
					"[DONE]\n\n")
		}, outcomeError, "usage"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			r := streamChat(context.Background(), srv.Client(), srv.URL, chatRequest{}, 0)
			if r.outcome != tc.want || !strings.Contains(r.err, tc.errHas) {
				t.Errorf("outcome %v (%q), want %v containing %q", r.outcome, r.err, tc.want, tc.errHas)
			}
		})
	}
}

func TestParseMetrics(t *testing.T) {
	m := parseMetrics(`# HELP arbor:num_requests_running Sequences.
# TYPE arbor:num_requests_running gauge
arbor:num_requests_running 3
arbor:kv_cache_usage_perc 0.25
arbor:request_success_total{finished_reason="length stop"} 12
go_goroutines 17 1712345678
`)
	if m["arbor:num_requests_running"] != 3 || m["arbor:kv_cache_usage_perc"] != 0.25 || m["go_goroutines"] != 17 ||
		m[`arbor:request_success_total{finished_reason="length stop"}`] != 12 {
		t.Errorf("parsed %v", m)
	}
}

func TestPercentiles(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	if p := pct(ds, 50); p != 50*time.Millisecond {
		t.Errorf("p50 %v", p)
	}
	if p := pct(ds, 99); p != 99*time.Millisecond {
		t.Errorf("p99 %v", p)
	}
	if p := pct(nil, 50); p != -1 {
		t.Errorf("empty p50 %v", p)
	}
	if m := median([]float64{3, 1, 10, 2}); m != 2.5 {
		t.Errorf("median %v", m)
	}
}

func TestPrefixTextDiffersFromTheStart(t *testing.T) {
	a, b := prefixText(1, 50), prefixText(2, 50)
	if a == b || a[:24] == b[:24] || len(strings.Fields(a)) < 50 {
		t.Errorf("%q\n%q", a, b)
	}
}

func durs(msList ...int) []time.Duration {
	var ds []time.Duration
	for _, m := range msList {
		ds = append(ds, time.Duration(m)*time.Millisecond)
	}
	return ds
}

func TestJudgeAdversarial(t *testing.T) {
	base := &levelStats{ttft: durs(10, 20, 30), itl: durs(5, 6, 8)}
	cases := []struct {
		name     string
		loaded   *levelStats
		ok       bool
		ttft     float64
		problems string
	}{
		{"within the limit", &levelStats{ttft: durs(15, 50, 60), itl: durs(5, 7, 16)}, true, 2, ""},
		{"TTFT over", &levelStats{ttft: durs(10, 61), itl: durs(5)}, false, 61.0 / 30, "TTFT p99 2.03x"},
		{"ITL over", &levelStats{ttft: durs(10), itl: durs(5, 100)}, false, 10.0 / 30, "ITL p99 12.50x"},
		{"no samples", &levelStats{}, false, math.NaN(), "no TTFT samples"},
		{"failed requests", &levelStats{ttft: durs(10), itl: durs(5), errors: 1}, false, 10.0 / 30,
			"plain requests failed"},
	}
	for _, tc := range cases {
		v := judgeAdversarial(base, tc.loaded, 2)
		got := strings.Join(v.problems, "; ")
		if v.ok != tc.ok || !strings.Contains(got, tc.problems) || (tc.ok && got != "") {
			t.Errorf("%s: ok %v, problems %q; want ok %v containing %q", tc.name, v.ok, got, tc.ok, tc.problems)
		}
		if math.IsNaN(tc.ttft) != math.IsNaN(v.ttftRatio) ||
			(!math.IsNaN(tc.ttft) && math.Abs(v.ttftRatio-tc.ttft) > 1e-9) {
			t.Errorf("%s: TTFT ratio %v, want %v", tc.name, v.ttftRatio, tc.ttft)
		}
	}
	if v := judgeAdversarial(&levelStats{}, &levelStats{ttft: durs(1), itl: durs(1)}, 2); v.ok {
		t.Error("a baseline without samples passed")
	}
}

func TestEnumStringsAreDistinct(t *testing.T) {
	s := enumStrings(30000)
	seen := make(map[string]bool, len(s))
	firsts := map[byte]bool{}
	for _, x := range s {
		if seen[x] {
			t.Fatalf("%q twice", x)
		}
		seen[x] = true
		firsts[x[0]] = true
	}
	if len(firsts) < 20 {
		t.Errorf("only %d distinct first bytes: the strings are not varied", len(firsts))
	}
	if !slices.Equal(s[:50], enumStrings(30000)[:50]) {
		t.Error("not deterministic")
	}
	var schema struct {
		Enum []string `json:"enum"`
	}
	if err := json.Unmarshal(advSchema("enum", 1000), &schema); err != nil || len(schema.Enum) != 1000 {
		t.Errorf("enum schema: %v, %d values", err, len(schema.Enum))
	}
	var body struct {
		Seed           int `json:"seed"`
		MaxTokens      int `json:"max_tokens"`
		ResponseFormat struct {
			Type       string `json:"type"`
			JSONSchema struct {
				Schema struct {
					Pattern string `json:"pattern"`
				} `json:"schema"`
			} `json:"json_schema"`
		} `json:"response_format"`
	}
	if err := json.Unmarshal(advBody("m", advSchema("pattern", 0), 32), &body); err != nil ||
		body.Seed != 1 || body.MaxTokens != 32 ||
		body.ResponseFormat.Type != "json_schema" || body.ResponseFormat.JSONSchema.Schema.Pattern != "(.*.*.*){19}" {
		t.Errorf("pattern body: %v %+v", err, body)
	}
}

func TestParseMixAndPickKind(t *testing.T) {
	w, err := parseMix("plain=2, stream=0,bad=3")
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{2, 0, 0, 0, 0, 3, 0}; !slices.Equal(w, want) {
		t.Fatalf("weights %v, want %v", w, want)
	}
	// r in [0, 5): 0 and 1 plain, 2 to 4 bad; the zero weights take no share.
	for r, want := range []soakKind{soakPlain, soakPlain, soakBad, soakBad, soakBad} {
		if got := pickKind(w, r); got != want {
			t.Errorf("pickKind(%d) = %s, want %s", r, soakKindNames[got], soakKindNames[want])
		}
	}
	if got := pickKind(w, 99); got != soakBad {
		t.Errorf("out of range: %s", soakKindNames[got])
	}
	def, err := parseMix(defaultSoakMix)
	if err != nil {
		t.Fatal(err)
	}
	for k, n := range def {
		if n == 0 {
			t.Errorf("the default mix leaves out %s", soakKindNames[k])
		}
	}
	for _, bad := range []string{"", "plain", "plain=x", "plain=-1", "nonsense=3", "plain=0,bad=0"} {
		if _, err := parseMix(bad); err == nil {
			t.Errorf("parseMix(%q) accepted", bad)
		}
	}
}

func TestSoakClassification(t *testing.T) {
	cases := []struct {
		name             string
		r                soakResult
		fail, hung, rej  bool
		fiveXX, statuses int
	}{
		{"stream ok", fromStream(soakStream, result{outcome: outcomeOK, status: 200}, false), false, false,
			false, 0, 1},
		{"stream cut short", fromStream(soakStream, result{outcome: outcomeError, status: 200,
			err: "no [DONE]"}, false), true, false, false, 0, 1},
		{"stream 500", fromStream(soakStream, result{outcome: outcomeError, status: 500, err: "HTTP 500"},
			false), true, false, false, 1, 1},
		{"hung up by us", fromStream(soakDisconnect, result{outcome: outcomeError,
			err: "context deadline exceeded"}, true), false, true, false, 0, 1},
		{"abandoned", fromStream(soakDisconnect, result{outcome: outcomeAbandoned, status: 200}, false),
			false, true, false, 0, 1},
		{"429", fromReply(soakPlain, reply{status: 429, retryAfter: true, err: "full"}, false), false, false,
			true, 0, 1},
		{"429 without Retry-After", fromReply(soakPlain, reply{status: 429, err: "full"}, false), true, false,
			false, 0, 1},
		{"plain 503", fromReply(soakPlain, reply{status: 503, err: "down"}, false), true, false, false, 1, 1},
		{"schema not JSON", fromReply(soakSchema, reply{status: 200, finish: "stop", content: `{"a":`}, true),
			true, false, false, 0, 1},
		{"schema cut by length", fromReply(soakSchema, reply{status: 200, finish: "length", content: `{"a":`},
			true), false, false, false, 0, 1},
		{"bad input 400", fromBad("x", reply{status: 400}), false, false, false, 0, 1},
		{"bad input 413", fromBad("x", reply{status: 413}), false, false, false, 0, 1},
		{"bad input accepted", fromBad("x", reply{status: 200}), true, false, false, 0, 1},
		{"bad input 500", fromBad("x", reply{status: 500}), true, false, false, 1, 1},
		{"bad input no answer", fromBad("x", reply{err: "reset"}), true, false, false, 0, 1},
	}
	for _, tc := range cases {
		st := newSoakStats()
		st.add(tc.r)
		k := st.kinds[tc.r.kind]
		if tc.r.fail != tc.fail || tc.r.hungUp != tc.hung || tc.r.rejected != tc.rej ||
			k.fiveXX != tc.fiveXX || len(k.statuses) != tc.statuses {
			t.Errorf("%s: %+v -> %+v", tc.name, tc.r, k)
		}
		_, five, errs := st.totals()
		if wantErr := tc.fail && tc.fiveXX == 0; (errs == 1) != wantErr || five != tc.fiveXX {
			t.Errorf("%s: totals 5xx %d, errors %d", tc.name, five, errs)
		}
	}
}

func TestJudgeSoak(t *testing.T) {
	before := soakSample{rss: 100 << 20, heap: 50 << 20, goroutines: 12, kvUsage: 0, running: 0, waiting: 0, fds: 10}
	lim := soakLimits{rssRatio: 1.5, goSlack: 2}
	good := before
	good.rss, good.goroutines = 149<<20, 14
	if p, n := judgeSoak(before, good, lim); len(p) != 0 || len(n) != 0 {
		t.Errorf("good: problems %q, notes %q", p, n)
	}
	for _, tc := range []struct {
		name string
		edit func(*soakSample)
		want string
	}{
		{"RSS", func(s *soakSample) { s.rss = 151 << 20 }, "RSS 151.0 MiB is 1.51x"},
		{"goroutines", func(s *soakSample) { s.goroutines = 15 }, "15 goroutines, 12 before"},
		{"KV", func(s *soakSample) { s.kvUsage = 0.01 }, "KV pages still in use"},
		{"KV missing", func(s *soakSample) { s.kvUsage = -1 }, "kv_cache_usage_perc missing"},
		{"running", func(s *soakSample) { s.running = 1 }, "1 requests running"},
		{"fds", func(s *soakSample) { s.fds = 11 }, "11 open file descriptors, 10 before"},
	} {
		final := before
		tc.edit(&final)
		p, _ := judgeSoak(before, final, lim)
		if len(p) != 1 || !strings.Contains(p[0], tc.want) {
			t.Errorf("%s: problems %q, want one containing %q", tc.name, p, tc.want)
		}
	}
	unknown := soakSample{rss: -1, goroutines: -1, kvUsage: 0, fds: -1}
	if p, n := judgeSoak(unknown, unknown, lim); len(p) != 0 || len(n) != 2 {
		t.Errorf("unknowns: problems %q, notes %q (want two notes)", p, n)
	}
}

func TestBadInputsAreBad(t *testing.T) {
	bads := badInputs("m", 64, 1000)
	names := map[string]bool{}
	for _, b := range bads {
		if names[b.name] {
			t.Errorf("%q twice", b.name)
		}
		names[b.name] = true
		valid := json.Valid(b.body)
		if want := !strings.HasPrefix(b.name, "malformed") && b.name != "not JSON"; valid != want {
			t.Errorf("%s: valid JSON %v, want %v: %.80s", b.name, valid, want, b.body)
		}
	}
	if last := bads[len(bads)-1]; last.name != "body over --max-body" || len(last.body) < 1000 {
		t.Errorf("oversize body: %q, %d bytes", last.name, len(last.body))
	}
	var tf struct {
		Type   string          `json:"type"`
		Schema json.RawMessage `json:"schema"`
	}
	if err := json.Unmarshal(treeFormat("2*3"), &tf); err != nil || tf.Type != "tree" ||
		!strings.Contains(string(tf.Schema), `"const":"2*3"`) {
		t.Errorf("tree format: %v %s", err, tf.Schema)
	}
	if !json.Valid(smallSchemaFormat) || !json.Valid(calculatorTools) {
		t.Error("a fixed request part is not JSON")
	}
}

func TestPostChat(t *testing.T) {
	// The request body names the answer to give.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch string(body) {
		case "ok":
			fmt.Fprint(w,
				`{"choices":[{"index":0,"message":{"role":"assistant","content":"{\"a\":1}"},"finish_reason":"stop"}],`+
					`"usage":{"completion_tokens":5}}`)
		case "400":
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":{"message":"bad schema","type":"invalid_request_error"}}`)
		case "429":
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
		case "no choice":
			fmt.Fprint(w, `{"choices":[]}`)
		}
	}))
	defer srv.Close()
	for _, tc := range []struct {
		body   string
		status int
		err    string
		check  func(reply) bool
	}{
		{"ok", 200, "", func(r reply) bool {
			return r.finish == "stop" && r.content == `{"a":1}` &&
				r.completionTokens == 5
		}},
		{"400", 400, "bad schema", nil},
		{"429", 429, "", func(r reply) bool { return r.retryAfter }},
		{"no choice", 200, "no choice", nil},
	} {
		r := postChat(context.Background(), srv.Client(), srv.URL, []byte(tc.body))
		if r.status != tc.status || !strings.Contains(r.err, tc.err) || (tc.check != nil && !tc.check(r)) ||
			r.dur <= 0 {
			t.Errorf("%s: %+v", tc.body, r)
		}
	}
	if r := postChat(context.Background(), srv.Client(), "http://127.0.0.1:1", nil); r.status != 0 || r.err == "" {
		t.Errorf("no server: %+v", r)
	}
}

func TestTreeOperands(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pairs := map[[2]int]bool{}
	for i := 0; i < 2000; i++ {
		x, y := treeOperands(16, rng)
		pairs[[2]int{x, y}] = true
	}
	if len(pairs) != 16 {
		t.Errorf("%d distinct pairs from 16 schemas", len(pairs))
	}
	pairs = map[[2]int]bool{}
	for i := 0; i < 200; i++ {
		x, y := treeOperands(0, rng)
		if x < 2 || x > 999 || y < 2 || y > 999 {
			t.Fatalf("operands %d, %d out of range", x, y)
		}
		pairs[[2]int{x, y}] = true
	}
	if len(pairs) < 190 {
		t.Errorf("only %d distinct pairs of 200 random ones", len(pairs))
	}
}

func TestHostileInputs(t *testing.T) {
	in := hostileInputs("m", 16)
	if len(in) < 6 {
		t.Fatalf("%d hostile inputs", len(in))
	}
	for _, h := range in {
		var body struct {
			Model    string            `json:"model"`
			Messages []json.RawMessage `json:"messages"`
		}
		if err := json.Unmarshal(h.body, &body); err != nil || body.Model != "m" || len(body.Messages) != 1 {
			t.Errorf("%s: not a chat request: %v", h.name, err)
		}
	}
	for _, c := range []struct {
		status int
		fail   bool
	}{{200, false}, {400, false}, {413, false}, {500, true}, {503, true}, {0, true}} {
		if r := fromHostile("x", reply{status: c.status}); r.fail != c.fail {
			t.Errorf("HTTP %d: fail %v, want %v", c.status, r.fail, c.fail)
		}
	}
}

func TestAdvSchemaEnumSeq(t *testing.T) {
	var schema struct {
		Enum []string `json:"enum"`
	}
	if err := json.Unmarshal(advSchema("enum-seq", 1000), &schema); err != nil || len(schema.Enum) != 1000 ||
		schema.Enum[0] != "value-000000" || schema.Enum[999] != "value-000999" {
		t.Fatalf("enum-seq: %v, %d values", err, len(schema.Enum))
	}
}
