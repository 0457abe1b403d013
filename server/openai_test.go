package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/arborlabs/arbor/runtime/chat"
	api "github.com/arborlabs/arbor/server/openai"
	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
)

// These tests drive the server over HTTP with the official Go SDK, against the demo model.

func userMsg(s string) []openai.ChatCompletionMessageParamUnion {
	return []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage(s)}
}

func TestChatWithSDK(t *testing.T) {
	eng := newDemoEngine(t, engineOpts{})
	ts := startServer(t, FromEngine(eng), Model{Demo: true}, Options{})
	cl := ts.client()
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{
		Model:       "arbor-demo",
		Messages:    userMsg("Hello there"),
		MaxTokens:   openai.Int(12),
		Temperature: openai.Float(0),
	}
	res, err := cl.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.ID, "chatcmpl-") || res.Model != "arbor-demo" || res.Object != "chat.completion" || len(res.Choices) != 1 {
		t.Fatalf("response %+v", res)
	}
	ch := res.Choices[0]
	if ch.FinishReason != "length" && ch.FinishReason != "stop" || ch.Message.Role != "assistant" {
		t.Fatalf("choice %+v", ch)
	}
	// The prompt is the chat template's rendering, encoded.
	st := ts.state.Load()
	want, _, _, err := st.chatPrompt(&api.ChatRequest{Messages: mustMessages(t,
		`[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello there"}]`), ToolChoice: api.ToolChoice{Mode: "none"}})
	if err != nil {
		t.Fatal(err)
	}
	u := res.Usage
	if int(u.PromptTokens) != len(want) || u.CompletionTokens < 1 || u.CompletionTokens > 12 || u.TotalTokens != u.PromptTokens+u.CompletionTokens {
		t.Fatalf("usage %+v, prompt %d tokens", u, len(want))
	}

	// Streaming gives the same text (greedy), a role first, and usage in a last chunk with no
	// choices.
	stream := cl.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model: "arbor-demo", Messages: userMsg("Hello there"), MaxTokens: openai.Int(12), Temperature: openai.Float(0),
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	var text strings.Builder
	var chunks []openai.ChatCompletionChunk
	for stream.Next() {
		c := stream.Current()
		chunks = append(chunks, c)
		for _, cc := range c.Choices {
			text.WriteString(cc.Delta.Content)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if len(chunks) < 3 || chunks[0].Choices[0].Delta.Role != "assistant" {
		t.Fatalf("chunks %+v", chunks)
	}
	last := chunks[len(chunks)-1]
	if len(last.Choices) != 0 || last.Usage.TotalTokens != u.TotalTokens || last.Usage.CompletionTokens != u.CompletionTokens {
		t.Fatalf("last chunk %+v, want usage %+v", last, u)
	}
	if fin := chunks[len(chunks)-2].Choices[0].FinishReason; fin != ch.FinishReason {
		t.Fatalf("streamed finish %q, want %q", fin, ch.FinishReason)
	}
	if text.String() != ch.Message.Content {
		t.Fatalf("streamed %q, not streamed %q", text.String(), ch.Message.Content)
	}
}

func mustMessages(t *testing.T, js string) []chat.Message {
	t.Helper()
	req, ae := api.ParseChat([]byte(`{"messages":` + js + `}`))
	if ae != nil {
		t.Fatal(ae)
	}
	return req.Messages
}

func TestLogprobsWithSDK(t *testing.T) {
	eng := newDemoEngine(t, engineOpts{})
	ts := startServer(t, FromEngine(eng), Model{}, Options{})
	cl := ts.client()
	ctx := context.Background()
	res, err := cl.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: "arbor-demo", Messages: userMsg("Count"), MaxTokens: openai.Int(8), Temperature: openai.Float(0),
		Logprobs: openai.Bool(true), TopLogprobs: openai.Int(3),
	})
	if err != nil {
		t.Fatal(err)
	}
	ch := res.Choices[0]
	lps := ch.Logprobs.Content
	if len(lps) != int(res.Usage.CompletionTokens) {
		t.Fatalf("%d logprobs for %d tokens", len(lps), res.Usage.CompletionTokens)
	}
	var joined []byte
	for _, lp := range lps {
		if len(lp.TopLogprobs) != 3 || lp.Logprob > 0 {
			t.Fatalf("entry %+v", lp)
		}
		// Greedy: the chosen token is the most likely one.
		if lp.Logprob < lp.TopLogprobs[0].Logprob-1e-5 || lp.TopLogprobs[0].Logprob < lp.TopLogprobs[1].Logprob {
			t.Fatalf("entry %+v not greedy or not sorted", lp)
		}
		for _, b := range lp.Bytes {
			joined = append(joined, byte(b))
		}
	}
	if ch.FinishReason == "length" && string(joined) != ch.Message.Content {
		t.Fatalf("token bytes join to %q, content %q", joined, ch.Message.Content)
	}

	// Streamed logprobs come with the chunks and add up to the same list.
	stream := cl.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model: "arbor-demo", Messages: userMsg("Count"), MaxTokens: openai.Int(8), Temperature: openai.Float(0),
		Logprobs: openai.Bool(true), TopLogprobs: openai.Int(3),
	})
	var streamed []openai.ChatCompletionTokenLogprob
	for stream.Next() {
		for _, c := range stream.Current().Choices {
			streamed = append(streamed, c.Logprobs.Content...)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if len(streamed) != len(lps) {
		t.Fatalf("%d streamed logprobs, %d not streamed", len(streamed), len(lps))
	}
	for i := range lps {
		if streamed[i].Token != lps[i].Token || streamed[i].Logprob != lps[i].Logprob {
			t.Fatalf("logprob %d: streamed %+v, not %+v", i, streamed[i], lps[i])
		}
	}

	// Completions: the legacy shape, parallel arrays.
	cres, err := cl.Completions.New(ctx, openai.CompletionNewParams{
		Model: openai.CompletionNewParamsModel("arbor-demo"), Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("Once upon")},
		MaxTokens: openai.Int(6), Temperature: openai.Float(0), Logprobs: openai.Int(2),
	})
	if err != nil {
		t.Fatal(err)
	}
	cl0 := cres.Choices[0].Logprobs
	n := int(cres.Usage.CompletionTokens)
	if len(cl0.Tokens) != n || len(cl0.TokenLogprobs) != n || len(cl0.TopLogprobs) != n || len(cl0.TextOffset) != n || cl0.TextOffset[0] != 0 {
		t.Fatalf("completion logprobs %+v for %d tokens", cl0, n)
	}
	for i, top := range cl0.TopLogprobs {
		if len(top) == 0 || len(top) > 2 {
			t.Fatalf("top_logprobs[%d] = %v", i, top)
		}
		if i > 0 && cl0.TextOffset[i] < cl0.TextOffset[i-1] {
			t.Fatalf("text_offset %v", cl0.TextOffset)
		}
	}
}

func TestCompletionsWithSDK(t *testing.T) {
	eng := newDemoEngine(t, engineOpts{})
	ts := startServer(t, FromEngine(eng), Model{}, Options{})
	cl := ts.client()
	ctx := context.Background()
	tok := eng.Tokenizer()
	ids := tok.Encode("The quick brown fox")
	base := openai.CompletionNewParams{Model: "arbor-demo", MaxTokens: openai.Int(6), Temperature: openai.Float(0)}

	p := base
	p.Prompt = openai.CompletionNewParamsPromptUnion{OfString: openai.String("The quick brown fox")}
	byText, err := cl.Completions.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	toks := make([]int64, len(ids))
	for i, id := range ids {
		toks[i] = int64(id)
	}
	p.Prompt = openai.CompletionNewParamsPromptUnion{OfArrayOfTokens: toks}
	byIDs, err := cl.Completions.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	// The Qwen3 tokenizer adds no BOS, so the text and its ids are the same prompt.
	if byText.Choices[0].Text != byIDs.Choices[0].Text || byText.Usage.PromptTokens != int64(len(ids)) || byText.Object != "text_completion" {
		t.Fatalf("by text %+v, by ids %+v", byText, byIDs)
	}
	// Two prompts, two choices each: indexes 0..3, usage counts each prompt once.
	p.Prompt = openai.CompletionNewParamsPromptUnion{OfArrayOfStrings: []string{"The quick brown fox", "Hello"}}
	p.N = openai.Int(2)
	multi, err := cl.Completions.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(multi.Choices) != 4 || multi.Choices[0].Text != byText.Choices[0].Text || multi.Choices[1].Text != byText.Choices[0].Text ||
		multi.Usage.PromptTokens != int64(len(ids)+len(tok.Encode("Hello"))) {
		t.Fatalf("multi %+v", multi)
	}
	for i, c := range multi.Choices {
		if int(c.Index) != i {
			t.Fatalf("choice %d has index %d", i, c.Index)
		}
	}
	// Streaming completions: same text, usage at the end.
	p = base
	p.Prompt = openai.CompletionNewParamsPromptUnion{OfString: openai.String("The quick brown fox")}
	stream := cl.Completions.NewStreaming(ctx, p, option.WithJSONSet("stream_options", map[string]any{"include_usage": true}))
	var text strings.Builder
	var usage int64
	for stream.Next() {
		c := stream.Current()
		for _, ch := range c.Choices {
			text.WriteString(ch.Text)
		}
		usage += c.Usage.TotalTokens
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if text.String() != byText.Choices[0].Text || usage != byText.Usage.TotalTokens {
		t.Fatalf("streamed %q (usage %d), want %q (%d)", text.String(), usage, byText.Choices[0].Text, byText.Usage.TotalTokens)
	}
}

func TestSeedsAndN(t *testing.T) {
	eng := newDemoEngine(t, engineOpts{})
	ts := startServer(t, FromEngine(eng), Model{}, Options{})
	cl := ts.client()
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{
		Model: "arbor-demo", Messages: userMsg("Tell me a story"), MaxTokens: openai.Int(10),
		Temperature: openai.Float(1), Seed: openai.Int(42), N: openai.Int(2),
	}
	a, err := cl.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	b, err := cl.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Choices) != 2 || a.Choices[0].Index != 0 || a.Choices[1].Index != 1 {
		t.Fatalf("choices %+v", a.Choices)
	}
	for i := range a.Choices {
		if a.Choices[i].Message.Content != b.Choices[i].Message.Content {
			t.Fatalf("seed 42, choice %d: %q then %q", i, a.Choices[i].Message.Content, b.Choices[i].Message.Content)
		}
	}
	// Each choice has its own seed: at temperature 1 over a 151k vocabulary, equal choices
	// would mean the seeds were shared.
	if a.Choices[0].Message.Content == a.Choices[1].Message.Content {
		t.Fatalf("n=2 gave the same text twice: %q", a.Choices[0].Message.Content)
	}
	if a.Usage.CompletionTokens != 20 && a.Choices[0].FinishReason == "length" && a.Choices[1].FinishReason == "length" {
		t.Fatalf("usage %+v", a.Usage)
	}
	params.Seed = openai.Int(43)
	c, err := cl.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if c.Choices[0].Message.Content == a.Choices[0].Message.Content {
		t.Fatalf("seeds 42 and 43 gave the same text %q", c.Choices[0].Message.Content)
	}
}

func TestStopStrings(t *testing.T) {
	eng := newDemoEngine(t, engineOpts{})
	ts := startServer(t, FromEngine(eng), Model{}, Options{})
	cl := ts.client()
	ctx := context.Background()
	p := openai.CompletionNewParams{Model: "arbor-demo", Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("Lists:")},
		MaxTokens: openai.Int(16), Temperature: openai.Float(0)}
	full, err := cl.Completions.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	text := full.Choices[0].Text
	// A stop string from the middle of the greedy text: two characters starting at the 4th.
	runes := []rune(text)
	if len(runes) < 8 {
		t.Fatalf("greedy text too short to cut: %q", text)
	}
	stop := string(runes[3:5])
	want := text[:strings.Index(text, stop)]
	p.Stop = openai.CompletionNewParamsStopUnion{OfStringArray: []string{"\x00never", stop}}
	cut, err := cl.Completions.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if cut.Choices[0].Text != want || cut.Choices[0].FinishReason != "stop" {
		t.Fatalf("stop %q: %q (%s), want %q", stop, cut.Choices[0].Text, cut.Choices[0].FinishReason, want)
	}
	// The same through chat, streamed: no part of the stop string leaks.
	res, err := cl.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "arbor-demo", Messages: userMsg("x"),
		MaxTokens: openai.Int(16), Temperature: openai.Float(0)})
	if err != nil {
		t.Fatal(err)
	}
	ctext := []rune(res.Choices[0].Message.Content)
	if len(ctext) < 8 {
		t.Fatalf("greedy chat text too short: %q", string(ctext))
	}
	cstop := string(ctext[4:6])
	cwant := string(ctext)[:strings.Index(string(ctext), cstop)]
	stream := cl.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "arbor-demo", Messages: userMsg("x"),
		MaxTokens: openai.Int(16), Temperature: openai.Float(0), Stop: openai.ChatCompletionNewParamsStopUnion{OfString: openai.String(cstop)}})
	var got strings.Builder
	finish := ""
	for stream.Next() {
		for _, c := range stream.Current().Choices {
			got.WriteString(c.Delta.Content)
			if c.FinishReason != "" {
				finish = c.FinishReason
			}
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if got.String() != cwant || finish != "stop" || !utf8.ValidString(got.String()) {
		t.Fatalf("streamed with stop %q: %q (%s), want %q", cstop, got.String(), finish, cwant)
	}
}

func TestSDKSeesErrors(t *testing.T) {
	eng := newDemoEngine(t, engineOpts{})
	ts := startServer(t, FromEngine(eng), Model{}, Options{APIKeys: []string{"sk-right"}})
	ctx := context.Background()
	wrong := ts.client(option.WithAPIKey("sk-wrong"))
	_, err := wrong.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "arbor-demo", Messages: userMsg("x")})
	var oe *openai.Error
	if !errors.As(err, &oe) || oe.StatusCode != http.StatusUnauthorized || oe.Type != api.TypeAuthentication {
		t.Fatalf("wrong key: %v", err)
	}
	cl := ts.client(option.WithAPIKey("sk-right"))
	_, err = cl.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: userMsg("x")})
	if !errors.As(err, &oe) || oe.StatusCode != http.StatusBadRequest || oe.Param != "model" || oe.Code != "model_not_found" {
		t.Fatalf("unknown model: %v", err)
	}
	_, err = cl.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "arbor-demo", Messages: userMsg("x"), TopP: openai.Float(1.5)})
	if !errors.As(err, &oe) || oe.StatusCode != http.StatusBadRequest || oe.Param != "top_p" {
		t.Fatalf("top_p 1.5: %v", err)
	}
	res, err := cl.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "arbor-demo", Messages: userMsg("x"), MaxTokens: openai.Int(2)})
	if err != nil || len(res.Choices) != 1 {
		t.Fatalf("right key: %v", err)
	}
	models, err := cl.Models.List(ctx)
	if err != nil || len(models.Data) != 1 || models.Data[0].ID != "arbor-demo" {
		t.Fatalf("models: %+v %v", models, err)
	}
}
