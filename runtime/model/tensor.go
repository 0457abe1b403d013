package model

import "fmt"

// DType is a tensor's element type.
type DType uint8

const (
	F32  DType = iota // IEEE 754 binary32
	F16               // IEEE 754 binary16
	BF16              // bfloat16: the top half of a binary32
	Q8_0              // GGUF/ggml q8_0: blocks of 32 int8 with one f16 scale (34 bytes a block)
)

// Q8Block is the number of elements in one q8_0 block; Q8BlockBytes its size in bytes.
const (
	Q8Block      = 32
	Q8BlockBytes = 2 + Q8Block
)

func (d DType) String() string {
	switch d {
	case F32:
		return "f32"
	case F16:
		return "f16"
	case BF16:
		return "bf16"
	case Q8_0:
		return "q8_0"
	}
	return fmt.Sprintf("dtype(%d)", uint8(d))
}

// ParseDType reads the names used on the command line (f32, f16, bf16, q8_0).
func ParseDType(s string) (DType, error) {
	for _, d := range []DType{F32, F16, BF16, Q8_0} {
		if d.String() == s {
			return d, nil
		}
	}
	return 0, fmt.Errorf("unknown dtype %q (want f32, f16, bf16 or q8_0)", s)
}

// RowBytes is the size in bytes of n consecutive elements of a row (n a multiple of Q8Block
// for Q8_0).
func (d DType) RowBytes(n int) int {
	switch d {
	case F32:
		return 4 * n
	case F16, BF16:
		return 2 * n
	case Q8_0:
		return n / Q8Block * Q8BlockBytes
	}
	panic("model: RowBytes of unknown dtype")
}

// Tensor is a named, typed, row-major array. Shape lists dimensions outermost first (PyTorch
// order): a linear layer's weight is [out, in]. Data is little-endian and may point into an
// mmap of the model file; it is read-only.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// NumElements is the product of the dimensions.
func (t *Tensor) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Rows and Cols view a tensor as a matrix: Cols is the innermost dimension, Rows all others.
func (t *Tensor) Cols() int {
	if len(t.Shape) == 0 {
		return 1
	}
	return t.Shape[len(t.Shape)-1]
}

func (t *Tensor) Rows() int { return t.NumElements() / t.Cols() }
