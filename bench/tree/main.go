// Command tree measures task-tree decoding: a synthetic TIM task tree (depth 3, a tool call in
// every leaf) replayed through the runtime. The tokens the model would choose are replayed
// (engine.Chooser: every forward pass is real, its logits are ignored) under the real task-tree
// grammar; the tool results are real forced tokens, written by the tree runtime through a
// local tool; pruning is the real thing. It prints:
//
//   - for each position policy and for 1 and N trees decoding together: the KV peak as a share
//     of all tokens written, and the decode throughput against the same run without pruning;
//   - the same tree answered by a client-side agent loop that re-sends the whole context at
//     each tool call, against in-decode calls: total time and tokens through the model, as the
//     number of calls grows.
//
// Run: go run ./bench/tree (defaults: qwen2.5-0.5b shape, q8_0, random weights, all cores).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/arborlabs/arbor/runtime/backend/cpu"
	"github.com/arborlabs/arbor/runtime/engine"
	"github.com/arborlabs/arbor/runtime/grammar"
	"github.com/arborlabs/arbor/runtime/model"
	"github.com/arborlabs/arbor/runtime/model/demo"
	"github.com/arborlabs/arbor/runtime/sample"
	"github.com/arborlabs/arbor/runtime/tokenizer"
	"github.com/arborlabs/arbor/tree"
)

func main() {
	shape := flag.String("shape", "qwen2.5-0.5b", "model shape (random weights), see arbor model shapes")
	dtype := flag.String("dtype", "q8_0", "weight type: f32, f16, bf16 or q8_0")
	threads := flag.Int("threads", 0, "backend threads (0: all cores)")
	fanout := flag.String("fanout", "4,3,3", "tasks per level: top-level tasks, subtasks of each, sub-subtasks "+
		"of each (leaves call the tool)")
	batches := flag.String("trees", "1,8", "numbers of trees decoding together")
	policies := flag.String("policies", "reencode,shift,gap", "position policies to measure")
	buffer := flag.Int("buffer", 2, "pruning buffer")
	loop := flag.String("loop-calls", "1,5,10,20,30",
		"tool-call counts for the agent-loop comparison, each a tree of fan-out 1,1,calls (empty: skip it)")
	skipTable := flag.Bool("skip-table", false, "skip the pruning table")
	flag.Parse()
	if err := run(*shape, *dtype, *threads, *fanout, *batches, *policies, *buffer, *loop, *skipTable); err != nil {
		fmt.Fprintln(os.Stderr, "bench/tree:", err)
		os.Exit(1)
	}
}

// ints parses "1,2,3".
func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%q is not a count", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// toolParams is the search tool's parameters schema.
const toolParams = `{"type":"object","properties":{"query":{"type":"string"}},` +
	`"required":["query"],"additionalProperties":false}`

// script is a recorded tree: the text the model writes, cut where a tool result goes, and
// the results.
type script struct {
	pieces  []string          // model text; a tool result follows every piece but the last
	forced  []string          // the text the runtime writes after pieces[i]: `,"tool_result":` and the result
	results map[string]string // query -> the tool's result JSON
}

// synthTree writes a TIM response with the given fan-out per level (depth = len(fanout)) and
// a search call in every task of the deepest level, stopping the calls at maxCalls (-1: no
// limit). Text lengths are those of short real reasoning steps.
func synthTree(fanout []int, maxCalls int) script {
	sc := script{results: map[string]string{}}
	var b strings.Builder
	calls := 0
	var task func(path []int)
	task = func(path []int) {
		depth := len(path)
		name := strings.Trim(strings.ReplaceAll(fmt.Sprint(path), " ", "."), "[]")
		fmt.Fprintf(&b, `{"thought":"Step %s: work out part %d of the question, `+
			`using what the earlier steps found.","tooluse":`, name, path[depth-1]+1)
		if depth == len(fanout) && (maxCalls < 0 || calls < maxCalls) {
			calls++
			q := fmt.Sprintf("figures for item %s", name)
			fmt.Fprintf(&b, `{"tool_name":"search","parameters":{"query":%q}`, q)
			sc.pieces = append(sc.pieces, b.String())
			b.Reset()
			sc.results[q] = fmt.Sprintf(`{"results":[{"title":"Item %s",`+
				`"snippet":"Item %s measures %d units, recorded in %d."}]}`, name, name, 100+7*calls, 1990+calls%30)
			sc.forced = append(sc.forced, `,"tool_result":`+sc.results[q])
			b.WriteString(`}`)
		} else {
			b.WriteString(`null`)
		}
		if depth < len(fanout) {
			b.WriteString(`,"subtasks":[`)
			for i := 0; i < fanout[depth]; i++ {
				if i > 0 {
					b.WriteString(",")
				}
				task(append(path, i))
			}
			b.WriteString(`]`)
		}
		fmt.Fprintf(&b, `,"conclusion":"Part %s is settled: the figure found fits the earlier ones."}`, name)
	}
	b.WriteString(`{"reasoning":[`)
	for i := 0; i < fanout[0]; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		task([]int{i})
	}
	b.WriteString(`],"answer":"The figures add up; the total is in the last conclusion."}`)
	sc.pieces = append(sc.pieces, b.String())
	return sc
}

// lookup is the local search tool: the recorded result of a query.
type lookup map[string]string

func (l lookup) Call(ctx context.Context, name string, args json.RawMessage) (json.RawMessage, error) {
	var p struct {
		Query string `json:"query"`
	}
	if err := json.Unmarshal(args, &p); err != nil {
		return json.RawMessage(`{"error":"bad arguments"}`), err
	}
	r, ok := l[p.Query]
	if !ok {
		return json.RawMessage(`{"error":"unknown query"}`), fmt.Errorf("unknown query %q", p.Query)
	}
	return json.RawMessage(r), nil
}

// replayRun is a tree session whose sampled tokens are replayed from a script.
type replayRun struct {
	*tree.Run
	toks []int32
	next int
}

func (r *replayRun) Choose(int) (int32, bool) {
	if r.next < len(r.toks) {
		r.next++
		return r.toks[r.next-1], true
	}
	return 0, false
}

type bench struct {
	eng    *engine.Engine
	tok    *tokenizer.Tokenizer
	prompt []int32
	g      *grammar.Grammar
	buffer int
}

// sampled tokenizes the model's share of a script: what the replay feeds the engine.
func (b *bench) sampled(sc script) []int32 {
	var out []int32
	for _, p := range sc.pieces {
		out = append(out, b.tok.Encode(p)...)
	}
	return out
}

func (b *bench) request(sc script, toks []int32, prune bool, policy engine.PositionPolicy) (engine.Request,
	*replayRun) {
	run := &replayRun{Run: tree.NewRun(tree.RunOptions{
		Buffer: b.buffer, NoPrune: !prune, TokenBytes: b.tok.TokenBytes, Encode: b.tok.Encode,
		Tools: lookup(sc.results),
	}), toks: toks}
	greedy := sample.DefaultParams()
	greedy.Temperature = 0
	return engine.Request{Prompt: b.prompt, MaxTokens: 1 << 20, Sampling: greedy, Grammar: b.g, Hook: run,
		PositionPolicy: policy}, run
}

type outcome struct {
	wall                 time.Duration
	sampled, written     int // tokens decoded (replayed), tokens written (prompt + output)
	peakShare            float64
	pruned, calls, steps int64
}

// decodeTrees runs n copies of the tree together.
func (b *bench) decodeTrees(sc script, n int, prune bool, policy engine.PositionPolicy) (outcome, error) {
	toks := b.sampled(sc)
	var wg sync.WaitGroup
	results := make([]*engine.Result, n)
	runs := make([]*replayRun, n)
	errs := make([]error, n)
	before := b.eng.Stats()
	start := time.Now()
	for i := 0; i < n; i++ {
		req, run := b.request(sc, toks, prune, policy)
		runs[i] = run
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = b.eng.Generate(context.Background(), req, nil)
		}()
	}
	wg.Wait()
	o := outcome{wall: time.Since(start)}
	for i, r := range results {
		if errs[i] != nil {
			return o, errs[i]
		}
		if err := runs[i].Err(); err != nil {
			return o, fmt.Errorf("tree tracker: %w", err)
		}
		if runs[i].next != len(toks) || r.FinishReason != engine.FinishStop {
			return o, fmt.Errorf("tree %d replayed %d of %d tokens, finish %q", i, runs[i].next, len(toks),
				r.FinishReason)
		}
		o.sampled += runs[i].next
		o.written += r.PromptTokens + r.CompletionTokens
		o.peakShare = max(o.peakShare, float64(r.KVPeakTokens)/float64(r.PromptTokens+r.CompletionTokens))
	}
	after := b.eng.Stats()
	o.pruned = after.PrunedTokens - before.PrunedTokens
	o.calls = after.Calls - before.Calls
	o.steps = after.StepTokens - before.StepTokens
	return o, nil
}

// agentLoop answers the tree the usual way: the model decodes until a call's parameters are
// complete, the client runs the tool and sends the whole conversation again, with the
// result appended, as a new request.
func (b *bench) agentLoop(sc script) (time.Duration, int64, error) {
	greedy := sample.DefaultParams()
	greedy.Temperature = 0
	before := b.eng.Stats()
	start := time.Now()
	ctx := append([]int32(nil), b.prompt...)
	for i, piece := range sc.pieces {
		toks := b.tok.Encode(piece)
		req := engine.Request{Prompt: ctx, MaxTokens: len(toks), Sampling: greedy, Hook: chooseOnly{toks: toks}}
		res, err := b.eng.Generate(context.Background(), req, nil)
		if err != nil {
			return 0, 0, err
		}
		ctx = append(ctx, res.IDs...)
		if i < len(sc.forced) {
			ctx = append(ctx, b.tok.Encode(sc.forced[i])...)
		}
	}
	after := b.eng.Stats()
	return time.Since(start), after.StepTokens - before.StepTokens, nil
}

// dryPeak replays a tree through the tree runtime alone (no model): the tokens the KV cache
// would hold at most, as a share of all tokens written, for a pruning buffer. The engine's own
// figure (the table's KV peak column) is measured on real runs; this one is the same rule
// over more buffers and tree sizes, at no cost.
func (b *bench) dryPeak(sc script, buffer int) (float64, int, error) {
	run := tree.NewRun(tree.RunOptions{Buffer: buffer, TokenBytes: b.tok.TokenBytes, Encode: b.tok.Encode,
		Tools: lookup(sc.results)})
	live, written, peak := len(b.prompt), len(b.prompt), len(b.prompt)
	var pending []int32
	for _, id := range b.sampled(sc) {
		pending = append(pending[:0], id)
		for len(pending) > 0 {
			id := pending[0]
			pending = pending[1:]
			d := run.Appended(written-len(b.prompt), id)
			written++
			live++
			peak = max(peak, live)
			if d.Call != nil {
				forced, err := d.Call(context.Background())
				if err != nil {
					return 0, 0, err
				}
				pending = append(pending, forced...)
			}
		}
		live = written - run.Stats().PrunedTokens
	}
	if err := run.Err(); err != nil {
		return 0, 0, err
	}
	return float64(peak) / float64(written), written, nil
}

// peakTable prints the dry-run KV peak share for buffers 0 to 3 and a few tree sizes.
func (b *bench) peakTable(fanout []int) error {
	shapes := [][]int{fanout, {3, 2, 5}, {6, 3, 3}, {4, 4, 4}}
	fmt.Printf("\nKV peak / tokens written, tree runtime alone (no model):\n%-10s %6s %8s %8s %8s %8s %8s\n",
		"fan-out", "calls", "tokens", "buf 0", "buf 1", "buf 2", "buf 3")
	for _, f := range shapes {
		sc := synthTree(f, -1)
		fmt.Printf("%-10s %6d", strings.Trim(strings.ReplaceAll(fmt.Sprint(f), " ", ","), "[]"), len(sc.pieces)-1)
		for buf := 0; buf <= 3; buf++ {
			share, written, err := b.dryPeak(sc, buf)
			if err != nil {
				return fmt.Errorf("dry run %v: %w", f, err)
			}
			if buf == 0 {
				fmt.Printf(" %8d", written)
			}
			fmt.Printf(" %8.3f", share)
		}
		fmt.Println()
	}
	return nil
}

// chooseOnly replays tokens without any tree logic (the client-side loop's server).
type chooseOnly struct{ toks []int32 }

func (c chooseOnly) Appended(int, int32) engine.Directive { return engine.Directive{} }
func (c chooseOnly) Choose(i int) (int32, bool) {
	if i < len(c.toks) {
		return c.toks[i], true
	}
	return 0, false
}

func run(shape, dtype string, threads int, fanoutS, batchesS, policiesS string, buffer int, loopS string,
	skipTable bool) error {
	fanout, err := ints(fanoutS)
	if err != nil || len(fanout) == 0 {
		return fmt.Errorf("--fanout: %v", err)
	}
	batches, err := ints(batchesS)
	if err != nil {
		return fmt.Errorf("--trees: %w", err)
	}
	loopCalls, err := ints(loopS)
	if err != nil {
		return fmt.Errorf("--loop-calls: %w", err)
	}
	var policies []engine.PositionPolicy
	for _, p := range strings.Split(policiesS, ",") {
		pp, ok := engine.ParsePositionPolicy(strings.TrimSpace(p))
		if !ok {
			return fmt.Errorf("--policies: unknown policy %q", p)
		}
		policies = append(policies, pp)
	}
	dt, err := model.ParseDType(dtype)
	if err != nil {
		return err
	}
	tok, err := demo.Tokenizer()
	if err != nil {
		return err
	}
	cfg, err := model.Shape(shape)
	if err != nil {
		return err
	}
	cfg.VocabSize = max(cfg.VocabSize, tok.VocabSize()) // the small test shapes' vocabularies are tiny
	w, err := model.NewRandom(&cfg, dt, 1)
	if err != nil {
		return fmt.Errorf("random weights: %w", err)
	}
	m := &model.Model{Config: cfg, Weights: *w, Tokenizer: tok}
	maxBatch := 1
	for _, n := range batches {
		maxBatch = max(maxBatch, n)
	}
	sc := synthTree(fanout, -1)
	var full strings.Builder
	for i, p := range sc.pieces {
		full.WriteString(p)
		if i < len(sc.forced) {
			full.WriteString(sc.forced[i])
		}
	}
	treeTokens := len(tok.Encode(full.String()))
	// Room for every tree unpruned, with headroom: the comparison is about speed, not about
	// running out of pages.
	pages := maxBatch*(treeTokens+256)/16 + 64
	be, err := cpu.New(m, cpu.Options{Threads: threads, PageSize: 16, NumPages: pages})
	if err != nil {
		return fmt.Errorf("backend: %w", err)
	}
	defer be.Close()
	eng := engine.New(be, tok, engine.Options{MaxSeqs: max(maxBatch, 8), NoPrefixCache: true})
	defer eng.Shutdown(context.Background())
	schema, err := tree.Schema(tree.SchemaOptions{MaxDepth: len(fanout),
		Tools: []tree.ToolSpec{{Name: "search", Parameters: json.RawMessage(toolParams)}}})
	if err != nil {
		return err
	}
	g, err := grammar.CompileSchema(schema)
	if err != nil {
		return err
	}
	b := &bench{eng: eng, tok: tok, g: g, buffer: buffer,
		prompt: tok.Encode("You answer as a task tree. Tools: search(query). Question: measure every item of " +
			"the inventory and add the figures up.")}
	fmt.Printf("model %s %s (random weights), %d threads; tree: fan-out %v, %d tool calls, %d tokens (%d "+
		"sampled); pruning buffer %d\n",
		shape, dtype, threads, fanout, len(sc.pieces)-1, treeTokens, len(b.sampled(sc)), buffer)

	if err := b.peakTable(fanout); err != nil {
		return err
	}
	if !skipTable {
		fmt.Printf("\n%-6s %-9s %10s %10s %9s %11s %9s\n", "trees", "policy", "tok/s", "no-prune", "speedup",
			"KV peak", "pruned")
		for _, n := range batches {
			base, err := b.decodeTrees(sc, n, false, engine.Reencode)
			if err != nil {
				return fmt.Errorf("%d trees, no pruning: %w", n, err)
			}
			baseRate := float64(base.sampled) / base.wall.Seconds()
			fmt.Printf("%-6d %-9s %10.1f %10.1f %9s %10.3f %9d\n", n, "none", baseRate, baseRate, "1.00x",
				base.peakShare, base.pruned)
			for _, p := range policies {
				o, err := b.decodeTrees(sc, n, true, p)
				if err != nil {
					return fmt.Errorf("%d trees, %s: %w", n, p, err)
				}
				rate := float64(o.sampled) / o.wall.Seconds()
				fmt.Printf("%-6d %-9s %10.1f %10.1f %8.2fx %10.3f %9d\n", n, p, rate, baseRate, rate/baseRate,
					o.peakShare, o.pruned/int64(n))
			}
		}
		fmt.Println("\ntok/s: replayed (decoded) tokens per second over the whole run, tool-result prefill and " +
			"re-encoding included;")
		fmt.Println("KV peak: the most tokens one sequence held at once / all tokens it wrote (prompt + output).")
	}

	if len(loopCalls) > 0 {
		fmt.Printf("\n%-6s %12s %12s %9s %14s %14s\n", "calls", "in-decode s", "agent-loop s", "ratio",
			"in-decode tok", "agent-loop tok")
		for _, k := range loopCalls {
			// A tree that grows with its calls: one task, one subtask, k leaves with a call each.
			sub := synthTree([]int{1, 1, max(k, 1)}, k)
			o, err := b.decodeTrees(sub, 1, false, engine.Reencode)
			if err != nil {
				return fmt.Errorf("%d calls, in-decode: %w", k, err)
			}
			wall, encoded, err := b.agentLoop(sub)
			if err != nil {
				return fmt.Errorf("%d calls, agent loop: %w", k, err)
			}
			fmt.Printf("%-6d %12.1f %12.1f %8.2fx %14d %14d\n", len(sub.pieces)-1, o.wall.Seconds(),
				wall.Seconds(), wall.Seconds()/o.wall.Seconds(), o.steps, encoded)
		}
		fmt.Println("\ntok: tokens through the model's forward passes (prefill and decode); no prefix cache on " +
			"either side.")
	}
	return nil
}
