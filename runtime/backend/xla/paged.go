package xla

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/arborlabs/arbor/runtime/backend"
	"github.com/arborlabs/arbor/runtime/kv"
)

// Model implements backend.Backend with a paged KV cache.
var _ backend.Backend = (*Model)(nil)

// maskedOut is the additive attention mask of a key a query may not see: large enough that
// its softmax weight is exactly 0 in float32, finite so that no row can become NaN.
const maskedOut = -1e30

// pow2 rounds n (at least 1) up to a power of two: the bucketed length of a graph input.
func pow2(n int) int {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len(uint(n-1))
}

// PageSize implements backend.Backend.
func (x *Model) PageSize() int { return x.pageSize }

// NumPages implements backend.Backend.
func (x *Model) NumPages() int { return x.numPages }

// kvDim is the width of one slot's keys (or values): kvHeads*headDim.
func (x *Model) kvDim() int { return x.cfg.NumKVHeads * x.cfg.HeadDim }

// physSlot is the row of the KV cache holding slot of the sequence whose page table is pages.
func (x *Model) physSlot(pages []int32, slot int) int {
	return int(pages[slot/x.pageSize])*x.pageSize + slot%x.pageSize
}

func (x *Model) checkSlots(page, off, n int) error {
	if page < 0 || page >= x.numPages || off < 0 || n < 0 || off+n > x.pageSize {
		return fmt.Errorf("%w: page %d slots [%d,%d) outside %d pages of %d", backend.ErrBadBatch, page, off, off+n, x.numPages, x.pageSize)
	}
	return nil
}

// CopySlots implements backend.Backend: the moves are applied in order, in every layer's K and V.
func (x *Model) CopySlots(moves []kv.Move) error {
	if x.kCache == nil {
		return fmt.Errorf("xla backend: CopySlots on a closed model")
	}
	for _, mv := range moves {
		if err := x.checkSlots(int(mv.SrcPage), mv.SrcOff, mv.N); err != nil {
			return fmt.Errorf("xla backend: copy slots: source: %w", err)
		}
		if err := x.checkSlots(int(mv.DstPage), mv.DstOff, mv.N); err != nil {
			return fmt.Errorf("xla backend: copy slots: destination: %w", err)
		}
	}
	d := x.kvDim()
	for _, mv := range moves {
		src := (int(mv.SrcPage)*x.pageSize + mv.SrcOff) * d
		dst := (int(mv.DstPage)*x.pageSize + mv.DstOff) * d
		n := mv.N * d
		for l := range x.kCache {
			copy(x.kCache[l][dst:dst+n], x.kCache[l][src:src+n])
			copy(x.vCache[l][dst:dst+n], x.vCache[l][src:src+n])
		}
	}
	return nil
}

func (x *Model) validate(b *backend.Batch, logits [][]float32) error {
	// Stricter than the shared check: exactly one logits row per sequence, of exactly the
	// vocabulary's width, and at least one sequence.
	if len(logits) != len(b.Seqs) {
		return fmt.Errorf("%w: %d logits rows for %d sequences", backend.ErrBadBatch, len(logits), len(b.Seqs))
	}
	if len(b.Seqs) == 0 {
		return fmt.Errorf("%w: no sequences", backend.ErrBadBatch)
	}
	if err := b.Validate(x.cfg.VocabSize, x.pageSize, x.numPages, logits); err != nil {
		return err
	}
	for i := range b.Seqs {
		if b.Seqs[i].Logits && len(logits[i]) != x.cfg.VocabSize {
			return fmt.Errorf("%w: sequence %d: logits row of %d, want %d", backend.ErrBadBatch, i, len(logits[i]), x.cfg.VocabSize)
		}
	}
	return nil
}

// Forward implements backend.Backend. The batch's new tokens (T of them, all sequences
// flattened) and the cached context rows of its sequences (P of them: slots [0, Start) of
// each, gathered from the host KV cache through the page tables) are padded to powers of two
// and run through one graph; an additive mask built here keeps every query to its own
// sequence's slots, causally by slot and within Mistral's window. The graph returns the
// requested logits rows and every layer's new K and V rows, which are then stored in the
// host cache at the tokens' physical slots.
func (x *Model) Forward(b *backend.Batch, logits [][]float32) error {
	if x.pagedExec == nil {
		return fmt.Errorf("xla backend: Forward on a closed model")
	}
	if err := x.validate(b, logits); err != nil {
		return fmt.Errorf("xla backend: %w", err)
	}
	cfg := &x.cfg
	d := x.kvDim()
	half := cfg.HeadDim / 2
	T, P, nLogits := 0, 0, 0
	for i := range b.Seqs {
		T += len(b.Seqs[i].Tokens)
		P += b.Seqs[i].Start
		if b.Seqs[i].Logits {
			nLogits++
		}
	}
	Tp, Pp, Np := pow2(T), pow2(P), pow2(nLogits)
	K := Pp + Tp

	ids := make([]int32, Tp)
	cos := make([]float32, Tp*half)
	sin := make([]float32, Tp*half)
	mask := make([]float32, Tp*K)
	for i := range mask {
		mask[i] = maskedOut
	}
	logitIdx := make([]int32, Np)
	// Per new token and per past row: its sequence, its slot.
	tokSeq, tokSlot := make([]int, T), make([]int, T)
	tokPhys := make([]int, T)
	pastSeq, pastSlot := make([]int, P), make([]int, P)
	pastK := make([][]float32, len(x.layers))
	pastV := make([][]float32, len(x.layers))
	for l := range pastK {
		pastK[l] = make([]float32, Pp*d)
		pastV[l] = make([]float32, Pp*d)
	}
	t, p, n := 0, 0, 0
	for i := range b.Seqs {
		s := &b.Seqs[i]
		for slot := 0; slot < s.Start; slot++ {
			pastSeq[p], pastSlot[p] = i, slot
			src := x.physSlot(s.Pages, slot) * d
			for l := range pastK {
				copy(pastK[l][p*d:(p+1)*d], x.kCache[l][src:src+d])
				copy(pastV[l][p*d:(p+1)*d], x.vCache[l][src:src+d])
			}
			p++
		}
		for j, id := range s.Tokens {
			ids[t] = id
			tokSeq[t], tokSlot[t] = i, s.Start+j
			tokPhys[t] = x.physSlot(s.Pages, s.Start+j)
			for k := 0; k < half; k++ {
				sn, c := math.Sincos(float64(s.Positions[j]) * x.invFreq[k])
				cos[t*half+k], sin[t*half+k] = float32(c), float32(sn)
			}
			t++
		}
		if s.Logits {
			logitIdx[n] = int32(t - 1)
			n++
		}
	}
	visible := func(q, key int) bool {
		return key <= q && (cfg.SlidingWindow <= 0 || key > q-cfg.SlidingWindow)
	}
	for q := 0; q < Tp; q++ {
		row := mask[q*K : (q+1)*K]
		if q >= T { // padding: attends to itself only, so that its row stays finite
			row[Pp+q] = 0
			continue
		}
		for r := 0; r < P; r++ {
			if pastSeq[r] == tokSeq[q] && visible(tokSlot[q], pastSlot[r]) {
				row[r] = 0
			}
		}
		for u := 0; u < T; u++ {
			if tokSeq[u] == tokSeq[q] && visible(tokSlot[q], tokSlot[u]) {
				row[Pp+u] = 0
			}
		}
	}

	inputs := []*tensors.Tensor{
		tensors.FromFlatDataAndDimensions(ids, Tp, 1),
		tensors.FromFlatDataAndDimensions(cos, Tp, half),
		tensors.FromFlatDataAndDimensions(sin, Tp, half),
		tensors.FromFlatDataAndDimensions(mask, Tp, K),
		tensors.FromFlatDataAndDimensions(logitIdx, Np, 1),
	}
	for l := range pastK {
		inputs = append(inputs,
			tensors.FromFlatDataAndDimensions(pastK[l], Pp, d),
			tensors.FromFlatDataAndDimensions(pastV[l], Pp, d))
	}
	args := make([]any, 0, len(inputs)+len(x.weights))
	for _, in := range inputs {
		args = append(args, in)
	}
	for _, w := range x.weights {
		args = append(args, w)
	}
	outs, err := x.pagedExec.Exec(args...)
	for _, in := range inputs {
		in.FinalizeAll()
	}
	if err != nil {
		return fmt.Errorf("xla backend: forward of %d tokens (%d padded), %d context rows (%d padded): %w", T, Tp, P, Pp, err)
	}
	defer func() {
		for _, o := range outs {
			o.FinalizeAll()
		}
	}()
	if want := 1 + 2*len(x.layers); len(outs) != want {
		return fmt.Errorf("xla backend: forward returned %d outputs, want %d", len(outs), want)
	}
	V := cfg.VocabSize
	flat, err := tensors.CopyFlatData[float32](outs[0])
	if err != nil {
		return fmt.Errorf("xla backend: reading logits: %w", err)
	}
	if len(flat) != Np*V {
		return fmt.Errorf("xla backend: forward returned %d logits, want %d", len(flat), Np*V)
	}
	n = 0
	for i := range b.Seqs {
		if b.Seqs[i].Logits {
			copy(logits[i], flat[n*V:(n+1)*V])
			n++
		}
	}
	for l := range x.layers {
		for c, cache := range [][]float32{x.kCache[l], x.vCache[l]} {
			rows, err := tensors.CopyFlatData[float32](outs[1+2*l+c])
			if err != nil {
				return fmt.Errorf("xla backend: reading layer %d keys/values: %w", l, err)
			}
			if len(rows) != Tp*d {
				return fmt.Errorf("xla backend: layer %d returned %d key/value floats, want %d", l, len(rows), Tp*d)
			}
			for t, phys := range tokPhys {
				copy(cache[phys*d:(phys+1)*d], rows[t*d:(t+1)*d])
			}
		}
	}
	return nil
}

// pagedInputs is the number of per-step inputs of pagedGraph before the per-layer past K/V.
const pagedInputs = 5

// pagedGraph builds the batched forward pass. inputs are tokens [Tp,1] int32, cos and sin
// [Tp, head_dim/2], the additive mask [Tp, Pp+Tp], the logits row indices [Np,1] int32, then
// for each layer its past keys and values [Pp, kvDim], then x.weights in order. It returns the
// logits [Np, vocab] and, per layer, the new tokens' keys (after RoPE) and values [Tp, kvDim].
func (x *Model) pagedGraph(inputs []*graph.Node) []*graph.Node {
	x.compilations++
	cfg := &x.cfg
	tokens, cos, sin, mask, logitIdx := inputs[0], inputs[1], inputs[2], inputs[3], inputs[4]
	L := len(x.layers)
	past := inputs[pagedInputs : pagedInputs+2*L]
	w := inputs[pagedInputs+2*L:]
	T := tokens.Shape().Dimensions[0]
	K := mask.Shape().Dimensions[1]
	Pp := K - T
	Np := logitIdx.Shape().Dimensions[0]
	g := tokens.Graph()
	h, hd := cfg.HiddenSize, cfg.HeadDim
	nh, nkv := cfg.NumHeads, cfg.NumKVHeads
	group := nh / nkv
	half := hd / 2
	eps := float64(cfg.RMSNormEps)

	cos = graph.Reshape(cos, T, 1, half)
	sin = graph.Reshape(sin, T, 1, half)
	mask = graph.Reshape(mask, 1, 1, T, K)
	scale := graph.Scalar(g, dtypes.Float32, 1/math.Sqrt(float64(hd)))

	outs := make([]*graph.Node, 1, 1+2*L)
	act := graph.Reshape(graph.Gather(w[x.embed], tokens), T, h)
	for i := range x.layers {
		l := &x.layers[i]
		q, k, v := x.attnInputs(act, w, l, cos, sin)
		outs = append(outs, graph.Reshape(k, T, nkv*hd), graph.Reshape(v, T, nkv*hd))
		keys := graph.Concatenate([]*graph.Node{graph.Reshape(past[2*i], Pp, nkv, hd), k}, 0)   // [K, nkv, hd]
		vals := graph.Concatenate([]*graph.Node{graph.Reshape(past[2*i+1], Pp, nkv, hd), v}, 0) // [K, nkv, hd]
		q = graph.Reshape(q, T, nkv, group, hd)
		scores := graph.Add(graph.Mul(graph.Einsum("tkgd,skd->kgts", q, keys), scale), mask) // [nkv, group, T, K]
		pr := graph.Softmax(scores, -1)
		att := graph.Einsum("kgts,skd->tkgd", pr, vals)
		act = x.layerOutput(act, att, w, l)
	}
	last := graph.Reshape(graph.Gather(act, logitIdx), Np, h)
	last = rmsNorm(last, w[x.outNorm], eps)
	outs[0] = linear(last, w[x.output])
	return outs
}
