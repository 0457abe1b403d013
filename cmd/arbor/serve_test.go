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

	"github.com/arborlabs/arbor/evals"
	"github.com/arborlabs/arbor/evals/grade"
	"github.com/arborlabs/arbor/runtime/model/demo"
	"github.com/arborlabs/arbor/runtime/sparse"
	"github.com/arborlabs/arbor/tree"
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

// TestServeDemoDefaultsToTrees: without --model, serve answers chat requests with the demo
// model's task trees (the calculator running inside the decode), and answers the README's first
// request right; --tree=false turns trees off.
func TestServeDemoDefaultsToTrees(t *testing.T) {
	for _, c := range []struct {
		args []string
		tree bool
	}{{nil, true}, {[]string{"--tree=false"}, false}} {
		ctx, cancel := context.WithCancel(context.Background())
		addrs := make(chan string, 1)
		done := make(chan error, 1)
		args := append([]string{"--addr", "127.0.0.1:0", "--memory", "off", "--ctx", "1024"}, c.args...)
		go func() { done <- serve(ctx, args, io.Discard, func(a string) { addrs <- a }) }()
		url := "http://" + <-addrs + "/v1"
		if _, err := waitModel(ctx, url, done); err != nil {
			t.Fatal(err)
		}
		body := `{"model":"arbor-demo","max_tokens":400,"temperature":0,"messages":[{"role":"user","content":` +
			`"A crate holds 24 jars. A shop orders 17 crates, then sells 150 jars. How many jars are left?"}]}`
		resp, err := http.Post(url+"/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Choices []struct {
				Message struct{ Content string } `json:"message"`
			} `json:"choices"`
			Usage struct {
				ToolCalls *int `json:"tool_calls"`
			} `json:"usage"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil || len(out.Choices) != 1 {
			t.Fatalf("%v %+v", err, out)
		}
		content := out.Choices[0].Message.Content
		isTree := tree.CheckResponse([]byte(content), 0) == nil
		if isTree != c.tree || c.tree && (out.Usage.ToolCalls == nil || *out.Usage.ToolCalls == 0) {
			t.Errorf("%v: tree %v, tool calls %v: %s", c.args, isTree, out.Usage.ToolCalls, content)
		}
		// This is the README's first request, which shows the right answer.
		if res := grade.Grade(evals.TaskArith, content, "258"); c.tree && !res.Correct {
			t.Errorf("the README's first request: %s, want the answer 258", content)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
