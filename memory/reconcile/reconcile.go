// Package reconcile decides what of a chat request to a session with memory is new. A client
// may send only its new message, its whole history again, or the last few turns and the new
// message; the session must end up with every turn once, in order, whichever it does.
//
// The messages after the request's last assistant message are the new turn's (system
// messages aside). The messages before it are history, grouped into turns (a user's messages
// and the replies after them) and compared in order, by content, with the session's: a
// history that starts where the session starts (the whole conversation sent again) skips the
// turns they share; otherwise the longest run of its first turns that the session ends with
// (the last few turns sent again) is skipped. What is left are turns the session does not hold
// yet, stored before the new one.
package reconcile

import (
	"crypto/sha256"
	"errors"
	"strings"

	"github.com/arborlabs/arbor/runtime/chat"
)

// Turn is a stored exchange: what the user said and what was replied, as text.
type Turn struct {
	User, Reply string
}

// Split is a request taken apart.
type Split struct {
	// System is the request's system messages' text, joined ("" for none).
	System string
	// Backfill are history turns the session does not hold yet, oldest first.
	Backfill []Turn
	// New are the new turn's messages (at least one user message).
	New []chat.Message
}

// ErrNoNewMessage is returned for a request whose last message is the assistant's: there is
// nothing to reply to.
var ErrNoNewMessage = errors.New("the messages after the last assistant message have no user message")

// Stored is a session's turns, read as needed: Reconcile reads at most as many of its first
// and of its last turns as the request's history has.
type Stored interface {
	Len() int
	Turn(i int) (Turn, error)
}

// Turns is a Stored held in memory.
type Turns []Turn

func (t Turns) Len() int                 { return len(t) }
func (t Turns) Turn(i int) (Turn, error) { return t[i], nil }

// Reconcile splits msgs against the session's stored turns (nil: none), in time linear in the
// messages and the turns read.
func Reconcile(stored Stored, msgs []chat.Message) (*Split, error) {
	var sys []string
	var rest []chat.Message
	for _, m := range msgs {
		if m.Role == "system" || m.Role == "developer" {
			sys = append(sys, Text(m))
			continue
		}
		rest = append(rest, m)
	}
	last := -1
	for i, m := range rest {
		if m.Role == "assistant" {
			last = i
		}
	}
	out := &Split{System: strings.Join(sys, "\n\n"), New: rest[last+1:]}
	hasUser := false
	for _, m := range out.New {
		hasUser = hasUser || m.Role == "user"
	}
	if !hasUser {
		return nil, ErrNoNewMessage
	}
	history := turns(rest[:last+1])
	if len(history) == 0 {
		return out, nil
	}
	if stored == nil {
		stored = Turns(nil)
	}
	n := stored.Len()
	read := func(from, to int) ([]Turn, error) {
		ts := make([]Turn, 0, to-from)
		for i := from; i < to; i++ {
			t, err := stored.Turn(i)
			if err != nil {
				return nil, err
			}
			ts = append(ts, t)
		}
		return ts, nil
	}
	// The whole conversation again: the turns it shares with the session from the start.
	head, err := read(0, min(n, len(history)))
	if err != nil {
		return nil, err
	}
	common := 0
	for common < len(head) && head[common] == history[common] {
		common++
	}
	// The last k turns again: the longest prefix of the history the session ends with.
	tail, err := read(max(0, n-len(history)), n)
	if err != nil {
		return nil, err
	}
	if k := max(common, overlap(history, tail)); k < len(history) {
		out.Backfill = history[k:]
	}
	return out, nil
}

// turns groups history messages into turns: a turn starts at a user message after a reply;
// tool messages belong to the reply side.
func turns(msgs []chat.Message) []Turn {
	var out []Turn
	var user, reply []string
	flush := func() {
		if len(user) > 0 || len(reply) > 0 {
			out = append(out, Turn{User: strings.Join(user, "\n"), Reply: strings.Join(reply, "\n")})
		}
		user, reply = nil, nil
	}
	for _, m := range msgs {
		if m.Role == "user" {
			if len(reply) > 0 {
				flush()
			}
			user = append(user, Text(m))
			continue
		}
		reply = append(reply, Text(m))
	}
	flush()
	return out
}

// Text is a message's text: its content, or its text parts joined.
func Text(m chat.Message) string {
	if len(m.Parts) == 0 {
		return m.Content
	}
	var b strings.Builder
	for _, p := range m.Parts {
		b.WriteString(p.Text)
	}
	return b.String()
}

// overlap returns the largest k such that h[:k] equals the last k of s, with the prefix
// function of h followed by s (turns compared by digest): linear, so a hostile history of
// many turns against a long session costs little.
func overlap(h, s []Turn) int {
	key := func(t Turn) [32]byte {
		return sha256.Sum256([]byte(t.User + "\x00" + t.Reply))
	}
	seq := make([][32]byte, 0, len(h)+1+len(s))
	for _, t := range h {
		seq = append(seq, key(t))
	}
	seq = append(seq, [32]byte{}) // a separator no turn digest equals (with overwhelming odds)
	for _, t := range s {
		seq = append(seq, key(t))
	}
	pi := make([]int, len(seq))
	for i := 1; i < len(seq); i++ {
		k := pi[i-1]
		for k > 0 && seq[i] != seq[k] {
			k = pi[k-1]
		}
		if seq[i] == seq[k] {
			k++
		}
		pi[i] = k
	}
	return min(pi[len(seq)-1], len(h))
}
