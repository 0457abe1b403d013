package grammar

import (
	"context"
	"math/bits"
	"math/rand/v2"
	"testing"
)

// byteVocab is one token per byte value, and EOS.
func byteVocab() *Vocab {
	tb := make([][]byte, 257)
	for i := range 256 {
		tb[i] = []byte{byte(i)}
	}
	return NewVocab(tb, []int32{256})
}

// Remaining counts the shortest way to a whole value, through calls ($ref), required members,
// minItems, minLength and number rules.
func TestRemaining(t *testing.T) {
	v := byteVocab()
	for _, c := range []struct {
		schema, prefix string
		want           int
	}{
		{`{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false}`, ``, len(`{"a":""}`)},
		{`{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false}`, `{"a":"xyz`, len(`"}`)},
		{`{"type":"string","minLength":5}`, `"ab`, len(`cde"`)},
		{`{"type":"array","items":{"type":"integer"},"minItems":3}`, `[`, len(`0,0,0]`)},
		{`{"type":"array","items":{"$ref":"#/$defs/t"},"minItems":1,"$defs":{"t":{"type":"object","properties":{"k":{"type":"array","items":{"$ref":"#/$defs/t"}}},"required":["k"],"additionalProperties":false}}}`,
			`[{"k":[{"k":[`, len(`]}]}]`)},
		{`{"type":"integer"}`, `12`, 0},
		{`{"anyOf":[{"type":"string","minLength":10},{"type":"null"}]}`, ``, len(`null`)},
		{`{"type":"array","items":{"$ref":"#/$defs/p"},"minItems":2,"$defs":{"p":{"enum":["abcdef","xy"]}}}`, ``,
			len(`["xy","xy"]`)},
		{`{"type":"array","items":{"$ref":"#/$defs/p"},"minItems":2,"$defs":{"p":{"enum":["abcdef","xy"]}}}`, `["abc`,
			len(`def","xy"]`)},
	} {
		g, err := CompileSchema([]byte(c.schema))
		if err != nil {
			t.Fatal(err)
		}
		m := g.NewMatcher(v)
		if err := m.AcceptBytes([]byte(c.prefix)); err != nil {
			t.Fatal(err)
		}
		if got := m.Remaining(); got != c.want {
			t.Errorf("%s after %q: Remaining %d, want %d", c.schema, c.prefix, got, c.want)
		}
	}
}

// budgetSchemas are values whose shortest completion goes through recursion, alternatives,
// bounded and patterned strings, numbers and arrays with a minimum.
var budgetSchemas = []string{
	`{"type":"object","properties":{"reasoning":{"type":"array","minItems":1,"items":{"$ref":"#/$defs/task"}},` +
		`"answer":{"type":"string"}},"required":["reasoning","answer"],"additionalProperties":false,"$defs":{"task":` +
		`{"type":"object","properties":{"thought":{"type":"string"},"subtasks":{"anyOf":[{"type":"array","items":` +
		`{"$ref":"#/$defs/task"}},{"type":"null"}]},"conclusion":{"type":"string","maxLength":20}},` +
		`"required":["thought","subtasks","conclusion"],"additionalProperties":false}}}`,
	`{"type":"object","properties":{"n":{"type":"integer","minimum":100},"e":{"enum":["alpha","beta"]},` +
		`"list":{"type":"array","items":{"type":"number"},"minItems":2},"id":{"type":"string","pattern":"^[a-z]{3}-\\d{2,4}$"}},` +
		`"required":["n","e","list","id"],"additionalProperties":false}`,
	`{"type":"array","items":{"anyOf":[{"type":"string","minLength":3},{"type":"object","properties":{"x":{"type":"boolean"}},` +
		`"required":["x"]}]},"minItems":2}`,
}

// Under a budget a walk always finishes a whole value: wherever it stands, with left tokens at
// least what Remaining says, FillMaskWithin allows some token at every step until the value can
// end, which takes at most left tokens, and its mask is exactly the tokens AllowedWithin allows.
// Before the budget binds the walk runs freely, preferring tokens that open things.
func TestBudgetFinishesValues(t *testing.T) {
	v, _ := testVocab(t)
	mask := make([]uint64, v.MaskWords())
	rng := rand.New(rand.NewPCG(3, 9))
	ctx := context.Background()
	for si, schema := range budgetSchemas {
		g, err := CompileSchema([]byte(schema))
		if err != nil {
			t.Fatal(err)
		}
		for trial := range 12 {
			m := g.NewMatcher(v)
			var out []byte
			free := rng.IntN(40)
			for step := 0; step < free && !m.Complete(); step++ {
				if err := m.FillMask(ctx, mask); err != nil {
					t.Fatal(err)
				}
				ids := maskIDs(mask)
				var id int32 = -1
				for range 8 { // prefer a token that does not end the value
					id = ids[rng.IntN(len(ids))]
					if !v.isEOS[id] && !closerTokens(v)[id] {
						break
					}
				}
				if v.isEOS[id] {
					break
				}
				if err := m.Accept(id); err != nil {
					t.Fatal(err)
				}
				out = append(out, v.Bytes(id)...)
			}
			if m.Complete() {
				continue
			}
			left := m.Remaining() + rng.IntN(4)
			budget := left
			for !m.CanEnd() {
				if left < 1 {
					t.Fatalf("schema %d trial %d: budget %d spent after %q, value not whole", si, trial, budget, short(out))
				}
				if err := m.FillMaskWithin(ctx, mask, left); err != nil {
					t.Fatal(err)
				}
				ids := maskIDs(mask)
				if len(ids) == 0 {
					t.Fatalf("schema %d trial %d: no token fits %d left after %q (Remaining %d)", si, trial, left,
						short(out), m.Remaining())
				}
				for range 200 {
					id := int32(rng.IntN(v.Size()))
					if _, fits := m.AllowedWithin(id, left); fits != (mask[id/64]&(1<<(uint(id)%64)) != 0) {
						t.Fatalf("schema %d after %q: token %q in the mask %v, AllowedWithin fits %v", si, short(out),
							v.Bytes(id), !fits, fits)
					}
				}
				// The longest allowed token, to spend the budget as fast as the mask lets it.
				id := ids[rng.IntN(len(ids))]
				for _, c := range ids {
					if !v.isEOS[c] && len(v.Bytes(c)) > len(v.Bytes(id)) {
						id = c
					}
				}
				if _, fits := m.AllowedWithin(id, left); !fits {
					t.Fatalf("token %q in the mask but not AllowedWithin", v.Bytes(id))
				}
				if err := m.Accept(id); err != nil {
					t.Fatal(err)
				}
				out = append(out, v.Bytes(id)...)
				left--
			}
		}
	}
}

func maskIDs(mask []uint64) []int32 {
	var ids []int32
	for w, word := range mask {
		for word != 0 {
			bit := word & -word
			ids = append(ids, int32(w*64+bits.TrailingZeros64(bit)))
			word ^= bit
		}
	}
	return ids
}
