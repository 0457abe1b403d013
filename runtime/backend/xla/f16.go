package xla

import (
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
)

// roundF16 rounds float32 values to the nearest IEEE half float, ties to even (what F16C's
// VCVTPS2PH does by default, and so what the cpu backend's f16 cache holds), keeping them as
// float32: every result is exactly representable in binary16, so a later conversion to
// Float16 storage is exact whatever rounding the device's own conversion uses.
//
// It is built from float arithmetic and comparisons only: gomlx's pure-Go backend has neither
// Float16 nor bitcasts nor shifts, and one formulation for every backend means the pure-Go
// tests check the rounding a GPU stores. The values rounded are the new keys and values of a
// step (a few rows), so its two dozen element-wise operations cost nothing next to attention.
//
// How: with p the largest power of two <= |v| (clamped to [2^-14, 2^15], the binary16 normal
// exponents; below 2^-14 the subnormal spacing 2^-24 equals the smallest normal's), binary16
// spaces values p*2^-10 apart. Adding c = 1.5*p*2^13 puts v + c in [2^13 p, 2^14 p), where
// float32 values are spaced p*2^-10 apart too, so the float32 addition (round to nearest even)
// does the rounding, and subtracting c again is exact (Sterbenz). c is an even multiple of the
// spacing, so ties go to an even binary16 mantissa. Results above the largest half (65504)
// become infinities, as the conversion's overflow does; zeros (and underflows to zero) keep
// their sign.
func roundF16(v *graph.Node) *graph.Node {
	g := v.Graph()
	f := func(x float64) *graph.Node { return graph.Scalar(g, dtypes.Float32, x) }
	a := graph.Abs(v)
	// Binary lifting of the exponent from -14: steps 16+8+4+2+1 reach 2^17, then clamp.
	p := f(0x1p-14)
	for _, step := range []float64{0x1p16, 0x1p8, 0x1p4, 0x1p2, 0x1p1} {
		cand := graph.Mul(p, f(step))
		p = graph.Where(graph.GreaterOrEqual(a, cand), cand, p)
	}
	p = graph.Min(p, f(0x1p15))
	c := graph.Mul(p, f(1.5*0x1p13))
	r := graph.Sub(graph.Add(v, c), c)
	inf := graph.Infinity(g, dtypes.Float32, 1)
	r = graph.Where(graph.GreaterThan(r, f(65504)), inf, r)
	r = graph.Where(graph.LessThan(r, f(-65504)), graph.Neg(inf), r)
	// A zero result (a zero, or an underflow) keeps v's sign, as the conversion does.
	zero := graph.Where(graph.LessThan(v, f(0)), graph.Neg(f(0)), f(0))
	zero = graph.Where(graph.Equal(v, f(0)), v, zero)
	return graph.Where(graph.Equal(r, f(0)), zero, r)
}

// toCache converts float32 keys or values to the cache's element type, rounding to binary16
// first for an f16 cache (see roundF16); it returns the stored values as float32 too, which is
// what attention reads back from the cache.
func (x *Model) toCache(v *graph.Node) (stored, read *graph.Node) {
	if !x.kvF16 {
		return v, v
	}
	read = roundF16(v)
	if x.kvDType == dtypes.Float32 { // a backend without Float16: rounded values, f32 storage
		return read, read
	}
	return graph.ConvertDType(read, x.kvDType), read
}

// fromCache converts rows read from the cache to float32 for the attention math.
func (x *Model) fromCache(v *graph.Node) *graph.Node {
	if v.DType() == dtypes.Float32 {
		return v
	}
	return graph.ConvertDType(v, dtypes.Float32)
}
