package sample

import (
	"slices"
	"strings"
)

// StopChecker ends generation on stop token ids and stop strings while text streams out.
//
// A stop string may span several tokens, so text that could be the start of one is held back
// until the next tokens show whether it is; the client never sees a partial stop string, nor the
// stop string itself, nor the text of a stop token (OpenAI's and vLLM's default). It works on
// bytes as the detokenizer hands them over. It is used by one goroutine.
type StopChecker struct {
	ids     []int32
	strs    []string
	held    []byte // text not yet emitted: a suffix that may begin a stop string
	stopped bool
	reason  StopReason
}

// StopReason tells what ended generation: a stop token id, or a stop string (Token is then -1).
type StopReason struct {
	Token  int32
	String string
}

// NewStopChecker watches for the given token ids and strings; empty strings are ignored.
func NewStopChecker(stopIDs []int32, stopStrings []string) *StopChecker {
	c := &StopChecker{ids: slices.Clone(stopIDs)}
	for _, s := range stopStrings {
		if s != "" {
			c.strs = append(c.strs, s)
		}
	}
	return c
}

// Push takes the next token and its text and returns the text now safe to send and whether
// generation has stopped. On a stop token the held-back text is released (it did not complete a
// stop string) and the token's own text is dropped; on a stop string the text before it is
// released and the string and anything after it are dropped. After a stop every Push returns
// ("", true).
func (c *StopChecker) Push(tok int32, text string) (emit string, stopped bool) {
	if c.stopped {
		return "", true
	}
	if slices.Contains(c.ids, tok) {
		c.stopped = true
		c.reason = StopReason{Token: tok}
		return c.release(len(c.held)), true
	}
	if len(c.strs) == 0 {
		return text, false
	}
	// A stop string can only begin inside the held text or the new text: anything earlier was
	// released because no suffix of it began a stop string.
	c.held = append(c.held, text...)
	buf := string(c.held) // one copy per token; the held text is short
	first, which := -1, ""
	for _, s := range c.strs {
		if i := strings.Index(buf, s); i >= 0 && (first < 0 || i < first) {
			first, which = i, s
		}
	}
	if first >= 0 {
		c.stopped = true
		c.reason = StopReason{Token: -1, String: which}
		emit = buf[:first]
		c.held = c.held[:0]
		return emit, true
	}
	// Hold back the longest suffix that is a proper prefix of some stop string.
	hold := 0
	for _, s := range c.strs {
		for n := min(len(s)-1, len(buf)); n > hold; n-- {
			if strings.HasSuffix(buf, s[:n]) {
				hold = n
				break
			}
		}
	}
	return c.release(len(c.held) - hold), false
}

// release returns the first n held bytes and keeps the rest.
func (c *StopChecker) release(n int) string {
	out := string(c.held[:n])
	c.held = append(c.held[:0], c.held[n:]...)
	return out
}

// Flush returns the text still held back, for when generation ends for another reason (length,
// end of sequence handled elsewhere): a partial stop string that never completed is ordinary
// text.
func (c *StopChecker) Flush() string {
	if c.stopped {
		return ""
	}
	return c.release(len(c.held))
}

// Stopped reports whether a stop condition has been met, and which.
func (c *StopChecker) Stopped() (StopReason, bool) { return c.reason, c.stopped }
