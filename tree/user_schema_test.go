package tree

import (
	"fmt"
	"strings"
	"testing"
)

// A user's own tree schema, written by hand: every task has a title and must call a given
// tool; a search step has exactly two subtasks, [read, summarise] (prefixItems), and a read step
// exactly one check subtask (minItems/maxItems), so two levels of subtasks are forced. It is a
// TIM response for IsTIM, it compiles, and a Run follows it: calls, lists and drops.
func TestUserSchema(t *testing.T) {
	tool := func(name string) string {
		// The read tool's schema has local references: point them where it sits here.
		params, err := rebaseRefs([]byte(testToolByName(name).schema),
			"#/$defs/"+name+"/properties/tooluse/properties/parameters")
		if err != nil {
			t.Fatal(err)
		}
		return `{"type":"object","properties":{"tool_name":{"const":"` + name + `"},"parameters":` +
			string(params) +
			`,"tool_result":{}},"required":["tool_name","parameters","tool_result"],"additionalProperties":false}`
	}
	step := func(toolName, subtasks string) string {
		props := `"title":{"type":"string","maxLength":40},"thought":{"type":"string"},"tooluse":` + tool(toolName)
		req := `"title","thought","tooluse"`
		if subtasks != "" {
			props += `,"subtasks":` + subtasks
			req += `,"subtasks"`
		}
		return `{"type":"object","properties":{` + props + `,"conclusion":{"type":"string"}},"required":[` +
			req + `,"conclusion"],"additionalProperties":false}`
	}
	schema := `{"type":"object","properties":{"reasoning":{"type":"array","items":{"$ref":"#/$defs/search"},` +
		`"minItems":1,"maxItems":3},"answer":{"type":"string"}},` +
		`"required":["reasoning","answer"],"additionalProperties":false,"$defs":{` +
		`"search":` + step("search",
		`{"type":"array","prefixItems":[{"$ref":"#/$defs/read"},{"$ref":"#/$defs/summarise"}],"minItems":2,`+
			`"maxItems":2}`) + `,` +
		`"read":` + step("read", `{"type":"array","items":{"$ref":"#/$defs/check"},"minItems":1,"maxItems":1}`) + `,` +
		`"summarise":` + step("calc", "") + `,` +
		`"check":` + step("calc", "") + `}}`
	if !IsTIM([]byte(schema)) {
		t.Fatal("IsTIM = false")
	}

	task := func(title, toolName, subtasks string) string {
		tt := testToolByName(toolName)
		s := fmt.Sprintf(`{"title":%s,"thought":"t","tooluse":{"tool_name":%q,"parameters":%s,"tool_result":%s}`,
			jstr(title), toolName, tt.params, tt.result)
		if subtasks != "" {
			s += `,"subtasks":[` + subtasks + `]`
		}
		return s + `,"conclusion":"c"}`
	}
	search := func(n int) string {
		read := task(fmt.Sprintf("read %d", n), "read", task(`check "subtasks":[`, "calc", ""))
		return task(fmt.Sprintf("search %d", n), "search", read+","+task("sum", "calc", ""))
	}
	doc := `{"reasoning":[` + search(1) + "," + search(2) + `],"answer":"a"}`
	accepts(t, []byte(schema), doc)

	// Lists: each search's read's [check], then the search's [read, summarise]: 4 in all.
	for _, buffer := range []int{0, 1, 2} {
		v := newFakeVocab()
		r := NewRun(RunOptions{Buffer: buffer, TokenBytes: v.bytes, Encode: v.encode, Tools: &fakeCaller{}})
		d := drive(t, doc, r, v, 2, 3, 5)
		s := r.Stats()
		if s.ToolCalls != 8 || s.Tasks != 8 || s.ListsClosed != 4 {
			t.Errorf("buffer %d: stats %+v, want 8 calls, 8 tasks, 4 lists", buffer, s)
		}
		// Lists close: read 1's, search 1's (holding it), read 2's, search 2's. Buffer 0
		// drops all four as they close; 1 drops each when the next closes (3); 2 drops the
		// first two when the last two close.
		wantLists := map[int]int{0: 4, 1: 3, 2: 2}[buffer]
		if s.ListsPruned != wantLists || len(d.drops) != wantLists {
			t.Errorf("buffer %d: %d lists pruned (%d drops), want %d", buffer, s.ListsPruned, len(d.drops), wantLists)
		}
		for _, dr := range d.drops {
			text := strings.Join(d.tokens[dr.Begin:dr.End], "")
			if !strings.Contains(text, `check`) {
				t.Errorf("dropped %q: not a list holding a check task", text)
			}
		}
	}
}
