// Package run drives an eval run against any OpenAI-compatible chat endpoint (vLLM, SGLang,
// llama.cpp, Ollama, OpenAI, Arbor) through the official openai-go client: every problem is
// sampled n times, graded as it comes back, and appended to results.jsonl in the run's
// directory. A run is resumable (a rerun skips the samples already there), retries what the
// server refuses for now (429, 5xx, timeouts; Retry-After honoured), stops cleanly when its
// context ends, and never grades a request that failed: such a sample is recorded as an error.
package run

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/arborlabs/arbor/evals"
	"github.com/arborlabs/arbor/tools"
	"github.com/arborlabs/arbor/tree"
)

// Grader grades one response against the gold answer.
type Grader func(task, response, gold string) (correct bool, extracted *string)

// Config is one run.
type Config struct {
	Task     string
	Problems []evals.Problem
	Prompter *Prompter
	Grade    Grader

	BaseURL string // e.g. http://127.0.0.1:8080/v1
	APIKey  string
	Model   string

	N           int      // samples per problem (at least 1)
	Temperature *float64 // nil: the server's default
	TopP        *float64
	MaxTokens   int    // 0: the server's default
	Seed        *int64 // sample i of every problem is sent seed+i
	Concurrency int    // requests at once (at least 1)
	// Tree asks Arbor for task-tree decoding (reasoning_format "tree", unless ExtraBody gives
	// a reasoning_format of its own) and marks the records' tree_valid.
	Tree bool
	// Tools are run by the harness itself: the model's tool calls are answered with their
	// results, up to MaxTurns requests per sample.
	Tools    []tools.Tool
	MaxTurns int
	// ExtraBody fields are added to every request body as they are.
	ExtraBody map[string]any

	// Timeout bounds one request (0: 10 minutes); Retries is how many times a retryable
	// failure is tried again (0: 6).
	Timeout time.Duration
	Retries int

	// Dir receives run.json and results.jsonl.
	Dir string
	// Settings are recorded in run.json (what the report shows of the run).
	Settings map[string]any
	// Progress, when set, receives a progress line as samples finish.
	Progress io.Writer
	// HTTPClient replaces the default one (tests).
	HTTPClient *http.Client
}

// Outcome is what a Run did.
type Outcome struct {
	Done, Skipped, Errors int
	Interrupted           bool
}

// ResultsFile and RunFile are the run directory's files.
const (
	ResultsFile = "results.jsonl"
	RunFile     = "run.json"
)

// job is one sample to draw.
type job struct {
	p      *evals.Problem
	sample int
	prompt string
	gold   string
}

// Run draws every sample that results.jsonl does not hold yet (or holds only as an error).
// When ctx ends it stops starting samples, cancels those in flight (they are not recorded)
// and returns with Interrupted set: a rerun resumes.
func Run(ctx context.Context, cfg Config) (Outcome, error) {
	var out Outcome
	if cfg.N < 1 {
		cfg.N = 1
	}
	if cfg.Concurrency < 1 {
		cfg.Concurrency = 1
	}
	if cfg.MaxTurns < 1 {
		cfg.MaxTurns = 8
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Minute
	}
	if cfg.Retries <= 0 {
		cfg.Retries = 6
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return out, err
	}
	if err := writeRunFile(cfg); err != nil {
		return out, err
	}
	done, err := doneKeys(filepath.Join(cfg.Dir, ResultsFile))
	if err != nil {
		return out, err
	}
	var jobs []job
	for i := range cfg.Problems {
		p := &cfg.Problems[i]
		prompt, gold, err := cfg.Prompter.Prompt(p)
		if err != nil {
			return out, err
		}
		for s := range cfg.N {
			if done[fmt.Sprintf("%s#%d", p.ID, s)] {
				out.Skipped++
				continue
			}
			jobs = append(jobs, job{p: p, sample: s, prompt: prompt, gold: gold})
		}
	}
	f, err := os.OpenFile(filepath.Join(cfg.Dir, ResultsFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return out, err
	}
	defer f.Close()

	opts := []option.RequestOption{option.WithBaseURL(strings.TrimSuffix(cfg.BaseURL, "/") + "/"),
		option.WithAPIKey(cfg.APIKey), option.WithMaxRetries(0)}
	if cfg.HTTPClient != nil {
		opts = append(opts, option.WithHTTPClient(cfg.HTTPClient))
	}
	client := openai.NewClient(opts...)
	var toolParams []openai.ChatCompletionToolParam
	toolByName := map[string]tools.Tool{}
	for _, t := range cfg.Tools {
		var params map[string]any
		if err := json.Unmarshal(t.Parameters(), &params); err != nil {
			return out, fmt.Errorf("tool %s: %w", t.Name(), err)
		}
		toolParams = append(toolParams, openai.ChatCompletionToolParam{Function: openai.FunctionDefinitionParam{
			Name: t.Name(), Description: openai.String(t.Description()), Parameters: params}})
		toolByName[t.Name()] = t
	}

	prog := newProgress(cfg.Progress, len(jobs), out.Skipped)
	var mu sync.Mutex // orders the appends and the counts
	work := make(chan job)
	var wg sync.WaitGroup
	var writeErr error
	for range cfg.Concurrency {
		wg.Go(func() {
			for j := range work {
				rec := sampleOne(ctx, &client, cfg, toolParams, toolByName, j)
				if ctx.Err() != nil && rec.Error != "" {
					continue // interrupted: not a failure of the server's
				}
				line, _ := json.Marshal(rec)
				mu.Lock()
				if _, err := f.Write(append(line, '\n')); err != nil && writeErr == nil {
					writeErr = err
				}
				out.Done++
				if rec.Error != "" {
					out.Errors++
				}
				prog.add(rec)
				mu.Unlock()
			}
		})
	}
feed:
	for _, j := range jobs {
		select {
		case work <- j:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	prog.finish()
	out.Interrupted = ctx.Err() != nil
	if writeErr != nil {
		return out, fmt.Errorf("writing %s: %w", ResultsFile, writeErr)
	}
	return out, nil
}

// sampleOne draws one sample: one request, or a tool loop of several, each retried as needed.
func sampleOne(ctx context.Context, client *openai.Client, cfg Config, toolParams []openai.ChatCompletionToolParam,
	toolByName map[string]tools.Tool, j job) evals.Record {
	rec := evals.Record{Problem: j.p.ID, Sample: j.sample, Subject: j.p.Subject, Level: j.p.Level, Gold: j.gold}
	start := time.Now()
	params := openai.ChatCompletionNewParams{Model: cfg.Model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(j.prompt)}}
	if cfg.Temperature != nil {
		params.Temperature = openai.Float(*cfg.Temperature)
	}
	if cfg.TopP != nil {
		params.TopP = openai.Float(*cfg.TopP)
	}
	if cfg.MaxTokens > 0 {
		params.MaxTokens = openai.Int(int64(cfg.MaxTokens))
	}
	if cfg.Seed != nil {
		params.Seed = openai.Int(*cfg.Seed + int64(j.sample))
	}
	if len(toolParams) > 0 {
		params.Tools = toolParams
	}
	var extra []option.RequestOption
	for k, v := range cfg.ExtraBody {
		extra = append(extra, option.WithJSONSet(k, v))
	}
	if _, own := cfg.ExtraBody["reasoning_format"]; cfg.Tree && !own {
		// An extra body's own reasoning_format (a tree with a pruning buffer, say) is kept.
		extra = append(extra, option.WithJSONSet("reasoning_format", "tree"))
	}
	for turn := 1; ; turn++ {
		res, err := complete(ctx, client, cfg, params, extra)
		rec.Turns = turn
		if err != nil {
			rec.Error = err.Error()
			break
		}
		addUsage(&rec, res)
		if len(res.Choices) == 0 {
			rec.Error = "the response has no choices"
			break
		}
		ch := res.Choices[0]
		rec.FinishReason = string(ch.FinishReason)
		rec.Response = ch.Message.Content
		if f, ok := ch.Message.JSON.ExtraFields["reasoning_content"]; ok {
			var rc string
			if json.Unmarshal([]byte(f.Raw()), &rc) == nil {
				rec.Reasoning = rc
			}
		}
		if len(ch.Message.ToolCalls) == 0 || len(toolByName) == 0 {
			break
		}
		if turn >= cfg.MaxTurns {
			break // finish_reason stays "tool_calls": it stopped while still calling tools
		}
		params.Messages = append(params.Messages, ch.Message.ToParam())
		for _, call := range ch.Message.ToolCalls {
			rec.ToolCalls++
			params.Messages = append(params.Messages, openai.ToolMessage(runTool(ctx, toolByName, call), call.ID))
		}
	}
	rec.LatencyMS = float64(time.Since(start).Microseconds()) / 1000
	rec.CompletedAtUTC = time.Now().UTC().Format(time.RFC3339)
	if rec.Error == "" {
		rec.Correct, rec.Extracted = cfg.Grade(cfg.Task, rec.Response, rec.Gold)
		if cfg.Tree {
			// The shape is checked, not the depth: a request may ask for deeper trees.
			valid := tree.CheckResponse([]byte(rec.Response), treeCheckDepth) == nil
			rec.TreeValid = &valid
		}
	}
	return rec
}

// runTool answers one tool call with the tool's result, or an error object the model can read.
func runTool(ctx context.Context, byName map[string]tools.Tool, call openai.ChatCompletionMessageToolCall) string {
	t, ok := byName[call.Function.Name]
	if !ok {
		return fmt.Sprintf(`{"error": %q}`, "no tool named "+call.Function.Name)
	}
	res, err := t.Call(ctx, json.RawMessage(call.Function.Arguments))
	if err != nil {
		b, _ := json.Marshal(map[string]string{"error": err.Error()})
		return string(b)
	}
	return string(res)
}

// complete sends one request, retrying 429, 5xx, 408 and transport failures with exponential
// backoff (or the server's Retry-After), up to cfg.Retries times.
func complete(ctx context.Context, client *openai.Client, cfg Config, params openai.ChatCompletionNewParams,
	extra []option.RequestOption) (*openai.ChatCompletion, error) {
	var last error
	for attempt := 0; ; attempt++ {
		rctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		res, err := client.Chat.Completions.New(rctx, params, extra...)
		cancel()
		if err == nil {
			return res, nil
		}
		last = err
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		wait, retry := retryable(err, attempt)
		if !retry || attempt >= cfg.Retries {
			if attempt > 0 {
				return nil, fmt.Errorf("after %d attempts: %w", attempt+1, last)
			}
			return nil, last
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// retryable says whether err is worth another try, and after how long.
func retryable(err error, attempt int) (time.Duration, bool) {
	backoff := min(30*time.Second, time.Duration(500<<attempt)*time.Millisecond)
	backoff = backoff/2 + time.Duration(rand.Int64N(int64(backoff/2)+1)) // jitter
	var apiErr *openai.Error
	if errors.As(err, &apiErr) {
		s := apiErr.StatusCode
		if s != http.StatusTooManyRequests && s != http.StatusRequestTimeout && s < 500 {
			return 0, false
		}
		if apiErr.Response != nil {
			if ra := apiErr.Response.Header.Get("Retry-After"); ra != "" {
				if secs, err := strconv.ParseFloat(ra, 64); err == nil && secs >= 0 {
					return min(time.Duration(secs*float64(time.Second)), 2*time.Minute), true
				}
				if t, err := http.ParseTime(ra); err == nil {
					return min(max(time.Until(t), 0), 2*time.Minute), true
				}
			}
		}
		return backoff, true
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF) {
		return backoff, true
	}
	return 0, false
}

// treeCheckDepth bounds the task levels CheckResponse accepts in the harness's records.
const treeCheckDepth = 16

// addUsage adds a response's usage, and Arbor's extras, to the record.
func addUsage(rec *evals.Record, res *openai.ChatCompletion) {
	u := res.Usage
	rec.PromptTokens += int(u.PromptTokens)
	rec.CompletionTokens += int(u.CompletionTokens)
	extraInt := func(name string, dst **int) {
		if f, ok := u.JSON.ExtraFields[name]; ok {
			var v int
			if json.Unmarshal([]byte(f.Raw()), &v) == nil {
				if *dst != nil {
					v += **dst
				}
				*dst = &v
			}
		}
	}
	extraInt("kv_peak_tokens", &rec.KVPeakTokens)
	extraInt("pruned_tokens", &rec.PrunedTokens)
	extraInt("tool_calls", &rec.TreeToolCalls)
	if f, ok := u.JSON.ExtraFields["attended_share"]; ok {
		var v float64
		if json.Unmarshal([]byte(f.Raw()), &v) == nil {
			rec.AttendedShare = &v
		}
	}
}

// writeRunFile records the run's settings, or checks that a resumed run has the same ones.
func writeRunFile(cfg Config) error {
	path := filepath.Join(cfg.Dir, RunFile)
	settings := map[string]any{"task": cfg.Task, "model": cfg.Model, "n": cfg.N, "problems": len(cfg.Problems)}
	for k, v := range cfg.Settings {
		settings[k] = v
	}
	if b, err := os.ReadFile(path); err == nil {
		var old map[string]any
		if err := json.Unmarshal(b, &old); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for _, k := range []string{"task", "model", "data"} {
			if fmt.Sprint(old[k]) != fmt.Sprint(settings[k]) {
				return fmt.Errorf("%s holds a run of another %s (%v, not %v): give another --out to start a new run",
					cfg.Dir, k, old[k], settings[k])
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	b, err := json.MarshalIndent(settings, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// doneKeys reads the samples results.jsonl holds without an error (the last record of a sample
// counts). A last line cut by a crash is ignored.
func doneKeys(path string) (map[string]bool, error) {
	done := map[string]bool{}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return done, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 256<<20)
	for sc.Scan() {
		var r evals.Record
		if json.Unmarshal(sc.Bytes(), &r) != nil {
			continue
		}
		done[r.Key()] = r.Error == ""
	}
	return done, sc.Err()
}
