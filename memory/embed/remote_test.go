package embed

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fakeEmbeddings speaks the shape of OpenAI's POST /v1/embeddings. mutate may alter the
// response (or write its own) before it is sent; it returns false if it wrote the response.
func fakeEmbeddings(t *testing.T, mutate func(w http.ResponseWriter, data []map[string]any) ([]map[string]any, bool)) (*httptest.Server, *[]string) {
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/embeddings" {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		if got := r.Header.Get("Authorization"); got != "Bearer sk-test" {
			t.Errorf("Authorization = %q", got)
		}
		var req struct {
			Input          []string `json:"input"`
			Model          string   `json:"model"`
			EncodingFormat string   `json:"encoding_format"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if req.Model != "test-embed" || req.EncodingFormat != "float" {
			t.Errorf("model %q encoding %q", req.Model, req.EncodingFormat)
		}
		seen = append(seen, strings.Join(req.Input, "|"))
		data := make([]map[string]any, len(req.Input))
		for i, in := range req.Input {
			// A vector that encodes the input's length, so order can be checked.
			data[i] = map[string]any{"object": "embedding", "index": i, "embedding": []float64{float64(len(in)), 1, 0.5}}
		}
		// Answer in reverse order: clients must place vectors by index.
		for i, j := 0, len(data)-1; i < j; i, j = i+1, j-1 {
			data[i], data[j] = data[j], data[i]
		}
		if mutate != nil {
			var ok bool
			if data, ok = mutate(w, data); !ok {
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"object": "list", "model": req.Model, "data": data,
			"usage": map[string]any{"prompt_tokens": 3, "total_tokens": 3},
		})
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

func newTestRemote(t *testing.T, url string, cfg RemoteConfig) *Remote {
	cfg.BaseURL, cfg.Model, cfg.APIKey = url+"/v1", "test-embed", "sk-test"
	r, err := NewRemote(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRemoteSuccess(t *testing.T) {
	srv, seen := fakeEmbeddings(t, nil)
	r := newTestRemote(t, srv.URL, RemoteConfig{BatchSize: 2})
	var _ Embedder = r
	if r.Dim() != 0 {
		t.Fatalf("Dim before any call = %d, want 0", r.Dim())
	}
	texts := []string{"a", "bb", "ccc", "dddd", "eeeee"}
	vs, err := r.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != len(texts) {
		t.Fatalf("%d vectors for %d texts", len(vs), len(texts))
	}
	for i, v := range vs {
		if len(v) != 3 || v[0] != float32(len(texts[i])) || v[1] != 1 || v[2] != 0.5 {
			t.Fatalf("vector %d = %v", i, v)
		}
	}
	if r.Dim() != 3 {
		t.Fatalf("Dim = %d, want 3 (learnt)", r.Dim())
	}
	if got := strings.Join(*seen, " / "); got != "a|bb / ccc|dddd / eeeee" {
		t.Fatalf("batches = %q", got)
	}
	if !strings.Contains(r.Name(), "test-embed") {
		t.Fatalf("Name = %q", r.Name())
	}
}

func TestRemoteErrorStatus(t *testing.T) {
	srv, _ := fakeEmbeddings(t, func(w http.ResponseWriter, _ []map[string]any) ([]map[string]any, bool) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(`{"error":{"message":"model overloaded","type":"server_error"}}`))
		return nil, false
	})
	r := newTestRemote(t, srv.URL, RemoteConfig{})
	if _, err := r.Embed(context.Background(), []string{"x"}); err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("err = %v, want a 500 error", err)
	}
}

func TestRemoteWrongCount(t *testing.T) {
	srv, _ := fakeEmbeddings(t, func(_ http.ResponseWriter, data []map[string]any) ([]map[string]any, bool) {
		return data[:len(data)-1], true
	})
	r := newTestRemote(t, srv.URL, RemoteConfig{})
	if _, err := r.Embed(context.Background(), []string{"x", "y"}); err == nil || !strings.Contains(err.Error(), "1 embeddings for 2") {
		t.Fatalf("err = %v, want a count mismatch", err)
	}
}

func TestRemoteBadIndexAndDim(t *testing.T) {
	srv, _ := fakeEmbeddings(t, func(_ http.ResponseWriter, data []map[string]any) ([]map[string]any, bool) {
		data[0]["index"] = data[1]["index"]
		return data, true
	})
	r := newTestRemote(t, srv.URL, RemoteConfig{})
	if _, err := r.Embed(context.Background(), []string{"x", "y"}); err == nil || !strings.Contains(err.Error(), "index") {
		t.Fatalf("err = %v, want a repeated index error", err)
	}
	srv2, _ := fakeEmbeddings(t, nil)
	r2 := newTestRemote(t, srv2.URL, RemoteConfig{Dim: 4})
	if _, err := r2.Embed(context.Background(), []string{"x"}); err == nil || !strings.Contains(err.Error(), "dimensions") {
		t.Fatalf("err = %v, want a width error", err)
	}
}

func TestRemoteResponseTooLarge(t *testing.T) {
	srv, _ := fakeEmbeddings(t, nil)
	r := newTestRemote(t, srv.URL, RemoteConfig{MaxResponseBytes: 64})
	_, err := r.Embed(context.Background(), []string{"x", "y", "z"})
	if !errors.Is(err, ErrResponseTooLarge) {
		t.Fatalf("err = %v, want ErrResponseTooLarge", err)
	}
}

func TestNewRemoteValidates(t *testing.T) {
	if _, err := NewRemote(RemoteConfig{Model: "m"}); err == nil {
		t.Fatal("no base URL accepted")
	}
	if _, err := NewRemote(RemoteConfig{BaseURL: "http://x"}); err == nil {
		t.Fatal("no model accepted")
	}
}

// A body without Content-Length (chunked) is cut off by the reader, not buffered whole.
func TestRemoteStreamedResponseTooLarge(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"object":"list","data":[{"object":"embedding","index":0,"embedding":[`))
		w.(http.Flusher).Flush() // forces chunked encoding: no Content-Length
		for i := range 10000 {
			if i > 0 {
				w.Write([]byte(","))
			}
			w.Write([]byte("0.125"))
		}
		w.Write([]byte(`]}],"model":"test-embed","usage":{"prompt_tokens":1,"total_tokens":1}}`))
	}))
	t.Cleanup(srv.Close)
	r := newTestRemote(t, srv.URL, RemoteConfig{MaxResponseBytes: 4096})
	if _, err := r.Embed(context.Background(), []string{"x"}); !errors.Is(err, ErrResponseTooLarge) {
		t.Fatalf("err = %v, want ErrResponseTooLarge", err)
	}
	r2 := newTestRemote(t, srv.URL, RemoteConfig{})
	vs, err := r2.Embed(context.Background(), []string{"x"})
	if err != nil || len(vs) != 1 || len(vs[0]) != 10000 {
		t.Fatalf("under the default limit: %v, %d vectors", err, len(vs))
	}
}
