// Package retrieve finds the chunks of one session's vector memory that best match a new
// message: exact cosine top-K over int8 vectors, a BM25 keyword index, reciprocal-rank
// fusion of the two, and the salience score that decides what memory forgets.
//
// It works on in-memory data only; the storage layer loads a session's chunks and feeds
// them in with Add.
package retrieve

import "math"

// Quantize encodes v as int8 with one float32 scale, by max-abs: scale = max|x| and
// q = round(x/scale*127), so x ≈ q*scale/127 with an error of at most scale/254 per
// component. A zero vector gives scale 0 and all-zero q. Int8 quarters the memory of
// float32 and lets the dot product run on integers.
func Quantize(v []float32) (q []int8, scale float32) {
	q = make([]int8, len(v))
	return q, QuantizeInto(q, v)
}

// QuantizeInto is Quantize into a caller's slice of len(v); it returns the scale.
func QuantizeInto(q []int8, v []float32) float32 {
	var m float32
	for _, x := range v {
		if x < 0 {
			x = -x
		}
		if x > m {
			m = x
		}
	}
	if m == 0 || math.IsNaN(float64(m)) || math.IsInf(float64(m), 0) {
		clear(q[:len(v)])
		return 0
	}
	f := 127 / float64(m)
	for i, x := range v {
		r := math.Round(float64(x) * f)
		// |x| <= m makes |r| <= 127 already; the clamp only guards NaN components.
		if !(r >= -127) {
			r = 0
		} else if r > 127 {
			r = 127
		}
		q[i] = int8(r)
	}
	return m
}

// Dequantize decodes q with its scale back to float32.
func Dequantize(q []int8, scale float32) []float32 {
	v := make([]float32, len(q))
	f := scale / 127
	for i, x := range q {
		v[i] = float32(x) * f
	}
	return v
}

// DotInt8 returns the dot product of two int8 vectors of equal length, accumulated in int32.
// With |q| <= 127 each product is at most 16129, so int32 holds vectors up to 133,000
// components without overflow.
//
// On amd64 with AVX2 it runs a vector kernel (dot_amd64.s); elsewhere, or built with
// -tags purego, the plain Go loop below.
func DotInt8(a, b []int8) int32 { return dotInt8(a, b) }

// dotInt8Go is the portable DotInt8, unrolled eight ways with four accumulators so the loads
// and multiplies of neighbouring elements overlap instead of waiting on one running sum, and
// with the slices re-sliced to the block so the compiler drops bounds checks in the loop.
func dotInt8Go(a, b []int8) int32 {
	n := min(len(a), len(b))
	a, b = a[:n], b[:n]
	var s0, s1, s2, s3 int32
	i := 0
	for ; i+8 <= n; i += 8 {
		x := a[i : i+8 : i+8]
		y := b[i : i+8 : i+8]
		s0 += int32(x[0])*int32(y[0]) + int32(x[4])*int32(y[4])
		s1 += int32(x[1])*int32(y[1]) + int32(x[5])*int32(y[5])
		s2 += int32(x[2])*int32(y[2]) + int32(x[6])*int32(y[6])
		s3 += int32(x[3])*int32(y[3]) + int32(x[7])*int32(y[7])
	}
	for ; i < n; i++ {
		s0 += int32(a[i]) * int32(b[i])
	}
	return s0 + s1 + s2 + s3
}

// sumSquares is DotInt8(q, q), used for the norm of a quantized vector.
func sumSquares(q []int8) int64 {
	var s int64
	for _, x := range q {
		s += int64(x) * int64(x)
	}
	return s
}
