package server

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden SSE streams in testdata/sse")

// TestSSEGolden pins the exact bytes of streams (chunk order, fields, nulls, the usage chunk,
// [DONE]) against files in testdata/sse; run with -update to rewrite them after a deliberate
// change. Times and call ids are masked; the request id is fixed with X-Request-Id.
func TestSSEGolden(t *testing.T) {
	created := regexp.MustCompile(`"created":\d+`)
	callID := regexp.MustCompile(`"call_[A-Za-z0-9]{24}"`)
	cases := []struct {
		name, path, body string
		pieces           []string
	}{
		{"chat_tool_calls", "/v1/chat/completions",
			`{"messages": [{"role": "user", "content": "Weather?"}], "stream": true, "stream_options": {"include_usage": true},
			  "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]}`,
			cut("<think>\nCheck.\n</think>\n\nOne moment.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>", 6)},
		{"chat_logprobs", "/v1/chat/completions",
			`{"messages": [{"role": "user", "content": "Hi"}], "stream": true, "logprobs": true, "top_logprobs": 1}`,
			[]string{"Hel", "lo", "!"}},
		{"completions", "/v1/completions",
			`{"prompt": "Say", "stream": true, "stream_options": {"include_usage": true}, "logprobs": 0}`,
			[]string{" hello", " world"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts := startServer(t, newScripted(t, c.pieces...), Model{}, Options{})
			status, hdr, body := ts.post(t, c.path, c.body, "X-Request-Id", "golden")
			if status != 200 || hdr.Get("Content-Type") != "text/event-stream" {
				t.Fatalf("%d %v %s", status, hdr, body)
			}
			got := created.ReplaceAll(body, []byte(`"created":0`))
			got = callID.ReplaceAll(got, []byte(`"call_X"`))
			path := filepath.Join("testdata", "sse", c.name+".txt")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if string(got) != string(want) {
				t.Fatalf("stream differs from %s:\n got:\n%s\nwant:\n%s", path, got, want)
			}
		})
	}
}
