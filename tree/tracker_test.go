package tree

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// A small document, its events spelled out.
func TestTrackerEvents(t *testing.T) {
	leaf := `{"thought":"l","tooluse":null,"conclusion":"c"}`
	task := `{"thought":"t","tooluse":{"tool_name":"calc","parameters":{"x":[1,2]},"tool_result":{"v":3}},` +
		`"subtasks":[` + leaf + `],"conclusion":"c"}`
	doc := `{"reasoning":[` + task + `],"answer":"a"}`
	at := func(s string, from int) int { // offset of s in doc, from a start
		i := strings.Index(doc[from:], s)
		if i < 0 {
			t.Fatalf("%q not in doc", s)
		}
		return from + i
	}
	t1 := at(task, 0)
	params := at(`{"x":[1,2]}`, 0)
	result := at(`{"v":3}`, 0)
	list := at(`"subtasks":[`, 0) + len(`"subtasks":[`)
	l1 := at(leaf, 0)
	answer := at(`"a"}`, 0)
	want := []Event{
		{Kind: TaskOpened, Offset: t1 + 1, Depth: 1, Begin: t1},
		{Kind: ToolCall, Offset: params + 11, Depth: 1, Tool: "calc", Params: []byte(`{"x":[1,2]}`),
			Begin: params, End: params + 11},
		{Kind: ToolResult, Offset: result + 7, Depth: 1, Tool: "calc", Begin: result, End: result + 7},
		{Kind: TaskOpened, Offset: l1 + 1, Depth: 2, Begin: l1},
		{Kind: TaskClosed, Offset: l1 + len(leaf), Depth: 2, Begin: l1, End: l1 + len(leaf)},
		{Kind: SubtasksClosed, Offset: list + len(leaf) + 1, Depth: 1, Begin: list, End: list + len(leaf)},
		{Kind: TaskClosed, Offset: t1 + len(task), Depth: 1, Begin: t1, End: t1 + len(task)},
		{Kind: AnswerComplete, Offset: answer + 3, Begin: answer, End: answer + 3},
		{Kind: Done, Offset: len(doc)},
	}
	for _, size := range []int{1, 2, 3, 7, len(doc)} {
		got := feedAll(t, doc, size)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("chunks of %d:\n got %+v\nwant %+v", size, got, want)
		}
	}
}

// Chunking never changes the events, and the events agree with the document: lists' insides
// are bracketed, parameters are the tool's, counts match the generator's.
func TestTrackerGenerated(t *testing.T) {
	doc, st := genDoc(4, testTools, 3)
	ref := feedAll(t, doc, 1)
	if got := count(ref, TaskOpened); got != st.tasks {
		t.Errorf("TaskOpened %d, want %d", got, st.tasks)
	}
	if got := count(ref, TaskClosed); got != st.tasks {
		t.Errorf("TaskClosed %d, want %d", got, st.tasks)
	}
	if got := count(ref, ToolCall); got != st.calls {
		t.Errorf("ToolCall %d, want %d", got, st.calls)
	}
	if got := count(ref, ToolResult); got != st.calls {
		t.Errorf("ToolResult %d, want %d", got, st.calls)
	}
	if got := count(ref, SubtasksClosed); got != st.lists {
		t.Errorf("SubtasksClosed %d, want %d", got, st.lists)
	}
	byParams := map[string]testTool{}
	for _, tt := range testTools {
		byParams[tt.params] = tt
	}
	for _, e := range ref {
		switch e.Kind {
		case SubtasksClosed:
			if doc[e.Begin-1] != '[' || doc[e.End] != ']' || e.Offset != e.End+1 {
				t.Fatalf("list inside [%d,%d) not bracketed: %q", e.Begin, e.End, doc[e.Begin-1:e.End+1])
			}
			if !strings.HasSuffix(doc[:e.Begin], `"subtasks":[`) {
				t.Fatalf("list at %d is not a subtasks list", e.Begin)
			}
		case ToolCall:
			tt, ok := byParams[string(e.Params)]
			if !ok || tt.name != e.Tool || doc[e.Begin:e.End] != string(e.Params) {
				t.Fatalf("ToolCall %q %s does not match the document", e.Tool, e.Params)
			}
		case ToolResult:
			if doc[e.Begin:e.End] != byParams[testToolByName(e.Tool).params].result {
				t.Fatalf("ToolResult span %q", doc[e.Begin:e.End])
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		sizes := make([]int, 8)
		for i := range sizes {
			sizes[i] = 1 + rng.IntN(9)
		}
		if got := feedAll(t, doc, sizes...); !reflect.DeepEqual(got, ref) {
			t.Fatalf("chunks %v change the events", sizes)
		}
	}
}

func testToolByName(name string) testTool {
	for _, tt := range testTools {
		if tt.name == name {
			return tt
		}
	}
	return testTool{}
}

// Whitespace, escaped keys, unknown members (with TIM names inside them), and literals and
// numbers everywhere they may be: parsed, the TIM members still tracked.
func TestTrackerTolerates(t *testing.T) {
	doc := " {\n \"title\" : {\"reasoning\":[{\"subtasks\":[1]}]},\"reasoning\" : [ {\"th\\u006fught\":\"t\", " +
		"\"extra\":[true,false,null,-0.5e+3,0,12.25E-1],\"tooluse\":{\"tool_name\":\"c\\u0061lc\",\"parameters\": " +
		"-12.5e3 ,\"tool_result\":null} , \"subt\\u0061sks\" : [ ] ,\"conclusion\":\"c\"} ] , \"answer\" : \"x\" } \n"
	evs := feedAll(t, doc, 1)
	var kinds []EventKind
	for _, e := range evs {
		kinds = append(kinds, e.Kind)
		if e.Kind == ToolCall && (e.Tool != "calc" || string(e.Params) != "-12.5e3") {
			t.Errorf("ToolCall %q %q", e.Tool, e.Params)
		}
		if e.Kind == SubtasksClosed && doc[e.Begin:e.End] != " " {
			t.Errorf("empty list inside %q", doc[e.Begin:e.End])
		}
	}
	want := []EventKind{TaskOpened, ToolCall, ToolResult, SubtasksClosed, TaskClosed, AnswerComplete, Done}
	if !reflect.DeepEqual(kinds, want) {
		t.Errorf("events %v, want %v", kinds, want)
	}
	if !reflect.DeepEqual(feedAll(t, doc, 4), evs) {
		t.Error("chunking changes the events")
	}
}

// A number as the parameters value ends at the next token, which may come in the next chunk.
func TestTrackerNumberParamsAcrossChunks(t *testing.T) {
	tr := NewTracker()
	pre := `{"reasoning":[{"thought":"t","tooluse":{"tool_name":"n","parameters":12`
	evs, err := tr.Feed([]byte(pre))
	if err != nil || len(evs) != 1 || evs[0].Kind != TaskOpened {
		t.Fatalf("events %v, err %v", evs, err)
	}
	evs, err = tr.Feed([]byte(`5,"`))
	if err != nil || len(evs) != 1 || evs[0].Kind != ToolCall || string(evs[0].Params) != "125" ||
		evs[0].Offset != len(pre)+1 {
		t.Fatalf("events %+v, err %v", evs, err)
	}
	if p, err := tr.ResultPrefix(); err != nil || p != `tool_result":` {
		t.Fatalf("prefix %q, %v", p, err)
	}
}

// ResultPrefix completes `,"tool_result":` from wherever the chunk that closed the parameters
// stopped, and refuses once the output went past the colon or elsewhere.
func TestResultPrefix(t *testing.T) {
	head := `{"reasoning":[{"thought":"t","tooluse":{"tool_name":"s","parameters":{"q":"}"}`
	full := `,"tool_result":`
	for k := 0; k <= len(full); k++ {
		tr := NewTracker()
		evs, err := tr.Feed([]byte(head[:len(head)-1]))
		if err != nil || count(evs, ToolCall) != 0 {
			t.Fatalf("early call or error: %v", err)
		}
		if _, err := tr.ResultPrefix(); err == nil {
			t.Fatal("ResultPrefix before the call succeeded")
		}
		evs, err = tr.Feed([]byte("}" + full[:k]))
		if err != nil || count(evs, ToolCall) != 1 {
			t.Fatalf("k=%d: no call (%v)", k, err)
		}
		p, err := tr.ResultPrefix()
		if err != nil || p != full[k:] {
			t.Fatalf("k=%d: prefix %q (%v), want %q", k, p, err, full[k:])
		}
		// The forced text continues the document; the value then ends the wait.
		if _, err := tr.Feed([]byte(p + `{"r":1}`)); err != nil {
			t.Fatal(err)
		}
		if _, err := tr.ResultPrefix(); err == nil {
			t.Fatal("ResultPrefix after the result succeeded")
		}
	}
	bad := []string{
		`},"tool_result":{`,    // past the colon
		`},"tool_result":"x`,   // past the colon
		`},"tool_resulx`,       // another key
		`},"tool_re\u`,         // an escape in the key
		`},"other":`,           // another key, whole
		`}}`,                   // the tool use closed (the schema would not allow it)
		`} ,  "tool_result" 1`, // not JSON
	}
	for _, s := range bad {
		tr := NewTracker()
		_, _ = tr.Feed([]byte(head[:len(head)-1]))
		_, _ = tr.Feed([]byte(s))
		if p, err := tr.ResultPrefix(); err == nil {
			t.Errorf("after %q: prefix %q, want an error", s, p)
		}
	}
	// Whitespace the grammar would not write is still JSON.
	tr := NewTracker()
	_, _ = tr.Feed([]byte(head + ` , "tool_result" `))
	if p, err := tr.ResultPrefix(); err != nil || p != ":" {
		t.Errorf("prefix %q, %v", p, err)
	}
}

func TestTrackerErrors(t *testing.T) {
	task := func(fields string) string { return `{"reasoning":[{` + fields + `}],"answer":"a"}` }
	cases := map[string]string{
		"not an object":          `["reasoning"]`,
		"reasoning not an array": `{"reasoning":{},"answer":"a"}`,
		"answer not a string":    `{"reasoning":[],"answer":1}`,
		"task not an object":     `{"reasoning":["t"],"answer":"a"}`,
		"thought not a string":   task(`"thought":null`),
		"tooluse a string":       task(`"thought":"t","tooluse":"x"`),
		"subtasks an object":     task(`"thought":"t","tooluse":null,"subtasks":{}`),
		"subtask not an object":  task(`"thought":"t","tooluse":null,"subtasks":[null]`),
		"tool_name not a string": task(`"tooluse":{"tool_name":1}`),
		"parameters first":       task(`"tooluse":{"parameters":{},"tool_name":"x"}`),
		"data after":             `{"reasoning":[],"answer":"a"}{`,
		"bad literal":            `{"reasoning":[],"answer":"a","x":nul}`,
		"bad number":             `{"reasoning":[],"answer":"a","x":01}`,
		"bad exponent":           `{"reasoning":[],"answer":"a","x":1e}`,
		"bad escape":             `{"reasoning":[],"answer":"a\x"}`,
		"bad unicode escape":     `{"reasoning":[],"answer":"a\u12g4"}`,
		"control character":      "{\"reasoning\":[],\"answer\":\"a\n\"}",
		"missing colon":          `{"reasoning" []}`,
		"missing comma":          `{"reasoning":[] "answer":"a"}`,
		"trailing comma":         `{"reasoning":[],}`,
		"array comma":            `{"reasoning":[,]}`,
		"close mismatch":         `{"reasoning":[}`,
		"key not a string":       `{reasoning:[]}`,
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			tr := NewTracker()
			var err error
			for i := 0; i < len(doc) && err == nil; i++ {
				_, err = tr.Feed([]byte{doc[i]})
			}
			if err == nil {
				t.Fatalf("no error for %s", doc)
			}
			if _, again := tr.Feed([]byte(" ")); again != err {
				t.Errorf("error not sticky: %v then %v", err, again)
			}
			if tr.Err() != err {
				t.Errorf("Err() = %v", tr.Err())
			}
		})
	}
}

// The tracker's own parser must not accept what encoding/json refuses (and vice versa) on any
// input: fuzzed bytes fed in two chunks give the same verdict as json.Valid for documents the
// tracker has finished, and never panic.
func FuzzTracker(f *testing.F) {
	doc, _ := genDoc(3, testTools, 2)
	f.Add([]byte(doc), 7)
	f.Add([]byte(`{"reasoning":[],"answer":"\ud83d"}`), 3)
	f.Add([]byte(`{"x":[1.5e-3,true,{"a":null}],"reasoning":[],"answer":""}`), 10)
	f.Fuzz(func(t *testing.T, data []byte, cut int) {
		if cut < 0 || cut > len(data) {
			cut = len(data) / 2
		}
		whole := NewTracker()
		evs, err := whole.Feed(data)
		evs = append([]Event(nil), evs...)
		split := NewTracker()
		e1, err1 := split.Feed(data[:cut])
		e1 = append([]Event(nil), e1...)
		var e2 []Event
		if err1 == nil {
			e2, err1 = split.Feed(data[cut:])
		}
		if (err == nil) != (err1 == nil) {
			t.Fatalf("whole: %v, split: %v", err, err1)
		}
		if err == nil && !reflect.DeepEqual(evs, append(e1, e2...)) && !(len(evs) == 0 && len(e1)+len(e2) == 0) {
			t.Fatalf("split changes the events")
		}
		if err == nil && whole.Done() && !jsonValid(data) {
			t.Fatalf("tracker finished a document encoding/json refuses: %q", data)
		}
	})
}

func jsonValid(b []byte) bool { return json.Valid(b) }
