package xla

import (
	"fmt"
	"math"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/arborlabs/arbor/runtime/backend"
	"github.com/arborlabs/arbor/runtime/sparse"
)

// Forward implements backend.Backend. The new tokens of all sequences, the context rows they
// attend to and the logits rows are each padded to a power of two and run through the device
// KV cache: the graph gathers every sequence's context rows from the cache through the
// physical slot indices the host computes from the page tables, attends under an additive
// mask built here (each query sees its own sequence's slots, causally by slot and within
// Mistral's window), writes the new tokens' keys and values into their slots, and returns the
// requested logits rows and the updated cache (donated, so a device that can update it in
// place does).
//
// Without DELTA sparse attention that is one graph for all layers. With it (a decode token
// whose SeqInput.Sparse is active), sparse layers gather only the rows of the pages the
// latest select layer below them picked, under a mask of their own, and the pass is split
// into segments, one graph each, that end at the select layers whose picks some sparse layer
// reads: such a segment also returns, for the sequences that select there, the largest
// attention probability any query head gives each context slot; the host sums them into page
// scores and picks the pages with runtime/sparse's PageScores and Pick (so every backend
// picks by the same code), and the next segment gathers those pages' rows. The activations
// stay on the device between segments; only the probabilities (one row of context length
// per selecting sequence) come back.
//
// Why the host picks: the pick is a sort of a few thousand page scores with a tie rule, which
// gomlx v0.26.0 has no operation for on its pure-Go backend (no Sort, no TopK), and an
// in-graph rank by pairwise comparisons would be quadratic in the pages and would need a
// prefix sum to compact the picks into gather indices; the host round trip costs one device
// sync per select layer and step (DELTA places three), small next to a decode step's weight
// reads, and keeps the selection bit-identical to the cpu backend's given the same
// probabilities. Compiles stay bounded: every segment's inputs are padded to powers of two
// (new tokens, full context rows, each sparse layer's gathered rows, logits rows, selecting
// sequences), so a model with s select layers compiles at most s+1 segment graphs per
// bucket combination, and a sparse layer's gathered rows (the selection's slots) stay in one
// or two buckets however long the context grows.
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
	if err := b.CheckSparse(len(x.layers)); err != nil {
		return fmt.Errorf("xla backend: %w", err)
	}
	if err := b.CheckPool(0); err != nil { // pooled hidden states are the cpu backend's only
		return fmt.Errorf("xla backend: %w", err)
	}
	f, err := x.newPass(b)
	if err != nil {
		return fmt.Errorf("xla backend: %w", err)
	}
	defer f.free()
	if err := f.run(logits); err != nil {
		return fmt.Errorf("xla backend: forward of %d tokens (%d padded), %d context rows (%d padded): %w",
			f.T, f.Tp, f.P, f.Pp, err)
	}
	return nil
}

// seqPass is one sequence's share of a forward pass.
type seqPass struct {
	in     *backend.SeqInput
	t0     int  // its first new token's row
	active bool // DELTA sparse attention runs for it (a decode token, Sparse active)
	forced bool // SparsePages gives its selection
	// picked marks the logical pages its sparse layers attend to now; pages is their count.
	picked []bool
	pages  int
	// attended sums over the layers the slots its last token attended to.
	attended int
}

// pass is one Forward's host-side state: the batch's rows and the inputs every segment takes.
type pass struct {
	x                *Model
	b                *backend.Batch
	seqs             []seqPass
	T, P, Tp, Pp, Np int
	tokSeq, tokSlot  []int
	// Inputs shared by the segments: ids, cos, sin, the new tokens' rows, the logits rows, and
	// the full context set (rows and mask).
	ids, cos, sin, newIdx, logitIdx *tensors.Tensor
	full                            rowSet
	// act is the activations between segments, on the device.
	act *tensors.Tensor
}

// rowSet is the context rows one layer gathers and the mask its queries attend under: every
// sequence's slots (the full set), or with the sequences of sparse a subset of their slots.
type rowSet struct {
	idx, mask *tensors.Tensor
	size      int   // padded rows
	off       []int // per sequence, its first row in the set
}

func (r *rowSet) free() { finalize([]*tensors.Tensor{r.idx, r.mask}) }

func (f *pass) free() {
	finalize([]*tensors.Tensor{f.ids, f.cos, f.sin, f.newIdx, f.logitIdx, f.act})
	f.full.free()
}

// newPass lays out the batch: token rows, RoPE angles, write rows, logits rows, the full
// context set, and which sequences attend sparsely (with a forced selection checked here).
func (x *Model) newPass(b *backend.Batch) (*pass, error) {
	cfg := &x.cfg
	half := cfg.HeadDim / 2
	f := &pass{x: x, b: b, seqs: make([]seqPass, len(b.Seqs))}
	nLogits := 0
	for i := range b.Seqs {
		s := &b.Seqs[i]
		f.T += len(s.Tokens)
		f.P += s.Start
		if s.Logits {
			nLogits++
		}
	}
	f.Tp, f.Pp, f.Np = pow2(f.T), pow2(f.P), pow2(nLogits)
	scratch := x.scratchRow()
	ids := make([]int32, f.Tp)
	cos := make([]float32, f.Tp*half)
	sin := make([]float32, f.Tp*half)
	logitIdx := make([]int32, f.Np)
	newIdx := make([]int32, f.Tp) // cache row each new token writes; padding writes the scratch row
	for i := range newIdx {
		newIdx[i] = scratch
	}
	f.tokSeq, f.tokSlot = make([]int, f.T), make([]int, f.T)
	t, n := 0, 0
	for i := range b.Seqs {
		s := &b.Seqs[i]
		sp := &f.seqs[i]
		sp.in, sp.t0 = s, t
		end := s.Start + len(s.Tokens)
		sp.pages = (end + x.pageSize - 1) / x.pageSize
		if len(s.Tokens) == 1 && s.Sparse != nil && s.Sparse.Active(end, x.pageSize) {
			sp.active = true
			sp.picked = make([]bool, sp.pages)
			if s.SparsePages != nil {
				if err := checkForced(s.SparsePages, sp.pages); err != nil {
					return nil, fmt.Errorf("%w: sequence %d: %w", backend.ErrBadBatch, i, err)
				}
				sp.forced = true
				for _, p := range s.SparsePages {
					sp.picked[p] = true
				}
			}
		}
		for j, id := range s.Tokens {
			ids[t] = id
			f.tokSeq[t], f.tokSlot[t] = i, s.Start+j
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
	f.ids = tensors.FromFlatDataAndDimensions(ids, f.Tp, 1)
	f.cos = tensors.FromFlatDataAndDimensions(cos, f.Tp, half)
	f.sin = tensors.FromFlatDataAndDimensions(sin, f.Tp, half)
	f.newIdx = tensors.FromFlatDataAndDimensions(newIdx, f.Tp, 1)
	f.logitIdx = tensors.FromFlatDataAndDimensions(logitIdx, f.Np, 1)
	f.full = f.rowSet(nil)
	return f, nil
}

// checkForced checks a forced selection against a sequence of pages pages.
func checkForced(sel []int32, pages int) error {
	if len(sel) == 0 {
		return fmt.Errorf("empty forced sparse selection")
	}
	for j, p := range sel {
		if p < 0 || int(p) >= pages || (j > 0 && p <= sel[j-1]) {
			return fmt.Errorf("forced sparse pages %v: want ascending pages below %d", sel, pages)
		}
	}
	return nil
}

// visible says whether the token at slot q may attend to slot key: causally, and within
// Mistral's sliding window.
func (x *Model) visible(q, key int) bool {
	w := x.cfg.SlidingWindow
	return key <= q && (w <= 0 || key > q-w)
}

// rowSet builds a context set: every sequence's slots [0, Start) in order, except that a
// sequence i with sparse[i] keeps only the slots of its picked pages (its new token too is
// seen only if its page is picked). The rows are padded to a power of two with the scratch
// row; the mask [Tp, size+Tp] covers the set's rows then the new tokens. With sparse nil it
// is the full set, the one dense attention uses.
func (f *pass) rowSet(sparse []bool) rowSet {
	x := f.x
	keep := func(i, slot int) bool {
		return sparse == nil || !sparse[i] || f.seqs[i].picked[slot/x.pageSize]
	}
	rs := rowSet{off: make([]int, len(f.seqs))}
	var rows []int32
	var rowSeq, rowSlot []int
	for i := range f.seqs {
		s := f.seqs[i].in
		rs.off[i] = len(rows)
		for slot := 0; slot < s.Start; slot++ {
			if keep(i, slot) {
				rows = append(rows, int32(x.physSlot(s.Pages, slot)))
				rowSeq, rowSlot = append(rowSeq, i), append(rowSlot, slot)
			}
		}
	}
	n := len(rows)
	rs.size = pow2(n)
	for len(rows) < rs.size { // padding reads the scratch row
		rows = append(rows, x.scratchRow())
	}
	K := rs.size + f.Tp
	mask := make([]float32, f.Tp*K)
	for i := range mask {
		mask[i] = maskedOut
	}
	for q := 0; q < f.Tp; q++ {
		row := mask[q*K : (q+1)*K]
		if q >= f.T { // padding: attends to itself only, so that its row stays finite
			row[rs.size+q] = 0
			continue
		}
		for r := 0; r < n; r++ {
			if rowSeq[r] == f.tokSeq[q] && x.visible(f.tokSlot[q], rowSlot[r]) {
				row[r] = 0
			}
		}
		for u := 0; u < f.T; u++ {
			if f.tokSeq[u] == f.tokSeq[q] && x.visible(f.tokSlot[q], f.tokSlot[u]) && keep(f.tokSeq[u], f.tokSlot[u]) {
				row[rs.size+u] = 0
			}
		}
	}
	rs.idx = tensors.FromFlatDataAndDimensions(rows, rs.size, 1)
	rs.mask = tensors.FromFlatDataAndDimensions(mask, f.Tp, K)
	return rs
}

// mode is layer l's attention mode for sequence i: its config's where it attends sparsely,
// full otherwise.
func (f *pass) mode(i, l int) sparse.Mode {
	if !f.seqs[i].active {
		return sparse.Full
	}
	return f.seqs[i].in.Sparse.Layers[l]
}

// selects says whether sequence i picks pages at layer l: a select layer of an active
// sequence without a forced selection, with a sparse layer above it before the next select.
func (f *pass) selects(i, l int) bool {
	if f.mode(i, l) != sparse.Select || f.seqs[i].forced {
		return false
	}
	for m := l + 1; m < len(f.x.layers); m++ {
		switch f.mode(i, m) {
		case sparse.Sparse:
			return true
		case sparse.Select:
			return false
		}
	}
	return false
}

// segment is the shape of one graph of a forward pass: layers [from, to); the first takes
// the token ids, the last returns logits, the others take and return the activations. sets
// gives each layer's context set (0 the full set, j the j-th sparse one); probe asks for the
// last layer's largest probabilities over heads for the rows of probeIdx.
type segment struct {
	from, to    int
	first, last bool
	sets        []int
	sizes       []int // padded rows of the sparse sets
	probe       int   // padded selecting sequences (0: none)
}

func (s *segment) key(f *pass) string {
	return fmt.Sprintf("forward/%d/%d/%d/%d-%d/%v/%v/%v/%v/%d",
		f.Tp, f.Pp, f.Np, s.from, s.to, s.first, s.last, s.sets, s.sizes, s.probe)
}

// run runs the segments in order, picking pages after each select layer, and fills the
// logits rows and every sequence's Attended and Context.
func (f *pass) run(logits [][]float32) error {
	x := f.x
	L := len(x.layers)
	for from := 0; from < L; {
		// The segment runs to the next layer where some sequence picks pages, inclusive.
		to := from + 1
		for ; to < L; to++ {
			if f.anySelects(to - 1) {
				break
			}
		}
		if err := f.runSegment(from, to, logits); err != nil {
			return err
		}
		from = to
	}
	for i := range f.seqs {
		sp := &f.seqs[i]
		ctx := f.slotsSeen(i, nil)
		sp.in.Context = ctx
		sp.in.Attended = ctx
		if sp.active {
			sp.in.Attended = int(math.Round(float64(sp.attended) / float64(L)))
		}
	}
	return nil
}

func (f *pass) anySelects(l int) bool {
	for i := range f.seqs {
		if f.selects(i, l) {
			return true
		}
	}
	return false
}

// slotsSeen counts the slots sequence i's last token attends to: within its window, and in
// its picked pages when picked is set.
func (f *pass) slotsSeen(i int, picked []bool) int {
	s := f.seqs[i].in
	last := s.Start + len(s.Tokens) - 1
	n := 0
	for slot := 0; slot <= last; slot++ {
		if f.x.visible(last, slot) && (picked == nil || picked[slot/f.x.pageSize]) {
			n++
		}
	}
	return n
}

// runSegment runs layers [from, to): it builds their sparse context sets from the current
// picks, runs the segment's graph, keeps the activations (or writes the logits) and, where
// the last layer selects, picks the pages the next segments read.
func (f *pass) runSegment(from, to int, logits [][]float32) error {
	x := f.x
	L := len(x.layers)
	seg := segment{from: from, to: to, first: from == 0, last: to == L, sets: make([]int, to-from)}
	// Layers whose sparse sequences are the same share a set.
	var extra []rowSet
	defer func() {
		for i := range extra {
			extra[i].free()
		}
	}()
	bySig := map[string]int{}
	for l := from; l < to; l++ {
		var sig strings.Builder
		var sp []bool
		for i := range f.seqs {
			if f.mode(i, l) == sparse.Sparse {
				if sp == nil {
					sp = make([]bool, len(f.seqs))
				}
				sp[i] = true
				fmt.Fprintf(&sig, "%d,", i)
			}
		}
		for i := range f.seqs {
			if f.seqs[i].active {
				if sp != nil && sp[i] {
					f.seqs[i].attended += f.slotsSeen(i, f.seqs[i].picked)
				} else {
					f.seqs[i].attended += f.slotsSeen(i, nil)
				}
			}
		}
		if sp == nil {
			continue
		}
		j, ok := bySig[sig.String()]
		if !ok {
			extra = append(extra, f.rowSet(sp))
			j = len(extra)
			bySig[sig.String()] = j
			seg.sizes = append(seg.sizes, extra[j-1].size)
		}
		seg.sets[l-from] = j
	}
	in := []*tensors.Tensor{f.act, f.cos, f.sin, f.newIdx, f.full.idx, f.full.mask}
	if seg.first {
		in[0] = f.ids
	}
	for i := range extra {
		in = append(in, extra[i].idx, extra[i].mask)
	}
	if seg.last {
		in = append(in, f.logitIdx)
	}
	// The sequences that pick pages at the last layer, and their last tokens' rows.
	var selecting []int
	if !seg.last {
		for i := range f.seqs {
			if f.selects(i, to-1) {
				selecting = append(selecting, i)
			}
		}
	}
	var probeIdx *tensors.Tensor
	if len(selecting) > 0 {
		seg.probe = pow2(len(selecting))
		rows := make([]int32, seg.probe)
		for j, i := range selecting {
			rows[j] = int32(f.seqs[i].t0) // a decode token: its only row
		}
		probeIdx = tensors.FromFlatDataAndDimensions(rows, seg.probe, 1)
		defer probeIdx.FinalizeAll()
		in = append(in, probeIdx)
	}
	outs, err := x.runCache(seg.key(f), "paged-forward", x.segmentGraph(seg), in, x.kv[2*from:2*to], true)
	if err != nil {
		return err
	}
	defer finalize(outs)
	want := 1
	if seg.probe > 0 {
		want++
	}
	if len(outs) != want {
		return fmt.Errorf("the forward graph returned %d outputs besides the cache, want %d", len(outs), want)
	}
	if seg.last {
		if err := f.readLogits(outs[0], logits); err != nil {
			return err
		}
	} else {
		if f.act != nil {
			f.act.FinalizeAll()
		}
		f.act, outs[0] = outs[0], nil
	}
	if seg.probe > 0 {
		set := &f.full
		if j := seg.sets[to-1-from]; j > 0 {
			set = &extra[j-1]
		}
		return f.pick(outs[1], selecting, set)
	}
	return nil
}

func (f *pass) readLogits(out *tensors.Tensor, logits [][]float32) error {
	V := f.x.cfg.VocabSize
	flat, err := tensors.CopyFlatData[float32](out)
	if err != nil {
		return fmt.Errorf("reading logits: %w", err)
	}
	if len(flat) != f.Np*V {
		return fmt.Errorf("forward returned %d logits, want %d", len(flat), f.Np*V)
	}
	n := 0
	for i := range f.b.Seqs {
		if f.b.Seqs[i].Logits {
			copy(logits[i], flat[n*V:(n+1)*V])
			n++
		}
	}
	return nil
}

// pick reads the largest probabilities over heads that the selecting sequences' tokens gave
// each row of set (then each new token), puts each sequence's in slot order, and picks its
// pages with runtime/sparse's PageScores and Pick. A selecting sequence is not sparse at its
// select layer, so set holds all its slots, in order, from its offset.
func (f *pass) pick(out *tensors.Tensor, selecting []int, set *rowSet) error {
	flat, err := tensors.CopyFlatData[float32](out)
	if err != nil {
		return fmt.Errorf("reading attention probabilities: %w", err)
	}
	K := set.size + f.Tp
	if len(flat) < len(selecting)*K {
		return fmt.Errorf("forward returned %d attention probabilities, want %d", len(flat), len(selecting)*K)
	}
	for j, i := range selecting {
		sp := &f.seqs[i]
		s := sp.in
		n := s.Start + 1
		row := flat[j*K : (j+1)*K]
		probs := make([]float32, n)
		copy(probs, row[set.off[i]:set.off[i]+s.Start])
		probs[s.Start] = row[set.size+sp.t0]
		scores := make([]float32, sp.pages)
		sparse.PageScores(probs, 1, n, n, f.x.pageSize, scores)
		clear(sp.picked)
		for _, p := range s.Sparse.Pick(scores, sp.pages, nil) {
			sp.picked[p] = true
		}
	}
	return nil
}

// segmentGraph builds a segment's graph. Its inputs are the token ids [Tp,1] int32 (first
// segment) or the activations [Tp, hidden]; cos and sin [Tp, head_dim/2]; the new tokens'
// cache rows [Tp,1]; the full set's rows [Pp,1] and mask [Tp, Pp+Tp]; each sparse set's rows
// and mask likewise; the logits rows [Np,1] (last segment); the selecting tokens' rows
// [probe,1] (when probe); the cache of its layers (keys then values per layer); then every
// weight. It returns the logits [Np, vocab] (last segment) or the activations, then the
// largest probability over heads of each selecting token for each context row of the last
// layer's set [probe, rows+Tp] (when probe), then the updated cache.
func (x *Model) segmentGraph(seg segment) buildFunc {
	return func(inputs []*graph.Node) []*graph.Node {
		x.compilations++
		cfg := &x.cfg
		cos, sin, newIdx := inputs[1], inputs[2], inputs[3]
		nSets := 1 + len(seg.sizes)
		setIdx, setMask := make([]*graph.Node, nSets), make([]*graph.Node, nSets)
		for j := range nSets {
			setIdx[j], setMask[j] = inputs[4+2*j], inputs[5+2*j]
		}
		k := 4 + 2*nSets
		var logitIdx, probeIdx *graph.Node
		if seg.last {
			logitIdx = inputs[k]
			k++
		}
		if seg.probe > 0 {
			probeIdx = inputs[k]
			k++
		}
		cache := inputs[k : k+2*(seg.to-seg.from)]
		w := inputs[k+2*(seg.to-seg.from):]
		T := newIdx.Shape().Dimensions[0]
		g := newIdx.Graph()
		h, hd := cfg.HiddenSize, cfg.HeadDim
		nh, nkv := cfg.NumHeads, cfg.NumKVHeads
		group := nh / nkv
		half := hd / 2
		eps := float64(cfg.RMSNormEps)

		cos = graph.Reshape(cos, T, 1, half)
		sin = graph.Reshape(sin, T, 1, half)
		scale := graph.Scalar(g, dtypes.Float32, 1/math.Sqrt(float64(hd)))

		outs := make([]*graph.Node, 1, 2+2*(seg.to-seg.from))
		act := inputs[0]
		if seg.first {
			act = graph.Reshape(graph.Gather(w[x.embed], act), T, h)
		}
		var probs *graph.Node
		for i := seg.from; i < seg.to; i++ {
			l := &x.layers[i]
			q, k, v := attnInputs(cfg, act, w, l, cos, sin)
			kc, vc := cache[2*(i-seg.from)], cache[2*(i-seg.from)+1]
			kStored, kRead := x.toCache(graph.Reshape(k, T, nkv*hd))
			vStored, vRead := x.toCache(graph.Reshape(v, T, nkv*hd))
			outs = append(outs, x.writeRows(kc, newIdx, kStored), x.writeRows(vc, newIdx, vStored))
			idx, mask := setIdx[seg.sets[i-seg.from]], setMask[seg.sets[i-seg.from]]
			S := idx.Shape().Dimensions[0]
			pastK := graph.Reshape(x.fromCache(graph.Gather(kc, idx)), S, nkv, hd)
			pastV := graph.Reshape(x.fromCache(graph.Gather(vc, idx)), S, nkv, hd)
			keys := graph.Concatenate([]*graph.Node{pastK, graph.Reshape(kRead, T, nkv, hd)}, 0) // [S+T, nkv, hd]
			vals := graph.Concatenate([]*graph.Node{pastV, graph.Reshape(vRead, T, nkv, hd)}, 0) // [S+T, nkv, hd]
			q = graph.Reshape(q, T, nkv, group, hd)
			mask = graph.Reshape(mask, 1, 1, T, S+T)
			scores := graph.Add(graph.Mul(graph.Einsum("tkgd,skd->kgts", q, keys), scale), mask) // [nkv, group, T, S+T]
			pr := graph.Softmax(scores, -1)
			if seg.probe > 0 && i == seg.to-1 {
				// The max over heads is exact, so the host's page scores are the sums of what
				// any head's probabilities would give.
				best := graph.Reshape(graph.ReduceMax(pr, 0, 1), T, S+T)
				probs = graph.Reshape(graph.Gather(best, probeIdx), seg.probe, S+T)
			}
			att := graph.Einsum("kgts,skd->tkgd", pr, vals)
			act = layerOutput(cfg, act, att, w, l)
		}
		if seg.last {
			Np := logitIdx.Shape().Dimensions[0]
			last := graph.Reshape(graph.Gather(act, logitIdx), Np, h)
			last = rmsNorm(last, w[x.outNorm], eps)
			outs[0] = linear(last, w[x.output])
		} else {
			outs[0] = act
		}
		if probs != nil {
			outs = append(outs[:1], append([]*graph.Node{probs}, outs[1:]...)...)
		}
		return outs
	}
}
