package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeTool is a Go tool whose behaviour each test chooses.
type fakeTool struct {
	name   string
	params string
	key    string
	calls  atomic.Int32
	fn     func(ctx context.Context, args json.RawMessage) (json.RawMessage, error)
}

func (f *fakeTool) Name() string        { return f.name }
func (f *fakeTool) Description() string { return "fake " + f.name }
func (f *fakeTool) Parameters() json.RawMessage {
	if f.params == "" {
		return nil
	}
	return json.RawMessage(f.params)
}
func (f *fakeTool) Call(ctx context.Context, args json.RawMessage) (json.RawMessage, error) {
	f.calls.Add(1)
	return f.fn(ctx, args)
}

// keyedTool adds a CacheKey to a fakeTool.
type keyedTool struct{ *fakeTool }

func (k keyedTool) CacheKey() string { return k.key }

func echo(name string) *fakeTool {
	return &fakeTool{name: name, fn: func(_ context.Context, args json.RawMessage) (json.RawMessage, error) {
		return json.RawMessage(`{"args":` + string(args) + `}`), nil
	}}
}

func mustSet(t *testing.T, tools ...Tool) *Set {
	t.Helper()
	s, err := NewSet(tools...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkErrorJSON asserts the model-facing form of a failure: exactly {"error":"..."}, compact.
func checkErrorJSON(t *testing.T, res Result, want string) {
	t.Helper()
	if res.Err == nil {
		t.Fatalf("no error; JSON %s", res.JSON)
	}
	var m map[string]string
	if err := json.Unmarshal(res.JSON, &m); err != nil || len(m) != 1 {
		t.Fatalf("error JSON %s is not {\"error\":...}: %v", res.JSON, err)
	}
	if m["error"] != res.Err.Error() {
		t.Errorf("error JSON %q differs from Err %q", m["error"], res.Err)
	}
	if !strings.Contains(m["error"], want) {
		t.Errorf("error %q does not contain %q", m["error"], want)
	}
	if strings.ContainsAny(string(res.JSON), "\n\t") {
		t.Errorf("error JSON not compact: %q", res.JSON)
	}
}

func TestNewSetErrors(t *testing.T) {
	cases := []struct {
		tools []Tool
		want  string
	}{
		{[]Tool{echo("a"), echo("b"), echo("a")}, `tool "a": declared twice`},
		{[]Tool{nil}, "nil tool"},
		{[]Tool{echo("")}, "empty name"},
		{[]Tool{echo("two words")}, "no spaces"},
		{[]Tool{&fakeTool{name: "bad", params: `{"type":"objekt"}`}}, `tool "bad": parameters`},
		{[]Tool{&fakeTool{name: "notjson", params: `{"type":`}}, "not valid JSON"},
		{[]Tool{&fakeTool{name: "array", params: `[]`}}, "must be a JSON object"},
		// A request's schema must not make the server read its own files.
		{[]Tool{&fakeTool{name: "ref", params: `{"$ref":"file:///etc/passwd"}`}}, "not loaded"},
	}
	for _, c := range cases {
		_, err := NewSet(c.tools...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want error containing %q", err, c.want)
		}
	}
}

func TestSetGetToolsClone(t *testing.T) {
	a, b, c := echo("a"), echo("b"), echo("c")
	s := mustSet(t, b, a)
	if got, ok := s.Get("a"); !ok || got != a {
		t.Errorf("Get(a) = %v, %v", got, ok)
	}
	if _, ok := s.Get("zzz"); ok {
		t.Error("Get(zzz) found something")
	}
	clone := s.Clone()
	if err := clone.Add(c); err != nil {
		t.Fatal(err)
	}
	if err := clone.Add(echo("a")); err == nil {
		t.Error("clone accepted a duplicate of a cloned tool")
	}
	names := func(ts []Tool) string {
		var n []string
		for _, t := range ts {
			n = append(n, t.Name())
		}
		return strings.Join(n, ",")
	}
	if got := names(s.Tools()); got != "b,a" {
		t.Errorf("original tools %s, want b,a (insertion order, clone's additions not shared)", got)
	}
	if got := names(clone.Tools()); got != "b,a,c" {
		t.Errorf("clone tools %s, want b,a,c", got)
	}
	if s.Len() != 2 || clone.Len() != 3 {
		t.Errorf("Len %d, %d", s.Len(), clone.Len())
	}
	// The per-Set cache is per Set: a call through s is not a hit in the clone.
	s.Call(context.Background(), "a", json.RawMessage(`{}`))
	if res := clone.Call(context.Background(), "a", json.RawMessage(`{}`)); res.Cached || a.calls.Load() != 2 {
		t.Errorf("clone shared the per-Set cache: cached %v, calls %d", res.Cached, a.calls.Load())
	}
}

func TestCallFailures(t *testing.T) {
	params := `{"type":"object","properties":{"n":{"type":"integer","minimum":0}},"required":["n"],` +
		`"additionalProperties":false}`
	ok := &fakeTool{name: "ok", params: params, fn: func(context.Context, json.RawMessage) (json.RawMessage, error) {
		return json.RawMessage(`1`), nil
	}}
	fails := &fakeTool{name: "fails", fn: func(context.Context, json.RawMessage) (json.RawMessage, error) {
		return nil, errors.New("backend <down> & out")
	}}
	panics := &fakeTool{name: "panics", fn: func(context.Context, json.RawMessage) (json.RawMessage, error) {
		var m map[string]int
		m["x"] = 1 // nil map write: a real runtime panic
		return nil, nil
	}}
	badJSON := &fakeTool{name: "badjson", fn: func(context.Context, json.RawMessage) (json.RawMessage, error) {
		return json.RawMessage(`{"a":`), nil
	}}
	empty := &fakeTool{name: "empty", fn: func(context.Context, json.RawMessage) (json.RawMessage, error) {
		return nil, nil
	}}
	big := &fakeTool{name: "big", fn: func(context.Context, json.RawMessage) (json.RawMessage, error) {
		return json.RawMessage(`"` + strings.Repeat("x", 100) + `"`), nil
	}}
	release := make(chan struct{})
	defer close(release)
	stuck := &fakeTool{name: "stuck", fn: func(context.Context, json.RawMessage) (json.RawMessage, error) {
		<-release // ignores its context, as a careless Go tool might
		return json.RawMessage(`1`), nil
	}}
	s := mustSet(t, ok, fails, panics, badJSON, empty, big, stuck).WithMaxResultBytes(50)
	bg := context.Background()

	cases := []struct {
		name, args string
		is         error
		want       string
	}{
		{"nope", `{}`, ErrUnknownTool,
			`unknown tool "nope" (available: ok, fails, panics, badjson, empty, big, stuck)`},
		{"ok", `{"n":`, ErrInvalidArguments, `tool "ok": invalid arguments: not valid JSON`},
		{"ok", `{"n":1} {"n":2}`, ErrInvalidArguments, "not valid JSON"},
		{"ok", `{"n":-1}`, ErrInvalidArguments, "at /n: minimum: got -1, want 0"},
		{"ok", `{"n":"1"}`, ErrInvalidArguments, "at /n: got string, want integer"},
		{"ok", `{}`, ErrInvalidArguments, "missing property 'n'"},
		{"ok", `{"n":1,"m":2}`, ErrInvalidArguments, "'m' not allowed"},
		{"fails", `{}`, nil, `tool "fails": backend <down> & out`},
		{"panics", `{}`, nil, `tool "panics": panic: assignment to entry in nil map`},
		{"badjson", `{}`, ErrInvalidResult, `tool "badjson": tool returned invalid JSON`},
		{"empty", `{}`, ErrInvalidResult, "empty result"},
		{"big", `{}`, ErrTooLarge, `tool "big": result too large: 102 bytes, limit 50`},
	}
	for _, c := range cases {
		res := s.Call(bg, c.name, json.RawMessage(c.args))
		checkErrorJSON(t, res, c.want)
		if c.is != nil && !errors.Is(res.Err, c.is) {
			t.Errorf("%s %s: %v is not %v", c.name, c.args, res.Err, c.is)
		}
	}
	var pe *PanicError
	if res := s.Call(bg, "panics", nil); !errors.As(res.Err, &pe) ||
		!strings.Contains(string(pe.Stack), "set_test.go") {
		t.Errorf("panic error %v lacks a stack pointing at the tool", res.Err)
	}

	// Timeouts: the Set's own bound, the caller's deadline, the caller's cancellation. Each must
	// return promptly although the tool never looks at its context.
	start := time.Now()
	res := mustSet(t, stuck).WithTimeout(30*time.Millisecond).Call(bg, "stuck", nil)
	checkErrorJSON(t, res, `tool "stuck": timed out after 30ms`)
	if !errors.Is(res.Err, ErrTimeout) {
		t.Errorf("%v is not ErrTimeout", res.Err)
	}
	ctx, cancel := context.WithTimeout(bg, 30*time.Millisecond)
	defer cancel()
	res = s.Call(ctx, "stuck", nil)
	checkErrorJSON(t, res, "timed out (request deadline)")
	if !errors.Is(res.Err, ErrTimeout) || !errors.Is(res.Err, context.DeadlineExceeded) {
		t.Errorf("%v is not ErrTimeout and DeadlineExceeded", res.Err)
	}
	ctx, cancel = context.WithCancel(bg)
	time.AfterFunc(30*time.Millisecond, cancel)
	res = s.Call(ctx, "stuck", nil)
	checkErrorJSON(t, res, "call canceled")
	if !errors.Is(res.Err, context.Canceled) {
		t.Errorf("%v is not Canceled", res.Err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("three 30ms timeouts took %v", d)
	}
	if res.Duration <= 0 || res.Duration > 2*time.Second {
		t.Errorf("Duration %v", res.Duration)
	}
}

func TestCallResultForm(t *testing.T) {
	var got json.RawMessage
	pretty := &fakeTool{name: "pretty", fn: func(_ context.Context, args json.RawMessage) (json.RawMessage, error) {
		got = args
		return json.RawMessage("{\n  \"a\": [1, 2],\n  \"s\": \"x y\"\n}\n"), nil
	}}
	latin1 := &fakeTool{name: "latin1", fn: func(context.Context, json.RawMessage) (json.RawMessage, error) {
		return json.RawMessage("{\"s\":\"caf\xe9\"}"), nil
	}}
	s := mustSet(t, pretty, latin1)
	res := s.Call(context.Background(), "pretty", json.RawMessage(" { \"b\" : 1 ,\n \"a\" : 2 } "))
	if res.Err != nil || string(res.JSON) != `{"a":[1,2],"s":"x y"}` {
		t.Errorf("result %s (%v), want compact", res.JSON, res.Err)
	}
	if string(got) != `{"b":1,"a":2}` {
		t.Errorf("tool got args %s, want them compacted in their order", got)
	}
	if res := s.Call(context.Background(), "pretty", nil); res.Err != nil || string(got) != `{}` {
		t.Errorf("empty args reached the tool as %s (%v), want {}", got, res.Err)
	}
	res = s.Call(context.Background(), "latin1", nil)
	if res.Err != nil || string(res.JSON) != "{\"s\":\"caf\uFFFD\"}" {
		t.Errorf("invalid UTF-8 result became %q (%v)", res.JSON, res.Err)
	}
}

func TestCallCachesSuccessesPerSet(t *testing.T) {
	fail := true
	var mu sync.Mutex
	flaky := &fakeTool{name: "flaky", fn: func(_ context.Context, args json.RawMessage) (json.RawMessage, error) {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			fail = false
			return nil, errors.New("try again")
		}
		return json.RawMessage(`{"ok":` + string(args) + `}`), nil
	}}
	s := mustSet(t, flaky)
	ctx := context.Background()
	if res := s.Call(ctx, "flaky", json.RawMessage(`{"a":1,"b":[1,2]}`)); res.Err == nil {
		t.Fatal("first call should fail")
	}
	res := s.Call(ctx, "flaky", json.RawMessage(`{"a":1,"b":[1,2]}`))
	if res.Err != nil || res.Cached {
		t.Fatalf("a failure was cached: %s %v cached=%v", res.JSON, res.Err, res.Cached)
	}
	first := string(res.JSON)
	// Same arguments, other key order and spacing: a hit.
	res = s.Call(ctx, "flaky", json.RawMessage(`{ "b" : [1, 2], "a": 1 }`))
	if !res.Cached || string(res.JSON) != first || res.Err != nil {
		t.Errorf("reordered args: cached=%v %s, want hit %s", res.Cached, res.JSON, first)
	}
	if n := flaky.calls.Load(); n != 2 {
		t.Errorf("%d calls, want 2", n)
	}
	// The caller may scribble on a result; the cache keeps its own copy.
	res.JSON[0] = 'X'
	if res = s.Call(ctx, "flaky", json.RawMessage(`{"a":1,"b":[1,2]}`)); string(res.JSON) != first {
		t.Errorf("cache corrupted by the caller: %s", res.JSON)
	}
	// Different arguments: a call.
	if res = s.Call(ctx, "flaky", json.RawMessage(`{"a":2,"b":[1,2]}`)); res.Cached {
		t.Error("different arguments hit the cache")
	}
	if res = s.Call(ctx, "flaky", json.RawMessage(`{"a":1,"b":[2,1]}`)); res.Cached {
		t.Error("array order was canonicalized away")
	}
}

func TestSharedCache(t *testing.T) {
	cache := NewCache(10, time.Minute)
	mk := func(key string) (*fakeTool, Tool) {
		f := echo("search")
		f.key = key
		if key == "" {
			return f, f
		}
		return f, keyedTool{f}
	}
	ctx := context.Background()
	args := json.RawMessage(`{"q":"go"}`)

	f1, t1 := mk("http POST http://a/search")
	f2, t2 := mk("http POST http://a/search") // another request declaring the same endpoint
	f3, t3 := mk("http POST http://b/search") // same name, another endpoint
	f4, t4 := mk("")                          // no CacheKey: never shared
	mustSet(t, t1).WithCache(cache).Call(ctx, "search", args)
	if res := mustSet(t, t2).WithCache(cache).Call(ctx, "search", args); !res.Cached || f2.calls.Load() != 0 {
		t.Errorf("same endpoint in another Set: cached=%v, calls=%d", res.Cached, f2.calls.Load())
	}
	if res := mustSet(t, t3).WithCache(cache).Call(ctx, "search", args); res.Cached || f3.calls.Load() != 1 {
		t.Errorf("another endpoint with the same name hit the shared cache")
	}
	mustSet(t, t4).WithCache(cache).Call(ctx, "search", args)
	if res := mustSet(t, t4).WithCache(cache).Call(ctx, "search", args); res.Cached || f4.calls.Load() != 2 {
		t.Errorf("a tool without CacheKey was shared")
	}
	if f1.calls.Load() != 1 {
		t.Errorf("f1 called %d times", f1.calls.Load())
	}
	if st := cache.Stats(); st.Entries != 2 || st.Hits != 1 {
		t.Errorf("stats %+v, want 2 entries (a, b) and 1 hit", st)
	}
}

func TestConcurrentCalls(t *testing.T) {
	slow := &fakeTool{name: "slow", fn: func(_ context.Context, args json.RawMessage) (json.RawMessage, error) {
		time.Sleep(time.Millisecond)
		return args, nil
	}}
	// A keyed Go tool (as the calculator is), so that calls also go through the shared cache.
	type mulIn struct {
		Expression string `json:"expression"`
	}
	type mulOut struct {
		Result string `json:"result"`
	}
	mul, err := Func("calculator", "multiplies: a*b", func(_ context.Context, in mulIn) (mulOut, error) {
		var a, b int
		if _, err := fmt.Sscanf(in.Expression, "%d*%d", &a, &b); err != nil {
			return mulOut{}, err
		}
		return mulOut{Result: fmt.Sprint(a * b)}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s := mustSet(t, WithCacheKey(mul, "test:mul"), slow).WithCache(NewCache(16, 0))
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				expr := fmt.Sprintf(`{"expression":"%d*%d"}`, i%7, g)
				res := s.Call(context.Background(), "calculator", json.RawMessage(expr))
				var out mulOut
				if err := json.Unmarshal(res.JSON, &out); err != nil || out.Result != fmt.Sprint(i%7*g) {
					errs <- fmt.Errorf("%s: %s %v", expr, res.JSON, res.Err)
				}
				res = s.Call(context.Background(), "slow", json.RawMessage(fmt.Sprintf(`{"i":%d}`, i%5)))
				if string(res.JSON) != fmt.Sprintf(`{"i":%d}`, i%5) {
					errs <- fmt.Errorf("slow: %s", res.JSON)
				}
				if i == 20 && g == 0 {
					if err := s.Add(echo(fmt.Sprintf("late%d", g))); err != nil {
						errs <- err
					}
				}
				_ = s.Tools()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestJSONCaller: the adapter returns Set.Call's JSON and error, for a success and for a
// failure (an unknown tool: an error object and the cause).
func TestJSONCaller(t *testing.T) {
	c := JSONCaller{Set: mustSet(t, echo("e"))}
	got, err := c.Call(context.Background(), "e", json.RawMessage(`{"x":1}`))
	if err != nil || string(got) != `{"args":{"x":1}}` {
		t.Fatalf("%s, %v", got, err)
	}
	got, err = c.Call(context.Background(), "missing", nil)
	if err == nil || !strings.HasPrefix(string(got), `{"error":`) {
		t.Fatalf("unknown tool: %s, %v", got, err)
	}
}
