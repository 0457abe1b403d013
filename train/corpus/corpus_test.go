package corpus

import (
	"context"
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/arborlabs/arbor/evals/arith"
	"github.com/arborlabs/arbor/runtime/chat"
	"github.com/arborlabs/arbor/runtime/grammar"
	"github.com/arborlabs/arbor/tree"
)

func qwen3(t testing.TB) Format {
	t.Helper()
	src, err := os.ReadFile("../../runtime/chat/testdata/qwen3.jinja")
	if err != nil {
		t.Fatal(err)
	}
	tm, err := chat.Compile(string(src))
	if err != nil {
		t.Fatal(err)
	}
	return Format{Template: tm, EOS: "<|im_end|>"}
}

// checkSpans checks that the spans cover the text exactly and alternate.
func checkSpans(t *testing.T, ex Example) {
	t.Helper()
	at := 0
	for i, s := range ex.Spans {
		if s.Start != at || s.End <= s.Start || i > 0 && ex.Spans[i-1].Loss == s.Loss {
			t.Fatalf("%s: span %d %+v after %d", ex.ID, i, s, at)
		}
		at = s.End
	}
	if at != len(ex.Text) {
		t.Fatalf("%s: spans end at %d, text %d", ex.ID, at, len(ex.Text))
	}
}

func pieces(ex Example, loss bool) []string {
	var out []string
	for _, s := range ex.Spans {
		if s.Loss == loss {
			out = append(out, ex.Text[s.Start:s.End])
		}
	}
	return out
}

func calcJSON(t *testing.T, expr string) string {
	t.Helper()
	args, _ := json.Marshal(map[string]string{"expression": expr})
	res, err := calculator.Call(context.Background(), args)
	if err != nil {
		t.Fatal(err)
	}
	return string(res)
}

func byteVocab() *grammar.Vocab {
	bs := make([][]byte, 256)
	for i := range bs {
		bs[i] = []byte{byte(i)}
	}
	return grammar.NewVocab(bs, nil)
}

// treeGrammar is the grammar of the server's tree mode over the calculator.
func treeGrammar(t *testing.T) *grammar.Grammar {
	t.Helper()
	schema, err := tree.Schema(tree.SchemaOptions{MaxDepth: 3, Tools: []tree.ToolSpec{{Name: "calculator", Parameters: calculator.Parameters()}}})
	if err != nil {
		t.Fatal(err)
	}
	g, err := grammar.CompileSchema(schema)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestTree(t *testing.T) {
	f := qwen3(t)
	g := treeGrammar(t)
	vocab := byteVocab()
	off := false
	for _, w := range arith.GenerateWorked(arith.Options{Count: 300, Seed: 4, Split: arith.SplitTrain, MaxSteps: 5}) {
		ex, err := Tree(w, f)
		if err != nil {
			t.Fatal(err)
		}
		checkSpans(t, ex)
		// The prompt is the server's tree-mode render.
		prompt, err := f.Template.Render(chat.Input{Messages: []chat.Message{{Role: "user", Content: w.Problem.Question}},
			Tools: []chat.Tool{calcTool()}, AddGenerationPrompt: true, EOSToken: "<|im_end|>", EnableThinking: &off})
		if err != nil {
			t.Fatal(err)
		}
		no := pieces(ex, false)
		if no[0] != prompt || !strings.HasSuffix(prompt, "<|im_start|>assistant\n<think>\n\n</think>\n\n") {
			t.Fatalf("%s: prompt %q", ex.ID, no[0])
		}
		// The other no-loss pieces are the forced results, exactly the calculator's JSON.
		if len(no) != len(w.Steps)+1 {
			t.Fatalf("%s: %d no-loss pieces, %d steps", ex.ID, len(no), len(w.Steps))
		}
		for i, s := range w.Steps {
			if want := `,"tool_result":` + calcJSON(t, s.Expr); no[i+1] != want {
				t.Errorf("%s: forced %q, want %q", ex.ID, no[i+1], want)
			}
		}
		resp, ok := strings.CutPrefix(ex.Text, prompt)
		resp, ok2 := strings.CutSuffix(resp, "<|im_end|>")
		if !ok || !ok2 {
			t.Fatalf("%s: text %q", ex.ID, ex.Text)
		}
		// The response is what the grammar of the tree schema accepts, whole.
		m := g.NewMatcher(vocab)
		if err := m.AcceptBytes([]byte(resp)); err != nil || !m.Complete() {
			t.Fatalf("%s: the grammar rejects the response (%v, complete %v):\n%s", ex.ID, err, m.Complete(), resp)
		}
		// The tracker sees one tool call per step, the answer, the end.
		tr := tree.NewTracker()
		evs, err := tr.Feed([]byte(resp))
		if err != nil {
			t.Fatal(err)
		}
		var calls, answers, dones int
		for _, e := range evs {
			switch e.Kind {
			case tree.ToolCall:
				want, _ := json.Marshal(map[string]string{"expression": w.Steps[calls].Expr})
				if e.Tool != "calculator" || string(e.Params) != string(want) {
					t.Errorf("%s: call %d: %s %s", ex.ID, calls, e.Tool, e.Params)
				}
				calls++
			case tree.AnswerComplete:
				answers++
			case tree.Done:
				dones++
			}
		}
		if calls != len(w.Steps) || answers != 1 || dones != 1 || !tr.Done() {
			t.Errorf("%s: %d calls, %d answers, %d dones", ex.ID, calls, answers, dones)
		}
		// Each step is a task without a tool whose one subtask calls the calculator.
		type task struct {
			Thought, Conclusion string
			Tooluse             *struct {
				ToolName   string                  `json:"tool_name"`
				Parameters json.RawMessage         `json:"parameters"`
				ToolResult struct{ Result string } `json:"tool_result"`
			}
			Subtasks json.RawMessage
		}
		var v struct {
			Reasoning []task
			Answer    string
		}
		if err := json.Unmarshal([]byte(resp), &v); err != nil {
			t.Fatal(err)
		}
		if v.Answer != w.Problem.Answer || len(v.Reasoning) != len(w.Steps) {
			t.Fatalf("%s: %+v", ex.ID, v)
		}
		for i, step := range v.Reasoning {
			var subs []task
			if err := json.Unmarshal(step.Subtasks, &subs); err != nil || len(subs) != 1 {
				t.Fatalf("%s: task %d's subtasks %s (%v)", ex.ID, i, step.Subtasks, err)
			}
			sub := subs[0]
			if step.Tooluse != nil || step.Conclusion != w.Steps[i].Says || !strings.Contains(step.Thought, w.Steps[i].Expr) ||
				sub.Tooluse == nil || sub.Tooluse.ToolResult.Result != w.Steps[i].Result || sub.Conclusion != w.Steps[i].Result ||
				string(sub.Subtasks) != "null" {
				t.Errorf("%s: task %d %+v, subtask %+v", ex.ID, i, step, sub)
			}
		}
	}
}

func TestToolCalls(t *testing.T) {
	f := qwen3(t)
	for _, w := range arith.GenerateWorked(arith.Options{Count: 200, Seed: 5, Split: arith.SplitTrain, MaxSteps: 5}) {
		ex, err := ToolCalls(w, f)
		if err != nil {
			t.Fatal(err)
		}
		checkSpans(t, ex)
		no, yes := pieces(ex, false), pieces(ex, true)
		if len(yes) != len(w.Steps)+1 || len(no) != len(w.Steps)+1 {
			t.Fatalf("%s: %d loss pieces, %d others, %d steps", ex.ID, len(yes), len(no), len(w.Steps))
		}
		for i, s := range w.Steps {
			want := "<tool_call>\n{\"name\": \"calculator\", \"arguments\": {\"expression\": \"" + s.Expr + "\"}}\n</tool_call><|im_end|>"
			if yes[i] != want {
				t.Errorf("%s: turn %d %q", ex.ID, i, yes[i])
			}
			// The next prompt holds the tool's result, as the template wraps it.
			if wantRes := "\n<tool_response>\n" + calcJSON(t, s.Expr) + "\n</tool_response>"; !strings.Contains(no[i+1], wantRes) {
				t.Errorf("%s: prompt %d %q lacks %q", ex.ID, i+1, no[i+1], wantRes)
			}
			if !strings.HasSuffix(no[i+1], "<|im_start|>assistant\n") {
				t.Errorf("%s: prompt %d ends %q", ex.ID, i+1, no[i+1])
			}
		}
		if want := "The answer is " + w.Problem.Answer + ".<|im_end|>"; yes[len(yes)-1] != want {
			t.Errorf("%s: last turn %q", ex.ID, yes[len(yes)-1])
		}
		if !strings.Contains(no[0], "# Tools") || !strings.Contains(no[0], `"name": "calculator"`) {
			t.Errorf("%s: no tools in the prompt %q", ex.ID, no[0])
		}
	}
	// Qwen3 with thinking off re-renders earlier turns without the empty think block: refused.
	off := false
	f.EnableThinking = &off
	w := arith.GenerateWorked(arith.Options{Count: 1, Seed: 5})[0]
	if _, err := ToolCalls(w, f); err == nil || !strings.Contains(err.Error(), "re-renders") {
		t.Errorf("thinking off: %v", err)
	}
}

func TestDirectAndChitchat(t *testing.T) {
	f := qwen3(t)
	w := arith.GenerateWorked(arith.Options{Count: 1, Seed: 6})[0]
	ex, err := Direct(w, f)
	if err != nil {
		t.Fatal(err)
	}
	checkSpans(t, ex)
	if yes := pieces(ex, true); len(yes) != 1 || yes[0] != "The answer is "+w.Problem.Answer+".<|im_end|>" {
		t.Errorf("direct: %q", yes)
	}
	if strings.Contains(ex.Text, "# Tools") {
		t.Error("direct prompt declares tools")
	}
	seen := map[string]bool{}
	for s := range uint64(50) {
		ex, err := Chitchat(s, f)
		if err != nil {
			t.Fatal(err)
		}
		checkSpans(t, ex)
		if len(ex.Spans) != 2 || !strings.HasSuffix(ex.Text, "<|im_end|>") {
			t.Errorf("chitchat %q", ex.Text)
		}
		seen[ex.Text] = true
	}
	if len(seen) < 20 {
		t.Errorf("only %d distinct chitchat examples", len(seen))
	}
	// In tree mode: the prompt declares the calculator, the answer is a tree the grammar
	// accepts whole, and its answer is one of the sentences.
	g, vocab := treeGrammar(t), byteVocab()
	for s := range uint64(20) {
		ex, err := TreeChitchat(s, f)
		if err != nil {
			t.Fatal(err)
		}
		checkSpans(t, ex)
		no, yes := pieces(ex, false), pieces(ex, true)
		if len(no) != 1 || len(yes) != 1 || !strings.Contains(no[0], `"name": "calculator"`) {
			t.Fatalf("tree chitchat %q", ex.Text)
		}
		resp := strings.TrimSuffix(yes[0], "<|im_end|>")
		m := g.NewMatcher(vocab)
		if err := m.AcceptBytes([]byte(resp)); err != nil || !m.Complete() {
			t.Fatalf("the grammar rejects %s (%v)", resp, err)
		}
		var v struct{ Answer string }
		if err := json.Unmarshal([]byte(resp), &v); err != nil || !slices.Contains(chitchatReplies, v.Answer) {
			t.Fatalf("answer %q (%v)", v.Answer, err)
		}
	}
}

func TestMix(t *testing.T) {
	f := qwen3(t)
	o := MixOptions{Arith: arith.Options{Count: 200, Seed: 1, Split: arith.SplitTrain, MaxSteps: 5}, Format: f, Chitchat: 0.05, Seed: 3}
	a, err := Mix(o)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Mix(o)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("Mix is not deterministic")
	}
	kinds := map[string]int{}
	for _, ex := range a {
		checkSpans(t, ex)
		k := ex.ID[strings.LastIndexByte(ex.ID, '/')+1:]
		if strings.HasPrefix(ex.ID, "chitchat") {
			k = "chitchat"
		}
		kinds[k]++
	}
	t.Logf("kinds: %v", kinds)
	if kinds["tree"] < 50 || kinds["tools"] < 50 || kinds["direct"] < 20 || kinds["chitchat"] < 3 {
		t.Errorf("kinds %v", kinds)
	}
	o.Arith.Seed = arith.HeldoutSeed
	if _, err := Mix(o); err == nil {
		t.Error("train split with an evaluation seed accepted")
	}

	// With pruning buffers drawn, a pruned tree comes as views of one text whose loss windows
	// tile it: each byte the model writes is trained once, and each view drops more.
	o.Arith.Seed, o.TreeBuffers = 1, []int{-1, 1, 2}
	c, err := Mix(o)
	if err != nil {
		t.Fatal(err)
	}
	views := map[string][]Example{}
	for _, ex := range c {
		if i := strings.Index(ex.ID, "/tree-b"); i >= 0 {
			views[ex.ID[:i]] = append(views[ex.ID[:i]], ex)
		}
	}
	if len(views) < 20 {
		t.Fatalf("%d pruned trees", len(views))
	}
	for id, vs := range views {
		if len(vs) < 2 || vs[0].LossFrom != 0 || vs[len(vs)-1].LossTo != len(vs[0].Text) {
			t.Fatalf("%s: %d views, windows from %d to %d", id, len(vs), vs[0].LossFrom, vs[len(vs)-1].LossTo)
		}
		for k := 1; k < len(vs); k++ {
			if vs[k].Text != vs[0].Text || vs[k].LossFrom != vs[k-1].LossTo || len(vs[k].Drop) <= len(vs[k-1].Drop) && k > 1 ||
				len(vs[k].Drop) == 0 {
				t.Fatalf("%s: view %d: window [%d, %d) after [%d, %d), %d drops", id, k, vs[k].LossFrom, vs[k].LossTo,
					vs[k-1].LossFrom, vs[k-1].LossTo, len(vs[k].Drop))
			}
		}
	}
	o.TreeBuffers = []int{0}
	if _, err := Mix(o); err == nil {
		t.Error("buffer 0 accepted")
	}
}

func TestExamples(t *testing.T) {
	f := qwen3(t)
	w := arith.GenerateWorked(arith.Options{Count: 1, Seed: 2, MinSteps: 2, MaxSteps: 2})[0]
	for _, mk := range []func(arith.Worked, Format) (Example, error){Tree, ToolCalls, Direct} {
		ex, err := mk(w, f)
		if err != nil {
			t.Fatal(err)
		}
		var sb strings.Builder
		for _, s := range ex.Spans {
			if s.Loss {
				sb.WriteString("[[" + ex.Text[s.Start:s.End] + "]]")
			} else {
				sb.WriteString(ex.Text[s.Start:s.End])
			}
		}
		t.Logf("%s (loss in [[ ]]):\n%s", ex.ID, sb.String())
	}
}
