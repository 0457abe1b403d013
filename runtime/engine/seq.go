package engine

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/arborlabs/arbor/runtime/backend"
	"github.com/arborlabs/arbor/runtime/grammar"
	"github.com/arborlabs/arbor/runtime/kv"
	"github.com/arborlabs/arbor/runtime/sample"
	"github.com/arborlabs/arbor/runtime/tokenizer"
)

// seqState is one request inside the engine. Everything but the stream belongs to the
// scheduler goroutine.
type seqState struct {
	ctx    context.Context
	req    Request
	stream *Stream
	pool   []float32 // an Embed request's sum of hidden states

	kv     *kv.Sequence
	tokens []int32 // prompt, then output tokens (sampled or forced): the whole text
	// live are the tokens the KV cache holds or will hold, in order: tokens less the spans the
	// hook dropped; the KV holds live[:kv.Len()], and live[kv.Len():] wait for a forward pass.
	// pos are their RoPE positions (contiguous, unless the Gap policy left holes).
	live, pos   []int32
	dropped     []Span   // token ranges (indices into tokens) gone from live, sorted and disjoint
	hashes      []uint64 // chained hashes of the full pages of live whose KV is written
	maxNew      int
	sampler     *sample.Sampler
	stop        *sample.StopChecker
	dec         *tokenizer.Decoder
	text        []byte
	matcher     *grammar.Matcher // nil: no grammar
	fitted      bool             // Request.FitGrammar's bound chose a token
	mask        []uint64         // the matcher's token mask, allocated once
	maskScratch sample.MaskScratch

	grammarDone bool // finished because the grammar's value is complete
	calling     bool // paused while a hook's call runs
	// pickPending: paused while a grammar pick that outlasted its step runs; logits is the
	// buffer such picks draw from (see stepOnce).
	pickPending bool
	logits      []float32

	calls, forced, pruned, kvPeak int

	generated   int
	done        bool
	preemptions int
	result      *Result

	enqueued, admitted, firstAdmit, firstToken time.Time
	prefillTime, decodeTime                    time.Duration
}

func newSeqState(ctx context.Context, e *Engine, req Request) *seqState {
	maxNew := e.opt.MaxContext - len(req.Prompt)
	// A hook that drops spans lets the output outgrow the context: then max tokens may go past
	// it, and what must fit is the tokens held (appendToken checks that).
	if req.MaxTokens > 0 && (req.MaxTokens < maxNew || req.Hook != nil) {
		maxNew = req.MaxTokens
	}
	s := &seqState{
		ctx:      ctx,
		req:      req,
		stream:   newStream(),
		tokens:   append(make([]int32, 0, len(req.Prompt)+min(maxNew, 4096)), req.Prompt...),
		live:     append(make([]int32, 0, len(req.Prompt)+min(maxNew, 4096)), req.Prompt...),
		pos:      make([]int32, len(req.Prompt), len(req.Prompt)+min(maxNew, 4096)),
		maxNew:   maxNew,
		sampler:  sample.New(req.Sampling),
		stop:     sample.NewStopChecker(req.StopTokens, req.StopStrings),
		dec:      e.tok.NewDecoder(),
		result:   &Result{},
		enqueued: time.Now(),
	}
	for i := range s.pos {
		s.pos[i] = int32(i)
	}
	if req.Grammar != nil {
		v := e.GrammarVocab()
		s.matcher = req.Grammar.NewMatcher(v)
		s.mask = make([]uint64, v.MaskWords())
	}
	if req.Embed {
		s.pool = make([]float32, e.be.(backend.HiddenPooler).HiddenSize()) // Validate checked it
	}
	s.sampler.Observe(req.Prompt...)
	e.stats.promptTokens.Add(int64(len(req.Prompt)))
	return s
}

// prefilling reports whether s has not produced its first token yet.
func (s *seqState) prefilling() bool { return s.generated == 0 }

func (s *seqState) admittedFirst() time.Time {
	if s.firstAdmit.IsZero() {
		return s.admitted
	}
	return s.firstAdmit
}

// Stream carries one request's events from the scheduler to its reader. The scheduler never
// blocks on a slow reader: events queue up (a request's events are bounded by its max tokens).
type Stream struct {
	mu     sync.Mutex
	queue  []Event
	err    error // set when the request failed; Recv returns it after the queued events
	closed bool  // no more events will come
	ready  chan struct{}
}

func newStream() *Stream { return &Stream{ready: make(chan struct{}, 1)} }

func (st *Stream) send(ev Event) {
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return
	}
	st.queue = append(st.queue, ev)
	if ev.Done {
		st.closed = true
	}
	st.mu.Unlock()
	st.notify()
}

func (st *Stream) fail(err error) {
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return
	}
	st.err = err
	st.closed = true
	st.mu.Unlock()
	st.notify()
}

func (st *Stream) notify() {
	select {
	case st.ready <- struct{}{}:
	default:
	}
}

// Recv returns the next event, waiting for it. After the last event (Done set) it returns
// io.EOF; if the request failed, the error; if ctx ends first, ctx's error.
func (st *Stream) Recv(ctx context.Context) (Event, error) {
	for {
		st.mu.Lock()
		if len(st.queue) > 0 {
			ev := st.queue[0]
			st.queue[0] = Event{}
			st.queue = st.queue[1:]
			st.mu.Unlock()
			return ev, nil
		}
		closed, err := st.closed, st.err
		st.mu.Unlock()
		if closed {
			if err != nil {
				return Event{}, err
			}
			return Event{}, io.EOF
		}
		select {
		case <-st.ready:
		case <-ctx.Done():
			return Event{}, ctx.Err()
		}
	}
}
