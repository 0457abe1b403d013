package model

import (
	"encoding/binary"
	"fmt"
	"math"
)

// F32ToF16 converts a float32 to IEEE 754 binary16 bits, rounding to nearest even. Values too
// large become ±Inf, values too small become subnormals or ±0, and NaN stays NaN (quiet).
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00 | uint16(mant>>13) // quiet NaN, keep the top payload bits
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15 // f16 biased exponent
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		// Subnormal in f16 (or zero). The f16 significand is value * 2^24, i.e. the 24-bit f32
		// significand shifted right by 14-e.
		if e < -10 {
			return sign
		}
		m := mant | 0x800000
		shift := uint(14 - e)
		r := m >> shift
		rem := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && r&1 == 1) {
			r++ // may carry into the smallest normal, whose encoding is exactly r
		}
		return sign | uint16(r)
	}
	r := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
		r++ // a carry out of the mantissa bumps the exponent; at the top it gives Inf
	}
	return sign | uint16(r)
}

// F16ToF32 converts IEEE 754 binary16 bits to a float32 (exactly: every f16 is a float32).
func F16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		// subnormal: value = mant * 2^-24
		f := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// F32ToBF16 converts a float32 to bfloat16 bits, rounding to nearest even; NaN stays NaN.
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40 // quiet NaN
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// BF16ToF32 converts bfloat16 bits to a float32 (exact).
func BF16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// QuantizeQ8_0 encodes src (a multiple of Q8Block values) into dst (len(src)/Q8Block blocks of
// Q8BlockBytes) the ggml way: per block d = max|x|/127, q = round(x/d) (half away from zero),
// d stored as f16 before the 32 int8 values.
func QuantizeQ8_0(dst []byte, src []float32) {
	if len(src)%Q8Block != 0 || len(dst) < len(src)/Q8Block*Q8BlockBytes {
		panic(fmt.Sprintf("model: QuantizeQ8_0 of %d values into %d bytes", len(src), len(dst)))
	}
	for b := 0; b < len(src)/Q8Block; b++ {
		x := src[b*Q8Block : (b+1)*Q8Block]
		out := dst[b*Q8BlockBytes : (b+1)*Q8BlockBytes]
		var amax float32
		for _, v := range x {
			if a := math.Float32frombits(math.Float32bits(v) &^ (1 << 31)); a > amax {
				amax = a
			}
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		binary.LittleEndian.PutUint16(out, F32ToF16(d))
		q := out[2 : 2+Q8Block]
		for j, v := range x {
			// round half away from zero (C's roundf); in float64 the +-0.5 is exact
			f := float64(v * id)
			q[j] = byte(int8(int32(f + math.Copysign(0.5, f))))
		}
	}
}

// DequantizeQ8_0 decodes len(dst)/Q8Block blocks of src into dst.
func DequantizeQ8_0(dst []float32, src []byte) {
	if len(dst)%Q8Block != 0 || len(src) < len(dst)/Q8Block*Q8BlockBytes {
		panic(fmt.Sprintf("model: DequantizeQ8_0 of %d bytes into %d values", len(src), len(dst)))
	}
	for b := 0; b < len(dst)/Q8Block; b++ {
		in := src[b*Q8BlockBytes : (b+1)*Q8BlockBytes]
		d := F16ToF32(binary.LittleEndian.Uint16(in))
		out := dst[b*Q8Block : (b+1)*Q8Block]
		for j := range out {
			out[j] = float32(int8(in[2+j])) * d
		}
	}
}

// encodeRow writes src into dst in dtype d (dst must hold d.RowBytes(len(src)) bytes).
func encodeRow(d DType, dst []byte, src []float32) {
	switch d {
	case F32:
		for i, v := range src {
			binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
		}
	case F16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], F32ToF16(v))
		}
	case BF16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], F32ToBF16(v))
		}
	case Q8_0:
		QuantizeQ8_0(dst, src)
	default:
		panic("model: encode to unknown dtype " + d.String())
	}
}

// decodeRow reads len(dst) values of dtype d from src.
func decodeRow(d DType, dst []float32, src []byte) {
	switch d {
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case F16:
		for i := range dst {
			dst[i] = F16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case BF16:
		for i := range dst {
			dst[i] = BF16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case Q8_0:
		DequantizeQ8_0(dst, src)
	default:
		panic("model: decode of unknown dtype " + d.String())
	}
}

func (d DType) valid() bool { return d <= Q8_0 }

// NewTensor encodes values (row-major, outermost dimension first) as a tensor of dtype d. For
// Q8_0 the innermost dimension must be a multiple of Q8Block.
func NewTensor(name string, d DType, shape []int, values []float32) (*Tensor, error) {
	t := &Tensor{Name: name, DType: d, Shape: append([]int(nil), shape...)}
	n, err := checkShape(name, d, shape)
	if err != nil {
		return nil, err
	}
	if n != len(values) {
		return nil, fmt.Errorf("tensor %s: shape %v holds %d values, got %d", name, shape, n, len(values))
	}
	cols := t.Cols()
	rb := d.RowBytes(cols)
	t.Data = make([]byte, rb*t.Rows())
	for r := 0; r < t.Rows(); r++ {
		encodeRow(d, t.Data[r*rb:(r+1)*rb], values[r*cols:(r+1)*cols])
	}
	return t, nil
}

// checkShape validates dims and dtype for a tensor and returns its element count.
func checkShape(name string, d DType, shape []int) (int, error) {
	if !d.valid() {
		return 0, fmt.Errorf("tensor %s: unknown dtype %v", name, d)
	}
	var n int64 = 1
	for _, s := range shape {
		if s <= 0 {
			return 0, fmt.Errorf("tensor %s: bad shape %v", name, shape)
		}
		if int64(s) > maxElements/n {
			return 0, fmt.Errorf("tensor %s: shape %v is too large", name, shape)
		}
		n *= int64(s)
	}
	if n > int64(math.MaxInt) {
		return 0, fmt.Errorf("tensor %s: shape %v is too large for this platform", name, shape)
	}
	if d == Q8_0 {
		cols := 1
		if len(shape) > 0 {
			cols = shape[len(shape)-1]
		}
		if cols%Q8Block != 0 {
			return 0, fmt.Errorf("tensor %s: q8_0 needs rows of a multiple of %d values, shape %v", name,
				Q8Block, shape)
		}
	}
	return int(n), nil
}

// maxElements bounds a tensor's element count (2^40), so that byte sizes never overflow.
const maxElements = int64(1) << 40

// ByteSize is the size of the tensor's data as its shape and dtype say (len(Data) when valid).
func (t *Tensor) ByteSize() int {
	if len(t.Shape) == 0 {
		return t.DType.RowBytes(1)
	}
	return t.Rows() * t.DType.RowBytes(t.Cols())
}

// Check reports whether the tensor is well formed: a known dtype, positive dims, rows of whole
// q8_0 blocks, and Data of exactly the size the shape needs.
func (t *Tensor) Check() error {
	if _, err := checkShape(t.Name, t.DType, t.Shape); err != nil {
		return err
	}
	if len(t.Data) != t.ByteSize() {
		return fmt.Errorf("tensor %s: %v %v needs %d bytes, has %d", t.Name, t.DType, t.Shape, t.ByteSize(),
			len(t.Data))
	}
	return nil
}

// Row decodes row i (of Rows()) into dst, which must hold Cols() values, and returns
// dst[:Cols()]. It panics if i is out of range.
func (t *Tensor) Row(i int, dst []float32) []float32 {
	cols := t.Cols()
	if i < 0 || i >= t.Rows() {
		panic(fmt.Sprintf("model: row %d of tensor %s with %d rows", i, t.Name, t.Rows()))
	}
	rb := t.DType.RowBytes(cols)
	dst = dst[:cols]
	decodeRow(t.DType, dst, t.Data[i*rb:(i+1)*rb])
	return dst
}

// Float32s decodes the whole tensor (dequantizing q8_0) into a new slice, row-major.
func (t *Tensor) Float32s() []float32 {
	cols, rows := t.Cols(), t.Rows()
	out := make([]float32, rows*cols)
	for r := 0; r < rows; r++ {
		t.Row(r, out[r*cols:(r+1)*cols])
	}
	return out
}

// Convert returns the tensor re-encoded as dtype d (the same tensor when it already is).
func (t *Tensor) Convert(d DType) (*Tensor, error) {
	if t.DType == d {
		return t, nil
	}
	if err := t.Check(); err != nil {
		return nil, err
	}
	if _, err := checkShape(t.Name, d, t.Shape); err != nil {
		return nil, err
	}
	out := &Tensor{Name: t.Name, DType: d, Shape: append([]int(nil), t.Shape...)}
	cols := t.Cols()
	rb := d.RowBytes(cols)
	out.Data = make([]byte, rb*t.Rows())
	buf := make([]float32, cols)
	for r := 0; r < t.Rows(); r++ {
		encodeRow(d, out.Data[r*rb:(r+1)*rb], t.Row(r, buf))
	}
	return out, nil
}
