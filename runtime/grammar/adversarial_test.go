package grammar

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// noValueSchemas are schemas that no finite value satisfies (also seeds of FuzzCompileSchema).
var noValueSchemas = []string{
	`{"$ref":"#"}`,
	`{"anyOf":[{"$ref":"#"}]}`,
	`{"allOf":[{"$ref":"#"}]}`,
	`{"oneOf":[{"$ref":"#"}]}`,
	`{"$ref":"#/$defs/a","$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}}}`,
	`{"type":"object","properties":{"a":{"$ref":"#"}},"required":["a"]}`,
	`{"type":"array","prefixItems":[{"$ref":"#"}],"minItems":1}`,
	`{"type":"object","properties":{"x":{"$ref":"#/$defs/n"}},"required":["x"],` +
		`"$defs":{"n":{"type":"array","items":{"$ref":"#/$defs/n"},"minItems":1}}}`,
}

// Schemas that no finite value satisfies are refused at compile time: before, they compiled
// and every mask came out empty ("no token can be sampled").
func TestNoFiniteValue(t *testing.T) {
	for _, s := range noValueSchemas {
		_, err := CompileSchema([]byte(s))
		if !errors.Is(err, ErrNoValue) {
			t.Errorf("%s: got %v, want ErrNoValue", s, err)
		}
	}
	// In a choice (a forced tool call), every alternative must have a value.
	_, err := CompileChoice([]Alternative{{Prefix: "a", Schema: []byte(`{"type":"integer"}`)}, {Prefix: "b", Schema: []byte(`{"$ref":"#"}`)}})
	if !errors.Is(err, ErrNoValue) || !strings.Contains(err.Error(), "alternative 1") {
		t.Errorf("choice: got %v", err)
	}
}

// Schemas with recursion that can end compile, and random walks through them always finish:
// no mask along the way is empty.
func TestRecursionThatEnds(t *testing.T) {
	v, _ := testVocab(t)
	for _, s := range []string{
		`{"anyOf":[{"type":"integer"},{"$ref":"#"}]}`,
		`{"$ref":"#/$defs/a","$defs":{"a":{"anyOf":[{"$ref":"#/$defs/b"},{"type":"boolean"}]},"b":{"anyOf":[{"$ref":"#/$defs/a"},{"type":"null"}]}}}`,
		// An optional self-reference: only {} and nestings of it, never an endless "a".
		`{"type":"object","properties":{"a":{"$ref":"#"},"b":{"$ref":"#/$defs/never"}},"additionalProperties":false,"$defs":{"never":{"$ref":"#/$defs/never"}}}`,
		`{"type":"array","items":{"$ref":"#"}}`,
	} {
		g, err := CompileSchema([]byte(s))
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		for range 20 {
			out, done := walk(t, g, v, rng, 400)
			if !done {
				t.Fatalf("%s: walk did not finish: %s", s, short(out))
			}
			if strings.Contains(string(out), `"b"`) && strings.Contains(s, "never") {
				t.Fatalf("%s: generated the property with no value: %s", s, out)
			}
		}
	}
}

// A left-recursive choice must not stack a frame per level: the start state is small.
func TestLeftRecursionIsOneState(t *testing.T) {
	v, _ := testVocab(t)
	g, err := CompileSchema([]byte(`{"anyOf":[{"type":"boolean"},{"$ref":"#"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	m := g.NewMatcher(v)
	if len(m.cur) > 4 {
		t.Fatalf("start state has %d configurations", len(m.cur))
	}
}

// Patterns are deterministic automata: one configuration at every position, whatever the
// pattern's ambiguity, so masks cost one walk of the token trie.
func TestPatternIsDeterministic(t *testing.T) {
	v, _ := testVocab(t)
	for _, p := range []string{`(.*.*.*){19}`, `(a|ab|abc)*(b|bc)*c?`, `(\d+\.?\d*)+`, `[a-z]+(-[a-z]+)*@x\.com`} {
		g, err := CompileSchema([]byte(fmt.Sprintf(`{"type":"string","pattern":%q}`, p)))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		m := g.NewMatcher(v)
		rng := rand.New(rand.NewPCG(3, 4))
		mask := make([]uint64, v.MaskWords())
		for step := 0; step < 12 && !m.Complete(); step++ {
			if len(m.cur) != 1 {
				t.Fatalf("%s: %d configurations after %d tokens", p, len(m.cur), step)
			}
			if err := m.FillMask(context.Background(), mask); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			var allowed []int32
			for id := range v.Size() {
				if mask[id/64]&(1<<(uint(id)%64)) != 0 {
					allowed = append(allowed, int32(id))
				}
			}
			if len(allowed) == 0 {
				t.Fatalf("%s: empty mask", p)
			}
			if err := m.Accept(allowed[rng.IntN(len(allowed))]); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// The behaviour of deterministic patterns is the language of the pattern: spot checks.
func TestPatternDFALanguage(t *testing.T) {
	cases := []struct {
		pattern string
		ok, bad []string
	}{
		{`(.*.*.*){19}`, []string{`""`, `"abc"`, `"\"\\"`, `"é"`}, []string{`"\n"`}},
		{`(a|ab|abc)*(b|bc)*c?`, []string{`""`, `"abcab"`, `"abbc"`, `"c"`}, []string{`"ca"`, `"cb"`}},
		{`[0-9]{2,3}-x`, []string{`"12-x"`, `"123-x"`}, []string{`"1-x"`, `"1234-x"`}},
		{`"q"|\\`, []string{`"\"q\""`, `"\\"`}, []string{`"q"`}},
	}
	for _, c := range cases {
		g, err := CompileSchema([]byte(fmt.Sprintf(`{"type":"string","pattern":%q}`, c.pattern)))
		if err != nil {
			t.Fatalf("%s: %v", c.pattern, err)
		}
		for _, s := range c.ok {
			m := g.NewMatcher(NewVocab(nil, nil))
			if err := m.AcceptBytes([]byte(s)); err != nil || !m.CanEnd() {
				t.Errorf("%s: %s refused (%v)", c.pattern, s, err)
			}
		}
		for _, s := range c.bad {
			m := g.NewMatcher(NewVocab(nil, nil))
			if err := m.AcceptBytes([]byte(s)); err == nil && m.CanEnd() {
				t.Errorf("%s: %s accepted", c.pattern, s)
			}
		}
	}
}

// Limits are named in the error, and refused schemas cost at most the node budget.
func TestSizeLimits(t *testing.T) {
	big := func(n int, item func(i int) string) string {
		var sb strings.Builder
		sb.WriteString(`{"type":"array","prefixItems":[`)
		for i := range n {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(item(i))
		}
		sb.WriteString(`]}`)
		return sb.String()
	}
	// 50,000 identical item schemas share one rule.
	g, err := CompileSchema([]byte(big(50000, func(int) string { return `{"type":"integer"}` })))
	if err != nil {
		t.Fatalf("identical prefixItems: %v", err)
	}
	if len(g.nodes) > MaxNodes {
		t.Fatalf("%d nodes", len(g.nodes))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err = CompileSchema([]byte(big(50000, func(i int) string { return fmt.Sprintf(`{"type":"integer","minimum":%d}`, i) })))
	runtime.ReadMemStats(&after)
	var se *SizeError
	if !errors.As(err, &se) {
		t.Fatalf("distinct prefixItems: got %v, want a SizeError", err)
	}
	// The budget is about 100 MB of nodes; the schema text itself is about 2 MB.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 400<<20 {
		t.Fatalf("a refused schema allocated %d MB", alloc>>20)
	}
	for _, s := range []string{
		`{"type":"string","maxLength":1000000}`,
		`{"type":"string","pattern":"(a{1000}){1000}"}`,
		`{"type":"string","pattern":"((((a{100}){100}){100}){100})"}`,
	} {
		if _, err := CompileSchema([]byte(s)); err == nil {
			t.Errorf("%s compiled", s)
		}
	}
}

// A 100,000-value enum is one trie: one configuration, and masks stay exact.
func TestHugeEnum(t *testing.T) {
	v, _ := testVocab(t)
	var sb strings.Builder
	sb.WriteString(`{"enum":[`)
	for i := range 100000 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `"value-%06d"`, i*7)
	}
	sb.WriteString(`,"value-000007","value-0",1,null,{"a":[1]}]}`)
	g, err := CompileSchema([]byte(sb.String()))
	if err != nil {
		t.Fatal(err)
	}
	m := g.NewMatcher(v)
	if len(m.cur) != 1 {
		t.Fatalf("%d configurations at the start", len(m.cur))
	}
	for _, ok := range []string{`"value-000007"`, `"value-699993"`, `"value-0"`, `1`, `null`, `{"a":[1]}`} {
		m := g.NewMatcher(v)
		if err := m.AcceptBytes([]byte(ok)); err != nil || !m.Complete() {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
	for _, bad := range []string{`"value-000001"`, `"value-00"`, `2`} {
		m := g.NewMatcher(v)
		if err := m.AcceptBytes([]byte(bad)); err == nil && m.CanEnd() {
			t.Errorf("%s accepted", bad)
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 5 {
		if _, done := walk(t, g, v, rng, 64); !done {
			t.Fatal("walk did not finish")
		}
	}
}

// A mask walk stops when its context ends, and past its work budget.
func TestFillMaskStops(t *testing.T) {
	v, _ := testVocab(t)
	g, err := CompileSchema([]byte(`{"type":"string","pattern":"[a-z]*"}`))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	clearMaskCache()
	m := g.NewMatcher(v)
	if err := m.AcceptBytes([]byte(`"`)); err != nil {
		t.Fatal(err)
	}
	if err := m.FillMask(ctx, make([]uint64, v.MaskWords())); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: got %v", err)
	}
	// Thousands of string shapes that all start alike keep thousands of configurations alive
	// over most of the vocabulary.
	var sb strings.Builder
	sb.WriteString(`{"anyOf":[`)
	for i := range 3000 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"type":"string","pattern":"[a-z ]*%d"}`, i)
	}
	sb.WriteString(`]}`)
	if g, err = CompileSchema([]byte(sb.String())); err != nil {
		t.Fatal(err)
	}
	m = g.NewMatcher(v)
	if err := m.AcceptBytes([]byte(`"`)); err != nil {
		t.Fatal(err)
	}
	if err := m.FillMask(context.Background(), make([]uint64, v.MaskWords())); !errors.Is(err, ErrTooCostly) {
		t.Fatalf("ambiguous: got %v (%d configurations)", err, len(m.cur))
	}
}

// The mask cache is shared by every grammar and bounded as a whole.
func TestMaskCacheBound(t *testing.T) {
	v, _ := testVocab(t)
	clearMaskCache()
	mask := make([]uint64, v.MaskWords())
	limit := MaskCacheBytes
	for i := 0; masks.bytes() < limit/2 || i < 8000; i++ {
		if i > 20000 {
			t.Fatal("the cache never filled")
		}
		masks.put(maskKey{grammar: uint64(i), vocab: v, state: 1}, mask)
		if n := masks.bytes(); n > limit {
			t.Fatalf("cache at %d bytes, limit %d", n, limit)
		}
	}
	clearMaskCache()
}
