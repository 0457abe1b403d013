package cpu

import (
	"math/rand/v2"
	"testing"

	"github.com/arborlabs/arbor/runtime/model"
)

// benchMatrix builds a rows x cols matrix of the given type with random values.
func benchMatrix(b testing.TB, dt model.DType, rows, cols int) *matrix {
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
			task := &matmulTask{m: m, x: x, q: &qa, n: 1, out: out, outStride: rows, scratch: [][]float32{make([]float32, 3*cols)}}
			b.SetBytes(int64(rows * dt.RowBytes(cols)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				task.run(0, rows, 0)
			}
		})
	}
}

// BenchmarkMatVecDRAM is BenchmarkMatVec over enough distinct matrices (about 128 MiB) that
// each product reads its weights from memory, not from the last-level cache, as a decode step
// of a real model does.
func BenchmarkMatVecDRAM(b *testing.B) {
	for _, dt := range []model.DType{model.F32, model.F16, model.BF16, model.Q8_0} {
		b.Run(dt.String(), func(b *testing.B) {
			const rows, cols = 4864, 896
			per := rows * dt.RowBytes(cols)
			ms := make([]*matrix, max(2, (128<<20)/per))
			ms[0] = benchMatrix(b, dt, rows, cols)
			for i := 1; i < len(ms); i++ {
				// Copies of the first: the values do not matter, only the distinct memory.
				c := *ms[0]
				c.f32 = append([]float32(nil), c.f32...)
				c.u16 = append([]uint16(nil), c.u16...)
				c.q8 = append([]byte(nil), c.q8...)
				ms[i] = &c
			}
			x := make([]float32, cols)
			for i := range x {
				x[i] = float32(i%7) - 3
			}
			out := make([]float32, rows)
			var qa q8Acts
			qa.quantize(x, 1, cols)
			task := &matmulTask{x: x, q: &qa, n: 1, out: out, outStride: rows, scratch: [][]float32{make([]float32, 3*cols)}}
			b.SetBytes(int64(per))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				task.m = ms[i%len(ms)]
				task.run(0, rows, 0)
			}
		})
	}
}

// BenchmarkMatMat is a prefill-sized product (64 tokens through the qwen2.5-0.5b FFN up
// projection) on one thread; the GFLOP/s figure is 2*rows*cols*tokens per second.
func BenchmarkMatMat(b *testing.B) {
	for _, dt := range []model.DType{model.F32, model.F16, model.BF16, model.Q8_0} {
		b.Run(dt.String(), func(b *testing.B) {
			const rows, cols, n = 4864, 896, 64
			m := benchMatrix(b, dt, rows, cols)
			x := make([]float32, n*cols)
			for i := range x {
				x[i] = float32(i%7) - 3
			}
			out := make([]float32, n*rows)
			var qa q8Acts
			qa.quantize(x, n, cols)
			task := &matmulTask{m: m, x: x, q: &qa, n: n, out: out, outStride: rows, scratch: [][]float32{make([]float32, 3*cols)}}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				task.run(0, rows, 0)
			}
			b.ReportMetric(2*rows*cols*n*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkQ8Dot is one q8_0 row (896 columns) against one quantized activation row, in L1.
func BenchmarkQ8Dot(b *testing.B) {
	const cols = 896
	m := benchMatrix(b, model.Q8_0, 1, cols)
	x := make([]float32, cols)
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	var qa q8Acts
	qa.quantize(x, 1, cols)
	b.SetBytes(int64(model.Q8_0.RowBytes(cols)))
	var s float32
	for i := 0; i < b.N; i++ {
		s += q8Dot(m.q8, qa.q, qa.d)
	}
	_ = s
}

// BenchmarkQuantize is the activation quantization of one FFN-sized row (4864 values).
func BenchmarkQuantize(b *testing.B) {
	const cols = 4864
	x := make([]float32, cols)
	for i := range x {
		x[i] = float32(i%13) - 6.3
	}
	var qa q8Acts
	b.SetBytes(cols * 4)
	for i := 0; i < b.N; i++ {
		qa.quantize(x, 1, cols)
	}
}

// BenchmarkMemRead is the streaming read bandwidth of one core over 256 MiB, the ceiling for
// BenchmarkMatVecDRAM.
func BenchmarkMemRead(b *testing.B) {
	buf := make([]float32, 64<<20)
	for i := range buf {
		buf[i] = 1
	}
	b.SetBytes(int64(len(buf) * 4))
	b.ResetTimer()
	var s float32
	for i := 0; i < b.N; i++ {
		s += dot(buf, buf)
	}
	_ = s
}
