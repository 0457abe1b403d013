package tree

import (
	"encoding/json"
	"math/big"
	"strings"
	"testing"

	"github.com/arborlabs/arbor/runtime/grammar"
)

// grammarAccepts reports whether runtime/grammar lets b through as a free JSON value (what a
// tool_result is in the schema).
func grammarAccepts(b []byte) bool {
	m := grammar.JSONValue().NewMatcher(grammar.NewVocab(nil, nil))
	return m.AcceptBytes(b) == nil && m.CanEnd()
}

func TestCanonicalJSON(t *testing.T) {
	cases := []struct{ in, want string }{
		{` { "b" : 1 , "a" : [ true , null , "x" ] } `, `{"b":1,"a":[true,null,"x"]}`},
		{`"\ud83d\ude00 \u00e9 \/ <&>"`, `"😀 é / <&>"`},
		{`"\u0001\b\f\n\r\t\"\\"`, `"\u0001\b\f\n\r\t\"\\"`},
		{`1.5e3`, `1500`},
		{`-1.25E-2`, `-0.0125`},
		{`0e10`, `0`},
		{`12.50`, `12.50`},
		{`-0`, `-0`},
		{`1e15`, `"1e15"`},
		{`999999999999999`, `999999999999999`},
		{`999999999999999.5`, `"999999999999999.5"`},
		{`1000000000000000`, `"1000000000000000"`},
		{`0.1234567890123456`, `"0.1234567890123456"`},
		{`1e-15`, `0.000000000000001`},
		{`1e-16`, `"1e-16"`},
		{`1e999999999999`, `"1e999999999999"`},
		{`[[],{},[{}]]`, `[[],{},[{}]]`},
		{`{"a":{"a":{"a":1}},"a":2}`, `{"a":{"a":{"a":1}},"a":2}`}, // duplicate keys kept, in order
		// A combining mark after an escape is escaped too (NFC would merge it into the
		// escape's letter); after plain text it stays as it is.
		{`"\n\u0301\u030c x\u0301 \t"`, `"\n\u0301\u030c x` + "\u0301" + ` \t"`},
		{`"\u0000\u0302"`, `"\u0000\u0302"`},
		{`"\u2028"`, "\"\u2028\""},
	}
	for _, c := range cases {
		got, err := canonicalJSON([]byte(c.in))
		if err != nil || string(got) != c.want {
			t.Errorf("canonicalJSON(%s) = %s, %v; want %s", c.in, got, err, c.want)
			continue
		}
		if !grammarAccepts(got) {
			t.Errorf("grammar rejects %s", got)
		}
	}
	for _, bad := range []string{``, `{`, `{"a":}`, `1 2`, `[1,]`, `nul`} {
		if got, err := canonicalJSON([]byte(bad)); err == nil {
			t.Errorf("canonicalJSON(%q) = %s, want an error", bad, got)
		}
	}
}

// Expanded exponents keep the exact value.
func TestPlainDecimalExact(t *testing.T) {
	for _, lit := range []string{"1e0", "1.5e3", "-2.75e-3", "123.456e2", "123.456e-5", "0.00012e4",
		"9.99999999999999e14", "5e-15"} {
		p, ok := plainDecimal(lit)
		if !ok {
			t.Errorf("%s does not fit", lit)
			continue
		}
		want, _ := new(big.Rat).SetString(lit)
		got, _ := new(big.Rat).SetString(p)
		if want.Cmp(got) != 0 || strings.ContainsAny(p, "eE") {
			t.Errorf("plainDecimal(%s) = %s", lit, p)
		}
	}
}

func TestRebaseRefs(t *testing.T) {
	in := `{"type":"object","properties":{"z":{"$ref":"#/$defs/a"},"y":{"$ref":"#"},"$ref":{"const":"keep"}},` +
		`"$defs":{"a":{"type":"string"}}}`
	got, err := rebaseRefs([]byte(in), "#/base/0")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"object","properties":{"z":{"$ref":"#/base/0/$defs/a"},"y":{"$ref":"#/base/0"},` +
		`"$ref":{"const":"keep"}},"$defs":{"a":{"type":"string"}}}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	plain := []byte(`{"type": "object"}`)
	if got, _ := rebaseRefs(plain, "#/x"); string(got) != string(plain) {
		t.Errorf("a schema without $ref changed: %s", got)
	}
}

// Whatever valid JSON a tool returns, the rewritten form is valid, the grammar lets it through,
// and strings and structure survive.
func FuzzCanonicalJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5e-3,"\ud83d\ude00"]}`, `-0.0`, `"\u2028"`, `[1e400]`, `{"":{}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return
		}
		out, err := canonicalJSON(data)
		if err != nil {
			t.Fatalf("canonicalJSON(%q): %v", data, err)
		}
		if !json.Valid(out) || !grammarAccepts(out) {
			t.Fatalf("canonicalJSON(%q) = %q: not accepted", data, out)
		}
	})
}

func TestCanonicalJSONNesting(t *testing.T) {
	ok := strings.Repeat("[", maxNesting) + strings.Repeat("]", maxNesting)
	if _, err := canonicalJSON([]byte(ok)); err != nil {
		t.Fatalf("%d levels: %v", maxNesting, err)
	}
	deep := "[" + ok + "]"
	if _, err := canonicalJSON([]byte(deep)); err == nil || !strings.Contains(err.Error(), "nested deeper") {
		t.Fatalf("%d levels: %v", maxNesting+1, err)
	}
}
