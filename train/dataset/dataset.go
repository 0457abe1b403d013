// Package dataset turns training examples (corpus.Example: a text with the byte spans that
// carry loss) into what a trainer steps on: token ids with a loss weight per target, packed
// into fixed-length rows.
//
// Each span is tokenized on its own, so that a token never straddles the boundary between what
// the model writes (loss) and what it is given (the prompt; tool results, which the runtime
// forces at inference and encodes on their own too).
package dataset

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/arborlabs/arbor/runtime/tokenizer"
	"github.com/arborlabs/arbor/train/corpus"
)

// Tokenized is an example as token ids, with Loss[i] the weight of predicting Tokens[i] from
// the tokens before it (0 or 1; Loss[0] is always 0).
type Tokenized struct {
	Tokens []int32
	Loss   []float32
}

// Tokenize encodes each span of ex (special-token text becomes control tokens, as the chat
// template's markup does at inference). The tokens lying entirely inside one of ex.Drop leave
// the example; with ex.LossTo > 0, only tokens starting in [ex.LossFrom, ex.LossTo) keep their
// loss, and those starting at ex.LossTo or later leave it.
func Tokenize(tok *tokenizer.Tokenizer, ex corpus.Example) (Tokenized, error) {
	var out Tokenized
	at := 0
	window := ex.LossTo > 0
	if window && (ex.LossFrom < 0 || ex.LossFrom > ex.LossTo || ex.LossTo > len(ex.Text)) {
		return out, fmt.Errorf("dataset: loss window [%d, %d) outside a text of %d bytes", ex.LossFrom, ex.LossTo, len(ex.Text))
	}
	for i, d := range ex.Drop {
		if d.Begin < 0 || d.End < d.Begin || d.End > len(ex.Text) || (i > 0 && d.Begin < ex.Drop[i-1].End) {
			return out, fmt.Errorf("dataset: drop %d [%d, %d) is out of order or outside a text of %d bytes",
				i, d.Begin, d.End, len(ex.Text))
		}
	}
	offsets := window || len(ex.Drop) > 0
	next := 0 // the first drop that may hold a token from here on
	for i, s := range ex.Spans {
		if s.Start != at || s.End < s.Start || s.End > len(ex.Text) {
			return out, fmt.Errorf("dataset: span %d [%d, %d) does not continue at %d in a text of %d bytes",
				i, s.Start, s.End, at, len(ex.Text))
		}
		at = s.End
		ids := tok.Encode(ex.Text[s.Start:s.End])
		w := float32(0)
		if s.Loss {
			w = 1
		}
		if !offsets {
			for range ids {
				out.Loss = append(out.Loss, w)
			}
			out.Tokens = append(out.Tokens, ids...)
			continue
		}
		pos := s.Start
		for _, id := range ids {
			n := len(tok.TokenBytes(id))
			if n == 0 && tok.IsSpecial(id) {
				n = len(tok.Token(id))
			}
			start, end := pos, pos+n
			pos = end
			if window && start >= ex.LossTo {
				// The rest of the text comes after this view: the example ends here.
				if len(out.Loss) > 0 {
					out.Loss[0] = 0
				}
				return out, nil
			}
			for next < len(ex.Drop) && ex.Drop[next].End < end {
				next++
			}
			if next < len(ex.Drop) && ex.Drop[next].Begin <= start && end <= ex.Drop[next].End {
				continue
			}
			lw := w
			if window && start < ex.LossFrom {
				lw = 0
			}
			out.Tokens, out.Loss = append(out.Tokens, id), append(out.Loss, lw)
		}
		if pos != s.End {
			return out, fmt.Errorf("dataset: span %d's tokens hold %d bytes, the span %d", i, pos-s.Start, s.End-s.Start)
		}
	}
	if at != len(ex.Text) {
		return out, fmt.Errorf("dataset: spans end at %d in a text of %d bytes", at, len(ex.Text))
	}
	if len(out.Loss) > 0 {
		out.Loss[0] = 0 // nothing predicts the first token
	}
	return out, nil
}

// Rows packs examples into rows of exactly n tokens, each example whole in one row (what the
// model learns to write stays in the row of the prompt it answers). An example goes into the
// first of the last few open rows with room for it (first fit: short examples fill the ends
// that long ones leave), followed by sep (a token with no loss on it, e.g. the end-of-text
// token); rows are padded with sep. Only an example longer than a row is cut, into pieces of a
// row each.
func Rows(examples []Tokenized, n int, sep int32) (tokens [][]int32, loss [][]float32) {
	const window = 16 // open rows searched for room
	type row struct {
		t []int32
		l []float32
	}
	var open []*row
	close := func(r *row) {
		for len(r.t) < n {
			r.t, r.l = append(r.t, sep), append(r.l, 0)
		}
		tokens, loss = append(tokens, r.t), append(loss, r.l)
	}
	for _, ex := range examples {
		if len(ex.Tokens) >= n { // cut: whole rows of it, the rest as an example of its own
			for at := 0; at < len(ex.Tokens); at += n {
				end := min(at+n, len(ex.Tokens))
				close(&row{t: slices.Clone(ex.Tokens[at:end]), l: slices.Clone(ex.Loss[at:end])})
			}
			continue
		}
		var dst *row
		for _, r := range open {
			if len(r.t)+len(ex.Tokens) <= n {
				dst = r
				break
			}
		}
		if dst == nil {
			if len(open) == window {
				close(open[0])
				open = open[1:]
			}
			dst = &row{}
			open = append(open, dst)
		}
		dst.t, dst.l = append(dst.t, ex.Tokens...), append(dst.l, ex.Loss...)
		if len(dst.t) < n {
			dst.t, dst.l = append(dst.t, sep), append(dst.l, 0)
		}
	}
	for _, r := range open {
		close(r)
	}
	return tokens, loss
}

// Shuffle permutes rows in place with a seeded generator: the same seed, the same order.
func Shuffle(tokens [][]int32, loss [][]float32, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 0x2545f4914f6cdd1d))
	r.Shuffle(len(tokens), func(i, j int) {
		tokens[i], tokens[j] = tokens[j], tokens[i]
		loss[i], loss[j] = loss[j], loss[i]
	})
}
