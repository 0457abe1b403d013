package grammar

import (
	"encoding/json"
	"testing"

	"github.com/arborlabs/arbor/internal/schematest"
)

// FuzzAcceptBytes feeds arbitrary bytes to matchers of several schemas: nothing panics, a
// rejected input leaves the state unchanged, and whatever is accepted and complete is JSON that
// validates against its schema.
func FuzzAcceptBytes(f *testing.F) {
	schemas := []string{
		`{"type":"object","properties":{"a":{"type":"integer","minimum":-5,"maximum":300},"b":{"type":"string","maxLength":4},"c":{"type":["number","null"],"minimum":0}},"required":["a"],"additionalProperties":false}`,
		`{"$ref":"#/$defs/n","$defs":{"n":{"type":"object","properties":{"v":{"type":"boolean"},"k":{"type":"array","items":{"$ref":"#/$defs/n"},"maxItems":2}},"required":["v","k"],"additionalProperties":false}}}`,
		`{"type":"string","pattern":"^[a-c]+(x|yz)?[0-9]{1,3}$"}`,
		`{"anyOf":[{"type":"array","items":{"enum":[1,"two",null]}},{"type":"object","additionalProperties":{"type":"integer"}}]}`,
		`true`,
	}
	type compiled struct {
		g   *Grammar
		raw []byte
	}
	var gs []compiled
	for _, s := range schemas {
		g, err := CompileSchema([]byte(s))
		if err != nil {
			f.Fatal(err)
		}
		gs = append(gs, compiled{g, []byte(s)})
	}
	for _, seed := range []string{`{"a":1,"b":"xy","c":null}`, `{"v":true,"k":[{"v":false,"k":[]}]}`, `"abx12"`, `[1,"two",null]`, `{"q":-3}`, `{"a":[1,{"b":"c"}]}`, "\"\xff\"", `{"a":01}`} {
		for i := range gs {
			f.Add(i, []byte(seed))
		}
	}
	voc := NewVocab(nil, nil)
	f.Fuzz(func(t *testing.T, which int, data []byte) {
		if which < 0 {
			which = -which
		}
		c := gs[which%len(gs)]
		m := c.g.NewMatcher(voc)
		// Feed in two pieces: a rejected piece must leave the state as it was.
		cut := len(data) / 2
		if err := m.AcceptBytes(data[:cut]); err != nil {
			return
		}
		before := m.CanEnd()
		if err := m.AcceptBytes(data[cut:]); err != nil {
			if m.CanEnd() != before {
				t.Fatalf("a rejected input changed the state")
			}
			return
		}
		if !m.CanEnd() {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted and complete, but not JSON: %q", data)
		}
		if err := schematest.Validate(schematest.Validator(t, c.raw), data); err != nil {
			t.Fatalf("%s: %q does not validate: %v", c.raw, data, err)
		}
	})
}
