package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/arborlabs/arbor/runtime/model/demo"
	"github.com/arborlabs/arbor/runtime/sparse"
)

// TestServeAccessFlags starts arbor serve with --cors-origin and the metrics key from the
// environment, then from the flag (which wins), and checks that the server got them: /metrics
// answers to the key alone, a preflight from the origin is granted.
func TestServeAccessFlags(t *testing.T) {
	t.Setenv("ARBOR_METRICS_KEY", "env-key")
	for _, c := range []struct {
		args       []string
		key, other string
	}{
		{nil, "env-key", "flag-key"},
		{[]string{"--metrics-key", "flag-key"}, "flag-key", "env-key"},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		addrs := make(chan string, 1)
		done := make(chan error, 1)
		args := append([]string{"--addr", "127.0.0.1:0", "--ctx", "64", "--cors-origin",
			"http://localhost:3000"}, c.args...)
		go func() { done <- serve(ctx, args, io.Discard, func(addr string) { addrs <- addr }) }()
		var base string
		select {
		case addr := <-addrs:
			base = "http://" + addr
		case err := <-done:
			cancel()
			t.Fatalf("serve %v: %v", args, err)
		}
		status := func(method, path string, headers ...string) (int, http.Header) {
			req, _ := http.NewRequest(method, base+path, nil)
			for i := 0; i+1 < len(headers); i += 2 {
				req.Header.Set(headers[i], headers[i+1])
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			return res.StatusCode, res.Header
		}
		if s, _ := status("GET", "/metrics"); s != 401 {
			t.Errorf("%v: /metrics without a key: %d", args, s)
		}
		if s, _ := status("GET", "/metrics", "Authorization", "Bearer "+c.other); s != 401 {
			t.Errorf("%v: /metrics with %s: %d", args, c.other, s)
		}
		if s, _ := status("GET", "/metrics", "Authorization", "Bearer "+c.key); s != 200 {
			t.Errorf("%v: /metrics with %s: %d", args, c.key, s)
		}
		s, h := status("OPTIONS", "/v1/chat/completions", "Origin", "http://localhost:3000",
			"Access-Control-Request-Method", "POST")
		if s != 204 || h.Get("Access-Control-Allow-Origin") != "http://localhost:3000" {
			t.Errorf("%v: preflight: %d %v", args, s, h)
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("serve %v: %v", args, err)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("serve did not stop")
		}
	}
}

// TestServeSparseConfigCheckedAgainstModel: a sparse config for another depth than the
// model's stops serve once the model is loaded, with an error naming the flag.
func TestServeSparseConfigCheckedAgainstModel(t *testing.T) {
	wrong := filepath.Join(t.TempDir(), "wrong.json")
	m, err := demo.Load()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(sparse.DefaultConfig(m.Config.NumLayers + 2))
	if err := os.WriteFile(wrong, b, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- serve(context.Background(), []string{"--addr", "127.0.0.1:0", "--ctx", "64", "--sparse", "delta",
			"--sparse-config", wrong}, io.Discard, nil)
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "--sparse-config") {
			t.Fatalf("serve with a sparse config for another depth: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// TestServeEmbeddingsFlags: --embeddings-model alone, or a remote without a model, is refused
// before the server listens, naming the flag.
func TestServeEmbeddingsFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--embeddings-model", "e5"}, "--embeddings-model needs --embeddings-url"},
		{[]string{"--embeddings-url", "http://127.0.0.1:9/v1"}, "--embeddings-url"},
	} {
		err := serve(context.Background(), append([]string{"--addr", "127.0.0.1:0"}, c.args...), io.Discard,
			func(string) { t.Errorf("%v: the server listened", c.args) })
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error naming %s", c.args, err, c.want)
		}
	}
}
