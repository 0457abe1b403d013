package tree

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/arborlabs/arbor/runtime/engine"
)

// Caller runs tools; tree defines it so as to need nothing of the tools package.
type Caller interface {
	// Call runs the named tool. The result is always valid JSON (an error object when the
	// tool failed); err is informational only (the failure, for counting and logs).
	Call(ctx context.Context, name string, args json.RawMessage) (result json.RawMessage, err error)
}

// RunOptions configure a Run.
type RunOptions struct {
	Buffer     int                       // pruning buffer: closed subtask lists kept in the KV cache
	NoPrune    bool                      // track and call tools, but never drop (for comparisons)
	TokenBytes func(id int32) []byte     // a token's bytes (required)
	Encode     func(text string) []int32 // tokenizes forced text as data (no control tokens), without BOS (required)
	Tools      Caller                    // nil: every call gets an error object as its result
}

// RunStats count what a Run did.
type RunStats struct {
	Tasks        int // tasks opened
	ToolCalls    int // tool calls made
	ToolErrors   int // calls whose tool reported an error or returned invalid JSON
	ForcedTokens int // tokens of forced text (result prefixes and results)
	ListsClosed  int // subtask lists closed (empty ones included)
	ListsPruned  int // lists dropped from the KV cache (a parent's list counts once)
	PrunedTokens int // output tokens dropped from the KV cache, each counted once
}

// Run is one request's tree session: the engine's Hook for a sequence that decodes under a
// TIM schema. It follows the output through a Tracker, runs a tool when a call's parameters
// are complete (the result enters the sequence as forced tokens), and drops the insides of
// closed subtask lists beyond the pruning buffer from the KV cache.
//
// The engine calls Appended from one goroutine; Directive.Call runs on another while the
// sequence is paused, so the stats it touches are guarded.
type Run struct {
	opt    RunOptions
	tr     *Tracker
	pruner *Pruner
	starts []int // byte offset of each output token's start
	off    int   // output bytes so far
	err    error

	mu      sync.Mutex
	stats   RunStats
	dropped []engine.Span // token spans dropped so far, sorted and disjoint (to count each token once)
}

var _ engine.Hook = (*Run)(nil)

// NewRun starts a tree session. Missing TokenBytes or Encode is reported by Err, and the run
// then raises no directives.
func NewRun(opt RunOptions) *Run {
	r := &Run{opt: opt, tr: NewTracker(), pruner: NewPruner(opt.Buffer)}
	switch {
	case opt.TokenBytes == nil:
		r.err = errors.New("tree run: RunOptions.TokenBytes is nil")
	case opt.Encode == nil:
		r.err = errors.New("tree run: RunOptions.Encode is nil")
	}
	return r
}

// Err is the error that stopped the run: output the tracker could not follow (not JSON, not
// the TIM shape), tokens told out of order, or a tool call whose result cannot be written
// (the output already went past `"tool_result":`). After it, Appended returns no directives:
// the decode goes on, without tools or pruning, and the server reports the error.
func (r *Run) Err() error { return r.err }

// Stats is what the run did so far.
func (r *Run) Stats() RunStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// Appended follows output token i (sampled or forced) and says what the engine must do.
func (r *Run) Appended(i int, id int32) engine.Directive {
	if r.err != nil {
		return engine.Directive{}
	}
	if i != len(r.starts) {
		r.err = fmt.Errorf("tree run: told output token %d, want %d", i, len(r.starts))
		return engine.Directive{}
	}
	b := r.opt.TokenBytes(id)
	r.starts = append(r.starts, r.off)
	r.off += len(b)
	if r.tr.Done() {
		// Past the response (a stop string's text, say): nothing of the tree's.
		return engine.Directive{}
	}
	events, err := r.tr.Feed(b)
	if err != nil {
		r.err = fmt.Errorf("tree run: output token %d: %w", i, err)
		return engine.Directive{}
	}
	var d engine.Directive
	for _, e := range events {
		switch e.Kind {
		case TaskOpened:
			r.mu.Lock()
			r.stats.Tasks++
			r.mu.Unlock()
		case ToolCall:
			// The chunk is fed whole, so the prefix accounts for what the token carried past
			// the parameters.
			prefix, err := r.tr.ResultPrefix()
			if err != nil {
				r.err = fmt.Errorf("tree run: tool call %q at output token %d: %w", e.Tool, i, err)
				return engine.Directive{}
			}
			d.Call = r.call(e.Tool, e.Params, prefix)
		case SubtasksClosed:
			r.mu.Lock()
			r.stats.ListsClosed++
			r.mu.Unlock()
			if r.opt.NoPrune {
				continue
			}
			for _, s := range r.pruner.Push(r.tokensInside(e.Begin, e.End)) {
				d.Drop = append(d.Drop, s)
				r.mu.Lock()
				r.stats.ListsPruned++
				r.stats.PrunedTokens += r.addDropped(s)
				r.mu.Unlock()
			}
		}
	}
	return d
}

// tokensInside converts a byte span to the output tokens lying entirely inside it: a token that
// straddles an edge (one holding the list's '[' or ']') stays in the cache.
func (r *Run) tokensInside(begin, end int) engine.Span {
	n := len(r.starts)
	tokEnd := func(j int) int {
		if j+1 < n {
			return r.starts[j+1]
		}
		return r.off
	}
	first := sort.SearchInts(r.starts, begin)
	last := sort.Search(n, func(j int) bool { return tokEnd(j) > end })
	if last < first {
		last = first
	}
	return engine.Span{Begin: first, End: last}
}

// addDropped records a dropped span and returns how many of its tokens were not dropped
// before (a parent's list holds its children's, which may have gone already).
func (r *Run) addDropped(s engine.Span) int {
	fresh := s.Len()
	merged := s
	kept := r.dropped[:0:0]
	for _, d := range r.dropped {
		if d.End < merged.Begin || d.Begin > merged.End {
			kept = append(kept, d)
			continue
		}
		fresh -= max(0, min(d.End, s.End)-max(d.Begin, s.Begin))
		merged = engine.Span{Begin: min(merged.Begin, d.Begin), End: max(merged.End, d.End)}
	}
	kept = append(kept, merged)
	sort.Slice(kept, func(a, b int) bool { return kept[a].Begin < kept[b].Begin })
	r.dropped = kept
	return fresh
}

// call makes the Directive.Call of a tool call: run the tool, and return the forced tokens of
// the result prefix and the result.
func (r *Run) call(name string, params json.RawMessage, prefix string) func(context.Context) ([]int32, error) {
	return func(ctx context.Context) ([]int32, error) {
		var (
			result json.RawMessage
			err    error
		)
		if r.opt.Tools == nil {
			err = errors.New("no tool runner")
			result = errorResult(fmt.Sprintf("tool %q: no tool runner is configured", name))
		} else {
			result, err = r.opt.Tools.Call(ctx, name, params)
		}
		if cerr := ctx.Err(); cerr != nil {
			return nil, fmt.Errorf("tool %q: %w", name, cerr)
		}
		// The grammar lets through a subset of JSON; rewrite the result into it, so that a
		// tool's "1e-3" or "\ud83d\ude00" cannot fail the request.
		text, cerr := canonicalJSON(result)
		if cerr != nil {
			text = errorResult(fmt.Sprintf("tool %q returned invalid JSON: %v", name, cerr))
			if err == nil {
				err = cerr
			}
		}
		toks := r.opt.Encode(prefix + string(text))
		r.mu.Lock()
		r.stats.ToolCalls++
		if err != nil {
			r.stats.ToolErrors++
		}
		r.stats.ForcedTokens += len(toks)
		r.mu.Unlock()
		return toks, nil
	}
}

// errorResult is the JSON object written in place of a result the tool could not give.
func errorResult(msg string) []byte {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	return b
}
