package tree

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/arborlabs/arbor/internal/schematest"
	"github.com/arborlabs/arbor/runtime/grammar"
)

// testTool is a tool of the tests: its schema, the parameters the generated documents pass,
// and the result they hold (canonical compact JSON, as the runtime would force it). Strings hold
// brackets, escapes, TIM key names and non-ASCII text, to trip a tracker that does not lex them.
type testTool struct {
	name, schema, params, result string
}

var testTools = []testTool{
	{
		name: "search",
		schema: `{"type":"object","properties":{"query":{"type":"string"}},"required":["query"],` +
			`"additionalProperties":false}`,
		params: `{"query":"go \"json\" \\ é [x]"}`,
		result: `{"hits":[{"title":"A]","score":0.5},{"title":"B\n\u0001","score":-1}],"total":2,"note":"😀"}`,
	},
	{
		name: "calc",
		schema: `{"type":"object","properties":{"expr":{"type":"string"},"digits":{"type":"integer",` +
			`"minimum":0,"maximum":20}},"required":["expr","digits"],"additionalProperties":false}`,
		params: `{"expr":"1+2","digits":3}`,
		result: `3.000`,
	},
	{
		// Local references: Schema must rebase them where the parameters schema now sits.
		name: "read",
		schema: `{"type":"object","properties":{"url":{"type":"string"},"opts":{"$ref":"#/$defs/opts"}},` +
			`"required":["url","opts"],"additionalProperties":false,"$defs":{"opts":{"type":"object",` +
			`"properties":{"max":{"type":"integer"},"parameters":{"type":"array","items":{"type":"string"}}},` +
			`"required":["max","parameters"],"additionalProperties":false}}}`,
		params: `{"url":"http://x/[a]","opts":{"max":10,"parameters":["}","]"]}}`,
		result: `"page with ] and [ and {\"parameters\":{},\"tool_result\":1}"`,
	},
}

func specs(tools []testTool) []ToolSpec {
	var out []ToolSpec
	for _, t := range tools {
		out = append(out, ToolSpec{Name: t.name, Parameters: json.RawMessage(t.schema)})
	}
	return out
}

// docStats are the counts a generated document should produce.
type docStats struct {
	tasks, calls, lists, emptyLists int
	maxDepth                        int
}

// genDoc writes a TIM response valid against Schema(maxDepth, tools): fan top-level tasks; the
// first child at each level always has fan subtasks (so the deepest level is reached), the
// others cycle through null, fan subtasks, one subtask and an empty list; every other task calls
// a tool (cycling through the tools).
func genDoc(maxDepth int, tools []testTool, fan int) (string, docStats) {
	var b strings.Builder
	var st docStats
	var task func(d int, first bool)
	task = func(d int, first bool) {
		st.tasks++
		st.maxDepth = max(st.maxDepth, d)
		n := st.tasks
		fmt.Fprintf(&b, `{"thought":%s,"tooluse":`, jstr(fmt.Sprintf("think %d at depth %d: \"q\" [x] {y} ]", n, d)))
		if len(tools) > 0 && n%2 == 1 {
			t := tools[(n/2)%len(tools)]
			st.calls++
			fmt.Fprintf(&b, `{"tool_name":%s,"parameters":%s,"tool_result":%s}`, jstr(t.name), t.params, t.result)
		} else {
			b.WriteString("null")
		}
		if d < maxDepth {
			b.WriteString(`,"subtasks":`)
			kids := []int{0, fan, 1, -1}[n%4]
			if first {
				kids = fan
			}
			switch kids {
			case 0:
				b.WriteString("null")
			case -1:
				b.WriteString("[]")
				st.lists++
				st.emptyLists++
			default:
				b.WriteByte('[')
				for k := range kids {
					if k > 0 {
						b.WriteByte(',')
					}
					task(d+1, k == 0)
				}
				b.WriteByte(']')
				st.lists++
			}
		}
		fmt.Fprintf(&b, `,"conclusion":%s}`, jstr(fmt.Sprintf("done %d", n)))
	}
	b.WriteString(`{"reasoning":[`)
	for k := range fan {
		if k > 0 {
			b.WriteByte(',')
		}
		task(1, k == 0)
	}
	b.WriteString(`],"answer":"42 \"units\""}`)
	return b.String(), st
}

func jstr(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// accepts drives a grammar matcher over doc: it must be accepted whole and complete.
func accepts(t testing.TB, schema []byte, doc string) {
	t.Helper()
	g, err := grammar.CompileSchema(schema)
	if err != nil {
		t.Fatalf("compile: %v\nschema: %s", err, schema)
	}
	m := g.NewMatcher(grammar.NewVocab(nil, nil))
	if err := m.AcceptBytes([]byte(doc)); err != nil {
		t.Fatalf("grammar rejects the document: %v\ndoc: %s", err, doc)
	}
	if !m.Complete() {
		t.Fatalf("grammar: document incomplete: %s", doc)
	}
	if err := schematest.Validate(schematest.Validator(t, schema), []byte(doc)); err != nil {
		t.Fatalf("does not validate: %v", err)
	}
}

// feedAll feeds doc to a new tracker in chunks of the given sizes (cycled), and returns every
// event (copied, since Feed reuses its slice).
func feedAll(t testing.TB, doc string, sizes ...int) []Event {
	t.Helper()
	tr := NewTracker()
	var all []Event
	for p, k := 0, 0; p < len(doc); k++ {
		n := min(sizes[k%len(sizes)], len(doc)-p)
		evs, err := tr.Feed([]byte(doc[p : p+n]))
		if err != nil {
			t.Fatalf("feed %q at %d: %v", doc[p:p+n], p, err)
		}
		all = append(all, evs...)
		p += n
	}
	if !tr.Done() {
		t.Fatalf("tracker not done after the whole document")
	}
	return all
}

func count(evs []Event, k EventKind) int {
	n := 0
	for _, e := range evs {
		if e.Kind == k {
			n++
		}
	}
	return n
}
