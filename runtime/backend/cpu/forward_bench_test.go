package cpu

import (
	"fmt"
	"os"
	"testing"

	"github.com/arborlabs/arbor/runtime/backend"
	"github.com/arborlabs/arbor/runtime/model"
)

// BenchmarkForward times whole Forward calls on qwen2.5-0.5b's layer shapes (four layers,
// vocabulary cut to 384, random weights): decode steps of one and of eight sequences, and a
// 64-token prefill chunk.
func BenchmarkForward(b *testing.B) {
	for _, dt := range []model.DType{model.Q8_0, model.F32} {
		cfg, err := model.Shape("qwen2.5-0.5b")
		if err != nil {
			b.Fatal(err)
		}
		cfg.VocabSize, cfg.NumLayers = 384, 4
		w, err := model.NewRandom(&cfg, dt, 7)
		if err != nil {
			b.Fatal(err)
		}
		be, err := New(&model.Model{Config: cfg, Weights: *w}, Options{Threads: 2, NumPages: 64, PageSize: 16})
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range []struct {
			name       string
			seqs, toks int
		}{{"decode/n=1", 1, 1}, {"decode/n=8", 8, 1}, {"prefill/T=64", 1, 64}} {
			b.Run(fmt.Sprintf("%s/%s", dt, c.name), func(b *testing.B) {
				batch := &backend.Batch{}
				logits := make([][]float32, c.seqs)
				for s := range c.seqs {
					in := backend.SeqInput{Start: 32, Logits: true}
					for p := range 6 { // 96 slots: 32 of context, up to 64 new
						in.Pages = append(in.Pages, int32(6*s+p))
					}
					for i := range c.toks {
						in.Tokens = append(in.Tokens, int32((s+i)%cfg.VocabSize))
						in.Positions = append(in.Positions, int32(32+i))
					}
					batch.Seqs = append(batch.Seqs, in)
					logits[s] = make([]float32, cfg.VocabSize)
				}
				for b.Loop() {
					if err := be.Forward(batch, logits); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		be.Close()
	}
}

// BenchmarkStepProducts splits a decode step of one sequence (n=1) and of eight (n=8) on a
// real model file (ARBOR_BENCH_MODEL=path to a .gguf, e.g. one from `arbor model new`; skipped
// without it) into its matrix products, reporting the weights streamed per second (MB/s):
// "forward" the whole Forward call, "products" the step's products in Forward's order with
// nothing between them, and each kind of product alone over all layers ("qkv", "o",
// "gate_up", "down", "output").
// Set beside the memory's read rate (BenchmarkMemRead, or `arbor bench`'s probe), it says
// where a step loses against the bandwidth: in the kernels (every kind alone slow), in the
// products' sequence (kinds fast alone, "products" slow), or between the products ("forward"
// slower than "products"). The memory's rate can swing by half within minutes on a shared
// machine: compare runs taken together (-count, alternating). Eight sequences' products
// stream the same weights for eight tokens; their rate beside one sequence's says how far the
// eight-token kernels fall short of reading the weights once at one token's pace.
func BenchmarkStepProducts(b *testing.B) {
	path := os.Getenv("ARBOR_BENCH_MODEL")
	if path == "" {
		b.Skip("set ARBOR_BENCH_MODEL to a .gguf model file")
	}
	m, err := model.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	be := newTestBackend(b, m, Options{Threads: 0, NumPages: 64, PageSize: 16})
	for _, n := range []int{1, 8} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) { stepProducts(b, be, n) })
	}
}

// stepProducts is BenchmarkStepProducts for a step of n sequences.
func stepProducts(b *testing.B, be *Backend, n int) {
	cfg := be.cfg
	h, ffn, V := cfg.HiddenSize, cfg.FFNSize, cfg.VocabSize
	input := func(cols int) *acts {
		a := &acts{}
		f := a.rows(n, cols)
		for i := range f {
			f[i] = float32(i%7) - 3
		}
		return a
	}
	xn, ao, gt := input(h), input(be.qDim), input(ffn)
	q, k, v := make([]float32, n*be.qDim), make([]float32, n*be.kvDim), make([]float32, n*be.kvDim)
	x, g, u := make([]float32, n*h), make([]float32, n*ffn), make([]float32, n*ffn)
	logits := make([]float32, n*V)
	qkv := func(l *layer) {
		be.setMatmul(0, l.q, xn, n, q, be.qDim, false, l.qBias)
		be.setMatmul(1, l.k, xn, n, k, be.kvDim, false, l.kBias)
		be.setMatmul(2, l.v, xn, n, v, be.kvDim, false, l.vBias)
		be.runMatmuls(3)
	}
	o := func(l *layer) { be.matmul(l.o, ao, n, x, h, true, nil) }
	gateUp := func(l *layer) {
		be.setMatmul(0, l.gate, xn, n, g, ffn, false, nil)
		be.setMatmul(1, l.up, xn, n, u, ffn, false, nil)
		be.runMatmuls(2)
	}
	down := func(l *layer) { be.matmul(l.down, gt, n, x, h, true, nil) }
	output := func() { be.matmul(be.output, xn, n, logits, V, false, nil) }
	var total int64
	perKind := map[string]int64{}
	for i := range be.layers {
		l := &be.layers[i]
		perKind["qkv"] += l.q.bytes() + l.k.bytes() + l.v.bytes()
		perKind["o"] += l.o.bytes()
		perKind["gate_up"] += l.gate.bytes() + l.up.bytes()
		perKind["down"] += l.down.bytes()
	}
	perKind["output"] = be.output.bytes()
	for _, by := range perKind {
		total += by
	}
	layers := func(f func(*layer)) func() {
		return func() {
			for i := range be.layers {
				f(&be.layers[i])
			}
		}
	}
	batch := &backend.Batch{}
	lg := make([][]float32, n)
	for s := range n {
		batch.Seqs = append(batch.Seqs, backend.SeqInput{Tokens: []int32{int32(1 + s)}, Positions: []int32{32}, Start: 32,
			Pages: []int32{int32(3 * s), int32(3*s + 1), int32(3*s + 2)}, Logits: true})
		lg[s] = make([]float32, V)
	}
	for _, c := range []struct {
		name  string
		bytes int64
		run   func()
	}{
		{"forward", total, func() {
			if err := be.Forward(batch, lg); err != nil {
				b.Fatal(err)
			}
		}},
		{"products", total, func() {
			for i := range be.layers {
				l := &be.layers[i]
				qkv(l)
				o(l)
				gateUp(l)
				down(l)
			}
			output()
		}},
		{"qkv", perKind["qkv"], layers(qkv)},
		{"o", perKind["o"], layers(o)},
		{"gate_up", perKind["gate_up"], layers(gateUp)},
		{"down", perKind["down"], layers(down)},
		{"output", perKind["output"], output},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(c.bytes)
			for b.Loop() {
				c.run()
			}
		})
	}
}
