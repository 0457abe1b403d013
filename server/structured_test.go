package server

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/shared"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/arborlabs/arbor/internal/schematest"
)

// The demo model's random weights write noise; every response that parses and validates below
// does so because of the grammar.

func TestResponseFormatSchemaSuite(t *testing.T) {
	eng := newDemoEngine(t, engineOpts{pages: 640, ctx: 512})
	ts := startServer(t, FromEngine(eng), Model{Demo: true}, Options{})
	cl := ts.client()
	names, schemas := schematest.Suite(t)
	temps := []float64{0, 0.7, 1.5}
	maxTokens := int64(120)
	if testing.Short() {
		temps, maxTokens = []float64{0.7}, 60
	}
	var mu sync.Mutex
	counts := map[string]int{}
	for _, temp := range temps {
		var wg sync.WaitGroup
		for i, name := range names {
			wg.Add(1)
			go func() {
				defer wg.Done()
				val := schematest.Validator(t, schemas[name])
				res, err := cl.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
					Model:       "arbor-demo",
					Messages:    userMsg("Answer in JSON."),
					MaxTokens:   openai.Int(maxTokens),
					Temperature: openai.Float(temp),
					Seed:        openai.Int(int64(i)),
					ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
						JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: name, Schema: schemas[name], Strict: openai.Bool(true)}}},
				})
				if err != nil {
					t.Errorf("%s T=%v: %v", name, temp, err)
					return
				}
				ch := res.Choices[0]
				mu.Lock()
				counts[ch.FinishReason]++
				mu.Unlock()
				switch ch.FinishReason {
				case "stop":
					if err := schematest.Validate(val, []byte(ch.Message.Content)); err != nil {
						t.Errorf("%s T=%v: %q: %v", name, temp, ch.Message.Content, err)
					}
				case "length":
					// Cut at max_tokens, or, for a task tree, closed by the shortest way before
					// it (the decode's budget bound): then it is a whole value.
					if res.Usage.CompletionTokens != maxTokens {
						if err := schematest.Validate(val, []byte(ch.Message.Content)); err != nil {
							t.Errorf("%s T=%v: length after %d tokens, and not a whole value: %v", name, temp,
								res.Usage.CompletionTokens, err)
						}
					}
				default:
					t.Errorf("%s T=%v: finish_reason %q", name, temp, ch.FinishReason)
				}
			}()
		}
		wg.Wait()
	}
	t.Logf("%d schemas x %d temperatures: finish reasons %v", len(names), len(temps), counts)
	if counts["stop"] < len(names)*len(temps)*3/4 {
		t.Errorf("too few completed documents: %v", counts)
	}
}

func TestResponseFormatJSONObjectAndStreaming(t *testing.T) {
	eng := newDemoEngine(t, engineOpts{pages: 128, ctx: 512})
	ts := startServer(t, FromEngine(eng), Model{Demo: true}, Options{})
	cl := ts.client()
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{
		Model:          "arbor-demo",
		Messages:       userMsg("JSON please."),
		MaxTokens:      openai.Int(200),
		Temperature:    openai.Float(0),
		ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &shared.ResponseFormatJSONObjectParam{}},
	}
	res, err := cl.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	ch := res.Choices[0]
	var obj map[string]any
	if ch.FinishReason == "stop" {
		if err := json.Unmarshal([]byte(ch.Message.Content), &obj); err != nil {
			t.Fatalf("%q: %v", ch.Message.Content, err)
		}
	} else if ch.FinishReason != "length" || len(ch.Message.Content) == 0 || ch.Message.Content[0] != '{' {
		t.Fatalf("choice %+v", ch)
	}
	// The stream carries the same text.
	stream := cl.Chat.Completions.NewStreaming(ctx, params)
	acc := openai.ChatCompletionAccumulator{}
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if got := acc.Choices[0].Message.Content; got != ch.Message.Content {
		t.Fatalf("streamed %q, whole %q", got, ch.Message.Content)
	}
}

func TestToolChoiceArgumentsValidate(t *testing.T) {
	eng := newDemoEngine(t, engineOpts{pages: 256, ctx: 512})
	ts := startServer(t, FromEngine(eng), Model{Demo: true}, Options{})
	cl := ts.client()
	weather := json.RawMessage(`{"type":"object","properties":{"city":{"type":"string","maxLength":10},"days":{"type":"integer","minimum":1,"maximum":7},"unit":{"enum":["c","f"]}},"required":["city","days","unit"],"additionalProperties":false}`)
	clock := json.RawMessage(`{"type":"object","properties":{"tz":{"type":"string","pattern":"^[A-Z][a-z]{1,8}/[A-Z][a-z]{1,8}$"}},"required":["tz"],"additionalProperties":false}`)
	var wp, cp map[string]any
	_ = json.Unmarshal(weather, &wp)
	_ = json.Unmarshal(clock, &cp)
	tools := []openai.ChatCompletionToolParam{
		{Function: shared.FunctionDefinitionParam{Name: "get_weather", Parameters: wp}},
		{Function: shared.FunctionDefinitionParam{Name: "get_time", Parameters: cp}},
	}
	vals := map[string]*jsonschema.Schema{"get_weather": schematest.Validator(t, weather), "get_time": schematest.Validator(t, clock)}
	choices := []openai.ChatCompletionToolChoiceOptionUnionParam{
		{OfAuto: openai.String("required")},
		{OfChatCompletionNamedToolChoice: &openai.ChatCompletionNamedToolChoiceParam{Function: openai.ChatCompletionNamedToolChoiceFunctionParam{Name: "get_time"}}},
	}
	validated := 0
	for ci, choice := range choices {
		for _, temp := range []float64{0, 0.7, 1.5} {
			for seed := range int64(3) {
				res, err := cl.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
					Model: "arbor-demo", Messages: userMsg("Weather in Paris?"), Tools: tools, ToolChoice: choice,
					MaxTokens: openai.Int(100), Temperature: openai.Float(temp), Seed: openai.Int(seed),
				})
				if err != nil {
					t.Fatal(err)
				}
				ch := res.Choices[0]
				if ch.FinishReason == "length" {
					continue
				}
				if ch.FinishReason != "tool_calls" || len(ch.Message.ToolCalls) != 1 {
					t.Fatalf("choice %d T=%v: %+v", ci, temp, ch)
				}
				call := ch.Message.ToolCalls[0].Function
				if ci == 1 && call.Name != "get_time" {
					t.Fatalf("named get_time, called %q", call.Name)
				}
				val := vals[call.Name]
				if val == nil {
					t.Fatalf("called unknown %q", call.Name)
				}
				if err := schematest.Validate(val, []byte(call.Arguments)); err != nil {
					t.Fatalf("choice %d T=%v: %s(%s): %v", ci, temp, call.Name, call.Arguments, err)
				}
				validated++
			}
		}
	}
	t.Logf("%d of 18 forced calls completed, all valid", validated)
	if validated < 9 {
		t.Errorf("only %d of 18 forced calls completed within max_tokens", validated)
	}
}
