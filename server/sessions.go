package server

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/arborlabs/arbor/memory"
	"github.com/arborlabs/arbor/memory/session"
	"github.com/arborlabs/arbor/runtime/chat"
	"github.com/arborlabs/arbor/runtime/engine"
	"github.com/arborlabs/arbor/server/openai"
)

// Sessions: a chat request that names a session (the session_id field or the X-Session-Id
// header) sends only its new message; the server puts the session's memory (its summary, the
// chunks retrieved for the message, the last turns) into the prompt and stores the turn before
// the response's last byte. The session API lets a client list, read, search and delete its
// sessions. A session belongs to the API key that created it: for any other key it does not
// exist (404).

// DefaultMemoryBudget is the memory prompt's token budget when Options.MemoryBudget is 0.
const DefaultMemoryBudget = 3500

// sessionHeader names a session like the session_id body field.
const sessionHeader = "X-Session-Id"

// owner is who a request's sessions belong to: the digest of its API key (everyone's the same
// on a server without keys).
func (s *Server) owner(c echo.Context) memory.Owner {
	if len(s.keys) == 0 {
		return memory.OwnerOf("")
	}
	_, key, _ := strings.Cut(c.Request().Header.Get(echo.HeaderAuthorization), " ")
	return memory.OwnerOf(strings.TrimSpace(key))
}

// sessionOf returns the session a chat request names ("" for none), checked.
func (s *Server) sessionOf(c echo.Context, req *openai.ChatRequest) (string, error) {
	id, param := req.SessionID, "session_id"
	if hs := c.Request().Header.Values(sessionHeader); hs != nil {
		if id != "" && id != hs[0] {
			return "", openai.BadRequest("session_id", "'session_id' is %q but the %s header says %q", id, sessionHeader, hs[0])
		}
		id, param = hs[0], sessionHeader
	} else if id == "" {
		return "", nil
	}
	if err := memory.ValidSessionID(id); err != nil {
		return "", openai.BadRequest(param, "'%s' must be 1 to %d characters of [A-Za-z0-9._:-] (%s)", param,
			memory.MaxSessionIDLen, strings.TrimPrefix(err.Error(), memory.ErrInvalidSessionID.Error()+": "))
	}
	if s.opt.Memory == nil {
		return "", openai.BadRequest(param, "this server keeps no session memory (arbor serve --memory off)")
	}
	if req.N > 1 {
		return "", openai.BadRequest("n", "a request to a session stores one reply: 'n' must be 1, got %d", req.N)
	}
	return id, nil
}

// beginTurn waits for the session and puts its memory into req.Messages, within the memory
// budget and the context left after max_tokens.
func (s *Server) beginTurn(c echo.Context, st *modelState, req *openai.ChatRequest, id string) (*session.Pending, error) {
	budget := s.opt.MemoryBudget
	if budget <= 0 {
		budget = DefaultMemoryBudget
	}
	budget = min(budget, st.gen.MaxContext()-max(req.ContextMaxTokens(), 1))
	count := func(msgs []chat.Message) (int, error) {
		r := *req
		r.Messages = msgs
		ids, _, _, err := st.chatPrompt(&r)
		if errors.Is(err, engine.ErrContextLength) {
			// Its bytes alone prove this candidate too long (a huge stored message): over any
			// budget, so the assembly drops what made it so.
			return st.gen.MaxContext() + 1, nil
		}
		return len(ids), err
	}
	p, err := s.opt.Memory.Begin(c.Request().Context(), session.Request{Owner: s.owner(c), Session: id,
		Messages: req.Messages, Budget: budget, Count: count})
	if err != nil {
		return nil, memoryError(err, id)
	}
	s.metrics.memoryRetrieval.Observe(p.Retrieval.Seconds())
	s.metrics.memoryOverhead.Observe(p.Overhead.Seconds())
	req.Messages = p.Messages
	return p, nil
}

// replyText is what a session stores of a reply: its text, and its tool calls written out.
func replyText(cs *chatState) string {
	var b strings.Builder
	b.WriteString(cs.content.String())
	for _, call := range cs.calls {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("[tool call] " + call.Name + "(" + call.Arguments + ")")
	}
	return b.String()
}

// memoryError maps the memory's errors to the client's.
func memoryError(err error, id string) error {
	var ae *openai.APIError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, memory.ErrNotFound):
		return &openai.APIError{Status: http.StatusNotFound, Type: openai.TypeNotFound, Param: openai.StrPtr("session_id"),
			Code: openai.StrPtr("session_not_found"), Message: "no session " + strconv.Quote(id)}
	case errors.Is(err, memory.ErrInvalidSessionID):
		return openai.BadRequest("session_id", "%v", err)
	case errors.Is(err, session.ErrNoNewMessage):
		return openai.BadRequest("messages", "a request to a session needs a new user message after the last "+
			"assistant message")
	case errors.Is(err, session.ErrTooLong):
		return &openai.APIError{Status: http.StatusBadRequest, Type: openai.TypeInvalidRequest,
			Param: openai.StrPtr("messages"), Code: openai.StrPtr("context_length_exceeded"),
			Message: "the request's own messages exceed the memory budget (arbor serve --memory-budget, " +
				"and the context less max_tokens)"}
	case errors.Is(err, memory.ErrInvalid):
		return openai.BadRequest("", "%v", err)
	}
	return err // the engine's, the context's, the store's: ToAPIError maps them
}

// memoryOn answers 404 to the session API on a server without memory.
func (s *Server) memoryOn(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.opt.Memory == nil {
			return &openai.APIError{Status: http.StatusNotFound, Type: openai.TypeNotFound,
				Message: "this server keeps no session memory (arbor serve --memory off)"}
		}
		return next(c)
	}
}

// sessionObject is a session as the API shows it.
type sessionObject struct {
	ID         string `json:"id"`
	Object     string `json:"object"`
	CreatedAt  int64  `json:"created_at"`
	UpdatedAt  int64  `json:"updated_at"`
	TurnCount  int    `json:"turn_count"`
	ChunkCount int    `json:"chunk_count"`
	Summary    string `json:"summary"`
}

func toSessionObject(ss memory.Session) sessionObject {
	return sessionObject{ID: ss.ID, Object: "session", CreatedAt: ss.Created.Unix(), UpdatedAt: ss.Updated.Unix(),
		TurnCount: ss.TurnCount, ChunkCount: ss.ChunkCount}
}

// listObject is OpenAI's list shape.
type listObject[T any] struct {
	Object  string `json:"object"`
	Data    []T    `json:"data"`
	HasMore bool   `json:"has_more"`
	LastID  string `json:"last_id,omitempty"`
}

// intQuery reads an integer query parameter within [lo, hi] (def when absent).
func intQuery(c echo.Context, name string, def, lo, hi int) (int, error) {
	v := c.QueryParam(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, openai.BadRequest(name, "'%s' must be an integer from %d to %d, got %q", name, lo, hi, v)
	}
	return n, nil
}

// listSessions is GET /v1/sessions?after=ID&limit=N: the caller's sessions in id order.
func (s *Server) listSessions(c echo.Context) error {
	limit, err := intQuery(c, "limit", 20, 1, 100)
	if err != nil {
		return err
	}
	after := c.QueryParam("after")
	if after != "" {
		if err := memory.ValidSessionID(after); err != nil {
			return openai.BadRequest("after", "'after' must be a session id: %v", err)
		}
	}
	ctx := c.Request().Context()
	sessions, next, err := s.opt.Memory.Store().ListSessions(ctx, s.owner(c), after, limit)
	if err != nil {
		return memoryError(err, "")
	}
	out := listObject[sessionObject]{Object: "list", Data: []sessionObject{}, HasMore: next != ""}
	for _, ss := range sessions {
		out.Data = append(out.Data, toSessionObject(ss))
	}
	if len(sessions) > 0 {
		out.LastID = sessions[len(sessions)-1].ID
	}
	return c.JSON(http.StatusOK, out)
}

// sessionID reads and checks the {id} path parameter.
func sessionID(c echo.Context) (string, error) {
	id := c.Param("id")
	if err := memory.ValidSessionID(id); err != nil {
		return "", openai.BadRequest("id", "the session id must be 1 to %d characters of [A-Za-z0-9._:-]",
			memory.MaxSessionIDLen)
	}
	return id, nil
}

// getSession is GET /v1/sessions/{id}: counts, times and the compact summary.
func (s *Server) getSession(c echo.Context) error {
	id, err := sessionID(c)
	if err != nil {
		return err
	}
	ctx, owner := c.Request().Context(), s.owner(c)
	ss, err := s.opt.Memory.Store().GetSession(ctx, owner, id)
	if err != nil {
		return memoryError(err, id)
	}
	obj := toSessionObject(ss)
	if obj.Summary, err = s.opt.Memory.Summary(ctx, owner, id); err != nil {
		return memoryError(err, id)
	}
	return c.JSON(http.StatusOK, obj)
}

// turnObject is a stored turn.
type turnObject struct {
	Index     int    `json:"index"`
	Object    string `json:"object"`
	User      string `json:"user"`
	Assistant string `json:"assistant"`
	System    string `json:"system,omitempty"`
	CreatedAt int64  `json:"created_at"`
}

// sessionTurns is GET /v1/sessions/{id}/turns?after=N&limit=M: turns in order, from the one
// after index N (from the first without after).
func (s *Server) sessionTurns(c echo.Context) error {
	id, err := sessionID(c)
	if err != nil {
		return err
	}
	limit, err := intQuery(c, "limit", 20, 1, 100)
	if err != nil {
		return err
	}
	after, err := intQuery(c, "after", -1, -1, 1<<31-2)
	if err != nil {
		return err
	}
	// One more than asked says whether there are more.
	turns, err := s.opt.Memory.Store().Turns(c.Request().Context(), s.owner(c), id, after+1, limit+1)
	if err != nil {
		return memoryError(err, id)
	}
	out := listObject[turnObject]{Object: "list", Data: []turnObject{}, HasMore: len(turns) > limit}
	for _, t := range turns[:min(limit, len(turns))] {
		out.Data = append(out.Data, turnObject{Index: t.Index, Object: "session.turn", User: t.User, Assistant: t.Reply,
			System: t.System, CreatedAt: t.Time.Unix()})
	}
	if n := len(out.Data); n > 0 {
		out.LastID = strconv.Itoa(out.Data[n-1].Index)
	}
	return c.JSON(http.StatusOK, out)
}

// memoryHit is a chunk retrieval would bring back.
type memoryHit struct {
	ChunkID uint64  `json:"chunk_id"`
	Turn    int     `json:"turn"`
	Role    string  `json:"role"`
	Text    string  `json:"text"`
	Score   float64 `json:"score"`
	Cosine  float64 `json:"cosine"`
	BM25    float64 `json:"bm25"`
}

// MaxMemoryQueryBytes bounds the query of GET /v1/sessions/{id}/memory.
const MaxMemoryQueryBytes = 64 << 10

// sessionMemory is GET /v1/sessions/{id}/memory?query=TEXT&k=5: what retrieval would bring
// back for TEXT, best first, with the scores that placed each chunk.
func (s *Server) sessionMemory(c echo.Context) error {
	id, err := sessionID(c)
	if err != nil {
		return err
	}
	k, err := intQuery(c, "k", 5, 1, 100)
	if err != nil {
		return err
	}
	query := c.QueryParam("query")
	if query == "" {
		return openai.BadRequest("query", "'query' is required: the text to retrieve for")
	}
	if len(query) > MaxMemoryQueryBytes {
		return openai.BadRequest("query", "'query' has %d bytes, at most %d", len(query), MaxMemoryQueryBytes)
	}
	hits, err := s.opt.Memory.Search(c.Request().Context(), s.owner(c), id, query, k)
	if err != nil {
		return memoryError(err, id)
	}
	out := listObject[memoryHit]{Object: "list", Data: []memoryHit{}}
	for _, h := range hits {
		out.Data = append(out.Data, memoryHit{ChunkID: h.Chunk, Turn: h.Turn, Role: h.Role.String(), Text: h.Text,
			Score: h.Score, Cosine: h.Cosine, BM25: h.BM25})
	}
	return c.JSON(http.StatusOK, out)
}

// deleteSession is DELETE /v1/sessions/{id}: every key of the session is removed.
func (s *Server) deleteSession(c echo.Context) error {
	id, err := sessionID(c)
	if err != nil {
		return err
	}
	if err := s.opt.Memory.Delete(c.Request().Context(), s.owner(c), id); err != nil {
		return memoryError(err, id)
	}
	return c.JSON(http.StatusOK, map[string]any{"id": id, "object": "session.deleted", "deleted": true})
}
