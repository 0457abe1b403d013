// Package engine turns requests into forward steps: it owns the sequences, their KV pages and
// their samplers, and calls a backend one batch at a time.
//
// This first version runs one request at a time (prefill in chunks, then decode); the
// continuous-batching scheduler of the server builds on the same sequence and step types.
package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/arborlabs/arbor/runtime/backend"
	"github.com/arborlabs/arbor/runtime/kv"
	"github.com/arborlabs/arbor/runtime/sample"
	"github.com/arborlabs/arbor/runtime/tokenizer"
)

// Finish reasons, as the OpenAI API names them.
const (
	FinishStop   = "stop"   // a stop token or stop string
	FinishLength = "length" // max tokens or the context limit
)

// ErrContextLength is returned (wrapped) when a prompt does not fit the model's context.
var ErrContextLength = errors.New("prompt longer than the context")

// Request is one generation.
type Request struct {
	Prompt    []int32
	MaxTokens int // new tokens at most; 0 means up to the context limit
	Sampling  sample.Params
	// StopTokens end generation when sampled (the token itself is not part of the text).
	StopTokens []int32
	// StopStrings end generation when they appear in the text, which then ends before them.
	StopStrings []string
}

// Event is one step of output: a new token and the text it completes (possibly empty while a
// UTF-8 character or a possible stop string is incomplete).
type Event struct {
	Token int32
	Text  string
}

// Result sums up a finished generation.
type Result struct {
	IDs                []int32 `json:"ids"`
	Text               string  `json:"text"`
	PromptTokens       int     `json:"prompt_tokens"`
	CompletionTokens   int     `json:"completion_tokens"`
	FinishReason       string  `json:"finish_reason"`
	PrefillTokensPerS  float64 `json:"prefill_tokens_per_s"`
	DecodeTokensPerS   float64 `json:"decode_tokens_per_s"`
	PrefillSeconds     float64 `json:"prefill_seconds"`
	DecodeSeconds      float64 `json:"decode_seconds"`
	TimeToFirstTokenMS float64 `json:"time_to_first_token_ms"`
	KVPagesPeak        int     `json:"kv_pages_peak"`
}

// Options tune the engine.
type Options struct {
	// MaxContext caps prompt + generated tokens (0: the model's max positions, bounded by
	// the KV pool).
	MaxContext int
	// PrefillChunk is the most prompt tokens per forward step (0: 512).
	PrefillChunk int
}

// Engine runs requests on a backend.
type Engine struct {
	be     backend.Backend
	tok    *tokenizer.Tokenizer
	pool   *kv.Pool
	opt    Options
	logits [][]float32
	// Reused per step so that decoding allocates nothing per token.
	pos   []int32
	tok1  [1]int32
	batch backend.Batch
}

// New makes an engine over a backend whose KV memory the engine's page pool describes.
func New(be backend.Backend, tok *tokenizer.Tokenizer, opt Options) *Engine {
	if opt.PrefillChunk <= 0 {
		opt.PrefillChunk = 512
	}
	capacity := be.NumPages() * be.PageSize()
	if opt.MaxContext <= 0 || opt.MaxContext > capacity {
		opt.MaxContext = capacity
	}
	return &Engine{
		be:     be,
		tok:    tok,
		pool:   kv.NewPool(be.NumPages(), be.PageSize()),
		opt:    opt,
		logits: [][]float32{make([]float32, be.VocabSize())},
	}
}

// MaxContext is the most tokens (prompt and generated) one sequence may hold.
func (e *Engine) MaxContext() int { return e.opt.MaxContext }

// Generate runs one request to completion, calling emit for every generated token. A non-nil
// error from emit, or ctx ending, stops generation early; the KV pages are freed either way.
func (e *Engine) Generate(ctx context.Context, req Request, emit func(Event) error) (*Result, error) {
	if len(req.Prompt) == 0 {
		return nil, errors.New("empty prompt")
	}
	if len(req.Prompt) >= e.opt.MaxContext {
		return nil, fmt.Errorf("%w: %d prompt tokens, the context holds %d", ErrContextLength, len(req.Prompt), e.opt.MaxContext)
	}
	if err := req.Sampling.Validate(); err != nil {
		return nil, fmt.Errorf("sampling: %w", err)
	}
	maxNew := e.opt.MaxContext - len(req.Prompt)
	if req.MaxTokens > 0 && req.MaxTokens < maxNew {
		maxNew = req.MaxTokens
	}
	sampler := sample.New(req.Sampling)
	stop := sample.NewStopChecker(req.StopTokens, req.StopStrings)
	dec := e.tok.NewDecoder()

	seq := e.pool.NewSequence()
	defer seq.Free()
	e.pool.ResetPeak()
	res := &Result{PromptTokens: len(req.Prompt), FinishReason: FinishLength}

	// Prefill in chunks so the step buffers stay bounded and a long prompt cannot starve
	// (later) other sequences of steps.
	start := time.Now()
	logits := e.logits[0]
	for done := 0; done < len(req.Prompt); {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := min(e.opt.PrefillChunk, len(req.Prompt)-done)
		if err := e.step(seq, req.Prompt[done:done+n], done, done+n == len(req.Prompt)); err != nil {
			return nil, err
		}
		done += n
	}
	prefill := time.Since(start)
	res.PrefillSeconds = prefill.Seconds()
	res.PrefillTokensPerS = float64(len(req.Prompt)) / prefill.Seconds()
	res.TimeToFirstTokenMS = float64(prefill.Microseconds()) / 1000

	sampler.Observe(req.Prompt...)
	last := req.Prompt[len(req.Prompt)-1]
	var text []byte
	decodeStart := time.Now()
	for i := 0; i < maxNew; i++ {
		if i > 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			e.tok1[0] = last
			if err := e.step(seq, e.tok1[:], seq.Len(), true); err != nil {
				return nil, err
			}
		}
		id := sampler.Sample(logits, nil)
		if id < 0 {
			return nil, errors.New("no token can be sampled: every logit is -Inf or NaN")
		}
		sampler.Accept(id)
		last = id
		res.IDs = append(res.IDs, id)
		piece, stopped := stop.Push(id, dec.Next(id))
		text = append(text, piece...)
		if emit != nil {
			if err := emit(Event{Token: id, Text: piece}); err != nil {
				return nil, err
			}
		}
		if stopped {
			res.FinishReason = FinishStop
			break
		}
	}
	if res.FinishReason != FinishStop {
		tail, _ := stop.Push(-1, dec.Flush())
		tail += stop.Flush()
		text = append(text, tail...)
		if emit != nil && tail != "" {
			if err := emit(Event{Token: -1, Text: tail}); err != nil {
				return nil, err
			}
		}
	}
	decode := time.Since(decodeStart)
	res.CompletionTokens = len(res.IDs)
	res.Text = string(text)
	res.DecodeSeconds = decode.Seconds()
	// The first generated token comes from the prefill step; decode speed counts the rest.
	if n := len(res.IDs) - 1; n > 0 && decode > 0 {
		res.DecodeTokensPerS = float64(n) / decode.Seconds()
	}
	res.KVPagesPeak = e.pool.Peak()
	return res, nil
}

// step appends tokens to seq's KV and runs one forward pass; with wantLogits the logits of
// the last token land in e.logits[0].
func (e *Engine) step(seq *kv.Sequence, tokens []int32, startPos int, wantLogits bool) error {
	moves, err := seq.Append(len(tokens))
	if err != nil {
		return fmt.Errorf("kv: %w", err)
	}
	if len(moves) > 0 { // copy-on-write of a shared last page
		if err := e.be.CopySlots(moves); err != nil {
			return fmt.Errorf("kv: %w", err)
		}
	}
	e.pos = e.pos[:0]
	for i := range tokens {
		e.pos = append(e.pos, int32(startPos+i))
	}
	e.batch.Seqs = append(e.batch.Seqs[:0], backend.SeqInput{
		Tokens: tokens, Positions: e.pos, Start: startPos, Pages: seq.Pages(), Logits: wantLogits,
	})
	if err := e.be.Forward(&e.batch, e.logits); err != nil {
		return fmt.Errorf("forward: %w", err)
	}
	return nil
}
