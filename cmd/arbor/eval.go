package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/arborlabs/arbor/evals"
	"github.com/arborlabs/arbor/evals/arith"
	"github.com/arborlabs/arbor/evals/data"
	"github.com/arborlabs/arbor/evals/grade"
	"github.com/arborlabs/arbor/evals/metrics"
	"github.com/arborlabs/arbor/evals/report"
	evalrun "github.com/arborlabs/arbor/evals/run"
	"github.com/arborlabs/arbor/tools"
	"github.com/arborlabs/arbor/tools/calc"
)

const evalUsage = `arbor eval: run reasoning benchmarks against any OpenAI-compatible endpoint

  arbor eval run --task TASK (--data FILE | --count N) (--base-url URL --model NAME | [--model PATH]) --out DIR [flags]
  arbor eval grade --task TASK --gold ANSWER      < response    grade one response: {"correct", "extracted", ...}
  arbor eval rescore DIR                                          grade a run's stored responses again
  arbor eval report DIR                                           write report.md, summary.json and plots
  arbor eval compare DIR DIR...                                   runs side by side, with paired tests

Tasks: aime, gpqa, math, gsm8k, arith (generated: --count N --seed S, no file).
Run "arbor eval run -h" for the run's flags.
`

func cmdEval(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, evalUsage)
		return errors.New("eval: want a subcommand: run, grade, rescore, report, compare")
	}
	switch args[0] {
	case "run":
		return cmdEvalRun(args[1:], stdout, stderr)
	case "grade":
		return cmdEvalGrade(args[1:], stdin, stdout, stderr)
	case "rescore":
		return cmdEvalRescore(args[1:], stdout)
	case "report":
		if len(args) != 2 {
			return errors.New("eval report: usage: arbor eval report DIR")
		}
		if err := report.Write(args[1]); err != nil {
			return fmt.Errorf("eval report: %w", err)
		}
		fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(args[1], "report.md"))
		return nil
	case "compare":
		if len(args) < 3 {
			return errors.New("eval compare: usage: arbor eval compare DIR DIR...")
		}
		return report.WriteCompare(args[1:], stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, evalUsage)
		return nil
	}
	fmt.Fprint(stderr, evalUsage)
	return fmt.Errorf("eval: unknown subcommand %q", args[0])
}

// gradeFunc adapts evals/grade to the runner.
func gradeFunc(task, response, gold string) (bool, *string) {
	r := grade.Grade(task, response, gold)
	return r.Correct, r.Extracted
}

func cmdEvalRun(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval run", stderr)
	task := fs.String("task", "", "aime, gpqa, math, gsm8k or arith")
	dataPath := fs.String("data", "", "the problems: .jsonl, .json, .csv or .parquet (not for arith)")
	fields := fs.String("fields", "", "map a file's own field names: question=COL,answer=COL,id=COL,solution=COL,"+
		"subject=COL,level=COL,incorrect=COL1|COL2|COL3")
	count := fs.Int("count", 100, "arith: how many problems to generate")
	split := fs.String("split", "all", "arith: the templates and names to draw from: all, train, heldout (those "+
		"kept out of the demo model's training; seeds from 1,000,000 up) or unseen (the training ones, with "+
		"seeds from 1,000,000 up)")
	baseURL := fs.String("base-url", "", "an OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1 "+
		"(default: start Arbor in this process on --model)")
	model := fs.String("model", "", "with --base-url: the model name to send; without: the model file or "+
		"directory Arbor serves (default: the demo model)")
	out := fs.String("out", "", "the run's directory (results.jsonl, run.json, the report); a rerun resumes")
	n := fs.Int("n", 1, "samples per problem")
	temperature := fs.Float64("temperature", -1, "sampling temperature (default: the server's)")
	topP := fs.Float64("top-p", -1, "nucleus sampling (default: the server's)")
	maxTokens := fs.Int("max-tokens", 0, "tokens per answer at most (0: the server's default)")
	seed := fs.Int64("seed", -1, "sampling seed (sample i gets SEED+i); arith: also the generator's seed (default 1)")
	concurrency := fs.Int("concurrency", 4, "requests at once")
	limit := fs.Int("limit", 0, "the first N problems only (0: all)")
	tree := fs.Bool("tree", false, "ask Arbor for task-tree decoding (reasoning_format \"tree\", or the object --extra-body gives, e.g. with a pruning_buffer) and check each tree's shape")
	toolList := fs.String("tools", "", "tools the harness runs for the model's tool calls: calculator")
	maxTurns := fs.Int("max-turns", 8, "requests per sample at most in the tool loop")
	extraBody := fs.String("extra-body", "", "a JSON object whose fields are added to every request body")
	promptTemplate := fs.String("prompt-template", "", "a Go text/template file for the prompt (fields .Question, "+
		".A .B .C .D and .Options for gpqa, .ID, .Subject, .Level)")
	apiKeyEnv := fs.String("api-key-env", "OPENAI_API_KEY", "the environment variable holding the API key")
	timeout := fs.Duration("timeout", 10*time.Minute, "one request at most")
	retries := fs.Int("retries", 6, "tries again on 429, 5xx and timeouts, with backoff")
	ctxLen := fs.Int("ctx", 4096, "without --base-url: the in-process server's context")
	quiet := fs.Bool("quiet", false, "no progress line")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := evals.CheckTask(*task); err != nil {
		return fmt.Errorf("eval run: --task: %w", err)
	}
	if *out == "" {
		return errors.New("eval run: --out DIR is required")
	}
	if *baseURL != "" && *model == "" {
		return errors.New("eval run: --base-url needs --model NAME")
	}
	// The problems.
	var problems []evals.Problem
	dataName := *dataPath
	if *task == evals.TaskArith && *dataPath == "" {
		s := uint64(1)
		if *split == arith.SplitHeldout || *split == arith.SplitUnseen {
			s = arith.HeldoutSeed
		}
		if *seed >= 0 {
			s = uint64(*seed)
		}
		o := arith.Options{Count: *count, Seed: s}
		if *split != "all" {
			o.Split = *split
			if err := o.Check(); err != nil {
				return fmt.Errorf("eval run: --split %s: %w", *split, err)
			}
		}
		problems = arith.Generate(o)
		dataName = fmt.Sprintf("arith:count=%d,seed=%d,split=%s", *count, s, *split)
	} else {
		if *dataPath == "" {
			return fmt.Errorf("eval run: --data FILE is required for %s", *task)
		}
		f, err := data.ParseFields(*fields)
		if err != nil {
			return fmt.Errorf("eval run: --fields: %w", err)
		}
		if problems, err = data.Load(*dataPath, *task, f); err != nil {
			return fmt.Errorf("eval run: %w", err)
		}
	}
	if *limit > 0 && *limit < len(problems) {
		problems = problems[:*limit]
	}
	var tmplSrc string
	if *promptTemplate != "" {
		b, err := os.ReadFile(*promptTemplate)
		if err != nil {
			return fmt.Errorf("eval run: --prompt-template: %w", err)
		}
		tmplSrc = string(b)
	}
	pr, err := evalrun.NewPrompter(*task, tmplSrc)
	if err != nil {
		return fmt.Errorf("eval run: %w", err)
	}
	var extra map[string]any
	if *extraBody != "" {
		if err := json.Unmarshal([]byte(*extraBody), &extra); err != nil {
			return fmt.Errorf("eval run: --extra-body must be a JSON object: %w", err)
		}
	}
	var toolSet []tools.Tool
	for _, name := range strings.FieldsFunc(*toolList, func(r rune) bool { return r == ',' }) {
		switch strings.TrimSpace(name) {
		case "calculator":
			toolSet = append(toolSet, calc.New())
		default:
			return fmt.Errorf("eval run: --tools: unknown tool %q (the harness runs: calculator)", name)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	settings := map[string]any{"data": dataName, "temperature": *temperature, "top_p": *topP,
		"max_tokens": *maxTokens, "seed": *seed, "tree": *tree, "tools": *toolList, "extra_body": extra,
		"prompt_template": *promptTemplate, "base_url": *baseURL, "started": time.Now().UTC().Format(time.RFC3339)}
	url, name, key := *baseURL, *model, os.Getenv(*apiKeyEnv)
	if url == "" {
		// Arbor in this process: the same server `arbor serve` runs, on a free local port.
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return err
		}
		logf, err := os.Create(filepath.Join(*out, "server.log"))
		if err != nil {
			return err
		}
		defer logf.Close()
		sctx, cancel := context.WithCancel(context.Background())
		addrs := make(chan string, 1)
		done := make(chan error, 1)
		// --tree=false: the run's own requests say whether they are trees (the demo model's
		// server would otherwise decode every request as one).
		serveArgs := []string{"--addr", "127.0.0.1:0", "--memory", "off", "--tree=false", "--ctx", strconv.Itoa(*ctxLen)}
		if *model != "" {
			serveArgs = append(serveArgs, "--model", *model)
		}
		go func() { done <- serve(sctx, serveArgs, logf, func(a string) { addrs <- a }) }()
		defer func() { cancel(); <-done }()
		select {
		case a := <-addrs:
			url = "http://" + a + "/v1"
		case err := <-done:
			return fmt.Errorf("eval run: the in-process server: %w (log: %s)", err, logf.Name())
		}
		if name, err = waitModel(ctx, url, done); err != nil {
			return fmt.Errorf("eval run: the in-process server: %w (log: %s)", err, logf.Name())
		}
		settings["server"] = "arbor in-process"
		settings["model_path"] = *model
		key = "none"
	}
	cfg := evalrun.Config{Task: *task, Problems: problems, Prompter: pr, Grade: gradeFunc, BaseURL: url, APIKey: key,
		Model: name, N: *n, MaxTokens: *maxTokens, Concurrency: *concurrency, Tree: *tree, Tools: toolSet,
		MaxTurns: *maxTurns, ExtraBody: extra, Timeout: *timeout, Retries: *retries, Dir: *out, Settings: settings}
	if *temperature >= 0 {
		cfg.Temperature = temperature
	}
	if *topP >= 0 {
		cfg.TopP = topP
	}
	if *seed >= 0 {
		cfg.Seed = seed
	}
	if !*quiet {
		cfg.Progress = stderr
	}
	res, err := evalrun.Run(ctx, cfg)
	if err != nil {
		return fmt.Errorf("eval run: %w", err)
	}
	if res.Interrupted {
		fmt.Fprintf(stderr, "interrupted: %d samples done this time; run the same command again to resume\n", res.Done)
		return errors.New("eval run: interrupted")
	}
	if err := report.Write(*out); err != nil {
		return fmt.Errorf("eval run: report: %w", err)
	}
	_, recs, err := report.Load(*out)
	if err != nil {
		return err
	}
	s := metrics.Summarize(recs)
	fmt.Fprintf(stdout, "%s on %s: accuracy %.4f [%.4f, %.4f] over %d problems x %d samples, %d errors; report in %s\n",
		*task, name, s.Accuracy, s.CI95[0], s.CI95[1], s.Problems, s.K, s.Errors, filepath.Join(*out, "report.md"))
	return nil
}

// waitModel waits for the server to answer /v1/models and returns its model's id.
func waitModel(ctx context.Context, base string, done <-chan error) (string, error) {
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/models", nil)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			var m struct {
				Data []struct {
					ID string `json:"id"`
				} `json:"data"`
			}
			ok := res.StatusCode == 200 && json.NewDecoder(res.Body).Decode(&m) == nil && len(m.Data) > 0
			res.Body.Close()
			if ok {
				return m.Data[0].ID, nil
			}
		}
		select {
		case err := <-done:
			return "", fmt.Errorf("stopped: %v", err)
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func cmdEvalGrade(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("eval grade", stderr)
	task := fs.String("task", "", "aime, gpqa, math, gsm8k or arith")
	gold := fs.String("gold", "", "the gold answer (gpqa: the correct letter)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := evals.CheckTask(*task); err != nil {
		return fmt.Errorf("eval grade: --task: %w", err)
	}
	// A response is text of a few KB; a bound keeps a runaway pipe from filling memory.
	b, err := io.ReadAll(io.LimitReader(stdin, 16<<20))
	if err != nil {
		return fmt.Errorf("eval grade: reading the response: %w", err)
	}
	out, _ := json.Marshal(grade.Grade(*task, string(b), *gold))
	_, err = fmt.Fprintf(stdout, "%s\n", out)
	return err
}

// cmdEvalRescore grades a run's stored responses again (after a grader change, or to grade a
// run made elsewhere) and rewrites its results and report; nothing is generated.
func cmdEvalRescore(args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return errors.New("eval rescore: usage: arbor eval rescore DIR")
	}
	dir := args[0]
	settings, recs, err := report.Load(dir)
	if err != nil {
		return fmt.Errorf("eval rescore: %w", err)
	}
	task, _ := settings["task"].(string)
	if err := evals.CheckTask(task); err != nil {
		return fmt.Errorf("eval rescore: %s: %w", filepath.Join(dir, evalrun.RunFile), err)
	}
	changed := 0
	tmp := filepath.Join(dir, evalrun.ResultsFile+".rescore")
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for i := range recs {
		r := &recs[i]
		if r.Error == "" {
			c, x := gradeFunc(task, r.Response, r.Gold)
			if c != r.Correct || !samePtr(x, r.Extracted) {
				changed++
			}
			r.Correct, r.Extracted = c, x
		}
		line, _ := json.Marshal(r)
		w.Write(append(line, '\n'))
	}
	if err := errors.Join(w.Flush(), f.Sync(), f.Close()); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("eval rescore: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, evalrun.ResultsFile)); err != nil {
		return fmt.Errorf("eval rescore: %w", err)
	}
	if err := report.Write(dir); err != nil {
		return fmt.Errorf("eval rescore: report: %w", err)
	}
	s := metrics.Summarize(recs)
	fmt.Fprintf(stdout, "rescored %d samples (%d changed): accuracy %.4f [%.4f, %.4f]\n", len(recs), changed,
		s.Accuracy, s.CI95[0], s.CI95[1])
	return nil
}

func samePtr(a, b *string) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}
