package memory

import "math"

// Vector is an embedding stored as int8 with one float32 scale: component i is Data[i] * Scale.
// Quantizing by the largest magnitude (max-abs) keeps every component within Scale/2 of its
// float32 value and takes a quarter of the space, which is what lets one session hold 200k chunks.
type Vector struct {
	Scale float32
	Data  []int8
}

// Dim is the vector's length.
func (v Vector) Dim() int { return len(v.Data) }

// Quantize maps x to int8 by max-abs: Scale = max|x_i| / 127, Data[i] = round(x_i / Scale).
// A zero vector (or an empty one) gets Scale 0. Non-finite components are treated as 0 so a bad
// embedding cannot poison the scale.
func Quantize(x []float32) Vector {
	var maxAbs float64
	for _, f := range x {
		a := math.Abs(float64(f))
		if math.IsInf(a, 0) || math.IsNaN(a) {
			continue
		}
		if a > maxAbs {
			maxAbs = a
		}
	}
	v := Vector{Data: make([]int8, len(x))}
	if maxAbs == 0 {
		return v
	}
	scale := maxAbs / 127
	v.Scale = float32(scale)
	for i, f := range x {
		g := float64(f)
		if math.IsInf(g, 0) || math.IsNaN(g) {
			continue
		}
		q := math.Round(g / scale)
		// float32 rounding of the scale can push the largest component a hair past 127.
		q = max(-127, min(127, q))
		v.Data[i] = int8(q)
	}
	return v
}

// Dequantize returns the float32 components.
func (v Vector) Dequantize() []float32 {
	out := make([]float32, len(v.Data))
	for i, q := range v.Data {
		out[i] = float32(q) * v.Scale
	}
	return out
}
