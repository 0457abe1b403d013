package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/arborlabs/arbor/server/openai"
)

func (ts *testServer) options(t *testing.T, path string, headers ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodOptions, ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return do(t, req)
}

func corsHeaders(h http.Header) []string {
	var out []string
	for k := range h {
		if strings.HasPrefix(k, "Access-Control-") {
			out = append(out, k)
		}
	}
	return out
}

func hasVary(h http.Header, name string) bool {
	for _, v := range h.Values("Vary") {
		for _, part := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), name) {
				return true
			}
		}
	}
	return false
}

// TestCORS: allowed origins get the headers on every response (errors and streams included) and
// their preflights a 204 without the key; other origins get no CORS headers at all.
func TestCORS(t *testing.T) {
	ts := startServer(t, newScripted(t, "o", "k"), Model{}, Options{APIKeys: []string{"sk"},
		CORSOrigins: []string{"http://localhost:3000", "HTTPS://App.Example.com:443/"}})
	key := []string{"Authorization", "Bearer sk"}
	preflight := func(origin, headers string) (int, http.Header) {
		h := []string{"Origin", origin, "Access-Control-Request-Method", "POST"}
		if headers != "" {
			h = append(h, "Access-Control-Request-Headers", headers)
		}
		status, hdr, _ := ts.options(t, "/v1/chat/completions", h...)
		return status, hdr
	}

	t.Run("preflight", func(t *testing.T) {
		for _, origin := range []string{"http://localhost:3000", "https://app.example.com"} {
			status, h := preflight(origin, "authorization, content-type, x-stainless-os")
			if status != http.StatusNoContent {
				t.Fatalf("%s: status %d, want 204", origin, status)
			}
			want := map[string]string{
				"Access-Control-Allow-Origin":  origin,
				"Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
				"Access-Control-Allow-Headers": "authorization, content-type, x-stainless-os",
				"Access-Control-Max-Age":       "7200",
			}
			for k, v := range want {
				if got := h.Get(k); got != v {
					t.Errorf("%s: %s %q, want %q", origin, k, got, v)
				}
			}
			if !hasVary(h, "Origin") || !hasVary(h, "Access-Control-Request-Headers") {
				t.Errorf("%s: Vary %q", origin, h.Values("Vary"))
			}
		}
		for _, asked := range []string{"", "a b, c", strings.Repeat("x-long, ", 300)} {
			if _, h := preflight("http://localhost:3000", asked); !strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") {
				t.Errorf("asked %.30q: Allow-Headers %q, want the defaults", asked, h.Get("Access-Control-Allow-Headers"))
			}
		}
	})

	t.Run("other origins get nothing", func(t *testing.T) {
		for _, origin := range []string{"http://evil.example", "http://localhost:3001", "http://localhost", "null",
			"https://app.example.com.evil", "http://app.example.com", "not an origin"} {
			status, h := preflight(origin, "authorization")
			if status != http.StatusUnauthorized || len(corsHeaders(h)) != 0 {
				t.Errorf("preflight from %q: status %d, CORS headers %v; want the 401 of any keyless request and none",
					origin, status, corsHeaders(h))
			}
			status, h, body := ts.post(t, "/v1/chat/completions", `{`+hi+`}`, append(key, "Origin", origin)...)
			if status != http.StatusOK || len(corsHeaders(h)) != 0 {
				t.Errorf("POST from %q: status %d, CORS headers %v: %s", origin, status, corsHeaders(h), body)
			}
		}
	})

	t.Run("responses", func(t *testing.T) {
		origin := "http://localhost:3000"
		check := func(what string, status, want int, h http.Header) {
			t.Helper()
			if status != want || h.Get("Access-Control-Allow-Origin") != origin || !hasVary(h, "Origin") ||
				!strings.Contains(h.Get("Access-Control-Expose-Headers"), "X-Request-Id") {
				t.Errorf("%s: status %d (want %d), headers %v", what, status, want, h)
			}
		}
		status, h, _ := ts.post(t, "/v1/chat/completions", `{`+hi+`}`, append(key, "Origin", origin)...)
		check("chat", status, 200, h)
		status, h, body := ts.post(t, "/v1/chat/completions", `{`+hi+`, "stream": true}`, append(key, "Origin", origin)...)
		check("stream", status, 200, h)
		if h.Get("Content-Type") != "text/event-stream" || !strings.Contains(string(body), "data: [DONE]") {
			t.Errorf("stream: %v %s", h, body)
		}
		status, h, body = ts.post(t, "/v1/chat/completions", `{`+hi+`}`, "Origin", origin)
		check("no key", status, 401, h)
		if apiErr(t, body).Type != openai.TypeAuthentication {
			t.Errorf("no key: %s", body)
		}
		status, h, _ = ts.get(t, "/v1/models", append(key, "Origin", origin)...)
		check("models", status, 200, h)
	})

	t.Run("no Origin", func(t *testing.T) {
		status, h, _ := ts.post(t, "/v1/chat/completions", `{`+hi+`}`, key...)
		if status != 200 || len(corsHeaders(h)) != 0 || !hasVary(h, "Origin") {
			t.Errorf("status %d, CORS headers %v, Vary %q", status, corsHeaders(h), h.Values("Vary"))
		}
	})
}

// TestCORSAnyOrigin: "*" answers every origin with "*".
func TestCORSAnyOrigin(t *testing.T) {
	ts := startServer(t, newScripted(t, "ok"), Model{}, Options{APIKeys: []string{"sk"}, CORSOrigins: []string{"*"}})
	for _, origin := range []string{"http://anything.example:81", "null"} {
		status, h, _ := ts.options(t, "/v1/completions", "Origin", origin, "Access-Control-Request-Method", "POST")
		if status != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("preflight from %s: %d %v", origin, status, h)
		}
		status, h, _ = ts.post(t, "/v1/completions", `{"prompt": "a"}`, "Authorization", "Bearer sk", "Origin", origin)
		if status != http.StatusOK || h.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("POST from %s: %d %v", origin, status, h)
		}
	}
}

// TestCORSOff: without origins, no CORS headers and no preflight answers: today's behaviour.
func TestCORSOff(t *testing.T) {
	ts := startServer(t, newScripted(t, "ok"), Model{}, Options{APIKeys: []string{"sk"}})
	status, h, _ := ts.options(t, "/v1/chat/completions", "Origin", "http://localhost:3000", "Access-Control-Request-Method", "POST")
	if status != http.StatusUnauthorized || len(corsHeaders(h)) != 0 || hasVary(h, "Origin") {
		t.Errorf("preflight: %d %v", status, h)
	}
	status, h, _ = ts.post(t, "/v1/chat/completions", `{`+hi+`}`, "Authorization", "Bearer sk", "Origin", "http://localhost:3000")
	if status != http.StatusOK || len(corsHeaders(h)) != 0 {
		t.Errorf("POST: %d %v", status, h)
	}
}

func TestCheckCORSOrigin(t *testing.T) {
	for _, o := range []string{"*", "http://localhost:3000", "https://example.com", "HTTPS://Example.com:443", "http://[::1]:8080",
		"https://example.com/", "chrome-extension://abcdef"} {
		if err := CheckCORSOrigin(o); err != nil {
			t.Errorf("CheckCORSOrigin(%q): %v", o, err)
		}
	}
	for _, o := range []string{"", "localhost:3000", "example.com", "http://example.com/app", "http://user@example.com",
		"null", "http://", "http://example.com?x=1", "http://example.com#top", "*.example.com"} {
		if err := CheckCORSOrigin(o); err == nil {
			t.Errorf("CheckCORSOrigin(%q) accepted it", o)
		}
	}
}
