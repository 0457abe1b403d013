package engine

import (
	"context"
	"fmt"
	"slices"

	"github.com/arborlabs/arbor/runtime/backend"
)

// callResult is a hook call's outcome, handed from the call's goroutine to the scheduler.
type callResult struct {
	s    *seqState
	toks []int32
	err  error
}

// startCall pauses s and runs call off the scheduler goroutine: a tool that takes seconds
// must not hold up the other sequences' decoding.
func (e *Engine) startCall(s *seqState, call func(context.Context) ([]int32, error)) {
	s.calling = true
	s.calls++
	e.stats.calls.Add(1)
	ctx := s.ctx
	go func() {
		toks, err := runCall(ctx, call)
		e.callMu.Lock()
		e.callDone = append(e.callDone, callResult{s: s, toks: toks, err: err})
		e.callMu.Unlock()
		e.signal()
	}()
}

// runCall runs a hook's call, turning a panic into an error: a call is the hook's code, and a
// bug in it must fail its request, not the server.
func runCall(ctx context.Context, call func(context.Context) ([]int32, error)) (toks []int32, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("call panicked: %v", r)
		}
	}()
	return call(ctx)
}

// deliverCalls appends the forced tokens of every finished call to its sequence, which then
// prefills them in its next step (all at once, within the step's token budget) and resumes
// sampling. A sequence preempted meanwhile gets them too; they are computed when it returns.
func (e *Engine) deliverCalls() {
	e.callMu.Lock()
	done := e.callDone
	e.callDone = nil
	e.callMu.Unlock()
	for _, r := range done {
		s := r.s
		if s.done {
			continue
		}
		s.calling = false
		if r.err != nil {
			e.finish(s, "", fmt.Errorf("call: %w", r.err))
			continue
		}
		e.appendForced(s, r.toks)
	}
}

// appendForced appends tokens the sequence did not sample. They pass the grammar like sampled
// ones (a call that writes what the grammar forbids fails the request) and are streamed.
func (e *Engine) appendForced(s *seqState, toks []int32) {
	vocab := e.be.VocabSize()
	if len(s.live)+len(toks) >= e.opt.MaxContext {
		e.finish(s, FinishLength, nil)
		return
	}
	var call func(context.Context) ([]int32, error)
	for _, id := range toks {
		if id < 0 || int(id) >= vocab {
			e.finish(s, "", fmt.Errorf("call: forced token %d outside the vocabulary of %d", id, vocab))
			return
		}
		if s.matcher != nil {
			if err := s.matcher.Accept(id); err != nil {
				e.finish(s, "", fmt.Errorf("call: forced token %d: grammar: %w", id, err))
				return
			}
		}
		s.sampler.Accept(id)
		s.forced++
		e.stats.forced.Add(1)
		call = e.appendToken(s, id, Event{Token: id})
		if s.done {
			return
		}
	}
	if call != nil {
		e.startCall(s, call)
	}
}

// drop takes spans of output tokens out of s's context and KV cache, following the request's
// position policy. Parts already dropped are skipped; nothing at or past the newest token goes.
func (e *Engine) drop(s *seqState, spans []Span) error {
	base := len(s.req.Prompt)
	last := len(s.tokens) - 1
	for _, sp := range spans {
		a, b := base+max(sp.Begin, 0), min(base+sp.End, last)
		if a >= b {
			continue
		}
		// The pieces of [a, b) still live, with where they sit in live now; applied back to
		// front so that each piece's indices stay valid.
		type piece struct{ lo, hi, at int }
		var pieces []piece
		gone := 0 // dropped tokens before the cursor
		cur := a
		for _, d := range s.dropped {
			if d.End <= cur {
				gone += d.Len()
				continue
			}
			if d.Begin >= b {
				break
			}
			if d.Begin > cur {
				pieces = append(pieces, piece{cur, d.Begin, cur - gone})
			}
			gone += d.Len()
			cur = max(cur, d.End)
		}
		if cur < b {
			pieces = append(pieces, piece{cur, b, cur - gone})
		}
		for i := len(pieces) - 1; i >= 0; i-- {
			p := pieces[i]
			if err := e.dropLive(s, p.at, p.at+(p.hi-p.lo)); err != nil {
				return err
			}
			s.dropped = AddSpan(s.dropped, Span{p.lo, p.hi})
		}
	}
	return nil
}

// dropLive removes live[begin:end] and its KV. Tokens whose KV is not written yet just leave
// live. Reencode truncates the KV at begin, so that the kept tokens after the span are
// prefilled again at their new positions; Shift and Gap move the kept slots down (the
// backend copies at most the tokens after the span) and Shift re-rotates their keys.
func (e *Engine) dropLive(s *seqState, begin, end int) error {
	n := end - begin
	policy := s.req.PositionPolicy
	shifter, canShift := e.be.(backend.KeyShifter)
	if policy == Shift && !canShift {
		policy = Reencode
	}
	if k := s.kv.Len(); begin < k {
		if end > k || policy == Reencode {
			if err := s.kv.Truncate(begin); err != nil {
				return fmt.Errorf("kv: prune: %w", err)
			}
		} else {
			moves, err := s.kv.Remove(begin, end)
			if err != nil {
				return fmt.Errorf("kv: prune [%d, %d): %w", begin, end, err)
			}
			if err := e.be.CopySlots(moves); err != nil {
				return fmt.Errorf("kv: prune: copy slots: %w", err)
			}
			if policy == Shift {
				if err := shifter.ShiftKeys(s.kv.Pages(), begin, s.kv.Len(), -n); err != nil {
					return fmt.Errorf("kv: prune: shift keys: %w", err)
				}
			}
		}
	}
	s.live = slices.Delete(s.live, begin, end)
	s.pos = slices.Delete(s.pos, begin, end)
	if policy != Gap {
		for i := begin; i < len(s.pos); i++ {
			s.pos[i] = int32(i)
		}
	}
	s.pruned += n
	e.stats.pruned.Add(int64(n))
	return nil
}

// AddSpan inserts sp into the sorted, disjoint list spans, merging neighbours (spans that
// overlap or touch).
func AddSpan(spans []Span, sp Span) []Span {
	i, _ := slices.BinarySearchFunc(spans, sp.Begin, func(d Span, b int) int { return d.Begin - b })
	spans = slices.Insert(spans, i, sp)
	out := spans[:0]
	for _, d := range spans {
		if n := len(out); n > 0 && d.Begin <= out[n-1].End {
			out[n-1].End = max(out[n-1].End, d.End)
			continue
		}
		out = append(out, d)
	}
	return out
}
