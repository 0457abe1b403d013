package train

import (
	"math"
)

// Grads are gradients of a model's loss, one tensor per parameter (a tied embedding has one,
// which receives both its uses).
type Grads struct {
	Params
	cfg *Model
}

// NewGrads makes zeroed gradients for m.
func NewGrads(m *Model) *Grads {
	return &Grads{Params: newParams(&m.Config), cfg: m}
}

func (g *Grads) tensors() []Tensor { return g.Tensors(&g.cfg.Config) }

// Zero clears the gradients, before accumulating a new update.
func (g *Grads) Zero() {
	for _, t := range g.tensors() {
		clear(t.Data)
	}
}

// Scale multiplies every gradient by f (1/k to average k accumulated Steps).
func (g *Grads) Scale(f float32) {
	for _, t := range g.tensors() {
		for i := range t.Data {
			t.Data[i] *= f
		}
	}
}

// GlobalNorm is the global L2 norm of the gradients.
func (g *Grads) GlobalNorm() float64 {
	var ss float64
	for _, t := range g.tensors() {
		for _, v := range t.Data {
			ss += float64(v) * float64(v)
		}
	}
	return math.Sqrt(ss)
}

// ClipGradNorm scales g so that its global L2 norm is at most maxNorm (when maxNorm > 0) and
// returns the norm before clipping.
func ClipGradNorm(g *Grads, maxNorm float64) float64 {
	n := g.GlobalNorm()
	if maxNorm > 0 && n > maxNorm {
		g.Scale(float32(maxNorm / (n + 1e-6)))
	}
	return n
}

// AdamW is Adam with decoupled weight decay (Loshchilov & Hutter). Weight decay applies to the
// projection matrices (and an untied output), not to norms, nor to the embedding unless
// DecayEmbedding is set.
type AdamW struct {
	Beta1, Beta2, Eps float64
	WeightDecay       float64
	DecayEmbedding    bool
	step              int
	m, v              Params
	init              bool
}

// NewAdamW returns AdamW with beta1 0.9, beta2 0.95, eps 1e-8 and the given weight decay.
func NewAdamW(weightDecay float64) *AdamW {
	return &AdamW{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: weightDecay}
}

// Steps is the number of updates made so far.
func (o *AdamW) Steps() int { return o.step }

// Step updates m's weights from g with learning rate lr. It does not clear g.
func (o *AdamW) Step(m *Model, g *Grads, lr float64) {
	if !o.init {
		o.m, o.v = newParams(&m.Config), newParams(&m.Config)
		o.init = true
	}
	o.step++
	b1, b2 := o.Beta1, o.Beta2
	c1 := 1 - math.Pow(b1, float64(o.step))
	c2 := 1 - math.Pow(b2, float64(o.step))
	ps, gs := m.Tensors(&m.Config), g.tensors()
	ms, vs := o.m.Tensors(&m.Config), o.v.Tensors(&m.Config)
	ws := m.ws
	var pl *pool
	if ws != nil {
		pl = ws.pool
	} else {
		pl = newPool(0)
	}
	for i, p := range ps {
		decay := 0.0
		if p.Matrix || (o.DecayEmbedding && p.Name == "embed") {
			decay = o.WeightDecay
		}
		w, gr, mm, vv := p.Data, gs[i].Data, ms[i].Data, vs[i].Data
		fb1, fb2 := float32(b1), float32(b2)
		step := float32(lr / c1)
		sc2 := float32(1 / math.Sqrt(c2))
		eps := float32(o.Eps)
		keep := float32(1 - lr*decay)
		pl.run(len(w), 4096, func(_, lo, hi int) {
			for j := lo; j < hi; j++ {
				gj := gr[j]
				mj := fb1*mm[j] + (1-fb1)*gj
				vj := fb2*vv[j] + (1-fb2)*gj*gj
				mm[j], vv[j] = mj, vj
				den := float32(math.Sqrt(float64(vj)))*sc2 + eps
				w[j] = w[j]*keep - step*mj/den
			}
		})
	}
}
