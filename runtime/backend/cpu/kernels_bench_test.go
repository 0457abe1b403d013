package cpu

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/arborlabs/arbor/runtime/backend"
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
// thread: bytes of weight streamed per second is the figure that bounds decode speed. The
// weights (4.6 MB in q8_0) stay in L3; "q8_0/L2" takes 512 of the rows (0.5 MB), which stay in
// L2, so that it measures the kernel's own pace.
func BenchmarkMatVec(b *testing.B) {
	const cols = 896
	for _, c := range []struct {
		name string
		dt   model.DType
		rows int
	}{{"f32", model.F32, 4864}, {"f16", model.F16, 4864}, {"bf16", model.BF16, 4864}, {"q8_0", model.Q8_0, 4864},
		{"q8_0/L2", model.Q8_0, 512}} {
		b.Run(c.name, func(b *testing.B) {
			rows := c.rows
			task := benchTask(rows, cols, 1)
			task.m = benchMatrix(b, c.dt, rows, cols)
			b.SetBytes(task.m.bytes())
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
			ms := dramCopies(benchMatrix(b, dt, rows, cols))
			task := benchTask(rows, cols, 1)
			b.SetBytes(ms[0].bytes())
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				task.m = ms[i%len(ms)]
				task.run(0, rows, 0)
			}
		})
	}
}

// BenchmarkDecodeBatchDRAM is a q8_0 product of n tokens (1, 8) over weights read from memory
// (copies of a qwen2.5-0.5b FFN up projection, 4.6 MB, about 128 MiB in all) on every core,
// each core its own range of rows, as a decode step of one or eight sequences runs it.
func BenchmarkDecodeBatchDRAM(b *testing.B) {
	const rows, cols = 4864, 896
	threads := runtime.GOMAXPROCS(0)
	for _, n := range []int{1, 8} {
		b.Run(fmt.Sprintf("q8_0/n=%d", n), func(b *testing.B) {
			ms := dramCopies(benchMatrix(b, model.Q8_0, rows, cols))
			tasks := make([]*matmulTask, threads)
			for w := range tasks {
				tasks[w] = benchTask(rows, cols, n)
			}
			b.SetBytes(ms[0].bytes())
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var wg sync.WaitGroup
				for w, t := range tasks {
					wg.Add(1)
					go func() {
						defer wg.Done()
						t.m = ms[i%len(ms)]
						t.run(rows*w/threads/q8GroupRows*q8GroupRows, rows*(w+1)/threads/q8GroupRows*q8GroupRows, 0)
					}()
				}
				wg.Wait()
			}
			b.ReportMetric(2*float64(rows*cols*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// dramCopies returns m and copies of it, enough (about 128 MiB in all) that products cycling
// over them read their weights from memory, not from the last-level cache. The values do not
// matter, only the distinct memory; q8_0 copies are aligned as the load-time groups are.
func dramCopies(m *matrix) []*matrix {
	ms := make([]*matrix, max(2, int((128<<20)/m.bytes())))
	ms[0] = m
	for i := 1; i < len(ms); i++ {
		c := *m
		c.f32 = append([]float32(nil), c.f32...)
		c.u16 = append([]uint16(nil), c.u16...)
		if c.q8 != nil {
			g := *c.q8
			g.data = alignedBytes(len(g.data), 64)
			copy(g.data, m.q8.data)
			c.q8 = &g
		}
		ms[i] = &c
	}
	return ms
}

// benchTask is a product of n tokens of fixed activations (quantized too, for q8_0) into an
// output of its own, rows x cols; the caller sets the matrix.
func benchTask(rows, cols, n int) *matmulTask {
	x := make([]float32, n*cols)
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	qa := &q8Acts{}
	qa.quantize(x, n, cols)
	return &matmulTask{x: x, q: qa, n: n, out: make([]float32, n*rows), outStride: rows, scratch: newScratch(1)}
}

// BenchmarkMatMat is a prefill-sized product (64 tokens through the qwen2.5-0.5b FFN up
// projection) on one thread; the GFLOP/s figure is 2*rows*cols*tokens per second.
func BenchmarkMatMat(b *testing.B) {
	for _, dt := range []model.DType{model.F32, model.F16, model.BF16, model.Q8_0} {
		b.Run(dt.String(), func(b *testing.B) { benchProduct(b, dt, 4864, 896, 64) })
	}
}

// BenchmarkQ8Group is one q8_0 row group (8 rows x 896 columns) against 1, 4 and 8 quantized
// activation rows, in L1: the integer kernels' arithmetic speed without memory in the way.
func BenchmarkQ8Group(b *testing.B) {
	const cols, nb = 896, 896 / model.Q8Block
	m := benchMatrix(b, model.Q8_0, q8GroupRows, cols)
	qa := benchTask(q8GroupRows, cols, 8).q // eight tokens' quantized activations
	var out [8 * q8GroupRows]float32
	for _, T := range []int{1, 4, 8} {
		b.Run(fmt.Sprintf("tokens=%d", T), func(b *testing.B) {
			w, s := m.q8.quants(0, 0, nb), m.q8.scales(0, 0, nb)
			for i := 0; i < b.N; i++ {
				q8Group(w, s, qa.q, cols, qa.d, nb, nb, T, out[:], q8GroupRows, false)
			}
			b.ReportMetric(2*q8GroupRows*cols*float64(T)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
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

// BenchmarkMemRead is the read bandwidth over 64 MiB on every core, by access pattern: one
// sequential stream per core (dot over its part), or the part read as 8 KiB rows by the
// one-token product (runVec, as BandwidthProbe reads), with its four streams a quarter
// of a block of 1024 rows (8 MiB) apart ("blocks", the default) or a quarter of the core's
// whole part apart ("far"). It is the ceiling for BenchmarkMatVecDRAM and the decode step.
func BenchmarkMemRead(b *testing.B) {
	const cols = 2048
	threads := runtime.GOMAXPROCS(0)
	per := (64 << 20) / threads / (4 * cols) * (4 * cols)
	buf := make([]float32, per*threads)
	for i := range buf {
		buf[i] = 1
	}
	tasks := readTasks(buf, make([]float32, cols), threads)
	b.Run("stream", func(b *testing.B) {
		b.SetBytes(int64(len(buf) * 4))
		for i := 0; i < b.N; i++ {
			var wg sync.WaitGroup
			for w := 0; w < threads; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					part := buf[w*per : (w+1)*per]
					dot(part, part)
				}()
			}
			wg.Wait()
		}
	})
	saved := tune.streamRows
	defer func() { tune.streamRows = saved }()
	for _, p := range []struct {
		name   string
		stream int
	}{{"far", per / cols / 4}, {"blocks", saved}} {
		b.Run(p.name, func(b *testing.B) {
			tune.streamRows = p.stream
			b.SetBytes(int64(len(buf) * 4))
			for i := 0; i < b.N; i++ {
				runReads(tasks)
			}
		})
	}
}

// attnBench builds just enough of a backend for attnTask: a model shape's attention
// (qwen2.5-0.5b: 14 query heads, 2 KV heads of 64; qwen3-0.6b: 16 query heads, 8 KV heads of
// 128), one sequence of ctx tokens on scattered pages of 16, random keys, values and queries,
// and the last n tokens as the step's queries.
func attnBench(b *testing.B, shape string, ctx, n int, kvt backend.KVType) (*Backend, *layer) {
	cfg, err := model.Shape(shape)
	if err != nil {
		b.Fatal(err)
	}
	const ps = 16
	pages := (ctx + ps - 1) / ps
	be := &Backend{
		cfg: cfg, pageSize: ps, numPages: 2 * pages, kvDim: cfg.NumKVHeads * cfg.HeadDim, qDim: cfg.NumHeads * cfg.HeadDim,
	}
	be.pool = newPool(1)
	r := rand.New(rand.NewPCG(7, 7))
	l := &layer{kCache: newKVCache(kvt, be.numPages*ps*be.kvDim), vCache: newKVCache(kvt, be.numPages*ps*be.kvDim)}
	for off := 0; off < be.numPages*ps*be.kvDim; off += be.kvDim {
		l.kCache.store(off, randVec(r, be.kvDim))
		l.vCache.store(off, randVec(r, be.kvDim))
	}
	table := make([]int32, pages)
	for i := range table {
		table[i] = int32(2*i + 1) // every other page: not contiguous
	}
	be.batch = &backend.Batch{Seqs: []backend.SeqInput{{Pages: table}}}
	be.q = randVec(r, n*be.qDim)
	be.attnOut.rows(n, be.qDim)
	be.tokSeq = make([]int32, n)
	be.tokSlot = make([]int32, n)
	for t := range n {
		be.tokSlot[t] = int32(ctx - n + t)
	}
	be.attnScratch = [][]float32{make([]float32, cfg.NumHeads/cfg.NumKVHeads*be.numPages*ps)}
	be.attnRows = [][]int32{make([]int32, be.numPages*ps)}
	be.attnRows2 = [][]int32{make([]int32, be.numPages*ps)}
	be.prepareSparse(be.batch) // no sparse tokens: every one attends fully
	return be, l
}

// BenchmarkAttention is one layer's attention over a paged KV cache on one thread: a decode
// step (one query token) at 512, 4096 and 16384 tokens of context, and a 64-token prefill
// chunk at the end of 512, with f16 and f32 caches, for qwen2.5-0.5b (seven query heads a KV
// head) and qwen3-0.6b (two). The cache stays warm from one iteration to
// the next (in L2 or L3), unlike a model's, whose layers' caches are cold: judge a change to
// the attention kernels by `arbor bench --context` too (a kernel that widened each tile of an
// f16 cache into L1 first was faster here and slower there).
func BenchmarkAttention(b *testing.B) {
	for _, c := range []struct {
		shape  string
		ctx, n int
	}{{"qwen2.5-0.5b", 512, 1}, {"qwen2.5-0.5b", 4096, 1}, {"qwen2.5-0.5b", 16384, 1}, {"qwen2.5-0.5b", 512, 64},
		{"qwen3-0.6b", 512, 1}, {"qwen3-0.6b", 4096, 1}} {
		for _, kvt := range []backend.KVType{backend.KVF16, backend.KVF32} {
			b.Run(fmt.Sprintf("%s/kv=%s/ctx=%d/tokens=%d", c.shape, kvt, c.ctx, c.n), func(b *testing.B) {
				be, l := attnBench(b, c.shape, c.ctx, c.n, kvt)
				defer be.pool.close()
				task := &attnTask{b: be, l: l, out: be.attnOut.f}
				// Bytes of K and V the step reads (each token attends to its own prefix).
				var kv int64
				for t := 0; t < c.n; t++ {
					kv += int64(c.ctx-c.n+t+1) * int64(2*be.kvDim*kvt.Bytes())
				}
				b.SetBytes(kv)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					task.reset(c.n) // by tokens: each token's KV heads are its items
					task.run(0, 0, 0)
				}
			})
		}
	}
}

// BenchmarkPoolDispatch is the cost of one parallel dispatch of an empty task over all cores:
// the overhead each matrix product of a decode step pays.
func BenchmarkPoolDispatch(b *testing.B) {
	p := newPool(runtime.NumCPU())
	defer p.close()
	var t nopTask
	for i := 0; i < b.N; i++ {
		p.parallel(&t, 1024, 16)
	}
}

type nopTask struct{}

func (nopTask) run(lo, hi, w int) {}

// BenchmarkDecodeBatch is the FFN up projection at the qwen2.5-0.5b shape for n sequences
// decoding together, on one thread, weights in cache: the GFLOP/s figure shows how far the
// batched kernels turn one weight read into n tokens of arithmetic.
func BenchmarkDecodeBatch(b *testing.B) {
	for _, dt := range []model.DType{model.F32, model.BF16, model.Q8_0} {
		for _, n := range []int{1, 4, 8, 16} {
			b.Run(fmt.Sprintf("%s/n=%d", dt, n), func(b *testing.B) { benchProduct(b, dt, 1024, 896, n) })
		}
	}
}

// benchProduct times one thread's product of a rows x cols matrix of type dt with n tokens and
// reports GFLOP/s (2*rows*cols*n per product).
func benchProduct(b *testing.B, dt model.DType, rows, cols, n int) {
	task := benchTask(rows, cols, n)
	task.m = benchMatrix(b, dt, rows, cols)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		task.run(0, rows, 0)
	}
	b.ReportMetric(2*float64(rows*cols*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkQ8Run8 is eight tokens over a run of 16 q8_0 row groups (128 rows x 896 columns,
// in L2) in one q8Run8 call, by kernel: "avx2", and where the CPU has AVX-512 VNNI "words"
// (VPDPWSSD over int16 pairs), "bytes" (VPDPBUSD, the activations packed to bytes per run, one
// group at a time) and "pairs" (the same over pairs of groups, sixteen rows a register). The
// activations are packed once, outside the timing, as a product packs them once per chunk for
// all its groups.
func BenchmarkQ8Run8(b *testing.B) {
	const rows, cols, nb = 128, 896, 896 / model.Q8Block
	m := benchMatrix(b, model.Q8_0, rows, cols)
	qa := benchTask(rows, cols, 8).q
	out := make([]float32, 8*rows)
	saved, savedBytes, savedPairs := currentFlags(), q8VNNIBytes, q8VNNIPairs
	defer func() { saved.set(); q8VNNIBytes, q8VNNIPairs = savedBytes, savedPairs }()
	for _, k := range []struct {
		name                        string
		avxvnni, vnni, bytes, pairs bool
	}{{"avx2", false, false, false, false}, {"avxvnni", true, false, true, false}, {"words", false, true, false, false},
		{"bytes", false, true, true, false}, {"pairs", false, true, true, true}} {
		b.Run(k.name, func(b *testing.B) {
			if k.vnni && !saved.vnni {
				b.Skip("no AVX-512 VNNI here")
			}
			if k.avxvnni && !saved.avxvnni {
				b.Skip("no AVX-VNNI here")
			}
			hasAVXVNNI, hasVNNI, hasVBMI, q8VNNIBytes, q8VNNIPairs = k.avxvnni, k.vnni, false, k.bytes, k.pairs
			var u []byte
			if q8PackedBytes(nb) {
				u = make([]byte, 8*nb*model.Q8Block)
				q8PackU8(u, qa.q, cols, nb) // once, as a product packs once per chunk for all its groups
			}
			for i := 0; i < b.N; i++ {
				q8Run8(m.q8, 0, rows/q8GroupRows, 0, nb, qa.q, cols, u, qa.d, nb, out, rows, false)
			}
			b.ReportMetric(2*rows*cols*8*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkSlotRows is attention's gathering of one item's row offsets through a page table
// (pages of 16 slots, llama-3.2-1b's 512-wide KV rows): "pages" as attention does it
// (slotRows), "slots" one slotOffset (a division) per slot, the way it was done before.
func BenchmarkSlotRows(b *testing.B) {
	be := &Backend{pageSize: 16, kvDim: 512}
	for _, n := range []int{200, 16384} {
		pages := make([]int32, (n+15)/16)
		for i := range pages {
			pages[i] = int32(3*i + 1)
		}
		rows := make([]int32, n)
		b.Run(fmt.Sprintf("pages/n=%d", n), func(b *testing.B) {
			for b.Loop() {
				be.slotRows(pages, 0, n, 64, rows)
			}
		})
		b.Run(fmt.Sprintf("slots/n=%d", n), func(b *testing.B) {
			for b.Loop() {
				for j := range rows {
					rows[j] = int32(be.slotOffset(pages, j) + 64)
				}
			}
		})
	}
}

// BenchmarkRMSNorm is one row of llama-3.2-1b's hidden size: a decode step takes two per layer
// and token.
func BenchmarkRMSNorm(b *testing.B) {
	x, w, out := make([]float32, 2048), make([]float32, 2048), make([]float32, 2048)
	for i := range x {
		x[i], w[i] = float32(i%7)-3, 1
	}
	for b.Loop() {
		RMSNorm(out, x, w, 1e-6)
	}
}
