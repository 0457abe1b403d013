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
		// Rotated in float32 and stored back rounded to the cache's type.
		rows := rope(graph.Reshape(x.fromCache(graph.Gather(kc, idx)), M, nkv, hd), cos, sin)
		stored, _ := x.toCache(graph.Reshape(rows, M, nkv*hd))
		outs = append(outs, x.writeRows(kc, idx, stored))
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

// newCache makes the zeroed device cache: per layer, keys then values, of the cache's
// element type.
func (x *Model) newCache() {
	rows, d := x.numPages*x.pageSize+1, x.kvDim()
	x.kv = make([]*tensors.Tensor, 2*len(x.layers))
	for i := range x.kv {
		x.kv[i] = tensors.FromShape(shapes.Make(x.kvDType, rows, d))
	}
}

// runCacheGraph runs the graph for key over the host inputs in, then the cache tensors
// cache (replaced in the slice by the graph's updated ones); the graph returns only the
// updated cache.
func (x *Model) runCacheGraph(key, name string, build buildFunc, in, cache []*tensors.Tensor) error {
	defer finalize(in)
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

// runCache runs the graph for key with arguments: the inputs in (left to the caller, which
// may pass them to several graphs), the cache tensors (donated to the execution where gomlx allows it, and replaced in the slice by
// the graph's last len(cache) outputs), then the weights if withWeights. It returns the
// outputs before the cache. If the execution fails after the cache was donated, the cache is
// lost and the model refuses further work (x.broken).
func (x *Model) runCache(key, name string, build buildFunc, in, cache []*tensors.Tensor,
	withWeights bool) ([]*tensors.Tensor, error) {
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

// finalize frees tensors (nil ones skipped).
func finalize(ts []*tensors.Tensor) {
	for _, t := range ts {
		if t != nil {
			t.FinalizeAll()
		}
	}
}
