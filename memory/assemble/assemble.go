// Package assemble builds the prompt of a request to a session with memory, within a token
// budget: the system message, the session's compact summary and the retrieved chunks (both
// folded into one system message, as chat templates expect a single system turn first), the
// last turns verbatim, and the new message. What does not fit is dropped in a fixed order, so
// that the newest message always survives and the least relevant memory goes first.
package assemble

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/arborlabs/arbor/runtime/chat"
)

// Chunk is a retrieved piece of an earlier conversation.
type Chunk struct {
	Role       string  // "user" or "assistant": who said it
	Text       string  // what was said
	Similarity float64 // the retrieval's score: the lowest are trimmed first
}

// Input is what a prompt is made of.
type Input struct {
	// System is the client's system message ("" for none).
	System string
	// Summary is the session's compact summary ("" before the first one).
	Summary string
	// Chunks are the retrieved chunks, in any order.
	Chunks []Chunk
	// Recent are the last turns' messages (user, assistant, ...), oldest first: kept verbatim
	// as long as they fit.
	Recent []chat.Message
	// New are the request's new messages (its last user message, and any tool results).
	New []chat.Message
}

// Count returns the token count of a prompt made of msgs: the model's chat template rendered
// and tokenized, so that the budget is the real one.
type Count func(msgs []chat.Message) (int, error)

// Result is an assembled prompt and what memory it holds.
type Result struct {
	Messages []chat.Message
	// Tokens is the prompt's count; MemoryTokens what the summary and the chunks added to the
	// system message (usage's memory_tokens).
	Tokens, MemoryTokens int
	// Chunks are the chunks kept, most similar first; Dropped says what had to go.
	Chunks  []Chunk
	Dropped Dropped
}

// Dropped counts what was left out to fit the budget.
type Dropped struct {
	Chunks, RecentMessages int
	Summary                bool
}

// ErrTooLong is returned when the system and new messages alone exceed the budget.
var ErrTooLong = errors.New("the request's own messages exceed the memory budget")

// Assemble returns the largest prompt within budget tokens. Trimming goes: chunks, lowest
// similarity first; then the recent messages, oldest first (a user message and the reply
// after it together, so the recent turns stay whole); then the summary. The system and new
// messages are never dropped; if they alone exceed the budget the result is ErrTooLong.
// Count is called O(log chunks + recent) times.
func Assemble(in Input, budget int, count Count) (*Result, error) {
	chunks := slices.Clone(in.Chunks)
	// Most similar first, ties by text for a stable prompt.
	slices.SortStableFunc(chunks, func(a, b Chunk) int {
		switch {
		case a.Similarity > b.Similarity:
			return -1
		case a.Similarity < b.Similarity:
			return 1
		}
		return strings.Compare(a.Text, b.Text)
	})
	build := func(nChunks, dropRecent int, summary bool) []chat.Message {
		var msgs []chat.Message
		if sys := systemText(in.System, in.Summary, summary, chunks[:nChunks]); sys != "" {
			msgs = append(msgs, chat.Message{Role: "system", Content: sys})
		}
		msgs = append(msgs, in.Recent[dropRecent:]...)
		return append(msgs, in.New...)
	}
	fits := func(msgs []chat.Message) (int, bool, error) {
		n, err := count(msgs)
		if err != nil {
			return 0, false, fmt.Errorf("memory prompt: %w", err)
		}
		return n, n <= budget, nil
	}
	res := &Result{}
	finish := func(nChunks, dropRecent int, summary bool, n int) (*Result, error) {
		res.Messages = build(nChunks, dropRecent, summary)
		res.Tokens = n
		res.Chunks = chunks[:nChunks]
		res.Dropped = Dropped{Chunks: len(chunks) - nChunks, RecentMessages: dropRecent, Summary: !summary && in.Summary != ""}
		if nChunks > 0 || (summary && in.Summary != "") {
			base, err := count(build(0, dropRecent, false))
			if err != nil {
				return nil, fmt.Errorf("memory prompt: %w", err)
			}
			res.MemoryTokens = max(0, n-base)
		}
		return res, nil
	}

	// Everything in?
	n, ok, err := fits(build(len(chunks), 0, true))
	if err != nil {
		return nil, err
	}
	if ok {
		return finish(len(chunks), 0, true, n)
	}
	// The most chunks that fit with the summary and every recent message: the count grows
	// with the chunks, so a binary search finds it.
	lo, hi := 0, len(chunks)-1 // lo fits or is 0; hi+1 does not fit
	loN := -1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		n, ok, err := fits(build(mid, 0, true))
		if err != nil {
			return nil, err
		}
		if ok {
			lo, loN = mid, n
		} else {
			hi = mid - 1
		}
	}
	if lo > 0 {
		if loN < 0 {
			if loN, _, err = fits(build(lo, 0, true)); err != nil {
				return nil, err
			}
		}
		return finish(lo, 0, true, loN)
	}
	// No chunk fits: drop recent messages, oldest turn first, then the summary.
	for _, summary := range []bool{true, false} {
		for drop := 0; drop <= len(in.Recent); drop = nextTurn(in.Recent, drop) {
			n, ok, err := fits(build(0, drop, summary))
			if err != nil {
				return nil, err
			}
			if ok {
				return finish(0, drop, summary, n)
			}
			if drop == len(in.Recent) {
				break
			}
		}
	}
	return nil, ErrTooLong
}

// nextTurn is the index after the turn that starts at i: its user message and the messages up
// to the next user message.
func nextTurn(msgs []chat.Message, i int) int {
	j := i + 1
	for j < len(msgs) && msgs[j].Role != "user" {
		j++
	}
	return j
}

// systemText folds the summary and the chunks into the system message.
func systemText(system, summary string, withSummary bool, chunks []Chunk) string {
	var b strings.Builder
	b.WriteString(system)
	sep := func() {
		if b.Len() > 0 {
			b.WriteString("\n\n")
		}
	}
	if withSummary && summary != "" {
		sep()
		b.WriteString("Summary of the conversation so far: ")
		b.WriteString(summary)
	}
	if len(chunks) > 0 {
		sep()
		b.WriteString("Earlier messages that may be relevant:")
		for _, c := range chunks {
			b.WriteString("\n- ")
			b.WriteString(c.Role)
			b.WriteString(": ")
			b.WriteString(c.Text)
		}
	}
	return b.String()
}
