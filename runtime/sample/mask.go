package sample

import (
	"math"
	"math/bits"
)

// Constrained decoding hands the sampler a token mask: a bitset over the vocabulary (bit i of
// word i/64 set: token i allowed), as a grammar computes it.

// MaskLogits sets the logits of the tokens whose mask bit is clear to -Inf.
func MaskLogits(logits []float32, mask []uint64) {
	ninf := float32(math.Inf(-1))
	for w, word := range mask {
		if word == ^uint64(0) {
			continue
		}
		base := w * 64
		end := min(base+64, len(logits))
		for i := base; i < end; i++ {
			if word&(1<<uint(i-base)) == 0 {
				logits[i] = ninf
			}
		}
	}
}

// MaskScratch is PickMasked's reusable scratch: the allowed tokens' ids and logits.
type MaskScratch struct {
	ids  []int32
	vals []float32
}

// PickMasked draws from logits already masked with mask, as Pick(logits) would: when few
// tokens are allowed it draws from just those (gathered, in id order, into sc), which is the
// same distribution at a fraction of the cost of a pass over the whole vocabulary. It returns
// -1 when no allowed token has a finite logit.
func (s *Sampler) PickMasked(logits []float32, mask []uint64, sc *MaskScratch) int32 {
	n := 0
	for _, w := range mask {
		n += bits.OnesCount64(w)
	}
	if n*8 > len(logits) {
		return s.Pick(logits)
	}
	sc.ids, sc.vals = sc.ids[:0], sc.vals[:0]
	for wi, w := range mask {
		for w != 0 {
			i := wi*64 + bits.TrailingZeros64(w)
			w &= w - 1
			if i < len(logits) {
				sc.ids = append(sc.ids, int32(i))
				sc.vals = append(sc.vals, logits[i])
			}
		}
	}
	k := s.Pick(sc.vals)
	if k < 0 {
		return -1
	}
	return sc.ids[k]
}
