package httptool

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/arborlabs/arbor/tools"
	"github.com/arborlabs/arbor/tools/internal/toolstest"
)

func TestParseSpec(t *testing.T) {
	params := `{"type":"object","properties":{"q":{"type":"string"}},"required":["q"]}`
	cases := []struct {
		name, raw string
		want      Spec
	}{
		{"timrun flat",
			`{"type":"function","name":"SearchTool","description":"Search the web",` +
				`"url":"http://search:8000/q","method":"post","timeout":2.5,"parameters":` + params + `}`,
			Spec{Name: "SearchTool", Description: "Search the web", URL: "http://search:8000/q",
				Method: "POST", Timeout: 2.5, Parameters: json.RawMessage(params)}},
		{"openai nested, url outside",
			`{"type":"function","function":{"name":"s","description":"d","parameters":` + params +
				`,"strict":true},"url":"https://x/y","method":"GET","timeout":3}`,
			Spec{Name: "s", Description: "d", URL: "https://x/y", Method: "GET", Timeout: 3,
				Parameters: json.RawMessage(params)}},
		{"openai nested, url inside",
			`{"type":"function","function":{"name":"s","url":"https://x/y","method":"get","timeout":1,` +
				`"parameters":{ "type" : "object" }}}`,
			Spec{Name: "s", URL: "https://x/y", Method: "GET", Timeout: 1,
				Parameters: json.RawMessage(`{"type":"object"}`)}},
		{"same value in both places", `{"url":"http://a","function":{"name":"s","url":"http://a"}}`,
			Spec{Name: "s", URL: "http://a"}},
		{"plain declaration", `{"type":"function","function":{"name":"get_weather","parameters":null}}`,
			Spec{Name: "get_weather"}},
		{"no type", `{"name":"n"}`, Spec{Name: "n"}},
	}
	for _, c := range cases {
		got, err := ParseSpec(json.RawMessage(c.raw))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got.Name != c.want.Name || got.Description != c.want.Description || got.URL != c.want.URL ||
			got.Method != c.want.Method || got.Timeout != c.want.Timeout ||
			string(got.Parameters) != string(c.want.Parameters) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
		if got.HasURL() != (c.want.URL != "") {
			t.Errorf("%s: HasURL %v", c.name, got.HasURL())
		}
	}

	bad := []struct{ raw, want string }{
		{`[]`, "tool spec: json: cannot unmarshal"},
		{`{"type":"function"}`, "missing name"},
		{`{"type":"web_search","name":"x"}`, `unsupported type "web_search"`},
		{`{"name":"x","url":"http://a","function":{"name":"x","url":"http://b"}}`,
			`url given twice, "http://a" and "http://b"`},
		{`{"name":"x","function":{"name":"y"}}`, "name given twice"},
		{`{"name":"x","timeout":1,"function":{"timeout":2}}`, "timeout given twice"},
		{`{"name":"x","parameters":{},"function":{"parameters":{}}}`, "parameters given both"},
		{`{"name":"x","method":"DELETE"}`, `method "DELETE": only GET or POST`},
		{`{"name":"x","timeout":-1}`, "must be a positive number"},
		{`{"name":"x","timeout":"10"}`, "cannot unmarshal string"},
		{`{"name":"x","parameters":[1]}`, "parameters must be a JSON object"},
		{`{"name":"x","parameters":"{}"}`, "parameters must be a JSON object"},
	}
	for _, c := range bad {
		_, err := ParseSpec(json.RawMessage(c.raw))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want error containing %q", c.raw, err, c.want)
		}
	}
}

func TestPolicyAllowed(t *testing.T) {
	p := &Policy{AllowHosts: []string{"search.example", "api.example:8443", "*.corp.example", "[::1]:9000",
		"LOCALHOST"}}
	cases := []struct {
		url  string
		want bool
	}{
		{"http://search.example/q", true},
		{"https://search.example:9999/q", true}, // "host" allows any port
		{"http://SEARCH.example./q", true},      // case and trailing dot
		{"http://evil.example/q", false},
		{"http://search.example.evil/q", false},
		{"https://api.example:8443/x", true},
		{"https://api.example/x", false}, // 443 is not 8443
		{"http://api.example:8080/x", false},
		{"http://a.corp.example/", true},
		{"http://a.b.corp.example/", true},
		{"http://corp.example/", false}, // the wildcard is for subdomains
		{"http://xcorp.example/", false},
		{"http://[::1]:9000/", true},
		{"http://[::1]:9001/", false},
		{"http://localhost:1234/", true},
		{"ftp://search.example/", false},
		{"file:///etc/passwd", false},
	}
	for _, c := range cases {
		u, err := url.Parse(c.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Allowed(u); got != c.want {
			t.Errorf("Allowed(%s) = %v, want %v", c.url, got, c.want)
		}
	}
	u, _ := url.Parse("http://anything.example/")
	if (&Policy{}).Allowed(u) {
		t.Error("an empty AllowHosts allowed a host")
	}
	if !(*Policy)(nil).Allowed(u) || !(&Policy{AllowHosts: []string{"*"}}).Allowed(u) {
		t.Error("nil policy or \"*\" refused a host")
	}
	// Default ports.
	p = &Policy{AllowHosts: []string{"h:80", "s:443"}}
	for _, s := range []string{"http://h/", "https://s/"} {
		if u, _ := url.Parse(s); !p.Allowed(u) {
			t.Errorf("%s not matched by its default port", s)
		}
	}
}

func hostOf(t *testing.T, srv *httptest.Server) string {
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

func TestHTTPToolCalls(t *testing.T) {
	type seen struct {
		method, query, ctype, body string
	}
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.URL.RawQuery, r.Header.Get("Content-Type"), string(body)}
		switch r.URL.Path {
		case "/json":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, "{\n \"hits\": [ \"a\", \"b\" ]\n}\n")
		case "/text":
			io.WriteString(w, "<b>plain</b> \"text\"")
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/fail":
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "database\n\n  unavailable "+strings.Repeat("x", 500))
		case "/missing":
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	policy := &Policy{AllowHosts: []string{hostOf(t, srv)}}
	mk := func(path, method string) *tools.Set {
		tool, err := New(Spec{Name: "t", URL: srv.URL + path, Method: method,
			Parameters: json.RawMessage(`{"type":"object"}`)}, policy)
		if err != nil {
			t.Fatal(err)
		}
		return toolstest.MustSet(t, tool)
	}
	ctx := context.Background()

	// POST (the default): the arguments are the body.
	res := mk("/json", "").Call(ctx, "t", json.RawMessage(`{"q": "go <1.26>", "n": 3}`))
	s := <-got
	if res.Err != nil || string(res.JSON) != `{"hits":["a","b"]}` {
		t.Errorf("POST result %s (%v)", res.JSON, res.Err)
	}
	if s.method != "POST" || s.ctype != "application/json" || s.body != `{"q":"go <1.26>","n":3}` {
		t.Errorf("POST request %+v", s)
	}

	// GET: the arguments are the query; the URL's own query is kept.
	res = mk("/json?fixed=1", "GET").Call(ctx, "t",
		json.RawMessage(`{"q":"a b&c","n":2.50,"ok":true,"tags":["x", "y"],"o":{"k":1},"skip":null}`))
	s = <-got
	if res.Err != nil {
		t.Errorf("GET: %v", res.Err)
	}
	q, _ := url.ParseQuery(s.query)
	want := url.Values{"fixed": {"1"}, "q": {"a b&c"}, "n": {"2.50"}, "ok": {"true"}, "tags": {`["x","y"]`},
		"o": {`{"k":1}`}}
	if s.method != "GET" || s.body != "" || q.Encode() != want.Encode() {
		t.Errorf("GET request %+v, query %v, want %v", s, q, want)
	}
	res = mk("/json?fixed=1", "GET").Call(ctx, "t", json.RawMessage(`{"fixed":"2"}`))
	toolstest.CheckErrorJSON(t, res, `"fixed" is fixed in the tool's URL`)

	// Bodies that are not JSON, or empty.
	res = mk("/text", "GET").Call(ctx, "t", nil)
	<-got
	if res.Err != nil || string(res.JSON) != `{"text":"<b>plain</b> \"text\""}` {
		t.Errorf("text body became %s (%v)", res.JSON, res.Err)
	}
	res = mk("/empty", "POST").Call(ctx, "t", nil)
	<-got
	if res.Err != nil || string(res.JSON) != `null` {
		t.Errorf("empty body became %s (%v)", res.JSON, res.Err)
	}

	// Error statuses: the status and a short, one-line excerpt; no URL for the model to leak.
	res = mk("/fail", "POST").Call(ctx, "t", nil)
	<-got
	toolstest.CheckErrorJSON(t, res, `tool "t": HTTP 500 Internal Server Error: database unavailable xxx`)
	var se *StatusError
	if !errors.As(res.Err, &se) || se.Code != 500 || len(se.Body) > bodyExcerpt+3 ||
		!strings.HasSuffix(se.Body, "...") {
		t.Errorf("status error %#v", res.Err)
	}
	if strings.Contains(string(res.JSON), srv.URL) {
		t.Errorf("error names the URL: %s", res.JSON)
	}
	res = mk("/missing", "GET").Call(ctx, "t", nil)
	<-got
	toolstest.CheckErrorJSON(t, res, "HTTP 404 Not Found: 404 page not found")
}

func TestHTTPToolLimits(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release) // before slow.Close, which waits for the handler
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `"`+strings.Repeat("x", 200)+`"`)
	}))
	defer big.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close() // nothing listens there any more

	ctx := context.Background()
	policy := &Policy{AllowHosts: []string{hostOf(t, slow), hostOf(t, big),
		strings.TrimPrefix(downURL, "http://")}, MaxResponseBytes: 100}

	tool, err := New(Spec{Name: "slow", URL: slow.URL, Timeout: 0.05}, policy)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res := toolstest.MustSet(t, tool).Call(ctx, "slow", nil)
	toolstest.CheckErrorJSON(t, res, `tool "slow": timed out after 50ms`)
	if !errors.Is(res.Err, tools.ErrTimeout) || time.Since(start) > 2*time.Second {
		t.Errorf("timeout: %v after %v", res.Err, time.Since(start))
	}

	tool, err = New(Spec{Name: "big", URL: big.URL}, policy)
	if err != nil {
		t.Fatal(err)
	}
	res = toolstest.MustSet(t, tool).Call(ctx, "big", nil)
	toolstest.CheckErrorJSON(t, res, `tool "big": result too large: response over 100 bytes`)
	if !errors.Is(res.Err, tools.ErrTooLarge) {
		t.Errorf("%v is not tools.ErrTooLarge", res.Err)
	}

	tool, err = New(Spec{Name: "down", URL: downURL}, policy)
	if err != nil {
		t.Fatal(err)
	}
	res = toolstest.MustSet(t, tool).Call(ctx, "down", nil)
	toolstest.CheckErrorJSON(t, res, `tool "down": request failed: `)
	if strings.Contains(string(res.JSON), downURL) {
		t.Errorf("error names the URL: %s", res.JSON)
	}
}

func TestHTTPToolRedirects(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"at":"target"}`)
	}))
	defer target.Close()
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, target.URL+"/", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		default:
			http.Redirect(w, r, "/final", http.StatusFound)
		}
	}))
	defer front.Close()
	ctx := context.Background()
	call := func(p *Policy, path string) tools.Result {
		tool, err := New(Spec{Name: "r", URL: front.URL + path, Method: "GET"}, p)
		if err != nil {
			t.Fatal(err)
		}
		return toolstest.MustSet(t, tool).Call(ctx, "r", nil)
	}
	// Both servers are 127.0.0.1: only host:port tells them apart, as it must.
	onlyFront := &Policy{AllowHosts: []string{hostOf(t, front)}}
	res := call(onlyFront, "/away")
	toolstest.CheckErrorJSON(t, res, "redirect to "+hostOf(t, target)+": host not allowed")
	if !errors.Is(res.Err, ErrHostNotAllowed) {
		t.Errorf("%v is not ErrHostNotAllowed", res.Err)
	}
	res = call(&Policy{AllowHosts: []string{hostOf(t, front), hostOf(t, target)}}, "/away")
	if res.Err != nil || string(res.JSON) != `{"at":"target"}` {
		t.Errorf("redirect to an allowed host: %s (%v)", res.JSON, res.Err)
	}
	res = call(nil, "/away") // the operator's tools follow redirects anywhere
	if res.Err != nil {
		t.Errorf("trusted redirect: %v", res.Err)
	}
	toolstest.CheckErrorJSON(t, call(onlyFront, "/loop"), "stopped after 5 redirects")
}

func TestNewHTTPErrors(t *testing.T) {
	p := &Policy{AllowHosts: []string{"ok.example"}}
	cases := []struct {
		spec Spec
		p    *Policy
		want string
	}{
		{Spec{Name: "t", URL: "http://evil.example/"}, p, `tool "t": host not allowed: evil.example`},
		{Spec{Name: "t", URL: "http://ok.example/"}, &Policy{}, "host not allowed"},
		{Spec{Name: "t"}, nil, "missing url"},
		{Spec{Name: "t", URL: "/relative"}, nil, "absolute http or https URL"},
		{Spec{Name: "t", URL: "file:///etc/passwd"}, nil, "absolute http or https URL"},
		{Spec{Name: "t", URL: "http://ok.example/", Method: "PUT"}, p, `method "PUT"`},
		{Spec{Name: "t", URL: "http://ok.example/", Timeout: -2}, p, "timeout"},
		{Spec{URL: "http://ok.example/"}, p, "empty name"},
	}
	for _, c := range cases {
		_, err := New(c.spec, c.p)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want error containing %q", c.spec, err, c.want)
		}
	}
	if _, err := New(Spec{Name: "t", URL: "http://evil.example/"}, p); !errors.Is(err, ErrHostNotAllowed) {
		t.Errorf("%v is not ErrHostNotAllowed", err)
	}
	tool, err := New(Spec{Name: "t", Description: "d", URL: "http://ok.example/x"}, p)
	if err != nil {
		t.Fatal(err)
	}
	if tool.Name() != "t" || tool.Description() != "d" || string(tool.Parameters()) != `{"type":"object"}` {
		t.Errorf("tool %q %q %s", tool.Name(), tool.Description(), tool.Parameters())
	}
	if k := tool.(tools.CacheKeyer).CacheKey(); k != "http POST http://ok.example/x" {
		t.Errorf("cache key %q", k)
	}
}
