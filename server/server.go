// Package server is Arbor's OpenAI-compatible HTTP API: chat completions and completions
// (streamed as server-sent events or not), models, health and Prometheus metrics, with API-key
// auth, request limits and OpenAI's error shape. It is a translation layer: requests become
// engine.Requests, engine events become OpenAI JSON.
package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/arborlabs/arbor/memory/embed"
	"github.com/arborlabs/arbor/memory/session"
	"github.com/arborlabs/arbor/runtime/chat"
	"github.com/arborlabs/arbor/runtime/chat/parsers"
	"github.com/arborlabs/arbor/runtime/engine"
	"github.com/arborlabs/arbor/runtime/sparse"
	"github.com/arborlabs/arbor/runtime/tokenizer"
	"github.com/arborlabs/arbor/server/openai"
	"github.com/arborlabs/arbor/tools"
)

// Generator is what the server needs from the engine; FromEngine adapts an *engine.Engine to it.
// Tests put a scripted generator behind it to drive the HTTP layer with output the random demo
// model never writes (tool calls, reasoning).
type Generator interface {
	// Submit queues a request; its errors wrap engine.ErrBadRequest, ErrContextLength,
	// ErrQueueFull or ErrClosed. Cancelling ctx aborts the request and frees its KV pages.
	Submit(ctx context.Context, req engine.Request) (EventStream, error)
	Stats() engine.Stats
	MaxContext() int
	Tokenizer() *tokenizer.Tokenizer
	// Shutdown stops admitting, lets running requests finish until ctx ends, then cancels them.
	Shutdown(ctx context.Context) error
}

// EventStream is one request's events, as the server reads them (*engine.Stream is one).
type EventStream interface {
	// Recv returns the next event, waiting for it. After the last event (Done set) it returns
	// io.EOF; if the request failed, the error; if ctx ends first, ctx's error.
	Recv(ctx context.Context) (engine.Event, error)
}

// FromEngine is the Generator of an engine.
func FromEngine(e *engine.Engine) Generator { return engineGenerator{e} }

// engineGenerator hands out the engine's streams as EventStreams.
type engineGenerator struct{ *engine.Engine }

func (g engineGenerator) Submit(ctx context.Context, req engine.Request) (EventStream, error) {
	st, err := g.Engine.Submit(ctx, req)
	if err != nil {
		return nil, err // not a nil *engine.Stream in a non-nil interface
	}
	return st, nil
}

// Model describes the served model.
type Model struct {
	// Name is the id clients send as "model" and /v1/models lists.
	Name string
	// Path is where it was loaded from ("" for the demo).
	Path string
	// Demo marks the built-in demo model (a small model trained on arithmetic only): /v1/models says so.
	Demo bool
	// ChatTemplate overrides the tokenizer's chat template when not empty.
	ChatTemplate string
	// Created is reported in /v1/models (zero: the time Ready was called).
	Created time.Time
	// HiddenSize is the model's hidden width: the dimensions of its embeddings
	// (ModelEmbedder).
	HiddenSize int
	// Layers is the model's layer count, which a request's sparse_attention "delta" is placed
	// over when the server has no config of its own (sparse.DefaultConfig).
	Layers int
	// Sparse is the sparse-attention config of requests that do not say (arbor serve
	// --sparse delta), and the one whose layer placement a request's budget and recent
	// override; nil: full attention unless a request asks.
	Sparse *sparse.Config
}

// Options configure a Server.
type Options struct {
	// APIKeys, when not empty, are the keys accepted in "Authorization: Bearer KEY".
	APIKeys []string
	// MaxBodyBytes bounds request bodies (0: 8 MiB); larger ones get 413.
	MaxBodyBytes int64
	// Logger receives one line per request (nil: slog.Default()).
	Logger *slog.Logger
	// Tree configures task-tree decoding: its default, tool hosts, the operator's tools.
	Tree TreeOptions
	// SpecialTokensInContent lets special-token text in chat messages (contents, tool calls and
	// results, tool definitions) become control tokens, as the chat template's markup does. By
	// default it is encoded as plain text, so that a client cannot write role markup into a
	// message; completions prompts are parsed for special tokens either way.
	SpecialTokensInContent bool
	// MetricsKey, when set, is the key /metrics requires ("Authorization: Bearer KEY");
	// empty: /metrics is open.
	MetricsKey string
	// CORSOrigins are the origins whose browser pages may call the API ("*": any); none: no
	// CORS headers. See cors.go; CheckCORSOrigin validates an entry.
	CORSOrigins []string
	// Embedder answers /v1/embeddings (nil: the built-in hashed n-gram embedder, or Memory's
	// embedder when there is memory).
	Embedder embed.Embedder
	// Memory serves chat requests that name a session and the session API (nil: memory off;
	// requests naming a session get 400, the session API 404). The caller closes it.
	Memory *session.Manager
	// MemoryBudget bounds the prompt a session request is given (0: DefaultMemoryBudget); it
	// is never above the context less the request's max_tokens.
	MemoryBudget int
	// Summarizer and ModelEmbedder, when set, are handed the model once it is ready (see
	// ModelSummarizer, ModelEmbedder).
	Summarizer    *ModelSummarizer
	ModelEmbedder *ModelEmbedder
}

// DefaultMaxBodyBytes is the body limit when Options.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 8 << 20

// Server is the HTTP API. It answers at once: /health says 503 until Ready is called, so that a
// load balancer can wait for the model while the process is already up.
type Server struct {
	echo     *echo.Echo
	opt      Options
	log      *slog.Logger
	keys     [][sha256.Size]byte
	state    atomic.Pointer[modelState]
	draining atomic.Bool
	metrics  *metrics

	opToolsOnce sync.Once
	opTools     *tools.Set
	opToolsErr  error

	hashedOnce sync.Once
	hashed     *embed.Hashed
}

// modelState is everything that exists once the model is loaded.
type modelState struct {
	gen        Generator
	tok        *tokenizer.Tokenizer
	model      Model
	tmpl       *chat.Template // nil: the model has no chat template
	specials   *chat.Specials // special-token texts to read as plain text in chat contents (nil: none)
	toolFormat parsers.ToolFormat
	reasoning  bool
	created    int64
	tokCache   sync.Map // int32 -> tokenInfo, the text and bytes of tokens for logprobs

	sparseOnce    sync.Once
	sparseDefault sparse.Config
}

// New makes a server; call Ready when the model is loaded.
func New(opt Options) *Server {
	if opt.MaxBodyBytes <= 0 {
		opt.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	s := &Server{opt: opt, log: opt.Logger}
	for _, k := range opt.APIKeys {
		if k != "" {
			s.keys = append(s.keys, sha256.Sum256([]byte(k)))
		}
	}
	s.metrics = newMetrics(s)
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.httpErrorHandler
	e.Use(s.requestLog, s.recoverPanic, s.cors, s.admission, s.auth, s.limitBody)
	e.GET("/health", s.health)
	e.GET("/metrics", s.metrics.handler, s.metricsAuth)
	e.GET("/v1/models", s.models)
	e.POST("/v1/chat/completions", s.chatCompletions)
	e.POST("/v1/completions", s.completions)
	e.POST("/v1/embeddings", s.embeddings)
	sessions := e.Group("/v1/sessions", s.memoryOn)
	sessions.GET("", s.listSessions)
	sessions.GET("/:id", s.getSession)
	sessions.GET("/:id/turns", s.sessionTurns)
	sessions.GET("/:id/memory", s.sessionMemory)
	sessions.DELETE("/:id", s.deleteSession)
	s.echo = e
	return s
}

// Handler is the server's http.Handler.
func (s *Server) Handler() http.Handler { return s.echo }

// Ready attaches the loaded model; from now on requests are served and /health answers 200.
func (s *Server) Ready(gen Generator, m Model) error {
	tok := gen.Tokenizer()
	st := &modelState{gen: gen, tok: tok, model: m, created: m.Created.Unix()}
	if m.Created.IsZero() {
		st.created = time.Now().Unix()
	}
	src := m.ChatTemplate
	if src == "" {
		src = tok.ChatTemplate()
	}
	if src != "" {
		t, err := chat.Compile(src)
		if err != nil {
			return fmt.Errorf("server: chat template of %s: %w", m.Name, err)
		}
		st.tmpl = t
		if !s.opt.SpecialTokensInContent {
			st.specials = chat.NewSpecials(tok.SpecialTokens())
		}
		st.toolFormat = parsers.DetectToolFormat(src)
		st.reasoning = parsers.DetectReasoning(src)
	}
	s.state.Store(st)
	if s.opt.Summarizer != nil {
		s.opt.Summarizer.st.Store(st)
	}
	if s.opt.ModelEmbedder != nil {
		s.opt.ModelEmbedder.st.Store(st)
	}
	s.log.Info("model ready", "model", m.Name, "demo", m.Demo, "context", gen.MaxContext(),
		"chat_template", st.tmpl != nil, "tool_format", st.toolFormat.String(), "reasoning", st.reasoning)
	return nil
}

// Drain stops admitting requests (new ones get 503 and /health turns 503), then lets the
// running ones finish until ctx ends and cancels the rest (their streams end with an error).
// Call it before shutting the HTTP server down, which then waits for the handlers to return.
func (s *Server) Drain(ctx context.Context) error {
	s.draining.Store(true)
	st := s.state.Load()
	if st == nil {
		return nil
	}
	if err := st.gen.Shutdown(ctx); err != nil {
		return fmt.Errorf("server: drain: %w", err)
	}
	return nil
}

// ready returns the model state, or the 503 to answer while loading or draining.
func (s *Server) ready() (*modelState, error) {
	if s.draining.Load() {
		return nil, openai.Unavailable("the server is shutting down")
	}
	st := s.state.Load()
	if st == nil {
		return nil, openai.Unavailable("the model is still loading; retry shortly")
	}
	return st, nil
}

func (s *Server) health(c echo.Context) error {
	if _, err := s.ready(); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) models(c echo.Context) error {
	st, err := s.ready()
	if err != nil {
		return err
	}
	type modelCard struct {
		ID          string `json:"id"`
		Object      string `json:"object"`
		Created     int64  `json:"created"`
		OwnedBy     string `json:"owned_by"`
		MaxModelLen int    `json:"max_model_len"`
		Root        string `json:"root,omitempty"`
		Demo        bool   `json:"demo,omitempty"`
		Description string `json:"description,omitempty"`
	}
	card := modelCard{ID: st.model.Name, Object: "model", Created: st.created, OwnedBy: "arbor",
		MaxModelLen: st.gen.MaxContext(), Root: st.model.Path}
	if st.model.Demo {
		card.Demo = true
		card.Description = "Arbor's built-in demo model: 3.4M parameters trained by Arbor to solve arithmetic " +
			"word problems with a calculator (task trees or tool calls); it knows nothing else. Serve a real model with --model."
	}
	return c.JSON(http.StatusOK, map[string]any{"object": "list", "data": []modelCard{card}})
}

// checkModel accepts the served name exactly, or an absent model field.
func (st *modelState) checkModel(name string) error {
	if name == "" || name == st.model.Name {
		return nil
	}
	return &openai.APIError{Status: http.StatusBadRequest, Type: openai.TypeInvalidRequest,
		Param:   openai.StrPtr("model"),
		Code:    openai.StrPtr("model_not_found"),
		Message: fmt.Sprintf("the model %q does not exist; this server serves %q", name, st.model.Name)}
}

// sparseFor is the sparse-attention config of a request whose sparse_attention field is sa
// (nil: absent): the server's default when absent, none for "none"; for "delta", the
// server's config (or the default placement for the model's layers when it has none) with
// the request's budget and recent, if given, in place of its own.
func (st *modelState) sparseFor(sa *openai.SparseAttention) (*sparse.Config, error) {
	switch {
	case sa == nil:
		return st.model.Sparse, nil
	case !sa.Delta:
		return nil, nil
	}
	var c sparse.Config
	switch {
	case st.model.Sparse != nil:
		c = *st.model.Sparse // Layers is shared, never written
	case st.model.Layers > 0:
		c = st.defaultSparse()
	default:
		// Without the model's depth there is no placement to make, and a config of the wrong
		// depth would fail the whole batch's step in the backend.
		return nil, openai.BadRequest("sparse_attention",
			"'sparse_attention': this server has no sparse-attention placement for its model")
	}
	if sa.Budget > 0 {
		c.Budget = sa.Budget
	}
	if sa.Recent > 0 {
		c.Recent = sa.Recent
	}
	// The layer modes were checked against the model at start-up (or are the default
	// placement's); this checks what the request changed.
	if err := c.Validate(len(c.Layers)); err != nil {
		return nil, openai.BadRequest("sparse_attention", "'sparse_attention': %v", err)
	}
	return &c, nil
}

// defaultSparse is the default placement for the model's layers, made once: every "delta"
// request of a server without a config of its own shares it.
func (st *modelState) defaultSparse() sparse.Config {
	st.sparseOnce.Do(func() { st.sparseDefault = sparse.DefaultConfig(st.model.Layers) })
	return st.sparseDefault
}

// Context keys for what the request log reports.
const (
	ctxKeyRequestID  = "arbor.request_id"
	ctxKeyPrompt     = "arbor.prompt_tokens"
	ctxKeyCompletion = "arbor.completion_tokens"
	ctxKeyFinish     = "arbor.finish_reason"
	ctxKeyError      = "arbor.error"
)

// requestLog gives each request an id and writes one structured line when it ends. Probes of
// /health and /metrics are logged at debug level: they come every few seconds and would bury
// the lines people read.
func (s *Server) requestLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if id == "" || len(id) > 128 || strings.ContainsFunc(id, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
			id = newRequestID()
		}
		c.Set(ctxKeyRequestID, id)
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		if err := next(c); err != nil {
			c.Error(err)
		}
		req, res := c.Request(), c.Response()
		attrs := []any{
			"method", req.Method, "path", req.URL.Path, "status", res.Status,
			"latency_ms", float64(time.Since(start).Microseconds()) / 1000, "request_id", id,
		}
		if v, ok := c.Get(ctxKeyPrompt).(int); ok {
			attrs = append(attrs, "prompt_tokens", v)
		}
		if v, ok := c.Get(ctxKeyCompletion).(int); ok {
			attrs = append(attrs, "completion_tokens", v)
		}
		if v, ok := c.Get(ctxKeyFinish).(string); ok {
			attrs = append(attrs, "finish_reason", v)
		}
		if v, ok := c.Get(ctxKeyError).(string); ok {
			attrs = append(attrs, "error", v)
		}
		level := slog.LevelInfo
		switch {
		case res.Status == http.StatusInternalServerError:
			level = slog.LevelError
		case open(req.URL.Path):
			level = slog.LevelDebug
		case res.Status >= 500: // 503 while loading or draining: expected, not a fault
			level = slog.LevelWarn
		}
		s.log.Log(req.Context(), level, "request", attrs...)
		return nil
	}
}

func newRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// recoverPanic turns a panic in a handler into a 500 in the error shape, with the stack in the
// log, so that a bug costs one request and not the process.
func (s *Server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r) // the http server's own way to abort a response
				}
				s.log.Error("panic in handler", "panic", fmt.Sprint(r), "path", c.Request().URL.Path,
					"request_id", c.Get(ctxKeyRequestID), "stack", string(debug.Stack()))
				err = &openai.APIError{Status: http.StatusInternalServerError, Type: openai.TypeServer,
					Message: "internal server error (request id " + fmt.Sprint(c.Get(ctxKeyRequestID)) + ")"}
			}
		}()
		return next(c)
	}
}

// open reports whether a path needs no API key and stays answered while draining (/metrics
// may need the metrics key instead: metricsAuth).
func open(path string) bool { return path == "/health" || path == "/metrics" }

// admission answers 503 to API requests while the server drains.
func (s *Server) admission(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.draining.Load() && !open(c.Request().URL.Path) {
			return openai.Unavailable("the server is shutting down")
		}
		return next(c)
	}
}

// auth checks "Authorization: Bearer KEY" when keys are configured (bearerMatch).
func (s *Server) auth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if len(s.keys) == 0 || open(c.Request().URL.Path) {
			return next(c)
		}
		h := c.Request().Header.Get(echo.HeaderAuthorization)
		if bearerMatch(h, s.keys) {
			return next(c)
		}
		msg := "missing API key: send \"Authorization: Bearer YOUR_KEY\""
		if h != "" {
			msg = "invalid API key"
		}
		return &openai.APIError{Status: http.StatusUnauthorized, Type: openai.TypeAuthentication,
			Code: openai.StrPtr("invalid_api_key"), Message: msg}
	}
}

// limitBody refuses bodies over the limit: at once when Content-Length says so, otherwise when
// reading passes it (http.MaxBytesReader; the handlers map its error to 413).
func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.ContentLength > s.opt.MaxBodyBytes {
			return &openai.APIError{Status: http.StatusRequestEntityTooLarge, Type: openai.TypeInvalidRequest,
				Message: fmt.Sprintf("request body of %d bytes is larger than the limit of %d bytes",
					req.ContentLength, s.opt.MaxBodyBytes)}
		}
		req.Body = http.MaxBytesReader(c.Response(), req.Body, s.opt.MaxBodyBytes)
		return next(c)
	}
}
