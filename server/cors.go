package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
)

// CORS lets browser pages on the configured origins call the API (arbor serve --cors-origin),
// as llama.cpp's server and Ollama allow. A response to a request whose Origin is allowed
// carries Access-Control-Allow-Origin (the origin, or "*" when any is allowed); a preflight
// (OPTIONS with Access-Control-Request-Method) from one is answered here with 204, before the
// API key is checked: browsers send preflights without credentials. Other origins get no CORS
// headers, so their pages cannot read the responses. Authentication is unchanged: a page must
// still send the key, which CORS never grants.

// corsMethods are the methods a preflight may be granted.
const corsMethods = "GET, POST, DELETE, OPTIONS"

// corsDefaultHeaders are granted to a preflight that names none (or names them unreadably).
const corsDefaultHeaders = "Authorization, Content-Type, Accept, X-Request-Id, X-Session-Id"

// corsMaxAge is how long a browser may cache a preflight, in seconds (Chromium caps it at 2 h).
const corsMaxAge = "7200"

// corsPolicy is the parsed list of allowed origins; nil: CORS off.
type corsPolicy struct {
	any     bool            // "*"
	origins map[string]bool // canonical origins
}

func newCORSPolicy(origins []string) *corsPolicy {
	if len(origins) == 0 {
		return nil
	}
	p := &corsPolicy{origins: map[string]bool{}}
	for _, o := range origins {
		if strings.TrimSpace(o) == "*" {
			p.any = true
			continue
		}
		if c, err := canonicalOrigin(o); err == nil {
			p.origins[c] = true
		}
	}
	return p
}

// CheckCORSOrigin reports whether s is a usable Options.CORSOrigins entry: "*", or an origin
// "scheme://host[:port]" with no path, as browsers send it in the Origin header.
func CheckCORSOrigin(s string) error {
	if strings.TrimSpace(s) == "*" {
		return nil
	}
	_, err := canonicalOrigin(s)
	return err
}

// canonicalOrigin is an origin as browsers serialize it: lower case, no default port, no
// trailing slash.
func canonicalOrigin(s string) (string, error) {
	s = strings.TrimSuffix(strings.TrimSpace(s), "/")
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "", fmt.Errorf("origin %q: %w", s, err)
	case u.Scheme == "" || u.Host == "" || u.Opaque != "" || u.User != nil || u.Path != "" ||
		u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "#"):
		return "", fmt.Errorf(`origin %q: want "*" or scheme://host[:port], such as http://localhost:3000`, s)
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	port := u.Port()
	if port == "" || (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		return scheme + "://" + host, nil
	}
	return scheme + "://" + host + ":" + port, nil
}

// allowOrigin returns the Access-Control-Allow-Origin value for a request's Origin, or "".
func (p *corsPolicy) allowOrigin(origin string) string {
	if origin == "" {
		return ""
	}
	if p.any {
		return "*"
	}
	c, err := canonicalOrigin(origin)
	if err != nil || !p.origins[c] {
		return ""
	}
	return origin
}

// cors adds the CORS headers to the responses for allowed origins and answers their
// preflights. It runs before admission and auth: a preflight needs no key, and an error
// response (401, 429, 503) must carry the headers too, or the page cannot read why it failed.
func (s *Server) cors(next echo.HandlerFunc) echo.HandlerFunc {
	p := newCORSPolicy(s.opt.CORSOrigins)
	if p == nil {
		return next
	}
	return func(c echo.Context) error {
		req, h := c.Request(), c.Response().Header()
		// The answer depends on Origin whether or not it is allowed: caches must not serve a
		// response made for one origin (or none) to another.
		h.Add(echo.HeaderVary, echo.HeaderOrigin)
		allow := p.allowOrigin(req.Header.Get(echo.HeaderOrigin))
		if allow == "" {
			return next(c)
		}
		h.Set(echo.HeaderAccessControlAllowOrigin, allow)
		if req.Method == http.MethodOptions && req.Header.Get(echo.HeaderAccessControlRequestMethod) != "" {
			h.Add(echo.HeaderVary, echo.HeaderAccessControlRequestMethod)
			h.Add(echo.HeaderVary, echo.HeaderAccessControlRequestHeaders)
			h.Set(echo.HeaderAccessControlAllowMethods, corsMethods)
			asked := req.Header.Values(echo.HeaderAccessControlRequestHeaders)
			h.Set(echo.HeaderAccessControlAllowHeaders, corsAllowHeaders(asked))
			h.Set(echo.HeaderAccessControlMaxAge, corsMaxAge)
			return c.NoContent(http.StatusNoContent)
		}
		h.Set(echo.HeaderAccessControlExposeHeaders, echo.HeaderXRequestID+", Retry-After")
		return next(c)
	}
}

// corsAllowHeaders grants the headers a preflight asks for (the OpenAI SDKs send their own
// X-Stainless-* ones), if they are a plausible list of header names; otherwise the defaults.
func corsAllowHeaders(requested []string) string {
	list := strings.Join(requested, ",")
	if len(list) == 0 || len(list) > 2048 {
		return corsDefaultHeaders
	}
	var names []string
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !isToken(name) || len(names) == 64 {
			return corsDefaultHeaders
		}
		names = append(names, name)
	}
	if len(names) == 0 {
		return corsDefaultHeaders
	}
	return strings.Join(names, ", ")
}

// isToken reports whether s is an HTTP token (RFC 9110's tchar), as header names are.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return s != ""
}
