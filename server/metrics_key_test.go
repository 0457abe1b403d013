package server

import (
	"strings"
	"testing"

	"github.com/arborlabs/arbor/server/openai"
)

// TestMetricsKey: with a metrics key, /metrics answers only to it (401 in OpenAI's shape
// otherwise); the API keys do not open it, nor does it open the API; /health stays open.
func TestMetricsKey(t *testing.T) {
	ts := startServer(t, newScripted(t, "ok"), Model{}, Options{APIKeys: []string{"sk"}, MetricsKey: "mk-secret"})
	for _, c := range []struct {
		auth   string
		status int
		msg    string
	}{
		{"", 401, "missing metrics key"},
		{"Bearer wrong", 401, "invalid metrics key"},
		{"Bearer mk-secre", 401, "invalid metrics key"},
		{"Bearer sk", 401, "invalid metrics key"},
		{"Basic mk-secret", 401, "invalid metrics key"},
		{"mk-secret", 401, "invalid metrics key"},
		{"Bearer mk-secret", 200, ""},
		{"bearer  mk-secret ", 200, ""},
	} {
		var h []string
		if c.auth != "" {
			h = []string{"Authorization", c.auth}
		}
		status, hdr, body := ts.get(t, "/metrics", h...)
		if status != c.status {
			t.Fatalf("%q: status %d, want %d: %.200s", c.auth, status, c.status, body)
		}
		if status == 200 {
			if !strings.Contains(string(body), "arbor:num_requests_running") {
				t.Fatalf("%q: not the metrics: %.200s", c.auth, body)
			}
			continue
		}
		e := apiErr(t, body)
		if e.Type != openai.TypeAuthentication || deref(e.Code) != "invalid_api_key" || !strings.Contains(e.Message,
			c.msg) ||
			hdr.Get("WWW-Authenticate") == "" {
			t.Fatalf("%q: %+v %v", c.auth, e, hdr)
		}
	}
	if status, _, _ := ts.get(t, "/health"); status != 200 {
		t.Fatalf("/health: %d", status)
	}
	if status, _, _ := ts.get(t, "/v1/models", "Authorization", "Bearer mk-secret"); status != 401 {
		t.Fatalf("/v1/models with the metrics key: %d, want 401", status)
	}
	if status, _, _ := ts.get(t, "/v1/models", "Authorization", "Bearer sk"); status != 200 {
		t.Fatalf("/v1/models with the API key: %d", status)
	}

	// Without API keys the API is open and /metrics still guarded; without a metrics key
	// /metrics is open.
	open := startServer(t, newScripted(t, "ok"), Model{}, Options{MetricsKey: "mk"})
	if status, _, _ := open.get(t, "/metrics"); status != 401 {
		t.Fatalf("/metrics without a key: %d, want 401", status)
	}
	if status, _, _ := open.get(t, "/v1/models"); status != 200 {
		t.Fatalf("/v1/models: %d, want 200", status)
	}
	plain := startServer(t, newScripted(t, "ok"), Model{}, Options{APIKeys: []string{"sk"}})
	if status, _, _ := plain.get(t, "/metrics"); status != 200 {
		t.Fatalf("/metrics with no metrics key set: %d, want 200", status)
	}
}
