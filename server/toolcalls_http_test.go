package server

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/packages/param"
	"github.com/openai/openai-go/shared"
)

// The demo model's random weights never write a tool call, so these tests put the scripted
// generator behind the server: the HTTP layer, the SDK's parsing and its stream accumulator see
// real tool-call output, cut into pieces at awkward places.

// cut splits s into pieces of n bytes (the scripted output is ASCII).
func cut(s string, n int) []string {
	var out []string
	for len(s) > n {
		out = append(out, s[:n])
		s = s[n:]
	}
	return append(out, s)
}

var weatherTools = []openai.ChatCompletionToolParam{
	{Function: shared.FunctionDefinitionParam{Name: "get_weather", Description: param.NewOpt("Weather for a city"),
		Parameters: shared.FunctionParameters{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}}}},
	{Function: shared.FunctionDefinitionParam{Name: "get_time",
		Parameters: shared.FunctionParameters{"type": "object", "properties": map[string]any{"tz": map[string]any{"type": "string"}}}}},
}

const hermesOutput = "<think>\nThe user wants the weather and the time.\n</think>\n\nLet me check both.\n" +
	"<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris \\\"Ville Lumière\\\"\", \"days\": [1, 2], \"note\": \"</tool_call> is text\"}}\n</tool_call>\n" +
	"<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"tz\": \"Europe/Paris\"}}\n</tool_call>"

func TestToolCallsOverHTTP(t *testing.T) {
	for _, size := range []int{1, 3, 7, 1000} {
		gen := newScripted(t, cut(hermesOutput, size)...)
		ts := startServer(t, gen, Model{}, Options{})
		cl := ts.client()
		ctx := context.Background()
		params := openai.ChatCompletionNewParams{Model: "arbor-demo", Messages: userMsg("Weather and time in Paris?"), Tools: weatherTools}

		res, err := cl.Chat.Completions.New(ctx, params)
		if err != nil {
			t.Fatal(err)
		}
		ch := res.Choices[0]
		if ch.FinishReason != "tool_calls" || ch.Message.Content != "Let me check both." || len(ch.Message.ToolCalls) != 2 {
			t.Fatalf("piece size %d: choice %+v", size, ch)
		}
		wantArgs := []string{
			`{"city": "Paris \"Ville Lumière\"", "days": [1, 2], "note": "</tool_call> is text"}`,
			`{"tz": "Europe/Paris"}`,
		}
		for i, tc := range ch.Message.ToolCalls {
			if !strings.HasPrefix(tc.ID, "call_") || tc.Type != "function" || tc.Function.Arguments != wantArgs[i] {
				t.Fatalf("call %d: %+v", i, tc)
			}
		}
		if ch.Message.ToolCalls[0].Function.Name != "get_weather" || ch.Message.ToolCalls[1].Function.Name != "get_time" {
			t.Fatalf("names: %+v", ch.Message.ToolCalls)
		}
		if rc := ch.Message.JSON.ExtraFields["reasoning_content"].Raw(); rc != `"The user wants the weather and the time."` {
			t.Fatalf("reasoning_content %s", rc)
		}

		// Streamed: content before the calls as content deltas, nothing of the calls as content,
		// each call as a head (id, type, name, "" arguments) then argument deltas that join to
		// exactly the non-streamed arguments.
		stream := cl.Chat.Completions.NewStreaming(ctx, params)
		acc := openai.ChatCompletionAccumulator{}
		var content, reasoning strings.Builder
		args := map[int64]*strings.Builder{}
		heads := map[int64]openai.ChatCompletionChunkChoiceDeltaToolCall{}
		finish := ""
		for stream.Next() {
			chunk := stream.Current()
			acc.AddChunk(chunk)
			for _, c := range chunk.Choices {
				content.WriteString(c.Delta.Content)
				if f, ok := c.Delta.JSON.ExtraFields["reasoning_content"]; ok {
					var s string
					_ = json.Unmarshal([]byte(f.Raw()), &s)
					reasoning.WriteString(s)
				}
				for _, tc := range c.Delta.ToolCalls {
					if tc.ID != "" {
						if _, dup := heads[tc.Index]; dup || tc.Function.Name == "" || tc.Type != "function" || tc.Function.Arguments != "" {
							t.Fatalf("call head %+v", tc)
						}
						heads[tc.Index] = tc
						args[tc.Index] = &strings.Builder{}
						continue
					}
					if args[tc.Index] == nil || tc.Function.Name != "" {
						t.Fatalf("arguments before the head, or a name in an argument delta: %+v", tc)
					}
					args[tc.Index].WriteString(tc.Function.Arguments)
				}
				if c.FinishReason != "" {
					finish = c.FinishReason
				}
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if content.String() != "Let me check both." || reasoning.String() != "The user wants the weather and the time." || finish != "tool_calls" {
			t.Fatalf("piece size %d: streamed content %q, reasoning %q, finish %q", size, content.String(), reasoning.String(), finish)
		}
		for i, want := range wantArgs {
			got := args[int64(i)].String()
			if !json.Valid([]byte(got)) || got != want || heads[int64(i)].Function.Name != ch.Message.ToolCalls[i].Function.Name {
				t.Fatalf("streamed call %d: %+v args %q, want %q", i, heads[int64(i)], got, want)
			}
		}
		// The SDK's own accumulator agrees.
		if len(acc.Choices) != 1 || len(acc.Choices[0].Message.ToolCalls) != 2 || acc.Choices[0].Message.ToolCalls[0].Function.Arguments != wantArgs[0] {
			t.Fatalf("accumulated %+v", acc.Choices)
		}
	}
}

func TestToolChoiceOverHTTP(t *testing.T) {
	// A named function: the server writes the call's opening into the prompt; the model (here
	// the script) continues with the arguments.
	gen := newScripted(t, `{"city": `, `"Oslo"}}`, "\n</tool_call>")
	ts := startServer(t, gen, Model{}, Options{})
	cl := ts.client()
	ctx := context.Background()
	res, err := cl.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "arbor-demo", Messages: userMsg("Weather in Oslo?"), Tools: weatherTools,
		ToolChoice: openai.ChatCompletionToolChoiceOptionUnionParam{OfChatCompletionNamedToolChoice: &openai.ChatCompletionNamedToolChoiceParam{
			Function: openai.ChatCompletionNamedToolChoiceFunctionParam{Name: "get_weather"}}}})
	if err != nil {
		t.Fatal(err)
	}
	tc := res.Choices[0].Message.ToolCalls
	if len(tc) != 1 || tc[0].Function.Name != "get_weather" || tc[0].Function.Arguments != `{"city": "Oslo"}` || res.Choices[0].FinishReason != "tool_calls" {
		t.Fatalf("named tool choice: %+v", res.Choices[0])
	}
	prompt := gen.tok.Decode(gen.requests()[0].Prompt)
	if !strings.HasSuffix(prompt, "<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": ") || !strings.Contains(prompt, "<tools>") {
		t.Fatalf("prompt ends %q", prompt[max(0, len(prompt)-120):])
	}

	// tool_choice "none": the tools are not shown to the model and the output is not parsed.
	gen = newScripted(t, "<tool_call>{\"name\": \"get_weather\"}</tool_call>")
	ts = startServer(t, gen, Model{}, Options{})
	cl = ts.client()
	res, err = cl.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "arbor-demo", Messages: userMsg("x"), Tools: weatherTools,
		ToolChoice: openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("none")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Choices[0].Message.ToolCalls) != 0 || res.Choices[0].FinishReason != "stop" || strings.Contains(gen.tok.Decode(gen.requests()[0].Prompt), "<tools>") {
		t.Fatalf("tool_choice none: %+v", res.Choices[0])
	}

	// parallel_tool_calls false keeps the first call.
	gen = newScripted(t, cut(hermesOutput, 5)...)
	ts = startServer(t, gen, Model{}, Options{})
	cl = ts.client()
	res, err = cl.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "arbor-demo", Messages: userMsg("x"), Tools: weatherTools,
		ParallelToolCalls: openai.Bool(false)})
	if err != nil || len(res.Choices[0].Message.ToolCalls) != 1 {
		t.Fatalf("parallel_tool_calls false: %+v %v", res, err)
	}
}

func TestLlama3ToolCallsOverHTTP(t *testing.T) {
	gen := newScripted(t, cut(`<|python_tag|>{"name": "get_weather", "parameters": {"city": "Rome"}}`, 4)...)
	ts := startServer(t, gen, Model{ChatTemplate: readTemplate(t, "llama3.jinja")}, Options{})
	cl := ts.client()
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{Model: "arbor-demo", Messages: userMsg("Weather in Rome?"), Tools: weatherTools}
	res, err := cl.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	m := res.Choices[0].Message
	if len(m.ToolCalls) != 1 || m.ToolCalls[0].Function.Arguments != `{"city": "Rome"}` || m.JSON.Content.Raw() != "null" {
		t.Fatalf("llama3 call: %+v (content %s)", m, m.JSON.Content.Raw())
	}
	stream := cl.Chat.Completions.NewStreaming(ctx, params)
	acc := openai.ChatCompletionAccumulator{}
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if got := acc.Choices[0].Message.ToolCalls; len(got) != 1 || got[0].Function.Arguments != `{"city": "Rome"}` || acc.Choices[0].Message.Content != "" {
		t.Fatalf("streamed llama3 call: %+v", acc.Choices[0].Message)
	}
}

func TestReasoningOverHTTP(t *testing.T) {
	gen := newScripted(t, cut("<think>\nTwo plus two.\n</think>\n\nIt is 4.", 2)...)
	ts := startServer(t, gen, Model{}, Options{})
	status, _, body := ts.post(t, "/v1/chat/completions", `{"messages": [{"role": "user", "content": "2+2?"}], "chat_template_kwargs": {"enable_thinking": true}}`)
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	var res struct {
		Choices []struct {
			Message struct {
				Content          *string `json:"content"`
				ReasoningContent *string `json:"reasoning_content"`
				Reasoning        *string `json:"reasoning"`
			} `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	m := res.Choices[0].Message
	if deref(m.Content) != "It is 4." || deref(m.ReasoningContent) != "Two plus two." || deref(m.Reasoning) != "Two plus two." {
		t.Fatalf("message %s", body)
	}
	// enable_thinking false reaches the template, which closes the think block in the prompt.
	status, _, body = ts.post(t, "/v1/chat/completions", `{"messages": [{"role": "user", "content": "2+2?"}], "chat_template_kwargs": {"enable_thinking": false}}`)
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	reqs := gen.requests()
	if p := gen.tok.Decode(reqs[len(reqs)-1].Prompt); !strings.HasSuffix(p, "<|im_start|>assistant\n<think>\n\n</think>\n\n") {
		t.Fatalf("prompt with thinking off ends %q", p[max(0, len(p)-60):])
	}
}
