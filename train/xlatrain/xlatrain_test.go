package xlatrain

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"

	"github.com/arborlabs/arbor/runtime/backend/xla"
	"github.com/arborlabs/arbor/runtime/model"
	"github.com/arborlabs/arbor/train"
)

func tiny() model.Config {
	return model.Config{Arch: model.ArchQwen3, VocabSize: 13, HiddenSize: 16, NumLayers: 2, NumHeads: 2, NumKVHeads: 1,
		HeadDim: 8, FFNSize: 24, MaxPositions: 64, RMSNormEps: 1e-5, RopeTheta: 10000, TieEmbeddings: true, QKNorm: true}
}

func backend(t *testing.T) backends.Backend {
	t.Helper()
	t.Setenv("GOMLX_NO_AUTO_INSTALL", "1") // gomlx's pure-Go engine needs no PJRT plugin
	be, err := backends.NewWithConfig(xla.DefaultBackend)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(be.Finalize)
	return be
}

// batch is rows of random tokens with documents packed in them (sep ends one) and a random
// loss mask, the target after a sep weighted 0 as the recipe does.
func batch(r *rand.Rand, B, T int, vocab, sep int32) ([][]int32, [][]float32) {
	tokens, mask := make([][]int32, B), make([][]float32, B)
	for b := range B {
		tokens[b], mask[b] = make([]int32, T), make([]float32, T)
		for i := range T {
			tokens[b][i] = 1 + r.Int32N(vocab-1)
			if tokens[b][i] == sep || r.IntN(7) == 0 {
				tokens[b][i] = sep
			}
			if i > 0 && tokens[b][i-1] != sep && r.IntN(5) != 0 {
				mask[b][i] = 1
			}
		}
	}
	return tokens, mask
}

// TestStepsMatchCPUTrainer: three steps of the gomlx trainer (xla.LossGraph, gomlx's autodiff,
// Adam and cosine schedule) on packed documents give the losses of the cpu trainer's steps and
// move every weight as its AdamW does (same clipping, decay and learning rates).
func TestStepsMatchCPUTrainer(t *testing.T) {
	be := backend(t)
	cfg := tiny()
	const sep, steps, lr = 5, 3, 3e-2
	mx, err := train.NewModel(cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	mc, _ := train.NewModel(cfg, 3)
	mx.MaskDocuments(sep)
	mc.MaskDocuments(sep)
	init := map[string][]float32{}
	for _, w := range mc.Tensors(&cfg) {
		init[w.Name] = append([]float32(nil), w.Data...)
	}
	// A clip norm the first step's gradient exceeds, so that clipping is exercised.
	o := Options{LR: lr, Warmup: 0, Steps: 10, WeightDecay: 0.1, ClipNorm: 0.5}
	tr, err := New(be, mx, o)
	if err != nil {
		t.Fatal(err)
	}
	opt := train.NewAdamW(o.WeightDecay)
	grads := train.NewGrads(mc)
	r := rand.New(rand.NewPCG(1, 2))
	clipped := false
	for step := range steps {
		tokens, mask := batch(r, 3, 12, int32(cfg.VocabSize), sep)
		lx, err := tr.Step(tokens, mask)
		if err != nil {
			t.Fatal(err)
		}
		grads.Zero()
		lc, _, err := mc.Step(tokens, mask, grads)
		if err != nil {
			t.Fatal(err)
		}
		if n := train.ClipGradNorm(grads, o.ClipNorm); n > o.ClipNorm {
			clipped = true
		}
		p := float64(step) / float64(o.Steps)
		opt.Step(mc, grads, lr*(0.1+0.9*0.5*(1+math.Cos(math.Pi*p))))
		if rel := math.Abs(lx-lc) / lc; rel > 1e-5 {
			t.Errorf("step %d: loss %.7g through gomlx, %.7g on the cpu trainer", step, lx, lc)
		}
	}
	if !clipped {
		t.Fatal("no step clipped its gradient: the clipping is untested")
	}
	if err := tr.Sync(); err != nil {
		t.Fatal(err)
	}
	// Compare the moves: Adam's first steps are about lr·sign(g), so a weight whose gradient is
	// near zero may move differently by up to a step; the moves as a whole agree closely.
	cw := map[string][]float32{}
	for _, w := range mc.Tensors(&cfg) {
		cw[w.Name] = w.Data
	}
	for _, w := range mx.Tensors(&cfg) {
		var d2, m2 float64
		for i, v := range w.Data {
			moveX, moveC := float64(v-init[w.Name][i]), float64(cw[w.Name][i]-init[w.Name][i])
			d2 += (moveX - moveC) * (moveX - moveC)
			m2 += moveC * moveC
		}
		if m2 == 0 {
			t.Errorf("%s: the cpu trainer did not move it", w.Name)
			continue
		}
		if e := math.Sqrt(d2 / m2); e > 1e-3 {
			t.Errorf("%s: moves differ by %.3g (relative RMS) between gomlx and the cpu trainer", w.Name, e)
		} else {
			t.Logf("%s: moves agree to %.2g", w.Name, e)
		}
	}
}

// TestLossFalls: a few dozen gomlx steps on one batch drive its loss down (the smoke test of
// the GPU training path that runs on gomlx's pure-Go engine here).
func TestLossFalls(t *testing.T) {
	be := backend(t)
	cfg := tiny()
	m, err := train.NewModel(cfg, 4)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{LR: 1e-2, Warmup: 5, Steps: 40, WeightDecay: 0.1, ClipNorm: 1}
	tr, err := New(be, m, o)
	if err != nil {
		t.Fatal(err)
	}
	tokens, mask := batch(rand.New(rand.NewPCG(5, 6)), 2, 16, int32(cfg.VocabSize), 5)
	var first, last float64
	for step := range 40 {
		l, err := tr.Step(tokens, mask)
		if err != nil {
			t.Fatal(err)
		}
		// The step's learning rate, as gomlx's schedule left it, is the one LearningRate says.
		v, err := optimizers.LearningRateVar(tr.ctx, dtypes.Float32, o.LR).Value()
		if err != nil {
			t.Fatal(err)
		}
		if got, want := float64(v.Value().(float32)), LearningRate(o, step); math.Abs(got-want) > 1e-6*o.LR {
			t.Fatalf("step %d: learning rate %g, LearningRate says %g", step, got, want)
		}
		if step == 0 {
			first = l
		}
		last = l
	}
	t.Logf("loss %.4f -> %.4f", first, last)
	if last > first/3 {
		t.Fatalf("loss %.4f -> %.4f in 40 steps on one batch", first, last)
	}
	if _, err := tr.Step([][]int32{{1, 99}}, nil); err == nil {
		t.Fatal("a token outside the vocabulary was accepted")
	}
}

// TestResume: a trainer resumed at a step goes on with the schedule's learning rate there.
func TestResume(t *testing.T) {
	be := backend(t)
	cfg := tiny()
	m, err := train.NewModel(cfg, 4)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{LR: 1e-2, Warmup: 5, Steps: 40, ClipNorm: 1}
	tr, err := New(be, m, o)
	if err != nil {
		t.Fatal(err)
	}
	tr.Resume(23)
	tokens, mask := batch(rand.New(rand.NewPCG(5, 6)), 2, 16, int32(cfg.VocabSize), 5)
	if _, err := tr.Step(tokens, mask); err != nil {
		t.Fatal(err)
	}
	v, err := optimizers.LearningRateVar(tr.ctx, dtypes.Float32, o.LR).Value()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := float64(v.Value().(float32)), LearningRate(o, 23); math.Abs(got-want) > 1e-6*o.LR || want == LearningRate(o, 0) {
		t.Fatalf("resumed at 23: learning rate %g, want %g", got, want)
	}
}
