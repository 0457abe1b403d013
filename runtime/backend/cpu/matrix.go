package cpu

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/arborlabs/arbor/runtime/model"
)

// matrix is a weight in its stored type, viewed without copying where the bytes allow it (the
// model file is mmapped; a copy would double the memory of a 1B-parameter model).
type matrix struct {
	rows, cols int
	dtype      model.DType
	f32        []float32
	u16        []uint16 // f16 or bf16 bits
	q8         []byte   // q8_0 blocks, row-major
	rowBytes   int
}

func newMatrix(t *model.Tensor, rows, cols int) (*matrix, error) {
	if t == nil {
		return nil, fmt.Errorf("missing tensor")
	}
	if t.Rows() != rows || t.Cols() != cols {
		return nil, fmt.Errorf("tensor %s: shape %v, want [%d %d]", t.Name, t.Shape, rows, cols)
	}
	m := &matrix{rows: rows, cols: cols, dtype: t.DType}
	want := rows * t.DType.RowBytes(cols)
	if t.DType == model.Q8_0 && cols%model.Q8Block != 0 {
		return nil, fmt.Errorf("tensor %s: q8_0 needs a row length divisible by %d, got %d", t.Name, model.Q8Block, cols)
	}
	if len(t.Data) != want {
		return nil, fmt.Errorf("tensor %s: %d bytes, want %d for %v %s", t.Name, len(t.Data), want, t.Shape, t.DType)
	}
	switch t.DType {
	case model.F32:
		m.f32 = bytesAsF32(t.Data)
	case model.F16, model.BF16:
		m.u16 = bytesAsU16(t.Data)
	case model.Q8_0:
		m.q8 = t.Data
		m.rowBytes = t.DType.RowBytes(cols)
	default:
		return nil, fmt.Errorf("tensor %s: unsupported dtype %s", t.Name, t.DType)
	}
	return m, nil
}

// bytesAsF32 reinterprets little-endian bytes as float32s, copying only when the slice is not
// 4-byte aligned (the in-file offsets of GGUF and safetensors normally are).
func bytesAsF32(b []byte) []float32 {
	if len(b) == 0 {
		return nil
	}
	if uintptr(unsafe.Pointer(&b[0]))%4 == 0 && littleEndian {
		return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

func bytesAsU16(b []byte) []uint16 {
	if len(b) == 0 {
		return nil
	}
	if uintptr(unsafe.Pointer(&b[0]))%2 == 0 && littleEndian {
		return unsafe.Slice((*uint16)(unsafe.Pointer(&b[0])), len(b)/2)
	}
	out := make([]uint16, len(b)/2)
	for i := range out {
		out[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return out
}

var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// vector reads a 1-D tensor (norm weights, biases) as float32, whatever its stored type.
func vector(t *model.Tensor, n int) ([]float32, error) {
	m, err := newMatrix(t, 1, n)
	if err != nil {
		return nil, err
	}
	out := make([]float32, n)
	m.rowF32(0, out)
	return out, nil
}

// rowF32 dequantizes row r into dst (len cols).
func (m *matrix) rowF32(r int, dst []float32) {
	c := m.cols
	switch m.dtype {
	case model.F32:
		copy(dst, m.f32[r*c:(r+1)*c])
	case model.F16:
		src := m.u16[r*c : (r+1)*c]
		for i, h := range src {
			dst[i] = f16Table[h]
		}
	case model.BF16:
		src := m.u16[r*c : (r+1)*c]
		for i, h := range src {
			dst[i] = bf16ToFloat(h)
		}
	case model.Q8_0:
		row := m.q8[r*m.rowBytes : (r+1)*m.rowBytes]
		for b := 0; b < c/model.Q8Block; b++ {
			blk := row[b*model.Q8BlockBytes:]
			d := f16Table[binary.LittleEndian.Uint16(blk)]
			for i := 0; i < model.Q8Block; i++ {
				dst[b*model.Q8Block+i] = d * float32(int8(blk[2+i]))
			}
		}
	}
}

// q8Acts are activations quantized to q8_0 the way ggml does before a q8_0 matrix product:
// per block of 32, d = max|x|/127 rounded to f16, q = round(x/d). Matching ggml here keeps
// Arbor's q8_0 results close to llama.cpp's, and integer dot products are the fast path.
type q8Acts struct {
	q []int8
	d []float32
}

func (a *q8Acts) quantize(x []float32, n, cols int) {
	blocks := cols / model.Q8Block
	a.q = grow(a.q, n*cols)
	a.d = grow(a.d, n*blocks)
	for t := 0; t < n; t++ {
		xs := x[t*cols : (t+1)*cols]
		for b := 0; b < blocks; b++ {
			blk := xs[b*model.Q8Block : (b+1)*model.Q8Block]
			var amax float32
			for _, v := range blk {
				if v < 0 {
					v = -v
				}
				if v > amax {
					amax = v
				}
			}
			d := amax / 127
			var id float32
			if d != 0 {
				id = 1 / d
			}
			a.d[t*blocks+b] = f16Table[model.F32ToF16(d)]
			q := a.q[t*cols+b*model.Q8Block:]
			for i, v := range blk {
				q[i] = int8(math.Round(float64(v * id)))
			}
		}
	}
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// q8Dot is the inner product of a q8_0 weight row and a quantized activation row. Blocks are
// viewed as fixed-size arrays so the compiler drops the bounds checks of the inner loop.
func q8Dot(row []byte, q []int8, d []float32) float32 {
	var sum float32
	nb := len(d)
	_ = row[nb*model.Q8BlockBytes-1]
	_ = q[nb*model.Q8Block-1]
	for b := 0; b < nb; b++ {
		blk := row[b*model.Q8BlockBytes:]
		wd := f16Table[uint16(blk[0])|uint16(blk[1])<<8]
		ws := (*[model.Q8Block]int8)(unsafe.Pointer(&blk[2]))
		xs := (*[model.Q8Block]int8)(unsafe.Pointer(&q[b*model.Q8Block]))
		var s0, s1, s2, s3 int32
		for i := 0; i < model.Q8Block; i += 4 {
			s0 += int32(ws[i]) * int32(xs[i])
			s1 += int32(ws[i+1]) * int32(xs[i+1])
			s2 += int32(ws[i+2]) * int32(xs[i+2])
			s3 += int32(ws[i+3]) * int32(xs[i+3])
		}
		sum += float32((s0+s1)+(s2+s3)) * (wd * d[b])
	}
	return sum
}

// dotF16 and dotBF16 are inner products with a half-precision weight row, converting as they
// go (one pass over the row instead of dequantize-then-dot).
func dotF16(w []uint16, x []float32) float32 {
	n := len(w)
	x = x[:n]
	tab := (*[1 << 16]float32)(f16Table)
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= n; i += 4 {
		s0 += tab[w[i]] * x[i]
		s1 += tab[w[i+1]] * x[i+1]
		s2 += tab[w[i+2]] * x[i+2]
		s3 += tab[w[i+3]] * x[i+3]
	}
	for ; i < n; i++ {
		s0 += tab[w[i]] * x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func dotBF16(w []uint16, x []float32) float32 {
	n := len(w)
	x = x[:n]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= n; i += 4 {
		s0 += math.Float32frombits(uint32(w[i])<<16) * x[i]
		s1 += math.Float32frombits(uint32(w[i+1])<<16) * x[i+1]
		s2 += math.Float32frombits(uint32(w[i+2])<<16) * x[i+2]
		s3 += math.Float32frombits(uint32(w[i+3])<<16) * x[i+3]
	}
	for ; i < n; i++ {
		s0 += math.Float32frombits(uint32(w[i])<<16) * x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// matmulTask computes out[t*outStride+r] (+)= W[r]·x[t] for rows r in the worker's range and
// all n tokens. Parallel over rows: each worker streams its slice of the weight once per step.
type matmulTask struct {
	m         *matrix
	x         []float32 // n rows of m.cols
	q         *q8Acts   // quantized x, for q8_0
	n         int
	out       []float32
	outStride int
	accum     bool        // add into out instead of overwriting (residual connections)
	bias      []float32   // optional, added to every output row
	scratch   [][]float32 // per worker: one dequantized weight row
}

func (t *matmulTask) run(lo, hi, w int) {
	m := t.m
	c := m.cols
	for r := lo; r < hi; r++ {
		var b float32
		if t.bias != nil {
			b = t.bias[r]
		}
		if m.dtype == model.Q8_0 {
			row := m.q8[r*m.rowBytes : (r+1)*m.rowBytes]
			blocks := c / model.Q8Block
			for tok := 0; tok < t.n; tok++ {
				v := q8Dot(row, t.q.q[tok*c:(tok+1)*c], t.q.d[tok*blocks:(tok+1)*blocks]) + b
				t.store(tok, r, v)
			}
			continue
		}
		if t.n == 1 && (m.dtype == model.F16 || m.dtype == model.BF16) {
			wr := m.u16[r*c : (r+1)*c]
			if m.dtype == model.F16 {
				t.store(0, r, dotF16(wr, t.x[:c])+b)
			} else {
				t.store(0, r, dotBF16(wr, t.x[:c])+b)
			}
			continue
		}
		var wr []float32
		if m.dtype == model.F32 {
			wr = m.f32[r*c : (r+1)*c]
		} else {
			wr = t.scratch[w][:c]
			m.rowF32(r, wr)
		}
		tok := 0
		for ; tok+4 <= t.n; tok += 4 {
			r0, r1, r2, r3 := dot4(wr, t.x[tok*c:], t.x[(tok+1)*c:], t.x[(tok+2)*c:], t.x[(tok+3)*c:])
			t.store(tok, r, r0+b)
			t.store(tok+1, r, r1+b)
			t.store(tok+2, r, r2+b)
			t.store(tok+3, r, r3+b)
		}
		for ; tok < t.n; tok++ {
			t.store(tok, r, dot(wr, t.x[tok*c:(tok+1)*c])+b)
		}
	}
}

func (t *matmulTask) store(tok, r int, v float32) {
	if t.accum {
		t.out[tok*t.outStride+r] += v
	} else {
		t.out[tok*t.outStride+r] = v
	}
}
