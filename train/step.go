package train

import (
	"fmt"
	"math"

	"github.com/arborlabs/arbor/runtime/backend/cpu"
)

// layerActs are the activations of one layer that its backward pass reads.
type layerActs struct {
	xIn    []float32 // [N,H] the residual stream entering the layer
	r1     []float32 // [N] 1/rms of xIn
	xn     []float32 // [N,H] attn_norm(xIn)
	qRaw   []float32 // [N,qD] Q projection (before the Q norm); only with QKNorm
	kRaw   []float32 // [N,kvD]
	qRinv  []float32 // [N*heads] 1/rms of each Q head; only with QKNorm
	kRinv  []float32 // [N*kvHeads]
	qr, kr []float32 // [N,qD], [N,kvD] queries and keys after norm and RoPE
	v      []float32 // [N,kvD]
	p      []float32 // [B*heads*T*T] attention probabilities (zero above the diagonal)
	o      []float32 // [N,qD] attention output, the input of O
	xMid   []float32 // [N,H] the residual stream after attention
	r2     []float32 // [N]
	xn2    []float32 // [N,H] ffn_norm(xMid)
	g, u   []float32 // [N,F] gate and up projections
	s      []float32 // [N,F] sigmoid(g)
	a      []float32 // [N,F] silu(g)*u, the input of Down
}

// workspace holds every buffer of a step for one batch shape, reused from step to step.
type workspace struct {
	B, T   int
	pool   *pool
	wt     Params // transposed weights: [in, out] for each matrix, [hidden, vocab] for the output
	cos    []float32
	sin    []float32 // [T, head_dim/2]
	tokens []int32   // [N]
	// start is, for each token, the index in its row where its document begins: 0 unless the
	// model masks documents (Model.MaskDocuments). Positions count from it, and attention
	// looks no further back.
	start  []int32 // [N]
	layers []layerActs
	xOut   []float32 // [N,H] the residual stream after the last layer
	rF     []float32 // [N]
	xf     []float32 // [N,H] the final norm's output
	logits []float32 // [N,V], then its gradient

	// Backward scratch.
	dx, dxn    []float32 // [N,H]
	dq, do     []float32 // [N,qD]
	dk, dv     []float32 // [N,kvD]
	da, dg, du []float32 // [N,F]
	normGrad   [][]float32
	attn       []attnScratch // per worker
}

type attnScratch struct {
	kT, vT []float32 // [head_dim, T]
	dP     []float32 // [T, T]
}

func (m *Model) workspace(B, T int) *workspace {
	if ws := m.ws; ws != nil && ws.B == B && ws.T == T {
		return ws
	}
	cfg := &m.Config
	N, H, F, V := B*T, cfg.HiddenSize, cfg.FFNSize, cfg.VocabSize
	qD, kvD, hd := cfg.NumHeads*cfg.HeadDim, cfg.NumKVHeads*cfg.HeadDim, cfg.HeadDim
	ws := &workspace{B: B, T: T, pool: newPool(0), wt: newParams(cfg)}
	if ws.wt.Output == nil {
		ws.wt.Output = make([]float32, V*H)
	}
	f := func(n int) []float32 { return make([]float32, n) }
	ws.cos, ws.sin = f(T*hd/2), f(T*hd/2)
	inv := cfg.RopeInvFreq()
	for t := 0; t < T; t++ {
		for j := 0; j < hd/2; j++ {
			sn, cs := math.Sincos(float64(t) * inv[j])
			ws.cos[t*hd/2+j], ws.sin[t*hd/2+j] = float32(cs), float32(sn)
		}
	}
	ws.tokens, ws.start = make([]int32, N), make([]int32, N)
	ws.layers = make([]layerActs, cfg.NumLayers)
	for i := range ws.layers {
		la := &ws.layers[i]
		la.xIn, la.r1, la.xn = f(N*H), f(N), f(N*H)
		if cfg.QKNorm {
			la.qRaw, la.kRaw = f(N*qD), f(N*kvD)
			la.qRinv, la.kRinv = f(N*cfg.NumHeads), f(N*cfg.NumKVHeads)
		}
		la.qr, la.kr, la.v = f(N*qD), f(N*kvD), f(N*kvD)
		la.p, la.o = f(B*cfg.NumHeads*T*T), f(N*qD)
		la.xMid, la.r2, la.xn2 = f(N*H), f(N), f(N*H)
		la.g, la.u, la.s, la.a = f(N*F), f(N*F), f(N*F), f(N*F)
	}
	ws.xOut, ws.rF, ws.xf, ws.logits = f(N*H), f(N), f(N*H), f(N*V)
	ws.dx, ws.dxn = f(N*H), f(N*H)
	ws.dq, ws.do = f(N*qD), f(N*qD)
	ws.dk, ws.dv = f(N*kvD), f(N*kvD)
	ws.da, ws.dg, ws.du = f(N*F), f(N*F), f(N*F)
	ws.normGrad = make([][]float32, ws.pool.workers)
	ws.attn = make([]attnScratch, ws.pool.workers)
	for w := range ws.attn {
		ws.normGrad[w] = f(max(H, 2*hd))
		ws.attn[w] = attnScratch{kT: f(hd * T), vT: f(hd * T), dP: f(T * T)}
	}
	m.ws = ws
	return ws
}

// refreshTransposed copies the weights, transposed, into ws.wt: the forward products read
// W^T row by row.
func (m *Model) refreshTransposed(ws *workspace) {
	cfg := &m.Config
	H, F, V := cfg.HiddenSize, cfg.FFNSize, cfg.VocabSize
	qD, kvD := cfg.NumHeads*cfg.HeadDim, cfg.NumKVHeads*cfg.HeadDim
	tr := func(dst, src []float32, rows, cols int) { ws.transpose(dst, rows, src, cols, rows, cols) }
	for i := range m.Layers {
		l, t := &m.Layers[i], &ws.wt.Layers[i]
		tr(t.Q, l.Q, qD, H)
		tr(t.K, l.K, kvD, H)
		tr(t.V, l.V, kvD, H)
		tr(t.O, l.O, H, qD)
		tr(t.Gate, l.Gate, F, H)
		tr(t.Up, l.Up, F, H)
		tr(t.Down, l.Down, H, F)
	}
	out := m.Output
	if out == nil {
		out = m.Embed
	}
	tr(ws.wt.Output, out, V, H)
}

// transpose is the package transpose with src's rows split across the workers.
func (ws *workspace) transpose(dst []float32, ldd int, src []float32, lds int, rows, cols int) {
	ws.pool.run(rows, 32, func(_, lo, hi int) {
		transpose(dst[lo:], ldd, src[lo*lds:], lds, hi-lo, cols)
	})
}

// linear computes Y[N,out] = X[N,in] · W^T, wT being W transposed ([in,out]).
func (ws *workspace) linear(y, x, wT []float32, n, in, out int) {
	clear(y[:n*out])
	ws.pool.gemm(n, out, in, x, in, wT, out, y, out)
}

// weightGrad accumulates dW[out,in] += dY[N,out]^T · X[N,in].
func (ws *workspace) weightGrad(dW, dy, x []float32, n, in, out int) {
	ws.pool.gemmT(out, in, n, dy, out, x, in, dW, in)
}

// rmsNormBack adds to dx the gradient of y = cpu.RMSNorm(x, w) given dy (r the forward's scale),
// and to dw the gradient of w. dx may alias dy.
func rmsNormBack(dx, dy, x, w []float32, r float32, dw []float32) {
	n := len(x)
	dy, w, dw, dx = dy[:n], w[:n], dw[:n], dx[:n]
	var dot float64
	for i, v := range x {
		dw[i] += dy[i] * v * r
		dot += float64(dy[i] * w[i] * v)
	}
	c := float32(float64(r) * float64(r) * float64(r) * dot / float64(n))
	for i, v := range x {
		dx[i] += r*dy[i]*w[i] - c*v
	}
}

// rope rotates the pairs (x[i], x[i+half]) by the angles in cos/sin: the rotate-half RoPE of
// the cpu backend.
func rope(x, cos, sin []float32) {
	half := len(cos)
	lo, hi := x[:half], x[half:2*half]
	for i := 0; i < half; i++ {
		a, b := lo[i], hi[i]
		lo[i] = a*cos[i] - b*sin[i]
		hi[i] = a*sin[i] + b*cos[i]
	}
}

// ropeBack turns the gradient of rope's output into that of its input, in place (the inverse
// rotation).
func ropeBack(dx, cos, sin []float32) {
	half := len(cos)
	lo, hi := dx[:half], dx[half:2*half]
	for i := 0; i < half; i++ {
		a, b := lo[i], hi[i]
		lo[i] = a*cos[i] + b*sin[i]
		hi[i] = -a*sin[i] + b*cos[i]
	}
}

func sigmoid(x float32) float32 { return 1 / (1 + expf(-x)) }

// checkBatch validates tokens and mask and returns B and T.
func (m *Model) checkBatch(tokens [][]int32, mask [][]float32) (int, int, error) {
	B := len(tokens)
	if B == 0 {
		return 0, 0, fmt.Errorf("train: empty batch")
	}
	T := len(tokens[0])
	if T < 2 {
		return 0, 0, fmt.Errorf("train: sequences of %d tokens (want at least 2)", T)
	}
	if mask != nil && len(mask) != B {
		return 0, 0, fmt.Errorf("train: %d mask rows for %d sequences", len(mask), B)
	}
	for b, row := range tokens {
		if len(row) != T {
			return 0, 0, fmt.Errorf("train: sequence %d has %d tokens, sequence 0 has %d", b, len(row), T)
		}
		if mask != nil && len(mask[b]) != T {
			return 0, 0, fmt.Errorf("train: mask row %d has %d entries for %d tokens", b, len(mask[b]), T)
		}
		for t, id := range row {
			if id < 0 || int(id) >= m.Config.VocabSize {
				return 0, 0, fmt.Errorf("train: token %d of sequence %d is %d, outside the vocabulary of %d",
					t, b, id, m.Config.VocabSize)
			}
		}
	}
	return B, T, nil
}

// Logits runs the forward pass over B sequences of T tokens and returns the logits of every
// position, [B*T][vocab] flattened (a view of a buffer the next call reuses).
func (m *Model) Logits(tokens [][]int32) ([]float32, error) {
	B, T, err := m.checkBatch(tokens, nil)
	if err != nil {
		return nil, err
	}
	ws := m.workspace(B, T)
	m.forward(ws, tokens)
	return ws.logits[:B*T*m.Config.VocabSize], nil
}

// forward runs the model over the batch, keeping the activations in ws; it ends with the
// logits in ws.logits.
func (m *Model) forward(ws *workspace, tokens [][]int32) {
	cfg := &m.Config
	B, T := ws.B, ws.T
	N, H, F, V := B*T, cfg.HiddenSize, cfg.FFNSize, cfg.VocabSize
	nh, nkv, hd := cfg.NumHeads, cfg.NumKVHeads, cfg.HeadDim
	qD, kvD, half := nh*hd, nkv*hd, hd/2
	eps := cfg.RMSNormEps
	m.refreshTransposed(ws)
	for b, row := range tokens {
		copy(ws.tokens[b*T:], row)
		m.DocumentStarts(row, ws.start[b*T:(b+1)*T])
	}
	x := ws.layers[0].xIn
	if len(ws.layers) == 0 {
		x = ws.xOut
	}
	for n, id := range ws.tokens {
		copy(x[n*H:(n+1)*H], m.Embed[int(id)*H:(int(id)+1)*H])
	}
	scale := float32(1 / math.Sqrt(float64(hd)))
	for li := range m.Layers {
		l, wt, la := &m.Layers[li], &ws.wt.Layers[li], &ws.layers[li]
		ws.pool.run(N, 16, func(_, lo, hi int) {
			for n := lo; n < hi; n++ {
				la.r1[n] = cpu.RMSNorm(la.xn[n*H:(n+1)*H], la.xIn[n*H:(n+1)*H], l.AttnNorm, eps)
			}
		})
		ws.linear(la.qr, la.xn, wt.Q, N, H, qD)
		ws.linear(la.kr, la.xn, wt.K, N, H, kvD)
		ws.linear(la.v, la.xn, wt.V, N, H, kvD)
		if cfg.QKNorm {
			copy(la.qRaw, la.qr)
			copy(la.kRaw, la.kr)
		}
		ws.pool.run(N, 16, func(_, lo, hi int) {
			for n := lo; n < hi; n++ {
				t := n%T - int(ws.start[n])
				cs, sn := ws.cos[t*half:(t+1)*half], ws.sin[t*half:(t+1)*half]
				for h := 0; h < nh; h++ {
					q := la.qr[n*qD+h*hd : n*qD+(h+1)*hd]
					if cfg.QKNorm {
						la.qRinv[n*nh+h] = cpu.RMSNorm(q, q, l.QNorm, eps)
					}
					rope(q, cs, sn)
				}
				for h := 0; h < nkv; h++ {
					k := la.kr[n*kvD+h*hd : n*kvD+(h+1)*hd]
					if cfg.QKNorm {
						la.kRinv[n*nkv+h] = cpu.RMSNorm(k, k, l.KNorm, eps)
					}
					rope(k, cs, sn)
				}
			}
		})
		clear(la.o)
		ws.pool.run(B*nkv, 1, func(w, lo, hi int) {
			sc := &ws.attn[w]
			for task := lo; task < hi; task++ {
				m.attendForward(ws, la, sc, task/nkv, task%nkv, scale)
			}
		})
		xMid := la.xMid
		copy(xMid, la.xIn)
		ws.pool.gemm(N, H, qD, la.o, qD, wt.O, H, xMid, H)
		ws.pool.run(N, 16, func(_, lo, hi int) {
			for n := lo; n < hi; n++ {
				la.r2[n] = cpu.RMSNorm(la.xn2[n*H:(n+1)*H], xMid[n*H:(n+1)*H], l.FFNNorm, eps)
			}
		})
		ws.linear(la.g, la.xn2, wt.Gate, N, H, F)
		ws.linear(la.u, la.xn2, wt.Up, N, H, F)
		ws.pool.run(N*F, 1024, func(_, lo, hi int) {
			g, u, sg, a := la.g[lo:hi], la.u[lo:hi], la.s[lo:hi], la.a[lo:hi]
			for i, gv := range g {
				s := sigmoid(gv)
				sg[i] = s
				a[i] = gv * s * u[i]
			}
		})
		out := ws.xOut
		if li+1 < len(ws.layers) {
			out = ws.layers[li+1].xIn
		}
		copy(out, xMid)
		ws.pool.gemm(N, H, F, la.a, F, wt.Down, H, out, H)
	}
	ws.pool.run(N, 16, func(_, lo, hi int) {
		for n := lo; n < hi; n++ {
			ws.rF[n] = cpu.RMSNorm(ws.xf[n*H:(n+1)*H], ws.xOut[n*H:(n+1)*H], m.Norm, eps)
		}
	})
	ws.linear(ws.logits, ws.xf, ws.wt.Output, N, H, V)
}

// attendForward is causal attention for sequence b and the query heads of KV head kvh.
func (m *Model) attendForward(ws *workspace, la *layerActs, sc *attnScratch, b, kvh int, scale float32) {
	cfg := &m.Config
	T, nh, hd := ws.T, cfg.NumHeads, cfg.HeadDim
	qD, kvD := nh*hd, cfg.NumKVHeads*hd
	group := nh / cfg.NumKVHeads
	kOff := b*T*kvD + kvh*hd
	transpose(sc.kT, T, la.kr[kOff:], kvD, T, hd)
	for h := kvh * group; h < (kvh+1)*group; h++ {
		qOff := b*T*qD + h*hd
		p := la.p[(b*nh+h)*T*T : (b*nh+h+1)*T*T]
		clear(p)
		// Causal: queries [i0,i1) see keys [0,i1) only.
		for i0 := 0; i0 < T; i0 += attnBlock {
			i1 := min(T, i0+attnBlock)
			gemm(i1-i0, i1, hd, la.qr[qOff+i0*qD:], qD, sc.kT, T, p[i0*T:], T)
		}
		for i := 0; i < T; i++ {
			// Keys [j0, i]: j0 is the query's document start (0 without document masking). The
			// probabilities outside are zero, so the backward pass needs no mask of its own.
			row, j0 := p[i*T:(i+1)*T], int(ws.start[b*T+i])
			mx := float32(math.Inf(-1))
			for j := j0; j <= i; j++ {
				row[j] *= scale
				mx = max(mx, row[j])
			}
			var sum float32
			for j := j0; j <= i; j++ {
				e := expf(row[j] - mx)
				row[j] = e
				sum += e
			}
			inv := 1 / sum
			for j := j0; j <= i; j++ {
				row[j] *= inv
			}
			clear(row[:j0])
			clear(row[i+1:])
		}
		for i0 := 0; i0 < T; i0 += attnBlock {
			i1 := min(T, i0+attnBlock)
			gemm(i1-i0, hd, i1, p[i0*T:], T, la.v[kOff:], kvD, la.o[qOff+i0*qD:], qD)
		}
	}
}

// attnBlock is the number of queries whose causal attention products are computed together:
// a block skips the keys after its last query.
const attnBlock = 48

// Step runs forward and backward over B sequences of T tokens (every row the same length, at
// least 2) and adds to grads the gradient of the mean loss. The loss is the cross-entropy of
// predicting tokens[b][t] from the tokens before it, for t ≥ 1, weighted by mask[b][t] (so
// mask is aligned with tokens: 1 on the tokens to learn, 0 on the prompt and tool results;
// mask[b][0] is unused). A nil mask weighs every target 1. It returns the mean loss and the
// sum of the weights (the number of tokens counted); with no weight the loss is 0 and grads
// are untouched.
//
// To accumulate several calls into one update, scale grads (Grads.Scale) as the mean wants.
func (m *Model) Step(tokens [][]int32, mask [][]float32, grads *Grads) (loss float64, tokensCounted int, err error) {
	B, T, err := m.checkBatch(tokens, mask)
	if err != nil {
		return 0, 0, err
	}
	if grads == nil || len(grads.Layers) != len(m.Layers) || len(grads.Embed) != len(m.Embed) {
		return 0, 0, fmt.Errorf("train: grads do not match the model (use NewGrads)")
	}
	ws := m.workspace(B, T)
	m.forward(ws, tokens)
	var count float64
	for b := range tokens {
		for t := 1; t < T; t++ {
			count += weight(mask, b, t)
		}
	}
	if count == 0 {
		return 0, 0, nil
	}
	loss = m.lossGrad(ws, tokens, mask, count)
	m.backward(ws, grads)
	return loss, int(math.Round(count)), nil
}

func weight(mask [][]float32, b, t int) float64 {
	if mask == nil {
		return 1
	}
	return float64(mask[b][t])
}

// lossGrad turns ws.logits into the gradient of the mean loss and returns the loss.
func (m *Model) lossGrad(ws *workspace, tokens [][]int32, mask [][]float32, count float64) float64 {
	B, T, V := ws.B, ws.T, m.Config.VocabSize
	partial := make([]float64, ws.pool.workers)
	ws.pool.run(B*T, 8, func(w, lo, hi int) {
		var sum float64
		for n := lo; n < hi; n++ {
			b, t := n/T, n%T
			row := ws.logits[n*V : (n+1)*V]
			wt := 0.0
			if t+1 < T {
				wt = weight(mask, b, t+1)
			}
			if wt == 0 {
				clear(row)
				continue
			}
			mx := row[0]
			for _, v := range row {
				mx = max(mx, v)
			}
			target := int(tokens[b][t+1])
			lt := row[target]
			var se float64
			for j, v := range row {
				e := expf(v - mx)
				row[j] = e
				se += float64(e)
			}
			sum += wt * (float64(mx) + math.Log(se) - float64(lt))
			g := wt / count
			f := float32(g / se)
			for j := range row {
				row[j] *= f
			}
			row[target] -= float32(g)
		}
		partial[w] = sum
	})
	var loss float64
	for _, s := range partial {
		loss += s
	}
	return loss / count
}

// normGrads adds the workers' partial norm gradients to dw and clears them.
func (ws *workspace) normGrads(dw []float32) {
	for _, p := range ws.normGrad {
		for i := range dw {
			dw[i] += p[i]
		}
		clear(p)
	}
}

// backward propagates ws.logits (the loss gradient) back through the model.
func (m *Model) backward(ws *workspace, g *Grads) {
	cfg := &m.Config
	B, T := ws.B, ws.T
	N, H, F, V := B*T, cfg.HiddenSize, cfg.FFNSize, cfg.VocabSize
	nh, nkv, hd := cfg.NumHeads, cfg.NumKVHeads, cfg.HeadDim
	qD, kvD, half := nh*hd, nkv*hd, hd/2
	for _, p := range ws.normGrad {
		clear(p)
	}
	// Output layer and final norm.
	out, gOut := m.Output, g.Output
	if out == nil {
		out, gOut = m.Embed, g.Embed
	}
	ws.weightGrad(gOut, ws.logits, ws.xf, N, H, V)
	dxf := ws.dxn
	clear(dxf)
	ws.pool.gemm(N, H, V, ws.logits, V, out, H, dxf, H)
	dx := ws.dx
	clear(dx)
	ws.pool.run(N, 16, func(w, lo, hi int) {
		for n := lo; n < hi; n++ {
			rmsNormBack(dx[n*H:(n+1)*H], dxf[n*H:(n+1)*H], ws.xOut[n*H:(n+1)*H], m.Norm, ws.rF[n], ws.normGrad[w])
		}
	})
	ws.normGrads(g.Norm)
	scale := float32(1 / math.Sqrt(float64(hd)))
	for li := len(m.Layers) - 1; li >= 0; li-- {
		l, gl, la := &m.Layers[li], &g.Layers[li], &ws.layers[li]
		// MLP: dx is the gradient of the layer's output.
		ws.weightGrad(gl.Down, dx, la.a, N, F, H)
		clear(ws.da)
		ws.pool.gemm(N, F, H, dx, H, l.Down, F, ws.da, F)
		ws.pool.run(N*F, 1024, func(_, lo, hi int) {
			for i := lo; i < hi; i++ {
				gv, s := la.g[i], la.s[i]
				d := ws.da[i]
				ws.du[i] = d * gv * s
				ws.dg[i] = d * la.u[i] * s * (1 + gv*(1-s))
			}
		})
		ws.weightGrad(gl.Gate, ws.dg, la.xn2, N, H, F)
		ws.weightGrad(gl.Up, ws.du, la.xn2, N, H, F)
		clear(ws.dxn)
		ws.pool.gemm(N, H, F, ws.dg, F, l.Gate, H, ws.dxn, H)
		ws.pool.gemm(N, H, F, ws.du, F, l.Up, H, ws.dxn, H)
		ws.pool.run(N, 16, func(w, lo, hi int) {
			for n := lo; n < hi; n++ {
				rmsNormBack(dx[n*H:(n+1)*H], ws.dxn[n*H:(n+1)*H], la.xMid[n*H:(n+1)*H], l.FFNNorm, la.r2[n],
					ws.normGrad[w])
			}
		})
		ws.normGrads(gl.FFNNorm)
		// Attention: dx is now the gradient of xMid.
		ws.weightGrad(gl.O, dx, la.o, N, qD, H)
		clear(ws.do)
		ws.pool.gemm(N, qD, H, dx, H, l.O, qD, ws.do, qD)
		clear(ws.dq)
		clear(ws.dk)
		clear(ws.dv)
		ws.pool.run(B*nkv, 1, func(w, lo, hi int) {
			sc := &ws.attn[w]
			for task := lo; task < hi; task++ {
				m.attendBackward(ws, la, sc, task/nkv, task%nkv, scale)
			}
		})
		ws.pool.run(N, 16, func(w, lo, hi int) {
			ng := ws.normGrad[w]
			for n := lo; n < hi; n++ {
				t := n%T - int(ws.start[n])
				cs, sn := ws.cos[t*half:(t+1)*half], ws.sin[t*half:(t+1)*half]
				for h := 0; h < nh; h++ {
					dq := ws.dq[n*qD+h*hd : n*qD+(h+1)*hd]
					ropeBack(dq, cs, sn)
					if cfg.QKNorm {
						rmsNormBackInPlace(dq, la.qRaw[n*qD+h*hd:n*qD+(h+1)*hd], l.QNorm, la.qRinv[n*nh+h], ng[:hd])
					}
				}
				for h := 0; h < nkv; h++ {
					dk := ws.dk[n*kvD+h*hd : n*kvD+(h+1)*hd]
					ropeBack(dk, cs, sn)
					if cfg.QKNorm {
						rmsNormBackInPlace(dk, la.kRaw[n*kvD+h*hd:n*kvD+(h+1)*hd], l.KNorm, la.kRinv[n*nkv+h],
							ng[hd:2*hd])
					}
				}
			}
		})
		if cfg.QKNorm {
			for _, p := range ws.normGrad {
				for i := 0; i < hd; i++ {
					gl.QNorm[i] += p[i]
					gl.KNorm[i] += p[hd+i]
				}
				clear(p)
			}
		}
		ws.weightGrad(gl.Q, ws.dq, la.xn, N, H, qD)
		ws.weightGrad(gl.K, ws.dk, la.xn, N, H, kvD)
		ws.weightGrad(gl.V, ws.dv, la.xn, N, H, kvD)
		clear(ws.dxn)
		ws.pool.gemm(N, H, qD, ws.dq, qD, l.Q, H, ws.dxn, H)
		ws.pool.gemm(N, H, kvD, ws.dk, kvD, l.K, H, ws.dxn, H)
		ws.pool.gemm(N, H, kvD, ws.dv, kvD, l.V, H, ws.dxn, H)
		ws.pool.run(N, 16, func(w, lo, hi int) {
			for n := lo; n < hi; n++ {
				rmsNormBack(dx[n*H:(n+1)*H], ws.dxn[n*H:(n+1)*H], la.xIn[n*H:(n+1)*H], l.AttnNorm, la.r1[n],
					ws.normGrad[w])
			}
		})
		ws.normGrads(gl.AttnNorm)
	}
	for n, id := range ws.tokens {
		row := g.Embed[int(id)*H : (int(id)+1)*H]
		for i, v := range dx[n*H : (n+1)*H] {
			row[i] += v
		}
	}
}

// rmsNormBackInPlace replaces dy, the gradient of cpu.RMSNorm(x, w), by that of x, and adds w's
// gradient to dw.
func rmsNormBackInPlace(dy, x, w []float32, r float32, dw []float32) {
	n := len(x)
	dy, w, dw = dy[:n], w[:n], dw[:n]
	var dot float64
	for i, v := range x {
		dw[i] += dy[i] * v * r
		dot += float64(dy[i] * w[i] * v)
	}
	c := float32(float64(r) * float64(r) * float64(r) * dot / float64(n))
	for i, v := range x {
		dy[i] = r*dy[i]*w[i] - c*v
	}
}

// attendBackward is attendForward's backward pass: from ws.do it adds to ws.dq (after RoPE),
// ws.dk and ws.dv for sequence b and KV head kvh's group of query heads.
func (m *Model) attendBackward(ws *workspace, la *layerActs, sc *attnScratch, b, kvh int, scale float32) {
	cfg := &m.Config
	T, nh, hd := ws.T, cfg.NumHeads, cfg.HeadDim
	qD, kvD := nh*hd, cfg.NumKVHeads*hd
	group := nh / cfg.NumKVHeads
	kOff := b*T*kvD + kvh*hd
	transpose(sc.vT, T, la.v[kOff:], kvD, T, hd)
	for h := kvh * group; h < (kvh+1)*group; h++ {
		qOff := b*T*qD + h*hd
		p := la.p[(b*nh+h)*T*T : (b*nh+h+1)*T*T]
		dP := sc.dP
		clear(dP)
		for i0 := 0; i0 < T; i0 += attnBlock {
			i1 := min(T, i0+attnBlock)
			gemm(i1-i0, i1, hd, ws.do[qOff+i0*qD:], qD, sc.vT, T, dP[i0*T:], T)
		}
		// dV[j] += sum over queries i >= j of P[i][j] dO[i].
		for j0 := 0; j0 < T; j0 += attnBlock {
			j1 := min(T, j0+attnBlock)
			gemmT(j1-j0, hd, T-j0, p[j0*T+j0:], T, ws.do[qOff+j0*qD:], qD, ws.dv[kOff+j0*kvD:], kvD)
		}
		for i := 0; i < T; i++ {
			pr, dr := p[i*T:i*T+i+1], dP[i*T:i*T+i+1]
			var dot float32
			for j, pv := range pr {
				dot += pv * dr[j]
			}
			for j, pv := range pr {
				dr[j] = pv * (dr[j] - dot) * scale
			}
			clear(dP[i*T+i+1 : (i+1)*T])
		}
		for i0 := 0; i0 < T; i0 += attnBlock {
			i1 := min(T, i0+attnBlock)
			gemm(i1-i0, hd, i1, dP[i0*T:], T, la.kr[kOff:], kvD, ws.dq[qOff+i0*qD:], qD)
		}
		for j0 := 0; j0 < T; j0 += attnBlock {
			j1 := min(T, j0+attnBlock)
			gemmT(j1-j0, hd, T-j0, dP[j0*T+j0:], T, la.qr[qOff+j0*qD:], qD, ws.dk[kOff+j0*kvD:], kvD)
		}
	}
}

// expf is e^x in float32 to about 2 ulp, several times faster than math.Exp: x = n·ln2 + r
// with |r| <= ln2/2, e^r by its degree-7 Taylor polynomial, 2^n put into the exponent.
func expf(x float32) float32 {
	switch {
	case x < -87.3:
		return 0
	case x > 88.7:
		return float32(math.Inf(1))
	case x != x:
		return x
	}
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375
		ln2lo = -2.12194440e-4
	)
	n := float32(math.Floor(float64(x*log2e + 0.5)))
	r := x - n*ln2hi - n*ln2lo
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040)))))))
	if n > 127 { // 2^128 is not a float32; e^x still is, up to x = 88.72
		return 2 * p * math.Float32frombits(uint32(int32(n)+126)<<23)
	}
	return p * math.Float32frombits(uint32(int32(n)+127)<<23)
}
