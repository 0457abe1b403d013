package server

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openai/openai-go"

	"github.com/arborlabs/arbor/memory/embed"
)

// TestEmbeddings: the official client gets the built-in embedder's vectors, in order, with
// usage in the served model's tokens; base64 encoding decodes to the same floats; token-id
// inputs are decoded with the model's tokenizer.
func TestEmbeddings(t *testing.T) {
	gen := FromEngine(newDemoEngine(t, engineOpts{}))
	ts := startServer(t, gen, Model{}, Options{})
	texts := []string{"The spare key is under the blue flowerpot.", "Where is the spare key?"}
	cl := ts.client()
	res, err := cl.Embeddings.New(context.Background(), openai.EmbeddingNewParams{
		Model: "anything",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: texts},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := embed.NewHashed(0)
	if len(res.Data) != 2 || res.Model != h.Name() {
		t.Fatalf("%d vectors from %q", len(res.Data), res.Model)
	}
	for i, d := range res.Data {
		want := h.EmbedOne(texts[i])
		if d.Index != int64(i) || len(d.Embedding) != len(want) {
			t.Fatalf("vector %d: index %d, %d dimensions", i, d.Index, len(d.Embedding))
		}
		for j := range want {
			if float32(d.Embedding[j]) != want[j] {
				t.Fatalf("vector %d [%d]: %v, want %v", i, j, d.Embedding[j], want[j])
			}
		}
	}
	wantTokens := len(gen.Tokenizer().EncodeText(texts[0])) + len(gen.Tokenizer().EncodeText(texts[1]))
	if res.Usage.PromptTokens != int64(wantTokens) || res.Usage.TotalTokens != int64(wantTokens) {
		t.Fatalf("usage %+v, want %d tokens", res.Usage, wantTokens)
	}

	// base64, and token ids.
	ids, _ := json.Marshal(gen.Tokenizer().EncodeText(texts[1]))
	status, _, body := ts.post(t, "/v1/embeddings", `{"input":`+string(ids)+`,"encoding_format":"base64"}`)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	var b64 struct {
		Data []struct {
			Embedding string `json:"embedding"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &b64); err != nil || len(b64.Data) != 1 {
		t.Fatalf("%v: %s", err, body)
	}
	raw, err := base64.StdEncoding.DecodeString(b64.Data[0].Embedding)
	if err != nil {
		t.Fatal(err)
	}
	want := h.EmbedOne(texts[1])
	for j := range want {
		if got := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:])); got != want[j] {
			t.Fatalf("base64 [%d]: %v, want %v", j, got, want[j])
		}
	}
}

func TestEmbeddingsBadRequests(t *testing.T) {
	ts := startServer(t, FromEngine(newDemoEngine(t, engineOpts{})), Model{}, Options{})
	many := make([]string, maxEmbeddingInputs+1)
	for i := range many {
		many[i] = `"x"`
	}
	for _, c := range []struct{ body, param string }{
		{`{}`, "input"},
		{`{"input":""}`, "input"},
		{`{"input":[]}`, "input"},
		{`{"input":[1.5]}`, "input"},
		{`{"input":[-1]}`, "input"},
		{`{"input":{"a":1}}`, "input"},
		{`{"input":[` + strings.Join(many, ",") + `]}`, "input"},
		{`{"input":"` + strings.Repeat("a", maxEmbeddingText+1) + `"}`, "input"},
		{`{"input":"hi","encoding_format":"hex"}`, "encoding_format"},
		{`{"input":"hi","dimensions":3}`, "dimensions"},
		{`[1]`, ""},
	} {
		status, _, body := ts.post(t, "/v1/embeddings", c.body)
		var e struct {
			Error struct {
				Param *string `json:"param"`
			} `json:"error"`
		}
		_ = json.Unmarshal([]byte(body), &e)
		param := ""
		if e.Error.Param != nil {
			param = *e.Error.Param
		}
		if status != http.StatusBadRequest || param != c.param {
			t.Errorf("%.60s: status %d, param %q; want 400 naming %q (%.200s)", c.body, status, param, c.param, body)
		}
	}
}

// TestEmbeddingsRemote: with a remote embedder configured, /v1/embeddings answers with what the
// remote endpoint returns, under the remote's name.
func TestEmbeddingsRemote(t *testing.T) {
	remote := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Input []string `json:"input"`
			Model string   `json:"model"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		w.Header().Set("Content-Type", "application/json")
		data := []map[string]any{}
		for i, in := range req.Input {
			data = append(data, map[string]any{"object": "embedding", "index": i, "embedding": []float32{float32(len(in)), 1, 0}})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": req.Model,
			"usage": map[string]int{"prompt_tokens": 1, "total_tokens": 1}})
	}))
	defer remote.Close()
	emb, err := embed.NewRemote(embed.RemoteConfig{BaseURL: remote.URL + "/v1", Model: "e5"})
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, FromEngine(newDemoEngine(t, engineOpts{})), Model{}, Options{Embedder: emb})
	status, _, body := ts.post(t, "/v1/embeddings", `{"input":["abcd","xy"],"model":"e5"}`)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	var res struct {
		Data []struct {
			Embedding []float32 `json:"embedding"`
		} `json:"data"`
		Model string `json:"model"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Data) != 2 || res.Data[0].Embedding[0] != 4 || res.Data[1].Embedding[0] != 2 || !strings.Contains(res.Model, "e5") {
		t.Fatalf("response %s", body)
	}
	remote.Close() // the remote gone: a bad gateway, in OpenAI's error shape
	status, _, body = ts.post(t, "/v1/embeddings", `{"input":"abc"}`)
	if status != http.StatusBadGateway || !strings.Contains(string(body), `"type":"server_error"`) {
		t.Fatalf("remote down: status %d: %s", status, body)
	}
}
