package cpu

import (
	"math"

	"github.com/arborlabs/arbor/runtime/model"
)

// refForward is the plain, obviously-correct forward pass the backend is checked against: one
// contiguous sequence, every weight dequantized to float64, attention recomputed from scratch
// over all earlier tokens, no pages, no threads, no buffers. It returns the logits of every
// token. positions are the RoPE positions of the tokens (after pruning they may have gaps).
func refForward(cfg *model.Config, w *model.Weights, tokens, positions []int32) [][]float64 {
	return refForwardMasked(cfg, w, tokens, positions, nil)
}

// refForwardMasked is refForward where, if allow is set, token t of layer li attends only to
// the earlier tokens j with allow(li, t, j): sparse attention's reference.
func refForwardMasked(cfg *model.Config, w *model.Weights, tokens, positions []int32, allow func(li, t, j int) bool) [][]float64 {
	f64 := func(t *model.Tensor) []float64 {
		if t == nil {
			return nil
		}
		v := t.Float32s()
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = float64(x)
		}
		return out
	}
	linear := func(wt []float64, bias []float64, x []float64, rows int) []float64 {
		cols := len(x)
		out := make([]float64, rows)
		for r := 0; r < rows; r++ {
			s := 0.0
			for c := 0; c < cols; c++ {
				s += wt[r*cols+c] * x[c]
			}
			if bias != nil {
				s += bias[r]
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
	rope := func(x []float64, pos int32) {
		half := hd / 2
		for i := 0; i < half; i++ {
			ang := float64(pos) * invFreq[i]
			c, s := math.Cos(ang), math.Sin(ang)
			a, b := x[i], x[i+half]
			x[i] = a*c - b*s
			x[i+half] = a*s + b*c
		}
	}

	T := len(tokens)
	h := cfg.HiddenSize
	embed := f64(w.TokenEmbed)
	xs := make([][]float64, T)
	for t, id := range tokens {
		xs[t] = append([]float64(nil), embed[int(id)*h:(int(id)+1)*h]...)
	}
	group := cfg.NumHeads / cfg.NumKVHeads
	for li := range w.Layers {
		lw := &w.Layers[li]
		wq, wk, wv, wo := f64(lw.Q), f64(lw.K), f64(lw.V), f64(lw.O)
		bq, bk, bv := f64(lw.QBias), f64(lw.KBias), f64(lw.VBias)
		qn, kn := f64(lw.QNorm), f64(lw.KNorm)
		an, fn := f64(lw.AttnNorm), f64(lw.FFNNorm)
		wg, wu, wd := f64(lw.Gate), f64(lw.Up), f64(lw.Down)
		qs := make([][]float64, T)
		ks := make([][]float64, T)
		vs := make([][]float64, T)
		for t := range xs {
			xn := norm(xs[t], an)
			qs[t] = linear(wq, bq, xn, cfg.NumHeads*hd)
			ks[t] = linear(wk, bk, xn, cfg.NumKVHeads*hd)
			vs[t] = linear(wv, bv, xn, cfg.NumKVHeads*hd)
			for hh := 0; hh < cfg.NumHeads; hh++ {
				q := qs[t][hh*hd : (hh+1)*hd]
				if qn != nil {
					copy(q, norm(q, qn))
				}
				rope(q, positions[t])
			}
			for hh := 0; hh < cfg.NumKVHeads; hh++ {
				k := ks[t][hh*hd : (hh+1)*hd]
				if kn != nil {
					copy(k, norm(k, kn))
				}
				rope(k, positions[t])
			}
		}
		for t := range xs {
			attn := make([]float64, cfg.NumHeads*hd)
			first := 0
			if cfg.SlidingWindow > 0 && t-cfg.SlidingWindow+1 > 0 {
				first = t - cfg.SlidingWindow + 1
			}
			for hh := 0; hh < cfg.NumHeads; hh++ {
				kvh := hh / group
				q := qs[t][hh*hd : (hh+1)*hd]
				scores := make([]float64, t+1-first)
				m := math.Inf(-1)
				for j := first; j <= t; j++ {
					if allow != nil && !allow(li, t, j) {
						scores[j-first] = math.Inf(-1)
						continue
					}
					s := 0.0
					for d := 0; d < hd; d++ {
						s += q[d] * ks[j][kvh*hd+d]
					}
					s /= math.Sqrt(float64(hd))
					scores[j-first] = s
					m = math.Max(m, s)
				}
				sum := 0.0
				for j := range scores {
					scores[j] = math.Exp(scores[j] - m)
					sum += scores[j]
				}
				for j := first; j <= t; j++ {
					p := scores[j-first] / sum
					for d := 0; d < hd; d++ {
						attn[hh*hd+d] += p * vs[j][kvh*hd+d]
					}
				}
			}
			o := linear(wo, nil, attn, h)
			for i := range o {
				xs[t][i] += o[i]
			}
			xn := norm(xs[t], fn)
			g := linear(wg, nil, xn, cfg.FFNSize)
			u := linear(wu, nil, xn, cfg.FFNSize)
			for i := range g {
				g[i] = g[i] / (1 + math.Exp(-g[i])) * u[i]
			}
			d := linear(wd, nil, g, h)
			for i := range d {
				xs[t][i] += d[i]
			}
		}
	}
	outW := w.Output
	if outW == nil {
		outW = w.TokenEmbed
	}
	wout := f64(outW)
	on := f64(w.OutputNorm)
	logits := make([][]float64, T)
	for t := range xs {
		logits[t] = linear(wout, nil, norm(xs[t], on), cfg.VocabSize)
	}
	return logits
}
