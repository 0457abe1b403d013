package server

import (
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/arborlabs/arbor/runtime/engine"
)

// Wire types of completions responses.
type (
	completionResponse struct {
		ID      string             `json:"id"`
		Object  string             `json:"object"`
		Created int64              `json:"created"`
		Model   string             `json:"model"`
		Choices []completionChoice `json:"choices"`
		Usage   *usage             `json:"usage,omitempty"`
	}
	completionChoice struct {
		Index        int                 `json:"index"`
		Text         string              `json:"text"`
		Logprobs     *completionLogprobs `json:"logprobs"`
		FinishReason *string             `json:"finish_reason"`
	}
	// completionLogprobs is the legacy logprobs shape: parallel arrays, and the alternatives
	// as one {token: logprob} object per position.
	completionLogprobs struct {
		Tokens        []string             `json:"tokens"`
		TokenLogprobs []float64            `json:"token_logprobs"`
		TopLogprobs   []map[string]float64 `json:"top_logprobs"`
		TextOffset    []int                `json:"text_offset"`
	}
)

func (l *completionLogprobs) add(st *modelState, ev engine.Event, offset int) {
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

func newCompletionLogprobs() *completionLogprobs {
	return &completionLogprobs{Tokens: []string{}, TokenLogprobs: []float64{}, TopLogprobs: []map[string]float64{}, TextOffset: []int{}}
}

// completionState follows one choice. offset counts the characters of text so far (Python's
// len, as OpenAI's text_offset does).
type completionState struct {
	text     []byte
	offset   int
	logprobs *completionLogprobs
	pending  *completionLogprobs
	result   *engine.Result
}

func (s *Server) completions(c echo.Context) error {
	st, err := s.ready()
	if err != nil {
		return err
	}
	body, err := readBody(c.Request().Body)
	if err != nil {
		return err
	}
	req, ae := parseCompletion(body)
	if ae != nil {
		return ae
	}
	if err := st.checkModel(req.Model); err != nil {
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
				return badRequest("prompt", "'%s' is empty: this model's tokenizer adds no BOS token, so a prompt needs "+
					"some text", at)
			}
		}
		vocab := st.tok.VocabSize()
		for _, id := range ids {
			if id < 0 || (vocab > 0 && int(id) >= vocab) {
				return badRequest("prompt", "'%s' holds token id %d, outside the vocabulary of %d", at, id, vocab)
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
		}
		if req.Logprobs != nil {
			base.TopLogprobs = *req.Logprobs
		}
		reqs = append(reqs, choiceRequests(base, req.N)...)
	}
	c.Set(ctxKeyPrompt, promptTokens)
	ctx := c.Request().Context()
	r, err := s.submit(ctx, st, reqs)
	if err != nil {
		return err
	}
	defer r.cancel()
	states := make([]*completionState, len(reqs))
	for i := range states {
		states[i] = &completionState{}
		if req.Logprobs != nil {
			states[i].logprobs = newCompletionLogprobs()
		}
	}
	id := "cmpl-" + c.Get(ctxKeyRequestID).(string)
	created := time.Now().Unix()
	resp := completionResponse{ID: id, Object: "text_completion", Created: created, Model: st.model.Name}

	var sse *sseWriter
	if req.Stream {
		sse = newSSE(c)
		sse.start() // headers now: a client sees the stream open before the first token
	}
	for left := len(states); left > 0; {
		ce, err := r.next(ctx)
		if err != nil {
			s.metrics.success.WithLabelValues("abort").Inc()
			if sse != nil {
				c.Set(ctxKeyError, err.Error())
				return nil
			}
			return err
		}
		if ce.err != nil {
			if sse != nil {
				c.Set(ctxKeyError, ce.err.Error())
				sse.fail(ce.err)
				return nil
			}
			return fmt.Errorf("choice %d: %w", ce.choice, ce.err)
		}
		s.observeToken(r, ce)
		cs := states[ce.choice]
		if ce.ev.Token >= 0 && cs.logprobs != nil {
			cs.logprobs.add(st, ce.ev, cs.offset)
			if sse != nil {
				if cs.pending == nil {
					cs.pending = newCompletionLogprobs()
				}
				cs.pending.add(st, ce.ev, cs.offset)
			}
		}
		cs.text = append(cs.text, ce.ev.Text...)
		cs.offset += utf8.RuneCountInString(ce.ev.Text)
		var reason *string
		if ce.ev.Done {
			cs.result = ce.ev.Result
			s.metrics.finished(cs.result, time.Since(r.start).Seconds())
			left--
			fr := cs.result.FinishReason
			reason = &fr
		}
		if sse == nil || (ce.ev.Text == "" && reason == nil && cs.pending == nil) {
			continue
		}
		ch := completionChoice{Index: ce.choice, Text: ce.ev.Text, Logprobs: cs.pending, FinishReason: reason}
		cs.pending = nil
		if err := sse.send(completionResponse{ID: id, Object: "text_completion", Created: created, Model: st.model.Name,
			Choices: []completionChoice{ch}}); err != nil {
			return nil
		}
	}
	results := make([]*engine.Result, len(states))
	for i, cs := range states {
		results[i] = cs.result
	}
	u := usageOf(results, req.N)
	s.logUsage(c, u, results[0].FinishReason)
	if sse != nil {
		if req.IncludeUsage {
			if err := sse.send(completionResponse{ID: id, Object: "text_completion", Created: created, Model: st.model.Name,
				Choices: []completionChoice{}, Usage: u}); err != nil {
				return nil
			}
		}
		_ = sse.done()
		return nil
	}
	for i, cs := range states {
		fr := cs.result.FinishReason
		resp.Choices = append(resp.Choices, completionChoice{Index: i, Text: string(cs.text), Logprobs: cs.logprobs, FinishReason: &fr})
	}
	resp.Usage = u
	return c.JSON(http.StatusOK, resp)
}
