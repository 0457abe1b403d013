// Package recipe holds the recipes Arbor trains its own models with, end to end: the data,
// the tokenizer, the model's shape, the schedule, checkpoints and the files it writes. Demo is
// the built-in demo model's: a small Qwen3-shaped decoder that solves multi-step arithmetic
// word problems as task trees with an in-decode calculator, or with OpenAI tool calls, or
// directly.
//
// Everything follows from the options and the seed: the same command retrains the same model.
package recipe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gomlx/gomlx/backends"

	"github.com/arborlabs/arbor/evals/arith"
	"github.com/arborlabs/arbor/runtime/chat"
	"github.com/arborlabs/arbor/runtime/model"
	"github.com/arborlabs/arbor/runtime/tokenizer"
	"github.com/arborlabs/arbor/runtime/tokenizer/bpetrain"
	"github.com/arborlabs/arbor/train"
	"github.com/arborlabs/arbor/train/corpus"
	"github.com/arborlabs/arbor/train/dataset"
	"github.com/arborlabs/arbor/train/xlatrain"
)

// Options shape a training run. Zero values take the demo's defaults.
type Options struct {
	// Out receives checkpoint.safetensors, loss.csv, loss.svg, the model directory (Out/model:
	// config.json, model.safetensors, tokenizer.json, tokenizer_config.json) and the same model
	// in the layout the binary embeds (Out/ship, see Ship).
	Out string
	// Problems is how many training problems are generated (64,000); Seed the run's seed (1).
	Problems int
	Seed     uint64
	// Vocab is the tokenizer's size (1,024).
	Vocab int
	// Layers, Hidden, Heads, FFN shape the model (4, 256, 4, 688); head_dim is Hidden/Heads.
	Layers, Hidden, Heads, FFN int
	// SeqLen is a training row's tokens (768: a task-tree example, prompt included, is about
	// 320 on average, 700 at most); Batch the rows a step (8).
	SeqLen, Batch int
	// Epochs over the rows (1: 84 minutes on two cores); Steps, when set, overrides it.
	Epochs float64
	Steps  int
	// LR is the peak learning rate (2e-3), reached after Warmup steps (100), then cosine down
	// to a tenth; ClipNorm bounds the gradient norm (1.0).
	LR       float64
	Warmup   int
	ClipNorm float64
	// CheckpointEvery steps (200) the state is saved; a run finds it and resumes.
	CheckpointEvery int
	// Progress receives a progress line (nil: none).
	Progress io.Writer
	// XLA, when set, runs the training steps through gomlx on this backend (package xlatrain:
	// the xla backend's loss graph, gomlx's autodiff, Adam and cosine schedule; a PJRT plugin
	// for GPUs) instead of the cpu trainer. Checkpoints then hold the weights but not Adam's
	// moments, which restart on resume; the warmup rises from a tenth of LR, not from zero.
	XLA backends.Backend
}

func (o *Options) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.Problems, 64000)
	def(&o.Vocab, 1024)
	def(&o.Layers, 4)
	def(&o.Hidden, 256)
	def(&o.Heads, 4)
	def(&o.FFN, 688)
	def(&o.SeqLen, 768)
	def(&o.Batch, 8)
	def(&o.Warmup, 100)
	def(&o.CheckpointEvery, 200)
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Epochs <= 0 {
		o.Epochs = 1
	}
	if o.LR <= 0 {
		o.LR = 2e-3
	}
	if o.ClipNorm <= 0 {
		o.ClipNorm = 1
	}
}

// Specials are the demo tokenizer's control tokens: ChatML's and Qwen3's tool and thinking
// markup, which its chat template writes.
var Specials = []string{"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>",
	"<tool_response>", "</tool_response>", "<think>", "</think>"}

// JSONKeys are whole tokens in the demo's vocabulary: the task tree's keys and the calculator's
// argument, each with its quotes and colon, as the grammar writes them.
var JSONKeys = []string{`{"reasoning":`, `"thought":`, `"tooluse":`, `"tool_name":`, `"parameters":`,
	`"tool_result":`, `"subtasks":`, `"conclusion":`, `"answer":`, `"expression":`, `"calculator"`}

// Template is the demo's chat template: ChatML turns, tool calls and results in Qwen's
// (Hermes) <tool_call> and <tool_response> syntax, which Arbor's parsers read. Tools are
// declared by name only ("Tools: calculator"): Qwen3's template writes each tool's whole JSON
// schema, about 400 tokens of this vocabulary that a model this small cannot use and that made
// three quarters of every training example. With enable_thinking false (what the server sets
// for a tree request) the generation prompt ends with Qwen3's empty thinking block: it is what
// tells a tree request from a tool-call one, whose prompts are otherwise the same text (a model
// trained without it answered both with a tree).
func Template() string { return demoTemplate }

const demoTemplate = `{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0].role == 'system' %}
        {{- messages[0].content + '\n' }}
    {%- endif %}
    {{- 'Tools:' }}
    {%- for tool in tools %}
        {%- if tool.function %}
            {{- ' ' + tool.function.name }}
        {%- else %}
            {{- ' ' + tool.name }}
        {%- endif %}
    {%- endfor %}
    {{- '<|im_end|>\n' }}
{%- elif messages[0].role == 'system' %}
    {{- '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n' }}
{%- endif %}
{%- for message in messages %}
    {%- if message.role == 'user' or (message.role == 'system' and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' }}
    {%- elif message.role == 'assistant' %}
        {{- '<|im_start|>assistant\n' }}
        {%- if message.content %}
            {{- message.content }}
        {%- endif %}
        {%- if message.tool_calls %}
            {%- for tool_call in message.tool_calls %}
                {%- if (loop.first and message.content) or (not loop.first) %}
                    {{- '\n' }}
                {%- endif %}
                {%- if tool_call.function %}
                    {%- set tool_call = tool_call.function %}
                {%- endif %}
                {{- '<tool_call>\n{"name": "' + tool_call.name + '", "arguments": ' }}
                {%- if tool_call.arguments is string %}
                    {{- tool_call.arguments }}
                {%- else %}
                    {{- tool_call.arguments | tojson }}
                {%- endif %}
                {{- '}\n</tool_call>' }}
            {%- endfor %}
        {%- endif %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == 'tool' %}
        {%- if loop.first or (messages[loop.index0 - 1].role != 'tool') %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' + message.content + '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != 'tool') %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\n\n</think>\n\n' }}
    {%- endif %}
{%- endif %}`

// Corpus generates the training examples of o's problems.
func Corpus(o Options) ([]corpus.Example, error) {
	o.defaults()
	tmpl, err := chat.Compile(Template())
	if err != nil {
		return nil, err
	}
	return corpus.Mix(corpus.MixOptions{
		Arith:  arith.Options{Count: o.Problems, Seed: o.Seed, Split: "train", MinSteps: 2, MaxSteps: 5},
		Format: corpus.Format{Template: tmpl, EOS: "<|im_end|>"},
		// Tree mode is the demo's default and the main figure: half the problems.
		Tree: 0.5, ToolCalls: 0.3, Direct: 0.2, Chitchat: 0.03,
		// A tree problem trains as decoded with no pruning, or with buffer 1 or 2 (the
		// default), a third each: the model learns to go on once a step's working has left
		// its context.
		TreeBuffers: []int{-1, 1, 2},
		Seed:        o.Seed,
	})
}

// Tokenizer trains the demo's tokenizer on the examples and returns its two files.
func Tokenizer(examples []corpus.Example, vocab int) (tokenizerJSON, config []byte, err error) {
	texts := make([]string, 0, len(examples))
	for i, ex := range examples {
		// A pruned tree's views share one text: count it once.
		if i > 0 && ex.Text == examples[i-1].Text {
			continue
		}
		texts = append(texts, ex.Text)
	}
	res, err := bpetrain.Train(slices.Values(texts), bpetrain.Options{VocabSize: vocab, Specials: Specials, Tokens: JSONKeys})
	if err != nil {
		return nil, nil, err
	}
	if tokenizerJSON, err = res.TokenizerJSON(); err != nil {
		return nil, nil, err
	}
	config, err = res.TokenizerConfigJSON(Template(), "", "<|im_end|>")
	return tokenizerJSON, config, err
}

// Config is the demo's model config for a tokenizer of vocab tokens.
func Config(o Options, vocab int, eos []int32) model.Config {
	o.defaults()
	return model.Config{Arch: model.ArchQwen3, VocabSize: vocab, HiddenSize: o.Hidden, NumLayers: o.Layers,
		NumHeads: o.Heads, NumKVHeads: o.Heads, HeadDim: o.Hidden / o.Heads, FFNSize: o.FFN, MaxPositions: 4096,
		RMSNormEps: 1e-6, RopeTheta: 10000, TieEmbeddings: true, QKNorm: true, EOS: eos}
}

// Demo trains the demo model into o.Out, resuming from o.Out/checkpoint.safetensors when it is
// there. It returns when the last step is done (the model directory written) or ctx ends
// (after a checkpoint).
func Demo(ctx context.Context, o Options) error {
	o.defaults()
	if o.Out == "" {
		return errors.New("recipe: no output directory")
	}
	modelDir := filepath.Join(o.Out, "model")
	if err := os.MkdirAll(modelDir, 0o755); err != nil {
		return err
	}
	start := time.Now()
	examples, err := Corpus(o)
	if err != nil {
		return fmt.Errorf("recipe: corpus: %w", err)
	}
	// The tokenizer is trained once; a resumed run reads it back.
	tjPath, tcPath := filepath.Join(modelDir, "tokenizer.json"), filepath.Join(modelDir, "tokenizer_config.json")
	tj, errJ := os.ReadFile(tjPath)
	tc, errC := os.ReadFile(tcPath)
	if errJ != nil || errC != nil {
		if tj, tc, err = Tokenizer(examples, o.Vocab); err != nil {
			return fmt.Errorf("recipe: tokenizer: %w", err)
		}
		if err := errors.Join(os.WriteFile(tjPath, tj, 0o644), os.WriteFile(tcPath, tc, 0o644)); err != nil {
			return err
		}
	}
	tok, err := tokenizer.FromBytes(tj, tc)
	if err != nil {
		return fmt.Errorf("recipe: tokenizer: %w", err)
	}
	var toks []dataset.Tokenized
	for _, ex := range examples {
		t, err := dataset.Tokenize(tok, ex)
		if err != nil {
			return fmt.Errorf("recipe: %s: %w", ex.ID, err)
		}
		toks = append(toks, t)
	}
	sep, ok := tok.ID("<|endoftext|>")
	if !ok {
		return errors.New("recipe: the tokenizer has no <|endoftext|>")
	}
	rows, loss := dataset.Rows(toks, o.SeqLen, sep)
	dataset.Shuffle(rows, loss, o.Seed)
	steps := o.Steps
	if steps <= 0 {
		steps = int(math.Ceil(o.Epochs * float64(len(rows)) / float64(o.Batch)))
	}
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "corpus: %d examples, %d rows of %d tokens, %d steps of %d rows (prepared in %s)\n",
			len(examples), len(rows), o.SeqLen, steps, o.Batch, time.Since(start).Round(time.Millisecond))
	}

	cfg := Config(o, tok.VocabSize(), tok.EOS())
	m, err := train.NewModel(cfg, o.Seed)
	if err != nil {
		return err
	}
	// Each example trains as if alone in its row, as requests arrive: short ones packed after
	// another would otherwise never be seen at the start of a context.
	m.MaskDocuments(sep)
	opt := train.NewAdamW(0.1)
	ckpt := filepath.Join(o.Out, "checkpoint.safetensors")
	first := 0
	if _, err := os.Stat(ckpt); err == nil {
		meta, err := train.LoadCheckpoint(ckpt, m, opt)
		if err != nil {
			return fmt.Errorf("recipe: resuming: %w", err)
		}
		if first, err = strconv.Atoi(meta["step"]); err != nil {
			return fmt.Errorf("recipe: resuming: step: %w", err)
		}
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "resuming at step %d of %d\n", first, steps)
		}
	}
	logPath := filepath.Join(o.Out, "loss.csv")
	if err := keepLossUpTo(logPath, first); err != nil {
		return err
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()

	var xt *xlatrain.Trainer
	xo := xlatrain.Options{LR: o.LR, Warmup: o.Warmup, Steps: steps, WeightDecay: opt.WeightDecay, ClipNorm: o.ClipNorm}
	if o.XLA != nil {
		if xt, err = xlatrain.New(o.XLA, m, xo); err != nil {
			return fmt.Errorf("recipe: %w", err)
		}
		xt.Resume(first)
	}
	var grads *train.Grads
	if xt == nil {
		grads = train.NewGrads(m)
	}
	save := func(step int) error {
		if xt != nil {
			if err := xt.Sync(); err != nil {
				return fmt.Errorf("recipe: %w", err)
			}
		}
		return train.SaveCheckpoint(ckpt, m, opt, map[string]string{"step": strconv.Itoa(step)})
	}
	var ema float64
	runStart, runTokens := time.Now(), 0
	for step := first; step < steps; step++ {
		if ctx.Err() != nil {
			if err := save(step); err != nil {
				return err
			}
			return ctx.Err()
		}
		lo := (step * o.Batch) % len(rows)
		bt, bl := make([][]int32, o.Batch), make([][]float32, o.Batch)
		for i := range o.Batch {
			bt[i], bl[i] = rows[(lo+i)%len(rows)], loss[(lo+i)%len(rows)]
		}
		stepStart := time.Now()
		lr := schedule(step, steps, o.Warmup, o.LR)
		var l float64
		if xt != nil {
			lr = xlatrain.LearningRate(xo, step)
			if l, err = xt.Step(bt, bl); err != nil {
				return fmt.Errorf("recipe: step %d: %w", step, err)
			}
		} else {
			grads.Zero()
			if l, _, err = m.Step(bt, bl, grads); err != nil {
				return fmt.Errorf("recipe: step %d: %w", step, err)
			}
			train.ClipGradNorm(grads, o.ClipNorm)
			opt.Step(m, grads, lr)
		}
		tokens := o.Batch * o.SeqLen
		runTokens += tokens
		tps := float64(tokens) / time.Since(stepStart).Seconds()
		if ema == 0 {
			ema = l
		}
		ema = 0.95*ema + 0.05*l
		fmt.Fprintf(logf, "%d,%.5f,%.6g,%.0f\n", step+1, l, lr, tps)
		if o.Progress != nil {
			avg := float64(runTokens) / time.Since(runStart).Seconds()
			eta := time.Duration(float64(steps-step-1) * float64(tokens) / avg * float64(time.Second))
			fmt.Fprintf(o.Progress, "\rstep %d/%d  loss %.4f (avg %.4f)  lr %.2e  %.0f tokens/s  ETA %s   ",
				step+1, steps, l, ema, lr, avg, eta.Round(time.Second))
		}
		if (step+1)%o.CheckpointEvery == 0 {
			if err := save(step + 1); err != nil {
				return err
			}
		}
	}
	if o.Progress != nil {
		fmt.Fprintln(o.Progress)
	}
	if err := save(steps); err != nil {
		return err
	}
	if err := model.WriteHF(modelDir, &cfg, m.Weights(), map[string][]byte{"tokenizer.json": tj,
		"tokenizer_config.json": tc}); err != nil {
		return fmt.Errorf("recipe: writing the model: %w", err)
	}
	if err := Ship(modelDir, filepath.Join(o.Out, "ship")); err != nil {
		return fmt.Errorf("recipe: %w", err)
	}
	return plotLoss(filepath.Join(o.Out, "loss.csv"), filepath.Join(o.Out, "loss.svg"))
}

// PlotLoss draws a run's loss.csv as loss.svg beside it.
func PlotLoss(dir string) error {
	return plotLoss(filepath.Join(dir, "loss.csv"), filepath.Join(dir, "loss.svg"))
}

// schedule is linear warmup to peak, then cosine down to a tenth of it.
func schedule(step, steps, warmup int, peak float64) float64 {
	if step < warmup {
		return peak * float64(step+1) / float64(warmup)
	}
	p := float64(step-warmup) / float64(max(1, steps-warmup))
	return peak * (0.1 + 0.9*0.5*(1+math.Cos(math.Pi*min(1, p))))
}

// keepLossUpTo rewrites loss.csv with its header and the steps up to step (the checkpoint a
// run resumes from: the steps after it are done again).
func keepLossUpTo(path string, step int) error {
	lines := []string{"step,loss,lr,tokens_per_s"}
	if b, err := os.ReadFile(path); err == nil && step > 0 {
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.SplitN(line, ",", 2)
			if n, err := strconv.Atoi(f[0]); err == nil && n <= step {
				lines = append(lines, line)
			}
		}
	}
	return os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

// readLoss reads loss.csv's steps and losses.
func readLoss(path string) (steps, losses []float64, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Split(line, ",")
		if len(f) < 2 {
			continue
		}
		s, err1 := strconv.ParseFloat(f[0], 64)
		l, err2 := strconv.ParseFloat(f[1], 64)
		if err1 == nil && err2 == nil {
			steps, losses = append(steps, s), append(losses, l)
		}
	}
	return steps, losses, nil
}
