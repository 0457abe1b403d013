package cpu

import (
	"fmt"
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
