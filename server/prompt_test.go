package server

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/arborlabs/arbor/internal/testmodels"
	"github.com/arborlabs/arbor/runtime/tokenizer"
)

// TestCompletionsPromptShapes: every shape of prompt OpenAI does not take is a 400 naming
// 'prompt' and saying what is wrong where, never a prompt of zeros; the shapes it takes reach
// the engine as the ids they say.
func TestCompletionsPromptShapes(t *testing.T) {
	gen := newScripted(t, "ok")
	ts := startServer(t, gen, Model{}, Options{})
	bad := []struct {
		name, prompt, msg string
	}{
		{"null in an id list", `[null]`, "'prompt[0]' must be a string, a token id or an array of token ids, got null"},
		{"null after ids", `[1, null]`, "got null"},
		{"null in a list of lists", `[[1, null]]`, "'prompt[0]' must hold only token ids"},
		{"null list", `[[1], null]`, "'prompt[1]' is null"},
		{"null text", `["a", null]`, "'prompt[1]' is null, but 'prompt[0]' is a string"},
		{"empty array", `[]`, "must not be empty"},
		{"empty array with spaces", `[ ]`, "must not be empty"},
		{"empty id list", `[[]]`, "'prompt[0]' is empty"},
		{"second id list empty", `[[1], []]`, "'prompt[1]' is empty"},
		{"id then text", `[1, "a"]`, "got a string"},
		{"text then id", `["a", 1]`, "must hold only strings"},
		{"text then list", `["a", [1]]`, "must hold only strings"},
		{"list then id", `[[1], 2]`, "must hold only arrays of token ids"},
		{"list in an id list", `[1, [2]]`, "got an array"},
		{"nested lists", `[[[1]]]`, "got an array"},
		{"negative id", `[-1]`, "got a number (-1)"},
		{"negative id in a list", `[[5, -3]]`, "'prompt[0]' must hold only token ids"},
		{"fraction", `[1.5]`, "got a number (1.5)"},
		{"integral float", `[1.0]`, "got a number (1.0)"},
		{"exponent", `[1e3]`, "got a number (1e3)"},
		{"beyond int32", `[2147483648]`, "got a number (2147483648)"},
		{"long number", `[` + strings.Repeat("9", 400) + `]`, "got a number (99999999999999999999...)"},
		{"out of the vocabulary", `[1, 999999999]`, "'prompt' holds token id 999999999, outside the vocabulary"},
		{"out of the vocabulary, second prompt", `[[1], [2147483647]]`, "'prompt[1]' holds token id 2147483647"},
		{"object", `{}`, "got an object"},
		{"boolean", `true`, "got a boolean"},
		{"number", `5`, "got a number (5)"},
		{"object element", `[{}]`, "'prompt[0]' must be a string, a token id or an array of token ids, got an object"},
		{"boolean element", `[true]`, "got a boolean"},
		{"empty text without BOS", `""`, "'prompt' is empty"},
		{"empty text in a list", `["a", ""]`, "'prompt[1]' is empty"},
		{"too many prompts", `[` + strings.Repeat(`"a",`, 40) + `"a"]`, "more than 16 prompts"},
		{"too many choices", `["a", "b", "c"], "n": 6`, "3 prompts times n=6"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			status, _, body := ts.post(t, "/v1/completions", `{"prompt": `+c.prompt+`}`)
			if status != 400 {
				t.Fatalf("status %d, want 400: %s", status, body)
			}
			e := apiErr(t, body)
			if deref(e.Param) != "prompt" || !strings.Contains(e.Message, c.msg) {
				t.Fatalf("param %q, message %q; want param prompt and %q", deref(e.Param), e.Message, c.msg)
			}
		})
	}
	if n := len(gen.requests()); n != 0 {
		t.Fatalf("refused prompts reached the engine %d times", n)
	}

	tok := gen.tok
	good := []struct {
		prompt string
		want   [][]int32
	}{
		{`"hello"`, [][]int32{tok.Encode("hello")}},
		{`["a", " b"]`, [][]int32{tok.Encode("a"), tok.Encode(" b")}},
		{`[1, 2, 0]`, [][]int32{{1, 2, 0}}},
		{` [ 7 ] `, [][]int32{{7}}},
		{`[[1, 2], [3]]`, [][]int32{{1, 2}, {3}}},
		{`[" "]`, [][]int32{tok.Encode(" ")}},
	}
	for _, c := range good {
		before := len(gen.requests())
		status, _, body := ts.post(t, "/v1/completions", `{"prompt": `+c.prompt+`}`)
		if status != 200 {
			t.Fatalf("%s: status %d: %s", c.prompt, status, body)
		}
		reqs := gen.requests()[before:]
		if len(reqs) != len(c.want) {
			t.Fatalf("%s: %d engine requests, want %d", c.prompt, len(reqs), len(c.want))
		}
		for i, r := range reqs {
			if !slices.Equal(r.Prompt, c.want[i]) {
				t.Errorf("%s: prompt %d is %v, want %v", c.prompt, i, r.Prompt, c.want[i])
			}
		}
	}
}

// TestCompletionsEmptyPromptWithBOS: with a tokenizer that adds BOS (Llama 3's), "" is the
// prompt of BOS alone, as OpenAI takes "" for <|endoftext|>.
func TestCompletionsEmptyPromptWithBOS(t *testing.T) {
	tok, err := tokenizer.FromFile(testmodels.TokenizerJSON(t, "llama3"))
	if err != nil {
		t.Fatal(err)
	}
	gen := newScripted(t, "ok")
	gen.tok = tok
	ts := startServer(t, gen, Model{}, Options{})
	status, _, body := ts.post(t, "/v1/completions", `{"prompt": ""}`)
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	if reqs := gen.requests(); len(reqs) != 1 || !slices.Equal(reqs[0].Prompt, []int32{tok.BOS()}) {
		t.Fatalf("engine requests %+v, want one prompt of BOS (%d)", reqs, tok.BOS())
	}
}

// TestPromptByteBound: a prompt whose bytes alone prove it cannot fit is refused before it is
// tokenized, with the same context_length_exceeded error as the exact check; one just under
// the bound is tokenized and served (or refused by the exact count). The demo's (Qwen3's)
// longest token is 128 spaces, so 128·k spaces have at least k tokens, and exactly k.
func TestPromptByteBound(t *testing.T) {
	gen := newScripted(t, "ok")
	gen.ctx = 64
	ts := startServer(t, gen, Model{}, Options{})
	spaces := func(tokens int) string { return strings.Repeat(" ", 128*tokens) }
	quote := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	chat := func(content, extra string) string {
		return `{"messages": [{"role": "user", "content": ` + quote(content) + `}]` + extra + `}`
	}
	cases := []struct {
		name, path, body string
		status           int
		msg              string // for a 400: the bound's "at least", or the exact count's words
	}{
		{"completions at the bound", "/v1/completions", `{"prompt": ` + quote(spaces(64)) + `}`, 400, "the prompt (8192 bytes) has at least 64"},
		{"completions under the bound", "/v1/completions", `{"prompt": ` + quote(spaces(63)) + `}`, 200, ""},
		{"completions bound with max_tokens", "/v1/completions", `{"prompt": ` + quote(spaces(55)) + `, "max_tokens": 10}`, 400,
			"has at least 55 and max_tokens asks for 10 more (at most 9 fit)"},
		{"completions second prompt at the bound", "/v1/completions", `{"prompt": ["hi", ` + quote(spaces(64)) + `]}`, 400, "at least 64"},
		{"completions under the bound, over by count", "/v1/completions", `{"prompt": ` + quote(strings.Repeat("a", 1000)) + `}`, 400,
			"and the prompt has 125"},
		{"chat at the bound", "/v1/chat/completions", chat(spaces(64), ""), 400, "has at least"},
		{"chat bound with max_tokens", "/v1/chat/completions", chat(spaces(40), `, "max_tokens": 30`), 400, "and max_tokens asks for 30 more"},
		{"chat under the bound", "/v1/chat/completions", chat(spaces(40), ""), 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, _, body := ts.post(t, c.path, c.body)
			if status != c.status {
				t.Fatalf("status %d, want %d: %s", status, c.status, body)
			}
			if status == 200 {
				return
			}
			e := apiErr(t, body)
			if deref(e.Code) != "context_length_exceeded" || deref(e.Param) != "messages" || !strings.Contains(e.Message, c.msg) {
				t.Fatalf("code %q, param %q, message %q; want context_length_exceeded, messages, %q", deref(e.Code), deref(e.Param), e.Message, c.msg)
			}
		})
	}
	// Under the bound the prompt is tokenized: 63 runs of 128 spaces are 63 tokens.
	found := false
	for _, r := range gen.requests() {
		found = found || len(r.Prompt) == 63
	}
	if !found {
		t.Error("the prompt under the bound did not reach the engine as 63 tokens")
	}

	// Megabytes: refused by the bound (its words), without the seconds tokenizing would take.
	big := startServer(t, newScripted(t, "ok"), Model{}, Options{})
	text := strings.Repeat("lorem ipsum ", 600_000) // 7.2 MB
	for _, path := range []string{"/v1/completions", "/v1/chat/completions"} {
		body := `{"prompt": ` + quote(text) + `}`
		if path == "/v1/chat/completions" {
			body = chat(text, "")
		}
		start := time.Now()
		status, _, resp := big.post(t, path, body)
		if status != 400 {
			t.Fatalf("%s: 7 MB prompt: status %d: %.200s", path, status, resp)
		}
		if e := apiErr(t, resp); deref(e.Code) != "context_length_exceeded" || !strings.Contains(e.Message, "has at least 5625") {
			t.Fatalf("%s: 7 MB prompt: %s", path, e.Message)
		}
		t.Logf("%s: a 7.2 MB prompt refused in %v", path, time.Since(start))
	}
}

// TestTreeSchemaMustBeTIM: a reasoning_format schema that is not a TIM response (the tracker
// would follow nothing in it) is a 400 that says what a tree schema is; TIM schemas, written
// out or behind a $ref, pass.
func TestTreeSchemaMustBeTIM(t *testing.T) {
	ts := startServer(t, newScripted(t, `{"reasoning":[],"answer":"x"}`), Model{}, Options{})
	msg := `"messages":[{"role":"user","content":"Hi"}]`
	for _, schema := range []string{
		`{"type":"integer"}`,
		`{}`,
		`{"type":"object","properties":{"answer":{"type":"string"}}}`,
		`{"type":"object","properties":{"reasoning":{"type":"array"}}}`,
		`{"type":"array","properties":{"reasoning":{},"answer":{}}}`,
		`{"$ref":"#/$defs/missing"}`,
		`{"$ref":"#/$defs/R","$defs":{"R":{"type":"string"}}}`,
		`{"type":"object","properties":{"Reasoning":{},"Answer":{}}}`,
	} {
		status, _, body := ts.post(t, "/v1/chat/completions", `{`+msg+`,"reasoning_format":{"type":"tree","schema":`+schema+`}}`)
		if status != 400 {
			t.Errorf("%s: status %d, want 400: %s", schema, status, body)
			continue
		}
		e := apiErr(t, body)
		if deref(e.Param) != "reasoning_format.schema" || !strings.Contains(e.Message, `include "reasoning"`) {
			t.Errorf("%s: param %q, message %q", schema, deref(e.Param), e.Message)
		}
	}
	for _, schema := range []string{
		`{"type":"object","properties":{"reasoning":{"type":"array","items":{"type":"object"}},"answer":{"type":"string"}},"required":["reasoning","answer"]}`,
		`{"$ref":"#/$defs/R","$defs":{"R":{"type":"object","properties":{"reasoning":{"type":"array"},"answer":{"type":"string"}}}}}`,
	} {
		status, _, body := ts.post(t, "/v1/chat/completions", `{`+msg+`,"reasoning_format":{"type":"tree","schema":`+schema+`}}`)
		if status != 200 {
			t.Errorf("%s: status %d, want 200: %s", schema, status, body)
		}
	}
	// A text request with a schema is not a tree: its schema is not looked at.
	if status, _, body := ts.post(t, "/v1/chat/completions", `{`+msg+`,"reasoning_format":{"type":"text","schema":{"type":"integer"}}}`); status != 200 {
		t.Errorf("text with a schema: status %d: %s", status, body)
	}
}

// TestStopNull: a null in stop is a 400, as in prompt, not an empty stop string.
func TestStopNull(t *testing.T) {
	ts := startServer(t, newScripted(t, "ok"), Model{}, Options{})
	status, _, body := ts.post(t, "/v1/chat/completions", `{`+hi+`, "stop": ["a", null]}`)
	if status != 400 {
		t.Fatalf("status %d: %s", status, body)
	}
	if e := apiErr(t, body); deref(e.Param) != "stop" || !strings.Contains(e.Message, "'stop[1]' must be a string, got null") {
		t.Fatalf("%+v", e)
	}
}
