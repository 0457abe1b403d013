package parsers

import (
	"strings"
	"unicode"
)

// thinking is the parser of a model that reasons in <think> blocks (Qwen3, DeepSeek R1): the
// block becomes reasoning, and the rest goes to the parser of the model's tool-call format.
// The newlines that only separate the tags from the text are dropped (as Qwen3's template
// writes them), holding back trailing newlines while streaming so that the streamed reasoning
// equals the final one.
type thinking struct {
	deltas
	inner   Parser
	state   int // beforeThought, inThought, afterThought
	buf     string
	started bool // some reasoning text came (the newlines after <think> are behind us)
	skipWS  bool // </think> just closed: the whitespace before the answer is not content
}

const (
	beforeThought = iota
	inThought
	afterThought
)

func (p *thinking) Push(text string) []Delta { return p.run(text, false, p.push) }

func (p *thinking) Finish() []Delta {
	p.run("", true, p.push)
	p.take(p.inner.Finish())
	return p.out
}

// take adds the inner parser's deltas.
func (p *thinking) take(ds []Delta) {
	for _, d := range ds {
		if d.Kind == DeltaToolCall {
			p.out = append(p.out, d)
			continue
		}
		p.emit(d.Kind, d.Text)
	}
}

func (p *thinking) push(text string, final bool) {
	p.buf += text
	for {
		switch p.state {
		case afterThought:
			s := p.buf
			p.buf = ""
			if p.skipWS {
				s = strings.TrimLeftFunc(s, unicode.IsSpace)
				if s == "" {
					return
				}
				p.skipWS = false
			}
			p.take(p.inner.Push(s))
			return
		case beforeThought:
			trimmed := strings.TrimLeftFunc(p.buf, unicode.IsSpace)
			switch {
			case strings.HasPrefix(trimmed, thinkOpen):
				p.buf = trimmed[len(thinkOpen):]
				p.state = inThought
			case !final && strings.HasPrefix(thinkOpen, trimmed):
				return // could still become <think>
			default:
				p.state = afterThought
			}
		case inThought:
			if !p.started {
				p.buf = strings.TrimLeft(p.buf, "\n")
				if p.buf == "" {
					return
				}
				p.started = true
			}
			if i := strings.Index(p.buf, thinkClose); i >= 0 {
				p.emit(DeltaReasoning, strings.TrimRight(p.buf[:i], "\n"))
				p.buf = p.buf[i+len(thinkClose):]
				p.state = afterThought
				p.skipWS = true
				continue
			}
			if final {
				p.emit(DeltaReasoning, strings.TrimRight(p.buf, "\n"))
				p.buf = ""
				return
			}
			// Hold back what may begin </think> and the newlines before it.
			keep := partialSuffix(p.buf, thinkClose)
			body := strings.TrimRight(p.buf[:len(p.buf)-keep], "\n")
			p.emit(DeltaReasoning, body)
			p.buf = p.buf[len(body):]
			return
		}
	}
}
