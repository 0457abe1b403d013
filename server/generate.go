package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/arborlabs/arbor/runtime/engine"
	"github.com/arborlabs/arbor/runtime/sample"
	"github.com/arborlabs/arbor/server/openai"
)

// choiceEvent is one event of one choice, as the merged stream delivers it.
type choiceEvent struct {
	choice int
	ev     engine.Event
	err    error // the choice failed (io.EOF is never sent: Done events end choices)
}

// run is one request's set of engine streams (n choices, times the prompts of a completions
// request), merged into one channel in arrival order.
type run struct {
	events  chan choiceEvent
	cancel  context.CancelFunc
	start   time.Time
	lastTok []time.Time // per choice: when its last token arrived (inter-token latency)
}

// check rejects a request that cannot fit the context before anything is queued: a prompt that
// fills the context, or a prompt plus max_tokens that overflows it (OpenAI's and vLLM's rule).
func checkContext(prompt, maxTokens, maxContext int) error {
	if prompt >= maxContext {
		return fmt.Errorf("%w: this model's maximum context length is %d tokens, and the prompt has %d",
			engine.ErrContextLength, maxContext, prompt)
	}
	if maxTokens > 0 && prompt+maxTokens > maxContext {
		return fmt.Errorf("%w: this model's maximum context length is %d tokens; the prompt has %d and "+
			"max_tokens asks for %d more (at most %d fit)",
			engine.ErrContextLength, maxContext, prompt, maxTokens, maxContext-prompt)
	}
	return nil
}

// submit queues reqs (one per choice) and starts forwarding their events. Either every request
// is queued or none is (those already queued are cancelled): a request is answered with one
// status. Cancelling ctx, or calling run.cancel, aborts them all and frees their KV pages.
func (s *Server) submit(ctx context.Context, st *modelState, reqs []engine.Request) (*run, error) {
	ctx, cancel := context.WithCancel(ctx)
	r := &run{events: make(chan choiceEvent, 16), cancel: cancel, start: time.Now(),
		lastTok: make([]time.Time, len(reqs))}
	streams := make([]EventStream, len(reqs))
	for i, req := range reqs {
		stream, err := st.gen.Submit(ctx, req)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("submit choice %d: %w", i, err)
		}
		streams[i] = stream
	}
	for i, stream := range streams {
		go func() {
			for {
				ev, err := stream.Recv(ctx)
				if errors.Is(err, io.EOF) {
					return
				}
				select {
				case r.events <- choiceEvent{choice: i, ev: ev, err: err}:
				case <-ctx.Done():
					return
				}
				if err != nil || ev.Done {
					return
				}
			}
		}()
	}
	return r, nil
}

// next returns the next event of any choice, or ctx's error when the client went away.
func (r *run) next(ctx context.Context) (choiceEvent, error) {
	select {
	case ce := <-r.events:
		return ce, nil
	case <-ctx.Done():
		return choiceEvent{}, fmt.Errorf("client gone: %w", ctx.Err())
	}
}

// observeToken records inter-token latency for a token event.
func (s *Server) observeToken(r *run, ce choiceEvent) {
	if ce.ev.Token < 0 {
		return
	}
	now := time.Now()
	if last := r.lastTok[ce.choice]; !last.IsZero() {
		s.metrics.itl.Observe(now.Sub(last).Seconds())
	}
	r.lastTok[ce.choice] = now
}

// choiceRequests makes n engine requests from one, with seeds seed, seed+1, ...: each choice
// must differ from the others, and the whole set must be reproducible from the request's seed.
func choiceRequests(base engine.Request, n int) []engine.Request {
	reqs := make([]engine.Request, n)
	for i := range reqs {
		reqs[i] = base
		if base.Sampling.Seed != nil && i > 0 {
			sd := *base.Sampling.Seed + uint64(i)
			reqs[i].Sampling.Seed = &sd
		}
	}
	return reqs
}

// tokenInfo is a token's text and bytes as logprobs report them.
type tokenInfo struct {
	text  string
	bytes []int
}

// tokenInfo returns how logprobs name token id. A token that is not whole UTF-8 on its own
// (a byte-level piece of a character) is named "bytes:\xNN..." as OpenAI does, and its bytes
// are its real bytes, so that a client joining the bytes of consecutive tokens gets the text.
func (st *modelState) tokenInfo(id int32) tokenInfo {
	if v, ok := st.tokCache.Load(id); ok {
		return v.(tokenInfo)
	}
	text := st.tok.Decode([]int32{id})
	raw := []byte(text)
	if strings.ContainsRune(text, utf8.RuneError) {
		if b := st.tok.TokenBytes(id); b != nil && !utf8.Valid(b) {
			raw = b
			var sb strings.Builder
			sb.WriteString("bytes:")
			for _, c := range b {
				fmt.Fprintf(&sb, "\\x%02x", c)
			}
			text = sb.String()
		}
	}
	ti := tokenInfo{text: text, bytes: make([]int, len(raw))}
	for i, c := range raw {
		ti.bytes[i] = int(c)
	}
	st.tokCache.Store(id, ti)
	return ti
}

// topLogprobs converts the engine's alternatives.
func (st *modelState) topList(top []sample.TokenLogprob) []openai.TopLogprob {
	out := make([]openai.TopLogprob, len(top))
	for i, t := range top {
		ti := st.tokenInfo(t.Token)
		out[i] = openai.TopLogprob{Token: ti.text, Logprob: float64(t.Logprob), Bytes: ti.bytes}
	}
	return out
}

func (st *modelState) logprobOf(ev engine.Event) openai.ChatLogprob {
	ti := st.tokenInfo(ev.Token)
	return openai.ChatLogprob{Token: ti.text, Logprob: float64(ev.Logprob), Bytes: ti.bytes,
		TopLogprobs: st.topList(ev.TopLogprobs)}
}

// usageOf sums the usage of a request's choices; prompts shared by choices count once.
func usageOf(results []*engine.Result, choicesPerPrompt int) *openai.Usage {
	u := &openai.Usage{PromptTokensDetails: &openai.PromptDetails{}}
	for i, r := range results {
		if r == nil {
			continue
		}
		if i%choicesPerPrompt == 0 {
			u.PromptTokens += r.PromptTokens
			u.PromptTokensDetails.CachedTokens += r.CachedTokens
		}
		u.CompletionTokens += r.CompletionTokens
	}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	u.AddAttention(results)
	return u
}
