package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/arborlabs/arbor/runtime/tokenizer"
)

// hfRope is config.json's rope_scaling (or transformers v5's rope_parameters, which also
// carries rope_theta).
type hfRope struct {
	RopeType       string   `json:"rope_type,omitempty"`
	Type           string   `json:"type,omitempty"`
	Factor         float64  `json:"factor,omitempty"`
	LowFreqFactor  float64  `json:"low_freq_factor,omitempty"`
	HighFreqFactor float64  `json:"high_freq_factor,omitempty"`
	OrigMaxPos     int      `json:"original_max_position_embeddings,omitempty"`
	RopeTheta      *float64 `json:"rope_theta,omitempty"`
}

// hfConfigIn is what we read of config.json; pointers tell absent from zero.
type hfConfigIn struct {
	ModelType        string          `json:"model_type"`
	VocabSize        int             `json:"vocab_size"`
	HiddenSize       int             `json:"hidden_size"`
	IntermediateSize int             `json:"intermediate_size"`
	NumLayers        int             `json:"num_hidden_layers"`
	NumHeads         int             `json:"num_attention_heads"`
	NumKVHeads       *int            `json:"num_key_value_heads"`
	HeadDim          *int            `json:"head_dim"`
	MaxPositions     *int            `json:"max_position_embeddings"`
	RMSNormEps       *float64        `json:"rms_norm_eps"`
	RopeTheta        *float64        `json:"rope_theta"`
	RopeScaling      *hfRope         `json:"rope_scaling"`
	RopeParameters   *hfRope         `json:"rope_parameters"`
	TieEmbeddings    *bool           `json:"tie_word_embeddings"`
	AttentionBias    *bool           `json:"attention_bias"`
	MLPBias          *bool           `json:"mlp_bias"`
	SlidingWindow    *int            `json:"sliding_window"`
	UseSlidingWindow *bool           `json:"use_sliding_window"`
	MaxWindowLayers  *int            `json:"max_window_layers"`
	HiddenAct        string          `json:"hidden_act"`
	TorchDType       string          `json:"torch_dtype"`
	EOSTokenID       json.RawMessage `json:"eos_token_id"`
}

// ParseHFConfig reads a Hugging Face config.json (model_type llama, mistral, qwen2 or qwen3).
// Defaults follow transformers: num_key_value_heads = num_attention_heads, head_dim =
// hidden_size/num_attention_heads, rope_theta 10000, rms_norm_eps 1e-6, untied embeddings.
// Config.EOS is config.json's eos_token_id, if any (generation_config.json's takes precedence
// in LoadWeights).
func ParseHFConfig(data []byte) (*Config, error) {
	var h hfConfigIn
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, err
	}
	c := &Config{Arch: h.ModelType, VocabSize: h.VocabSize, HiddenSize: h.HiddenSize,
		NumLayers: h.NumLayers, NumHeads: h.NumHeads, FFNSize: h.IntermediateSize}
	switch h.ModelType {
	case ArchLlama, ArchMistral, ArchQwen2, ArchQwen3:
	case "":
		return nil, errors.New("model_type is missing")
	default:
		return nil, fmt.Errorf("unsupported model_type %q (want llama, mistral, qwen2 or qwen3)", h.ModelType)
	}
	if h.HiddenAct != "" && h.HiddenAct != "silu" {
		return nil, fmt.Errorf("unsupported hidden_act %q (want silu)", h.HiddenAct)
	}
	if h.NumHeads <= 0 {
		return nil, fmt.Errorf("num_attention_heads must be positive, got %d", h.NumHeads)
	}
	c.NumKVHeads = h.NumHeads
	if h.NumKVHeads != nil {
		c.NumKVHeads = *h.NumKVHeads
	}
	c.HeadDim = h.HiddenSize / h.NumHeads
	if h.HeadDim != nil {
		c.HeadDim = *h.HeadDim
	}
	c.MaxPositions = map[string]int{ArchLlama: 2048, ArchMistral: 131072, ArchQwen2: 32768,
		ArchQwen3: 32768}[h.ModelType]
	if h.MaxPositions != nil {
		c.MaxPositions = *h.MaxPositions
	}
	c.RMSNormEps = 1e-6
	if h.RMSNormEps != nil {
		c.RMSNormEps = float32(*h.RMSNormEps)
	}
	c.RopeTheta = 10000
	if h.RopeTheta != nil {
		c.RopeTheta = *h.RopeTheta
	}
	rs := h.RopeScaling
	if rp := h.RopeParameters; rp != nil {
		if rp.RopeTheta != nil {
			c.RopeTheta = *rp.RopeTheta
		}
		if rs == nil {
			rs = rp
		}
	}
	if rs != nil {
		typ := rs.RopeType
		if typ == "" {
			typ = rs.Type
		}
		switch typ {
		case "default", "":
		case "llama3":
			c.RopeScaling = &RopeScaling{Type: typ, Factor: rs.Factor, LowFreqFactor: rs.LowFreqFactor,
				HighFreqFactor: rs.HighFreqFactor, OriginalMaxPositions: rs.OrigMaxPos}
		default:
			return nil, fmt.Errorf("unsupported rope_scaling type %q (only llama3)", typ)
		}
	}
	if h.TieEmbeddings != nil {
		c.TieEmbeddings = *h.TieEmbeddings
	}
	if h.MLPBias != nil && *h.MLPBias {
		return nil, errors.New("mlp_bias true is not supported")
	}
	switch h.ModelType {
	case ArchQwen2:
		c.AttnBias = true
	case ArchQwen3:
		c.QKNorm = true
	}
	if h.AttentionBias != nil && *h.AttentionBias && h.ModelType != ArchQwen2 {
		return nil, fmt.Errorf("attention_bias true is not supported for %s (it adds an o_proj bias)", h.ModelType)
	}
	switch h.ModelType {
	case ArchMistral:
		if h.SlidingWindow != nil && *h.SlidingWindow > 0 && *h.SlidingWindow < c.MaxPositions {
			c.SlidingWindow = *h.SlidingWindow
		}
	case ArchQwen2, ArchQwen3:
		if h.UseSlidingWindow != nil && *h.UseSlidingWindow {
			if h.MaxWindowLayers == nil || *h.MaxWindowLayers < h.NumLayers {
				return nil, errors.New("use_sliding_window true is not supported for qwen models")
			}
		}
	}
	eos, err := parseTokenIDs(h.EOSTokenID)
	if err != nil {
		return nil, fmt.Errorf("eos_token_id: %w", err)
	}
	c.EOS = eos
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// parseTokenIDs reads an int, a list of ints or null.
func parseTokenIDs(raw json.RawMessage) ([]int32, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return nil, nil
	}
	var one int32
	if err := json.Unmarshal(raw, &one); err == nil {
		return []int32{one}, nil
	}
	var many []int32
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, fmt.Errorf("want an int or a list of ints, got %s", s)
	}
	return many, nil
}

// readHFConfig reads dir/config.json and the eos ids of dir/generation_config.json.
func readHFConfig(dir string) (*Config, error) {
	p := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	gp := filepath.Join(dir, "generation_config.json")
	gdata, err := os.ReadFile(gp)
	if errors.Is(err, os.ErrNotExist) {
		gdata = nil
	} else if err != nil {
		return nil, err
	}
	return parseHFConfigs(p, data, gp, gdata)
}

// parseHFConfigs parses config.json and, when gdata is not nil, the eos ids of
// generation_config.json (p and gp name them in errors).
func parseHFConfigs(p string, data []byte, gp string, gdata []byte) (*Config, error) {
	cfg, err := ParseHFConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if gdata == nil {
		return cfg, nil
	}
	var g struct {
		EOS json.RawMessage `json:"eos_token_id"`
	}
	if err := json.Unmarshal(gdata, &g); err != nil {
		return nil, fmt.Errorf("%s: %w", gp, err)
	}
	eos, err := parseTokenIDs(g.EOS)
	if err != nil {
		return nil, fmt.Errorf("%s: eos_token_id: %w", gp, err)
	}
	if eos != nil {
		cfg.EOS = eos
	}
	return cfg, nil
}

// weightsFromSet picks cfg's tensors out of ts by their Hugging Face names, checking shapes.
func weightsFromSet(cfg *Config, ts *TensorSet, where string) (*Weights, error) {
	if err := checkLayerCount(cfg, len(ts.Tensors)); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	w := &Weights{}
	for _, sl := range slots(cfg, w) {
		t, ok := ts.Tensors[sl.hf]
		if !ok {
			return nil, fmt.Errorf("%s: tensor %s is missing", where, sl.hf)
		}
		if err := checkSlotShape(&sl, sl.hf, t, ts.Source[sl.hf]); err != nil {
			return nil, err
		}
		*sl.dst = t
	}
	if cfg.TieEmbeddings {
		w.Output = w.TokenEmbed
	}
	return w, nil
}

// loadHFWeights reads a Hugging Face directory's config and weights (no tokenizer).
func loadHFWeights(dir string) (*Model, error) {
	cfg, err := readHFConfig(dir)
	if err != nil {
		return nil, err
	}
	ts, err := ReadSafetensorsDir(dir)
	if err != nil {
		return nil, err
	}
	w, err := weightsFromSet(cfg, ts, dir)
	if err != nil {
		ts.Close()
		return nil, err
	}
	return &Model{Config: *cfg, Weights: *w, Path: dir, release: ts.Close}, nil
}

// LoadHFFiles builds a model from a Hugging Face directory's files held in memory, by name:
// config.json, model.safetensors, tokenizer.json, and optionally generation_config.json and
// tokenizer_config.json. name stands for the directory in errors. The weights alias
// model.safetensors's bytes, which must stay unchanged while the model is used.
func LoadHFFiles(name string, files map[string][]byte) (*Model, error) {
	at := func(f string) string { return name + "/" + f }
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json"} {
		if files[f] == nil {
			return nil, fmt.Errorf("load model %s: no %s", name, f)
		}
	}
	cfg, err := parseHFConfigs(at("config.json"), files["config.json"], at("generation_config.json"),
		files["generation_config.json"])
	if err != nil {
		return nil, err
	}
	tensors, _, err := ParseSafetensors(at("model.safetensors"), files["model.safetensors"])
	if err != nil {
		return nil, err
	}
	ts := newTensorSet()
	if err := ts.add(at("model.safetensors"), tensors); err != nil {
		return nil, err
	}
	w, err := weightsFromSet(cfg, ts, name)
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.FromBytes(files["tokenizer.json"], files["tokenizer_config.json"])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", at("tokenizer.json"), err)
	}
	return &Model{Config: *cfg, Weights: *w, Path: name, Tokenizer: tok}, nil
}

// hfConfigOut is the config.json WriteHF writes.
type hfConfigOut struct {
	Architectures    []string    `json:"architectures"`
	ModelType        string      `json:"model_type"`
	VocabSize        int         `json:"vocab_size"`
	HiddenSize       int         `json:"hidden_size"`
	IntermediateSize int         `json:"intermediate_size"`
	NumLayers        int         `json:"num_hidden_layers"`
	NumHeads         int         `json:"num_attention_heads"`
	NumKVHeads       int         `json:"num_key_value_heads"`
	HeadDim          int         `json:"head_dim"`
	MaxPositions     int         `json:"max_position_embeddings"`
	RMSNormEps       json.Number `json:"rms_norm_eps"`
	RopeTheta        float64     `json:"rope_theta"`
	RopeScaling      *hfRope     `json:"rope_scaling"`
	TieEmbeddings    bool        `json:"tie_word_embeddings"`
	AttentionBias    *bool       `json:"attention_bias,omitempty"`
	SlidingWindow    *int        `json:"sliding_window,omitempty"`
	UseSlidingWindow *bool       `json:"use_sliding_window,omitempty"`
	HiddenAct        string      `json:"hidden_act"`
	TorchDType       string      `json:"torch_dtype"`
	EOSTokenID       any         `json:"eos_token_id,omitempty"`
}

var hfArchitectures = map[string]string{ArchLlama: "LlamaForCausalLM", ArchMistral: "MistralForCausalLM",
	ArchQwen2: "Qwen2ForCausalLM", ArchQwen3: "Qwen3ForCausalLM"}

// MarshalHFConfig renders cfg as a Hugging Face config.json; torchDType is informational
// ("bfloat16", "float16" or "float32").
func MarshalHFConfig(cfg *Config, torchDType string) ([]byte, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.RopeFactors != nil && cfg.RopeScaling == nil {
		return nil, errors.New("config has rope_freqs factors but no llama3 rope_scaling; config.json cannot " +
			"express them")
	}
	if cfg.AttnBias != (cfg.Arch == ArchQwen2) {
		return nil, fmt.Errorf("%s with attention biases = %v cannot be written as config.json", cfg.Arch, cfg.AttnBias)
	}
	if cfg.QKNorm != (cfg.Arch == ArchQwen3) {
		return nil, fmt.Errorf("%s with q/k norms = %v cannot be written as config.json", cfg.Arch, cfg.QKNorm)
	}
	if cfg.SlidingWindow > 0 && cfg.Arch != ArchMistral {
		return nil, fmt.Errorf("a sliding window is only written for mistral, not %s", cfg.Arch)
	}
	o := hfConfigOut{Architectures: []string{hfArchitectures[cfg.Arch]}, ModelType: cfg.Arch,
		VocabSize: cfg.VocabSize, HiddenSize: cfg.HiddenSize, IntermediateSize: cfg.FFNSize,
		NumLayers: cfg.NumLayers, NumHeads: cfg.NumHeads, NumKVHeads: cfg.NumKVHeads, HeadDim: cfg.HeadDim,
		MaxPositions: cfg.MaxPositions,
		RMSNormEps:   json.Number(strconv.FormatFloat(float64(cfg.RMSNormEps), 'g', -1, 32)),
		RopeTheta:    cfg.RopeTheta, TieEmbeddings: cfg.TieEmbeddings, HiddenAct: "silu", TorchDType: torchDType}
	if s := cfg.RopeScaling; s != nil {
		o.RopeScaling = &hfRope{RopeType: s.Type, Factor: s.Factor, LowFreqFactor: s.LowFreqFactor,
			HighFreqFactor: s.HighFreqFactor, OrigMaxPos: s.OriginalMaxPositions}
	}
	f := false
	switch cfg.Arch {
	case ArchLlama, ArchQwen3:
		o.AttentionBias = &f
	case ArchMistral:
		if cfg.SlidingWindow > 0 {
			o.SlidingWindow = &cfg.SlidingWindow
		}
	}
	if cfg.Arch == ArchQwen2 || cfg.Arch == ArchQwen3 {
		o.UseSlidingWindow = &f
	}
	o.EOSTokenID = eosJSON(cfg.EOS)
	return json.MarshalIndent(o, "", "  ")
}

func eosJSON(eos []int32) any {
	switch len(eos) {
	case 0:
		return nil
	case 1:
		return eos[0]
	}
	return eos
}

var torchDTypes = map[DType]string{F32: "float32", F16: "float16", BF16: "bfloat16"}

// WriteHF writes a Hugging Face directory: config.json, generation_config.json,
// model.safetensors (one file, tensors in f32, f16 or bf16 as they are) and tokenizerFiles
// (file name -> contents, e.g. tokenizer.json, tokenizer_config.json) verbatim. The directory is
// created if needed.
func WriteHF(dir string, cfg *Config, w *Weights, tokenizerFiles map[string][]byte) error {
	if err := w.Check(cfg); err != nil {
		return fmt.Errorf("write %s: %w", dir, err)
	}
	for name := range tokenizerFiles {
		switch {
		case name == "" || name != filepath.Base(name) || strings.ContainsAny(name, `/\`) || name == "." ||
			name == "..":
			return fmt.Errorf("write %s: bad tokenizer file name %q", dir, name)
		case name == "config.json" || name == "generation_config.json" || strings.HasSuffix(name, ".safetensors") ||
			name == "model.safetensors.index.json":
			return fmt.Errorf("write %s: tokenizer file %q would overwrite a model file", dir, name)
		}
	}
	var tensors []*Tensor
	for _, sl := range slots(cfg, w) {
		t := *sl.dst
		c := *t
		c.Name = sl.hf
		tensors = append(tensors, &c)
	}
	cj, err := MarshalHFConfig(cfg, torchDTypes[w.Layers[0].Q.DType])
	if err != nil {
		return fmt.Errorf("write %s: config.json: %w", dir, err)
	}
	gen := map[string]any{"do_sample": false}
	if e := eosJSON(cfg.EOS); e != nil {
		gen["eos_token_id"] = e
	}
	gj, err := json.MarshalIndent(gen, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := WriteSafetensors(filepath.Join(dir, "model.safetensors"), tensors, nil); err != nil {
		return err
	}
	files := map[string][]byte{"config.json": cj, "generation_config.json": gj}
	for k, v := range tokenizerFiles {
		files[k] = v
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
