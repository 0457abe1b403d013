package sample

import (
	"math"
	"slices"
)

// TokenLogprob is a token and its log-probability, as OpenAI's top_logprobs lists them.
type TokenLogprob struct {
	Token   int32
	Logprob float32
}

// Logprobs returns the log-probability of chosen and the topN most likely tokens (highest first,
// ties to the lowest id), appended to dst[:0] so that a caller reusing dst allocates nothing.
//
// The distribution is log_softmax(logits) as given. Called on the slice Sample just used, that
// is the model's distribution after the penalties and before temperature and the filters: the
// probabilities the model assigns, not those of the sampler's draw, which is what OpenAI
// reports and what vLLM reports by default for temperature 1. A token excluded by top-k or top-p
// therefore still has a finite logprob, and a greedy choice need not have logprob 0. It uses the
// sampler's scratch, so it must not run concurrently with the sampler's other methods.
//
// It panics when chosen is outside logits; with every logit -Inf or NaN it returns -Inf and no
// top tokens.
func (s *Sampler) Logprobs(logits []float32, chosen int32, topN int, dst []TokenLogprob) (float32, []TokenLogprob) {
	_ = logits[chosen]
	dst = dst[:0]
	s.cand = grow(s.cand[:0], topN)[:0]
	h := s.cand
	m := float32(math.Inf(-1))
	for i, v := range logits {
		if v > m {
			m = v
		}
		if len(h) == topN {
			if topN > 0 && v > h[0].v {
				h = heapPush(h, topN, cand{int32(i), v})
			}
		} else if v > float32(math.Inf(-1)) {
			h = heapPush(h, topN, cand{int32(i), v})
		}
	}
	if math.IsInf(float64(m), -1) {
		return m, dst
	}
	var sum float64
	if math.IsInf(float64(m), 1) {
		// The +Inf tokens share all the probability.
		for _, v := range logits {
			if v == m {
				sum++
			}
		}
		lp := func(v float32) float32 {
			if v == m {
				return float32(-math.Log(sum))
			}
			return float32(math.Inf(-1))
		}
		slices.SortFunc(h, byBetter)
		for _, c := range h {
			dst = append(dst, TokenLogprob{c.id, lp(c.v)})
		}
		return lp(logits[chosen]), dst
	}
	sum = sumExp(logits, m)
	lse := m + float32(math.Log(sum))
	slices.SortFunc(h, byBetter)
	for _, c := range h {
		dst = append(dst, TokenLogprob{c.id, c.v - lse})
	}
	return logits[chosen] - lse, dst
}
