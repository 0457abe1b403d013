// Package httptool is the HTTP tool, in TIMRUN's form: a spec with a url, declared by the operator
// (any host) or by a chat request (a Policy's AllowHosts must match the URL), whose calls are HTTP
// requests to that url.
package httptool

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/arborlabs/arbor/tools"
)

// ErrHostNotAllowed is wrapped by the error of a tool whose URL, or a redirect's, is not allowed.
var ErrHostNotAllowed = errors.New("host not allowed")

// StatusError is the failure of an HTTP tool whose server answered with an error status.
type StatusError struct {
	Code   int
	Status string // e.g. "500 Internal Server Error"
	Body   string // a short excerpt of the response body, whitespace collapsed
}

func (e *StatusError) Error() string {
	status := e.Status
	if status == "" {
		status = fmt.Sprint(e.Code)
	}
	if e.Body == "" {
		return "HTTP " + status
	}
	return "HTTP " + status + ": " + e.Body
}

const (
	// DefaultTimeout is an HTTP tool's per-call timeout when its spec names none.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxResponseBytes caps an HTTP tool's response body.
	DefaultMaxResponseBytes = 1 << 20
	// maxRedirects: enough for http->https and a trailing-slash hop, not enough for a loop.
	maxRedirects = 5
	// bodyExcerpt is how much of an error response the model gets to read.
	bodyExcerpt = 200
)

// Spec declares a tool served over HTTP, in TIMRUN's form.
type Spec struct {
	Name, Description string
	Parameters        json.RawMessage
	URL, Method       string  // GET or POST (default POST)
	Timeout           float64 // seconds (default 10)
}

// HasURL reports whether the spec is an HTTP tool (url set); a spec without url is a plain
// function declaration, for the client to execute.
func (s Spec) HasURL() bool { return strings.TrimSpace(s.URL) != "" }

// specFields is one level of a tool entry: the flat TIMRUN form has everything at the top, the
// OpenAI form nests name/description/parameters (and possibly url/method/timeout) in "function".
type specFields struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
	URL         string          `json:"url"`
	Method      string          `json:"method"`
	Timeout     *float64        `json:"timeout"`
	Function    *specFields     `json:"function"`
}

// ParseSpec reads one entry of a chat request's `tools` array in either form:
//
//	TIMRUN flat:
//	  {"type":"function","name":"SearchTool","description":"...","url":"http://...",
//	   "method":"POST","timeout":10,"parameters":{...}}
//	OpenAI nested:
//	  {"type":"function","function":{"name":...,"description":...,"parameters":{...}},
//	   "url":...,"method":...,"timeout":...}
//
// In the nested form url/method/timeout may also sit inside "function"; a field given in both
// places with different values is an error rather than a silent choice. Other fields ("strict",
// ...) are ignored. The method is upper-cased and must be GET or POST if given; parameters, if
// given, must be a JSON object and come back compacted.
func ParseSpec(raw json.RawMessage) (Spec, error) {
	var top specFields
	if err := json.Unmarshal(raw, &top); err != nil {
		return Spec{}, fmt.Errorf("tool spec: %w", err)
	}
	if top.Type != "" && top.Type != "function" {
		return Spec{}, fmt.Errorf("tool spec: unsupported type %q (only \"function\")", top.Type)
	}
	inner := top.Function
	if inner == nil {
		inner = &specFields{}
	}
	var spec Spec
	var err error
	pick := func(field, outer, in string) string {
		if err != nil {
			return ""
		}
		if outer != "" && in != "" && outer != in {
			err = fmt.Errorf("tool spec: %s given twice, %q and %q in function", field, outer, in)
		}
		if in != "" {
			return in
		}
		return outer
	}
	spec.Name = pick("name", top.Name, inner.Name)
	spec.Description = pick("description", top.Description, inner.Description)
	spec.URL = strings.TrimSpace(pick("url", top.URL, inner.URL))
	spec.Method = strings.ToUpper(strings.TrimSpace(pick("method", top.Method, inner.Method)))
	if err != nil {
		return Spec{}, err
	}
	switch {
	case top.Timeout != nil && inner.Timeout != nil && *top.Timeout != *inner.Timeout:
		return Spec{}, fmt.Errorf("tool spec: timeout given twice, %v and %v in function", *top.Timeout, *inner.Timeout)
	case inner.Timeout != nil:
		spec.Timeout = *inner.Timeout
	case top.Timeout != nil:
		spec.Timeout = *top.Timeout
	}
	params := inner.Parameters
	if isNull(params) {
		params = top.Parameters
	} else if !isNull(top.Parameters) {
		return Spec{}, errors.New("tool spec: parameters given both at the top and in function")
	}

	if spec.Name == "" {
		return Spec{}, errors.New("tool spec: missing name")
	}
	if spec.Method != "" && spec.Method != http.MethodGet && spec.Method != http.MethodPost {
		return Spec{}, fmt.Errorf("tool %q: method %q: only GET or POST", spec.Name, spec.Method)
	}
	if spec.Timeout < 0 || math.IsNaN(spec.Timeout) || math.IsInf(spec.Timeout, 0) {
		return Spec{}, fmt.Errorf("tool %q: timeout %v: must be a positive number of seconds", spec.Name, spec.Timeout)
	}
	if !isNull(params) {
		var buf bytes.Buffer
		if err := json.Compact(&buf, params); err != nil || buf.Bytes()[0] != '{' {
			return Spec{}, fmt.Errorf("tool %q: parameters must be a JSON object", spec.Name)
		}
		spec.Parameters = buf.Bytes()
	}
	return spec, nil
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// Policy limits the HTTP tools a chat request may declare.
type Policy struct {
	// AllowHosts lists the hosts request-declared tools may call: "host" (any port) or
	// "host:port" (that port only; a URL without a port has its scheme's default), compared in
	// a canonical form (case, a trailing dot, IP notations, port spellings).
	// "*.example.com" matches subdomains of example.com, "*" any host. Empty: nothing is
	// allowed; an entry CheckAllowHost refuses matches nothing.
	AllowHosts []string
	// MaxResponseBytes caps a response body (default DefaultMaxResponseBytes).
	MaxResponseBytes int64
	// Client is the base client (default http.DefaultClient); its CheckRedirect is replaced.
	Client *http.Client
}

// Allowed reports whether a request-declared tool may call u: an http or https URL whose host
// is in AllowHosts. A nil Policy is the operator's trust: any http(s) host.
//
// The check is on the name in the URL; it does not resolve it, so it does not stop a listed name
// from resolving to an internal address. List only names you control.
func (p *Policy) Allowed(u *url.URL) bool {
	if p == nil {
		return u != nil && (u.Scheme == "http" || u.Scheme == "https") && u.Hostname() != ""
	}
	host, port, isIP, ok := urlTarget(u)
	if !ok {
		return false
	}
	for _, raw := range p.AllowHosts {
		e, err := parseAllowEntry(raw)
		switch {
		case err != nil:
			continue
		case e.any:
			return true
		case e.port != "" && e.port != port:
			continue
		case e.wildcard:
			if !isIP && strings.HasSuffix(host, "."+e.host) {
				return true
			}
		case e.host == host:
			return true
		}
	}
	return false
}

// New returns the tool a spec declares. With p == nil the spec is the operator's and may call
// any host; otherwise the URL's host must be allowed by p, and the error (wrapping
// ErrHostNotAllowed) is for the server to answer 400.
//
// Calls: POST sends the arguments as the JSON body; GET sends them as query parameters (strings
// as they are, numbers and booleans as their JSON text, objects and arrays as their JSON text,
// nulls left out). A JSON response body is the result as it is; any other body becomes
// {"text":"<body>"}, and an empty one null. Status 400 and above is an error (StatusError) with a
// short excerpt of the body. Redirects are followed to allowed hosts only, at most 5 hops.
func New(spec Spec, p *Policy) (tools.Tool, error) {
	if err := tools.CheckName(spec.Name); err != nil {
		return nil, err
	}
	if !spec.HasURL() {
		return nil, fmt.Errorf("tool %q: missing url", spec.Name)
	}
	u, err := url.Parse(strings.TrimSpace(spec.URL))
	if err != nil {
		return nil, fmt.Errorf("tool %q: url: %w", spec.Name, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("tool %q: url %q: must be an absolute http or https URL", spec.Name, spec.URL)
	}
	if !p.Allowed(u) {
		return nil, fmt.Errorf("tool %q: %w: %s", spec.Name, ErrHostNotAllowed, u.Host)
	}
	if p != nil {
		u.Host = canonicalURLHost(u) // dial what was compared ("127.0.0.1." as 127.0.0.1)
	}
	method := strings.ToUpper(strings.TrimSpace(spec.Method))
	switch method {
	case "":
		method = http.MethodPost
	case http.MethodGet, http.MethodPost:
	default:
		return nil, fmt.Errorf("tool %q: method %q: only GET or POST", spec.Name, spec.Method)
	}
	timeout := DefaultTimeout
	switch {
	case spec.Timeout < 0 || math.IsNaN(spec.Timeout) || math.IsInf(spec.Timeout, 0):
		return nil, fmt.Errorf("tool %q: timeout %v: must be a positive number of seconds", spec.Name, spec.Timeout)
	case spec.Timeout > 0:
		timeout = time.Duration(spec.Timeout * float64(time.Second))
	}
	params := spec.Parameters
	if isNull(params) {
		params = json.RawMessage(tools.EmptyObjectSchema)
	}
	maxBytes := int64(DefaultMaxResponseBytes)
	base := http.DefaultClient
	if p != nil {
		if p.MaxResponseBytes > 0 {
			maxBytes = p.MaxResponseBytes
		}
		if p.Client != nil {
			base = p.Client
		}
	}
	client := *base // a copy: the CheckRedirect below is this tool's, not the shared client's
	client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return fmt.Errorf("stopped after %d redirects", maxRedirects)
		}
		if !p.Allowed(req.URL) {
			return fmt.Errorf("redirect to %s: %w", req.URL.Host, ErrHostNotAllowed)
		}
		if p != nil {
			req.URL.Host = canonicalURLHost(req.URL)
		}
		return nil
	}
	return &httpTool{
		spec:     spec,
		params:   params,
		url:      u,
		method:   method,
		timeout:  timeout,
		maxBytes: maxBytes,
		client:   &client,
	}, nil
}

type httpTool struct {
	spec     Spec
	params   json.RawMessage
	url      *url.URL
	method   string
	timeout  time.Duration
	maxBytes int64
	client   *http.Client
}

func (t *httpTool) Name() string                { return t.spec.Name }
func (t *httpTool) Description() string         { return t.spec.Description }
func (t *httpTool) Parameters() json.RawMessage { return bytes.Clone(t.params) }

// CacheKey is the endpoint: the same method on the same URL with the same arguments is the same
// call, whichever request declared it.
func (t *httpTool) CacheKey() string { return "http " + t.method + " " + t.url.String() }

func (t *httpTool) Call(ctx context.Context, args json.RawMessage) (json.RawMessage, error) {
	callCtx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	req, err := t.request(callCtx, args)
	if err != nil {
		return nil, err
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return nil, t.failure(ctx, callCtx, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, t.maxBytes+1))
	if err != nil {
		return nil, t.failure(ctx, callCtx, fmt.Errorf("reading response: %w", err))
	}
	if resp.StatusCode >= 400 {
		return nil, &StatusError{Code: resp.StatusCode, Status: resp.Status, Body: excerpt(body)}
	}
	if int64(len(body)) > t.maxBytes {
		return nil, fmt.Errorf("%w: response over %d bytes", tools.ErrTooLarge, t.maxBytes)
	}
	return bodyResult(body)
}

func (t *httpTool) request(ctx context.Context, args json.RawMessage) (*http.Request, error) {
	if t.method == http.MethodPost {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url.String(), bytes.NewReader(args))
		if err != nil {
			return nil, fmt.Errorf("building request: %w", err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		return req, nil
	}
	u := *t.url
	q, err := queryArgs(u.Query(), args)
	if err != nil {
		return nil, err
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	return req, nil
}

// queryArgs adds the arguments object to the URL's own query. A parameter fixed in the declared
// URL (an API key, a format) is the operator's: an argument of the same name is an error rather
// than a way for the model to override it.
func queryArgs(q url.Values, args json.RawMessage) (url.Values, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(args, &obj); err != nil || obj == nil {
		return nil, fmt.Errorf("%w: a GET tool's arguments must be a JSON object", tools.ErrInvalidArguments)
	}
	for k, v := range obj {
		if q.Has(k) {
			return nil, fmt.Errorf("%w: %q is fixed in the tool's URL", tools.ErrInvalidArguments, k)
		}
		v = bytes.TrimSpace(v)
		switch {
		case string(v) == "null":
			continue
		case v[0] == '"':
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, fmt.Errorf("%w: %q: %v", tools.ErrInvalidArguments, k, err)
			}
			q.Set(k, s)
		default:
			var buf bytes.Buffer
			if err := json.Compact(&buf, v); err != nil {
				return nil, fmt.Errorf("%w: %q: %v", tools.ErrInvalidArguments, k, err)
			}
			q.Set(k, buf.String())
		}
	}
	return q, nil
}

// failure words a failed request without its URL: the message goes to the model and from there
// possibly to the user, and the endpoint (internal host names, keys in the query) is the operator's.
func (t *httpTool) failure(ctx, callCtx context.Context, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case ctx.Err() != nil: // the caller's context: Set reports it
		return ctx.Err()
	case errors.Is(callCtx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%w after %s", tools.ErrTimeout, t.timeout)
	case errors.Is(err, ErrHostNotAllowed):
		return err
	}
	return fmt.Errorf("request failed: %w", err)
}

// bodyResult makes a response body a JSON result: JSON as it is, anything else as {"text":...}.
// The object (rather than a bare string) tells the model it is reading a page, not a value the
// tool chose to return.
func bodyResult(body []byte) (json.RawMessage, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return json.RawMessage("null"), nil
	}
	if json.Valid(trimmed) {
		return trimmed, nil
	}
	out, err := tools.Marshal(map[string]string{"text": string(body)})
	if err != nil {
		return nil, fmt.Errorf("encoding text response: %w", err)
	}
	return out, nil
}

// excerpt is the start of an error body on one line, cut on a character boundary.
func excerpt(body []byte) string {
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) <= bodyExcerpt {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	cut := bodyExcerpt
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.ToValidUTF8(s[:cut], "\uFFFD") + "..."
}
