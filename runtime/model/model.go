// Package model holds a decoder model's configuration and weights, and reads and writes the
// files users have: a Hugging Face directory (config.json + safetensors) or a single GGUF file.
//
// Whatever the file, weights are held in one canonical layout, the Hugging Face one: a matrix is
// [out, in] row-major (PyTorch's nn.Linear), and Q/K rows are in the rotate-half (NeoX) RoPE
// order. GGUF files of the llama architecture store Q and K permuted for interleaved RoPE; the
// GGUF reader undoes that permutation and the writer applies it, so backends see one layout.
//
// Files: Load (tokenizer included) and LoadWeights (without) open a Hugging Face directory
// (config.json, generation_config.json, model.safetensors or a sharded index) or a .gguf file,
// mmapped; WriteHF and WriteGGUF write them. Lower down: ReadSafetensors/ReadSafetensorsDir,
// ParseSafetensors, WriteSafetensors/EncodeSafetensors; ReadGGUF/ParseGGUF, ModelFromGGUF,
// WriteGGUFFile/EncodeGGUF; ParseHFConfig, MarshalHFConfig. Shape and NewRandom make models of
// real shapes with deterministic random weights. Every offset and size read from a file is
// bounds-checked: a bad file gives an error naming the file and the tensor or key.
package model

import (
	"fmt"
	"math"

	"github.com/arborlabs/arbor/runtime/tokenizer"
)

// Architecture names, as Hugging Face's model_type and GGUF's general.architecture spell them.
const (
	ArchLlama   = "llama"
	ArchQwen2   = "qwen2"
	ArchQwen3   = "qwen3"
	ArchMistral = "mistral"
)

// Config is what a forward pass needs to know about a model, whatever file it came from.
type Config struct {
	Arch         string  // one of the Arch* constants
	VocabSize    int     // rows of the token embedding
	HiddenSize   int     // d_model
	NumLayers    int     // decoder blocks
	NumHeads     int     // query heads
	NumKVHeads   int     // key/value heads (GQA when < NumHeads)
	HeadDim      int     // per head; not always HiddenSize/NumHeads (Qwen3)
	FFNSize      int     // intermediate size of the SwiGLU MLP
	MaxPositions int     // max_position_embeddings / context_length
	RMSNormEps   float32 // epsilon of every RMSNorm
	RopeTheta    float64 // RoPE base frequency
	RopeScaling  *RopeScaling
	// RopeFactors, when set, divide each inverse frequency (GGUF's rope_freqs.weight, which is
	// how llama.cpp stores Llama 3 scaling). Used instead of RopeScaling, never with it.
	RopeFactors []float32
	// TieEmbeddings: the output projection is the token embedding (no separate lm_head).
	TieEmbeddings bool
	// AttnBias: Q, K and V projections have biases (Qwen2).
	AttnBias bool
	// QKNorm: per-head RMSNorm on Q and K before RoPE (Qwen3).
	QKNorm bool
	// SlidingWindow is Mistral's attention window in tokens; 0 means full attention.
	SlidingWindow int
	// EOS are the token ids that end generation (generation_config.json's eos_token_id, or the
	// GGUF vocabulary's eos and eot ids); empty when the files name none.
	EOS []int32
}

// RopeScaling is the Llama 3 frequency scaling ("rope_type": "llama3"); other types are refused
// at load time rather than silently ignored.
type RopeScaling struct {
	Type                 string
	Factor               float64
	LowFreqFactor        float64
	HighFreqFactor       float64
	OriginalMaxPositions int
}

// Validate checks that the numbers describe a model a backend can run.
func (c *Config) Validate() error {
	switch c.Arch {
	case ArchLlama, ArchQwen2, ArchQwen3, ArchMistral:
	default:
		return fmt.Errorf("unsupported architecture %q (want llama, qwen2, qwen3 or mistral)", c.Arch)
	}
	pos := map[string]int{"vocab_size": c.VocabSize, "hidden_size": c.HiddenSize,
		"num_hidden_layers": c.NumLayers, "num_attention_heads": c.NumHeads,
		"num_key_value_heads": c.NumKVHeads, "head_dim": c.HeadDim, "intermediate_size": c.FFNSize}
	for k, v := range pos {
		if v <= 0 {
			return fmt.Errorf("%s must be positive, got %d", k, v)
		}
	}
	if c.NumHeads%c.NumKVHeads != 0 {
		return fmt.Errorf("num_attention_heads %d is not a multiple of num_key_value_heads %d", c.NumHeads,
			c.NumKVHeads)
	}
	if c.HeadDim%2 != 0 {
		return fmt.Errorf("head_dim %d must be even for RoPE", c.HeadDim)
	}
	if !(c.RopeTheta > 0) {
		return fmt.Errorf("rope_theta must be positive, got %v", c.RopeTheta)
	}
	if !(c.RMSNormEps > 0) {
		return fmt.Errorf("rms_norm_eps must be positive, got %v", c.RMSNormEps)
	}
	if c.RopeFactors != nil && len(c.RopeFactors) != c.HeadDim/2 {
		return fmt.Errorf("rope_freqs has %d factors, want head_dim/2 = %d", len(c.RopeFactors), c.HeadDim/2)
	}
	if s := c.RopeScaling; s != nil {
		if s.Type != "llama3" {
			return fmt.Errorf("unsupported rope_scaling type %q (only llama3)", s.Type)
		}
		if !(s.Factor > 0) || !(s.LowFreqFactor > 0) || !(s.HighFreqFactor > s.LowFreqFactor) ||
			s.OriginalMaxPositions <= 0 {
			return fmt.Errorf("invalid llama3 rope_scaling %+v", *s)
		}
	}
	return nil
}

// RopeInvFreq returns the HeadDim/2 inverse frequencies of RoPE, with Llama 3 scaling applied
// where the config has it (the same formula as transformers' _compute_llama3_parameters).
func (c *Config) RopeInvFreq() []float64 {
	half := c.HeadDim / 2
	inv := make([]float64, half)
	for i := range inv {
		inv[i] = 1 / math.Pow(c.RopeTheta, float64(2*i)/float64(c.HeadDim))
	}
	if len(c.RopeFactors) == half {
		for i := range inv {
			inv[i] /= float64(c.RopeFactors[i])
		}
		return inv
	}
	s := c.RopeScaling
	if s == nil {
		return inv
	}
	lowWavelen := float64(s.OriginalMaxPositions) / s.LowFreqFactor
	highWavelen := float64(s.OriginalMaxPositions) / s.HighFreqFactor
	for i, f := range inv {
		wavelen := 2 * math.Pi / f
		switch {
		case wavelen < highWavelen:
			// high frequency: unchanged
		case wavelen > lowWavelen:
			inv[i] = f / s.Factor
		default:
			smooth := (float64(s.OriginalMaxPositions)/wavelen - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor)
			inv[i] = (1-smooth)*f/s.Factor + smooth*f
		}
	}
	return inv
}

// Weights are a model's tensors in the canonical layout (see the package comment).
type Weights struct {
	TokenEmbed *Tensor // [vocab, hidden]
	Layers     []LayerWeights
	OutputNorm *Tensor // [hidden]
	Output     *Tensor // [vocab, hidden]; the same *Tensor as TokenEmbed when tied
}

// LayerWeights are one decoder block's tensors. Optional ones are nil when the architecture
// has none (biases outside Qwen2, Q/K norms outside Qwen3).
type LayerWeights struct {
	AttnNorm            *Tensor // [hidden]
	Q                   *Tensor // [heads*head_dim, hidden]
	K                   *Tensor // [kv_heads*head_dim, hidden]
	V                   *Tensor // [kv_heads*head_dim, hidden]
	O                   *Tensor // [hidden, heads*head_dim]
	QBias, KBias, VBias *Tensor // [heads*head_dim], [kv_heads*head_dim] (Qwen2)
	QNorm, KNorm        *Tensor // [head_dim] (Qwen3)
	FFNNorm             *Tensor // [hidden]
	Gate                *Tensor // [ffn, hidden]
	Up                  *Tensor // [ffn, hidden]
	Down                *Tensor // [hidden, ffn]
}

// Model is a loaded model: its config, its weights and the tokenizer its file carries.
type Model struct {
	Config  Config
	Weights Weights
	// Tokenizer is the model's own, from tokenizer.json or the GGUF metadata.
	Tokenizer *tokenizer.Tokenizer
	// Path is the file or directory it was loaded from ("" for the built-in demo).
	Path string
	// Vocab is the GGUF file's tokenizer metadata (nil for a Hugging Face directory, or a GGUF
	// file without tokenizer.ggml.* keys). WriteGGUF takes it as it is.
	Vocab *tokenizer.GGUFVocab
	// release frees what backs the tensors (an mmap); nil when nothing needs freeing.
	release func() error
}

// Close releases the memory that backs the weights (an mmap of the file). The Model and its
// tensors must not be used afterwards.
func (m *Model) Close() error {
	if m.release == nil {
		return nil
	}
	r := m.release
	m.release = nil
	return r()
}
