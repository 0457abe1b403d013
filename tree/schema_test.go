package tree

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/arborlabs/arbor/runtime/grammar"
)

// The schema compiles for 0, 1 and 3 tools at depths 1 to 5, and the grammar accepts a document
// that uses every level and every tool (an independent validator agrees).
func TestSchemaCompilesAndAccepts(t *testing.T) {
	for _, nt := range []int{0, 1, 3} {
		for depth := 1; depth <= 5; depth++ {
			t.Run(fmt.Sprintf("tools=%d/depth=%d", nt, depth), func(t *testing.T) {
				tools := testTools[:nt]
				schema, err := Schema(SchemaOptions{MaxDepth: depth, Tools: specs(tools)})
				if err != nil {
					t.Fatal(err)
				}
				if !json.Valid(schema) {
					t.Fatalf("not JSON: %s", schema)
				}
				if !IsTIM(schema) {
					t.Error("IsTIM(Schema(...)) = false")
				}
				doc, st := genDoc(depth, tools, 2)
				if st.maxDepth != depth {
					t.Fatalf("generator reached depth %d, want %d", st.maxDepth, depth)
				}
				if nt > 0 && st.calls == 0 {
					t.Fatal("generator made no tool call")
				}
				accepts(t, schema, doc)
			})
		}
	}
}

// What the schema must refuse: a level too deep, a missing field, a tool use without tools, an
// unknown tool, parameters against the tool's schema, a field out of order.
func TestSchemaRejects(t *testing.T) {
	leaf := `{"thought":"t","tooluse":null,"conclusion":"c"}`
	mid := func(sub string) string {
		return `{"thought":"t","tooluse":null,"subtasks":` + sub + `,"conclusion":"c"}`
	}
	resp := func(tasks ...string) string {
		return `{"reasoning":[` + strings.Join(tasks, ",") + `],"answer":"a"}`
	}
	call := func(name, params string) string {
		return `{"thought":"t","tooluse":{"tool_name":"` + name + `","parameters":` + params +
			`,"tool_result":{}},"conclusion":"c"}`
	}
	cases := []struct {
		name  string
		depth int
		tools []testTool
		doc   string
		ok    bool
	}{
		{"depth 2 ok", 2, nil, resp(mid("[" + leaf + "]")), true},
		{"leaf level has no subtasks", 2, nil, resp(mid("[" + mid("null") + "]")), false},
		{"depth 1 has no subtasks", 1, nil, resp(mid("null")), false},
		{"subtasks required above the leaf", 2, nil, resp(leaf), false},
		{"no tools: tooluse null", 1, nil, resp(call("search", `{"query":"x"}`)), false},
		{"known tool", 1, testTools, resp(call("search", `{"query":"x"}`)), true},
		{"unknown tool", 1, testTools, resp(call("grep", `{"query":"x"}`)), false},
		{"parameters checked", 1, testTools, resp(call("calc", `{"query":"x"}`)), false},
		{"field order", 1, nil, resp(`{"tooluse":null,"thought":"t","conclusion":"c"}`), false},
		{"no extra field", 1, nil, resp(`{"thought":"t","tooluse":null,"conclusion":"c","title":"x"}`), false},
		{"answer required", 1, nil, `{"reasoning":[]}`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			schema, err := Schema(SchemaOptions{MaxDepth: c.depth, Tools: specs(c.tools)})
			if err != nil {
				t.Fatal(err)
			}
			g, err := grammar.CompileSchema(schema)
			if err != nil {
				t.Fatal(err)
			}
			m := g.NewMatcher(grammar.NewVocab(nil, nil))
			ok := m.AcceptBytes([]byte(c.doc)) == nil && m.Complete()
			if ok != c.ok {
				t.Errorf("accepted = %v, want %v: %s", ok, c.ok, c.doc)
			}
		})
	}
}

// MaxTextChars bounds every free-text field, at every level, in characters (not bytes); tool
// parameters and results are left alone.
func TestSchemaMaxTextChars(t *testing.T) {
	schema, err := Schema(SchemaOptions{MaxDepth: 2, MaxTextChars: 5, Tools: specs(testTools)})
	if err != nil {
		t.Fatal(err)
	}
	g, err := grammar.CompileSchema(schema)
	if err != nil {
		t.Fatal(err)
	}
	doc := func(thought, subConclusion, answer string) string {
		return `{"reasoning":[{"thought":"` + thought + `","tooluse":{"tool_name":"search","parameters":` +
			`{"query":"a query longer than five"},"tool_result":"a result longer than five"},"subtasks":[` +
			`{"thought":"t","tooluse":null,"conclusion":"` + subConclusion + `"}],"conclusion":"c"}],"answer":"` +
			answer + `"}`
	}
	cases := []struct {
		doc string
		ok  bool
	}{
		{doc("abcde", "abcde", "abcde"), true},
		{doc("héllö", "", "12345"), true}, // five characters, seven bytes
		{doc("abcdef", "abcde", "abcde"), false},
		{doc("abcde", "abcdef", "abcde"), false},
		{doc("abcde", "abcde", "abcdef"), false},
	}
	for _, c := range cases {
		m := g.NewMatcher(grammar.NewVocab(nil, nil))
		ok := m.AcceptBytes([]byte(c.doc)) == nil && m.Complete()
		if ok != c.ok {
			t.Errorf("accepted = %v, want %v: %s", ok, c.ok, c.doc)
		}
	}
	if _, err := Schema(SchemaOptions{MaxTextChars: MaxTextChars + 1}); err == nil {
		t.Error("MaxTextChars above the bound accepted")
	}
	if _, err := Schema(SchemaOptions{MaxTextChars: -1}); err == nil {
		t.Error("negative MaxTextChars accepted")
	}
	// The largest bound compiles at depth 8, the deepest tree a server request may ask for.
	big, err := Schema(SchemaOptions{MaxDepth: 8, MaxTextChars: MaxTextChars, Tools: specs(testTools)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := grammar.CompileSchema(big); err != nil {
		t.Errorf("depth 8, %d characters: %v", MaxTextChars, err)
	}
}

func TestSchemaDefaultsAndErrors(t *testing.T) {
	def, err := Schema(SchemaOptions{})
	if err != nil {
		t.Fatal(err)
	}
	three, _ := Schema(SchemaOptions{MaxDepth: 3})
	if string(def) != string(three) {
		t.Error("MaxDepth 0 is not depth 3")
	}
	// No subtasks on the deepest level: task_3 has none, task_2 has one.
	var s struct {
		Defs map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(def, &s); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Defs["task_3"].Properties["subtasks"]; ok {
		t.Error("task_3 has subtasks at depth 3")
	}
	if _, ok := s.Defs["task_2"].Properties["subtasks"]; !ok {
		t.Error("task_2 has no subtasks")
	}
	bad := []SchemaOptions{
		{MaxDepth: -1},
		{MaxDepth: maxSchemaDepth + 1},
		{Tools: []ToolSpec{{Name: ""}}},
		{Tools: []ToolSpec{{Name: "a"}, {Name: "a"}}},
		{Tools: []ToolSpec{{Name: "a", Parameters: json.RawMessage(`{"type":`)}}},
	}
	for _, o := range bad {
		if _, err := Schema(o); err == nil {
			t.Errorf("Schema(%+v) succeeded", o)
		}
	}
	// A tool without a parameters schema takes any object.
	schema, err := Schema(SchemaOptions{MaxDepth: 1, Tools: []ToolSpec{{Name: "free"}}})
	if err != nil {
		t.Fatal(err)
	}
	accepts(t, schema,
		`{"reasoning":[{"thought":"t","tooluse":{"tool_name":"free","parameters":{"a":[1,{"b":null}]},`+
			`"tool_result":[]},"conclusion":"c"}],"answer":"a"}`)
}

func TestIsTIM(t *testing.T) {
	cases := []struct {
		schema string
		want   bool
	}{
		{`{"type":"object","properties":{"reasoning":{},"answer":{}}}`, true},
		{`{"properties":{"answer":{"type":"string"},"reasoning":{"type":"array"},"title":{}}}`, true},
		{`{"$ref":"#/$defs/R","$defs":{"R":{"type":"object","properties":{"reasoning":{},"answer":{}}}}}`, true},
		{`{"$ref":"#/definitions/R","definitions":{"R":{"$ref":"#/definitions/S"},` +
			`"S":{"properties":{"reasoning":{},"answer":{}}}}}`, true},
		{`{"type":"object","properties":{"reasoning":{}}}`, false},
		{`{"type":"object","properties":{"answer":{}}}`, false},
		{`{"type":"array","properties":{"reasoning":{},"answer":{}}}`, false},
		{`{"type":"object","required":["reasoning","answer"]}`, false},
		{`{"$ref":"#/$defs/missing"}`, false},
		{`{"$ref":"#"}`, false},
		{`[]`, false},
		{`not json`, false},
	}
	for _, c := range cases {
		if got := IsTIM([]byte(c.schema)); got != c.want {
			t.Errorf("IsTIM(%s) = %v, want %v", c.schema, got, c.want)
		}
	}
}
