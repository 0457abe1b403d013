package grammar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/arborlabs/arbor/internal/schematest"
)

// Every schema of the suite: random walks over the Qwen3 vocabulary end in documents that parse
// and validate.
func TestRandomWalksValidate(t *testing.T) {
	v, _ := testVocab(t)
	names, schemas := schematest.Suite(t)
	if len(names) < 30 {
		t.Fatalf("the suite has %d schemas, want at least 30", len(names))
	}
	walks := 12
	if testing.Short() {
		walks = 3
	}
	for i, name := range names {
		t.Run(name, func(t *testing.T) {
			g, err := CompileSchema(schemas[name])
			if err != nil {
				t.Fatal(err)
			}
			val := schematest.Validator(t, schemas[name])
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			done := 0
			for w := 0; w < walks; w++ {
				out, complete := walk(t, g, v, rng, 400)
				if !complete {
					continue
				}
				done++
				if !json.Valid(out) {
					t.Fatalf("walk %d: not JSON: %s", w, short(out))
				}
				if err := schematest.Validate(val, out); err != nil {
					t.Fatalf("walk %d: %s does not validate: %v", w, short(out), err)
				}
			}
			if done == 0 {
				t.Errorf("no walk of %d completed", walks)
			}
		})
	}
}

// Integer bounds are exact: every integer in a window is accepted iff it is in range.
func TestIntegerBoundsExact(t *testing.T) {
	cases := []struct {
		schema string
		ok     func(n int) bool
	}{
		{`{"type":"integer","minimum":-40,"maximum":125}`, func(n int) bool { return n >= -40 && n <= 125 }},
		{`{"type":"integer","exclusiveMinimum":3,"exclusiveMaximum":1000}`, func(n int) bool { return n > 3 && n < 1000 }},
		{`{"type":"integer","minimum":7.5}`, func(n int) bool { return n >= 8 }},
		{`{"type":"integer","maximum":-7}`, func(n int) bool { return n <= -7 }},
		{`{"type":"integer","minimum":99,"maximum":101}`, func(n int) bool { return n >= 99 && n <= 101 }},
		{`{"type":"integer"}`, func(n int) bool { return true }},
	}
	for _, c := range cases {
		g, err := CompileSchema([]byte(c.schema))
		if err != nil {
			t.Fatal(err)
		}
		for n := -1200; n <= 1200; n++ {
			m := g.NewMatcher(NewVocab(nil, nil))
			got := m.AcceptBytes([]byte(strconv.Itoa(n))) == nil && m.CanEnd()
			if got != c.ok(n) {
				t.Fatalf("%s: %d accepted=%v", c.schema, n, got)
			}
		}
	}
}

// Numbers: everything accepted is in range; the canonical forms are accepted.
func TestNumberBounds(t *testing.T) {
	g, err := CompileSchema([]byte(`{"type":"number","minimum":-2,"exclusiveMaximum":3}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"-2", "-1.5", "-0.25", "0", "0.5", "2.999", "1"} {
		m := g.NewMatcher(NewVocab(nil, nil))
		if m.AcceptBytes([]byte(s)) != nil || !m.CanEnd() {
			t.Errorf("%s rejected", s)
		}
	}
	for _, s := range []string{"3", "-2.5", "3.1", "-3", "01", "1.", "1e5", "+1", "-"} {
		m := g.NewMatcher(NewVocab(nil, nil))
		if m.AcceptBytes([]byte(s)) == nil && m.CanEnd() {
			t.Errorf("%s accepted", s)
		}
	}
}

func TestAcceptsCanonicalDocuments(t *testing.T) {
	cases := []struct{ schema, doc string }{
		{`{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}},"required":["a"]}`, `{"a":1,"b":"x"}`},
		{`{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}},"required":["a"]}`, `{"a":-12}`},
		{`{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}}}`, `{"b":"\u00e9\n\"q\""}`},
		{`{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}}}`, `{}`},
		{`{"type":"array","items":{"type":"boolean"},"minItems":1,"maxItems":2}`, `[true,false]`},
		{`{"type":"string","pattern":"^a(b|c)*d$"}`, `"abcbcd"`},
		{`{"type":"string","pattern":"[^a-z]+"}`, `"XY\"é"`},
		{`{"type":"string","maxLength":2}`, `"é😀"`},
		{`{"$ref":"#/$defs/l","$defs":{"l":{"type":"array","items":{"$ref":"#/$defs/l"}}}}`, `[[],[[[]]],[]]`},
		{`true`, `{"a":[1,{"b":null}],"c":"d"}`},
	}
	for _, c := range cases {
		g, err := CompileSchema([]byte(c.schema))
		if err != nil {
			t.Fatalf("%s: %v", c.schema, err)
		}
		m := g.NewMatcher(NewVocab(nil, nil))
		if err := m.AcceptBytes([]byte(c.doc)); err != nil || !m.CanEnd() {
			t.Errorf("%s: %s rejected (%v, can end %v)", c.schema, c.doc, err, m.CanEnd())
		}
	}
	rejects := []struct{ schema, doc string }{
		{`{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}`, `{}`},
		{`{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}}}`, `{"b":"x","a":1}`},
		{`{"type":"string","maxLength":2}`, `"abc"`},
		{`{"type":"string","minLength":2}`, `"a"`},
		{`{"type":"array","items":{"type":"boolean"},"maxItems":1}`, `[true,true]`},
		{`{"type":"string"}`, "\"a\nb\""},
		{`{"type":"string"}`, `"\ud800"`},
		{`{"type":"object","properties":{"a":{"type":"integer"}}}`, `{ "a":1}`},
	}
	for _, c := range rejects {
		g, err := CompileSchema([]byte(c.schema))
		if err != nil {
			t.Fatalf("%s: %v", c.schema, err)
		}
		m := g.NewMatcher(NewVocab(nil, nil))
		if err := m.AcceptBytes([]byte(c.doc)); err == nil && m.CanEnd() {
			t.Errorf("%s: %s accepted", c.schema, c.doc)
		}
	}
}

func TestUnsupportedKeywords(t *testing.T) {
	cases := []struct{ schema, keyword string }{
		{`{"type":"integer","multipleOf":3}`, "multipleOf"},
		{`{"type":"array","uniqueItems":true}`, "uniqueItems"},
		{`{"type":"object","patternProperties":{"a":{}}}`, "patternProperties"},
		{`{"type":"string","format":"email"}`, "format"},
		{`{"type":"string","pattern":"(?=a)b"}`, "pattern"},
		{`{"type":"string","pattern":"a\\1"}`, "pattern"},
		// Repetition bounds are digits only: "{+0}" is no repetition of zero (ECMA-262 reads a
		// literal "{" quantified by "+"; the fuzzer found strings generated for it that did not
		// match), nor are "{-1}", "{ 2}" or "{1,+3}".
		{`{"type":"string","pattern":"(){+0}"}`, "pattern"},
		{`{"type":"string","pattern":"a{-1}"}`, "pattern"},
		{`{"type":"string","pattern":"a{ 2}"}`, "pattern"},
		{`{"type":"string","pattern":"a{1,+3}"}`, "pattern"},
		{`{"not":{"type":"string"}}`, "not"},
		{`{"if":{"type":"string"},"then":{}}`, "if"},
		{`{"type":"object","properties":{"x":{"type":"object","minProperties":1}}}`, "minProperties"},
		{`{"oneOf":[{"type":"integer"},{"type":"number"}]}`, "oneOf"},
		{`{"$ref":"other.json"}`, "$ref"},
		{`{"allOf":[{"type":"string"},{"maxLength":3}]}`, "allOf"},
		{`{"type":"string","contentEncoding":"base64"}`, "contentEncoding"},
	}
	for _, c := range cases {
		_, err := CompileSchema([]byte(c.schema))
		var ue *UnsupportedError
		if !errors.As(err, &ue) {
			t.Errorf("%s: got %v, want an UnsupportedError", c.schema, err)
			continue
		}
		if ue.Keyword != c.keyword {
			t.Errorf("%s: keyword %q, want %q (%v)", c.schema, ue.Keyword, c.keyword, err)
		}
	}
	_, err := CompileSchema([]byte(`{"type":"object","properties":{"p":{"type":"integer","multipleOf":2}}}`))
	var ue *UnsupportedError
	if !errors.As(err, &ue) || ue.Path != "/properties/p" {
		t.Errorf("path: %v", err)
	}
}

// JSON object mode: any object, nothing else.
func TestJSONObject(t *testing.T) {
	g := JSONObject()
	for doc, ok := range map[string]bool{`{}`: true, `{"a":[1,2,{"b":"c"}],"d":-0.5}`: true, `[1]`: false, `"x"`: false, `1`: false} {
		m := g.NewMatcher(NewVocab(nil, nil))
		got := m.AcceptBytes([]byte(doc)) == nil && m.CanEnd()
		if got != ok {
			t.Errorf("%s: accepted=%v", doc, got)
		}
	}
	v, _ := testVocab(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for w := 0; w < 5; w++ {
		out, complete := walk(t, g, v, rng, 300)
		if complete && !json.Valid(out) {
			t.Fatalf("not JSON: %s", short(out))
		}
	}
}

// A forced tool call: a prefix, one of several tools' arguments, a suffix.
func TestChoice(t *testing.T) {
	g, err := CompileChoice([]Alternative{
		{Prefix: `get_weather", "arguments": `, Schema: []byte(`{"type":"object","properties":{"city":{"type":"string","maxLength":5}},"required":["city"],"additionalProperties":false}`), Suffix: "}\n</tool_call>"},
		{Prefix: `get_time", "arguments": `, Schema: nil, Suffix: "}\n</tool_call>"},
	})
	if err != nil {
		t.Fatal(err)
	}
	m := g.NewMatcher(NewVocab(nil, nil))
	doc := "get_weather\", \"arguments\": {\"city\":\"Paris\"}}\n</tool_call>"
	if err := m.AcceptBytes([]byte(doc)); err != nil || !m.Complete() {
		t.Fatalf("%v complete=%v", err, m.Complete())
	}
	m.Reset()
	if err := m.AcceptBytes([]byte(`get_time", "arguments": {"x":[]}}` + "\n</tool_call>")); err != nil || !m.Complete() {
		t.Fatalf("%v", err)
	}
}

// The mask agrees with Allowed on every token, at several states.
func TestMaskMatchesAllowed(t *testing.T) {
	v, _ := testVocab(t)
	cases := []struct {
		schema   string
		prefixes []string
	}{
		{`{"type":"object","properties":{"s":{"type":"string"},"n":{"type":"number"},"a":{"type":"array","items":{"type":"integer"}}},"required":["s","n","a"]}`,
			[]string{``, `{"s":"ab`, `{"s":"x","n":-1`, `{"s":"x","n":2.5,"a":[1,`}},
		{`{"type":"object","properties":{"s":{"type":"string","minLength":2,"maxLength":6},"t":{"anyOf":[{"type":"string","maxLength":3},{"type":"string","pattern":"^[a-z]+$"}]}},"required":["s","t"]}`,
			[]string{`{"s":"`, `{"s":"abc`, `{"s":"abcdef`, `{"s":"é`, `{"s":"ab","t":"x`}},
	}
	mask := make([]uint64, v.MaskWords())
	for _, c := range cases {
		g, err := CompileSchema([]byte(c.schema))
		if err != nil {
			t.Fatal(err)
		}
		for _, prefix := range c.prefixes {
			m := g.NewMatcher(v)
			if err := m.AcceptBytes([]byte(prefix)); err != nil {
				t.Fatal(err)
			}
			if err := m.FillMask(context.Background(), mask); err != nil {
				t.Fatal(err)
			}
			n := 0
			for id := 0; id < v.Size(); id++ {
				in := mask[id/64]&(1<<(uint(id)%64)) != 0
				if in != m.Allowed(int32(id)) {
					t.Fatalf("%q: token %d %q: mask %v, Allowed %v", prefix, id, v.Bytes(int32(id)), in, !in)
				}
				if in {
					n++
				}
			}
			if n == 0 {
				t.Fatalf("%q: empty mask", prefix)
			}
			t.Logf("%-28q %6d tokens allowed", prefix, n)
		}
	}
}

func ExampleCompileSchema() {
	g, _ := CompileSchema([]byte(`{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"],"additionalProperties":false}`))
	m := g.NewMatcher(NewVocab([][]byte{[]byte(`{"ok":`), []byte("true"), []byte("}"), nil}, []int32{3}))
	for _, tok := range []int32{0, 1, 2} {
		fmt.Println(m.Allowed(tok), m.Accept(tok))
	}
	fmt.Println(m.Complete(), m.Allowed(3))
	// Output:
	// true <nil>
	// true <nil>
	// true <nil>
	// true true
}
