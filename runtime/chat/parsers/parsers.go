// Package parsers turns a model's generated text into OpenAI's message fields: reasoning,
// content and tool calls. How a model writes them depends on its family, which its chat template
// shows (DetectToolFormat, DetectReasoning); New picks the parser for it.
//
// One incremental parser serves whether the response streams or not: a non-streamed message is
// the concatenation of what the streaming parser emitted. So the streamed and non-streamed forms
// cannot disagree, and a tool call is only ever emitted whole, after its JSON has been checked:
// the most reported bug of other engines is streamed arguments that are lost or split wrongly,
// and a call's arguments are of no use to a client before they are complete anyway.
package parsers

import (
	"encoding/json"
	"strings"
)

// Parser splits generated text into reasoning, content and tool calls as it arrives.
type Parser interface {
	// Push adds generated text and returns the deltas it completes. The returned slice is
	// reused by the next call.
	Push(text string) []Delta
	// Finish flushes everything held back at the end of generation.
	Finish() []Delta
}

// DeltaKind says what a Delta holds.
type DeltaKind int

const (
	DeltaContent DeltaKind = iota
	DeltaReasoning
	DeltaToolCall
)

// Delta is one piece of parsed output.
type Delta struct {
	Kind DeltaKind
	Text string    // content or reasoning
	Call *ToolCall // a whole, checked call
}

// ToolCall is one parsed call; Arguments is a JSON object's text.
type ToolCall struct {
	Index     int
	ID        string
	Name      string
	Arguments string
}

// ToolFormat is how a model writes tool calls, chosen from its chat template.
type ToolFormat int

const (
	// ToolFormatNone: the template knows no tool calls; output is never parsed for them.
	ToolFormatNone ToolFormat = iota
	// ToolFormatHermes: <tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>, one
	// block per call (Qwen2.5, Qwen3, Hermes and many fine-tunes).
	ToolFormatHermes
	// ToolFormatLlama3: the whole message is {"name": ..., "parameters": {...}}, optionally
	// after <|python_tag|>, several calls separated by ";" (Llama 3.1 to 3.3).
	ToolFormatLlama3
)

func (f ToolFormat) String() string {
	switch f {
	case ToolFormatHermes:
		return "hermes"
	case ToolFormatLlama3:
		return "llama3_json"
	}
	return "none"
}

// DetectToolFormat picks the tool-call format from a chat template's text: what the template
// tells the model to write (or writes itself for past calls) is what the model was trained on.
func DetectToolFormat(template string) ToolFormat {
	switch {
	case strings.Contains(template, "<tool_call>"):
		return ToolFormatHermes
	case strings.Contains(template, "<|python_tag|>"), strings.Contains(template, "<|start_header_id|>"):
		return ToolFormatLlama3
	}
	return ToolFormatNone
}

// DetectReasoning reports whether a template's model writes its reasoning in <think> blocks.
func DetectReasoning(template string) bool {
	return strings.Contains(template, thinkOpen)
}

// ThinkingOpen reports a rendered prompt that leaves a <think> block open (templates that start
// the reasoning for the model), so that the output starts inside the reasoning.
func ThinkingOpen(prompt string) bool {
	return strings.LastIndex(prompt, thinkOpen) > strings.LastIndex(prompt, thinkClose)
}

const (
	thinkOpen     = "<think>"
	thinkClose    = "</think>"
	toolCallOpen  = "<tool_call>"
	toolCallClose = "</tool_call>"
	pythonTag     = "<|python_tag|>"
)

// ForcedCallPrefix is the opening of a tool call in the format, written into the prompt so that
// the model must continue with a call (and, for a named function, with its arguments); "" for
// ToolFormatNone. The rest of the call is the name (when name is ""), CallSyntax's argsKey,
// the arguments and its closing.
func (f ToolFormat) ForcedCallPrefix(name string) string {
	quoted, _ := json.Marshal(name)
	switch f {
	case ToolFormatHermes:
		if name == "" {
			return toolCallOpen + "\n{\"name\": \""
		}
		return toolCallOpen + "\n{\"name\": " + string(quoted) + ", \"arguments\": "
	case ToolFormatLlama3:
		if name == "" {
			return "{\"name\": \""
		}
		return "{\"name\": " + string(quoted) + ", \"parameters\": "
	}
	return ""
}

// CallSyntax is what stands in a call between the name's text and the arguments (argsKey), and
// after the arguments (closing), for a grammar that writes the rest of a forced call.
func (f ToolFormat) CallSyntax() (argsKey, closing string) {
	if f == ToolFormatLlama3 {
		return `", "parameters": `, "}"
	}
	return `", "arguments": `, "}\n" + toolCallClose
}

// Options choose a parser.
type Options struct {
	// Format is the model's tool-call format; ToolFormatNone leaves all output content.
	Format ToolFormat
	// Reasoning splits <think> blocks out as reasoning.
	Reasoning bool
	// ThinkingOpen: the prompt already opened a <think> block, so output begins inside it.
	ThinkingOpen bool
	// Parallel keeps every call; false keeps only the first (parallel_tool_calls false).
	Parallel bool
	// Prime is text the server itself put at the start of the answer (a forced tool-call
	// opening), fed to the parser as if the model had written it.
	Prime string
}

// New makes a parser for one answer.
func New(o Options) Parser {
	var p Parser
	switch o.Format {
	case ToolFormatHermes:
		p = &hermes{calls: calls{parallel: o.Parallel}}
	case ToolFormatLlama3:
		p = &llama3{calls: calls{parallel: o.Parallel}}
	default:
		p = &plain{}
	}
	if o.Reasoning {
		t := &thinking{inner: p}
		if o.ThinkingOpen {
			t.state = inThought
		}
		p = t
	}
	if o.Prime != "" {
		p.Push(o.Prime)
	}
	return p
}

// deltas collects the deltas of one Push or Finish, merging neighbours of one kind.
type deltas struct{ out []Delta }

func (d *deltas) reset() { d.out = d.out[:0] }

// run starts a Push (final false) or a Finish (final true) of a parser whose core is push, and
// returns its deltas. A Push of no text changes nothing.
func (d *deltas) run(text string, final bool, push func(text string, final bool)) []Delta {
	d.reset()
	if text != "" || final {
		push(text, final)
	}
	return d.out
}

func (d *deltas) emit(kind DeltaKind, s string) {
	if s == "" {
		return
	}
	if n := len(d.out); n > 0 && d.out[n-1].Kind == kind {
		d.out[n-1].Text += s
		return
	}
	d.out = append(d.out, Delta{Kind: kind, Text: s})
}

// plain is the parser of a model without tool calls: all of its output is content.
type plain struct{ deltas }

func (p *plain) Push(text string) []Delta {
	p.reset()
	p.emit(DeltaContent, text)
	return p.out
}

func (p *plain) Finish() []Delta {
	p.reset()
	return p.out
}

// partialSuffix is the length of the longest suffix of s that is a proper prefix of tag.
func partialSuffix(s, tag string) int {
	for n := min(len(s), len(tag)-1); n > 0; n-- {
		if strings.HasSuffix(s, tag[:n]) {
			return n
		}
	}
	return 0
}
