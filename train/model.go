// Package train trains Arbor's decoder models on the CPU: a llama/qwen3-style transformer
// (token embedding, RMSNorm, causal self-attention with grouped-query heads, rotate-half RoPE
// and optional per-head Q/K norms, SwiGLU MLP, final norm, tied or untied output) with a masked
// softmax cross-entropy loss, hand-written backward pass and AdamW.
//
// It exists beside gomlx because Arbor trains its own small demo model on a couple of CPU
// cores, where gomlx's pure-Go backend manages only a few hundred tokens a second. This
// package keeps every activation the backward pass needs in buffers reused from step to
// step, runs its matrix products through an AVX2+FMA micro-kernel (portable Go elsewhere) on
// all cores, and uses exactly the math of the cpu inference backend (runtime/backend/cpu):
// RMSNorm with the sum of squares in float64, rotate-half RoPE with angles computed in float64,
// attention scaled by 1/sqrt(head_dim). What it trains, Arbor serves unchanged: Weights gives
// model.Weights for model.WriteHF, FromWeights loads them back.
//
// A step: Model.Step runs forward and backward over a batch of sequences and accumulates the
// gradient of the mean masked loss into Grads; ClipGradNorm and AdamW.Step update the model.
package train

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/arborlabs/arbor/runtime/model"
)

// Layer holds one decoder block's tensors, row-major, in model.LayerWeights' layout: a
// matrix is [out, in]. QNorm and KNorm are nil without Config.QKNorm.
type Layer struct {
	AttnNorm     []float32 // [hidden]
	Q            []float32 // [heads*head_dim, hidden]
	K, V         []float32 // [kv_heads*head_dim, hidden]
	O            []float32 // [hidden, heads*head_dim]
	QNorm, KNorm []float32 // [head_dim]
	FFNNorm      []float32 // [hidden]
	Gate, Up     []float32 // [ffn, hidden]
	Down         []float32 // [hidden, ffn]
}

// Params is a full set of tensors of a model: its weights, or their gradients, or an
// optimizer's moments.
type Params struct {
	Embed  []float32 // [vocab, hidden]
	Layers []Layer
	Norm   []float32 // [hidden]
	Output []float32 // [vocab, hidden]; nil when the embedding is tied
}

// Tensor names one tensor of a Params, for code that treats them alike.
type Tensor struct {
	Name   string
	Shape  []int
	Data   []float32
	Matrix bool // a projection (weight decay applies), not a norm or the embedding
}

// newParams allocates zeroed tensors of cfg's shapes.
func newParams(cfg *model.Config) Params {
	H, V, F, D := cfg.HiddenSize, cfg.VocabSize, cfg.FFNSize, cfg.HeadDim
	q, kv := cfg.NumHeads*D, cfg.NumKVHeads*D
	p := Params{Embed: make([]float32, V*H), Norm: make([]float32, H), Layers: make([]Layer, cfg.NumLayers)}
	if !cfg.TieEmbeddings {
		p.Output = make([]float32, V*H)
	}
	for i := range p.Layers {
		l := &p.Layers[i]
		l.AttnNorm = make([]float32, H)
		l.Q = make([]float32, q*H)
		l.K = make([]float32, kv*H)
		l.V = make([]float32, kv*H)
		l.O = make([]float32, H*q)
		if cfg.QKNorm {
			l.QNorm = make([]float32, D)
			l.KNorm = make([]float32, D)
		}
		l.FFNNorm = make([]float32, H)
		l.Gate = make([]float32, F*H)
		l.Up = make([]float32, F*H)
		l.Down = make([]float32, H*F)
	}
	return p
}

// Tensors lists p's tensors in a fixed order (embedding, layers, norm, output), with the
// shapes cfg gives them.
func (p *Params) Tensors(cfg *model.Config) []Tensor {
	H, V, F, D := cfg.HiddenSize, cfg.VocabSize, cfg.FFNSize, cfg.HeadDim
	q, kv := cfg.NumHeads*D, cfg.NumKVHeads*D
	ts := []Tensor{{"embed", []int{V, H}, p.Embed, false}}
	for i := range p.Layers {
		l := &p.Layers[i]
		n := fmt.Sprintf("layer%d.", i)
		ts = append(ts,
			Tensor{n + "attn_norm", []int{H}, l.AttnNorm, false},
			Tensor{n + "q", []int{q, H}, l.Q, true},
			Tensor{n + "k", []int{kv, H}, l.K, true},
			Tensor{n + "v", []int{kv, H}, l.V, true},
			Tensor{n + "o", []int{H, q}, l.O, true})
		if l.QNorm != nil {
			ts = append(ts, Tensor{n + "q_norm", []int{D}, l.QNorm, false},
				Tensor{n + "k_norm", []int{D}, l.KNorm, false})
		}
		ts = append(ts,
			Tensor{n + "ffn_norm", []int{H}, l.FFNNorm, false},
			Tensor{n + "gate", []int{F, H}, l.Gate, true},
			Tensor{n + "up", []int{F, H}, l.Up, true},
			Tensor{n + "down", []int{H, F}, l.Down, true})
	}
	ts = append(ts, Tensor{"norm", []int{H}, p.Norm, false})
	if p.Output != nil {
		ts = append(ts, Tensor{"output", []int{V, H}, p.Output, true})
	}
	return ts
}

// Model is a trainable decoder: its config, its float32 weights and the buffers of a step.
type Model struct {
	Config model.Config
	Params
	ws *workspace
	// docMask and docSep: see MaskDocuments.
	docMask bool
	docSep  int32
}

// MaskDocuments makes rows that pack several documents, each ended by the token sep, train as
// if each document were alone: positions restart at 0 after every sep, and no token attends
// to an earlier document. (Without it a short example packed after another is only ever seen
// with a context before it, and the model fails on it alone, as every request arrives.) The
// target after a sep is still predicted from the sep: give it no weight in the mask.
func (m *Model) MaskDocuments(sep int32) {
	m.docMask, m.docSep = true, sep
}

// DocumentSeparator returns MaskDocuments' separator, and whether documents are masked.
func (m *Model) DocumentSeparator() (int32, bool) { return m.docSep, m.docMask }

// DocumentStarts writes to starts[i] the index in row where token i's document begins: after
// the last separator before it when documents are masked (the separator ends its document),
// else 0. Positions count from there, and attention does not reach before it.
func (m *Model) DocumentStarts(row, starts []int32) {
	start := int32(0)
	for i, id := range row {
		starts[i] = start
		if m.docMask && id == m.docSep {
			start = int32(i + 1)
		}
	}
}

// checkConfig refuses what the trainer does not implement.
func checkConfig(cfg *model.Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	switch {
	case cfg.AttnBias:
		return fmt.Errorf("train: attention biases (qwen2) are not supported")
	case cfg.SlidingWindow > 0:
		return fmt.Errorf("train: sliding-window attention is not supported")
	}
	return nil
}

// NewModel makes a model of cfg's shape with random weights: matrices and the embedding are
// normal with std 0.02, O and Down (the projections into the residual stream) further scaled
// by 1/sqrt(2*layers); norms are ones. The same cfg and seed give the same weights.
func NewModel(cfg model.Config, seed uint64) (*Model, error) {
	if err := checkConfig(&cfg); err != nil {
		return nil, err
	}
	m := &Model{Config: cfg, Params: newParams(&cfg)}
	rng := rand.New(rand.NewPCG(seed, 0x7261696e))
	resid := 1 / math.Sqrt(2*float64(cfg.NumLayers))
	for _, t := range m.Tensors(&m.Config) {
		if len(t.Shape) == 1 {
			for i := range t.Data {
				t.Data[i] = 1
			}
			continue
		}
		std := 0.02
		if isResidualOut(t.Name) {
			std *= resid
		}
		for i := range t.Data {
			t.Data[i] = float32(rng.NormFloat64() * std)
		}
	}
	return m, nil
}

func isResidualOut(name string) bool {
	n := len(name)
	return n >= 2 && name[n-2:] == ".o" || n >= 5 && name[n-5:] == ".down"
}

// Weights returns the model's weights as f32 tensors in model.Weights' layout (copies), for
// model.WriteHF or a backend. With tied embeddings Output is TokenEmbed.
func (m *Model) Weights() *model.Weights {
	cfg := &m.Config
	w := &model.Weights{}
	mk := func(name string, shape []int, data []float32) *model.Tensor {
		t, err := model.NewTensor(name, model.F32, shape, data)
		if err != nil {
			panic(err) // shapes come from the config: cannot fail
		}
		return t
	}
	H, V, F, D := cfg.HiddenSize, cfg.VocabSize, cfg.FFNSize, cfg.HeadDim
	q, kv := cfg.NumHeads*D, cfg.NumKVHeads*D
	w.TokenEmbed = mk("token_embd.weight", []int{V, H}, m.Embed)
	w.Layers = make([]model.LayerWeights, len(m.Layers))
	for i := range m.Layers {
		l, lw := &m.Layers[i], &w.Layers[i]
		p := fmt.Sprintf("blk.%d.", i)
		lw.AttnNorm = mk(p+"attn_norm.weight", []int{H}, l.AttnNorm)
		lw.Q = mk(p+"attn_q.weight", []int{q, H}, l.Q)
		lw.K = mk(p+"attn_k.weight", []int{kv, H}, l.K)
		lw.V = mk(p+"attn_v.weight", []int{kv, H}, l.V)
		lw.O = mk(p+"attn_output.weight", []int{H, q}, l.O)
		if cfg.QKNorm {
			lw.QNorm = mk(p+"attn_q_norm.weight", []int{D}, l.QNorm)
			lw.KNorm = mk(p+"attn_k_norm.weight", []int{D}, l.KNorm)
		}
		lw.FFNNorm = mk(p+"ffn_norm.weight", []int{H}, l.FFNNorm)
		lw.Gate = mk(p+"ffn_gate.weight", []int{F, H}, l.Gate)
		lw.Up = mk(p+"ffn_up.weight", []int{F, H}, l.Up)
		lw.Down = mk(p+"ffn_down.weight", []int{H, F}, l.Down)
	}
	w.OutputNorm = mk("output_norm.weight", []int{H}, m.Norm)
	if cfg.TieEmbeddings {
		w.Output = w.TokenEmbed
	} else {
		w.Output = mk("output.weight", []int{V, H}, m.Output)
	}
	return w
}

// FromWeights makes a model from loaded weights (any dtype; decoded to float32), to resume
// training or fine-tune. With cfg.TieEmbeddings the embedding serves as the output.
func FromWeights(cfg model.Config, w *model.Weights) (*Model, error) {
	if err := checkConfig(&cfg); err != nil {
		return nil, err
	}
	if err := w.Check(&cfg); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	m := &Model{Config: cfg, Params: newParams(&cfg)}
	load := func(dst []float32, t *model.Tensor) {
		copy(dst, t.Float32s())
	}
	load(m.Embed, w.TokenEmbed)
	for i := range m.Layers {
		l, lw := &m.Layers[i], &w.Layers[i]
		load(l.AttnNorm, lw.AttnNorm)
		load(l.Q, lw.Q)
		load(l.K, lw.K)
		load(l.V, lw.V)
		load(l.O, lw.O)
		if cfg.QKNorm {
			load(l.QNorm, lw.QNorm)
			load(l.KNorm, lw.KNorm)
		}
		load(l.FFNNorm, lw.FFNNorm)
		load(l.Gate, lw.Gate)
		load(l.Up, lw.Up)
		load(l.Down, lw.Down)
	}
	load(m.Norm, w.OutputNorm)
	if !cfg.TieEmbeddings {
		load(m.Output, w.Output)
	}
	return m, nil
}

// NumParams is the number of trainable values (a tied embedding counted once).
func (m *Model) NumParams() int {
	n := 0
	for _, t := range m.Tensors(&m.Config) {
		n += len(t.Data)
	}
	return n
}
