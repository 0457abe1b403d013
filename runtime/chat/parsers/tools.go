package parsers

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"strings"
	"unicode"
)

// calls hands out parsed calls as deltas, with their index and a fresh id.
type calls struct {
	parallel bool // false: keep only the first call
	n        int
}

func (c *calls) add(d *deltas, parsed []ToolCall) {
	for _, call := range parsed {
		if !c.parallel && c.n > 0 {
			return
		}
		call.Index = c.n
		call.ID = newCallID()
		c.n++
		d.out = append(d.out, Delta{Kind: DeltaToolCall, Call: &call})
	}
}

// hermes is the parser of <tool_call> blocks (ToolFormatHermes).
type hermes struct {
	deltas
	calls
	inCall   bool
	buf      string
	heldWS   string // trailing whitespace of content, held until we know a call does not follow
	afterEnd bool   // a call just ended: leading whitespace of the content that follows is dropped
}

func (p *hermes) Push(text string) []Delta { return p.run(text, false, p.push) }

func (p *hermes) Finish() []Delta { return p.run("", true, p.push) }

// content emits content text, holding back trailing whitespace: whitespace that only separates
// text from a call (or calls from each other) is not content, and it must be held back while
// streaming for the streamed content to equal the final one.
func (p *hermes) content(s string) {
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
	p.emit(DeltaContent, body)
}

func (p *hermes) push(text string, final bool) {
	p.buf += text
	for {
		if !p.inCall {
			if i := strings.Index(p.buf, toolCallOpen); i >= 0 {
				p.content(p.buf[:i])
				p.heldWS = "" // separator before a call
				p.buf = p.buf[i+len(toolCallOpen):]
				p.inCall = true
				continue
			}
			keep := 0
			if !final {
				keep = partialSuffix(p.buf, toolCallOpen)
			}
			p.content(p.buf[:len(p.buf)-keep])
			p.buf = p.buf[len(p.buf)-keep:]
			if final && p.n == 0 {
				p.emit(DeltaContent, p.heldWS) // no call came: the whitespace was content after all
				p.heldWS = ""
			}
			return
		}
		i := closeOutsideString(p.buf)
		if i < 0 && !final {
			return
		}
		body, rest, closed := p.buf, "", false
		if i >= 0 {
			body, rest, closed = p.buf[:i], p.buf[i+len(toolCallClose):], true
		}
		if parsed, ok := parseCalls(body, false); ok {
			p.add(&p.deltas, parsed)
		} else {
			// Not a call after all: show the model's text rather than lose it.
			raw := toolCallOpen + body
			if closed {
				raw += toolCallClose
			}
			p.content(raw)
		}
		p.buf = rest
		p.inCall = false
		p.afterEnd = true
		if !closed {
			return
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

// llama3 is the parser of messages that are JSON calls (ToolFormatLlama3).
type llama3 struct {
	deltas
	calls
	state int // deciding, buffering, asText
	buf   string
}

const (
	deciding = iota
	buffering
	asText
)

func (p *llama3) Push(text string) []Delta { return p.run(text, false, p.push) }

func (p *llama3) Finish() []Delta { return p.run("", true, p.push) }

func (p *llama3) push(text string, final bool) {
	p.buf += text
	switch p.state {
	case deciding:
		trimmed := strings.TrimLeftFunc(p.buf, unicode.IsSpace)
		switch {
		case strings.HasPrefix(trimmed, pythonTag), strings.HasPrefix(trimmed, "{"):
			p.state = buffering
		case !final && (trimmed == "" || strings.HasPrefix(pythonTag, trimmed)):
			return
		default:
			p.state = asText
		}
		p.push("", final)
	case buffering:
		// A message that opens like a JSON call is held whole: only its end tells whether it
		// is one call, several, or text that happens to start with "{".
		if !final {
			return
		}
		body := strings.TrimPrefix(strings.TrimLeftFunc(p.buf, unicode.IsSpace), pythonTag)
		if parsed, ok := parseCalls(body, true); ok {
			p.add(&p.deltas, parsed)
		} else {
			p.emit(DeltaContent, p.buf)
		}
		p.buf = ""
	case asText:
		p.emit(DeltaContent, p.buf)
		p.buf = ""
	}
}

// parseCalls reads one call (Hermes: the inside of a block) or, with several set, a sequence
// of calls separated by ";" or whitespace (Llama 3). Each is an object with a string "name" and
// an "arguments" (Hermes) or "parameters" (Llama 3) object; either key is accepted. Arguments
// written as a JSON string holding an object are unwrapped. Anything else is not a call.
func parseCalls(text string, several bool) ([]ToolCall, bool) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var out []ToolCall
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
		out = append(out, ToolCall{Name: name, Arguments: a})
		rest := strings.TrimLeftFunc(text[dec.InputOffset():], unicode.IsSpace)
		if rest == "" {
			return out, true
		}
		if !several {
			return nil, false
		}
		rest = strings.TrimLeftFunc(strings.TrimPrefix(rest, ";"), unicode.IsSpace)
		if rest == "" {
			return out, true
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

const callIDAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func newCallID() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
	for i := range b {
		b[i] = callIDAlphabet[int(b[i])%len(callIDAlphabet)]
	}
	return "call_" + string(b)
}
