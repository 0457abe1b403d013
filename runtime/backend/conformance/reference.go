package conformance

import (
	"math"

	"github.com/arborlabs/arbor/runtime/backend"
	"github.com/arborlabs/arbor/runtime/model"
	"github.com/arborlabs/arbor/runtime/sparse"
)

// refModel is the suite's own reference forward pass: the decoder written out plainly, one
// sequence at a time, with float64 sums over float32 values and the weights dequantized to
// float32 (the model package's decoding, as both backends use). It is the reference for what
// the cpu backend does not do yet or cannot check against itself: the rounding of an f16 KV
// cache, and DELTA sparse attention of a decode token, where a backend's result must match
// an independent computation of the selection (runtime/sparse's PageScores and Pick over this
// pass's probabilities) and of attention over just the picked pages.
type refModel struct {
	cfg     model.Config
	invFreq []float64
	embed   []float32
	out     []float32
	outNorm []float32
	layers  []refLayer
}

type refLayer struct {
	attnNorm, ffnNorm   []float32
	q, k, v, o          []float32
	qBias, kBias, vBias []float32
	qNorm, kNorm        []float32
	gate, up, down      []float32
}

func f32s(t *model.Tensor) []float32 {
	if t == nil {
		return nil
	}
	return t.Float32s()
}

func newRefModel(m *model.Model) *refModel {
	cfg := m.Config
	w := &m.Weights
	r := &refModel{cfg: cfg, invFreq: cfg.RopeInvFreq(), embed: f32s(w.TokenEmbed), outNorm: f32s(w.OutputNorm)}
	r.out = r.embed
	if w.Output != nil && w.Output != w.TokenEmbed {
		r.out = f32s(w.Output)
	}
	for i := range w.Layers {
		lw := &w.Layers[i]
		r.layers = append(r.layers, refLayer{
			attnNorm: f32s(lw.AttnNorm), ffnNorm: f32s(lw.FFNNorm),
			q: f32s(lw.Q), k: f32s(lw.K), v: f32s(lw.V), o: f32s(lw.O),
			qBias: f32s(lw.QBias), kBias: f32s(lw.KBias), vBias: f32s(lw.VBias),
			qNorm: f32s(lw.QNorm), kNorm: f32s(lw.KNorm),
			gate: f32s(lw.Gate), up: f32s(lw.Up), down: f32s(lw.Down),
		})
	}
	return r
}

// refLinear is w [len(out), len(in)] times in, plus bias when there is one.
func refLinear(out, in, w, bias []float32) {
	n := len(in)
	for o := range out {
		var s float64
		for i, v := range in {
			s += float64(w[o*n+i]) * float64(v)
		}
		if bias != nil {
			s += float64(bias[o])
		}
		out[o] = float32(s)
	}
}

func refNorm(x, w []float32, eps float32) []float32 {
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	scale := 1 / math.Sqrt(ss/float64(len(x))+float64(eps))
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(float64(v) * scale * float64(w[i]))
	}
	return out
}

// roundKV is what a KV cache of type kt holds for v: v itself in f32, the nearest binary16
// (ties to even) in f16.
func roundKV(v []float32, kt backend.KVType) {
	if kt != backend.KVF16 {
		return
	}
	for i, x := range v {
		v[i] = model.F16ToF32(model.F32ToF16(x))
	}
}

// refResult is the reference's answer for a sequence's last token.
type refResult struct {
	logits            []float32
	attended, context int
}

// run computes the logits of the last of tokens (at positions) with a KV cache of type kt.
// With sp set and active for the sequence, the last token attends as a DELTA decode token
// (every other token fully: they stand for a prefill), its select layers picking pages and
// its sparse layers reading only those, or the pages of forced when that is set.
func (r *refModel) run(tokens, positions []int32, kt backend.KVType, sp *sparse.Config, forced []int32,
	pageSize int) refResult {
	cfg := &r.cfg
	N, h, hd := len(tokens), cfg.HiddenSize, cfg.HeadDim
	nh, nkv := cfg.NumHeads, cfg.NumKVHeads
	group, half := nh/nkv, hd/2
	qDim, kvDim := nh*hd, nkv*hd
	last := N - 1
	active := sp != nil && sp.Active(N, pageSize)
	pages := (N + pageSize - 1) / pageSize
	picked := make([]bool, pages)
	if active && forced != nil {
		for _, p := range forced {
			picked[p] = true
		}
	}
	visible := func(q, k int) bool {
		return k <= q && (cfg.SlidingWindow <= 0 || k > q-cfg.SlidingWindow)
	}
	res := refResult{}
	for s := 0; s <= last; s++ {
		if visible(last, s) {
			res.context++
		}
	}
	act := make([][]float32, N)
	for t, id := range tokens {
		act[t] = append([]float32(nil), r.embed[int(id)*h:(int(id)+1)*h]...)
	}
	attendedSum := 0
	for li := range r.layers {
		l := &r.layers[li]
		mode := sparse.Full
		if active {
			mode = sp.Layers[li]
		}
		q, k, v := make([][]float32, N), make([][]float32, N), make([][]float32, N)
		for t := range N {
			xn := refNorm(act[t], l.attnNorm, cfg.RMSNormEps)
			q[t], k[t], v[t] = make([]float32, qDim), make([]float32, kvDim), make([]float32, kvDim)
			refLinear(q[t], xn, l.q, l.qBias)
			refLinear(k[t], xn, l.k, l.kBias)
			refLinear(v[t], xn, l.v, l.vBias)
			for _, hv := range []struct {
				x     []float32
				heads int
				norm  []float32
			}{{q[t], nh, l.qNorm}, {k[t], nkv, l.kNorm}} {
				for hh := range hv.heads {
					x := hv.x[hh*hd : (hh+1)*hd]
					if hv.norm != nil {
						copy(x, refNorm(x, hv.norm, cfg.RMSNormEps))
					}
					for j := range half {
						sn, c := math.Sincos(float64(positions[t]) * r.invFreq[j])
						a, b := float64(x[j]), float64(x[j+half])
						x[j], x[j+half] = float32(a*c-b*sn), float32(a*sn+b*c)
					}
				}
			}
			roundKV(k[t], kt)
			roundKV(v[t], kt)
		}
		att := make([][]float32, N)
		for t := range N {
			att[t] = make([]float32, qDim)
			seen := func(s int) bool { return visible(t, s) }
			if t == last && mode == sparse.Sparse {
				seen = func(s int) bool { return visible(t, s) && picked[s/pageSize] }
			}
			probs := make([][]float64, nh)
			for hh := range nh {
				g := hh / group
				scores := make([]float64, t+1)
				best := math.Inf(-1)
				for s := 0; s <= t; s++ {
					if !seen(s) {
						continue
					}
					var d float64
					for j := range hd {
						d += float64(q[t][hh*hd+j]) * float64(k[s][g*hd+j])
					}
					scores[s] = d / math.Sqrt(float64(hd))
					best = max(best, scores[s])
				}
				var sum float64
				for s := 0; s <= t; s++ {
					if seen(s) {
						scores[s] = math.Exp(scores[s] - best)
						sum += scores[s]
					} else {
						scores[s] = 0
					}
				}
				for s := 0; s <= t; s++ {
					scores[s] /= sum
					for j := range hd {
						att[t][hh*hd+j] += float32(scores[s] * float64(v[s][g*hd+j]))
					}
				}
				probs[hh] = scores
			}
			if t != last {
				continue
			}
			n := 0
			for s := 0; s <= t; s++ {
				if seen(s) {
					n++
				}
			}
			attendedSum += n
			if mode == sparse.Select && forced == nil {
				// The largest probability over heads, then runtime/sparse's page scores
				// and pick: the selection every backend must reproduce.
				best := make([]float32, N)
				for s := range N {
					for hh := range nh {
						best[s] = max(best[s], float32(probs[hh][s]))
					}
				}
				scores := make([]float32, pages)
				sparse.PageScores(best, 1, N, N, pageSize, scores)
				clear(picked)
				for _, p := range sp.Pick(scores, pages, nil) {
					picked[p] = true
				}
			}
		}
		for t := range N {
			o := make([]float32, h)
			refLinear(o, att[t], l.o, nil)
			for i := range o {
				act[t][i] += o[i]
			}
			xn := refNorm(act[t], l.ffnNorm, cfg.RMSNormEps)
			gate, up := make([]float32, cfg.FFNSize), make([]float32, cfg.FFNSize)
			refLinear(gate, xn, l.gate, nil)
			refLinear(up, xn, l.up, nil)
			for i, gv := range gate {
				gate[i] = float32(float64(gv) / (1 + math.Exp(-float64(gv))) * float64(up[i]))
			}
			down := make([]float32, h)
			refLinear(down, gate, l.down, nil)
			for i := range down {
				act[t][i] += down[i]
			}
		}
	}
	res.attended = res.context
	if active {
		res.attended = int(math.Round(float64(attendedSum) / float64(len(r.layers))))
	}
	xn := refNorm(act[last], r.outNorm, cfg.RMSNormEps)
	res.logits = make([]float32, cfg.VocabSize)
	refLinear(res.logits, xn, r.out, nil)
	return res
}
