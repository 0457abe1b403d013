package xla

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/arborlabs/arbor/runtime/backend"
	"github.com/arborlabs/arbor/runtime/kv"
)

// Model implements backend.Backend with a paged KV cache on the device, and re-rotates keys.
var (
	_ backend.Backend    = (*Model)(nil)
	_ backend.KeyShifter = (*Model)(nil)
)

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
		return fmt.Errorf("%w: page %d slots [%d,%d) outside %d pages of %d",
			backend.ErrBadBatch, page, off, off+n, x.numPages, x.pageSize)
	}
	return nil
}

// CopySlots implements backend.Backend: the moves are applied in order, in every layer's K and
// V. They are first composed on the host into one simultaneous copy (each destination slot and
// the slot its value finally comes from; a move reads before it writes, as copy does), which
// one graph then applies to the device cache: gather the sources, scatter to the destinations.
func (x *Model) CopySlots(moves []kv.Move) error {
	if x.kv == nil {
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
	from := map[int32]int32{} // destination row -> original source row
	var dsts []int32
	var buf []int32
	for _, mv := range moves {
		src := int32(int(mv.SrcPage)*x.pageSize + mv.SrcOff)
		dst := int32(int(mv.DstPage)*x.pageSize + mv.DstOff)
		buf = buf[:0]
		for j := int32(0); j < int32(mv.N); j++ {
			f, ok := from[src+j]
			if !ok {
				f = src + j
			}
			buf = append(buf, f)
		}
		for j, f := range buf {
			d := dst + int32(j)
			if _, ok := from[d]; !ok {
				dsts = append(dsts, d)
			}
			from[d] = f
		}
	}
	var srcIdx, dstIdx []int32
	for _, d := range dsts {
		if from[d] != d {
			srcIdx, dstIdx = append(srcIdx, from[d]), append(dstIdx, d)
		}
	}
	if len(dstIdx) == 0 {
		return nil
	}
	M := pow2(len(dstIdx))
	for len(dstIdx) < M { // padding: the scratch row onto itself
		srcIdx, dstIdx = append(srcIdx, x.scratchRow()), append(dstIdx, x.scratchRow())
	}
	in := []*tensors.Tensor{
		tensors.FromFlatDataAndDimensions(srcIdx, M, 1),
		tensors.FromFlatDataAndDimensions(dstIdx, M, 1),
	}
	key := fmt.Sprintf("copy/%d", M)
	if err := x.runCacheGraph(key, "copy-slots", x.copyGraph, in, x.kv); err != nil {
		return fmt.Errorf("xla backend: copy slots: %w", err)
	}
	return nil
}

// ShiftKeys implements backend.KeyShifter: the keys of slots [begin, end) of the sequence
// whose page table is pages are rotated by delta positions in every layer, on the device
// (gather the rows, rotate them as RoPE does, scatter them back). Rotations compose, so keys
// moved down by n slots become exactly the keys of their new positions with delta = -n.
func (x *Model) ShiftKeys(pages []int32, begin, end, delta int) error {
	if x.kv == nil {
		return fmt.Errorf("xla backend: ShiftKeys on a closed model")
	}
	if err := backend.CheckShift(pages, begin, end, x.pageSize, x.numPages); err != nil {
		return fmt.Errorf("xla backend: %w", err)
	}
	if begin == end || delta == 0 {
		return nil
	}
	n := end - begin
	M := pow2(n)
	half := x.cfg.HeadDim / 2
	idx := make([]int32, M)
	for i := range idx {
		if i < n {
			idx[i] = int32(x.physSlot(pages, begin+i))
		} else {
			idx[i] = x.scratchRow()
		}
	}
	// Every row turns by the same angles; the host computes them in float64, as for RoPE.
	cos, sin := make([]float32, M*half), make([]float32, M*half)
	for j := 0; j < half; j++ {
		s, c := math.Sincos(float64(delta) * x.invFreq[j])
		for i := 0; i < M; i++ {
			cos[i*half+j], sin[i*half+j] = float32(c), float32(s)
		}
	}
	in := []*tensors.Tensor{
		tensors.FromFlatDataAndDimensions(idx, M, 1),
		tensors.FromFlatDataAndDimensions(cos, M, half),
		tensors.FromFlatDataAndDimensions(sin, M, half),
	}
	// Only the keys turn: the graph takes and returns the L key tensors.
	keys := make([]*tensors.Tensor, len(x.layers))
	for l := range keys {
		keys[l] = x.kv[2*l]
	}
	if err := x.runCacheGraph(fmt.Sprintf("shift/%d", M), "shift-keys", x.shiftGraph, in, keys); err != nil {
		return fmt.Errorf("xla backend: shift keys: %w", err)
	}
	for l := range keys {
		x.kv[2*l] = keys[l]
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
			return fmt.Errorf("%w: sequence %d: logits row of %d, want %d",
				backend.ErrBadBatch, i, len(logits[i]), x.cfg.VocabSize)
		}
	}
	return nil
}

// Forward implements backend.Backend. The new tokens of all sequences, the context rows they
// attend to and the logits rows are each padded to a power of two and run through one graph
// with the device KV cache: the graph gathers every sequence's context rows from the cache
// through the physical slot indices the host computes from the page tables, attends under an
// additive mask built here (each query sees its own sequence's slots, causally by slot and
// within Mistral's window), scatters the new tokens' keys and values into their slots, and
// returns the requested logits rows and the updated cache (donated, so a device that can
// update it in place does).
func (x *Model) Forward(b *backend.Batch, logits [][]float32) error {
	if x.kv == nil {
		return fmt.Errorf("xla backend: Forward on a closed model")
	}
	if x.broken != nil {
		return x.broken
	}
	if err := x.validate(b, logits); err != nil {
		return fmt.Errorf("xla backend: %w", err)
	}
	cfg := &x.cfg
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
	scratch := x.scratchRow()

	ids := make([]int32, Tp)
	cos := make([]float32, Tp*half)
	sin := make([]float32, Tp*half)
	mask := make([]float32, Tp*K)
	for i := range mask {
		mask[i] = maskedOut
	}
	logitIdx := make([]int32, Np)
	pastIdx := make([]int32, Pp) // cache row of each context row; padding reads the scratch row
	newIdx := make([]int32, Tp)  // cache row each new token writes; padding writes the scratch row
	for i := range pastIdx {
		pastIdx[i] = scratch
	}
	for i := range newIdx {
		newIdx[i] = scratch
	}
	// Per new token and per past row: its sequence, its slot.
	tokSeq, tokSlot := make([]int, T), make([]int, T)
	pastSeq, pastSlot := make([]int, P), make([]int, P)
	t, p, n := 0, 0, 0
	for i := range b.Seqs {
		s := &b.Seqs[i]
		for slot := 0; slot < s.Start; slot++ {
			pastSeq[p], pastSlot[p] = i, slot
			pastIdx[p] = int32(x.physSlot(s.Pages, slot))
			p++
		}
		for j, id := range s.Tokens {
			ids[t] = id
			tokSeq[t], tokSlot[t] = i, s.Start+j
			newIdx[t] = int32(x.physSlot(s.Pages, s.Start+j))
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

	in := []*tensors.Tensor{
		tensors.FromFlatDataAndDimensions(ids, Tp, 1),
		tensors.FromFlatDataAndDimensions(cos, Tp, half),
		tensors.FromFlatDataAndDimensions(sin, Tp, half),
		tensors.FromFlatDataAndDimensions(mask, Tp, K),
		tensors.FromFlatDataAndDimensions(logitIdx, Np, 1),
		tensors.FromFlatDataAndDimensions(pastIdx, Pp, 1),
		tensors.FromFlatDataAndDimensions(newIdx, Tp, 1),
	}
	key := fmt.Sprintf("forward/%d/%d/%d", Tp, Pp, Np)
	outs, err := x.runCache(key, "paged-forward", x.pagedGraph, in, x.kv, true)
	if err != nil {
		return fmt.Errorf("xla backend: forward of %d tokens (%d padded), %d context rows (%d padded): %w", T, Tp, P, Pp, err)
	}
	defer func() {
		for _, o := range outs {
			o.FinalizeAll()
		}
	}()
	if len(outs) != 1 {
		return fmt.Errorf("xla backend: forward returned %d outputs besides the cache, want 1", len(outs))
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
	return nil
}

// pagedInputs is the number of per-step inputs of pagedGraph before the KV cache.
const pagedInputs = 7

// pagedGraph builds the batched forward pass. inputs are tokens [Tp,1] int32, cos and sin
// [Tp, head_dim/2], the additive mask [Tp, Pp+Tp], the logits row indices [Np,1] int32, the
// cache rows of the context [Pp,1] and of the new tokens [Tp,1] (int32), then the cache (per
// layer keys and values, [rows, kvDim]), then x.weights in order. It returns the logits
// [Np, vocab], then the updated cache in the same order.
func (x *Model) pagedGraph(inputs []*graph.Node) []*graph.Node {
	x.compilations++
	cfg := &x.cfg
	tokens, cos, sin, mask, logitIdx := inputs[0], inputs[1], inputs[2], inputs[3], inputs[4]
	pastIdx, newIdx := inputs[5], inputs[6]
	L := len(x.layers)
	cache := inputs[pagedInputs : pagedInputs+2*L]
	w := inputs[pagedInputs+2*L:]
	T := tokens.Shape().Dimensions[0]
	Pp := pastIdx.Shape().Dimensions[0]
	K := Pp + T
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
		kc, vc := cache[2*i], cache[2*i+1]
		pastK := graph.Reshape(graph.Gather(kc, pastIdx), Pp, nkv, hd)
		pastV := graph.Reshape(graph.Gather(vc, pastIdx), Pp, nkv, hd)
		outs = append(outs,
			x.writeRows(kc, newIdx, graph.Reshape(k, T, nkv*hd)),
			x.writeRows(vc, newIdx, graph.Reshape(v, T, nkv*hd)))
		keys := graph.Concatenate([]*graph.Node{pastK, k}, 0) // [K, nkv, hd]
		vals := graph.Concatenate([]*graph.Node{pastV, v}, 0) // [K, nkv, hd]
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

// copyGraph is CopySlots' graph: inputs the source and destination rows [M,1] int32, then the
// cache; it returns the cache with every destination row set to its source row's old value.
func (x *Model) copyGraph(inputs []*graph.Node) []*graph.Node {
	x.compilations++
	src, dst := inputs[0], inputs[1]
	outs := make([]*graph.Node, 0, len(inputs)-2)
	for _, c := range inputs[2:] {
		outs = append(outs, x.writeRows(c, dst, graph.Gather(c, src)))
	}
	return outs
}

// shiftGraph is ShiftKeys' graph: inputs the rows [M,1] int32, cos and sin [M, head_dim/2],
// then every layer's keys; it returns the keys with those rows rotated.
func (x *Model) shiftGraph(inputs []*graph.Node) []*graph.Node {
	x.compilations++
	idx, cos, sin := inputs[0], inputs[1], inputs[2]
	M := idx.Shape().Dimensions[0]
	hd, nkv := x.cfg.HeadDim, x.cfg.NumKVHeads
	cos = graph.Reshape(cos, M, 1, hd/2)
	sin = graph.Reshape(sin, M, 1, hd/2)
	outs := make([]*graph.Node, 0, len(inputs)-3)
	for _, kc := range inputs[3:] {
		rows := rope(graph.Reshape(graph.Gather(kc, idx), M, nkv, hd), cos, sin)
		outs = append(outs, x.writeRows(kc, idx, graph.Reshape(rows, M, nkv*hd)))
	}
	return outs
}

// Cache updates: how the graphs write rows into the cache tensors (Options.CacheUpdate).
const (
	// UpdateScatter writes with gomlx's ScatterUpdate, which every backend runs (gomlx builds
	// it from Scatter, Where and ScatterSum) but which passes over the whole cache tensor.
	UpdateScatter = "scatter"
	// UpdateSlices writes each row with one DynamicUpdateSlice: only the rows written are
	// touched, in place on a donated buffer. It needs a backend that has the operation (XLA
	// does; gomlx v0.26.0's pure-Go backend does not).
	UpdateSlices = "slices"
)

// chooseUpdate resolves Options.CacheUpdate against what the backend reports it can do.
func chooseUpdate(want string, caps backends.Capabilities, name string) (string, error) {
	hasDUS := caps.Operations[backends.OpTypeDynamicUpdateSlice]
	switch want {
	case "":
		if hasDUS {
			return UpdateSlices, nil
		}
		return UpdateScatter, nil
	case UpdateScatter:
		return want, nil
	case UpdateSlices:
		if !hasDUS {
			return "", fmt.Errorf("cache update %q: the gomlx backend %q has no DynamicUpdateSlice", want, name)
		}
		return want, nil
	}
	return "", fmt.Errorf("cache update %q: want %q or %q (or empty: by the backend's capabilities)",
		want, UpdateScatter, UpdateSlices)
}

// maxSliceRows is the most rows written with one DynamicUpdateSlice each: a graph holds one
// operation per row and layer, so larger writes (long prefill chunks, big pruning moves) take
// the scatter, which is one operation however many rows it writes.
const maxSliceRows = 32

// writeRows returns cache [rows, d] with row idx[i] set to rows[i] for every i, rows read as
// they are (all reads happen before the writes). A repeated index (only the scratch row is
// ever repeated) keeps one of its values.
func (x *Model) writeRows(cache, idx, rows *graph.Node) *graph.Node {
	if x.update != UpdateSlices || idx.Shape().Dimensions[0] > maxSliceRows {
		return graph.ScatterUpdate(cache, idx, rows, false, true)
	}
	zero := graph.Scalar(cache.Graph(), dtypes.Int32, 0)
	for i := range idx.Shape().Dimensions[0] {
		at := graph.Reshape(graph.Slice(idx, graph.AxisRange(i, i+1)))
		cache = graph.DynamicUpdateSlice(cache, graph.Slice(rows, graph.AxisRange(i, i+1)), []*graph.Node{at, zero})
	}
	return cache
}

// CacheUpdate says how this model's graphs write into the KV cache: UpdateScatter or
// UpdateSlices.
func (x *Model) CacheUpdate() string { return x.update }

// scratchRow is the cache row past the last slot: padded tokens write there and padded
// context rows read from it, so that padding never touches a real slot. Every cache tensor
// has numPages*pageSize+1 rows.
func (x *Model) scratchRow() int32 { return int32(x.numPages * x.pageSize) }

// newCache makes the zeroed device cache: per layer, keys then values.
func (x *Model) newCache() {
	rows, d := x.numPages*x.pageSize+1, x.kvDim()
	x.kv = make([]*tensors.Tensor, 2*len(x.layers))
	for i := range x.kv {
		x.kv[i] = tensors.FromShape(shapes.Make(dtypes.Float32, rows, d))
	}
}

// runCacheGraph runs the graph for key over the host inputs in, then the cache tensors
// cache (replaced in the slice by the graph's updated ones); the graph returns only the
// updated cache.
func (x *Model) runCacheGraph(key, name string, build buildFunc, in, cache []*tensors.Tensor) error {
	if x.broken != nil {
		return x.broken
	}
	outs, err := x.runCache(key, name, build, in, cache, false)
	for _, o := range outs {
		o.FinalizeAll()
	}
	if err == nil && len(outs) != 0 {
		err = fmt.Errorf("the %s graph returned %d outputs besides the cache, want none", name, len(outs))
	}
	return err
}

// runCache runs the graph for key with arguments: the host inputs in (finalized after), the
// cache tensors (donated to the execution where gomlx allows it, and replaced in the slice by
// the graph's last len(cache) outputs), then the weights if withWeights. It returns the
// outputs before the cache. If the execution fails after the cache was donated, the cache is
// lost and the model refuses further work (x.broken).
func (x *Model) runCache(key, name string, build buildFunc, in, cache []*tensors.Tensor,
	withWeights bool) ([]*tensors.Tensor, error) {
	defer func() {
		for _, t := range in {
			t.FinalizeAll()
		}
	}()
	args := make([]any, 0, len(in)+len(cache)+len(x.weights))
	for _, t := range in {
		args = append(args, t)
	}
	donated := false
	for _, t := range cache {
		if t.IsShared() {
			args = append(args, t)
			continue
		}
		var a any
		err := catch(func() (err error) {
			a, err = graph.DonateTensorBuffer(t, x.backend, 0)
			return err
		})
		if err != nil {
			return nil, x.lose(fmt.Errorf("donating the KV cache: %w", err), donated)
		}
		donated = true
		args = append(args, a)
	}
	if withWeights {
		for _, w := range x.weights {
			args = append(args, w)
		}
	}
	var outs []*tensors.Tensor
	err := catch(func() (err error) {
		outs, err = x.graphs.exec(key, name, build, args...)
		return err
	})
	if err == nil && len(outs) < len(cache) {
		err = fmt.Errorf("the %s graph returned %d outputs, want at least %d", name, len(outs), len(cache))
	}
	if err != nil {
		for _, o := range outs {
			o.FinalizeAll()
		}
		return nil, x.lose(err, donated)
	}
	extra := len(outs) - len(cache)
	for i := range cache {
		cache[i].FinalizeAll()
		cache[i] = outs[extra+i]
	}
	return outs[:extra], nil
}

// lose marks the model broken when a failed execution took the donated cache with it.
func (x *Model) lose(err error, donated bool) error {
	if donated {
		x.broken = fmt.Errorf("xla backend: the KV cache was lost in a failed step (%v); load the model again", err)
	}
	return err
}
