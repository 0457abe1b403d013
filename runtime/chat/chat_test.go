package chat

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

var fixedNow = time.Date(2025, time.March, 7, 14, 5, 9, 0, time.UTC)

func render(t *testing.T, src string, in Input) string {
	t.Helper()
	tpl, err := Compile(src)
	if err != nil {
		t.Fatalf("compile %q: %v", src, err)
	}
	if in.Now.IsZero() {
		in.Now = fixedNow
	}
	out, err := tpl.Render(in)
	if err != nil {
		t.Fatalf("render %q: %v", src, err)
	}
	return out
}

func TestRaiseExceptionIsError(t *testing.T) {
	tpl := compileFile(t, "alternating.jinja")
	_, err := tpl.Render(Input{
		Messages: []Message{{Role: "user", Content: "a"}, {Role: "user", Content: "b"}},
		BOSToken: "<s>", EOSToken: "</s>", Now: fixedNow,
	})
	var te *TemplateError
	if !errors.As(err, &te) {
		t.Fatalf("want *TemplateError, got %v", err)
	}
	if te.Message != "Conversation roles must alternate user/assistant/user/assistant/..." {
		t.Fatalf("message %q", te.Message)
	}
	if !strings.Contains(err.Error(), "chat: render") {
		t.Fatalf("error lacks context: %v", err)
	}

	// Raised deep inside loops and conditions, after output was written.
	tpl, err = Compile(`start{% for m in messages %}{% if m.role == 'tool' %}{{ raise_exception('no tools: ' + m.content) }}{% endif %}{{ m.content }}{% endfor %}`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := tpl.Render(Input{Messages: []Message{{Role: "user", Content: "a"}, {Role: "tool", Content: "x"}}})
	if !errors.As(err, &te) || te.Message != "no tools: x" || out != "" {
		t.Fatalf("got %q, %v", out, err)
	}
}

func TestErrorsAreErrorsNotPanics(t *testing.T) {
	for _, src := range []string{
		`{% if %}`,
		`{% for x in %}{% endfor %}`,
		`{% endif %}`,
		`{{ 'unterminated }}`,
	} {
		if _, err := Compile(src); err == nil {
			t.Errorf("Compile(%q): want an error", src)
		}
	}
	msgs := []Message{{Role: "user", Content: "hi"}}
	for _, src := range []string{
		`{{ messages[0].content | no_such_filter }}`,
		`{{ nothing.at.all }}`,
		`{{ messages[0].content.no_such_method() }}`,
		`{% include "/etc/passwd" %}`,
		`{% import "other.jinja" as o %}`,
		`{{ raise_exception | tojson }}`,
		`{{ "%d" | format("x") }}`,
		`{{ "a".split("") }}`,
		`{{ strftime_now() }}`,
	} {
		tpl, err := Compile(src)
		if err != nil {
			continue // refused at compile time is fine too
		}
		out, err := tpl.Render(Input{Messages: msgs})
		if err == nil {
			t.Errorf("Render(%q) = %q, want an error", src, out)
		} else if !strings.HasPrefix(err.Error(), "chat: render") {
			t.Errorf("Render(%q) error lacks context: %v", src, err)
		}
	}
}

func TestToJSONIsPythonJSONDumps(t *testing.T) {
	x := json.RawMessage(`{"b": 1.0, "a": [1, 2.5, 1e16, 1e-5, 0.0001, -0.0, 1e22, 100.0], "é": "😀\u0001\"\\/\t", "n": null, "t": true, "e": {}, "l": []}`)
	cases := []struct{ src, want string }{
		// Defaults: ", " and ": ", insertion order, no ASCII escaping, Python float repr.
		{`{{ x | tojson }}`, `{"b": 1.0, "a": [1, 2.5, 1e+16, 1e-05, 0.0001, -0.0, 1e+22, 100.0], "é": "😀\u0001\"\\/\t", "n": null, "t": true, "e": {}, "l": []}`},
		{`{{ x.a | tojson(ensure_ascii=true) }}{{ "é😀" | tojson(ensure_ascii=true) }}`, `[1, 2.5, 1e+16, 1e-05, 0.0001, -0.0, 1e+22, 100.0]"\u00e9\ud83d\ude00"`},
		// indent switches the item separator to "," and keeps empty containers inline.
		{`{{ {"a": [], "b": {}, "c": [1, {"d": "x"}]} | tojson(indent=2) }}`, "{\n  \"a\": [],\n  \"b\": {},\n  \"c\": [\n    1,\n    {\n      \"d\": \"x\"\n    }\n  ]\n}"},
		{`{{ [1, 2] | tojson(indent=0) }}`, "[\n1,\n2\n]"},
		{`{{ [1, 2] | tojson(indent="\t") }}`, "[\n\t1,\n\t2\n]"},
		{`{{ {"b": 1, "a": [1, 2]} | tojson(separators=[",", ":"]) }}`, `{"b":1,"a":[1,2]}`},
		{`{{ {"b": 1, "a": 2, "C": 3} | tojson(sort_keys=true) }}`, `{"C": 3, "a": 2, "b": 1}`},
		// Template literals keep their order; HF's tojson does not HTML-escape.
		{`{{ {'z': '<a href="x">&amp;</a>', 'a': 'it\'s'} | tojson }}`, `{"z": "<a href=\"x\">&amp;</a>", "a": "it's"}`},
		{`{{ dict(b=1, a=2) | tojson }}`, `{"a": 2, "b": 1}`},
		{`{{ 3.0 | tojson }} {{ 7 | tojson }} {{ "" | tojson }} {{ none | tojson }} {{ false | tojson }}`, `3.0 7 "" null false`},
	}
	for _, c := range cases {
		got := render(t, c.src, Input{Extra: map[string]any{"x": x}})
		if got != c.want {
			t.Errorf("%s\n got %s\nwant %s", c.src, got, c.want)
		}
	}
}

func TestPythonStringMethods(t *testing.T) {
	cases := []struct{ src, want string }{
		{`{{ "  a \t b\n c  ".split() | tojson }}`, `["a", "b", "c"]`},
		{`{{ "  a b c ".split(none, 1) | tojson }}`, `["a", "b c "]`},
		{`{{ "a,b,,c".split(",") | tojson }}`, `["a", "b", "", "c"]`},
		{`{{ "a,b,c".split(",", 1) | tojson }}`, `["a", "b,c"]`},
		{`{{ "a,b,c".rsplit(",", 1) | tojson }}`, `["a,b", "c"]`},
		{`{{ " a b c ".rsplit(none, 1) | tojson }}`, `[" a b", "c"]`},
		{`{{ "".split() | tojson }} {{ "".split(",") | tojson }}`, `[] [""]`},
		// Qwen3 takes [-1] of a split that may not split at all.
		{`{{ "reasoning only".split("<think>")[-1] }}|{{ "a</think>b".split("</think>")[0] }}`, `reasoning only|a`},
		{`{{ "xxhixx".strip("x") }}|{{ "\n\n  hi\n".lstrip("\n") | tojson }}|{{ "  hi \n".rstrip() | tojson }}`, `hi|"  hi\n"|"  hi"`},
		{"{{ \"\u3000hi\u001f\u0085\".strip() }}|{{ \"\\t hi \\n\".strip() }}", `hi|hi`},
		{`{{ "  hi  " | trim }}|{{ "xxhixx" | trim("x") }}`, `hi|hi`},
		{`{% if "hello".startswith(("x", "he")) %}A{% endif %}{% if "hello".startswith("ell", 1) %}B{% endif %}{% if "hello".endswith("lo", 0, 5) %}C{% endif %}{% if "hello".endswith("hel", 0, 2) %}D{% endif %}{% if "héllo".startswith("é", 1) %}E{% endif %}`, `ABCE`},
		{`{{ "aaa".replace("a", "b", 2) }} {{ "abc".replace("", "-") }} {{ "a.b.c".replace(".", "") }}`, `bba -a-b-c- abc`},
		{`{{ "héllo wörld"[::-1] }}|{{ "héllo"[1:3] }}|{{ "héllo" | length }}`, `dlröw olléh|él|5`},
		{`{{ "%s is %d, %.1f%% %r" | format("Ann", 34, 3.14159, "x") }}`, `Ann is 34, 3.1% 'x'`},
		{`{% if 0 is false %}A{% endif %}{% if false is false %}B{% endif %}{% if nope is false %}C{% endif %}{% if 1 is true %}D{% endif %}{% if true is true %}E{% endif %}`, `BE`},
		{`{% set d = {"z": 1, "a": 2} %}{% for k, v in d.items() %}{{ k }}={{ v }},{% endfor %}{{ d.keys() | list | tojson }}{{ d.values() | list | tojson }}{{ d.get("a") }}{{ d.get("q", "-") }}`, `z=1,a=2,["z", "a"][1, 2]2-`},
		{`{% generation %}{{ "x" }}{% endgeneration %}y`, `xy`},
		{`{{ messages[-1].role }} {{ messages | length }} {% if messages[0].content is string and messages[0] is mapping %}ok{% endif %}`, `user 1 ok`},
	}
	for _, c := range cases {
		got := render(t, c.src, Input{Messages: []Message{{Role: "user", Content: "hi"}}})
		if got != c.want {
			t.Errorf("%s\n got %q\nwant %q", c.src, got, c.want)
		}
	}
}

func TestTrimAndLstripBlocks(t *testing.T) {
	// Expected values are Jinja2's with trim_blocks and lstrip_blocks on and
	// keep_trailing_newline off, as HF configures it.
	for _, c := range []struct{ src, want string }{
		{"<a>\n  {% if true %}\n    x\n  {% endif %}\n  {# c #}\n<b>{{ 1 }}\n", "<a>\n    x\n<b>1"},
		// Only indentation at the start of a line goes, not spaces after a tag.
		{"{{ 1 }} {% if true %}x{% endif %}\t{# c #}|", "1 x\t|"},
		{"a {% if true %}x{% endif %}\n", "a x"},
		// "+" keeps the indentation (and, on the closing side, the newline).
		{"  {%+ if true +%}\n  x\n{% endif %}", "  \n  x\n"},
	} {
		if got := render(t, c.src, Input{}); got != c.want {
			t.Errorf("%q: got %q want %q", c.src, got, c.want)
		}
	}
}

func TestStrftime(t *testing.T) {
	got := strftime(fixedNow, "%Y-%m-%d %H:%M:%S %a %A %b %B %j %I%p %-d|%e|%y %% %q %F %T %s %Z %z %u %w")
	want := "2025-03-07 14:05:09 Fri Friday Mar March 066 02PM 7| 7|25 % %q 2025-03-07 14:05:09 1741356309 UTC +0000 5 5"
	if got != want {
		t.Fatalf("\n got %q\nwant %q", got, want)
	}
	if got := render(t, `{{ strftime_now("%d %b %Y") }}`, Input{}); got != "07 Mar 2025" {
		t.Fatalf("strftime_now with a fixed clock: %q", got)
	}
	tpl, err := Compile(`{{ strftime_now("%Y") }}`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := tpl.Render(Input{}) // zero Now: the real clock
	if err != nil {
		t.Fatal(err)
	}
	if y := time.Now().Year(); out != time.Date(y, 1, 1, 0, 0, 0, 0, time.Local).Format("2006") {
		t.Fatalf("strftime_now = %q, want the current year %d", out, y)
	}
}

func TestMessageJSON(t *testing.T) {
	var msgs []Message
	err := json.Unmarshal([]byte(`[
		{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
		{"role": "assistant", "content": null, "reasoning_content": "r",
		 "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"x\":1}"}}]},
		{"role": "tool", "content": "ok", "tool_call_id": "c1", "name": "f"}]`), &msgs)
	if err != nil {
		t.Fatal(err)
	}
	want := []Message{
		{Role: "user", Parts: []ContentPart{{Type: "text", Text: "a"}, {Type: "text", Text: "b"}}},
		{Role: "assistant", ReasoningContent: "r", ToolCalls: []ToolCall{{ID: "c1", Type: "function", Function: FunctionCall{Name: "f", Arguments: `{"x":1}`}}}},
		{Role: "tool", Content: "ok", ToolCallID: "c1", Name: "f"},
	}
	if !reflect.DeepEqual(msgs, want) {
		t.Fatalf("decoded %+v", msgs)
	}
	raw, err := json.Marshal(msgs)
	if err != nil {
		t.Fatal(err)
	}
	var again []Message
	if err := json.Unmarshal(raw, &again); err != nil || !reflect.DeepEqual(again, want) {
		t.Fatalf("round trip: %v %s", err, raw)
	}
	var m Message
	if err := json.Unmarshal([]byte(`{"role": "user", "content": 3}`), &m); err == nil {
		t.Fatal("numeric content accepted")
	}
}

func TestInputErrors(t *testing.T) {
	tpl, err := Compile(`{{ messages | length }}`)
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string]Input{
		"image part":      {Messages: []Message{{Role: "user", Parts: []ContentPart{{Type: "image_url"}}}}},
		"content+parts":   {Messages: []Message{{Role: "user", Content: "a", Parts: []ContentPart{{Type: "text", Text: "b"}}}}},
		"reserved extra":  {Extra: map[string]any{"messages": "x"}},
		"bad tool schema": {Tools: []Tool{{Function: FunctionDef{Name: "f", Parameters: json.RawMessage(`{"a": }`)}}}},
		"bad extra json":  {Extra: map[string]any{"x": json.RawMessage(`[1,`)}},
	} {
		if out, err := tpl.Render(in); err == nil {
			t.Errorf("%s: rendered %q, want an error", name, out)
		}
	}
}

func TestToolCallArguments(t *testing.T) {
	tpl := compileFile(t, "qwen3.jinja")
	call := func(args string) string {
		out, err := tpl.Render(Input{Messages: []Message{
			{Role: "user", Content: "q"},
			{Role: "assistant", ToolCalls: []ToolCall{{Function: FunctionCall{Name: "f", Arguments: args}}}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		i := strings.Index(out, `"arguments": `)
		return out[i+len(`"arguments": `) : strings.Index(out, "}\n</tool_call>")]
	}
	// A JSON string from the client is parsed, as vLLM does before templating,
	// and the template's tojson re-serialises it with Python's separators.
	if got := call(`{"b":[1,2.0],"a":"ü"}`); got != `{"b": [1, 2.0], "a": "ü"}` {
		t.Errorf("JSON arguments: %s", got)
	}
	// Text that is not JSON reaches the template as a string, emitted as is.
	if got := call(`not json {`); got != `not json {` {
		t.Errorf("non-JSON arguments: %s", got)
	}
}

func TestOptionalKeysAndTokens(t *testing.T) {
	src := `{% for m in messages %}[{{ m.role }}{% if m.name is defined %} name={{ m.name }}{% endif %}{% if m.tool_calls is defined %} calls={{ m.tool_calls | length }}{% endif %}{% if m.reasoning_content is defined %} r{% endif %}]{% endfor %}` +
		`{% if bos_token is defined %}B{% endif %}{% if eos_token is defined %}E={{ eos_token }}{% endif %}{% if tools is none %} no-tools{% endif %}{% if enable_thinking is undefined %} no-think{% endif %}`
	got := render(t, src, Input{
		Messages: []Message{{Role: "user", Content: "x", Name: "ann"}, {Role: "assistant", ToolCalls: []ToolCall{{Function: FunctionCall{Name: "f", Arguments: "{}"}}}}},
		EOSToken: "</s>",
	})
	if want := "[user name=ann][assistant calls=1]E=</s> no-tools no-think"; got != want {
		t.Fatalf("got %q want %q", got, want)
	}
}
