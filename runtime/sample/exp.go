package sample

import "math"

// Sampling at temperature takes one exponential per candidate token, up to the whole vocabulary,
// and math.Exp's float64 accuracy buys nothing once the result is a float32 weight. The functions
// here compute exp(x) for x <= 0 within a few float32 ulp:
//
// x = k*ln2 + r with |r| <= ln2/2; exp(r) by its Taylor series to degree 7 (truncation error
// below 6e-9 relative); scaled by 2^k through the exponent bits. ln2 is split in two so that
// k*ln2Hi is exact for |k| <= 126 and r keeps its precision. Below -87 the result is 0 (exp(-87)
// is near the smallest normal float32).
//
// The compiler does not inline a function this size, and a call per token costs about a third
// of the work, so the two hot loops (weigh, sumExp) repeat expNonPos's body; TestExp checks that
// all three agree bit for bit.
const (
	expMin = -87
	log2e  = 1.4426950408889634
	ln2Hi  = 0.693359375
	ln2Lo  = -2.12194440054690583e-4
)

// expNonPos is exp(x) for x <= 0; NaN gives 0.
func expNonPos(x float32) float32 {
	if !(x >= expMin) {
		return 0
	}
	// Conversion truncates toward zero and the argument is <= 0, so subtracting 0.5 first
	// rounds to the nearest integer.
	k := float32(int32(x*log2e - 0.5))
	r := x - k*ln2Hi - k*ln2Lo
	p := float32(1.0 / 5040)
	p = p*r + 1.0/720
	p = p*r + 1.0/120
	p = p*r + 1.0/24
	p = p*r + 1.0/6
	p = p*r + 0.5
	p = p*r + 1
	p = p*r + 1
	return p * math.Float32frombits(uint32(int32(k)+127)<<23)
}

// weigh replaces each candidate's logit v by its unnormalised probability exp((v-m)*invT) and
// returns their sum. m must be the largest v, so the weights are at most 1.
func weigh(c []cand, m, invT float32) float64 {
	var s0, s1 float64 // two accumulators halve the dependency chain of the float64 adds
	for i := range c {
		x := (c[i].v - m) * invT
		var w float32
		if x >= expMin {
			k := float32(int32(x*log2e - 0.5))
			r := x - k*ln2Hi - k*ln2Lo
			p := float32(1.0 / 5040)
			p = p*r + 1.0/720
			p = p*r + 1.0/120
			p = p*r + 1.0/24
			p = p*r + 1.0/6
			p = p*r + 0.5
			p = p*r + 1
			p = p*r + 1
			w = p * math.Float32frombits(uint32(int32(k)+127)<<23)
		}
		c[i].v = w
		if i&1 == 0 {
			s0 += float64(w)
		} else {
			s1 += float64(w)
		}
	}
	return s0 + s1
}

// sumExp is the sum of exp(v-m) over logits, m their maximum: softmax's denominator.
func sumExp(logits []float32, m float32) float64 {
	var s0, s1 float64
	for i, v := range logits {
		x := v - m
		var w float32
		if x >= expMin {
			k := float32(int32(x*log2e - 0.5))
			r := x - k*ln2Hi - k*ln2Lo
			p := float32(1.0 / 5040)
			p = p*r + 1.0/720
			p = p*r + 1.0/120
			p = p*r + 1.0/24
			p = p*r + 1.0/6
			p = p*r + 0.5
			p = p*r + 1
			p = p*r + 1
			w = p * math.Float32frombits(uint32(int32(k)+127)<<23)
		}
		if i&1 == 0 {
			s0 += float64(w)
		} else {
			s1 += float64(w)
		}
	}
	return s0 + s1
}
