package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Errors a Result.Err wraps, for errors.Is. A tool's own errors are wrapped too, such as
// httptool's ErrHostNotAllowed and *httptool.StatusError.
var (
	ErrUnknownTool      = errors.New("unknown tool")
	ErrInvalidArguments = errors.New("invalid arguments")
	ErrTimeout          = errors.New("timed out")
	ErrTooLarge         = errors.New("result too large")
	ErrInvalidResult    = errors.New("tool returned invalid JSON")
)

// PanicError is a panic inside a Go tool's Call, recovered by Set.Call. The model reads only
// the value; Stack is there for the operator's log.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Result of a call through a Set: always valid compact JSON for the model to read.
type Result struct {
	JSON     json.RawMessage // the tool's result, or {"error":"..."} on any failure
	Err      error           // nil on success; the failure otherwise (bad args, timeout, HTTP status, tool error)
	Cached   bool
	Duration time.Duration
}

// DefaultMaxResultBytes bounds a result written into the sequence, whatever the tool.
const DefaultMaxResultBytes = 1 << 20

// setCacheEntries bounds the per-Set cache; a Set lives for one request, whose calls are few.
const setCacheEntries = 256

// Set is the tools one request may call: the operator's plus the request's own.
//
// All methods are safe for concurrent use. Arguments are validated against each tool's
// parameters schema, compiled once when the tool is added; successful results are cached in the
// Set, and in a shared Cache when one is attached.
type Set struct {
	mu      sync.RWMutex
	order   []*entry
	byName  map[string]*entry
	shared  *Cache
	local   *Cache
	timeout time.Duration
	maxRes  int64
}

// entry is immutable once added, so Clone can share it.
type entry struct {
	tool   Tool
	schema *jsonschema.Schema
	key    string // CacheKey, "" when results must not leave the Set
}

// NewSet returns a Set of tools. Duplicate names, or a parameters schema that does not compile,
// are errors.
func NewSet(tools ...Tool) (*Set, error) {
	s := &Set{
		byName: map[string]*entry{},
		local:  NewCache(setCacheEntries, 0),
		maxRes: DefaultMaxResultBytes,
	}
	for _, t := range tools {
		if err := s.Add(t); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Add adds a tool; its name must be new to the Set and its parameters a valid schema.
func (s *Set) Add(t Tool) error {
	if t == nil {
		return errors.New("tools: nil tool")
	}
	name := t.Name()
	if err := CheckName(name); err != nil {
		return err
	}
	schema, err := CompileSchema(t.Parameters())
	if err != nil {
		return fmt.Errorf("tool %q: parameters: %w", name, err)
	}
	e := &entry{tool: t, schema: schema}
	if k, ok := t.(CacheKeyer); ok {
		e.key = k.CacheKey()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.byName[name]; dup {
		return fmt.Errorf("tool %q: declared twice", name)
	}
	s.byName[name] = e
	s.order = append(s.order, e)
	return nil
}

// CheckName rejects names that cannot be written between quotes in a prompt or a grammar rule
// without confusion; anything else (dots, slashes of MCP names, TIMRUN's CamelCase) is allowed.
func CheckName(name string) error {
	if name == "" {
		return errors.New("tools: tool with an empty name")
	}
	if len(name) > 128 {
		return fmt.Errorf("tools: tool name %.20q...: longer than 128 bytes", name)
	}
	for _, r := range name {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == '"' || r == '\\' {
			return fmt.Errorf("tools: tool name %q: no spaces, quotes, backslashes or control characters", name)
		}
	}
	return nil
}

// Get returns the tool called name.
func (s *Set) Get(name string) (Tool, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.byName[name]
	if !ok {
		return nil, false
	}
	return e.tool, true
}

// Tools returns the tools in insertion order.
func (s *Set) Tools() []Tool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Tool, len(s.order))
	for i, e := range s.order {
		out[i] = e.tool
	}
	return out
}

// Len is the number of tools.
func (s *Set) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.order)
}

// Clone returns a Set with the same tools (schemas not recompiled), shared cache, timeout and
// result limit, and an empty per-Set cache. Build the operator's tools into a Set once, then Clone
// it per request and Add the request's own tools.
func (s *Set) Clone() *Set {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c := &Set{
		order:   append([]*entry(nil), s.order...),
		byName:  make(map[string]*entry, len(s.byName)),
		shared:  s.shared,
		local:   NewCache(setCacheEntries, 0),
		timeout: s.timeout,
		maxRes:  s.maxRes,
	}
	for k, v := range s.byName {
		c.byName[k] = v
	}
	return c
}

// WithCache attaches a longer-lived cache shared with other Sets (nil detaches) and returns s.
func (s *Set) WithCache(c *Cache) *Set {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shared = c
	return s
}

// WithTimeout bounds every call, on top of the caller's context and the tool's own timeout
// (d <= 0: no bound of the Set's own), and returns s. Set.Call returns at the bound even when a
// Go tool ignores its context; the decode must not wait on a stuck tool.
func (s *Set) WithTimeout(d time.Duration) *Set {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.timeout = d
	return s
}

// WithMaxResultBytes sets the largest result accepted from any tool (n <= 0: the default,
// DefaultMaxResultBytes) and returns s.
func (s *Set) WithMaxResultBytes(n int64) *Set {
	if n <= 0 {
		n = DefaultMaxResultBytes
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxRes = n
	return s
}

// Call validates args against the tool's schema, calls it (or answers from a cache) and returns
// the result. It never panics and never returns invalid JSON: every failure becomes
// {"error":"..."} in Result.JSON, with the cause in Result.Err. Empty args mean {}.
func (s *Set) Call(ctx context.Context, name string, args json.RawMessage) Result {
	start := time.Now()
	res := s.call(ctx, name, args)
	if res.Err != nil {
		res.JSON = errorJSON(res.Err.Error())
	}
	res.Duration = time.Since(start)
	return res
}

// JSONCaller calls tools through Set and returns the result's JSON and error apart, the shape
// of tree.Caller (the task-tree runtime's tool runner).
type JSONCaller struct{ Set *Set }

// Call is Set.Call, its Result split.
func (c JSONCaller) Call(ctx context.Context, name string, args json.RawMessage) (json.RawMessage, error) {
	res := c.Set.Call(ctx, name, args)
	return res.JSON, res.Err
}

func (s *Set) call(ctx context.Context, name string, raw json.RawMessage) Result {
	s.mu.RLock()
	e := s.byName[name]
	shared, local, timeout, maxRes := s.shared, s.local, s.timeout, s.maxRes
	var names []string
	if e == nil {
		for _, o := range s.order {
			names = append(names, o.tool.Name())
		}
	}
	s.mu.RUnlock()

	if e == nil {
		// The model reads this; naming what exists lets it correct itself.
		if len(names) == 0 {
			return Result{Err: fmt.Errorf("%w %q (no tools are available)", ErrUnknownTool, name)}
		}
		return Result{Err: fmt.Errorf("%w %q (available: %s)", ErrUnknownTool, name, strings.Join(names, ", "))}
	}
	a, err := parseArgs(raw)
	if err != nil {
		return Result{Err: fmt.Errorf("tool %q: %w: %s", name, ErrInvalidArguments, err)}
	}
	if err := e.schema.Validate(a.value); err != nil {
		return Result{Err: fmt.Errorf("tool %q: %w: %s", name, ErrInvalidArguments, describeValidation(err))}
	}

	// Names are unique within a Set, so name+args identifies the call there; across Sets only the
	// tool's CacheKey does.
	localKey := name + "\x00" + a.canon
	if v, ok := local.get(localKey); ok {
		return Result{JSON: v, Cached: true}
	}
	var sharedKey string
	if shared != nil && e.key != "" {
		sharedKey = e.key + "\x00" + a.canon
		if v, ok := shared.get(sharedKey); ok {
			local.put(localKey, v)
			return Result{JSON: v, Cached: true}
		}
	}

	callCtx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		callCtx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	out, err := invoke(callCtx, e.tool, a.compact)
	if err != nil {
		return Result{Err: callError(ctx, callCtx, name, timeout, err)}
	}
	if int64(len(out)) > maxRes {
		return Result{Err: fmt.Errorf("tool %q: %w: %d bytes, limit %d", name, ErrTooLarge, len(out), maxRes)}
	}
	out, err = compactResult(out)
	if err != nil {
		return Result{Err: fmt.Errorf("tool %q: %w", name, err)}
	}
	local.put(localKey, out)
	if sharedKey != "" {
		shared.put(sharedKey, out)
	}
	return Result{JSON: out}
}

// callError words a failed call. A context that ended is reported as the Set's timeout or the
// caller's deadline or cancellation, whatever the tool made of it; anything else is the tool's own
// error.
func callError(ctx, callCtx context.Context, name string, timeout time.Duration, err error) error {
	if callCtx.Err() != nil {
		switch {
		case ctx.Err() == nil: // only the Set's own bound ended
			return fmt.Errorf("tool %q: %w after %s", name, ErrTimeout, timeout)
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			return fmt.Errorf("tool %q: %w (request deadline): %w", name, ErrTimeout, ctx.Err())
		default:
			return fmt.Errorf("tool %q: call canceled: %w", name, ctx.Err())
		}
	}
	return fmt.Errorf("tool %q: %w", name, err)
}

// invoke runs the tool in its own goroutine so that a panic is recovered and a tool that ignores
// its context cannot hold the decode past the context's end; such a tool's goroutine finishes on
// its own time and its result is dropped.
func invoke(ctx context.Context, t Tool, args []byte) (json.RawMessage, error) {
	type outcome struct {
		res json.RawMessage
		err error
	}
	ch := make(chan outcome, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				ch <- outcome{err: &PanicError{Value: r, Stack: debug.Stack()}}
			}
		}()
		res, err := t.Call(ctx, args)
		ch <- outcome{res, err}
	}()
	select {
	case o := <-ch:
		return o.res, o.err
	case <-ctx.Done():
		select {
		case o := <-ch: // finished at the same moment: keep the work
			return o.res, o.err
		default:
			return nil, ctx.Err()
		}
	}
}
