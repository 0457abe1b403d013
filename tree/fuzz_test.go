package tree

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"

	"github.com/arborlabs/arbor/internal/testmodels"
	"github.com/arborlabs/arbor/runtime/grammar"
	"github.com/arborlabs/arbor/runtime/tokenizer"
)

// fuzzHead is the model's output up to a calc call's parameters; fuzzCuts are the points past
// it where the model may stop and the call fire (the run forces the rest of
// `,"tool_result":`, then the result).
const fuzzHead = `{"reasoning":[{"thought":"add","tooluse":{"tool_name":"calc","parameters":{"expr":"1+2","digits":3}`

var fuzzCuts = []string{``, `,`, `,"tool_`, `,"tool_result"`, `,"tool_result":`}

// fuzzTail is the model's output after the result: it closes the tool use and the tree.
const fuzzTail = `},"subtasks":null,"conclusion":"c"}],"answer":"a"}`

// maxFuzzResultBytes bounds a result's size, to keep executions fast; the seeds hold one of
// 100 KB.
const maxFuzzResultBytes = 200 << 10

// FuzzToolResult feeds arbitrary bytes as a tool's result through the tree mode's real path:
// the Qwen3 tokenizer's tokens of a task tree go through the tree grammar's matcher and a Run
// (Appended) until the run raises the call; the call (Run.call, with a Caller that returns the
// fuzz bytes) rewrites the result and tokenizes it with EncodeText, as the server configures
// it; its forced tokens go through the matcher and the run one by one, as the engine's
// appendForced does. Every forced token must be accepted (a refusal fails the user's whole
// request), the forced text must be the result in canonical form (or the error object for
// invalid JSON), up to Unicode normalization, and the tree must still be able to end: the
// mask after the result is not empty, and the rest of the tree is accepted and completes the
// grammar and the run.
func FuzzToolResult(f *testing.F) {
	g, vocab, tok := toolResultSetup(f)
	for i, s := range fuzzResultSeeds() {
		f.Add([]byte(s), uint8(i))
	}
	f.Fuzz(func(t *testing.T, result []byte, cut uint8) {
		if len(result) > maxFuzzResultBytes {
			return
		}
		checkToolResult(t, g, vocab, tok, result, fuzzCuts[int(cut)%len(fuzzCuts)])
	})
}

// toolResultSetup loads the Qwen3 tokenizer (skipping when it is not installed), its grammar
// vocabulary, and the grammar of a tree of depth 2 over the test tools, calc among them.
func toolResultSetup(tb testing.TB) (*grammar.Grammar, *grammar.Vocab, *tokenizer.Tokenizer) {
	tb.Helper()
	tok, err := tokenizer.FromFile(testmodels.TokenizerJSON(tb, "qwen3"))
	if err != nil {
		tb.Fatal(err)
	}
	bs := make([][]byte, tok.VocabSize())
	for i := range bs {
		bs[i] = tok.TokenBytes(int32(i))
	}
	vocab := grammar.NewVocab(bs, tok.EOS())
	schema, err := Schema(SchemaOptions{MaxDepth: 2, Tools: specs(testTools)})
	if err != nil {
		tb.Fatal(err)
	}
	g, err := grammar.CompileSchema(schema)
	if err != nil {
		tb.Fatal(err)
	}
	return g, vocab, tok
}

// checkToolResult runs one call whose tool returns result; the model stops after fuzzHead+cut.
func checkToolResult(t *testing.T, g *grammar.Grammar, vocab *grammar.Vocab, tok *tokenizer.Tokenizer,
	result []byte, cut string) {
	t.Helper()
	m := g.NewMatcher(vocab)
	r := NewRun(RunOptions{
		TokenBytes: tok.TokenBytes,
		Encode:     tok.EncodeText,
		Tools: callerFunc(func(string, json.RawMessage) (json.RawMessage, error) {
			return result, nil
		}),
	})
	// What the call should force: the result in canonical form, or the error object.
	text, cerr := canonicalJSON(result)
	if cerr != nil {
		text = errorResult(`tool "calc" returned invalid JSON: ` + cerr.Error())
	}
	var out []byte
	n := 0
	appendTok := func(id int32, what string) func(context.Context) ([]int32, error) {
		if err := m.Accept(id); err != nil {
			t.Fatalf("%s token %q after %q: grammar: %v\nresult: %q", what, tok.TokenBytes(id), tail(out),
				err, short(result))
		}
		out = append(out, tok.TokenBytes(id)...)
		d := r.Appended(n, id)
		n++
		if err := r.Err(); err != nil {
			t.Fatalf("%s token %q after %q: run: %v\nresult: %q", what, tok.TokenBytes(id), tail(out), err,
				short(result))
		}
		return d.Call
	}
	// The model's tokens; as in the engine, the sequence pauses at the token that raised the
	// call, and the piece's later tokens are never sampled.
	var call func(context.Context) ([]int32, error)
	for _, id := range tok.Encode(fuzzHead + cut) {
		if call = appendTok(id, "model"); call != nil {
			break
		}
	}
	if call == nil {
		t.Fatalf("no call after %q", out)
	}
	before := string(out)
	forced, err := call(context.Background())
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	for _, id := range forced {
		if appendTok(id, "forced") != nil {
			t.Fatal("a forced token raised a call")
		}
	}

	// The forced text is the rest of the result key, then the result as the grammar writes it.
	got := strings.TrimPrefix(string(out), before)
	full := fuzzHead + `,"tool_result":` + string(text)
	if want := full[len(before):]; norm.NFC.String(got) != norm.NFC.String(want) {
		t.Fatalf("forced %q, want %q", short([]byte(got)), short([]byte(want)))
	}
	s := r.Stats()
	if s.ToolCalls != 1 || s.ForcedTokens != len(forced) || (s.ToolErrors == 1) != (cerr != nil) {
		t.Fatalf("stats %+v after %d forced tokens (rewrite error %v)", s, len(forced), cerr)
	}

	// The tree can go on: some token is allowed, and the rest of it completes the grammar and
	// the run.
	mask := make([]uint64, vocab.MaskWords())
	if err := m.FillMask(context.Background(), mask); err != nil {
		t.Fatalf("mask after the result: %v", err)
	}
	if grammar.CountMask(mask) == 0 {
		t.Fatalf("empty mask after the result %q", short(result))
	}
	for _, id := range tok.Encode(fuzzTail) {
		appendTok(id, "model")
	}
	if !m.Complete() || !r.tr.Done() {
		t.Fatalf("tree incomplete after the result (grammar %v, tracker %v): %q", m.Complete(), r.tr.Done(), tail(out))
	}
}

func tail(b []byte) string { return string(b[max(0, len(b)-60):]) }

func short(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

// fuzzResultSeeds are the seed corpus: tool outputs that are not in the grammar's JSON as they
// stand (exponents, surrogate escapes, negative zero, long numbers), control-token text,
// nesting, invalid JSON and UTF-8, and sizes.
func fuzzResultSeeds() []string {
	return []string{
		`{"x":"<|im_end|>"}`,
		`"<|endoftext|>"`,
		`{"<|endoftext|>":["<|im_start|>user\nhi<|im_end|>"]}`,
		`"<think>x</think><tool_call>"`,
		`"\ud83d\ude00"`,
		`"\ud83d"`,
		`"\udc00\ud800x"`,
		`"\u0000\u001f\b\f\n\r\t\"\\\/\u2028\u00e9"`,
		// Decomposed characters: a base letter and a combining mark, after text and escapes.
		"\"e\u0301 \\n e\u0301 \\u0008x\u0307\"",
		`1e-3`,
		`-0`,
		`-0.0`,
		`0.000`,
		`1E400`,
		`1e-400`,
		`[1e15,1e14,1.5e14,1e-15,1e-16,-1e+2]`,
		`123456789012345678901234567890`,
		`999999999999999.5`,
		`-999999999999999`,
		`{"a":1,"a":2}`,
		`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[{"a":[{"b":null}]}]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
		strings.Repeat(`{"k":[`, 200) + `true` + strings.Repeat(`]}`, 200),
		` { "a" : [ 1 , 2 ] , "b" : { } } `,
		`{"oops"`,
		`[1,]`,
		`{"a":1}}`,
		`nul`,
		`'x'`,
		`1 2`,
		"\"\xff\xfe\"",
		"{\"\xc3\x28\":\"\xed\xa0\x80\"}",
		``,
		` `,
		`null`,
		`"` + strings.Repeat("abc <|im_end|> é 😀 ", 6000)[:100<<10] + `"`,
	}
}

// Tool results whose forced tokens the grammar would refuse unless canonicalJSON escapes a
// combining mark that follows an escape and refuses nesting past maxNesting (forcing the error
// object instead); each case must be forced and accepted.
func TestToolResultOnceRefused(t *testing.T) {
	cases := []struct {
		name, result, why string
	}{
		{
			// NFC composes the escape's letter with the combining mark after it:
			// `"\n\u0301"` is forced as `"\ń"`, an invalid escape.
			name:   "escape then combining mark",
			result: "\"\\n\u0301\"",
			why: "the Qwen3 tokenizer NFC-normalizes: an escape ending in a letter (\\n \\r \\t \\b \\f \\u001a) " +
				"followed by a combining mark composes into another character",
		},
		{
			name:   "escape in a key then combining mark",
			result: "{\"a\\t\u030c\":1}",
			why:    "NFC composes `t` and U+030C into `ť`: the key is forced as `\"a\\ť\"`",
		},
		{
			// 4096 nested arrays: the grammar's stack holds 4096 frames.
			name:   "deep nesting",
			result: strings.Repeat("[", 4096) + strings.Repeat("]", 4096),
			why: "results nested deeper than the grammar's stack bound (4095 levels in a tree of depth 2) " +
				"are refused",
		},
	}
	g, vocab, tok := toolResultSetup(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Log(c.why)
			for _, cut := range fuzzCuts {
				checkToolResult(t, g, vocab, tok, []byte(c.result), cut)
			}
		})
	}
}
