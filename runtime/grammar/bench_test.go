package grammar

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// benchMask measures FillMask at the state after prefix, cold (cache cleared each time: the
// trie walk) and warm (a cache hit).
func benchMask(b *testing.B, schema []byte, prefix string) {
	v, _ := testVocab(b)
	var g *Grammar
	var err error
	if schema == nil {
		g = JSONObject()
	} else if g, err = CompileSchema(schema); err != nil {
		b.Fatal(err)
	}
	m := g.NewMatcher(v)
	if err := m.AcceptBytes([]byte(prefix)); err != nil {
		b.Fatal(err)
	}
	mask := make([]uint64, v.MaskWords())
	b.Run("walk", func(b *testing.B) {
		for b.Loop() {
			clearMaskCache()
			if err := m.FillMask(context.Background(), mask); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(CountMask(mask)), "allowed")
	})
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			if err := m.FillMask(context.Background(), mask); err != nil {
				b.Fatal(err)
			}
		}
	})
}

var manyOptional = []byte(`{"type":"object","properties":{"alpha":{"type":"string"},"beta":{"type":"integer"},"gamma":{"type":"boolean"},"delta":{"type":"null"},"epsilon":{"type":"number"},"zeta":{"type":"string"},"eta":{"type":"array"},"theta":{"type":"object"},"iota":{"type":"string"},"kappa":{"type":"integer"},"lambda":{"type":"string"},"mu":{"type":"string"}},"additionalProperties":false}`)

var recursive = []byte(`{"$ref":"#/$defs/n","$defs":{"n":{"type":"object","properties":{"v":{"type":"integer"},"kids":{"type":"array","items":{"$ref":"#/$defs/n"}}},"required":["v","kids"],"additionalProperties":false}}}`)

func BenchmarkMaskObjectStartManyOptional(b *testing.B) { benchMask(b, manyOptional, `{`) }
func BenchmarkMaskInsideNumber(b *testing.B) {
	benchMask(b, []byte(`{"type":"object","properties":{"x":{"type":"number","minimum":-1000,"maximum":1000}}}`), `{"x":-12`)
}
func BenchmarkMaskRecursiveAfterComma(b *testing.B) {
	benchMask(b, recursive, `{"v":1,"kids":[{"v":2,"kids":[]},`)
}
func BenchmarkMaskFreeString(b *testing.B) {
	benchMask(b, []byte(`{"type":"object","properties":{"s":{"type":"string"}},"required":["s"]}`), `{"s":"hello wor`)
}
func BenchmarkMaskFreeStringInJSONObject(b *testing.B) { benchMask(b, nil, `{"a":[{"b":"hel`) }

func BenchmarkNewVocab(b *testing.B) {
	v, tok := testVocab(b)
	tb := make([][]byte, tok.VocabSize())
	for i := range tb {
		tb[i] = tok.TokenBytes(int32(i))
	}
	b.ResetTimer()
	for b.Loop() {
		NewVocab(tb, tok.EOS())
	}
	b.ReportMetric(float64(v.TrieNodes()), "trie-nodes")
}

func BenchmarkMaskBoundedString(b *testing.B) {
	benchMask(b, []byte(`{"type":"object","properties":{"s":{"type":"string","maxLength":100}},"required":["s"]}`), `{"s":"hello wor`)
}
func BenchmarkMaskFreeValueStart(b *testing.B) { benchMask(b, nil, `{"a":[1,`) }

func BenchmarkMaskAmbiguousPattern(b *testing.B) {
	benchMask(b, []byte(`{"type":"string","pattern":"(.*.*.*){19}"}`), `"ab`)
}

func BenchmarkMaskHugeEnum(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"enum":[`)
	for i := range 100000 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `"value-%06d"`, i)
	}
	sb.WriteString(`]}`)
	benchMask(b, []byte(sb.String()), `"value-0`)
}
