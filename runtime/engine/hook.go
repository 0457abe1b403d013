package engine

import "context"

// Hook steers one request's sequence beyond sampling: the task tree runs tools inside the
// decode and drops finished subtasks from the KV cache through it. The engine calls a hook on
// its scheduler goroutine, never concurrently for one request, so a hook needs no locks of
// its own; it must return quickly (slow work goes into Directive.Call, which runs elsewhere).
type Hook interface {
	// Appended is told every output token as it joins the sequence, sampled or forced, in
	// order: i is its index among the output tokens (0 is the first token after the prompt).
	Appended(i int, id int32) Directive
}

// Chooser is implemented by hooks that pick output tokens themselves instead of the sampler:
// a benchmark replaying a recorded output through real forward passes (the model's logits are
// computed and ignored). Choose is asked before each draw with the index the token will have
// among the output tokens; ok false lets the sampler draw. A chosen token still passes the
// grammar. Choose may run on any goroutine, but never concurrently for one request.
type Chooser interface {
	Choose(i int) (id int32, ok bool)
}

// Span is a range [Begin, End) of output token indices (package tree also measures output
// bytes with it).
type Span struct{ Begin, End int }

// Len is the number of tokens in the span.
func (s Span) Len() int { return s.End - s.Begin }

// Directive is what a hook asks of the engine after a token.
type Directive struct {
	// Drop lists spans of earlier output tokens whose keys and values leave the KV cache
	// (their text stays in the output). Parts already dropped are skipped; a span reaching
	// the token just appended is cut before it. The request's PositionPolicy says what
	// happens to the positions of the tokens that follow.
	Drop []Span
	// Call, when set, pauses the sequence: it leaves the batch (keeping its KV pages) while
	// Call runs on a goroutine of its own with the request's context, so that other
	// sequences go on decoding. The tokens Call returns join the sequence as forced tokens:
	// each passes the grammar, is told to Appended and streamed like a sampled one, and all
	// are prefilled together; then sampling resumes. An error from Call fails the request.
	Call func(ctx context.Context) ([]int32, error)
}

// PositionPolicy says which RoPE positions the tokens after a dropped span get.
type PositionPolicy int

const (
	// Reencode recomputes the keys and values of every kept token after the span with new
	// contiguous positions (TIMRUN's way): exact, at the cost of a prefill of that suffix.
	Reencode PositionPolicy = iota
	// Shift moves the kept slots down and rotates their keys by the position delta (RoPE
	// composes, so the keys are those of the new positions up to rounding), as llama.cpp's
	// context shift does; no recomputation. Backends without backend.KeyShifter fall back
	// to Reencode.
	Shift
	// Gap moves the kept slots down and leaves positions as they were: later tokens go on
	// from the old numbering, so the model sees a jump where the span was.
	Gap
)

// String is the policy's name in the API ("reencode", "shift", "gap").
func (p PositionPolicy) String() string {
	switch p {
	case Reencode:
		return "reencode"
	case Shift:
		return "shift"
	case Gap:
		return "gap"
	}
	return "unknown"
}

// ParsePositionPolicy reads a policy's API name; the empty string is Reencode.
func ParsePositionPolicy(s string) (PositionPolicy, bool) {
	switch s {
	case "", "reencode":
		return Reencode, true
	case "shift":
		return Shift, true
	case "gap":
		return Gap, true
	}
	return 0, false
}
