// Package engine turns requests into forward steps: it owns the sequences, their KV pages and
// their samplers, and calls a backend one batch at a time.
//
// Scheduling is continuous batching: one goroutine steps every running sequence together, each
// step mixing single decode tokens with chunks of prompts still being prefilled (so that a long
// prompt never stalls the streams already flowing). Requests wait in a bounded queue until the
// KV pool has pages for them; when the pool runs dry mid-generation, the most recently admitted
// sequence is preempted (its pages freed, its tokens recomputed later), as vLLM does.
package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/arborlabs/arbor/runtime/backend"
	"github.com/arborlabs/arbor/runtime/grammar"
	"github.com/arborlabs/arbor/runtime/kv"
	"github.com/arborlabs/arbor/runtime/sample"
	"github.com/arborlabs/arbor/runtime/sparse"
	"github.com/arborlabs/arbor/runtime/tokenizer"
)

// Finish reasons, as the OpenAI API names them.
const (
	FinishStop   = "stop"   // a stop token or stop string
	FinishLength = "length" // max tokens or the context limit
)

var (
	// ErrContextLength is returned (wrapped) when a prompt does not fit the model's context.
	ErrContextLength = errors.New("prompt longer than the context")
	// ErrQueueFull is returned by Submit when the waiting queue is at its limit.
	ErrQueueFull = errors.New("request queue is full")
	// ErrClosed is returned by Submit after Shutdown began.
	ErrClosed = errors.New("engine is shutting down")
	// ErrBadRequest is wrapped by Submit's validation errors (empty prompt, bad sampling).
	ErrBadRequest = errors.New("bad request")
	// ErrGrammar is wrapped by the errors of a request's grammar during decoding: a mask past
	// its work budget (grammar.ErrTooCostly), or no allowed token left. The request's schema
	// is at fault, not the server.
	ErrGrammar = errors.New("grammar")
)

// Request is one generation.
type Request struct {
	Prompt    []int32
	MaxTokens int // new tokens at most; 0 means up to the context limit
	Sampling  sample.Params
	// StopTokens end generation when sampled (the token itself is not part of the text).
	StopTokens []int32
	// StopStrings end generation when they appear in the text, which then ends before them.
	StopStrings []string
	// Logprobs asks for the log-probability of each generated token, and TopLogprobs (0 to 20)
	// for that many alternatives per position.
	Logprobs    bool
	TopLogprobs int
	// Grammar constrains the output (nil: free text). Tokens it rejects are masked out before
	// sampling; when its value is complete the generation ends with FinishStop.
	Grammar *grammar.Grammar
	// FitGrammar makes the grammar's value end within the tokens left (max tokens, or the
	// context's end): near the end, a token is allowed only if the value can still be finished
	// in the tokens after it, one byte a token at worst (grammar.Matcher.AllowedWithin), so the
	// output is a whole value rather than one cut off. When that bound chose a token, the
	// finish reason stays FinishLength. Tokens forced by the hook (tool results) are not bounded.
	FitGrammar bool
	// Hook, when set, sees every output token and may run calls inside the decode (forced
	// tokens) and drop spans from the KV cache; PositionPolicy says how positions follow a
	// dropped span.
	Hook           Hook
	PositionPolicy PositionPolicy
	// Sparse, when set, asks for DELTA sparse attention on this request's decode steps (see
	// backend.SeqInput.Sparse: contexts shorter than the selection still attend fully); nil
	// means full attention. The engine only passes it on, never changes it, so choices of
	// one request may share it.
	Sparse *sparse.Config
	// Background marks work of the server's own that no client waits for (a session's
	// summary): it is queued behind every other request, waiting or arriving later, and is
	// the first to be preempted when the KV pool runs dry, so that it never delays a client.
	Background bool
	// Embed asks for the prompt's embedding instead of a generation: the mean of its tokens'
	// last hidden states (after the final norm), in Result.Embedding. Every prompt token is
	// computed (no prefix cache), nothing is sampled; Hook and Grammar must be nil, and the
	// backend must pool hidden states (backend.HiddenPooler).
	Embed bool
}

// Event is one step of output: a new token and the text it completes (possibly empty while a
// UTF-8 character or a possible stop string is incomplete). The last event of a stream has
// Done set, with the finish reason and the usage; Token is -1 on events that carry text only.
type Event struct {
	Token       int32
	Text        string
	Logprob     float32
	TopLogprobs []sample.TokenLogprob
	Done        bool
	Result      *Result // on the last event
}

// Result sums up a finished generation.
type Result struct {
	IDs                []int32 `json:"ids"`
	Text               string  `json:"text"`
	PromptTokens       int     `json:"prompt_tokens"`
	CompletionTokens   int     `json:"completion_tokens"`
	CachedTokens       int     `json:"cached_tokens"`
	FinishReason       string  `json:"finish_reason"`
	PrefillTokensPerS  float64 `json:"prefill_tokens_per_s"`
	DecodeTokensPerS   float64 `json:"decode_tokens_per_s"`
	PrefillSeconds     float64 `json:"prefill_seconds"`
	DecodeSeconds      float64 `json:"decode_seconds"`
	QueueSeconds       float64 `json:"queue_seconds"`
	TimeToFirstTokenMS float64 `json:"time_to_first_token_ms"`
	KVPagesPeak        int     `json:"kv_pages_peak"`
	Preemptions        int     `json:"preemptions,omitempty"`
	// KVPeakTokens is the most tokens this sequence held in the KV cache at once (prompt
	// included); PrunedTokens the tokens its hook dropped; ForcedTokens the output tokens
	// its hook's calls inserted (counted in CompletionTokens too); Calls those calls.
	KVPeakTokens int `json:"kv_peak_tokens"`
	PrunedTokens int `json:"pruned_tokens,omitempty"`
	ForcedTokens int `json:"forced_tokens,omitempty"`
	Calls        int `json:"calls,omitempty"`
	// AttendedTokens and ContextTokens sum, over this request's decode steps (one new token),
	// the context slots the token attended to (averaged over layers, as the backend reports
	// them) and the ones it could have: their ratio is the share of the KV cache sparse
	// attention read. Equal under full attention. SparseAttention says the request asked
	// for sparse attention (Request.Sparse set).
	AttendedTokens  int64 `json:"attended_tokens"`
	ContextTokens   int64 `json:"context_tokens"`
	SparseAttention bool  `json:"sparse_attention,omitempty"`
	// Embedding is an Embed request's mean-pooled hidden state.
	Embedding []float32 `json:"-"`
}

// Options tune the engine.
type Options struct {
	// MaxContext caps prompt + generated tokens of one sequence (0: the whole KV pool).
	MaxContext int
	// StepTokens is the most tokens one forward step carries, decode tokens included (0: 512):
	// the prefill chunk size when a prompt is alone.
	StepTokens int
	// MaxSeqs is the most sequences running at once (0: 64).
	MaxSeqs int
	// MaxQueue is the most requests waiting for admission (0: 256); beyond it Submit fails
	// with ErrQueueFull.
	MaxQueue int
	// NoPrefixCache turns off sharing the KV pages of a common prompt prefix between requests.
	NoPrefixCache bool
	// NumLayers is the model's layer count, against which Validate checks a request's sparse
	// config, so that a config that does not fit the model is the request's error rather than
	// a failed step for every sequence batched with it. 0: not checked here (the backend
	// still refuses it).
	NumLayers int
}

// Engine runs requests on a backend. Its methods are safe for concurrent use.
type Engine struct {
	be   backend.Backend
	tok  *tokenizer.Tokenizer
	pool *kv.Pool
	opt  Options

	mu       sync.Mutex
	waiting  []*seqState
	closing  bool
	wake     chan struct{}
	loopDone chan struct{}
	stopLoop context.CancelFunc

	// Scheduler goroutine only.
	running []*seqState
	logits  [][]float32
	batch   backend.Batch
	inBatch []*seqState
	picks   []pick
	pos     []int32
	// grammarPicks are this step's picks of sequences with a grammar, running on their own
	// goroutines.
	grammarPicks []*pick

	pickMu   sync.Mutex
	pickDone []*pick // grammar picks finished after their step stopped waiting

	stats counters

	callMu   sync.Mutex
	callDone []callResult // finished hook calls, for the scheduler to pick up

	vocabOnce sync.Once
	vocab     *grammar.Vocab
}

type counters struct {
	running, waiting            atomic.Int64
	promptTokens, genTokens     atomic.Int64
	prefixQueries, prefixHits   atomic.Int64
	preemptions, steps, stepTok atomic.Int64
	calls, forced, pruned       atomic.Int64
	latePicks                   atomic.Int64
	attended, context           atomic.Int64
}

// Stats are the engine's figures for metrics.
type Stats struct {
	Running, Waiting         int
	KVPagesInUse, KVPages    int
	KVPagesPeak              int
	KVPagesCached            int   // pages holding a cached prefix, in use or free
	PromptTokens, GenTokens  int64 // totals since start
	PrefixQueries, PrefixHit int64 // tokens looked up in / found in the prefix cache
	Preemptions              int64
	Steps, StepTokens        int64
	// Hooks' work: calls run inside the decode, tokens they forced, tokens dropped from KV.
	Calls, ForcedTokens, PrunedTokens int64
	// GrammarLatePicks counts grammar picks that outlasted their step: their sequence paused
	// while the others stepped on.
	GrammarLatePicks int64
	// AttendedTokens and ContextTokens are the totals of Result's: context slots attended to
	// by decode tokens, and the ones they could have attended to.
	AttendedTokens, ContextTokens int64
}

// New makes an engine over a backend whose KV memory the engine's page pool describes, and
// starts its scheduler. Shutdown stops it.
func New(be backend.Backend, tok *tokenizer.Tokenizer, opt Options) *Engine {
	if opt.StepTokens <= 0 {
		opt.StepTokens = 512
	}
	if opt.MaxSeqs <= 0 {
		opt.MaxSeqs = 64
	}
	if opt.MaxQueue <= 0 {
		opt.MaxQueue = 256
	}
	capacity := be.NumPages() * be.PageSize()
	if opt.MaxContext <= 0 || opt.MaxContext > capacity {
		opt.MaxContext = capacity
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Engine{
		be:       be,
		tok:      tok,
		pool:     kv.NewPool(be.NumPages(), be.PageSize()),
		opt:      opt,
		wake:     make(chan struct{}, 1),
		loopDone: make(chan struct{}),
		stopLoop: cancel,
	}
	go e.loop(ctx)
	return e
}

// MaxContext is the most tokens (prompt and generated) one sequence may hold.
func (e *Engine) MaxContext() int { return e.opt.MaxContext }

// Tokenizer is the model's tokenizer.
func (e *Engine) Tokenizer() *tokenizer.Tokenizer { return e.tok }

// Stats reads the current figures; it never waits on the scheduler.
func (e *Engine) Stats() Stats {
	return Stats{
		Running:       int(e.stats.running.Load()),
		Waiting:       int(e.stats.waiting.Load()),
		KVPagesInUse:  e.pool.InUse(),
		KVPages:       e.pool.Capacity(),
		KVPagesPeak:   e.pool.Peak(),
		KVPagesCached: e.pool.CachedPages(),
		PromptTokens:  e.stats.promptTokens.Load(),
		GenTokens:     e.stats.genTokens.Load(),
		PrefixQueries: e.stats.prefixQueries.Load(),
		PrefixHit:     e.stats.prefixHits.Load(),
		Preemptions:   e.stats.preemptions.Load(),
		Steps:         e.stats.steps.Load(),
		StepTokens:    e.stats.stepTok.Load(),
		Calls:         e.stats.calls.Load(),
		ForcedTokens:  e.stats.forced.Load(),
		PrunedTokens:  e.stats.pruned.Load(),

		GrammarLatePicks: e.stats.latePicks.Load(),
		AttendedTokens:   e.stats.attended.Load(),
		ContextTokens:    e.stats.context.Load(),
	}
}

// Validate checks a request against the engine's limits without queueing it.
func (e *Engine) Validate(req *Request) error {
	if len(req.Prompt) == 0 {
		return fmt.Errorf("%w: empty prompt", ErrBadRequest)
	}
	vocab := e.be.VocabSize()
	for _, id := range req.Prompt {
		if id < 0 || int(id) >= vocab {
			return fmt.Errorf("%w: prompt token %d outside the vocabulary of %d", ErrBadRequest, id, vocab)
		}
	}
	if len(req.Prompt) >= e.opt.MaxContext {
		return fmt.Errorf("%w: %d prompt tokens, the context holds %d",
			ErrContextLength, len(req.Prompt), e.opt.MaxContext)
	}
	if req.MaxTokens < 0 {
		return fmt.Errorf("%w: max tokens %d is negative", ErrBadRequest, req.MaxTokens)
	}
	if req.Embed {
		if _, ok := e.be.(backend.HiddenPooler); !ok {
			return fmt.Errorf("%w: this backend does not compute embeddings (pooled hidden states)", ErrBadRequest)
		}
		if req.Hook != nil || req.Grammar != nil {
			return fmt.Errorf("%w: an embedding request takes no hook and no grammar", ErrBadRequest)
		}
		req.Sampling = sample.DefaultParams() // nothing is sampled
	}
	if req.TopLogprobs < 0 || req.TopLogprobs > 20 {
		return fmt.Errorf("%w: top_logprobs %d outside [0, 20]", ErrBadRequest, req.TopLogprobs)
	}
	if err := req.Sampling.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	if c := req.Sparse; c != nil {
		if e.opt.NumLayers > 0 {
			if err := c.Validate(e.opt.NumLayers); err != nil {
				return fmt.Errorf("%w: %w", ErrBadRequest, err)
			}
		} else if c.Budget < 1 || c.Recent < 1 {
			return fmt.Errorf("%w: sparse budget %d and recent %d must be at least 1", ErrBadRequest, c.Budget, c.Recent)
		}
	}
	return nil
}

// CanEmbed reports whether the backend computes embeddings (Request.Embed).
func (e *Engine) CanEmbed() bool {
	_, ok := e.be.(backend.HiddenPooler)
	return ok
}

// Submit queues a request and returns its stream of events. The request is cancelled when ctx
// ends (its pages are freed at the next step). Errors: ErrBadRequest, ErrContextLength,
// ErrQueueFull, ErrClosed (all wrapped).
func (e *Engine) Submit(ctx context.Context, req Request) (*Stream, error) {
	if err := e.Validate(&req); err != nil {
		return nil, err
	}
	s := newSeqState(ctx, e, req)
	e.mu.Lock()
	switch {
	case e.closing:
		e.mu.Unlock()
		return nil, ErrClosed
	case len(e.waiting) >= e.opt.MaxQueue:
		e.mu.Unlock()
		return nil, fmt.Errorf("%w (%d waiting)", ErrQueueFull, len(e.waiting))
	}
	e.enqueue(s, len(e.waiting))
	e.mu.Unlock()
	e.signal()
	return s.stream, nil
}

// enqueue puts s into the waiting queue at index at, kept in two parts: every request that is
// not background before every background one. e.mu is held.
func (e *Engine) enqueue(s *seqState, at int) {
	firstBackground := len(e.waiting)
	for i, w := range e.waiting {
		if w.req.Background {
			firstBackground = i
			break
		}
	}
	if s.req.Background {
		at = max(at, firstBackground)
	} else {
		at = min(at, firstBackground)
	}
	e.waiting = slices.Insert(e.waiting, at, s)
	e.stats.waiting.Store(int64(len(e.waiting)))
}

// Generate runs one request to completion, calling emit (if not nil) for every event but the
// last. A non-nil error from emit, or ctx ending, cancels the request.
func (e *Engine) Generate(ctx context.Context, req Request, emit func(Event) error) (*Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := e.Submit(ctx, req)
	if err != nil {
		return nil, err
	}
	for {
		ev, err := st.Recv(ctx)
		if err != nil {
			return nil, err
		}
		if ev.Done {
			if ev.Text != "" && emit != nil {
				if err := emit(Event{Token: -1, Text: ev.Text}); err != nil {
					return nil, err
				}
			}
			return ev.Result, nil
		}
		if emit != nil {
			if err := emit(ev); err != nil {
				return nil, err
			}
		}
	}
}

// Shutdown stops admitting requests, lets the running and queued ones finish until ctx ends,
// then cancels what is left and stops the scheduler.
func (e *Engine) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	e.closing = true
	e.mu.Unlock()
	e.signal()
	idle := make(chan struct{})
	go func() {
		for {
			st := e.Stats()
			if st.Running == 0 && st.Waiting == 0 {
				close(idle)
				return
			}
			select {
			case <-time.After(5 * time.Millisecond):
			case <-e.loopDone:
				close(idle)
				return
			}
		}
	}()
	var err error
	select {
	case <-idle:
	case <-ctx.Done():
		err = ctx.Err()
	}
	e.stopLoop()
	<-e.loopDone
	return err
}

func (e *Engine) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// loop is the scheduler: admit, step, emit, until stopped.
func (e *Engine) loop(ctx context.Context) {
	defer close(e.loopDone)
	defer e.abortAll(ErrClosed)
	for {
		e.deliverPicks()
		e.deliverCalls()
		e.admit()
		if ctx.Err() != nil {
			return
		}
		ran := false
		if len(e.running) > 0 {
			var err error
			ran, err = e.stepOnce()
			if err != nil {
				// A backend failure fails the sequences of that step, not the engine.
				for _, s := range e.inBatch {
					e.finish(s, "", err)
				}
			}
			e.reap()
		}
		if !ran {
			// Nothing to step (no sequences, or all paused on calls): sleep until a request,
			// a call's result or a cancellation arrives.
			select {
			case <-ctx.Done():
				return
			case <-e.wake:
			}
		}
	}
}

// abortAll ends every queued and running sequence with err.
func (e *Engine) abortAll(err error) {
	e.mu.Lock()
	w := e.waiting
	e.waiting = nil
	e.stats.waiting.Store(0)
	e.mu.Unlock()
	for _, s := range w {
		s.stream.fail(err)
	}
	for _, s := range e.running {
		e.finish(s, "", err)
	}
	e.reap()
}

// admit moves waiting requests into the running set while there is room: a free sequence slot
// and free pages for the prompt (plus one page of headroom per running sequence, so admitted
// sequences can grow a little before anyone is preempted).
func (e *Engine) admit() {
	e.mu.Lock()
	defer e.mu.Unlock()
	ps := e.pool.PageSize()
	for len(e.waiting) > 0 && len(e.running) < e.opt.MaxSeqs {
		s := e.waiting[0]
		if s.ctx.Err() != nil {
			e.waiting = e.waiting[1:]
			s.stream.fail(s.ctx.Err())
			continue
		}
		need := (len(s.live)+1+ps-1)/ps + len(e.running)
		if need > e.pool.NumFree() && len(e.running) > 0 {
			break
		}
		e.waiting = e.waiting[1:]
		s.admitted = time.Now()
		first := s.firstAdmit.IsZero()
		if first {
			s.firstAdmit = s.admitted
		}
		if s.kv == nil {
			s.kv = e.pool.NewSequence()
		}
		if !e.opt.NoPrefixCache && len(s.dropped) == 0 && !s.req.Embed {
			// Share the KV of every full page of the prefix that an earlier request computed.
			// The last token is never attached: its logits must be computed. (A sequence that
			// dropped spans recomputes all: its positions are not those of a plain prefix.)
			query := len(s.live) - 1
			hit := s.kv.AttachPrefix(kv.PageHashes(s.live[:query], ps))
			if first {
				e.stats.prefixQueries.Add(int64(query))
				e.stats.prefixHits.Add(int64(hit))
				s.result.CachedTokens = hit
			}
		}
		e.running = append(e.running, s)
	}
	e.stats.waiting.Store(int64(len(e.waiting)))
	e.stats.running.Store(int64(len(e.running)))
}

// stepOnce builds one batch (decode tokens first, then prefill chunks within the step's token
// budget), runs it, and samples for every sequence whose last token went through.
func (e *Engine) stepOnce() (bool, error) {
	e.batch.Seqs = e.batch.Seqs[:0]
	e.inBatch = e.inBatch[:0]
	budget := e.opt.StepTokens
	// Decoding sequences first: a stream in flight never waits behind a prompt.
	for pass := 0; pass < 2; pass++ {
		for _, s := range e.running {
			if s.done || s.calling || s.pickPending || s.ctx.Err() != nil {
				continue
			}
			pending := len(s.live) - s.kv.Len()
			decoding := pending == 1
			if (pass == 0) != decoding || pending <= 0 {
				continue
			}
			n := pending
			if !decoding {
				if budget <= 0 {
					continue
				}
				n = min(n, budget)
			}
			if !e.reserve(s, n) {
				continue // s itself was preempted
			}
			budget -= n
			e.addToBatch(s, n)
		}
	}
	if len(e.inBatch) == 0 {
		return false, nil
	}
	// Page tables and positions are filled in last: appending to a page table may move it, and
	// preemption may have dropped sequences added earlier in this step.
	e.pos = e.pos[:0]
	for i, s := range e.inBatch {
		in := &e.batch.Seqs[i]
		in.Pages = s.kv.Pages()
		e.pos = append(e.pos, s.pos[in.Start:in.Start+len(in.Tokens)]...)
		s.kvPeak = max(s.kvPeak, s.kv.Len())
	}
	off := 0
	for i := range e.batch.Seqs {
		k := len(e.batch.Seqs[i].Tokens)
		e.batch.Seqs[i].Positions = e.pos[off : off+k]
		off += k
	}
	for len(e.logits) < len(e.inBatch) {
		e.logits = append(e.logits, make([]float32, e.be.VocabSize()))
	}
	start := time.Now()
	if err := e.be.Forward(&e.batch, e.logits); err != nil {
		return true, fmt.Errorf("forward: %w", err)
	}
	elapsed := time.Since(start)
	if !e.opt.NoPrefixCache {
		// The step wrote these pages' KV: full ones may now be shared by later requests.
		ps := e.pool.PageSize()
		for _, s := range e.inBatch {
			if len(s.dropped) > 0 {
				continue // positions past a dropped span are not a plain prefix's
			}
			s.hashes = kv.AppendPageHashes(s.hashes, s.live[:s.kv.Len()], ps)
			s.kv.CommitPrefix(s.hashes)
		}
	}
	e.stats.steps.Add(1)
	e.stats.stepTok.Add(int64(e.batch.NumTokens()))
	e.picks = e.picks[:0]
	e.grammarPicks = e.grammarPicks[:0]
	now := time.Now()
	for i, s := range e.inBatch {
		if s.prefilling() {
			s.prefillTime += elapsed
		} else {
			s.decodeTime += elapsed
		}
		// Sparse attention applies to single-token steps only (backend.SeqInput.Sparse), so
		// those are the steps whose attended share means something.
		if in := &e.batch.Seqs[i]; len(in.Tokens) == 1 {
			s.result.AttendedTokens += int64(in.Attended)
			s.result.ContextTokens += int64(in.Context)
			e.stats.attended.Add(int64(in.Attended))
			e.stats.context.Add(int64(in.Context))
		}
		if in := &e.batch.Seqs[i]; s.req.Embed && in.Start+len(in.Tokens) == len(s.live) {
			// The whole prompt went through: its embedding is the mean of the pooled rows.
			n := float32(len(s.live))
			for j := range s.pool {
				s.pool[j] /= n
			}
			s.result.Embedding = s.pool
			e.finish(s, FinishStop, nil)
			continue
		}
		if !e.batch.Seqs[i].Logits {
			continue
		}
		if s.firstToken.IsZero() {
			s.firstToken = now
		}
		if s.matcher == nil {
			e.picks = append(e.picks, pick{s: s, logits: e.logits[i]})
			continue
		}
		// A grammar's pick may outlast this step, so it draws from logits of its own: the
		// sequence's buffer and the step's trade places.
		if s.logits == nil {
			s.logits = make([]float32, len(e.logits[i]))
		}
		s.logits, e.logits[i] = e.logits[i], s.logits
		e.grammarPicks = append(e.grammarPicks, e.startGrammarPick(s))
	}
	e.pickAll()
	e.awaitGrammarPicks(max(minGrammarWait, elapsed/2))
	for i := range e.picks {
		e.commit(&e.picks[i])
	}
	return true, nil
}

// pick is one sequence's draw in a step: picked in parallel, committed in order.
type pick struct {
	s      *seqState
	logits []float32
	id     int32
	ev     Event
	err    error
	// A grammar pick's hand-over between its goroutine and the scheduler: state (pickWaited,
	// pickInTime, pickLate) and done, closed when it finished in time.
	state    atomic.Int32
	done     chan struct{}
	stopWake func() bool // a late pick's wake-up on its request's cancellation
}

// minGrammarWait is the least a step waits for grammar picks before it goes on without them.
const minGrammarWait = time.Millisecond

// pickAll draws the next token of every sequence without a grammar. Sampling a 150k
// vocabulary at a temperature costs about as much as a small model's forward step, so with
// several sequences the draws run on all cores; each sequence's sampler is its own.
func (e *Engine) pickAll() {
	n := len(e.picks)
	workers := min(n, runtime.GOMAXPROCS(0))
	if workers <= 1 {
		for i := range e.picks {
			e.pickOne(&e.picks[i])
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	wg.Add(workers - 1)
	work := func() {
		for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
			e.pickOne(&e.picks[i])
		}
	}
	for w := 1; w < workers; w++ {
		go func() {
			defer wg.Done()
			work()
		}()
	}
	work()
	wg.Wait()
}

// Grammar picks run off the scheduler: a mask the cache does not hold walks the vocabulary
// through the grammar's automaton, which for an ambiguous grammar can take far longer than a
// step. The step waits for them a little (half its forward time, so that the usual cheap
// masks still land in the same step); a pick still running then pauses its sequence, as a
// tool call does, and the other sequences step on without it. The finished pick is committed
// at the start of a later step (deliverPicks).

// Grammar pick states: the step is waiting for it, its goroutine finished it in time, or the
// step gave up waiting and the goroutine hands it over through pickDone.
const (
	pickWaited int32 = iota
	pickInTime
	pickLate
)

// startGrammarPick starts s's draw on a goroutine of its own.
func (e *Engine) startGrammarPick(s *seqState) *pick {
	p := &pick{s: s, logits: s.logits, done: make(chan struct{})}
	go func() {
		e.pickOne(p)
		if p.state.CompareAndSwap(pickWaited, pickInTime) {
			close(p.done)
			return
		}
		e.pickMu.Lock()
		e.pickDone = append(e.pickDone, p)
		e.pickMu.Unlock()
		e.signal()
	}()
	return p
}

// awaitGrammarPicks waits up to wait for this step's grammar picks. Those done are committed
// with the step's other picks; each of the others pauses its sequence until deliverPicks.
func (e *Engine) awaitGrammarPicks(wait time.Duration) {
	if len(e.grammarPicks) == 0 {
		return
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	expired := false
	for _, p := range e.grammarPicks {
		if !expired {
			select {
			case <-p.done:
			case <-timer.C:
				expired = true
			}
		}
		if p.state.CompareAndSwap(pickWaited, pickLate) {
			p.s.pickPending = true
			// The scheduler may sleep while the pick runs: a cancellation must wake it, so
			// that the sequence's pages are freed at once.
			p.stopWake = context.AfterFunc(p.s.ctx, e.signal)
			e.stats.latePicks.Add(1)
			continue
		}
		e.picks = append(e.picks, pick{s: p.s, logits: p.logits, id: p.id, ev: p.ev, err: p.err})
	}
}

// deliverPicks commits the grammar picks that finished after their step stopped waiting.
func (e *Engine) deliverPicks() {
	e.pickMu.Lock()
	done := e.pickDone
	e.pickDone = nil
	e.pickMu.Unlock()
	for _, p := range done {
		p.stopWake()
		p.s.pickPending = false
		if p.s.done {
			continue
		}
		e.commit(p)
	}
}

// reserve appends n slots to s's KV, preempting the most recently admitted other sequences
// when the pool is dry. It reports false when s itself had to give way.
func (e *Engine) reserve(s *seqState, n int) bool {
	for {
		moves, err := s.kv.Append(n)
		if err == nil {
			if len(moves) > 0 {
				if err := e.be.CopySlots(moves); err != nil {
					e.finish(s, "", fmt.Errorf("kv copy-on-write: %w", err))
					return false
				}
			}
			return true
		}
		if !errors.Is(err, kv.ErrOutOfPages) {
			e.finish(s, "", fmt.Errorf("kv: %w", err))
			return false
		}
		victim := e.victim(s)
		if victim == nil {
			// Nobody else to take pages from: s cannot grow, whatever we do.
			e.finish(s, "", fmt.Errorf("kv: the pool of %d pages cannot hold this sequence: %w",
				e.pool.Capacity(), err))
			return false
		}
		e.preempt(victim)
		if victim == s {
			return false
		}
	}
}

// victim is the sequence to preempt so that s can grow: the most recently admitted live
// background one, else the most recently admitted live one (s itself when it is the one), or
// nil when s is alone.
func (e *Engine) victim(s *seqState) *seqState {
	live := 0
	var newest, background *seqState
	for _, r := range e.running {
		if !r.done {
			live++
			newest = r
			if r.req.Background {
				background = r
			}
		}
	}
	if live <= 1 {
		return nil
	}
	if background != nil {
		return background
	}
	return newest
}

// preempt frees s's pages and puts it back at the head of the queue; when re-admitted it
// recomputes its KV from its tokens (prompt and what it generated so far).
func (e *Engine) preempt(s *seqState) {
	s.kv.Free()
	s.hashes = s.hashes[:0]
	clear(s.pool) // an embedding's rows are pooled again as they are recomputed
	s.preemptions++
	e.stats.preemptions.Add(1)
	for i, r := range e.running {
		if r == s {
			e.running = append(e.running[:i], e.running[i+1:]...)
			break
		}
	}
	for i, r := range e.inBatch {
		if r == s { // drop it from this step's batch
			e.inBatch = append(e.inBatch[:i], e.inBatch[i+1:]...)
			e.batch.Seqs = append(e.batch.Seqs[:i], e.batch.Seqs[i+1:]...)
			break
		}
	}
	e.mu.Lock()
	e.enqueue(s, 0) // at the head (a background one: behind the others)
	e.mu.Unlock()
	e.stats.running.Store(int64(len(e.running)))
	// A step that preempted all it had built runs nothing; the loop then sleeps until woken,
	// and s must be re-admitted without waiting for an unrelated event.
	e.signal()
}

func (e *Engine) addToBatch(s *seqState, n int) {
	start := s.kv.Len() - n
	in := backend.SeqInput{
		Tokens: s.live[start : start+n],
		Start:  start,
		Logits: start+n == len(s.live),
		Sparse: s.req.Sparse,
	}
	if s.req.Embed {
		in.Logits, in.Pool = false, s.pool
	}
	e.batch.Seqs = append(e.batch.Seqs, in)
	e.inBatch = append(e.inBatch, s)
}

// GrammarVocab is the vocabulary the engine's grammars run over: each token's bytes (ids past
// the tokenizer's vocabulary have none) and the tokenizer's EOS ids. Built on first use.
func (e *Engine) GrammarVocab() *grammar.Vocab {
	e.vocabOnce.Do(func() {
		tb := make([][]byte, e.be.VocabSize())
		for i := range tb {
			tb[i] = e.tok.TokenBytes(int32(i))
		}
		e.vocab = grammar.NewVocab(tb, e.tok.EOS())
	})
	return e.vocab
}

// maskError is a failed token mask's error: the grammar's fault (ErrGrammar), unless the client
// went away mid-mask.
func maskError(s *seqState, err error) error {
	if s.ctx.Err() != nil {
		return err
	}
	return fmt.Errorf("%w: %w", ErrGrammar, err)
}

// pickOne draws p.s's next token from its logits (grammar-masked where one applies) and
// prepares its event. It touches only p.s's own state, so picks run in parallel.
func (e *Engine) pickOne(p *pick) {
	s, logits := p.s, p.logits
	chosen := false
	var id int32
	if ch, ok := s.req.Hook.(Chooser); ok {
		id, chosen = ch.Choose(s.generated)
		if chosen && (id < 0 || int(id) >= len(logits)) {
			p.err = fmt.Errorf("hook chose token %d, outside the vocabulary of %d", id, len(logits))
			return
		}
	}
	if !chosen {
		id = s.sampler.Sample(logits, nil)
	}
	if s.matcher != nil && !chosen {
		left := -1 // no budget
		if s.req.FitGrammar {
			left = min(s.maxNew-s.generated, e.opt.MaxContext-len(s.live))
		}
		allowed, fits := false, false
		if id >= 0 {
			allowed, fits = s.matcher.AllowedWithin(id, left)
		}
		if !allowed {
			// The grammar rejects the draw: mask and draw again (Pick, as the penalties are in).
			if err := s.matcher.FillMask(s.ctx, s.mask); err != nil {
				p.err = maskError(s, err)
				return
			}
			sample.MaskLogits(logits, s.mask)
			id = s.sampler.PickMasked(logits, s.mask, &s.maskScratch)
			fits = true
			if left >= 0 && id >= 0 {
				_, fits = s.matcher.AllowedWithin(id, left)
			}
		}
		if !fits {
			// The draw would leave the value longer than the tokens left: mask with the bound.
			if err := s.matcher.FillMaskWithin(s.ctx, s.mask, left); err != nil {
				p.err = maskError(s, err)
				return
			}
			// An empty mask: the value cannot fit even by its shortest way (max tokens too
			// small from the start); the draw stands and the output is cut as without the bound.
			if grammar.CountMask(s.mask) > 0 {
				sample.MaskLogits(logits, s.mask)
				id = s.sampler.PickMasked(logits, s.mask, &s.maskScratch)
				s.fitted = true
			}
		}
	}
	if id < 0 {
		p.err = errors.New("no token can be sampled: every logit is -Inf or NaN")
		if s.matcher != nil {
			p.err = fmt.Errorf("%w: no token the grammar allows here has a finite logit", ErrGrammar)
		}
		return
	}
	if s.matcher != nil {
		if err := s.matcher.Accept(id); err != nil {
			p.err = fmt.Errorf("%w: %w", ErrGrammar, err)
			return
		}
	}
	s.sampler.Accept(id)
	p.id = id
	p.ev = Event{Token: id}
	if s.req.Logprobs {
		p.ev.Logprob, p.ev.TopLogprobs = s.sampler.Logprobs(logits, id, s.req.TopLogprobs, nil)
	}
}

// commit appends a picked token to its sequence, emits it, and finishes the sequence when a
// stop condition holds. Commits run on the scheduler goroutine, in batch order.
func (e *Engine) commit(p *pick) {
	s, id, ev := p.s, p.id, p.ev
	if p.err != nil {
		e.finish(s, "", p.err)
		return
	}
	if call := e.appendToken(s, id, ev); call != nil && !s.done {
		e.startCall(s, call)
	}
}

// appendToken adds an output token (sampled, or forced by a call) to s, emits it, tells the
// hook and carries out what it asks, and finishes s when a stop condition holds. It returns
// the hook's call, if any, for the caller to start.
func (e *Engine) appendToken(s *seqState, id int32, ev Event) func(context.Context) ([]int32, error) {
	s.tokens = append(s.tokens, id)
	s.live = append(s.live, id)
	s.pos = append(s.pos, s.pos[len(s.pos)-1]+1)
	s.generated++
	e.stats.genTokens.Add(1)
	piece, stopped := s.stop.Push(id, s.dec.Next(id))
	s.text = append(s.text, piece...)
	ev.Text = piece
	s.stream.send(ev)
	var call func(context.Context) ([]int32, error)
	if s.req.Hook != nil {
		d := s.req.Hook.Appended(s.generated-1, id)
		if len(d.Drop) > 0 {
			if err := e.drop(s, d.Drop); err != nil {
				e.finish(s, "", err)
				return nil
			}
		}
		call = d.Call
	}
	switch {
	case stopped:
		e.finish(s, FinishStop, nil)
	case s.matcher != nil && s.matcher.Complete():
		// The value is whole: EOS is all the grammar allows, so stop without sampling it.
		s.grammarDone = true
		reason := FinishStop
		if s.fitted {
			reason = FinishLength // the token budget, not the model, closed it
		}
		e.finish(s, reason, nil)
	case s.generated >= s.maxNew, len(s.live) >= e.opt.MaxContext:
		e.finish(s, FinishLength, nil)
	}
	return call
}

// finish ends s: with err, its stream fails; otherwise the last event carries the result.
func (e *Engine) finish(s *seqState, reason string, err error) {
	if s.done {
		return
	}
	s.done = true
	if s.kv != nil {
		e.fillTimings(s)
		s.kv.Free()
	}
	if err != nil {
		s.stream.fail(err)
		return
	}
	tail := ""
	if reason != FinishStop || s.grammarDone {
		t, _ := s.stop.Push(-1, s.dec.Flush())
		tail = t + s.stop.Flush()
		s.text = append(s.text, tail...)
	}
	r := s.result
	r.FinishReason = reason
	r.Text = string(s.text)
	r.IDs = s.tokens[len(s.req.Prompt):]
	r.CompletionTokens = len(r.IDs)
	s.stream.send(Event{Token: -1, Text: tail, Done: true, Result: r})
}

// fillTimings fills the figures of s's result.
func (e *Engine) fillTimings(s *seqState) {
	r := s.result
	r.PromptTokens = len(s.req.Prompt)
	r.QueueSeconds = s.admittedFirst().Sub(s.enqueued).Seconds()
	r.PrefillSeconds = s.prefillTime.Seconds()
	r.DecodeSeconds = s.decodeTime.Seconds()
	if r.PrefillSeconds > 0 {
		r.PrefillTokensPerS = float64(r.PromptTokens) / r.PrefillSeconds
	}
	// The first generated token comes from the prefill step; decode speed counts the rest.
	if n := s.generated - 1; n > 0 && r.DecodeSeconds > 0 {
		r.DecodeTokensPerS = float64(n) / r.DecodeSeconds
	}
	if !s.firstToken.IsZero() {
		r.TimeToFirstTokenMS = float64(s.firstToken.Sub(s.enqueued).Microseconds()) / 1000
	}
	r.KVPagesPeak = e.pool.Peak()
	r.Preemptions = s.preemptions
	r.KVPeakTokens = s.kvPeak
	r.PrunedTokens = s.pruned
	r.ForcedTokens = s.forced
	r.Calls = s.calls
	r.SparseAttention = s.req.Sparse != nil
}

// reap drops finished and cancelled sequences from the running set.
func (e *Engine) reap() {
	kept := e.running[:0]
	for _, s := range e.running {
		if !s.done && s.ctx.Err() != nil {
			e.finish(s, "", s.ctx.Err())
		}
		if !s.done {
			kept = append(kept, s)
		}
	}
	clear(e.running[len(kept):])
	e.running = kept
	e.stats.running.Store(int64(len(e.running)))
}
