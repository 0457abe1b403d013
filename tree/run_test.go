package tree

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/arborlabs/arbor/runtime/engine"
)

// fakeVocab is a tokenizer for the tests: a token is any string, interned on first use.
type fakeVocab struct {
	toks [][]byte
	ids  map[string]int32
}

func newFakeVocab() *fakeVocab { return &fakeVocab{ids: map[string]int32{}} }

func (v *fakeVocab) id(s string) int32 {
	if id, ok := v.ids[s]; ok {
		return id
	}
	id := int32(len(v.toks))
	v.toks = append(v.toks, []byte(s))
	v.ids[s] = id
	return id
}

func (v *fakeVocab) bytes(id int32) []byte { return v.toks[id] }

// encode splits forced text into 3-byte tokens.
func (v *fakeVocab) encode(text string) []int32 {
	var out []int32
	for len(text) > 0 {
		n := min(3, len(text))
		out = append(out, v.id(text[:n]))
		text = text[n:]
	}
	return out
}

// fakeCaller answers each tool with its testTool result, re-indented (the run must write it
// back compact). For the tools named in fail it also returns an error, which the run counts
// (the result stays the document's, so that the decode can be checked against it).
type fakeCaller struct {
	calls []string // name + " " + args
	fail  map[string]bool
}

func (c *fakeCaller) Call(ctx context.Context, name string, args json.RawMessage) (json.RawMessage, error) {
	c.calls = append(c.calls, name+" "+string(args))
	var buf bytes.Buffer
	if err := json.Indent(&buf, []byte(testToolByName(name).result), "", "  "); err != nil {
		return nil, err
	}
	if c.fail[name] {
		return buf.Bytes(), errors.New("tool down")
	}
	return buf.Bytes(), nil
}

// driven is what a simulated decode produced.
type driven struct {
	out    string   // the whole output
	tokens []string // each output token's text
	forced []string // each call's forced text
	drops  []engine.Span
}

// drive plays the engine: the model's tokens are doc's bytes in chunks of the given sizes
// (cycled), never past the start of a tool result's value (the model stops there: the run
// pauses the sequence at the call); each call's tokens are appended as forced tokens and must
// reproduce the document's result.
func drive(t *testing.T, doc string, r *Run, v *fakeVocab, sizes ...int) driven {
	t.Helper()
	var results []int // starts of tool_result values
	for _, e := range feedAll(t, doc, len(doc)) {
		if e.Kind == ToolResult {
			results = append(results, e.Begin)
		}
	}
	var d driven
	appendTok := func(id int32) engine.Directive {
		d.tokens = append(d.tokens, string(v.bytes(id)))
		d.out += string(v.bytes(id))
		dir := r.Appended(len(d.tokens)-1, id)
		d.drops = append(d.drops, dir.Drop...)
		return dir
	}
	for p, k := 0, 0; p < len(doc); k++ {
		n := min(sizes[k%len(sizes)], len(doc)-p)
		for _, rs := range results {
			if rs > p && p+n > rs {
				n = rs - p
			}
		}
		dir := appendTok(v.id(doc[p : p+n]))
		p += n
		if dir.Call == nil {
			continue
		}
		toks, err := dir.Call(context.Background())
		if err != nil {
			t.Fatalf("call: %v", err)
		}
		var forced strings.Builder
		for _, id := range toks {
			forced.Write(v.bytes(id))
			if appendTok(id).Call != nil {
				t.Fatal("a forced token triggered a call")
			}
		}
		f := forced.String()
		d.forced = append(d.forced, f)
		if !strings.HasPrefix(doc[p:], f) {
			t.Fatalf("forced %q does not continue the document at %d: %q", f, p, doc[p:min(len(doc), p+len(f)+10)])
		}
		p += len(f)
	}
	if r.Err() != nil {
		t.Fatalf("run error: %v", r.Err())
	}
	if d.out != doc {
		t.Fatal("output differs from the document")
	}
	return d
}

// tokenSpans are the output tokens lying entirely inside each byte span: the brute-force
// version of Run.tokensInside.
func tokenSpans(tokens []string, spans []engine.Span) []engine.Span {
	var out []engine.Span
	for _, s := range spans {
		first, last, off := -1, -1, 0
		for j, tok := range tokens {
			if off >= s.Begin && off+len(tok) <= s.End {
				if first < 0 {
					first = j
				}
				last = j + 1
			}
			off += len(tok)
		}
		if first >= 0 {
			out = append(out, engine.Span{Begin: first, End: last})
		}
	}
	return out
}

// A hand-made tree whose drops are worked out by hand:
//
//	T1 [A [X], B []]   T2 [C]   T3 [D]
//
// lists close in the order X, B (empty), T1's, T2's, T3's; T1's contains X's.
func TestRunPruningByHand(t *testing.T) {
	leaf := func(s string) string { return `{"thought":"` + s + `","tooluse":null,"conclusion":"c"}` }
	mid := func(s, sub string) string {
		return `{"thought":"` + s + `","tooluse":null,"subtasks":` + sub + `,"conclusion":"c"}`
	}
	x := leaf("x")
	a, b := mid("a", "["+x+"]"), mid("b", "[]")
	c, dd := mid("c", "null"), mid("d", "null")
	l1 := a + "," + b
	doc := `{"reasoning":[` + mid("t1", "["+l1+"]") + "," + mid("t2", "["+c+"]") + "," +
		mid("t3", "["+dd+"]") + `],"answer":"z"}`
	span := func(s string) engine.Span {
		i := strings.Index(doc, s)
		return engine.Span{Begin: i, End: i + len(s)}
	}
	LX, L1, L2, L3 := span(x), span(l1), span(c), span(dd)
	schema, err := Schema(SchemaOptions{})
	if err != nil {
		t.Fatal(err)
	}
	accepts(t, schema, doc)

	cases := []struct {
		buffer int
		drops  []engine.Span // bytes
	}{
		// Each list takes a place on the stack, X's too, and the oldest goes first.
		{0, []engine.Span{LX, L1, L2, L3}},
		{1, []engine.Span{LX, L1, L2}},
		{2, []engine.Span{LX, L1}},
		{3, []engine.Span{LX}},
	}
	for _, sizes := range [][]int{{1}, {3}, {2, 5, 1, 4}} {
		for _, cs := range cases {
			t.Run(fmt.Sprintf("sizes=%v/buffer=%d", sizes, cs.buffer), func(t *testing.T) {
				v := newFakeVocab()
				r := NewRun(RunOptions{Buffer: cs.buffer, TokenBytes: v.bytes, Encode: v.encode})
				d := drive(t, doc, r, v, sizes...)
				want := tokenSpans(d.tokens, cs.drops)
				if !reflect.DeepEqual(d.drops, want) {
					t.Fatalf("drops %v, want %v", d.drops, want)
				}
				// Each token once: T1's list holds X's, dropped before it.
				pruned := 0
				for _, s := range want {
					pruned += s.Len()
				}
				if len(cs.drops) > 1 {
					pruned -= tokenSpans(d.tokens, []engine.Span{LX})[0].Len()
				}
				st := r.Stats()
				if st.PrunedTokens != pruned || st.ListsPruned != len(want) || st.ListsClosed != 5 || st.Tasks != 8 {
					t.Errorf("stats %+v, want %d pruned tokens in %d lists", st, pruned, len(want))
				}
			})
		}
	}
}

// A generated tree with tools, at buffers 0, 1, 2 and without pruning: the calls, the forced
// text, the drops, and the output's validity.
func TestRunGenerated(t *testing.T) {
	const depth = 4
	doc, st := genDoc(depth, testTools, 3)
	schema, err := Schema(SchemaOptions{MaxDepth: depth, Tools: specs(testTools)})
	if err != nil {
		t.Fatal(err)
	}
	var lists []engine.Span // every subtasks list's inside, in bytes
	var calls []string
	for _, e := range feedAll(t, doc, 1) {
		switch e.Kind {
		case SubtasksClosed:
			lists = append(lists, engine.Span{Begin: e.Begin, End: e.End})
		case ToolCall:
			calls = append(calls, e.Tool+" "+string(e.Params))
		}
	}
	prunedAt := map[int]int{}
	for _, buffer := range []int{0, 1, 2, -1} {
		t.Run(fmt.Sprintf("buffer=%d", buffer), func(t *testing.T) {
			v := newFakeVocab()
			caller := &fakeCaller{fail: map[string]bool{"calc": true}}
			r := NewRun(RunOptions{Buffer: buffer, NoPrune: buffer < 0, TokenBytes: v.bytes, Encode: v.encode,
				Tools: caller})
			d := drive(t, doc, r, v, 1, 4, 2, 7, 3, 5)
			accepts(t, schema, d.out)

			if !reflect.DeepEqual(caller.calls, calls) {
				t.Errorf("calls %q\nwant %q", caller.calls, calls)
			}
			fails := strings.Count(strings.Join(calls, "\n"), "calc ")
			s := r.Stats()
			if s.ToolCalls != st.calls || s.ToolErrors != fails || s.Tasks != st.tasks || s.ListsClosed != st.lists {
				t.Errorf("stats %+v; want %d calls, %d errors, %d tasks, %d lists", s, st.calls, fails,
					st.tasks, st.lists)
			}
			forcedToks := 0
			for i, f := range d.forced {
				name, _, _ := strings.Cut(calls[i], " ")
				result := testToolByName(name).result
				prefix, ok := strings.CutSuffix(f, result)
				if !ok || !strings.HasSuffix(`,"tool_result":`, prefix) {
					t.Errorf("forced text %q is not the rest of the result key and %s", f, result)
				}
				forcedToks += (len(f) + 2) / 3
			}
			if s.ForcedTokens != forcedToks {
				t.Errorf("forced tokens %d, want %d", s.ForcedTokens, forcedToks)
			}

			inside := tokenSpans(d.tokens, lists)
			for _, dr := range d.drops {
				ok := false
				for _, in := range inside {
					ok = ok || (dr.Begin == in.Begin && dr.End == in.End)
				}
				if !ok {
					t.Fatalf("drop %v is not a list's inside (%v)", dr, inside)
				}
			}
			if buffer < 0 {
				if len(d.drops) != 0 || s.PrunedTokens != 0 {
					t.Fatalf("NoPrune dropped %v", d.drops)
				}
				return
			}
			if buffer == 0 {
				// Every token inside any list is dropped, each counted once.
				covered := map[int]bool{}
				for _, in := range inside {
					for j := in.Begin; j < in.End; j++ {
						covered[j] = true
					}
				}
				if s.PrunedTokens != len(covered) || len(covered) == 0 {
					t.Errorf("pruned %d tokens, want %d", s.PrunedTokens, len(covered))
				}
			}
			prunedAt[buffer] = s.PrunedTokens
		})
	}
	if !(prunedAt[0] >= prunedAt[1] && prunedAt[1] >= prunedAt[2] && prunedAt[0] > prunedAt[2]) {
		t.Errorf("pruned tokens by buffer %v: want fewer with a larger buffer", prunedAt)
	}
}

// Tokens that straddle a list's brackets stay.
func TestRunTokensInside(t *testing.T) {
	r := NewRun(RunOptions{TokenBytes: func(int32) []byte { return nil }, Encode: func(string) []int32 { return nil }})
	// Tokens: `"subtasks":[` `{"a` `"}` `]}` — the list's inside is bytes [12, 17).
	for _, tok := range []string{`"subtasks":[`, `{"a`, `"}`, `]}`} {
		r.starts = append(r.starts, r.off)
		r.off += len(tok)
	}
	if got := r.tokensInside(12, 17); got != (engine.Span{Begin: 1, End: 3}) {
		t.Errorf("inside = %v, want {1 3}", got)
	}
	if got := r.tokensInside(13, 17); got != (engine.Span{Begin: 2, End: 3}) {
		t.Errorf("a token straddling '[' kept: %v, want {2 3}", got)
	}
	if got := r.tokensInside(12, 16); got.Len() != 1 || got.Begin != 1 {
		t.Errorf("a token straddling ']' kept: %v, want {1 2}", got)
	}
	if got := r.tokensInside(13, 14); got.Len() != 0 {
		t.Errorf("no token inside: %v", got)
	}
}

// A result that does not fit the grammar's JSON is rewritten; invalid JSON becomes an error
// object; no Caller gives an error object too.
func TestRunResultRewritten(t *testing.T) {
	head := `{"reasoning":[{"thought":"t","tooluse":{"tool_name":"f","parameters":{}`
	for _, c := range []struct {
		tools   Caller
		want    string
		errored bool
	}{
		{callerFunc(func(string, json.RawMessage) (json.RawMessage, error) {
			return json.RawMessage(` {"n": 1e3, "s": "\ud83d\ude00"} `), nil
		}), `,"tool_result":{"n":1000,"s":"😀"}`, false},
		{callerFunc(func(string, json.RawMessage) (json.RawMessage, error) {
			return json.RawMessage(`{"oops"`), nil
		}), `,"tool_result":{"error":"tool \"f\" returned invalid JSON: unexpected EOF"}`, true},
		{nil, `,"tool_result":{"error":"tool \"f\": no tool runner is configured"}`, true},
	} {
		v := newFakeVocab()
		r := NewRun(RunOptions{TokenBytes: v.bytes, Encode: v.encode, Tools: c.tools})
		d := r.Appended(0, v.id(head))
		if d.Call == nil {
			t.Fatal("no call")
		}
		toks, err := d.Call(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var got strings.Builder
		for _, id := range toks {
			got.Write(v.bytes(id))
		}
		if got.String() != c.want {
			t.Errorf("forced %s, want %s", got.String(), c.want)
		}
		if s := r.Stats(); s.ToolCalls != 1 || (s.ToolErrors == 1) != c.errored {
			t.Errorf("stats %+v", s)
		}
	}
}

type callerFunc func(name string, args json.RawMessage) (json.RawMessage, error)

func (f callerFunc) Call(_ context.Context, name string, args json.RawMessage) (json.RawMessage, error) {
	return f(name, args)
}

// A cancelled request's call fails instead of forcing a result.
func TestRunCallCancelled(t *testing.T) {
	v := newFakeVocab()
	r := NewRun(RunOptions{TokenBytes: v.bytes, Encode: v.encode, Tools: &fakeCaller{}})
	d := r.Appended(0, v.id(`{"reasoning":[{"thought":"t","tooluse":{"tool_name":"calc","parameters":{}`))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Call(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("call error %v, want context.Canceled", err)
	}
}

// After output it cannot follow, a run stops directing; so it does when told tokens out of
// order, when the model wrote past `"tool_result":`, or when misconfigured.
func TestRunStops(t *testing.T) {
	v := newFakeVocab()
	opts := RunOptions{TokenBytes: v.bytes, Encode: v.encode, Tools: &fakeCaller{}}

	r := NewRun(opts)
	r.Appended(0, v.id(`{"reasoning":"x"`))
	if r.Err() == nil {
		t.Error("no error for a non-TIM output")
	}
	if d := r.Appended(1, v.id(`[{"thought":"t","tooluse":{"tool_name":"calc","parameters":{}`)); d.Call != nil {
		t.Error("directive after an error")
	}

	r = NewRun(opts)
	r.Appended(1, v.id(`{`))
	if r.Err() == nil {
		t.Error("no error for a token out of order")
	}

	r = NewRun(opts)
	if d := r.Appended(0,
		v.id(`{"reasoning":[{"thought":"t","tooluse":{"tool_name":"calc","parameters":{},`+
			`"tool_result":{`)); d.Call != nil || r.Err() == nil {
		t.Errorf("past the colon: call %v, err %v", d.Call != nil, r.Err())
	}

	// Text after the response is not the tree's business.
	r = NewRun(opts)
	r.Appended(0, v.id(`{"reasoning":[],"answer":""}`))
	r.Appended(1, v.id(`<|im_end|>`))
	if r.Err() != nil {
		t.Errorf("text after the response: %v", r.Err())
	}

	for _, o := range []RunOptions{{Encode: v.encode}, {TokenBytes: v.bytes}} {
		r := NewRun(o)
		if r.Err() == nil {
			t.Errorf("NewRun(%+v): no error", o)
		}
		if d := r.Appended(0, 0); d.Call != nil || d.Drop != nil {
			t.Error("directive from a misconfigured run")
		}
	}
}
