package train

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/arborlabs/arbor/runtime/model"
)

// refParams are a model's tensors in float64, by Tensors name.
type refParams map[string][]float64

func toRef(m *Model) refParams {
	r := refParams{}
	for _, t := range m.Tensors(&m.Config) {
		v := make([]float64, len(t.Data))
		for i, x := range t.Data {
			v[i] = float64(x)
		}
		r[t.Name] = v
	}
	return r
}

// refLoss is the plain float64 forward pass and masked mean cross-entropy that the trainer's
// gradients are checked against: one sequence at a time, positions 0..T-1, every product
// written out (the same math as the cpu backend's reference_test.go).
func refLoss(cfg *model.Config, p refParams, tokens [][]int32, mask [][]float32) float64 {
	var sum, count float64
	for b := range tokens {
		logits := refLogits(cfg, p, tokens[b])
		for t := 0; t+1 < len(tokens[b]); t++ {
			w := weight(mask, b, t+1)
			if w == 0 {
				continue
			}
			row := logits[t]
			mx := math.Inf(-1)
			for _, v := range row {
				mx = math.Max(mx, v)
			}
			se := 0.0
			for _, v := range row {
				se += math.Exp(v - mx)
			}
			sum += w * (mx + math.Log(se) - row[tokens[b][t+1]])
			count += w
		}
	}
	return sum / count
}

func refLogits(cfg *model.Config, p refParams, tokens []int32) [][]float64 {
	linear := func(wt, x []float64, rows int) []float64 {
		cols := len(x)
		out := make([]float64, rows)
		for r := 0; r < rows; r++ {
			s := 0.0
			for c := 0; c < cols; c++ {
				s += wt[r*cols+c] * x[c]
			}
			out[r] = s
		}
		return out
	}
	norm := func(x, wt []float64) []float64 {
		ss := 0.0
		for _, v := range x {
			ss += v * v
		}
		scale := 1 / math.Sqrt(ss/float64(len(x))+float64(cfg.RMSNormEps))
		out := make([]float64, len(x))
		for i, v := range x {
			out[i] = v * scale * wt[i]
		}
		return out
	}
	hd := cfg.HeadDim
	invFreq := cfg.RopeInvFreq()
	rope := func(x []float64, pos int) {
		half := hd / 2
		for i := 0; i < half; i++ {
			c, s := math.Cos(float64(pos)*invFreq[i]), math.Sin(float64(pos)*invFreq[i])
			a, b := x[i], x[i+half]
			x[i] = a*c - b*s
			x[i+half] = a*s + b*c
		}
	}
	T, h := len(tokens), cfg.HiddenSize
	xs := make([][]float64, T)
	for t, id := range tokens {
		xs[t] = append([]float64(nil), p["embed"][int(id)*h:(int(id)+1)*h]...)
	}
	group := cfg.NumHeads / cfg.NumKVHeads
	for li := 0; li < cfg.NumLayers; li++ {
		n := fmt.Sprintf("layer%d.", li)
		qs, ks, vs := make([][]float64, T), make([][]float64, T), make([][]float64, T)
		for t := range xs {
			xn := norm(xs[t], p[n+"attn_norm"])
			qs[t] = linear(p[n+"q"], xn, cfg.NumHeads*hd)
			ks[t] = linear(p[n+"k"], xn, cfg.NumKVHeads*hd)
			vs[t] = linear(p[n+"v"], xn, cfg.NumKVHeads*hd)
			for hh := 0; hh < cfg.NumHeads; hh++ {
				q := qs[t][hh*hd : (hh+1)*hd]
				if cfg.QKNorm {
					copy(q, norm(q, p[n+"q_norm"]))
				}
				rope(q, t)
			}
			for hh := 0; hh < cfg.NumKVHeads; hh++ {
				k := ks[t][hh*hd : (hh+1)*hd]
				if cfg.QKNorm {
					copy(k, norm(k, p[n+"k_norm"]))
				}
				rope(k, t)
			}
		}
		for t := range xs {
			attn := make([]float64, cfg.NumHeads*hd)
			for hh := 0; hh < cfg.NumHeads; hh++ {
				kvh := hh / group
				q := qs[t][hh*hd : (hh+1)*hd]
				scores := make([]float64, t+1)
				m := math.Inf(-1)
				for j := 0; j <= t; j++ {
					s := 0.0
					for d := 0; d < hd; d++ {
						s += q[d] * ks[j][kvh*hd+d]
					}
					scores[j] = s / math.Sqrt(float64(hd))
					m = math.Max(m, scores[j])
				}
				sum := 0.0
				for j := range scores {
					scores[j] = math.Exp(scores[j] - m)
					sum += scores[j]
				}
				for j := 0; j <= t; j++ {
					for d := 0; d < hd; d++ {
						attn[hh*hd+d] += scores[j] / sum * vs[j][kvh*hd+d]
					}
				}
			}
			o := linear(p[n+"o"], attn, h)
			for i := range o {
				xs[t][i] += o[i]
			}
			xn := norm(xs[t], p[n+"ffn_norm"])
			g := linear(p[n+"gate"], xn, cfg.FFNSize)
			u := linear(p[n+"up"], xn, cfg.FFNSize)
			for i := range g {
				g[i] = g[i] / (1 + math.Exp(-g[i])) * u[i]
			}
			d := linear(p[n+"down"], g, h)
			for i := range d {
				xs[t][i] += d[i]
			}
		}
	}
	out := p["output"]
	if out == nil {
		out = p["embed"]
	}
	logits := make([][]float64, T)
	for t := range xs {
		logits[t] = linear(out, norm(xs[t], p["norm"]), cfg.VocabSize)
	}
	return logits
}

// tinyConfig is the gradient checks' shape: GQA (2 query heads on 1 KV head), 2 layers.
func tinyConfig(qkNorm, tied bool) model.Config {
	arch := model.ArchLlama
	if qkNorm {
		arch = model.ArchQwen3
	}
	return model.Config{Arch: arch, VocabSize: 11, HiddenSize: 8, NumLayers: 2, NumHeads: 2, NumKVHeads: 1,
		HeadDim: 4, FFNSize: 12, MaxPositions: 64, RMSNormEps: 1e-5, RopeTheta: 10000, TieEmbeddings: tied,
		QKNorm: qkNorm}
}

// roughModel is NewModel with larger weights (std 0.4, norms 1±0.3), so every nonlinearity
// is away from its linear regime and every gradient is well above rounding.
func roughModel(cfg model.Config, seed uint64) *Model {
	m, err := NewModel(cfg, seed)
	if err != nil {
		panic(err)
	}
	rng := rand.New(rand.NewPCG(seed, 99))
	for _, t := range m.Tensors(&m.Config) {
		for i := range t.Data {
			if len(t.Shape) == 1 {
				t.Data[i] = float32(1 + 0.3*(2*rng.Float64()-1))
			} else {
				t.Data[i] = float32(0.4 * rng.NormFloat64())
			}
		}
	}
	return m
}

func randomBatch(rng *rand.Rand, B, T, vocab int, masked bool) ([][]int32, [][]float32) {
	tokens := make([][]int32, B)
	var mask [][]float32
	if masked {
		mask = make([][]float32, B)
	}
	for b := range tokens {
		tokens[b] = make([]int32, T)
		for t := range tokens[b] {
			tokens[b][t] = int32(rng.IntN(vocab))
		}
		if masked {
			mask[b] = make([]float32, T)
			for t := range mask[b] {
				if t > b+1 { // a "prompt" of b+2 tokens whose targets don't count
					mask[b][t] = 1
				}
			}
		}
	}
	return tokens, mask
}
