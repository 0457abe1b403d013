package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/arborlabs/arbor/memory/compact"
	"github.com/arborlabs/arbor/runtime/chat"
	"github.com/arborlabs/arbor/runtime/engine"
	"github.com/arborlabs/arbor/runtime/sample"
)

// ModelSummarizer keeps sessions' running summaries with the served model: each update is a
// background request (engine.Request.Background: it waits behind every client's request) with
// a prompt of ours, greedy, at most compact.DefaultBudget tokens. Until the server has a model,
// or when the model's request fails (no chat template, a full queue, a shutdown), Fallback
// summarises instead, so a turn's summary is never lost.
//
// Create it before the server, give it to session.Config.Summarizer and to
// Options.Summarizer: the server hands it the model when the model is ready.
type ModelSummarizer struct {
	Fallback compact.Summarizer
	// Timeout bounds one summary request, queueing included (0: 20 s): a server busy with
	// clients' requests delays the background ones, and the session's next request waits for
	// its summary, so past this the fallback summarises.
	Timeout time.Duration
	st      atomic.Pointer[modelState]
}

var _ compact.Summarizer = (*ModelSummarizer)(nil)

// summaryInputBytes bounds each text of a summary prompt: the summary is of facts, and a
// turn of megabytes must not become a background prefill of megabytes.
const summaryInputBytes = 4 << 10

const updateInstructions = "You maintain a running summary of a conversation. Rewrite the summary so that it " +
	"also holds the important facts of the new exchange: names, numbers, dates, places, preferences and " +
	"decisions. Keep it under 50 words. Reply with the summary only."

const mergeInstructions = "Merge these summaries of one conversation, oldest first, into one summary that " +
	"keeps the important facts: names, numbers, dates, places, preferences and decisions. Keep it under 50 " +
	"words. Reply with the summary only."

// Update implements compact.Summarizer.
func (ms *ModelSummarizer) Update(ctx context.Context, prev string, turn compact.Turn) (string, error) {
	if prev == "" {
		prev = "(empty)"
	}
	user := "Summary so far: " + clip(prev) + "\n\nNew exchange:\nUser: " + clip(turn.User) + "\nAssistant: " +
		clip(turn.Reply)
	out, err := ms.generate(ctx, updateInstructions, user)
	if err != nil {
		return ms.Fallback.Update(ctx, prev, turn)
	}
	return out, nil
}

// Merge implements compact.Summarizer.
func (ms *ModelSummarizer) Merge(ctx context.Context, summaries []string) (string, error) {
	var b strings.Builder
	for i, s := range summaries {
		fmt.Fprintf(&b, "Summary %d: %s\n", i+1, clip(s))
	}
	out, err := ms.generate(ctx, mergeInstructions, b.String())
	if err != nil {
		return ms.Fallback.Merge(ctx, summaries)
	}
	return out, nil
}

var errNoModel = errors.New("no model to summarise with")

// generate runs one background request and returns its text, trimmed; an empty answer is an
// error (the fallback then summarises).
func (ms *ModelSummarizer) generate(ctx context.Context, system, user string) (string, error) {
	st := ms.st.Load()
	if st == nil || st.tmpl == nil {
		return "", errNoModel
	}
	timeout := ms.Timeout
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	off := false
	p, err := st.tmpl.RenderPrompt(chat.Input{Messages: []chat.Message{{Role: "system", Content: system},
		{Role: "user", Content: user}}, AddGenerationPrompt: true, BOSToken: st.tok.BOSToken(),
		EOSToken: st.tok.EOSToken(), EnableThinking: &off}, st.specials)
	if err != nil {
		return "", err
	}
	params := sample.DefaultParams()
	params.Temperature = 0
	stream, err := st.gen.Submit(ctx, engine.Request{Prompt: st.tok.EncodeMixed(p.Text, p.Data),
		MaxTokens: compact.DefaultBudget, Sampling: params, StopTokens: st.tok.EOS(), Background: true})
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for {
		ev, err := stream.Recv(ctx)
		if err != nil {
			return "", err
		}
		b.WriteString(ev.Text)
		if ev.Done {
			break
		}
	}
	out := b.String()
	// A reasoning model may think first even when asked not to: the summary is what follows.
	if i := strings.LastIndex(out, "</think>"); i >= 0 {
		out = out[i+len("</think>"):]
	}
	out = strings.TrimSpace(out)
	if out == "" {
		return "", errors.New("the model wrote an empty summary")
	}
	return out, nil
}

// clip cuts a text of a summary prompt to summaryInputBytes.
func clip(s string) string { return compact.Clip(s, summaryInputBytes) }
