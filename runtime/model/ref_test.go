package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

// A small float64 reference forward pass over the canonical layout, for tests of the random
// initialisation and of the RoPE permutation. It is written for clarity, not speed.

type refModel struct {
	cfg *Config
	w   *Weights
	mat map[*Tensor][]float64
	inv []float64
}

func newRef(cfg *Config, w *Weights) *refModel {
	return &refModel{cfg: cfg, w: w, mat: map[*Tensor][]float64{}, inv: cfg.RopeInvFreq()}
}

func (r *refModel) vals(t *Tensor) []float64 {
	if v, ok := r.mat[t]; ok {
		return v
	}
	f := t.Float32s()
	v := make([]float64, len(f))
	for i, x := range f {
		v[i] = float64(x)
	}
	r.mat[t] = v
	return v
}

// matvec returns t·x (+ bias) for t of shape [out, in].
func (r *refModel) matvec(t, bias *Tensor, x []float64) []float64 {
	m := r.vals(t)
	out, in := t.Shape[0], t.Shape[1]
	y := make([]float64, out)
	for o := 0; o < out; o++ {
		var s float64
		row := m[o*in : (o+1)*in]
		for i, v := range row {
			s += v * x[i]
		}
		y[o] = s
	}
	if bias != nil {
		for o, b := range r.vals(bias) {
			y[o] += b
		}
	}
	return y
}

func (r *refModel) rmsnorm(x []float64, w *Tensor) []float64 {
	var ss float64
	for _, v := range x {
		ss += v * v
	}
	scale := 1 / math.Sqrt(ss/float64(len(x))+float64(r.cfg.RMSNormEps))
	wv := r.vals(w)
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = v * scale * wv[i]
	}
	return y
}

func rms(x []float64) float64 {
	var ss float64
	for _, v := range x {
		ss += v * v
	}
	return math.Sqrt(ss / float64(len(x)))
}

// ropeHalf rotates one head's vector in rotate-half (NeoX / Hugging Face) order at pos.
func ropeHalf(x []float64, inv []float64, pos int) {
	h := len(x) / 2
	for i := 0; i < h; i++ {
		s, c := math.Sincos(float64(pos) * inv[i])
		a, b := x[i], x[i+h]
		x[i], x[i+h] = a*c-b*s, a*s+b*c
	}
}

// ropeInterleaved rotates one head's vector in interleaved (GPT-J / llama.cpp llama) order.
func ropeInterleaved(x []float64, inv []float64, pos int) {
	for i := 0; i < len(x)/2; i++ {
		s, c := math.Sincos(float64(pos) * inv[i])
		a, b := x[2*i], x[2*i+1]
		x[2*i], x[2*i+1] = a*c-b*s, a*s+b*c
	}
}

// forward runs tokens through the model and returns the hidden-state RMS after each layer (of
// the last position) and the last position's logits.
func (r *refModel) forward(tokens []int) (layerRMS []float64, logits []float64) {
	c, w := r.cfg, r.w
	D := c.HeadDim
	group := c.NumHeads / c.NumKVHeads
	emb := r.vals(w.TokenEmbed)
	xs := make([][]float64, len(tokens))
	for p, tok := range tokens {
		xs[p] = append([]float64(nil), emb[tok*c.HiddenSize:(tok+1)*c.HiddenSize]...)
	}
	for li := range w.Layers {
		l := &w.Layers[li]
		ks := make([][]float64, len(tokens))
		vs := make([][]float64, len(tokens))
		qs := make([][]float64, len(tokens))
		for p := range tokens {
			h := r.rmsnorm(xs[p], l.AttnNorm)
			q, k, v := r.matvec(l.Q, l.QBias, h), r.matvec(l.K, l.KBias, h), r.matvec(l.V, l.VBias, h)
			for hd := 0; hd < c.NumHeads; hd++ {
				qh := q[hd*D : (hd+1)*D]
				if c.QKNorm {
					copy(qh, r.rmsnorm(qh, l.QNorm))
				}
				ropeHalf(qh, r.inv, p)
			}
			for hd := 0; hd < c.NumKVHeads; hd++ {
				kh := k[hd*D : (hd+1)*D]
				if c.QKNorm {
					copy(kh, r.rmsnorm(kh, l.KNorm))
				}
				ropeHalf(kh, r.inv, p)
			}
			qs[p], ks[p], vs[p] = q, k, v
		}
		for p := range tokens {
			att := make([]float64, c.NumHeads*D)
			for hd := 0; hd < c.NumHeads; hd++ {
				kvh := hd / group
				qh := qs[p][hd*D : (hd+1)*D]
				scores := make([]float64, p+1)
				mx := math.Inf(-1)
				for j := 0; j <= p; j++ {
					var s float64
					for d := 0; d < D; d++ {
						s += qh[d] * ks[j][kvh*D+d]
					}
					scores[j] = s / math.Sqrt(float64(D))
					mx = math.Max(mx, scores[j])
				}
				var sum float64
				for j := range scores {
					scores[j] = math.Exp(scores[j] - mx)
					sum += scores[j]
				}
				for j := range scores {
					for d := 0; d < D; d++ {
						att[hd*D+d] += scores[j] / sum * vs[j][kvh*D+d]
					}
				}
			}
			o := r.matvec(l.O, nil, att)
			for i := range xs[p] {
				xs[p][i] += o[i]
			}
			h2 := r.rmsnorm(xs[p], l.FFNNorm)
			g, u := r.matvec(l.Gate, nil, h2), r.matvec(l.Up, nil, h2)
			for i := range g {
				g[i] = g[i] / (1 + math.Exp(-g[i])) * u[i]
			}
			d := r.matvec(l.Down, nil, g)
			for i := range xs[p] {
				xs[p][i] += d[i]
			}
		}
		layerRMS = append(layerRMS, rms(xs[len(tokens)-1]))
	}
	h := r.rmsnorm(xs[len(tokens)-1], w.OutputNorm)
	return layerRMS, r.matvec(w.Output, nil, h)
}

func meanStd(x []float64) (mean, std float64) {
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	for _, v := range x {
		std += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(std / float64(len(x)))
}

func tinyConfig(t testing.TB, name string) *Config {
	t.Helper()
	c, err := Shape(name)
	if err != nil {
		t.Fatal(err)
	}
	return &c
}

func newTestPCG(seed uint64) *rand.PCG { return rand.NewPCG(seed, 0x5eed) }
