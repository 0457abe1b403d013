package server

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"strings"
	"unicode"
)

// Assistant output is turned into OpenAI's message fields by one incremental parser, used the
// same way whether the response streams or not: a non-streamed message is the concatenation of
// what the streaming parser emitted. So the streamed and non-streamed forms cannot disagree, and
// a tool call is only ever emitted whole, after its JSON has been checked: the most reported bug
// of other engines is streamed arguments that are lost or split wrongly, and a call's arguments
// are of no use to a client before they are complete anyway.

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
	return strings.Contains(template, "<think>")
}

const (
	thinkOpen      = "<think>"
	thinkClose     = "</think>"
	toolCallOpen   = "<tool_call>"
	toolCallClose  = "</tool_call>"
	pythonTag      = "<|python_tag|>"
	callIDAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
)

type deltaKind int

const (
	deltaContent deltaKind = iota
	deltaReasoning
	deltaToolCall
)

// delta is one piece of parsed output.
type delta struct {
	Kind deltaKind
	Text string    // content or reasoning
	Call *toolCall // a whole, checked call
}

// toolCall is one parsed call; Arguments is a JSON object's text.
type toolCall struct {
	Index     int
	ID        string
	Name      string
	Arguments string
}

// outputParser splits generated text into reasoning, content and tool calls as it arrives.
type outputParser struct {
	reasoning bool // split <think> blocks out
	format    ToolFormat
	parallel  bool // false: keep only the first call (parallel_tool_calls false)

	// reasoning stage
	rstate   int // rsStart, rsThinking, rsContent
	rbuf     string
	rStarted bool // some reasoning text came (the newlines after <think> are behind us)
	skipWS   bool // </think> just closed: the whitespace before the answer is not content

	// tool stage
	tstate   int // tsText, tsInCall (hermes); tsDeciding, tsBuffering, tsText (llama3)
	tbuf     string
	heldWS   string // trailing whitespace of content, held until we know a call does not follow
	afterEnd bool   // a call just ended: leading whitespace of the content that follows is dropped
	calls    int
	out      []delta
}

const (
	rsStart = iota
	rsThinking
	rsContent
)

const (
	tsText = iota
	tsInCall
	tsDeciding
	tsBuffering
)

// newOutputParser makes a parser. thinkingOpen says the prompt already opened a <think> block
// (templates that start the reasoning for the model), so output begins inside it.
func newOutputParser(reasoning bool, format ToolFormat, parallel, thinkingOpen bool) *outputParser {
	p := &outputParser{reasoning: reasoning, format: format, parallel: parallel}
	switch {
	case !reasoning:
		p.rstate = rsContent
	case thinkingOpen:
		p.rstate = rsThinking
	}
	if format == ToolFormatLlama3 {
		p.tstate = tsDeciding
	}
	return p
}

// prime feeds text the server itself put at the start of the answer (a forced tool-call
// opening for tool_choice "required" or a named function) as if the model had written it.
func (p *outputParser) prime(text string) {
	p.Push(text)
	p.out = p.out[:0]
}

// Push adds generated text and returns the deltas it completes. The returned slice is reused
// by the next call.
func (p *outputParser) Push(text string) []delta {
	p.out = p.out[:0]
	if text == "" {
		return p.out
	}
	p.pushReasoning(text, false)
	return p.out
}

// Finish flushes everything held back at the end of generation.
func (p *outputParser) Finish() []delta {
	p.out = p.out[:0]
	p.pushReasoning("", true)
	p.pushTool("", true)
	return p.out
}

func (p *outputParser) emitReasoning(s string) {
	if s == "" {
		return
	}
	if n := len(p.out); n > 0 && p.out[n-1].Kind == deltaReasoning {
		p.out[n-1].Text += s
		return
	}
	p.out = append(p.out, delta{Kind: deltaReasoning, Text: s})
}

func (p *outputParser) emitContent(s string) {
	if s == "" {
		return
	}
	if n := len(p.out); n > 0 && p.out[n-1].Kind == deltaContent {
		p.out[n-1].Text += s
		return
	}
	p.out = append(p.out, delta{Kind: deltaContent, Text: s})
}

// pushReasoning is the first stage: <think> ... </think> becomes reasoning, the rest goes on to
// the tool stage. The newlines that only separate the tags from the text are dropped (as
// Qwen3's template writes them), holding back trailing newlines while streaming so that the
// streamed reasoning equals the final one.
func (p *outputParser) pushReasoning(text string, final bool) {
	p.rbuf += text
	for {
		switch p.rstate {
		case rsContent:
			s := p.rbuf
			p.rbuf = ""
			if p.skipWS {
				s = strings.TrimLeftFunc(s, unicode.IsSpace)
				if s == "" {
					return
				}
				p.skipWS = false
			}
			p.pushTool(s, false)
			return
		case rsStart:
			trimmed := strings.TrimLeftFunc(p.rbuf, unicode.IsSpace)
			switch {
			case strings.HasPrefix(trimmed, thinkOpen):
				p.rbuf = trimmed[len(thinkOpen):]
				p.rstate = rsThinking
			case !final && strings.HasPrefix(thinkOpen, trimmed):
				return // could still become <think>
			default:
				p.rstate = rsContent
			}
		case rsThinking:
			if !p.rStarted {
				p.rbuf = strings.TrimLeft(p.rbuf, "\n")
				if p.rbuf == "" {
					return
				}
				p.rStarted = true
			}
			if i := strings.Index(p.rbuf, thinkClose); i >= 0 {
				p.emitReasoning(strings.TrimRight(p.rbuf[:i], "\n"))
				p.rbuf = p.rbuf[i+len(thinkClose):]
				p.rstate = rsContent
				p.skipWS = true
				continue
			}
			if final {
				p.emitReasoning(strings.TrimRight(p.rbuf, "\n"))
				p.rbuf = ""
				return
			}
			// Hold back what may begin </think> and the newlines before it.
			keep := partialSuffix(p.rbuf, thinkClose)
			body := strings.TrimRight(p.rbuf[:len(p.rbuf)-keep], "\n")
			p.emitReasoning(body)
			p.rbuf = p.rbuf[len(body):]
			return
		}
	}
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

// pushTool is the second stage: content text, with tool calls taken out.
func (p *outputParser) pushTool(text string, final bool) {
	switch p.format {
	case ToolFormatHermes:
		p.pushHermes(text, final)
	case ToolFormatLlama3:
		p.pushLlama3(text, final)
	default:
		p.content(text)
	}
}

// content emits content text, holding back trailing whitespace while a tool format is active:
// whitespace that only separates text from a call (or calls from each other) is not content,
// and it must be held back while streaming for the streamed content to equal the final one.
func (p *outputParser) content(s string) {
	if p.format == ToolFormatNone {
		p.emitContent(s)
		return
	}
	if p.afterEnd {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
		if s == "" {
			return
		}
		p.afterEnd = false
	}
	s = p.heldWS + s
	body := strings.TrimRightFunc(s, unicode.IsSpace)
	p.heldWS = s[len(body):]
	p.emitContent(body)
}

func (p *outputParser) pushHermes(text string, final bool) {
	p.tbuf += text
	for {
		switch p.tstate {
		case tsText:
			if i := strings.Index(p.tbuf, toolCallOpen); i >= 0 {
				p.content(p.tbuf[:i])
				p.heldWS = "" // separator before a call
				p.tbuf = p.tbuf[i+len(toolCallOpen):]
				p.tstate = tsInCall
				continue
			}
			keep := 0
			if !final {
				keep = partialSuffix(p.tbuf, toolCallOpen)
			}
			p.content(p.tbuf[:len(p.tbuf)-keep])
			p.tbuf = p.tbuf[len(p.tbuf)-keep:]
			if final && p.calls == 0 {
				p.emitContent(p.heldWS) // no call came: the whitespace was content after all
				p.heldWS = ""
			}
			return
		case tsInCall:
			i := closeOutsideString(p.tbuf)
			if i < 0 && !final {
				return
			}
			body, rest, closed := p.tbuf, "", false
			if i >= 0 {
				body, rest, closed = p.tbuf[:i], p.tbuf[i+len(toolCallClose):], true
			}
			if calls, ok := parseCalls(body, false); ok {
				p.addCalls(calls)
			} else {
				// Not a call after all: show the model's text rather than lose it.
				raw := toolCallOpen + body
				if closed {
					raw += toolCallClose
				}
				p.content(raw)
			}
			p.tbuf = rest
			p.tstate = tsText
			p.afterEnd = true
			if !closed {
				return
			}
		}
	}
}

// closeOutsideString finds </tool_call> outside JSON strings (arguments may well contain the
// tag's text, e.g. a call that writes markup), or -1.
func closeOutsideString(s string) int {
	inString, escaped := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case !inString && c == '<' && strings.HasPrefix(s[i:], toolCallClose):
			return i
		}
	}
	return -1
}

func (p *outputParser) pushLlama3(text string, final bool) {
	p.tbuf += text
	switch p.tstate {
	case tsDeciding:
		trimmed := strings.TrimLeftFunc(p.tbuf, unicode.IsSpace)
		switch {
		case strings.HasPrefix(trimmed, pythonTag), strings.HasPrefix(trimmed, "{"):
			p.tstate = tsBuffering
		case !final && (trimmed == "" || strings.HasPrefix(pythonTag, trimmed)):
			return
		default:
			p.tstate = tsText
		}
		p.pushLlama3("", final)
	case tsBuffering:
		// A message that opens like a JSON call is held whole: only its end tells whether it
		// is one call, several, or text that happens to start with "{".
		if !final {
			return
		}
		body := strings.TrimPrefix(strings.TrimLeftFunc(p.tbuf, unicode.IsSpace), pythonTag)
		if calls, ok := parseCalls(body, true); ok {
			p.addCalls(calls)
		} else {
			p.emitContent(p.tbuf)
		}
		p.tbuf = ""
	case tsText:
		p.emitContent(p.tbuf)
		p.tbuf = ""
	}
}

func (p *outputParser) addCalls(calls []toolCall) {
	for _, c := range calls {
		if !p.parallel && p.calls > 0 {
			return
		}
		c.Index = p.calls
		c.ID = newCallID()
		p.calls++
		cc := c
		p.out = append(p.out, delta{Kind: deltaToolCall, Call: &cc})
	}
}

// parseCalls reads one call (Hermes: the inside of a block) or, with several set, a sequence
// of calls separated by ";" or whitespace (Llama 3). Each is an object with a string "name" and
// an "arguments" (Hermes) or "parameters" (Llama 3) object; either key is accepted. Arguments
// written as a JSON string holding an object are unwrapped. Anything else is not a call.
func parseCalls(text string, several bool) ([]toolCall, bool) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var calls []toolCall
	for {
		var obj map[string]json.RawMessage
		if err := dec.Decode(&obj); err != nil {
			return nil, false
		}
		var name string
		if err := json.Unmarshal(obj["name"], &name); err != nil || name == "" {
			return nil, false
		}
		args, ok := obj["arguments"]
		if !ok {
			args, ok = obj["parameters"]
		}
		a, valid := normalizeArguments(args, ok)
		if !valid {
			return nil, false
		}
		calls = append(calls, toolCall{Name: name, Arguments: a})
		rest := strings.TrimLeftFunc(text[dec.InputOffset():], unicode.IsSpace)
		if rest == "" {
			return calls, true
		}
		if !several {
			return nil, false
		}
		rest = strings.TrimLeftFunc(strings.TrimPrefix(rest, ";"), unicode.IsSpace)
		if rest == "" {
			return calls, true
		}
		text = rest
		dec = json.NewDecoder(strings.NewReader(text))
		dec.UseNumber()
	}
}

func normalizeArguments(raw json.RawMessage, present bool) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if !present || bytes.Equal(raw, []byte("null")) {
		return "{}", true
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		raw = bytes.TrimSpace([]byte(s))
		if !json.Valid(raw) {
			return "", false
		}
	}
	if len(raw) == 0 || raw[0] != '{' {
		return "", false
	}
	return string(raw), true
}

func newCallID() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
	for i := range b {
		b[i] = callIDAlphabet[int(b[i])%len(callIDAlphabet)]
	}
	return "call_" + string(b)
}
