// Package corpus turns the generated arithmetic word problems of evals/arith into training
// examples for Arbor's demo model: texts in the model's chat template, with spans saying which
// bytes carry loss (the model's own tokens) and which do not (the prompt, and the tool results
// Arbor forces or the client sends back).
//
// The forms, all from the same problems:
//
//   - Tree: the TIM task tree that Arbor's tree mode makes the model write. The prompt is the
//     chat template rendered as the server renders a tree request (server/tree.go): the
//     operator's calculator declared as a tool, enable_thinking false, the generation prompt.
//     The response is compact JSON, the only layout runtime/grammar writes and accepts: each
//     step a task {"thought","tooluse","subtasks","conclusion"} whose thought names the
//     expression and whose one subtask calls the calculator (its conclusion the bare result),
//     the step's conclusion a sentence restating the result; then "answer". Once a step has
//     concluded, its subtask's working is what pruning drops: TreeViews gives the texts a
//     model trains on to go on decoding with it gone. The tool results are produced by tree.Run
//     itself (the runtime's hook) over a byte-level tokenizer, calling the calculator through a
//     tools.Set as the server does: `,"tool_result":` and the result are exactly the forced
//     text, and carry no loss. The example ends with the template's end-of-turn marker.
//   - ToolCalls: OpenAI-style tool calls, as in the eval harness's tool loop. Each assistant
//     turn is one <tool_call> (Qwen/Hermes syntax), the client runs the calculator (its JSON
//     result, as tools.Tool.Call writes it) and sends it back as a tool message; the last turn
//     says "The answer is X.". The text is built turn by turn from the template's own renders
//     of the conversation so far (with the generation prompt), so every prompt is exactly what
//     the server renders at inference; a template that re-renders earlier turns differently
//     (Qwen3 with enable_thinking false does) is an error.
//   - Direct: the answer in one short sentence, no tools.
//   - Chitchat: a greeting or a question about the model, answered with one sentence saying
//     what it can do; TreeChitchat the same in tree mode (a task tree of one task without a
//     tool, whose answer is the sentence).
//
// Mix draws a corpus of these in given proportions.
package corpus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/arborlabs/arbor/evals/arith"
	"github.com/arborlabs/arbor/runtime/chat"
	"github.com/arborlabs/arbor/runtime/engine"
	"github.com/arborlabs/arbor/tools"
	"github.com/arborlabs/arbor/tools/calc"
	"github.com/arborlabs/arbor/tree"
)

// Span is a byte range [Start, End) of an example's text; Loss says whether the model is
// trained on it. An example's spans cover its text exactly, in order, with no two adjacent
// spans of the same Loss.
type Span struct {
	Start, End int
	Loss       bool
}

// Example is one training text.
type Example struct {
	// ID is the problem's ID and the form ("arith-train-3-17/tree"), or "chitchat-<seed>".
	ID    string
	Text  string
	Spans []Span
	// Drop are byte spans of Text whose tokens the model does not see: the tokens lying
	// entirely inside one leave the example, as pruning takes them out of the KV cache (a
	// token holding an edge stays). Sorted, disjoint (engine.AddSpan keeps them so).
	Drop []engine.Span
	// LossFrom and LossTo, when LossTo > 0, keep the loss to the tokens starting in
	// [LossFrom, LossTo); the tokens starting at LossTo or later leave the example (a view of
	// a pruned tree, see TreeViews).
	LossFrom, LossTo int
}

// Format is the chat template the model ships with and how its prompts are rendered.
type Format struct {
	Template *chat.Template
	// System is a system message to put first ("": none).
	System string
	// EnableThinking is passed to the template in the tool-call, direct and chitchat forms
	// (nil: left undefined, as a client that does not send it). Tree mode always renders with
	// false unless ThinkingInTree is set, as the server does for a request that does not say.
	EnableThinking *bool
	ThinkingInTree *bool
	// BOS and EOS are the tokenizer's bos_token and eos_token ("" leaves them undefined).
	BOS, EOS string
	// EndOfTurn ends each of the model's turns ("": "<|im_end|>", ChatML's).
	EndOfTurn string
}

func (f Format) eot() string {
	if f.EndOfTurn == "" {
		return "<|im_end|>"
	}
	return f.EndOfTurn
}

// builder accumulates text and spans.
type builder struct {
	b     strings.Builder
	spans []Span
}

func (b *builder) add(s string, loss bool) {
	if s == "" {
		return
	}
	start := b.b.Len()
	b.b.WriteString(s)
	if n := len(b.spans); n > 0 && b.spans[n-1].Loss == loss {
		b.spans[n-1].End = b.b.Len()
		return
	}
	b.spans = append(b.spans, Span{start, b.b.Len(), loss})
}

func (b *builder) example(id string) Example {
	return Example{ID: id, Text: b.b.String(), Spans: b.spans}
}

// calculator is the built-in calculator and a set holding it (tools are called through the set,
// as the server and the harness call them).
var (
	calculator = calc.New()
	calcSet    = func() *tools.Set {
		s, err := tools.NewSet(calculator)
		if err != nil {
			panic(err)
		}
		return s
	}()
)

// calcTool is the calculator as a chat template sees it (as server/tree.go declares the
// operator's tools).
func calcTool() chat.Tool {
	return chat.Tool{Type: "function", Function: chat.FunctionDef{Name: calculator.Name(),
		Description: calculator.Description(), Parameters: calculator.Parameters()}}
}

func (f Format) messages(question string) []chat.Message {
	var ms []chat.Message
	if f.System != "" {
		ms = append(ms, chat.Message{Role: "system", Content: f.System})
	}
	return append(ms, chat.Message{Role: "user", Content: question})
}

func (f Format) render(ms []chat.Message, withTools bool, thinking *bool) (string, error) {
	if f.Template == nil {
		return "", errors.New("corpus: no chat template")
	}
	in := chat.Input{Messages: ms, AddGenerationPrompt: true, BOSToken: f.BOS, EOSToken: f.EOS, EnableThinking: thinking}
	if withTools {
		in.Tools = []chat.Tool{calcTool()}
	}
	return f.Template.Render(in)
}

// marshal writes compact JSON without HTML escapes (the grammar's canonical form for the
// strings used here).
func marshal(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

var thoughts = []string{"Compute %s.", "Work out %s.", "Calculate %s.", "Next, compute %s.", "Use the calculator for %s."}

// thought is a task's thought for step i.
func thought(w arith.Worked, i int) string {
	r := rand.New(rand.NewPCG(uint64(len(w.Problem.Question)), uint64(i)))
	return fmt.Sprintf(thoughts[r.IntN(len(thoughts))], w.Steps[i].Expr)
}

// calcThought is the thought of a step's one subtask, the calculator call: short, as the
// step's own thought says what is computed.
const calcThought = "Calculate."

// Tree returns w as a TIM task tree in format f (see the package doc): the example of a
// request decoded without pruning.
func Tree(w arith.Worked, f Format) (Example, error) {
	views, err := TreeViews(w, f, -1)
	if err != nil {
		return Example{}, err
	}
	return views[0], nil
}

// TreeViews returns w as a TIM task tree in format f as a request with pruning buffer buffer
// sees it (negative: no pruning; one example, Tree's). Each step is a task whose one subtask
// calls the calculator; the step's conclusion restates the result, and from then on the
// subtask's inside may leave the KV cache (with buffer 0 it leaves before the conclusion can
// read it, which is why 0 is not a buffer to train on: it is refused).
//
// Pruning changes what the model attends to mid-answer, so the answer is cut into views: view
// k is the whole text with the lists dropped by the k-th drop marked in Drop (their tokens
// leave, as the runtime leaves them under the reencode policy, which gives the kept tokens the
// keys and values of a text without them) and loss only on the model's bytes written between
// the k-th and the next drop (LossFrom, LossTo). Every byte the model writes is trained once,
// each in the context it is written in.
func TreeViews(w arith.Worked, f Format, buffer int) ([]Example, error) {
	if buffer == 0 {
		return nil, errors.New("corpus: a tree under pruning buffer 0 drops each result before its conclusion: not a view to train on")
	}
	think := f.ThinkingInTree
	if think == nil {
		off := false
		think = &off
	}
	prompt, err := f.render(f.messages(w.Problem.Question), true, think)
	if err != nil {
		return nil, fmt.Errorf("corpus: %s: prompt: %w", w.Problem.ID, err)
	}
	var b builder
	b.add(prompt, false)

	// The runtime's hook over a byte-level tokenizer: token i is byte i, so its drops are
	// byte spans of the output.
	run := tree.NewRun(tree.RunOptions{
		Buffer:     buffer,
		NoPrune:    buffer < 0,
		TokenBytes: func(id int32) []byte { return []byte{byte(id)} },
		Encode: func(s string) []int32 {
			out := make([]int32, len(s))
			for i := range len(s) {
				out[i] = int32(s[i])
			}
			return out
		},
		Tools: tools.JSONCaller{Set: calcSet},
	})
	type drop struct {
		at    int // text offset just past the byte after which the spans leave
		spans []engine.Span
	}
	var drops []drop
	n := 0
	var feed func(s string, loss bool) error
	feed = func(s string, loss bool) error {
		for i := range len(s) {
			b.add(s[i:i+1], loss)
			d := run.Appended(n, int32(s[i]))
			n++
			if err := run.Err(); err != nil {
				return err
			}
			if len(d.Drop) > 0 {
				dr := drop{at: b.b.Len()}
				for _, sp := range d.Drop {
					dr.spans = append(dr.spans, engine.Span{Begin: len(prompt) + sp.Begin, End: len(prompt) + sp.End})
				}
				drops = append(drops, dr)
			}
			if d.Call != nil {
				toks, err := d.Call(context.Background())
				if err != nil {
					return err
				}
				forced := make([]byte, len(toks))
				for j, t := range toks {
					forced[j] = byte(t)
				}
				if err := feed(string(forced), false); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := feed(`{"reasoning":[`, true); err != nil {
		return nil, err
	}
	for i, s := range w.Steps {
		head := ""
		if i > 0 {
			head = ","
		}
		head += `{"thought":` + marshal(thought(w, i)) + `,"tooluse":null,"subtasks":[{"thought":` +
			marshal(calcThought) + `,"tooluse":{"tool_name":"calculator","parameters":` +
			marshal(map[string]string{"expression": s.Expr})
		if err := feed(head, true); err != nil {
			return nil, fmt.Errorf("corpus: %s: %w", w.Problem.ID, err)
		}
		if err := feed(`},"subtasks":null,"conclusion":`+marshal(s.Result)+
			`}],"conclusion":`+marshal(s.Says)+`}`, true); err != nil {
			return nil, fmt.Errorf("corpus: %s: %w", w.Problem.ID, err)
		}
	}
	if err := feed(`],"answer":`+marshal(w.Problem.Answer)+`}`, true); err != nil {
		return nil, fmt.Errorf("corpus: %s: %w", w.Problem.ID, err)
	}
	if st := run.Stats(); st.ToolCalls != len(w.Steps) || st.ToolErrors != 0 {
		return nil, fmt.Errorf("corpus: %s: %d tool calls (%d failed), want %d", w.Problem.ID, st.ToolCalls, st.ToolErrors, len(w.Steps))
	}
	b.add(f.eot(), true)
	ex := b.example(w.Problem.ID + "/tree")
	if len(drops) == 0 {
		return []Example{ex}, nil
	}
	views := make([]Example, 0, len(drops)+1)
	from := 0
	var dropped []engine.Span
	for k := 0; k <= len(drops); k++ {
		to := len(ex.Text)
		if k < len(drops) {
			to = drops[k].at
		}
		v := ex
		v.ID = fmt.Sprintf("%s/tree-b%d-v%d", w.Problem.ID, buffer, k)
		v.Drop = slices.Clone(dropped)
		v.LossFrom, v.LossTo = from, to
		views = append(views, v)
		if k < len(drops) {
			for _, sp := range drops[k].spans {
				dropped = engine.AddSpan(dropped, sp)
			}
		}
		from = to
	}
	return views, nil
}

// extend appends to b what the render of the conversation so far adds to the text (the
// template's markup, the tool results: no loss), checking that the render continues the text.
func extend(b *builder, render string, id string) error {
	have := b.b.String()
	if !strings.HasPrefix(render, have) {
		i := 0
		for i < len(have) && i < len(render) && have[i] == render[i] {
			i++
		}
		return fmt.Errorf("corpus: %s: the template re-renders the conversation differently at byte %d (%q, then %q): "+
			"one text cannot hold every turn's prompt", id, i, have[i:min(len(have), i+40)], render[i:min(len(render), i+40)])
	}
	b.add(render[len(have):], false)
	return nil
}

// ToolCalls returns w as a tool-call conversation in format f (see the package doc).
func ToolCalls(w arith.Worked, f Format) (Example, error) {
	id := w.Problem.ID + "/tools"
	ms := f.messages(w.Problem.Question)
	var b builder
	for i, s := range w.Steps {
		p, err := f.render(ms, true, f.EnableThinking)
		if err != nil {
			return Example{}, fmt.Errorf("corpus: %s: %w", id, err)
		}
		if err := extend(&b, p, id); err != nil {
			return Example{}, err
		}
		args := marshal(map[string]string{"expression": s.Expr})
		// The Qwen/Hermes call syntax, as the template writes a call back (json.dumps's ", "
		// and ": " separators); the next render checks it.
		b.add(`<tool_call>`+"\n"+`{"name": "calculator", "arguments": {"expression": `+marshal(s.Expr)+"}}\n</tool_call>"+f.eot(), true)
		res, err := calculator.Call(context.Background(), json.RawMessage(args))
		if err != nil {
			return Example{}, fmt.Errorf("corpus: %s: calculator: %w", id, err)
		}
		callID := fmt.Sprintf("call_%d", i)
		ms = append(ms,
			chat.Message{Role: "assistant", ToolCalls: []chat.ToolCall{{ID: callID, Type: "function",
				Function: chat.FunctionCall{Name: "calculator", Arguments: args}}}},
			chat.Message{Role: "tool", ToolCallID: callID, Content: string(res)})
	}
	p, err := f.render(ms, true, f.EnableThinking)
	if err != nil {
		return Example{}, fmt.Errorf("corpus: %s: %w", id, err)
	}
	if err := extend(&b, p, id); err != nil {
		return Example{}, err
	}
	b.add("The answer is "+w.Problem.Answer+"."+f.eot(), true)
	return b.example(id), nil
}

// Direct returns w answered at once, in one sentence, without tools.
func Direct(w arith.Worked, f Format) (Example, error) {
	p, err := f.render(f.messages(w.Problem.Question), false, f.EnableThinking)
	if err != nil {
		return Example{}, fmt.Errorf("corpus: %s: %w", w.Problem.ID, err)
	}
	var b builder
	b.add(p, false)
	b.add("The answer is "+w.Problem.Answer+"."+f.eot(), true)
	return b.example(w.Problem.ID + "/direct"), nil
}

var (
	chitchatPrompts = []string{"hello", "Hello!", "hi", "hey there", "who are you?", "Who are you?", "what can you do?",
		"What are you?", "good morning", "thanks!", "Can you help me?", "what is your name?", "how are you?",
		"Tell me about yourself.", "Are you a person?", "yo"}
	chitchatReplies = []string{
		"I'm a small model that solves arithmetic word problems step by step with a calculator; give me one to work out.",
		"Hello! I solve arithmetic word problems, using a calculator for each step. Send me a problem.",
		"I'm a small math helper: ask me an arithmetic word problem and I'll work it out with a calculator.",
		"I can solve multi-step arithmetic word problems, with whole numbers and fractions. What would you like me to work out?",
	}
)

// Chitchat returns a message that is not a math problem, answered with one sentence saying what
// the model can do (no tools, format f).
func Chitchat(seed uint64, f Format) (Example, error) {
	r := rand.New(rand.NewPCG(seed, 0xc4a7))
	p, err := f.render(f.messages(chitchatPrompts[r.IntN(len(chitchatPrompts))]), false, f.EnableThinking)
	if err != nil {
		return Example{}, fmt.Errorf("corpus: chitchat: %w", err)
	}
	var b builder
	b.add(p, false)
	b.add(chitchatReplies[r.IntN(len(chitchatReplies))]+f.eot(), true)
	return b.example(fmt.Sprintf("chitchat-%d", seed)), nil
}

// chitchatThoughts are a chitchat tree's one task: it needs no tool, and the conclusion says
// why.
var chitchatThoughts = []string{"This is not an arithmetic problem.", "There is nothing to compute here.",
	"The message asks no arithmetic question."}

// TreeChitchat is Chitchat in tree mode, the demo's default: the prompt declares the calculator
// as a tree request's does, and the answer is a task tree of one task without a tool whose
// answer is the sentence.
func TreeChitchat(seed uint64, f Format) (Example, error) {
	r := rand.New(rand.NewPCG(seed, 0xc4a7))
	think := f.ThinkingInTree
	if think == nil {
		off := false
		think = &off
	}
	p, err := f.render(f.messages(chitchatPrompts[r.IntN(len(chitchatPrompts))]), true, think)
	if err != nil {
		return Example{}, fmt.Errorf("corpus: chitchat: %w", err)
	}
	reply := chitchatReplies[r.IntN(len(chitchatReplies))]
	var b builder
	b.add(p, false)
	b.add(`{"reasoning":[{"thought":`+marshal(chitchatThoughts[r.IntN(len(chitchatThoughts))])+
		`,"tooluse":null,"subtasks":null,"conclusion":"No calculation is needed."}],"answer":`+marshal(reply)+`}`+f.eot(), true)
	return b.example(fmt.Sprintf("chitchat-%d/tree", seed)), nil
}

// MixOptions say what Mix draws.
type MixOptions struct {
	// Arith are the problems (Count of them); its Check must pass.
	Arith  arith.Options
	Format Format
	// Weights of the forms for each problem (all zero: tree 0.4, tool calls 0.4, direct 0.2).
	Tree, ToolCalls, Direct float64
	// TreeBuffers are the pruning buffers a tree problem's views are drawn from, one per
	// problem (a negative one: no pruning, one example; none: no pruning). 0 is refused (see
	// TreeViews).
	TreeBuffers []int
	// Chitchat is the share of chitchat examples added to the problems' (0.02: one in fifty).
	Chitchat float64
	// Seed draws the forms (and the chitchat).
	Seed uint64
}

// Mix returns one example per problem, of a form drawn by the weights, and chitchat examples
// in between; deterministic in the options.
func Mix(o MixOptions) ([]Example, error) {
	if err := o.Arith.Check(); err != nil {
		return nil, err
	}
	wt, wc, wd := o.Tree, o.ToolCalls, o.Direct
	if wt+wc+wd == 0 {
		wt, wc, wd = 0.4, 0.4, 0.2
	}
	if wt < 0 || wc < 0 || wd < 0 || o.Chitchat < 0 || o.Chitchat >= 1 {
		return nil, errors.New("corpus: negative weight, or chitchat share not below 1")
	}
	r := rand.New(rand.NewPCG(o.Seed, 0x6d6978))
	var out []Example
	for i, w := range arith.GenerateWorked(o.Arith) {
		for r.Float64() < o.Chitchat {
			// In tree form as often as problems are, so that both modes answer it.
			mk := Chitchat
			if r.Float64()*(wt+wc+wd) < wt {
				mk = TreeChitchat
			}
			ex, err := mk(o.Seed<<20^uint64(len(out)), o.Format)
			if err != nil {
				return nil, err
			}
			out = append(out, ex)
		}
		var ex Example
		var err error
		switch x := r.Float64() * (wt + wc + wd); {
		case x < wt:
			buffer := -1
			if len(o.TreeBuffers) > 0 {
				buffer = o.TreeBuffers[r.IntN(len(o.TreeBuffers))]
			}
			var views []Example
			if views, err = TreeViews(w, o.Format, buffer); err != nil {
				return nil, fmt.Errorf("problem %d: %w", i, err)
			}
			out = append(out, views[:len(views)-1]...)
			ex = views[len(views)-1]
		case x < wt+wc:
			ex, err = ToolCalls(w, o.Format)
		default:
			ex, err = Direct(w, o.Format)
		}
		if err != nil {
			return nil, fmt.Errorf("problem %d: %w", i, err)
		}
		out = append(out, ex)
	}
	return out, nil
}
