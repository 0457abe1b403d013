package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/arborlabs/arbor/memory"
	"github.com/arborlabs/arbor/memory/dataset"
	"github.com/arborlabs/arbor/memory/session"
	"github.com/arborlabs/arbor/runtime/backend/cpu"
	"github.com/arborlabs/arbor/runtime/engine"
	"github.com/arborlabs/arbor/runtime/model/demo"
	"github.com/arborlabs/arbor/server"
)

// Markers the replay adds: contMarker is the new message of a request that is not the last
// (a long history split over several requests), endMarker the last request's when the
// conversation ends with a reply. Neither is any dataset message: their chunks score nothing.
const (
	contMarker = "(history continues)"
	endMarker  = "(end of history)"
)

// Options are a replay's settings.
type Options struct {
	Format string // "locomo" or "longmemeval"
	Data   string // the dataset file
	Ks     []int  // the k of recall@k, ascending
	// URL is a running Arbor server's base URL ("" starts one in this process); APIKey its key.
	URL, APIKey string
	Limit       int // conversations at most (0: all)
	// MaxRequestBytes bounds a chat request's messages (JSON); a longer history is sent over
	// several requests.
	MaxRequestBytes int
	Ctx             int  // the in-process engine's context
	Keep            bool // leave the sessions on the server
	Progress        io.Writer
}

// Scores sums recall over questions, per k.
type Scores struct {
	Questions       int
	TurnN, SessionN int       // questions with message / session evidence
	Turn, Session   []float64 // sums, per k
}

func newScores(nk int) *Scores {
	return &Scores{Turn: make([]float64, nk), Session: make([]float64, nk)}
}

// Report is what a replay measured.
type Report struct {
	Format, Data, Target, Embedder, Generator string
	Ks                                        []int
	Conversations, Questions                  int
	Requests, Turns                           int // chat requests sent; turns stored (each verified)
	Chunks, ChunkTexts                        int // chunks the sessions hold; distinct texts sent
	UnknownEvidence                           int // evidence ids naming no message or session of the conversation
	All                                       *Scores
	Categories                                []string
	ByCategory                                map[string]*Scores
	Latencies                                 []time.Duration // of the memory GETs
	Replay                                    time.Duration   // the chat requests' time, all together
}

// msg is a dataset message in replay order.
type msg struct {
	id, session, role, text string
}

// turn is a turn as the server's reconcile groups a history (a user's messages and the
// replies after them), with the dataset ids of its two sides.
type turn struct {
	user, reply       string
	userIDs, replyIDs []string
}

// groupTurns mirrors memory/reconcile's grouping of history messages into turns.
func groupTurns(ms []msg) []turn {
	var out []turn
	var cur turn
	var user, reply []string
	flush := func() {
		if len(user) > 0 || len(reply) > 0 {
			cur.user, cur.reply = strings.Join(user, "\n"), strings.Join(reply, "\n")
			out = append(out, cur)
		}
		cur, user, reply = turn{}, nil, nil
	}
	for _, m := range ms {
		if m.role == "user" {
			if len(reply) > 0 {
				flush()
			}
			user = append(user, m.text)
			if m.id != "" {
				cur.userIDs = append(cur.userIDs, m.id)
			}
			continue
		}
		reply = append(reply, m.text)
		if m.id != "" {
			cur.replyIDs = append(cur.replyIDs, m.id)
		}
	}
	flush()
	return out
}

// flatten is the conversation's messages, sessions concatenated.
func flatten(c dataset.Conversation) []msg {
	var out []msg
	for _, s := range c.Sessions {
		for _, m := range s.Messages {
			out = append(out, msg{id: m.ID, session: s.ID, role: m.Role, text: m.Text})
		}
	}
	return out
}

// plan cuts ms into the ranges sent by one request each: at turn boundaries (a user message
// after a reply), each range's messages within maxBytes of JSON where a boundary allows.
func plan(ms []msg, maxBytes int) [][2]int {
	var out [][2]int
	start, size, lastCut := 0, 0, -1
	for i, m := range ms {
		if i > start && m.role == "user" && ms[i-1].role == "assistant" {
			lastCut = i
		}
		b, _ := json.Marshal(m.text)
		size += len(b) + 40
		if size > maxBytes && lastCut > start {
			out = append(out, [2]int{start, lastCut})
			start, lastCut = lastCut, -1
			size = 0
			for _, m := range ms[start : i+1] {
				b, _ := json.Marshal(m.text)
				size += len(b) + 40
			}
		}
	}
	return append(out, [2]int{start, len(ms)})
}

var unsafeID = regexp.MustCompile(`[^A-Za-z0-9._:-]`)

// sessionName is the session a conversation is replayed into.
func sessionName(format, conv string, n int) string {
	id := unsafeID.ReplaceAllString(fmt.Sprintf("%s-%s-%d", format, conv, n), "_")
	if len(id) > memory.MaxSessionIDLen {
		id = id[len(id)-memory.MaxSessionIDLen:]
	}
	return id
}

// client speaks to the server's HTTP API.
type client struct {
	base, key string
	http      *http.Client
}

func (c *client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return &httpError{status: resp.StatusCode, msg: fmt.Sprintf("%s %s: %d: %s", method, path, resp.StatusCode,
			strings.TrimSpace(string(b)))}
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

type wireMsg struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type sessionInfo struct {
	TurnCount  int `json:"turn_count"`
	ChunkCount int `json:"chunk_count"`
}

type hit struct {
	Turn int    `json:"turn"`
	Role string `json:"role"`
	Text string `json:"text"`
}

// replayed is a conversation stored in a session: what its chunk texts hold.
type replayed struct {
	textIDs   map[string][]string // chunk text -> dataset message ids
	sessionOf map[string]string   // message id -> dataset session id
	sessions  map[string]bool
	turns     int
	texts     map[string]bool
}

// replayConversation stores c in session id through chat requests, checks the stored turns,
// and returns what the chunks hold.
func replayConversation(ctx context.Context, cl *client, c dataset.Conversation, id string, maxBytes int) (*replayed, int, error) {
	ms := flatten(c)
	r := &replayed{textIDs: map[string][]string{}, sessionOf: map[string]string{}, sessions: map[string]bool{},
		texts: map[string]bool{}}
	for _, m := range ms {
		r.sessionOf[m.id] = m.session
		r.sessions[m.session] = true
	}
	for _, s := range c.Sessions {
		r.sessions[s.ID] = true
	}
	addTurn := func(t turn) {
		for _, side := range []struct {
			text string
			ids  []string
		}{{t.user, t.userIDs}, {t.reply, t.replyIDs}} {
			if side.text == "" && len(side.ids) == 0 {
				continue // the new turn's reply: generated, added once read back
			}
			r.texts[side.text] = true
			for _, mid := range side.ids {
				if !slices.Contains(r.textIDs[side.text], mid) {
					r.textIDs[side.text] = append(r.textIDs[side.text], mid)
				}
			}
		}
	}
	if len(ms) == 0 {
		return nil, 0, fmt.Errorf("conversation %s has no messages", c.ID)
	}
	ranges := plan(ms, maxBytes)
	prevReply := ""
	for ri, rg := range ranges {
		var req []msg
		if ri > 0 {
			// The last stored turn again: reconcile sees the history continue the session.
			req = append(req, msg{role: "user", text: contMarker}, msg{role: "assistant", text: prevReply})
		}
		req = append(req, ms[rg[0]:rg[1]]...)
		last := ri == len(ranges)-1
		switch {
		case !last:
			req = append(req, msg{role: "user", text: contMarker})
		case req[len(req)-1].role == "assistant":
			req = append(req, msg{role: "user", text: endMarker})
		}
		lastA := -1
		for i, m := range req {
			if m.role == "assistant" {
				lastA = i
			}
		}
		history := groupTurns(req[:lastA+1])
		if ri > 0 {
			history = history[1:] // the repeated turn, skipped by reconcile
		}
		newTurn := groupTurns(req[lastA+1:])[0] // user messages only: its reply is generated
		for _, t := range history {
			addTurn(t)
		}
		addTurn(turn{user: newTurn.user, userIDs: newTurn.userIDs})
		r.turns += len(history) + 1

		wire := make([]wireMsg, len(req))
		for i, m := range req {
			wire[i] = wireMsg{Role: m.role, Content: m.text}
		}
		body := map[string]any{"messages": wire, "session_id": id, "max_tokens": 1, "temperature": 0}
		if err := cl.do(ctx, http.MethodPost, "/v1/chat/completions", body, nil); err != nil {
			return nil, 0, fmt.Errorf("conversation %s, request %d of %d: %w", c.ID, ri+1, len(ranges), err)
		}
		// The stored last turn: its reply (generated) is what the next request sends again.
		var turns struct {
			Data []struct {
				Index     int    `json:"index"`
				User      string `json:"user"`
				Assistant string `json:"assistant"`
			} `json:"data"`
		}
		path := fmt.Sprintf("/v1/sessions/%s/turns?after=%d&limit=1", url.PathEscape(id), r.turns-2)
		if err := cl.do(ctx, http.MethodGet, path, nil, &turns); err != nil {
			return nil, 0, err
		}
		if len(turns.Data) != 1 || turns.Data[0].Index != r.turns-1 || turns.Data[0].User != newTurn.user {
			return nil, 0, fmt.Errorf("conversation %s, request %d: the session's turn %d is not the request's "+
				"new turn (%+v): backfill stored other turns than expected", c.ID, ri+1, r.turns-1, turns.Data)
		}
		prevReply = turns.Data[0].Assistant
		r.texts[prevReply] = true
	}
	return r, len(ranges), nil
}

// Run replays the dataset through the session API and scores retrieval.
func Run(ctx context.Context, opt Options) (*Report, error) {
	if len(opt.Ks) == 0 {
		opt.Ks = []int{5, 10}
	}
	sort.Ints(opt.Ks)
	if opt.Ks[0] < 1 || opt.Ks[len(opt.Ks)-1] > 100 {
		return nil, errors.New("every k must be from 1 to 100 (the memory API's bound)")
	}
	if opt.MaxRequestBytes <= 0 {
		opt.MaxRequestBytes = 4 << 20
	}
	if opt.Ctx <= 0 {
		opt.Ctx = 4096
	}
	if opt.Progress == nil {
		opt.Progress = io.Discard
	}
	var read func(io.Reader, func(dataset.Conversation) error) error
	switch opt.Format {
	case "locomo":
		read = dataset.ReadLoCoMo
	case "longmemeval":
		read = dataset.ReadLongMemEval
	default:
		return nil, fmt.Errorf("--format must be locomo or longmemeval, got %q", opt.Format)
	}
	f, err := os.Open(opt.Data)
	if err != nil {
		return nil, err
	}
	defer f.Close()

	rep := &Report{Format: opt.Format, Data: opt.Data, Ks: opt.Ks, All: newScores(len(opt.Ks)),
		ByCategory: map[string]*Scores{}, Target: opt.URL}
	cl := &client{base: strings.TrimRight(opt.URL, "/"), key: opt.APIKey, http: &http.Client{Timeout: 10 * time.Minute}}
	if opt.URL == "" {
		base, stop, err := startServer(opt.Ctx)
		if err != nil {
			return nil, err
		}
		defer stop()
		cl.base = base
		rep.Target = "an in-process Arbor server (temp-dir Badger store)"
		rep.Generator = fmt.Sprintf("arbor-demo via the engine (built-in demo model: random weights, Qwen3 tokenizer; "+
			"cpu backend, ctx %d, max_tokens 1)", opt.Ctx)
	} else {
		var models struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		if err := cl.do(ctx, http.MethodGet, "/v1/models", nil, &models); err != nil {
			return nil, err
		}
		rep.Generator = "the server's model, max_tokens 1"
		if len(models.Data) > 0 {
			rep.Generator = models.Data[0].ID + " (the server's model, max_tokens 1)"
		}
	}
	var emb struct {
		Model string `json:"model"`
	}
	if err := cl.do(ctx, http.MethodPost, "/v1/embeddings", map[string]any{"input": "embedder name"}, &emb); err != nil {
		return nil, err
	}
	rep.Embedder = emb.Model

	maxK := opt.Ks[len(opt.Ks)-1]
	n := 0
	errStop := errors.New("limit reached")
	err = read(f, func(c dataset.Conversation) error {
		if opt.Limit > 0 && n >= opt.Limit {
			return errStop
		}
		id := sessionName(opt.Format, c.ID, n)
		n++
		// A session left by an earlier run would hold these turns already.
		if err := cl.do(ctx, http.MethodDelete, "/v1/sessions/"+url.PathEscape(id), nil, nil); err != nil {
			var he *httpError
			if !errors.As(err, &he) || he.status != http.StatusNotFound {
				return err
			}
		}
		start := time.Now()
		r, requests, err := replayConversation(ctx, cl, c, id, opt.MaxRequestBytes)
		if err != nil {
			return err
		}
		rep.Replay += time.Since(start)
		rep.Requests += requests
		var info sessionInfo
		if err := cl.do(ctx, http.MethodGet, "/v1/sessions/"+url.PathEscape(id), nil, &info); err != nil {
			return err
		}
		if info.TurnCount != r.turns {
			return fmt.Errorf("conversation %s: session %s has %d turns, the replay sent %d", c.ID, id, info.TurnCount, r.turns)
		}
		rep.Conversations++
		rep.Turns += info.TurnCount
		rep.Chunks += info.ChunkCount
		rep.ChunkTexts += len(r.texts)
		for _, q := range c.Questions {
			if err := score(ctx, cl, rep, r, id, q, maxK); err != nil {
				return fmt.Errorf("conversation %s, question %s: %w", c.ID, q.ID, err)
			}
		}
		fmt.Fprintf(opt.Progress, "%s: %d turns in %d requests (%s), %d questions\n", c.ID, r.turns, requests,
			time.Since(start).Round(time.Millisecond), len(c.Questions))
		if !opt.Keep {
			return cl.do(ctx, http.MethodDelete, "/v1/sessions/"+url.PathEscape(id), nil, nil)
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, err
	}
	for c := range rep.ByCategory {
		rep.Categories = append(rep.Categories, c)
	}
	sort.Slice(rep.Categories, func(i, j int) bool {
		a, ea := strconv.Atoi(rep.Categories[i])
		b, eb := strconv.Atoi(rep.Categories[j])
		if ea == nil && eb == nil {
			return a < b
		}
		return rep.Categories[i] < rep.Categories[j]
	})
	return rep, nil
}

// score asks the memory API for q and adds its recall to rep.
func score(ctx context.Context, cl *client, rep *Report, r *replayed, id string, q dataset.Question, maxK int) error {
	var res struct {
		Data []hit `json:"data"`
	}
	path := fmt.Sprintf("/v1/sessions/%s/memory?k=%d&query=%s", url.PathEscape(id), maxK, url.QueryEscape(q.Text))
	start := time.Now()
	if err := cl.do(ctx, http.MethodGet, path, nil, &res); err != nil {
		return err
	}
	rep.Latencies = append(rep.Latencies, time.Since(start))
	var msgs, sessions [][]string
	for _, h := range res.Data {
		ids := r.textIDs[h.Text]
		var ss []string
		for _, mid := range ids {
			if s := r.sessionOf[mid]; !slices.Contains(ss, s) {
				ss = append(ss, s)
			}
		}
		msgs, sessions = append(msgs, ids), append(sessions, ss)
	}
	// Evidence the conversation does not have cannot be retrieved: it is counted apart.
	var evM, evS []string
	for _, e := range q.EvidenceMessages {
		if _, ok := r.sessionOf[e]; ok {
			evM = append(evM, e)
		} else {
			rep.UnknownEvidence++
		}
	}
	for _, e := range q.EvidenceSessions {
		if r.sessions[e] {
			evS = append(evS, e)
		} else {
			rep.UnknownEvidence++
		}
	}
	rep.Questions++
	targets := []*Scores{rep.All}
	if q.Category != "" {
		if rep.ByCategory[q.Category] == nil {
			rep.ByCategory[q.Category] = newScores(len(rep.Ks))
		}
		targets = append(targets, rep.ByCategory[q.Category])
	}
	for _, s := range targets {
		s.Questions++
		if len(evM) > 0 {
			s.TurnN++
		}
		if len(evS) > 0 {
			s.SessionN++
		}
		for i, k := range rep.Ks {
			if len(evM) > 0 {
				s.Turn[i] += dataset.RecallAtGroups(msgs, evM, k)
			}
			if len(evS) > 0 {
				s.Session[i] += dataset.RecallAtGroups(sessions, evS, k)
			}
		}
	}
	return nil
}

// startServer starts an Arbor server in this process: session memory on a Badger store in a
// temporary directory (the default hashed embedder) and the demo model on the cpu backend.
func startServer(ctxLen int) (base string, stop func(), err error) {
	dir, err := os.MkdirTemp("", "memreplay-")
	if err != nil {
		return "", nil, err
	}
	var closers []func()
	stop = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	closers = append(closers, func() { _ = os.RemoveAll(dir) })
	defer func() {
		if err != nil {
			stop()
		}
	}()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := memory.OpenBadger(dir, memory.Options{Logger: log, GCInterval: -1})
	if err != nil {
		return "", nil, err
	}
	closers = append(closers, func() { _ = store.Close() })
	mgr, err := session.New(session.Config{Store: store, Log: log})
	if err != nil {
		return "", nil, err
	}
	closers = append(closers, mgr.Close)
	m, err := demo.Random()
	if err != nil {
		return "", nil, err
	}
	closers = append(closers, func() { _ = m.Close() })
	const pageSize = 16
	be, err := cpu.New(m, cpu.Options{PageSize: pageSize, NumPages: 4 * ((ctxLen + pageSize - 1) / pageSize)})
	if err != nil {
		return "", nil, err
	}
	closers = append(closers, func() { _ = be.Close() })
	eng := engine.New(be, m.Tokenizer, engine.Options{MaxContext: ctxLen, StepTokens: 512, MaxSeqs: 4, MaxQueue: 64,
		NumLayers: m.Config.NumLayers})
	closers = append(closers, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = eng.Shutdown(sctx)
	})
	srv := server.New(server.Options{Logger: log, Memory: mgr, Embedder: mgr.Embedder()})
	if err := srv.Ready(server.FromEngine(eng), server.Model{Name: "arbor-demo", Demo: true,
		Layers: m.Config.NumLayers}); err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	closers = append(closers, func() { _ = hs.Close() })
	return "http://" + ln.Addr().String(), stop, nil
}
