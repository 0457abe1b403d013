package xla

import (
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego" // registers the pure-Go "go" backend
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/arborlabs/arbor/runtime/backend"
	"github.com/arborlabs/arbor/runtime/kv"
	"github.com/arborlabs/arbor/runtime/model"
)

// DefaultBackend is the gomlx backend configuration used when Options.Backend is empty: gomlx's
// pure-Go backend, which needs no PJRT plugin, running one op at a time. Its default mode runs
// independent ops concurrently, and in gomlx v0.26.0 that mode has a data race (the race
// detector reports it in simplego's executeNode, on the per-node use counts); ops_sequential
// avoids it and keeps the parallelism inside each op (the matrix products).
const DefaultBackend = "go:ops_sequential"

// Backends lists the gomlx backends this binary registers: "go" always, and "xla" (PJRT
// plugins: CUDA, CPU) when built with -tags pjrt.
func Backends() []string {
	names := backends.List()
	slices.Sort(names)
	return names
}

// Options configure New.
type Options struct {
	// Backend is a gomlx backend configuration ("<name>[:<config>]", as backends.NewWithConfig
	// takes it); "" means DefaultBackend. Only backends this binary registers can be named:
	// this package registers "go" alone.
	Backend string
	// NumPages and PageSize size the KV cache: NumPages*PageSize token slots per layer, as
	// in the cpu backend. Zero means kv.DefaultPageSize slots a page and 4096 slots in all.
	NumPages int
	PageSize int
	// MaxGraphs bounds the compiled graphs kept for Forward, CopySlots and ShiftKeys (least
	// recently used dropped first); zero means DefaultMaxGraphs.
	MaxGraphs int
	// CacheUpdate is how the graphs write rows into the KV cache: UpdateScatter,
	// UpdateSlices, or "" to choose by the backend's capabilities (slices where it has
	// DynamicUpdateSlice).
	CacheUpdate string
	// KV is the KV cache's element type: backend.KVF16 (the zero value, the default) or
	// backend.KVF32. New keys and values are rounded to it when written (f16: to nearest,
	// ties to even, as the cpu backend's F16C conversion does, so both caches hold the same
	// values); attention reads them back as float32 and computes in float32. An f16 cache is
	// stored as Float16 on backends that have the type (XLA); gomlx's pure-Go backend has
	// none, so there it holds the rounded values in Float32: the same numbers, not the
	// memory saving.
	KV backend.KVType
}

// Model holds a model's weights and its paged KV cache on a gomlx device and runs forward
// passes over them. It is not safe for concurrent use.
type Model struct {
	cfg     model.Config
	backend backends.Backend
	// weights are the device tensors in the order the graphs take them, after each graph's
	// per-step inputs (and, for Forward, the cache).
	weights []*tensors.Tensor
	embed   int // index in weights of the token embedding
	outNorm int
	output  int // == embed when tied
	layers  []layerIdx
	invFreq []float64

	// The paged KV cache on the device: per layer, keys (after RoPE) then values, each
	// [numPages*pageSize+1, kvHeads*headDim] (the last row is scratch for padding). See doc.go.
	numPages, pageSize int
	kv                 []*tensors.Tensor
	// graphs holds the compiled graphs (forward, copy, shift), least recently used out first.
	graphs *graphCache
	// broken is set when a failed execution lost the (donated) cache.
	broken error
	// update is how the graphs write into the cache (UpdateScatter or UpdateSlices).
	update string
	// kvF16 says the cache holds binary16 values (Options.KV); kvDType is the element type
	// of its tensors: Float16, or Float32 where the backend has no Float16 (see roundF16).
	kvF16   bool
	kvDType dtypes.DType

	// compilations counts the graphs built and compiled so far: the graph functions run once
	// per new input shape (a miss of graphs).
	compilations int
}

// KV is the KV cache's element type (Options.KV).
func (x *Model) KV() backend.KVType {
	if x.kvF16 {
		return backend.KVF16
	}
	return backend.KVF32
}

// Compilations returns how many graphs the model has compiled so far: one per distinct
// (padded) input shape seen by Forward, CopySlots and ShiftKeys. Compiled graphs are cached,
// so a repeated shape does not count again (unless it was evicted in between).
func (x *Model) Compilations() int { return x.compilations }

// layerIdx are one decoder block's weight indices in Model.weights; -1 where the architecture
// has no such tensor.
type layerIdx struct {
	attnNorm, q, k, v, o    int
	qBias, kBias, vBias     int
	qNorm, kNorm            int
	ffnNorm, gate, up, down int
}

// New validates m's config, dequantizes its weights to f32 and uploads them once to the gomlx
// backend that opt names. The model's own tensors are not kept: m may be closed afterwards.
func New(m *model.Model, opt Options) (*Model, error) {
	cfg := m.Config
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("xla backend: %w", err)
	}
	w := &m.Weights
	if len(w.Layers) != cfg.NumLayers {
		return nil, fmt.Errorf("xla backend: %d layers of weights, config says %d", len(w.Layers), cfg.NumLayers)
	}
	conf := opt.Backend
	if conf == "" {
		conf = DefaultBackend
	}
	var be backends.Backend
	err := catch(func() (err error) {
		be, err = backends.NewWithConfig(conf)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("xla backend: opening gomlx backend %q: %w", conf, err)
	}
	if opt.PageSize <= 0 {
		opt.PageSize = kv.DefaultPageSize
	}
	if opt.NumPages <= 0 {
		opt.NumPages = (4096 + opt.PageSize - 1) / opt.PageSize
	}
	update, err := chooseUpdate(opt.CacheUpdate, be.Capabilities(), conf)
	if err != nil {
		be.Finalize()
		return nil, fmt.Errorf("xla backend: %w", err)
	}
	x := &Model{
		cfg: cfg, backend: be, invFreq: cfg.RopeInvFreq(),
		numPages: opt.NumPages, pageSize: opt.PageSize, update: update,
		kvF16: opt.KV == backend.KVF16, kvDType: dtypes.Float32,
	}
	switch {
	case opt.KV != backend.KVF16 && opt.KV != backend.KVF32:
		be.Finalize()
		return nil, fmt.Errorf("xla backend: unknown KV cache type %v", opt.KV)
	case x.kvF16 && be.Capabilities().DTypes[dtypes.Float16]:
		x.kvDType = dtypes.Float16
	}
	if err := catch(func() error { return x.upload(w) }); err != nil {
		x.Close()
		return nil, fmt.Errorf("xla backend: %w", err)
	}
	x.newCache()
	x.graphs = newGraphCache(be, opt.MaxGraphs)
	return x, nil
}

// upload dequantizes and transfers every weight, recording its index.
func (x *Model) upload(w *model.Weights) error {
	cfg := &x.cfg
	h, hd := cfg.HiddenSize, cfg.HeadDim
	qDim, kvDim := cfg.NumHeads*hd, cfg.NumKVHeads*hd
	add := func(t *model.Tensor, what string, dims ...int) (int, error) {
		if t == nil {
			return -1, fmt.Errorf("%s: missing", what)
		}
		if err := t.Check(); err != nil {
			return -1, fmt.Errorf("%s: %w", what, err)
		}
		want := 1
		for _, d := range dims {
			want *= d
		}
		if t.NumElements() != want {
			return -1, fmt.Errorf("%s: tensor %s has shape %v, want %v", what, t.Name, t.Shape, dims)
		}
		dev := tensors.FromFlatDataAndDimensions(t.Float32s(), dims...)
		if err := dev.MaterializeOnDevice(x.backend, false, 0); err != nil {
			dev.FinalizeAll()
			return -1, fmt.Errorf("%s: uploading %s: %w", what, t.Name, err)
		}
		dev.FinalizeLocal() // the host copy is no longer needed
		x.weights = append(x.weights, dev)
		return len(x.weights) - 1, nil
	}
	opt := func(t *model.Tensor, what string, want bool, dims ...int) (int, error) {
		if !want {
			return -1, nil
		}
		return add(t, what, dims...)
	}
	var err error
	if x.embed, err = add(w.TokenEmbed, "token embedding", cfg.VocabSize, h); err != nil {
		return err
	}
	if x.outNorm, err = add(w.OutputNorm, "output norm", h); err != nil {
		return err
	}
	x.output = x.embed
	if w.Output != nil && w.Output != w.TokenEmbed {
		if x.output, err = add(w.Output, "output", cfg.VocabSize, h); err != nil {
			return err
		}
	}
	x.layers = make([]layerIdx, cfg.NumLayers)
	for i := range w.Layers {
		lw, li := &w.Layers[i], &x.layers[i]
		specs := []struct {
			dst  *int
			t    *model.Tensor
			what string
			want bool
			dims []int
		}{
			{&li.attnNorm, lw.AttnNorm, "attn norm", true, []int{h}},
			{&li.q, lw.Q, "q", true, []int{qDim, h}},
			{&li.k, lw.K, "k", true, []int{kvDim, h}},
			{&li.v, lw.V, "v", true, []int{kvDim, h}},
			{&li.o, lw.O, "o", true, []int{h, qDim}},
			{&li.qBias, lw.QBias, "q bias", cfg.AttnBias, []int{qDim}},
			{&li.kBias, lw.KBias, "k bias", cfg.AttnBias, []int{kvDim}},
			{&li.vBias, lw.VBias, "v bias", cfg.AttnBias, []int{kvDim}},
			{&li.qNorm, lw.QNorm, "q norm", cfg.QKNorm, []int{hd}},
			{&li.kNorm, lw.KNorm, "k norm", cfg.QKNorm, []int{hd}},
			{&li.ffnNorm, lw.FFNNorm, "ffn norm", true, []int{h}},
			{&li.gate, lw.Gate, "gate", true, []int{cfg.FFNSize, h}},
			{&li.up, lw.Up, "up", true, []int{cfg.FFNSize, h}},
			{&li.down, lw.Down, "down", true, []int{h, cfg.FFNSize}},
		}
		for _, s := range specs {
			if *s.dst, err = opt(s.t, s.what, s.want, s.dims...); err != nil {
				return fmt.Errorf("layer %d: %w", i, err)
			}
		}
	}
	return nil
}

// catch runs fn, turning a panic into an error: gomlx reports some failures (an unknown
// backend, a tensor bound to another backend) by panicking.
func catch(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = e
			} else {
				err = fmt.Errorf("%v", r)
			}
		}
	}()
	return fn()
}

// VocabSize is the width of a logits row.
func (x *Model) VocabSize() int { return x.cfg.VocabSize }

// Close frees the device weights, the KV cache, the compiled graphs and the gomlx backend.
func (x *Model) Close() error {
	if x.graphs != nil {
		x.graphs.close()
		x.graphs = nil
	}
	for _, t := range x.kv {
		t.FinalizeAll()
	}
	x.kv = nil
	for _, w := range x.weights {
		w.FinalizeAll()
	}
	x.weights = nil
	if x.backend != nil {
		x.backend.Finalize()
		x.backend = nil
	}
	return nil
}

// linear is a projection: in [T, i] times weight [o, i] transposed, giving [T, o].
func linear(in, weight *graph.Node) *graph.Node { return graph.Einsum("ti,oi->to", in, weight) }

// rope rotates v [T, heads, head_dim] (rotate-half layout) by the angles whose cos and sin
// are given as [T, 1, head_dim/2].
//
// The halves are taken by a Gather, not a Slice: LossGraph differentiates through rope, and
// gomlx's gradient of a Slice is a Pad, an op its pure-Go backend lacks (v0.26.0), while that
// of a Gather is a ScatterSum, which it has. Both only move values, so the forward pass is
// the same.
func rope(v, cos, sin *graph.Node) *graph.Node {
	d := v.Shape().Dimensions
	T, heads, half := d[0], d[1], d[2]/2
	halves := graph.TransposeAllAxes(graph.Reshape(v, T, heads, 2, half), 2, 0, 1, 3) // [2, T, heads, half]
	pick := func(i int32) *graph.Node {
		return graph.Reshape(graph.Gather(halves, graph.Const(v.Graph(), []int32{i})), T, heads, half)
	}
	lo, hi := pick(0), pick(1)
	return graph.Concatenate([]*graph.Node{
		graph.Sub(graph.Mul(lo, cos), graph.Mul(hi, sin)),
		graph.Add(graph.Mul(lo, sin), graph.Mul(hi, cos)),
	}, -1)
}

// attnInputs is a decoder block's start: the attention norm, the Q/K/V projections (with
// Qwen2's biases), Qwen3's per-head Q/K norms and RoPE. act is [T, hidden]; it returns
// q [T, heads, hd], k and v [T, kv heads, hd]. It takes the config rather than a Model so
// that the training loss graph (LossGraph) runs the very same layers.
func attnInputs(cfg *model.Config, act *graph.Node, w []*graph.Node, l *layerIdx, cos, sin *graph.Node) (q, k, v *graph.Node) {
	T, hd, eps := act.Shape().Dimensions[0], cfg.HeadDim, float64(cfg.RMSNormEps)
	xn := rmsNorm(act, w[l.attnNorm], eps)
	q, k, v = linear(xn, w[l.q]), linear(xn, w[l.k]), linear(xn, w[l.v])
	if l.qBias >= 0 {
		q = graph.Add(q, lastAxis(w[l.qBias], 2))
		k = graph.Add(k, lastAxis(w[l.kBias], 2))
		v = graph.Add(v, lastAxis(w[l.vBias], 2))
	}
	q = graph.Reshape(q, T, cfg.NumHeads, hd)
	k = graph.Reshape(k, T, cfg.NumKVHeads, hd)
	v = graph.Reshape(v, T, cfg.NumKVHeads, hd)
	if l.qNorm >= 0 {
		q = rmsNorm(q, w[l.qNorm], eps)
		k = rmsNorm(k, w[l.kNorm], eps)
	}
	return rope(q, cos, sin), rope(k, cos, sin), v
}

// layerOutput is a decoder block's end: the output projection of the attention att
// [T, kv heads, group, hd] added to the residual act, then the SwiGLU MLP.
func layerOutput(cfg *model.Config, act, att *graph.Node, w []*graph.Node, l *layerIdx) *graph.Node {
	T, eps := act.Shape().Dimensions[0], float64(cfg.RMSNormEps)
	act = graph.Add(act, linear(graph.Reshape(att, T, cfg.NumHeads*cfg.HeadDim), w[l.o]))
	xn := rmsNorm(act, w[l.ffnNorm], eps)
	gate, up := linear(xn, w[l.gate]), linear(xn, w[l.up])
	return graph.Add(act, linear(graph.Mul(graph.Mul(gate, graph.Sigmoid(gate)), up), w[l.down]))
}

// rmsNorm normalizes v over its last axis and scales it by weight (shaped as that axis).
func rmsNorm(v, weight *graph.Node, eps float64) *graph.Node {
	ms := graph.ReduceAndKeep(graph.Square(v), graph.ReduceMean, -1)
	inv := graph.Rsqrt(graph.Add(ms, graph.Scalar(v.Graph(), dtypes.Float32, eps)))
	return graph.Mul(graph.Mul(v, inv), lastAxis(weight, v.Rank()))
}

// lastAxis reshapes a vector to rank dimensions, all 1 but the last, so that it broadcasts
// along the last axis of a rank-dimensional operand (gomlx broadcasts only equal ranks).
func lastAxis(vec *graph.Node, rank int) *graph.Node {
	dims := make([]int, rank)
	for i := range dims {
		dims[i] = 1
	}
	dims[rank-1] = vec.Shape().Size()
	return graph.Reshape(vec, dims...)
}
