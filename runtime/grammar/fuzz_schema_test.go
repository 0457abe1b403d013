package grammar

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/arborlabs/arbor/internal/schematest"
)

// maxFuzzSchemaBytes bounds the schemas FuzzCompileSchema tries: compiling is bounded by the
// node budget anyway, and small inputs keep the fuzzer's executions fast.
const maxFuzzSchemaBytes = 4096

// fuzzWalkTokens bounds the random walk through each compiled grammar.
const fuzzWalkTokens = 50

// FuzzCompileSchema compiles arbitrary bytes as a schema. CompileSchema never panics and
// returns a grammar or an error, never both or neither. For a grammar, with the Qwen3
// vocabulary, a random walk of at most fuzzWalkTokens tokens (seeded from the input) starts
// with a non-empty mask and never meets an empty one (EOS is in it once the value can end);
// every token in a mask is Allowed and accepted, and a token outside it is not Allowed; and a
// walk that completes wrote JSON that an independent validator accepts (when that validator
// can compile the schema at all). A mask refused as too costly ends the walk: that is the
// budget doing its job.
func FuzzCompileSchema(f *testing.F) {
	v, _ := testVocab(f)
	for _, s := range fuzzSchemaSeeds() {
		f.Add([]byte(s))
	}
	names, suite := schematest.Suite(f)
	for _, name := range names {
		if s := suite[name]; len(s) <= maxFuzzSchemaBytes {
			f.Add([]byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzSchemaBytes {
			return
		}
		g, err := CompileSchema(data)
		if (g == nil) == (err == nil) {
			t.Fatalf("CompileSchema returned grammar %v and error %v", g != nil, err)
		}
		if err != nil {
			return
		}
		h := fnv.New64a()
		h.Write(data)
		rng := rand.New(rand.NewPCG(h.Sum64(), uint64(len(data))))
		out, done := walk(t, g, v, rng, fuzzWalkTokens)
		if !done {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("schema %s: completed output is not JSON: %q", data, out)
		}
		val, ok := fuzzValidator(data)
		if !ok {
			return
		}
		if err := schematest.Validate(val, out); err != nil {
			t.Fatalf("schema %s: output %s does not validate: %v", data, short(out), err)
		}
	})
}

// fuzzValidator compiles schema with the independent validator, as schematest.Validator does,
// but reports failure instead of failing the test: many fuzzed schemas that the grammar takes
// (or interprets leniently) are not schemas the validator can compile. Its patterns go through
// ecmaRegexp.
func fuzzValidator(schema []byte) (s *jsonschema.Schema, ok bool) {
	defer func() {
		if recover() != nil {
			s, ok = nil, false
		}
	}()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		return nil, false
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	c.UseRegexpEngine(ecmaRegexp)
	if err := c.AddResource("mem://schema.json", doc); err != nil {
		return nil, false
	}
	s, err = c.Compile("mem://schema.json")
	return s, err == nil
}

// ecmaRegexp compiles a pattern for the validator with Go's regexp, closer to ECMA-262 (the
// dialect of JSON Schema, and the one the grammar implements) in what fuzzing meets: \s is
// ECMA-262's whitespace and line terminators, '.' matches no line terminator, '[' inside a
// class is a literal, never the start of a POSIX class such as [:alpha:], and repetition
// counts may have leading zeros.
func ecmaRegexp(pattern string) (jsonschema.Regexp, error) {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch {
		case c == '\\' && i+1 < len(pattern):
			i++
			switch n := pattern[i]; {
			case n == 's' && inClass:
				b.WriteString(ecmaSpaceClass)
			case n == 's':
				b.WriteString(`[` + ecmaSpaceClass + `]`)
			case n == 'S' && !inClass:
				b.WriteString(`[^` + ecmaSpaceClass + `]`)
			default:
				b.WriteByte('\\')
				b.WriteByte(n)
			}
		case c == '.' && !inClass:
			b.WriteString(`[^\n\r\x{2028}\x{2029}]`) // no line terminator
		case c == '[' && inClass:
			b.WriteString(`\[`)
		case c == '[':
			inClass = true
			b.WriteByte(c)
			// A ']' first in the class (after an optional '^') is a literal in Go's syntax.
			if i+1 < len(pattern) && pattern[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(pattern) && pattern[i+1] == ']' {
				b.WriteByte(']')
				i++
			}
		case c == ']' && inClass:
			inClass = false
			b.WriteByte(c)
		case c == '{' && !inClass:
			if m := repeatCount.FindStringSubmatch(pattern[i:]); m != nil {
				// Go reads a count with leading zeros ({00}) as literal text.
				b.WriteString("{" + trimZeros(m[1]) + m[2] + trimZeros(m[3]) + "}")
				i += len(m[0]) - 1
				break
			}
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return regexp.Compile(b.String())
}

// ecmaSpaceClass is ECMA-262's \s inside a Go class: WhiteSpace and LineTerminator.
const ecmaSpaceClass = `\t\n\v\f\r \x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}`

var repeatCount = regexp.MustCompile(`^\{([0-9]+)(,?)([0-9]*)\}`)

func trimZeros(n string) string {
	if t := strings.TrimLeft(n, "0"); t != "" || n == "" {
		return t
	}
	return "0"
}

// Ways the grammar's output once failed its schema (found by FuzzCompileSchema and around it).
// With refuse set, the grammar must not accept that output (ECMA-262 pattern semantics, which
// the validator used by the fuzz target does not follow there); otherwise, random walks must
// produce only outputs that validate, or the schema must be refused.
func TestSchemaOutputMismatches(t *testing.T) {
	v, _ := testVocab(t)
	for _, c := range []struct {
		name, schema, refuse, why string
	}{
		{
			name:   "required outside properties",
			schema: `{"properties":{"a":{"type":"integer"}},"required":["b"],"additionalProperties":false}`,
			why:    "the grammar generates the required \"b\" with any value, which additionalProperties false forbids",
		},
		{
			name:   "oneOf numbers",
			schema: `{"oneOf":[{"enum":[1]},{"enum":[1.0]}]}`,
			why:    "oneOf's disjointness check compares the values' text: 1 matches both branches",
		},
		{
			name:   "oneOf objects",
			schema: `{"oneOf":[{"enum":[{"a":1,"b":2}]},{"enum":[{"b":2,"a":1}]}]}`,
			why:    "oneOf's disjointness check compares the values' text: key order makes equal objects differ",
		},
		{
			name: "$id below the root",
			schema: `{"$ref":"#/$defs/x","$defs":{"x":{"$id":"http://other/x","$ref":"#/$defs/y",` +
				`"$defs":{"y":{"type":"string"}}},"y":{"type":"integer"}}}`,
			why: "the grammar resolves #/$defs/y from the root; $id makes it x's own $defs (a string)",
		},
		{
			name:   "dot and carriage return",
			schema: `{"type":"string","pattern":"^.$"}`,
			refuse: `"\r"`,
			why:    "in ECMA-262 '.' matches no line terminator (\\n \\r U+2028 U+2029); the grammar only excludes \\n",
		},
		{
			name:   "dot and line separator",
			schema: `{"type":"string","pattern":"^.$"}`,
			refuse: "\"\u2028\"",
			why:    "in ECMA-262 '.' matches no line terminator (\\n \\r U+2028 U+2029); the grammar only excludes \\n",
		},
		{
			name:   "non-space and no-break space",
			schema: `{"type":"string","pattern":"^\\S$"}`,
			refuse: "\"\u00a0\"",
			why:    "ECMA-262 \\s includes Unicode spaces (U+00A0, U+3000, U+FEFF...); the grammar's \\S admits them",
		},
		{
			name:   "empty class",
			schema: `{"type":"string","pattern":"^[]a]$"}`,
			refuse: `"]"`,
			why:    "in ECMA-262 [] is an empty class (the pattern matches nothing); the grammar reads ']' as a literal",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Log(c.why)
			g, err := CompileSchema([]byte(c.schema))
			if err != nil {
				return
			}
			if c.refuse != "" {
				m := g.NewMatcher(v)
				if err := m.AcceptBytes([]byte(c.refuse)); err == nil && m.CanEnd() {
					t.Fatalf("%q accepted", c.refuse)
				}
				return
			}
			val := schematest.Validator(t, []byte(c.schema))
			rng := rand.New(rand.NewPCG(1, 2))
			for range 50 {
				out, done := walk(t, g, v, rng, 80)
				if !done {
					continue
				}
				if err := schematest.Validate(val, out); err != nil {
					t.Fatalf("%s does not validate: %v", out, err)
				}
			}
		})
	}
}

// fuzzSchemaSeeds are the seed corpus: the adversarial schemas (unbounded recursion, mutual
// references, ambiguous patterns, large enums and item lists) beside ordinary ones of every
// supported keyword.
func fuzzSchemaSeeds() []string {
	seeds := append(slices.Clone(noValueSchemas),
		// Recursion that ends.
		`{"anyOf":[{"type":"integer"},{"$ref":"#"}]}`,
		`{"anyOf":[{"type":"boolean"},{"$ref":"#"}]}`,
		`{"$ref":"#/$defs/a","$defs":{"a":{"anyOf":[{"$ref":"#/$defs/b"},{"type":"boolean"}]},`+
			`"b":{"anyOf":[{"$ref":"#/$defs/a"},{"type":"null"}]}}}`,
		`{"type":"object","properties":{"a":{"$ref":"#"},"b":{"$ref":"#/$defs/never"}},`+
			`"additionalProperties":false,"$defs":{"never":{"$ref":"#/$defs/never"}}}`,
		`{"type":"array","items":{"$ref":"#"}}`,
		`{"$ref":"#/$defs/n","$defs":{"n":{"type":"object","properties":{"v":{"type":"boolean"},`+
			`"k":{"type":"array","items":{"$ref":"#/$defs/n"},"maxItems":2}},"required":["v","k"],`+
			`"additionalProperties":false}}}`,
		`{"type":"object","additionalProperties":{"$ref":"#"}}`,
		// Patterns, nested and ambiguous.
		`{"type":"string","pattern":"(.*.*.*){19}"}`,
		`{"type":"string","pattern":"(a|ab|abc)*(b|bc)*c?"}`,
		`{"type":"string","pattern":"(\\d+\\.?\\d*)+"}`,
		`{"type":"string","pattern":"^[a-z]+(-[a-z]+)*@x\\.com$"}`,
		`{"type":"string","pattern":"((a|b){2,3}(c(d|e)*)?)+"}`,
		`{"type":"string","pattern":"(((x?){3}){3}){3}y"}`,
		`{"type":"string","pattern":"[^\"\\\\]{0,4}\\s\\S\\w\\W\\D"}`,
		`{"type":"string","pattern":"\"q\"|\\\\"}`,
		`{"type":"string","pattern":"(a{1000}){1000}"}`,
		`{"type":"string","pattern":"é[α-ω]+😀?"}`,
		`{"type":"string","pattern":"^\\s\\S[\\s\\d]$"}`,
		`{"type":"string","pattern":"[[:alpha:]]|[]x]"}`,
		`{"pattern":"(){00}a{01,002}"}`,
		// Formats.
		`{"type":"string","format":"date"}`,
		`{"type":"string","format":"time"}`,
		`{"type":"string","format":"date-time"}`,
		`{"type":"string","format":"uuid"}`,
		`{"type":"string","format":"ipv4"}`,
		`{"type":"string","format":"email"}`,
		// Numbers with bounds.
		`{"type":"integer","minimum":-5,"maximum":300}`,
		`{"type":"integer","exclusiveMinimum":0,"exclusiveMaximum":1}`,
		`{"type":"integer","minimum":999999999999990}`,
		`{"type":"number","minimum":-273.15,"exclusiveMaximum":0}`,
		`{"type":"number","minimum":1.5,"maximum":9.75}`,
		`{"type":"number","exclusiveMinimum":0,"exclusiveMaximum":0.5}`,
		`{"type":"number","minimum":1e300}`,
		`{"type":["number","null"],"maximum":-0.5}`,
		// Strings, arrays and objects.
		`{"type":"string","minLength":2,"maxLength":5}`,
		`{"type":"string","maxLength":1000000}`,
		`{"type":"array","prefixItems":[{"type":"integer"},{"type":"string","maxLength":3},`+
			`{"enum":[null,true]}],"items":false}`,
		`{"type":"array","prefixItems":[{"type":"boolean"},{"const":"x"}],"items":{"type":"null"},"minItems":3}`,
		`{"type":"array","items":{"type":"integer"},"minItems":2,"maxItems":4}`,
		`{"type":"array","items":false,"minItems":1}`,
		`{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}},"required":["b","c"]}`,
		`{"type":"object","properties":{"a":false,"b":{"type":"null"}},"additionalProperties":false}`,
		`{"type":"object","additionalProperties":{"type":"integer","maximum":3}}`,
		`{"properties":{"a\"/~b":{"const":1}},"required":["a\"/~b"]}`,
		`{"properties":{"a":{"type":"integer"}},"required":["b"],"additionalProperties":false}`,
		`{"$defs":{"a b":{"type":"integer"},"a%20b":{"type":"string"}},"$ref":"#/$defs/a%20b"}`,
		// Combinators and enums.
		`{"oneOf":[{"type":"string"},{"type":"integer"}]}`,
		`{"oneOf":[{"type":"integer"},{"type":"number"}]}`,
		`{"oneOf":[{"enum":[1,"a"]},{"enum":[1.0,{"b":[]}]}]}`,
		`{"oneOf":[{"type":"object","properties":{"k":{"const":"x"}},"required":["k"]},`+
			`{"type":"object","properties":{"k":{"const":"y"}},"required":["k"]}]}`,
		`{"anyOf":[{"type":"array","items":{"enum":[1,"two",null]}},`+
			`{"type":"object","additionalProperties":{"type":"integer"}}]}`,
		`{"allOf":[{"type":"string","maxLength":2}]}`,
		`{"enum":[1,"one",null,true,2.5,{"a":[1]},[]]}`,
		`{"type":"integer","enum":[1,1.5,"x",2]}`,
		`{"const":{"kind":"fixed","n":[1,2]},"enum":[{"kind":"fixed","n":[1,2]}]}`,
		`{"const":"a","enum":["b"]}`,
		// Odd documents.
		`true`, `false`, `{}`, `null`, `[]`, `1`, ``, `{`, `{"type":"strin"}`, `{"type":[]}`,
		`{"type":"string"} {}`, `{"a":1,"a":2}`, `{"$ref":"#/$defs/missing"}`, `{"$ref":"http://x/y"}`,
		`{"uniqueItems":false,"type":"array"}`, `{"description":"`+strings.Repeat("\\u00e9", 20)+`"}`,
	)
	// Large enums, within the size bound.
	var sb strings.Builder
	sb.WriteString(`{"enum":[`)
	for i := range 300 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `"v%03d"`, i*7)
	}
	sb.WriteString(`]}`)
	seeds = append(seeds, sb.String())
	sb.Reset()
	sb.WriteString(`{"type":["integer","string"],"enum":[`)
	for i := range 400 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `%d`, i*i-5000)
	}
	sb.WriteString(`]}`)
	seeds = append(seeds, sb.String())
	// Many prefixItems, identical and distinct.
	sb.Reset()
	sb.WriteString(`{"type":"array","prefixItems":[`)
	for i := range 100 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"type":"integer","minimum":%d}`, i%5)
	}
	sb.WriteString(`],"items":false}`)
	seeds = append(seeds, sb.String())
	return seeds
}
