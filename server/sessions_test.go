package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/arborlabs/arbor/memory"
	"github.com/arborlabs/arbor/memory/compact"
	"github.com/arborlabs/arbor/memory/session"
)

// memoryServer serves the scripted generator with session memory on a store in a temporary
// directory, with two API keys.
func memoryServer(t *testing.T, store memory.Store, pieces ...string) (*testServer, *scripted) {
	t.Helper()
	if store == nil {
		s, err := memory.OpenBadger(t.TempDir(), memory.Options{GCInterval: -1,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		store = s
	}
	m, err := session.New(session.Config{Store: store, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	gen := newScripted(t, pieces...)
	return startServer(t, gen, Model{}, Options{APIKeys: []string{"alice", "bob"}, Memory: m}), gen
}

func auth(key string) []string { return []string{"Authorization", "Bearer " + key} }

func sessionBody(session, msg string) string {
	b, _ := json.Marshal(map[string]any{"session_id": session, "max_tokens": 16,
		"messages": []map[string]string{{"role": "user", "content": msg}}})
	return string(b)
}

// lastPrompt is the text of the last prompt the generator got.
func lastPrompt(g *scripted) string {
	reqs := g.requests()
	return g.tok.Decode(reqs[len(reqs)-1].Prompt)
}

func TestSessionRemembersAcrossRequests(t *testing.T) {
	ts, gen := memoryServer(t, nil, "Noted", ".")
	cl := ts.client(option.WithAPIKey("alice"))
	ctx := context.Background()
	say := func(msg string) *openai.ChatCompletion {
		t.Helper()
		res, err := cl.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(msg)}, MaxTokens: openai.Int(16)},
			option.WithJSONSet("session_id", "trip-2026"))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	first := say("My passport number is X1234-PQ, keep it for the trip.")
	if f := first.Usage.JSON.ExtraFields["memory_tokens"]; f.Raw() != "0" {
		t.Fatalf("first turn's memory_tokens = %s, want 0", f.Raw())
	}
	for i := range 5 {
		say(fmt.Sprintf("Another thing to pack, item %d: socks and a hat.", i))
	}
	last := say("What was my passport number?")
	prompt := lastPrompt(gen)
	if !strings.Contains(prompt, "X1234-PQ") {
		t.Fatalf("the prompt of the question lacks the fact:\n%s", prompt)
	}
	if !strings.Contains(prompt, "item 4: socks") || !strings.Contains(prompt, "What was my passport number?") {
		t.Fatalf("the prompt lacks the last turn or the question:\n%s", prompt)
	}
	var mt, rc int
	json.Unmarshal([]byte(last.Usage.JSON.ExtraFields["memory_tokens"].Raw()), &mt)
	json.Unmarshal([]byte(last.Usage.JSON.ExtraFields["retrieved_chunks"].Raw()), &rc)
	if mt <= 0 || rc <= 0 || int64(mt) >= last.Usage.PromptTokens {
		t.Fatalf("usage %s", last.Usage.RawJSON())
	}

	// The session API shows what was stored.
	st, _, body := ts.get(t, "/v1/sessions/trip-2026", auth("alice")...)
	var sess sessionObject
	if err := json.Unmarshal(body, &sess); err != nil || st != 200 {
		t.Fatalf("%d %s", st, body)
	}
	if sess.TurnCount != 7 || sess.ChunkCount != 8 || sess.Summary == "" {
		// 7 user messages and one reply, "Noted.", held once.
		t.Fatalf("session %+v", sess)
	}
	st, _, body = ts.get(t, "/v1/sessions/trip-2026/turns?after=1&limit=2", auth("alice")...)
	var turns listObject[turnObject]
	if err := json.Unmarshal(body, &turns); err != nil || st != 200 {
		t.Fatalf("%d %s", st, body)
	}
	if len(turns.Data) != 2 || turns.Data[0].Index != 2 || !turns.HasMore || turns.Data[0].Assistant != "Noted." ||
		!strings.Contains(turns.Data[0].User, "item 1") {
		t.Fatalf("turns page %s", body)
	}
	st, _, body = ts.get(t, "/v1/sessions/trip-2026/memory?query=passport+number&k=3", auth("alice")...)
	var hits listObject[memoryHit]
	if err := json.Unmarshal(body, &hits); err != nil || st != 200 {
		t.Fatalf("%d %s", st, body)
	}
	if len(hits.Data) != 3 || !strings.Contains(hits.Data[0].Text+hits.Data[1].Text, "X1234-PQ") || hits.Data[0].Score <= 0 {
		t.Fatalf("memory hits %s", body)
	}
	st, _, body = ts.get(t, "/v1/sessions", auth("alice")...)
	if st != 200 || !strings.Contains(string(body), `"id":"trip-2026"`) {
		t.Fatalf("list %d %s", st, body)
	}
}

func TestSessionsAreIsolatedByAPIKey(t *testing.T) {
	ts, _ := memoryServer(t, nil, "ok")
	if st, _, body := ts.post(t, "/v1/chat/completions", sessionBody("diary", "my secret is plum"), auth("alice")...); st != 200 {
		t.Fatalf("%d %s", st, body)
	}
	for _, c := range []struct{ method, path string }{
		{"GET", "/v1/sessions/diary"},
		{"GET", "/v1/sessions/diary/turns"},
		{"GET", "/v1/sessions/diary/memory?query=secret"},
		{"DELETE", "/v1/sessions/diary"},
		{"POST", "/v1/chat/completions"},
	} {
		req, _ := http.NewRequest(c.method, ts.URL+c.path, strings.NewReader(sessionBody("diary", "what is the secret?")))
		req.Header.Set("Authorization", "Bearer bob")
		req.Header.Set("Content-Type", "application/json")
		st, _, body := do(t, req)
		if st != 404 || strings.Contains(string(body), "plum") {
			t.Errorf("bob %s %s: %d %s", c.method, c.path, st, body)
			continue
		}
		if e := apiErr(t, body); e.Type != "not_found_error" {
			t.Errorf("bob %s %s: %+v", c.method, c.path, e)
		}
	}
	if st, _, body := ts.get(t, "/v1/sessions", auth("bob")...); st != 200 || strings.Contains(string(body), "diary") {
		t.Fatalf("bob's list: %d %s", st, body)
	}
	// Alice's session is whole; then she deletes it, and it is gone.
	st, _, body := ts.get(t, "/v1/sessions/diary/turns", auth("alice")...)
	if st != 200 || !strings.Contains(string(body), "plum") {
		t.Fatalf("alice's turns after bob's attempts: %d %s", st, body)
	}
	req, _ := http.NewRequest("DELETE", ts.URL+"/v1/sessions/diary", nil)
	req.Header.Set("Authorization", "Bearer alice")
	if st, _, body := do(t, req); st != 200 || !strings.Contains(string(body), `"deleted":true`) {
		t.Fatalf("delete: %d %s", st, body)
	}
	if st, _, _ := ts.get(t, "/v1/sessions/diary", auth("alice")...); st != 404 {
		t.Fatalf("after delete: %d", st)
	}
}

func TestSessionRequestsRefusedClearly(t *testing.T) {
	ts, _ := memoryServer(t, nil, "ok")
	msg := `"messages":[{"role":"user","content":"hi"}]`
	for _, c := range []struct {
		body    string
		headers []string
		status  int
		param   string
	}{
		{`{"session_id":"bad id!",` + msg + `}`, nil, 400, "session_id"},
		{`{"session_id":"",` + msg + `}`, nil, 400, "session_id"},
		{`{"session_id":7,` + msg + `}`, nil, 400, "session_id"},
		{`{"session_id":"` + strings.Repeat("a", 129) + `",` + msg + `}`, nil, 400, "session_id"},
		{`{` + msg + `}`, []string{"X-Session-Id", "a/b"}, 400, "X-Session-Id"},
		{`{"session_id":"one",` + msg + `}`, []string{"X-Session-Id", "two"}, 400, "session_id"},
		{`{"session_id":"s","n":2,` + msg + `}`, nil, 400, "n"},
		{`{"session_id":"s","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}]}`, nil, 400, "messages"},
	} {
		st, _, body := ts.post(t, "/v1/chat/completions", c.body, append(auth("alice"), c.headers...)...)
		if st != c.status {
			t.Errorf("%s %v: %d %s", c.body, c.headers, st, body)
			continue
		}
		if e := apiErr(t, body); e.Param == nil || *e.Param != c.param {
			t.Errorf("%s %v: param %v, want %s (%s)", c.body, c.headers, e.Param, c.param, e.Message)
		}
	}
	// The header alone names a session.
	if st, _, body := ts.post(t, "/v1/chat/completions", `{`+msg+`}`, append(auth("alice"), "X-Session-Id", "by-header")...); st != 200 {
		t.Fatalf("%d %s", st, body)
	}
	if st, _, _ := ts.get(t, "/v1/sessions/by-header", auth("alice")...); st != 200 {
		t.Fatalf("session named by the header: %d", st)
	}
	for _, path := range []string{"/v1/sessions?limit=0", "/v1/sessions/x/memory", "/v1/sessions/x/memory?query=a&k=500",
		"/v1/sessions/x/turns?after=-5"} {
		if st, _, body := ts.get(t, path, auth("alice")...); st != 400 {
			t.Errorf("%s: %d %s", path, st, body)
		}
	}

	// Without memory: a session request is a 400, the session API a 404.
	off := startServer(t, newScripted(t, "ok"), Model{}, Options{})
	st, _, body := off.post(t, "/v1/chat/completions", `{"session_id":"s",`+msg+`}`)
	if e := apiErr(t, body); st != 400 || !strings.Contains(e.Message, "--memory off") {
		t.Fatalf("memory off: %d %s", st, body)
	}
	if st, _, _ := off.get(t, "/v1/sessions"); st != 404 {
		t.Fatalf("session API with memory off: %d", st)
	}
}

// gatedStore holds AppendTurn until the test lets it go, or fails it.
type gatedStore struct {
	memory.Store
	entered chan struct{}
	gate    chan struct{}
	fail    bool
	once    sync.Once
}

func (g *gatedStore) AppendTurn(ctx context.Context, o memory.Owner, id string, t memory.Turn, c []memory.Chunk) (memory.AppendResult, error) {
	if g.fail {
		return memory.AppendResult{}, errors.New("disk full")
	}
	if g.gate != nil {
		g.once.Do(func() { close(g.entered) })
		<-g.gate
	}
	return g.Store.AppendTurn(ctx, o, id, t, c)
}

// TestTurnDurableBeforeLastByte: a streamed response's [DONE] (and its usage chunk) come only
// after the turn is stored; a turn that cannot be stored fails the response and leaves nothing.
func TestTurnDurableBeforeLastByte(t *testing.T) {
	base, err := memory.OpenBadger(t.TempDir(), memory.Options{GCInterval: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	gs := &gatedStore{Store: base, entered: make(chan struct{}), gate: make(chan struct{})}
	ts, _ := memoryServer(t, gs, "hello", " there")
	req, _ := http.NewRequest("POST", ts.URL+"/v1/chat/completions", strings.NewReader(
		`{"session_id":"s","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer alice")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	<-gs.entered
	// The server is inside AppendTurn: whatever the client has read cannot hold the end.
	var seen []string
	for drained := false; !drained; {
		select {
		case l := <-lines:
			seen = append(seen, l)
		default:
			drained = true
		}
	}
	for _, l := range seen {
		if l == "data: [DONE]" || strings.Contains(l, `"usage"`) {
			t.Fatalf("the stream ended before the turn was stored: %q", l)
		}
	}
	close(gs.gate)
	var tail []string
	for l := range lines {
		tail = append(tail, l)
	}
	if len(tail) < 2 || tail[len(tail)-2] != "data: [DONE]" || !strings.Contains(strings.Join(tail, "\n"), `"memory_tokens":0`) {
		t.Fatalf("stream end: %q", tail)
	}
	if ts, err := base.Turns(context.Background(), memory.OwnerOf("alice"), "s", 0, 10); err != nil || len(ts) != 1 ||
		ts[0].Reply != "hello there" {
		t.Fatalf("stored %+v, %v", ts, err)
	}

	// A store that fails: a 500 (non-streamed) or an error event instead of [DONE], and
	// nothing stored.
	failing := &gatedStore{Store: base, fail: true}
	ts2, _ := memoryServer(t, failing, "hello")
	st, _, body := ts2.post(t, "/v1/chat/completions", sessionBody("f", "hi"), auth("alice")...)
	if st != 500 || !strings.Contains(string(body), "disk full") {
		t.Fatalf("failing store: %d %s", st, body)
	}
	_, _, body = ts2.post(t, "/v1/chat/completions",
		`{"session_id":"f","stream":true,"messages":[{"role":"user","content":"hi"}]}`, auth("alice")...)
	if !strings.Contains(string(body), `"error"`) || !strings.Contains(string(body), "disk full") {
		t.Fatalf("failing store, streamed: %s", body)
	}
	if _, err := base.GetSession(context.Background(), memory.OwnerOf("alice"), "f"); !errors.Is(err, memory.ErrNotFound) {
		t.Fatalf("a session whose only turn failed to store: %v", err)
	}
}

// TestModelSummarizer: with the served model as summariser, a turn's summary is a background
// request of ours (greedy, at most 60 tokens, the turn in its prompt) whose answer becomes the
// session's summary; without a model the fallback summarises.
func TestModelSummarizer(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := memory.OpenBadger(t.TempDir(), memory.Options{GCInterval: -1, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ms := &ModelSummarizer{Fallback: &compact.Extractive{}}
	// Before any model: the fallback.
	got, err := ms.Update(context.Background(), "", compact.Turn{User: "I was born in Tromsø.", Reply: "Nice."})
	if err != nil || !strings.Contains(got, "Tromsø") {
		t.Fatalf("fallback summary %q, %v", got, err)
	}
	m, err := session.New(session.Config{Store: store, Summarizer: ms, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	gen := newScripted(t, " The user", " likes kites.")
	ts := startServer(t, gen, Model{}, Options{Memory: m, Summarizer: ms})
	if st, _, body := ts.post(t, "/v1/chat/completions", sessionBody("k", "I fly kites every Sunday.")); st != 200 {
		t.Fatalf("%d %s", st, body)
	}
	// The session's next read waits for the summary job.
	if st, _, body := ts.get(t, "/v1/sessions/k/memory?query=kites"); st != 200 {
		t.Fatalf("%d %s", st, body)
	}
	s, err := store.Summary(context.Background(), memory.OwnerOf(""), "k", memory.SummaryRunning)
	if err != nil || s.Text != "The user likes kites." {
		t.Fatalf("summary %+v, %v", s, err)
	}
	reqs := gen.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want the chat and its summary", len(reqs))
	}
	sr := reqs[1]
	prompt := gen.tok.Decode(sr.Prompt)
	if !sr.Background || sr.MaxTokens != compact.DefaultBudget || sr.Sampling.Temperature != 0 ||
		!strings.Contains(prompt, "I fly kites every Sunday.") || !strings.Contains(prompt, "running summary") {
		t.Fatalf("summary request: background %v, max_tokens %d, prompt:\n%s", sr.Background, sr.MaxTokens, prompt)
	}
	if reqs[0].Background {
		t.Fatal("the client's request ran as background")
	}
}

// TestModelEmbedder: with the served model as embedder (the demo model through the engine),
// /v1/embeddings answers with vectors of the model's hidden size, the same text twice with
// the same vector, and a session's memory is stored and searched with them.
func TestModelEmbedder(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := memory.OpenBadger(t.TempDir(), memory.Options{GCInterval: -1, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	me := &ModelEmbedder{}
	if _, err := me.Embed(context.Background(), []string{"x"}); err == nil {
		t.Fatal("an embedder without a model embedded")
	}
	m, err := session.New(session.Config{Store: store, Embedder: me, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	hidden := loadDemo(t).Config.HiddenSize
	e := newDemoEngine(t, engineOpts{})
	ts := startServer(t, FromEngine(e), Model{HiddenSize: hidden}, Options{Memory: m, Embedder: me, ModelEmbedder: me})
	st, _, body := ts.post(t, "/v1/embeddings", `{"input":["a cat on a mat","a cat on a mat","stock prices fell"]}`)
	var res struct {
		Data []struct {
			Embedding []float32 `json:"embedding"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &res); err != nil || st != 200 || len(res.Data) != 3 {
		t.Fatalf("%d %s", st, body)
	}
	a, b, c := res.Data[0].Embedding, res.Data[1].Embedding, res.Data[2].Embedding
	if len(a) != hidden || !slices.Equal(a, b) || slices.Equal(a, c) {
		t.Fatalf("embeddings: %d dims (want %d), same text equal %v, different texts equal %v", len(a), hidden,
			slices.Equal(a, b), slices.Equal(a, c))
	}
	for _, msg := range []string{"The ferry leaves at nine.", "I like green tea.", "My dog is old."} {
		if st, _, body := ts.post(t, "/v1/chat/completions", sessionBody("me", msg)); st != 200 {
			t.Fatalf("%d %s", st, body)
		}
	}
	st, _, body = ts.get(t, "/v1/sessions/me/memory?query=ferry+time&k=3")
	var hits listObject[memoryHit]
	if err := json.Unmarshal(body, &hits); err != nil || st != 200 || len(hits.Data) != 3 {
		t.Fatalf("%d %s", st, body)
	}
	for _, h := range hits.Data {
		if h.Cosine == 0 {
			t.Fatalf("a hit without a cosine score: %s", body)
		}
	}
}

// TestHugeStoredMessageDoesNotPoisonTheSession: a message far longer than the context, brought
// in as history, is stored; later requests drop it from the prompt (or recall its beginning)
// instead of failing.
func TestHugeStoredMessageDoesNotPoisonTheSession(t *testing.T) {
	ts, gen := memoryServer(t, nil, "ok")
	gen.ctx = 512
	huge := strings.Repeat("The lighthouse keeper logged the weather again. ", 6000) // about 290 KB
	body, _ := json.Marshal(map[string]any{"session_id": "big", "max_tokens": 8, "messages": []map[string]string{
		{"role": "user", "content": huge}, {"role": "assistant", "content": "Logged."},
		{"role": "user", "content": "Anything about the lighthouse?"}}})
	st, _, resp := ts.post(t, "/v1/chat/completions", string(body), auth("alice")...)
	if st != 200 {
		t.Fatalf("a request whose history holds a huge message: %d %s", st, resp)
	}
	for _, msg := range []string{"second", "third", "What did the lighthouse keeper log?"} {
		if st, _, resp := ts.post(t, "/v1/chat/completions", sessionBody("big", msg), auth("alice")...); st != 200 {
			t.Fatalf("%q: %d %s", msg, st, resp)
		}
	}
	if p := lastPrompt(gen); len(p) > 2*session.MaxChunkPromptBytes {
		t.Fatalf("a prompt of %d bytes: the huge message went in whole", len(p))
	}
	st, _, resp = ts.get(t, "/v1/sessions/big", auth("alice")...)
	if st != 200 || !strings.Contains(string(resp), `"turn_count":5`) {
		t.Fatalf("%d %s", st, resp)
	}
}
