package model

import (
	"fmt"
	"slices"
	"strconv"
)

// slot is one tensor of a model: its names in each format, where it lives in Weights and the
// shape the config implies.
type slot struct {
	hf, gguf string
	dst      **Tensor
	shape    []int
	why      string // how shape follows from the config, for error messages
	rope     int    // 0, or the number of heads of a Q (or K) matrix whose rows GGUF llama permutes
}

// slots lists the tensors cfg calls for, pointing into w (whose Layers it allocates). Optional
// tensors (biases, Q/K norms, the untied output) appear only when cfg has them.
func slots(cfg *Config, w *Weights) []slot {
	H, V, F, D := cfg.HiddenSize, cfg.VocabSize, cfg.FFNSize, cfg.HeadDim
	q, kv := cfg.NumHeads*D, cfg.NumKVHeads*D
	if len(w.Layers) != cfg.NumLayers {
		w.Layers = make([]LayerWeights, cfg.NumLayers)
	}
	s := []slot{{hf: "model.embed_tokens.weight", gguf: "token_embd.weight", dst: &w.TokenEmbed,
		shape: []int{V, H}, why: "vocab_size, hidden_size"}}
	for i := range w.Layers {
		l := &w.Layers[i]
		n := strconv.Itoa(i)
		hp, gp := "model.layers."+n+".", "blk."+n+"."
		add := func(hf, gguf string, dst **Tensor, why string, rope int, shape ...int) {
			s = append(s, slot{hf: hp + hf, gguf: gp + gguf, dst: dst, shape: shape, why: why, rope: rope})
		}
		add("input_layernorm.weight", "attn_norm.weight", &l.AttnNorm, "hidden_size", 0, H)
		add("self_attn.q_proj.weight", "attn_q.weight", &l.Q, "num_attention_heads*head_dim, hidden_size",
			cfg.NumHeads, q, H)
		add("self_attn.k_proj.weight", "attn_k.weight", &l.K, "num_key_value_heads*head_dim, hidden_size",
			cfg.NumKVHeads, kv, H)
		add("self_attn.v_proj.weight", "attn_v.weight", &l.V, "num_key_value_heads*head_dim, hidden_size", 0, kv, H)
		add("self_attn.o_proj.weight", "attn_output.weight", &l.O, "hidden_size, num_attention_heads*head_dim", 0, H, q)
		if cfg.AttnBias {
			add("self_attn.q_proj.bias", "attn_q.bias", &l.QBias, "num_attention_heads*head_dim", cfg.NumHeads, q)
			add("self_attn.k_proj.bias", "attn_k.bias", &l.KBias, "num_key_value_heads*head_dim", cfg.NumKVHeads, kv)
			add("self_attn.v_proj.bias", "attn_v.bias", &l.VBias, "num_key_value_heads*head_dim", 0, kv)
		}
		if cfg.QKNorm {
			add("self_attn.q_norm.weight", "attn_q_norm.weight", &l.QNorm, "head_dim", 0, D)
			add("self_attn.k_norm.weight", "attn_k_norm.weight", &l.KNorm, "head_dim", 0, D)
		}
		add("post_attention_layernorm.weight", "ffn_norm.weight", &l.FFNNorm, "hidden_size", 0, H)
		add("mlp.gate_proj.weight", "ffn_gate.weight", &l.Gate, "intermediate_size, hidden_size", 0, F, H)
		add("mlp.up_proj.weight", "ffn_up.weight", &l.Up, "intermediate_size, hidden_size", 0, F, H)
		add("mlp.down_proj.weight", "ffn_down.weight", &l.Down, "hidden_size, intermediate_size", 0, H, F)
	}
	s = append(s, slot{hf: "model.norm.weight", gguf: "output_norm.weight", dst: &w.OutputNorm,
		shape: []int{H}, why: "hidden_size"})
	if !cfg.TieEmbeddings {
		s = append(s, slot{hf: "lm_head.weight", gguf: "output.weight", dst: &w.Output, shape: []int{V, H},
			why: "vocab_size, hidden_size"})
	}
	return s
}

// checkSlotShape reports a tensor whose shape is not what the config implies.
func checkSlotShape(sl *slot, name string, t *Tensor, file string) error {
	if !slices.Equal(t.Shape, sl.shape) {
		return fmt.Errorf("%s: tensor %s has shape %v, want %v (%s)", file, name, t.Shape, sl.shape, sl.why)
	}
	return nil
}

// Check reports whether w holds every tensor cfg calls for, well formed and of the shape the
// config implies; the error names the first missing or mis-shaped tensor (Hugging Face name).
// With tied embeddings Output may be nil or TokenEmbed.
func (w *Weights) Check(cfg *Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if len(w.Layers) != cfg.NumLayers {
		return fmt.Errorf("weights have %d layers, config %d", len(w.Layers), cfg.NumLayers)
	}
	for _, sl := range slots(cfg, w) {
		t := *sl.dst
		if t == nil {
			return fmt.Errorf("tensor %s is missing", sl.hf)
		}
		if err := t.Check(); err != nil {
			return fmt.Errorf("tensor %s: %w", sl.hf, err)
		}
		if err := checkSlotShape(&sl, sl.hf, t, "weights"); err != nil {
			return err
		}
	}
	if cfg.TieEmbeddings && w.Output != nil && w.Output != w.TokenEmbed {
		return fmt.Errorf("config ties the embeddings but Output is not TokenEmbed")
	}
	return nil
}

// layerTensors is the least number of tensors a decoder block has.
const layerTensors = 9

// checkLayerCount refuses a layer count the file's tensors cannot cover, before anything is
// allocated per layer (a corrupt count must not allocate billions of layers).
func checkLayerCount(cfg *Config, tensors int) error {
	if cfg.NumLayers > tensors/layerTensors {
		return fmt.Errorf("the config has %d layers but the file holds only %d tensors", cfg.NumLayers, tensors)
	}
	return nil
}

// ConvertWeights returns w with every matrix re-encoded as d and every 1-D tensor as F32 (the
// layout WriteGGUF writes; with d = F16 or BF16, what WriteHF can write from q8_0 weights).
// Tensors already in the right dtype are shared, not copied; a tied output stays tied.
func ConvertWeights(cfg *Config, w *Weights, d DType) (*Weights, error) {
	if err := w.Check(cfg); err != nil {
		return nil, err
	}
	out := &Weights{}
	src, dst := slots(cfg, w), slots(cfg, out)
	for i := range src {
		t := *src[i].dst
		want := d
		if len(t.Shape) == 1 {
			want = F32
		}
		c, err := t.Convert(want)
		if err != nil {
			return nil, err
		}
		*dst[i].dst = c
	}
	if cfg.TieEmbeddings {
		out.Output = out.TokenEmbed
	}
	return out, nil
}
