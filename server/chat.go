package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/arborlabs/arbor/memory/session"
	"github.com/arborlabs/arbor/runtime/chat"
	"github.com/arborlabs/arbor/runtime/chat/parsers"
	"github.com/arborlabs/arbor/runtime/engine"
	"github.com/arborlabs/arbor/runtime/grammar"
	"github.com/arborlabs/arbor/server/openai"
	"github.com/arborlabs/arbor/tree"
)

// chatPrompt renders the conversation with the model's template and encodes it. prime is text
// the server appends to force a tool call (tool_choice "required" or a named function): the
// model continues from it, and the output parser is fed it first. thinkingOpen reports a
// prompt that leaves a <think> block open, so the output starts inside the reasoning.
// Special tokens of the template's markup become control tokens; special-token text from the
// request's messages and tools is encoded as plain text (unless SpecialTokensInContent).
func (st *modelState) chatPrompt(r *openai.ChatRequest) (ids []int32, prime string, thinkingOpen bool, err error) {
	if st.tmpl == nil {
		return nil, "", false, openai.BadRequest("messages",
			"the model %q has no chat template; use /v1/completions with a prompt in its format", st.model.Name)
	}
	in := chat.Input{
		Messages:            r.Messages,
		AddGenerationPrompt: true,
		BOSToken:            st.tok.BOSToken(),
		EOSToken:            st.tok.EOSToken(),
		EnableThinking:      r.EnableThinking,
		Extra:               r.TemplateKwargs,
	}
	// With tool_choice "none" the model does not see the tools: what it cannot see it will not
	// try to call, and its answer is never parsed for calls.
	if r.ToolChoice.Mode != "none" {
		in.Tools = r.Tools
	}
	p, err := st.tmpl.RenderPrompt(in, st.specials)
	if err != nil {
		var te *chat.TemplateError
		if errors.As(err, &te) {
			return nil, "", false, err
		}
		// The template works for ordinary conversations (it rendered at start-up checks and in
		// tests), so a failure here comes from this request's content.
		return nil, "", false, openai.BadRequest("messages",
			"the model's chat template could not render this conversation: %v", err)
	}
	text := p.Text
	if st.reasoning {
		thinkingOpen = parsers.ThinkingOpen(text)
	}
	if r.ToolChoice.Mode == "required" || r.ToolChoice.Mode == "function" {
		if st.toolFormat == parsers.ToolFormatNone {
			return nil, "", false, openai.BadRequest("tool_choice",
				"tool_choice %q: the model's chat template has no tool-call format", r.ToolChoice.Mode)
		}
		prime = st.toolFormat.ForcedCallPrefix(r.ToolChoice.Function)
		g, ae := toolCallGrammar(st.toolFormat, r)
		if ae != nil {
			return nil, "", false, ae
		}
		r.Grammar = g
	}
	if err := st.checkPromptBound(text+prime, 0, r.ContextMaxTokens()); err != nil {
		return nil, "", false, err
	}
	return st.tok.EncodeMixed(text+prime, p.Data), prime, thinkingOpen, nil
}

// toolCallGrammar constrains the rest of a forced call (after ForcedCallPrefix): for "required"
// the name, one of the tools', then that tool's arguments; for a named function its arguments;
// then the call's closing, so that the output parser sees one whole, valid call.
func toolCallGrammar(f parsers.ToolFormat, r *openai.ChatRequest) (*grammar.Grammar, *openai.APIError) {
	argsKey, closing := f.CallSyntax()
	var alts []grammar.Alternative
	var key strings.Builder
	for i, t := range r.Tools {
		if r.ToolChoice.Mode == "function" && t.Function.Name != r.ToolChoice.Function {
			continue
		}
		params := bytes.TrimSpace(t.Function.Parameters)
		if len(params) == 0 || bytes.Equal(params, []byte("null")) {
			params = nil
		}
		if params != nil {
			// Check each tool's schema on its own, so that the error names the tool.
			if _, err := openai.CompileSchema(params); err != nil {
				return nil, openai.SchemaError(fmt.Sprintf("tools[%d].function.parameters", i),
					fmt.Sprintf("'tools[%d].function.parameters'", i), err)
			}
		}
		a := grammar.Alternative{Schema: params, Suffix: closing}
		if r.ToolChoice.Mode == "required" {
			quoted, _ := json.Marshal(t.Function.Name)
			a.Prefix = string(quoted[1:len(quoted)-1]) + argsKey
		}
		alts = append(alts, a)
		fmt.Fprintf(&key, "%s\x00%s\x00%s\x00", a.Prefix, params, a.Suffix)
	}
	g, err := openai.CompileCached("t\x00"+key.String(), func() (*grammar.Grammar, error) {
		return grammar.CompileChoice(alts)
	})
	if err != nil {
		return nil, openai.SchemaError("tools", "'tools'", err)
	}
	return g, nil
}

// chatState follows one choice.
type chatState struct {
	parser    parsers.Parser
	content   strings.Builder
	reasoning strings.Builder
	calls     []parsers.ToolCall
	logprobs  []openai.ChatLogprob
	pending   []openai.ChatLogprob // streaming: logprobs not yet sent with a chunk
	result    *engine.Result
}

func (cs *chatState) add(ds []parsers.Delta) {
	for _, d := range ds {
		switch d.Kind {
		case parsers.DeltaContent:
			cs.content.WriteString(d.Text)
		case parsers.DeltaReasoning:
			cs.reasoning.WriteString(d.Text)
		case parsers.DeltaToolCall:
			cs.calls = append(cs.calls, *d.Call)
		}
	}
}

func (cs *chatState) finishReason() string {
	if cs.result == nil {
		return ""
	}
	if len(cs.calls) > 0 && cs.result.FinishReason == engine.FinishStop {
		return "tool_calls"
	}
	return cs.result.FinishReason
}

func (s *Server) chatCompletions(c echo.Context) error {
	st, req, err := parseRequest(s, c, openai.ParseChat)
	if err != nil {
		return err
	}
	sessionID, err := s.sessionOf(c, req)
	if err != nil {
		return err
	}
	ts, err := s.treeFor(req)
	if err != nil {
		return err
	}
	var turn *session.Pending
	if sessionID != "" {
		if turn, err = s.beginTurn(c, st, req, sessionID); err != nil {
			return err
		}
		defer turn.Close()
	}
	prompt, prime, thinkingOpen, err := st.chatPrompt(req)
	if err != nil {
		return err
	}
	c.Set(ctxKeyPrompt, len(prompt))
	maxTokens := req.MaxTokens
	if ts != nil {
		maxTokens = 0 // pruning lets a tree's output outgrow the context; only the prompt must fit
	}
	if err := checkContext(len(prompt), maxTokens, st.gen.MaxContext()); err != nil {
		return err
	}
	sparseCfg, err := st.sparseFor(req.SparseAttention)
	if err != nil {
		return err
	}
	base := engine.Request{
		Prompt:      prompt,
		MaxTokens:   req.MaxTokens,
		Sampling:    req.Sampling,
		StopTokens:  st.tok.EOS(),
		StopStrings: req.Stop,
		Logprobs:    req.Logprobs,
		TopLogprobs: req.TopLogprobs,
		Grammar:     req.Grammar,
		Sparse:      sparseCfg,
	}
	reqs := choiceRequests(base, req.N)
	format, reasoning := st.toolFormat, st.reasoning
	if req.ToolChoice.Mode == "none" {
		format = parsers.ToolFormatNone
	}
	if ts != nil {
		// The JSON tree is the whole answer: nothing in it is a template-format call or a
		// <think> block.
		format, reasoning, thinkingOpen = parsers.ToolFormatNone, false, false
		runs := make([]*tree.Run, len(reqs))
		for i := range reqs {
			runs[i] = ts.hook(st, s.metrics)
			reqs[i].Hook, reqs[i].PositionPolicy = runs[i], ts.policy
			// A tree cut off at max_tokens is of no use to a client: near the end, the
			// decode closes it by the shortest way (finish_reason stays "length").
			reqs[i].FitGrammar = true
		}
		// The grammar keeps the output a valid tree whatever happens; a tracker that lost its
		// way only stops calling tools and pruning, which the log should show.
		defer func() {
			for i, run := range runs {
				if err := run.Err(); err != nil {
					s.log.Warn("task tree: tracking stopped", "choice", i, "err", err)
				}
			}
		}()
	}
	a := &chatAnswer{st: st, req: req, id: "chatcmpl-" + c.Get(ctxKeyRequestID).(string), created: time.Now().Unix(),
		states: make([]*chatState, req.N)}
	for i := range a.states {
		p := parsers.New(parsers.Options{Format: format, Reasoning: reasoning, ThinkingOpen: thinkingOpen,
			Parallel: req.ParallelCalls, Prime: prime})
		a.states[i] = &chatState{parser: p}
	}
	o := respondOpts{stream: req.Stream, includeUsage: req.IncludeUsage, choicesPerPrompt: req.N, tree: ts != nil}
	if turn != nil {
		o.finish = func(u *openai.Usage) error {
			if err := turn.Commit(c.Request().Context(), replyText(a.states[0])); err != nil {
				return memoryError(err, sessionID)
			}
			mt, rc := turn.MemoryTokens, turn.Retrieved
			u.MemoryTokens, u.RetrievedChunks = &mt, &rc
			return nil
		}
	}
	return s.respond(c, st, reqs, o, a)
}

// chatAnswer is a chat completion as its events come.
type chatAnswer struct {
	st      *modelState
	req     *openai.ChatRequest
	id      string
	created int64
	states  []*chatState
}

func (a *chatAnswer) chunk(choices ...openai.ChatChunkChoice) openai.ChatChunk {
	return openai.ChatChunk{ID: a.id, Object: "chat.completion.chunk", Created: a.created, Model: a.st.model.Name,
		Choices: choices}
}

// begin opens each choice with the role, as OpenAI's streams do.
func (a *chatAnswer) begin(sse *sseWriter) error {
	for i := range a.states {
		empty := ""
		open := openai.ChatChunkChoice{Index: i, Delta: openai.ChunkDelta{Role: "assistant", Content: &empty}}
		if err := sse.send(a.chunk(open)); err != nil {
			return err
		}
	}
	return nil
}

func (a *chatAnswer) event(i int, ev engine.Event, sse *sseWriter) error {
	cs := a.states[i]
	if ev.Token >= 0 && a.req.Logprobs {
		lp := a.st.logprobOf(ev)
		cs.logprobs = append(cs.logprobs, lp)
		if sse != nil {
			cs.pending = append(cs.pending, lp)
		}
	}
	if err := a.emit(i, cs.parser.Push(ev.Text), sse); err != nil {
		return err
	}
	if !ev.Done {
		return nil
	}
	if err := a.emit(i, cs.parser.Finish(), sse); err != nil {
		return err
	}
	cs.result = ev.Result
	if sse == nil {
		return nil
	}
	reason := cs.finishReason()
	cc := openai.ChatChunkChoice{Index: i, FinishReason: &reason}
	if len(cs.pending) > 0 {
		cc.Logprobs = &openai.ChatLogprobs{Content: cs.pending}
		cs.pending = nil
	}
	return sse.send(a.chunk(cc))
}

// emit adds the parser's deltas to choice i and, streaming, sends one chunk per delta; the
// logprobs of the tokens seen so far ride on the first.
func (a *chatAnswer) emit(i int, ds []parsers.Delta, sse *sseWriter) error {
	cs := a.states[i]
	cs.add(ds)
	if sse == nil {
		return nil
	}
	for _, d := range ds {
		cc := openai.ChatChunkChoice{Index: i}
		if len(cs.pending) > 0 {
			cc.Logprobs = &openai.ChatLogprobs{Content: cs.pending}
			cs.pending = nil
		}
		switch d.Kind {
		case parsers.DeltaContent:
			t := d.Text
			cc.Delta.Content = &t
		case parsers.DeltaReasoning:
			t := d.Text
			cc.Delta.ReasoningContent, cc.Delta.Reasoning = &t, &t
		case parsers.DeltaToolCall:
			// The call's head (id, type, name) first, then its arguments: the shape every
			// client accumulates, with arguments that are a whole, checked JSON object.
			cc.Delta.ToolCalls = []openai.ChunkToolCall{{Index: d.Call.Index, ID: d.Call.ID, Type: "function",
				Function: openai.ChunkFunction{Name: d.Call.Name}}}
			if err := sse.send(a.chunk(cc)); err != nil {
				return err
			}
			cc = openai.ChatChunkChoice{Index: i}
			cc.Delta.ToolCalls = []openai.ChunkToolCall{{Index: d.Call.Index,
				Function: openai.ChunkFunction{Arguments: d.Call.Arguments}}}
		}
		if err := sse.send(a.chunk(cc)); err != nil {
			return err
		}
	}
	return nil
}

func (a *chatAnswer) finishReason(i int) string { return a.states[i].finishReason() }

func (a *chatAnswer) usageChunk(u *openai.Usage) any {
	final := a.chunk()
	final.Choices = []openai.ChatChunkChoice{}
	final.Usage = u
	return final
}

func (a *chatAnswer) body(u *openai.Usage) any {
	resp := openai.ChatResponse{ID: a.id, Object: "chat.completion", Created: a.created, Model: a.st.model.Name,
		Usage: u}
	for i, cs := range a.states {
		msg := openai.ChatMessage{Role: "assistant"}
		if text := cs.content.String(); text != "" || (len(cs.calls) == 0 && cs.reasoning.Len() == 0) {
			msg.Content = &text
		}
		if cs.reasoning.Len() > 0 {
			rc := cs.reasoning.String()
			msg.ReasoningContent, msg.Reasoning = &rc, &rc
		}
		for _, call := range cs.calls {
			msg.ToolCalls = append(msg.ToolCalls, openai.ToolCall{ID: call.ID, Type: "function",
				Function: openai.FunctionCall{Name: call.Name, Arguments: call.Arguments}})
		}
		choice := openai.ChatChoice{Index: i, Message: msg, FinishReason: cs.finishReason()}
		if a.req.Logprobs {
			choice.Logprobs = &openai.ChatLogprobs{Content: nonNil(cs.logprobs)}
		}
		resp.Choices = append(resp.Choices, choice)
	}
	return resp
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// logUsage hands the request log its token counts.
func (s *Server) logUsage(c echo.Context, u *openai.Usage, finish string) {
	c.Set(ctxKeyPrompt, u.PromptTokens)
	c.Set(ctxKeyCompletion, u.CompletionTokens)
	c.Set(ctxKeyFinish, finish)
}
