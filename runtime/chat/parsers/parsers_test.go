package parsers

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// parsed is what a parser produced over a whole output, assembled from its deltas.
type parsed struct {
	Content, Reasoning string
	Calls              []ToolCall
	// chunks counts the deltas, to show that streaming did stream.
	chunks int
}

// runParser feeds pieces to a fresh parser and assembles its deltas; call ids are blanked (they
// are random) after checking their form.
func runParser(t *testing.T, reasoning bool, format ToolFormat, parallel, open bool, prime string, pieces []string) parsed {
	t.Helper()
	p := New(Options{Format: format, Reasoning: reasoning, Parallel: parallel, ThinkingOpen: open, Prime: prime})
	var out parsed
	take := func(ds []Delta) {
		for _, d := range ds {
			out.chunks++
			switch d.Kind {
			case DeltaContent:
				if d.Text == "" {
					t.Fatal("empty content delta")
				}
				out.Content += d.Text
			case DeltaReasoning:
				if d.Text == "" {
					t.Fatal("empty reasoning delta")
				}
				out.Reasoning += d.Text
			case DeltaToolCall:
				c := *d.Call
				if !strings.HasPrefix(c.ID, "call_") || len(c.ID) != 29 {
					t.Fatalf("call id %q", c.ID)
				}
				if c.Index != len(out.Calls) {
					t.Fatalf("call index %d, want %d", c.Index, len(out.Calls))
				}
				if !json.Valid([]byte(c.Arguments)) {
					t.Fatalf("arguments %q are not valid JSON", c.Arguments)
				}
				c.ID = ""
				out.Calls = append(out.Calls, c)
			}
		}
	}
	for _, s := range pieces {
		take(p.Push(s))
	}
	take(p.Finish())
	return out
}

// splits returns ways to cut text into pieces: whole, every byte, and random cuts.
func splits(text string, rng *rand.Rand) [][]string {
	out := [][]string{{text}}
	var bytes []string
	for i := range len(text) {
		bytes = append(bytes, text[i:i+1])
	}
	out = append(out, bytes)
	for range 20 {
		var pieces []string
		rest := text
		for rest != "" {
			n := min(len(rest), 1+rng.IntN(8))
			pieces = append(pieces, rest[:n])
			rest = rest[n:]
		}
		out = append(out, pieces)
	}
	return out
}

func TestOutputParser(t *testing.T) {
	call := func(name, args string) ToolCall { return ToolCall{Name: name, Arguments: args, Index: -1} }
	cases := []struct {
		name      string
		reasoning bool
		format    ToolFormat
		parallel  bool
		open      bool
		prime     string
		text      string
		want      parsed
	}{
		{name: "plain", format: ToolFormatNone, text: "Hello\n\nworld  ", want: parsed{Content: "Hello\n\nworld  "}},
		{name: "plain with tools keeps whitespace when no call", format: ToolFormatHermes, parallel: true,
			text: "  Hello <b>\n", want: parsed{Content: "  Hello <b>\n"}},
		{name: "hermes one call", format: ToolFormatHermes, parallel: true,
			text: "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>",
			want: parsed{Calls: []ToolCall{call("get_weather", `{"city": "Paris"}`)}}},
		{name: "hermes text then parallel calls", format: ToolFormatHermes, parallel: true,
			text: "Let me check.\n<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": [1, {\"y\": \"}</tool_call>\"}]}}\n</tool_call>\n<tool_call>\n{\"name\": \"b\", \"arguments\": {}}\n</tool_call>",
			want: parsed{Content: "Let me check.", Calls: []ToolCall{call("a", `{"x": [1, {"y": "}</tool_call>"}]}`),
				call("b", `{}`)}}},
		{name: "hermes parallel off keeps the first", format: ToolFormatHermes, parallel: false,
			text: "<tool_call>{\"name\": \"a\", \"arguments\": {\"k\": 1}}</tool_call><tool_call>{\"name\": \"b\", \"arguments\": {}}</tool_call>",
			want: parsed{Calls: []ToolCall{call("a", `{"k": 1}`)}}},
		{name: "hermes arguments as a string", format: ToolFormatHermes, parallel: true,
			text: "<tool_call>{\"name\": \"a\", \"arguments\": \"{\\\"k\\\": 2}\"}</tool_call>",
			want: parsed{Calls: []ToolCall{call("a", `{"k": 2}`)}}},
		{name: "hermes no arguments", format: ToolFormatHermes, parallel: true,
			text: "<tool_call>{\"name\": \"now\"}</tool_call>", want: parsed{Calls: []ToolCall{call("now", `{}`)}}},
		{name: "hermes bad json stays content", format: ToolFormatHermes, parallel: true,
			text: "Hi <tool_call>{\"name\": \"a\", \"arguments\": {</tool_call> bye",
			want: parsed{Content: "Hi<tool_call>{\"name\": \"a\", \"arguments\": {</tool_call>bye"}},
		{name: "hermes unterminated call at the end is parsed", format: ToolFormatHermes, parallel: true,
			text: "<tool_call>\n{\"name\": \"a\", \"arguments\": {\"q\": \"x\"}}\n",
			want: parsed{Calls: []ToolCall{call("a", `{"q": "x"}`)}}},
		{name: "hermes lookalike tag", format: ToolFormatHermes, parallel: true,
			text: "a <tool_cal b <tool_", want: parsed{Content: "a <tool_cal b <tool_"}},
		{name: "hermes text after a call", format: ToolFormatHermes, parallel: true,
			text: "<tool_call>{\"name\": \"a\"}</tool_call>\n\nDone.", want: parsed{Content: "Done.",
				Calls: []ToolCall{call("a", `{}`)}}},
		{name: "qwen3 reasoning then call", reasoning: true, format: ToolFormatHermes, parallel: true,
			text: "<think>\nThe user wants weather.\n\nCall it.\n</think>\n\n<tool_call>\n{\"name\": \"w\", \"arguments\": {\"c\": \"Oslo\"}}\n</tool_call>",
			want: parsed{Reasoning: "The user wants weather.\n\nCall it.",
				Calls: []ToolCall{call("w", `{"c": "Oslo"}`)}}},
		{name: "qwen3 reasoning then answer", reasoning: true, format: ToolFormatNone,
			text: "<think>\nhmm\n</think>\n\nThe answer is 4.", want: parsed{Reasoning: "hmm", Content: "The answer is 4."}},
		{name: "qwen3 empty think", reasoning: true, format: ToolFormatHermes,
			text: "<think>\n\n</think>\n\nHi", want: parsed{Content: "Hi"}},
		{name: "qwen3 no think", reasoning: true, text: "Just text <think> later", want: parsed{Content: "Just text <think> later"}},
		{name: "qwen3 reasoning cut by length", reasoning: true, text: "<think>\nstill thinking\n", want: parsed{Reasoning: "still thinking"}},
		{name: "prompt opened the think block", reasoning: true, open: true, text: "reasoning</think>answer",
			want: parsed{Reasoning: "reasoning", Content: "answer"}},
		{name: "reasoning with a lookalike close", reasoning: true, text: "<think>a </thin b</think>c",
			want: parsed{Reasoning: "a </thin b", Content: "c"}},
		{name: "llama3 call", format: ToolFormatLlama3, parallel: true,
			text: "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Rome\"}}",
			want: parsed{Calls: []ToolCall{call("get_weather", `{"city": "Rome"}`)}}},
		{name: "llama3 python tag and two calls", format: ToolFormatLlama3, parallel: true,
			text: "<|python_tag|>{\"name\": \"a\", \"parameters\": {\"n\": 1}}; {\"name\": \"b\", \"parameters\": {}}",
			want: parsed{Calls: []ToolCall{call("a", `{"n": 1}`), call("b", `{}`)}}},
		{name: "llama3 text", format: ToolFormatLlama3, parallel: true, text: " Paris is the capital.", want: parsed{Content: " Paris is the capital."}},
		{name: "llama3 json that is not a call", format: ToolFormatLlama3, parallel: true,
			text: "{\"answer\": 42}", want: parsed{Content: "{\"answer\": 42}"}},
		{name: "forced named call (hermes)", format: ToolFormatHermes, parallel: true,
			prime: ToolFormatHermes.ForcedCallPrefix("w"), text: "{\"c\": \"Oslo\"}}\n</tool_call>",
			want: parsed{Calls: []ToolCall{call("w", `{"c": "Oslo"}`)}}},
		{name: "forced call (llama3)", format: ToolFormatLlama3, parallel: true,
			prime: ToolFormatLlama3.ForcedCallPrefix(""), text: "w\", \"parameters\": {\"c\": 1}}",
			want: parsed{Calls: []ToolCall{call("w", `{"c": 1}`)}}},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for i, w := range c.want.Calls {
				w.Index = i
				c.want.Calls[i] = w
			}
			for _, pieces := range splits(c.text, rng) {
				got := runParser(t, c.reasoning, c.format, c.parallel, c.open, c.prime, pieces)
				got.chunks = 0
				if !reflect.DeepEqual(got, c.want) {
					t.Fatalf("pieces %q:\n got %+v\nwant %+v", pieces, got, c.want)
				}
			}
		})
	}
}

// TestOutputParserStreams checks that text before a call is streamed before the call is done,
// and that nothing of a call leaks as content while it is being written.
func TestOutputParserStreams(t *testing.T) {
	p := New(Options{Format: ToolFormatHermes, Reasoning: true, Parallel: true})
	var content []string
	steps := []string{"<think>\nx", "\n</think>\n\nLet me", " look.", "\n<tool", "_call>\n{\"name\"", ": \"f\", \"arguments\": {}}\n</tool_call>"}
	var sawCallAt int
	for i, s := range steps {
		for _, d := range p.Push(s) {
			switch d.Kind {
			case DeltaContent:
				content = append(content, d.Text)
				if sawCallAt > 0 {
					t.Fatalf("content after the call: %q", d.Text)
				}
			case DeltaToolCall:
				sawCallAt = i
			}
		}
		if i == 2 && strings.Join(content, "") != "Let me look." {
			t.Fatalf("after %q: content %q, want it streamed", s, content)
		}
	}
	if sawCallAt != len(steps)-1 {
		t.Fatalf("call emitted at step %d", sawCallAt)
	}
	if ds := p.Finish(); len(ds) != 0 {
		t.Fatalf("finish emitted %+v", ds)
	}
}

func TestDetectFormats(t *testing.T) {
	for _, c := range []struct {
		file      string
		format    ToolFormat
		reasoning bool
	}{
		{"qwen3.jinja", ToolFormatHermes, true},
		{"llama3.jinja", ToolFormatLlama3, false},
		{"alternating.jinja", ToolFormatNone, false},
	} {
		src := readTemplate(t, c.file)
		if f := DetectToolFormat(src); f != c.format {
			t.Errorf("%s: format %v, want %v", c.file, f, c.format)
		}
		if r := DetectReasoning(src); r != c.reasoning {
			t.Errorf("%s: reasoning %v, want %v", c.file, r, c.reasoning)
		}
	}
	// Llama 3.1's template (tools) writes <|python_tag|> and asks for "parameters".
	if f := DetectToolFormat(`{{- "<|python_tag|>" + tool_call.name }}`); f != ToolFormatLlama3 {
		t.Errorf("python_tag template: %v", f)
	}
}

func readTemplate(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// FuzzOutputParser checks that any text, cut anywhere, parses the same as when whole, and that
// every call's arguments are valid JSON.
func FuzzOutputParser(f *testing.F) {
	for _, s := range []string{
		"<think>\na\n</think>\n\nb<tool_call>{\"name\": \"x\", \"arguments\": {}}</tool_call>",
		"<tool_call><tool_call></tool_call>",
		"{\"name\": \"a\", \"parameters\": {}}; {",
		"<|python_tag|>{\"name\": \"a\"}",
		"\n\n<think></think>",
	} {
		f.Add(s, uint8(3), uint8(0))
	}
	f.Fuzz(func(t *testing.T, text string, cut uint8, mode uint8) {
		format := ToolFormat(mode % 3)
		reasoning := mode&4 != 0
		whole := runParser(t, reasoning, format, true, false, "", []string{text})
		var pieces []string
		step := int(cut%16) + 1
		for i := 0; i < len(text); i += step {
			pieces = append(pieces, text[i:min(len(text), i+step)])
		}
		got := runParser(t, reasoning, format, true, false, "", pieces)
		got.chunks, whole.chunks = 0, 0
		if !reflect.DeepEqual(got, whole) {
			t.Fatalf("pieces %q:\n got %+v\nwhole %+v", pieces, got, whole)
		}
	})
}
