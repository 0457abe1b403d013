// Package xlatrain trains a decoder through gomlx: the loss is xla.LossGraph (the xla
// backend's own layer functions, the model definition its inference graph runs), gradients come
// from gomlx's autodiff, and updates from gomlx's Adam optimizer and cosine learning-rate
// schedule, run by gomlx's trainer on whatever gomlx backend it is given: a PJRT plugin (CUDA)
// for GPU training, or gomlx's pure-Go engine, which is correct but far too slow for a real run
// on a CPU (about 200 tokens/s for a 3M-parameter model on two cores, where the cpu trainer of
// package train does 6,000).
//
// The weights live in a train.Model, whose tensors the Trainer starts from and writes back to
// (Sync), so that everything the cpu trainer's model feeds (checkpoints, model.WriteHF, the
// shipped form) serves this path too.
package xlatrain

import (
	"errors"
	"fmt"
	"math"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	gtrain "github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers/cosineschedule"

	"github.com/arborlabs/arbor/runtime/backend/xla"
	"github.com/arborlabs/arbor/train"
)

// Options are the optimizer's settings, those of the cpu recipe: AdamW (beta1 0.9, beta2 0.95,
// eps 1e-8) with decoupled weight decay on the projection matrices only, the gradient's global
// norm clipped to ClipNorm, and a learning rate warming up over Warmup steps to LR, then
// cosine down to a tenth of it at Steps.
type Options struct {
	LR          float64
	Warmup      int
	Steps       int
	WeightDecay float64
	ClipNorm    float64
}

// LearningRate is the learning rate of step (from 0) under o, as gomlx's cosine schedule
// computes it: during the warmup it rises linearly from LR/10, then falls as a cosine from LR
// to LR/10 at o.Steps.
func LearningRate(o Options, step int) float64 {
	lo := o.LR / 10
	if step < o.Warmup {
		return lo + float64(step)/float64(o.Warmup)*(o.LR-lo)
	}
	p := float64(step-o.Warmup) / float64(o.Steps-o.Warmup)
	p -= math.Floor(p)
	return lo + (o.LR-lo)*(1+math.Cos(math.Pi*p))/2
}

// Trainer runs training steps of a train.Model's weights through gomlx.
type Trainer struct {
	m       *train.Model
	tensors []train.Tensor
	vars    []*context.Variable
	ctx     *context.Context
	tr      *gtrain.Trainer
}

// New makes a Trainer over m's current weights on backend be (gomlx's; the caller finalizes
// it after the Trainer's last use).
func New(be backends.Backend, m *train.Model, o Options) (*Trainer, error) {
	if o.LR <= 0 || o.Steps <= 0 || o.Warmup < 0 || o.Warmup >= o.Steps {
		return nil, fmt.Errorf("xlatrain: learning rate %g, %d steps, %d warmup steps", o.LR, o.Steps, o.Warmup)
	}
	cfg := &m.Config
	ts := m.Tensors(cfg)
	if n := len(xla.LossWeightNames(cfg)); n != len(ts) {
		return nil, fmt.Errorf("xlatrain: the model has %d tensors, the loss graph takes %d", len(ts), n)
	}
	t := &Trainer{m: m, tensors: ts, ctx: context.New()}
	weights := t.ctx.In("model")
	for i, w := range ts {
		v := weights.VariableWithValue(fmt.Sprintf("w%03d", i), tensors.FromFlatDataAndDimensions(w.Data, w.Shape...))
		t.vars = append(t.vars, v)
	}
	// Decoupled weight decay is applied here (to the matrices alone), not by gomlx's Adam,
	// which would decay every variable, norms and embedding included.
	adam := optimizers.Adam().LearningRate(o.LR).Betas(0.9, 0.95).Epsilon(1e-8).Done()
	opt := &clippedAdamW{inner: adam, clip: o.ClipNorm, decay: o.WeightDecay, lr: o.LR}
	for i, w := range ts {
		if w.Matrix {
			opt.decayed = append(opt.decayed, t.vars[i])
		}
	}
	modelFn := func(ctx *context.Context, _ any, in []*graph.Node) []*graph.Node {
		g := in[0].Graph()
		cosineschedule.New(ctx, g, dtypes.Float32).LearningRate(o.LR).MinLearningRate(o.LR / 10).
			WarmUpSteps(o.Warmup).PeriodSteps(o.Steps - o.Warmup).Done()
		ws := make([]*graph.Node, len(t.vars))
		for i, v := range t.vars {
			ws[i] = v.ValueGraph(g)
		}
		var starts *graph.Node
		if len(in) > 3 {
			starts = in[3]
		}
		return []*graph.Node{xla.LossGraph(cfg, ws, in[0], in[1], in[2], starts)}
	}
	lossFn := func(_, predictions []*graph.Node) *graph.Node { return predictions[0] }
	t.tr = gtrain.NewTrainer(be, t.ctx, modelFn, lossFn, opt, nil, nil)
	return t, nil
}

// Resume sets the learning-rate schedule's step, for a run resumed from a checkpoint of its
// weights: the schedule goes on from step, while Adam's moments, which checkpoints do not hold
// on this path, start again from zero (with their own bias correction from step 1). Call it
// before the first Step.
func (t *Trainer) Resume(step int) {
	sched := t.ctx.In(optimizers.Scope).In(cosineschedule.Scope)
	optimizers.GetGlobalStepVar(sched).SetValue(tensors.FromValue(int64(step)))
}

// Step trains on one batch, in train.Model.Step's convention: rows of tokens, position i
// predicting token i+1 with weight mask[b][i+1] (nil: every position), documents masked as
// the model's MaskDocuments says. It returns the batch's loss before the update.
func (t *Trainer) Step(tokens [][]int32, mask [][]float32) (float64, error) {
	B := len(tokens)
	if B == 0 || len(tokens[0]) < 2 {
		return 0, errors.New("xlatrain: empty batch")
	}
	T := len(tokens[0])
	ids, targets, weights := make([]int32, B*T), make([]int32, B*T), make([]float32, B*T)
	for b, row := range tokens {
		if len(row) != T || mask != nil && len(mask[b]) != T {
			return 0, fmt.Errorf("xlatrain: row %d has %d tokens, row 0 %d", b, len(row), T)
		}
		for i, id := range row {
			if id < 0 || int(id) >= t.m.Config.VocabSize {
				return 0, fmt.Errorf("xlatrain: row %d: token %d outside the vocabulary", b, id)
			}
			ids[b*T+i] = id
			if i+1 < T {
				targets[b*T+i] = row[i+1]
				weights[b*T+i] = 1
				if mask != nil {
					weights[b*T+i] = mask[b][i+1]
				}
			}
		}
	}
	in := []*tensors.Tensor{
		tensors.FromFlatDataAndDimensions(ids, B, T),
		tensors.FromFlatDataAndDimensions(targets, B, T),
		tensors.FromFlatDataAndDimensions(weights, B, T),
	}
	if _, ok := t.m.DocumentSeparator(); ok {
		// Where each token's document starts, as the cpu trainer finds them.
		starts := make([]int32, B*T)
		for b, row := range tokens {
			t.m.DocumentStarts(row, starts[b*T:(b+1)*T])
		}
		in = append(in, tensors.FromFlatDataAndDimensions(starts, B, T))
	}
	ms, err := t.tr.TrainStep(nil, in, nil)
	if err != nil {
		return 0, fmt.Errorf("xlatrain: step: %w", err)
	}
	if len(ms) == 0 {
		return 0, errors.New("xlatrain: the trainer returned no loss")
	}
	loss, err := tensors.CopyFlatData[float32](ms[0])
	if err != nil || len(loss) != 1 {
		return 0, fmt.Errorf("xlatrain: reading the loss: %v", err)
	}
	if math.IsNaN(float64(loss[0])) {
		return 0, errors.New("xlatrain: the loss is NaN")
	}
	return float64(loss[0]), nil
}

// Sync copies the trained weights back into the model's tensors.
func (t *Trainer) Sync() error {
	for i, v := range t.vars {
		val, err := v.Value()
		if err != nil {
			return fmt.Errorf("xlatrain: %s: %w", t.tensors[i].Name, err)
		}
		data, err := tensors.CopyFlatData[float32](val)
		if err != nil {
			return fmt.Errorf("xlatrain: %s: %w", t.tensors[i].Name, err)
		}
		if len(data) != len(t.tensors[i].Data) {
			return fmt.Errorf("xlatrain: %s: %d values, want %d", t.tensors[i].Name, len(data), len(t.tensors[i].Data))
		}
		copy(t.tensors[i].Data, data)
	}
	return nil
}

// clippedAdamW wraps gomlx's Adam: it clips the gradients' global norm before Adam sees them
// and applies decoupled weight decay to the decayed variables after (w -= lr·decay·w_old, as
// the cpu trainer's AdamW does).
type clippedAdamW struct {
	inner   optimizers.Interface
	clip    float64
	decay   float64
	lr      float64
	decayed []*context.Variable
}

// withGradients is the method gomlx's Adam has for gradients computed by its caller.
type withGradients interface {
	UpdateGraphWithGradients(ctx *context.Context, grads []*graph.Node, lossDType dtypes.DType)
}

func (o *clippedAdamW) UpdateGraph(ctx *context.Context, g *graph.Graph, loss *graph.Node) {
	inner, ok := o.inner.(withGradients)
	if !ok {
		panic("xlatrain: gomlx's Adam no longer takes gradients from its caller")
	}
	grads := ctx.BuildTrainableVariablesGradientsGraph(loss)
	if o.clip > 0 {
		var sq *graph.Node
		for _, gr := range grads {
			s := graph.ReduceAllSum(graph.Square(gr))
			if sq == nil {
				sq = s
			} else {
				sq = graph.Add(sq, s)
			}
		}
		norm := graph.Sqrt(sq)
		// scale = clip/(norm+1e-6) where the norm is over clip, else 1.
		scale := graph.Where(graph.GreaterThan(norm, graph.Scalar(g, norm.DType(), o.clip)),
			graph.Div(graph.Scalar(g, norm.DType(), o.clip), graph.AddScalar(norm, 1e-6)), graph.OnesLike(norm))
		for i := range grads {
			grads[i] = graph.Mul(grads[i], scale)
		}
	}
	old := make([]*graph.Node, len(o.decayed))
	for i, v := range o.decayed {
		old[i] = v.ValueGraph(g)
	}
	inner.UpdateGraphWithGradients(ctx, grads, loss.DType())
	if o.decay > 0 {
		lr := optimizers.LearningRateVar(ctx, dtypes.Float32, o.lr).ValueGraph(g)
		for i, v := range o.decayed {
			v.SetValueGraph(graph.Sub(v.ValueGraph(g), graph.Mul(graph.MulScalar(lr, o.decay), old[i])))
		}
	}
}

func (o *clippedAdamW) Clear(ctx *context.Context) error { return o.inner.Clear(ctx) }
