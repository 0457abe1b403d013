package server

import (
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/arborlabs/arbor/runtime/engine"
	"github.com/arborlabs/arbor/server/openai"
)

// addLogprob adds a token's entry to legacy logprobs.
func (st *modelState) addLogprob(l *openai.CompletionLogprobs, ev engine.Event, offset int) {
	l.Tokens = append(l.Tokens, st.tokenInfo(ev.Token).text)
	l.TokenLogprobs = append(l.TokenLogprobs, float64(ev.Logprob))
	top := make(map[string]float64, len(ev.TopLogprobs))
	for _, t := range ev.TopLogprobs {
		name := st.tokenInfo(t.Token).text
		if _, dup := top[name]; !dup { // two ids with one text: keep the likelier (listed first)
			top[name] = float64(t.Logprob)
		}
	}
	l.TopLogprobs = append(l.TopLogprobs, top)
	l.TextOffset = append(l.TextOffset, offset)
}

// completionState follows one choice. offset counts the characters of text so far (Python's
// len, as OpenAI's text_offset does).
type completionState struct {
	text     []byte
	offset   int
	logprobs *openai.CompletionLogprobs
	pending  *openai.CompletionLogprobs
	result   *engine.Result
}

func (s *Server) completions(c echo.Context) error {
	st, req, err := parseRequest(s, c, openai.ParseCompletion)
	if err != nil {
		return err
	}
	sparseCfg, err := st.sparseFor(req.SparseAttention)
	if err != nil {
		return err
	}
	var reqs []engine.Request
	promptTokens := 0
	for i, p := range req.Prompts {
		at := "prompt"
		if len(req.Prompts) > 1 {
			at = fmt.Sprintf("prompt[%d]", i)
		}
		ids := p.IDs
		if ids == nil {
			bos := 0
			if st.tok.AddBOS() {
				bos = 1
			}
			if err := st.checkPromptBound(p.Text, bos, req.MaxTokens); err != nil {
				return fmt.Errorf("prompt %d: %w", i, err)
			}
			// As Hugging Face's encode does: BOS where the tokenizer adds one. An empty text is
			// then a prompt of BOS alone, as OpenAI takes "" for a prompt of <|endoftext|>; a
			// tokenizer without BOS leaves nothing to continue from.
			ids = st.tok.Encode(p.Text)
			if bos == 1 {
				ids = append([]int32{st.tok.BOS()}, ids...)
			}
			if len(ids) == 0 {
				return openai.BadRequest("prompt",
					"'%s' is empty: this model's tokenizer adds no BOS token, so a prompt needs "+
						"some text", at)
			}
		}
		vocab := st.tok.VocabSize()
		for _, id := range ids {
			if id < 0 || (vocab > 0 && int(id) >= vocab) {
				return openai.BadRequest("prompt", "'%s' holds token id %d, outside the vocabulary of %d", at, id,
					vocab)
			}
		}
		if err := checkContext(len(ids), req.MaxTokens, st.gen.MaxContext()); err != nil {
			return fmt.Errorf("prompt %d: %w", i, err)
		}
		promptTokens += len(ids)
		base := engine.Request{
			Prompt:      ids,
			MaxTokens:   req.MaxTokens,
			Sampling:    req.Sampling,
			StopTokens:  st.tok.EOS(),
			StopStrings: req.Stop,
			Logprobs:    req.Logprobs != nil,
			Sparse:      sparseCfg,
		}
		if req.Logprobs != nil {
			base.TopLogprobs = *req.Logprobs
		}
		reqs = append(reqs, choiceRequests(base, req.N)...)
	}
	c.Set(ctxKeyPrompt, promptTokens)
	a := &completionAnswer{st: st, id: "cmpl-" + c.Get(ctxKeyRequestID).(string), created: time.Now().Unix(),
		states: make([]*completionState, len(reqs))}
	for i := range a.states {
		a.states[i] = &completionState{}
		if req.Logprobs != nil {
			a.states[i].logprobs = openai.NewCompletionLogprobs()
		}
	}
	return s.respond(c, st, reqs, respondOpts{stream: req.Stream, includeUsage: req.IncludeUsage,
		choicesPerPrompt: req.N}, a)
}

// completionAnswer is a completion as its events come.
type completionAnswer struct {
	st      *modelState
	id      string
	created int64
	states  []*completionState
}

func (a *completionAnswer) object(choices []openai.CompletionChoice, u *openai.Usage) openai.CompletionResponse {
	return openai.CompletionResponse{ID: a.id, Object: "text_completion", Created: a.created, Model: a.st.model.Name,
		Choices: choices, Usage: u}
}

// begin sends the headers at once: a client sees the stream open before the first token.
func (a *completionAnswer) begin(sse *sseWriter) error {
	sse.start()
	return nil
}

func (a *completionAnswer) event(i int, ev engine.Event, sse *sseWriter) error {
	cs := a.states[i]
	if ev.Token >= 0 && cs.logprobs != nil {
		a.st.addLogprob(cs.logprobs, ev, cs.offset)
		if sse != nil {
			if cs.pending == nil {
				cs.pending = openai.NewCompletionLogprobs()
			}
			a.st.addLogprob(cs.pending, ev, cs.offset)
		}
	}
	cs.text = append(cs.text, ev.Text...)
	cs.offset += utf8.RuneCountInString(ev.Text)
	var reason *string
	if ev.Done {
		cs.result = ev.Result
		fr := cs.result.FinishReason
		reason = &fr
	}
	if sse == nil || (ev.Text == "" && reason == nil && cs.pending == nil) {
		return nil
	}
	ch := openai.CompletionChoice{Index: i, Text: ev.Text, Logprobs: cs.pending, FinishReason: reason}
	cs.pending = nil
	return sse.send(a.object([]openai.CompletionChoice{ch}, nil))
}

func (a *completionAnswer) finishReason(i int) string { return a.states[i].result.FinishReason }

func (a *completionAnswer) usageChunk(u *openai.Usage) any {
	return a.object([]openai.CompletionChoice{}, u)
}

func (a *completionAnswer) body(u *openai.Usage) any {
	resp := a.object(nil, u)
	for i, cs := range a.states {
		fr := cs.result.FinishReason
		resp.Choices = append(resp.Choices, openai.CompletionChoice{Index: i, Text: string(cs.text),
			Logprobs: cs.logprobs, FinishReason: &fr})
	}
	return resp
}
