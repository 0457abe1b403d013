package cpu

import (
	"math/rand/v2"
	"testing"

	"github.com/arborlabs/arbor/runtime/model"
)

// benchMatrix builds a rows x cols matrix of the given type with random values.
func benchMatrix(b *testing.B, dt model.DType, rows, cols int) *matrix {
	r := rand.New(rand.NewPCG(1, 1))
	v := make([]float32, rows*cols)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	t, err := model.NewTensor("w", model.F32, []int{rows, cols}, v)
	if err != nil {
		b.Fatal(err)
	}
	if t, err = t.Convert(dt); err != nil {
		b.Fatal(err)
	}
	m, err := newMatrix(t, rows, cols)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkMatVec is one decode-step matrix-vector product at the qwen2.5-0.5b FFN shape, on one
// thread: bytes of weight streamed per second is the figure that bounds decode speed.
func BenchmarkMatVec(b *testing.B) {
	for _, dt := range []model.DType{model.F32, model.F16, model.BF16, model.Q8_0} {
		b.Run(dt.String(), func(b *testing.B) {
			const rows, cols = 4864, 896
			m := benchMatrix(b, dt, rows, cols)
			x := make([]float32, cols)
			for i := range x {
				x[i] = float32(i%7) - 3
			}
			out := make([]float32, rows)
			var qa q8Acts
			qa.quantize(x, 1, cols)
			task := &matmulTask{m: m, x: x, q: &qa, n: 1, out: out, outStride: rows, scratch: [][]float32{make([]float32, cols)}}
			b.SetBytes(int64(rows * dt.RowBytes(cols)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				task.run(0, rows, 0)
			}
		})
	}
}
