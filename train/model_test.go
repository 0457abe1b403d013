package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/arborlabs/arbor/runtime/backend"
	"github.com/arborlabs/arbor/runtime/backend/cpu"
	"github.com/arborlabs/arbor/runtime/model"
)

// TestLogitsMatchInference: the trainer's logits at every position equal those of Arbor's
// cpu inference backend (float32 KV cache) run on the model's Weights, prefix by prefix.
func TestLogitsMatchInference(t *testing.T) {
	for _, qk := range []bool{false, true} {
		for _, tied := range []bool{false, true} {
			t.Run(fmt.Sprintf("qknorm=%v,tied=%v", qk, tied), func(t *testing.T) {
				cfg := tinyConfig(qk, tied)
				cfg.VocabSize, cfg.HiddenSize, cfg.NumHeads, cfg.NumKVHeads, cfg.HeadDim, cfg.FFNSize = 53, 32, 4, 2, 16, 48
				m, err := NewModel(cfg, 11)
				if err != nil {
					t.Fatal(err)
				}
				// Larger than the init, so the logits are far from uniform.
				for _, tt := range m.Tensors(&m.Config) {
					if len(tt.Shape) == 2 {
						for i := range tt.Data {
							tt.Data[i] *= 10
						}
					}
				}
				rng := rand.New(rand.NewPCG(2, 3))
				const T = 12
				tokens, _ := randomBatch(rng, 2, T, cfg.VocabSize, false)
				logits, err := m.Logits(tokens)
				if err != nil {
					t.Fatal(err)
				}
				be, err := cpu.New(&model.Model{Config: cfg, Weights: *m.Weights()},
					cpu.Options{Threads: 2, NumPages: 4, PageSize: 16, KV: backend.KVF32})
				if err != nil {
					t.Fatal(err)
				}
				defer be.Close()
				V := cfg.VocabSize
				out := [][]float32{make([]float32, V)}
				var maxDiff, maxAbs float64
				for b := range tokens {
					for L := 1; L <= T; L++ {
						pos := make([]int32, L)
						for i := range pos {
							pos[i] = int32(i)
						}
						batch := &backend.Batch{Seqs: []backend.SeqInput{{Tokens: tokens[b][:L], Positions: pos,
							Pages: []int32{0}, Logits: true}}}
						if err := be.Forward(batch, out); err != nil {
							t.Fatal(err)
						}
						row := logits[(b*T+L-1)*V : (b*T+L)*V]
						for i := range row {
							maxDiff = math.Max(maxDiff, math.Abs(float64(row[i]-out[0][i])))
							maxAbs = math.Max(maxAbs, math.Abs(float64(out[0][i])))
						}
					}
				}
				t.Logf("max |logit diff| %.3g (max |logit| %.3g)", maxDiff, maxAbs)
				if maxDiff > 1e-4 || maxAbs < 1 {
					t.Errorf("max |logit diff| %.3g (max |logit| %.3g)", maxDiff, maxAbs)
				}
			})
		}
	}
}

// TestWeightsRoundTrip: WriteHF of Weights, loaded back with model.LoadWeights and FromWeights,
// gives the same parameters and config.
func TestWeightsRoundTrip(t *testing.T) {
	for _, tied := range []bool{false, true} {
		cfg := tinyConfig(true, tied)
		m := roughModel(cfg, 12)
		dir := filepath.Join(t.TempDir(), "m")
		if err := model.WriteHF(dir, &m.Config, m.Weights(), nil); err != nil {
			t.Fatal(err)
		}
		lm, err := model.LoadWeights(dir)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := FromWeights(lm.Config, &lm.Weights)
		lm.Close()
		if err != nil {
			t.Fatal(err)
		}
		if m2.Config.TieEmbeddings != tied || !m2.Config.QKNorm || m2.Config.HiddenSize != cfg.HiddenSize {
			t.Fatalf("config came back as %+v", m2.Config)
		}
		a, b := m.Tensors(&m.Config), m2.Tensors(&m2.Config)
		if len(a) != len(b) {
			t.Fatalf("%d tensors, %d after the round trip", len(a), len(b))
		}
		for i := range a {
			for j := range a[i].Data {
				if a[i].Data[j] != b[i].Data[j] {
					t.Fatalf("%s[%d]: %v, %v after the round trip", a[i].Name, j, a[i].Data[j], b[i].Data[j])
				}
			}
		}
	}
}

// TestTrainCountTask is the smoke test: 50 AdamW steps on a counting task (each sequence
// counts up by a stride, 1 or 2, from a random start, modulo 15; the first two targets, which
// set the start and the stride, are masked out) at least halve the loss. The stride must be
// read from earlier tokens, so attention has to learn something too.
func TestTrainCountTask(t *testing.T) {
	cfg := model.Config{Arch: model.ArchQwen3, VocabSize: 16, HiddenSize: 32, NumLayers: 2, NumHeads: 4,
		NumKVHeads: 2, HeadDim: 8, FFNSize: 64, MaxPositions: 64, RMSNormEps: 1e-6, RopeTheta: 10000,
		TieEmbeddings: true, QKNorm: true}
	m, err := NewModel(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	opt := NewAdamW(0.01)
	g := NewGrads(m)
	rng := rand.New(rand.NewPCG(4, 4))
	const B, T = 16, 16
	tokens := make([][]int32, B)
	mask := make([][]float32, B)
	for b := range tokens {
		tokens[b] = make([]int32, T)
		mask[b] = make([]float32, T)
		for i := 2; i < T; i++ {
			mask[b][i] = 1
		}
	}
	var first, last float64
	for step := 0; step < 50; step++ {
		for b := range tokens {
			v, stride := rng.IntN(15), 1+rng.IntN(2)
			for i := range tokens[b] {
				tokens[b][i] = int32((v + i*stride) % 15)
			}
		}
		g.Zero()
		loss, n, err := m.Step(tokens, mask, g)
		if err != nil {
			t.Fatal(err)
		}
		if n != B*(T-2) {
			t.Fatalf("counted %d targets, want %d", n, B*(T-2))
		}
		ClipGradNorm(g, 1)
		opt.Step(m, g, 1e-2)
		if step == 0 {
			first = loss
		}
		last = loss
	}
	t.Logf("loss %.3f -> %.3f after 50 steps", first, last)
	if !(last < first/2) {
		t.Errorf("loss %.3f -> %.3f after 50 steps: did not halve", first, last)
	}
}

// BenchmarkTrainStep is a forward+backward+AdamW step of the demo model's shape (4 layers,
// hidden 256, 4 heads of 64, ffn 688, vocab 2048, untied: 4.2M parameters) on 8
// sequences of 256 tokens.
func BenchmarkTrainStep(b *testing.B) {
	cfg := model.Config{Arch: model.ArchQwen3, VocabSize: 2048, HiddenSize: 256, NumLayers: 4, NumHeads: 4,
		NumKVHeads: 4, HeadDim: 64, FFNSize: 688, MaxPositions: 512, RMSNormEps: 1e-6, RopeTheta: 10000,
		QKNorm: true}
	benchStep(b, cfg, 8, 256)
}

// BenchmarkTrainStepTied is BenchmarkTrainStep with a tied embedding and vocab 1024 (3.4M parameters).
func BenchmarkTrainStepTied(b *testing.B) {
	cfg := model.Config{Arch: model.ArchQwen3, VocabSize: 1024, HiddenSize: 256, NumLayers: 4, NumHeads: 4,
		NumKVHeads: 4, HeadDim: 64, FFNSize: 688, MaxPositions: 512, RMSNormEps: 1e-6, RopeTheta: 10000,
		QKNorm: true, TieEmbeddings: true}
	benchStep(b, cfg, 8, 256)
}

func benchStep(b *testing.B, cfg model.Config, B, T int) {
	m, err := NewModel(cfg, 1)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	tokens, _ := randomBatch(rng, B, T, cfg.VocabSize, false)
	g := NewGrads(m)
	opt := NewAdamW(0.1)
	if _, _, err := m.Step(tokens, nil, g); err != nil { // buffers
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		g.Zero()
		m.Step(tokens, nil, g)
		ClipGradNorm(g, 1)
		opt.Step(m, g, 1e-3)
	}
	b.ReportMetric(float64(B*T*b.N)/b.Elapsed().Seconds(), "tokens/s")
	b.ReportMetric(float64(m.NumParams()), "params")
}
