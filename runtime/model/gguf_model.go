package model

import (
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/arborlabs/arbor/runtime/tokenizer"
)

// loadGGUFWeights reads a GGUF file's config, weights (un-permuting llama Q/K) and vocabulary.
func loadGGUFWeights(path string) (*Model, error) {
	f, release, err := ReadGGUF(path)
	if err != nil {
		return nil, err
	}
	m, err := ModelFromGGUF(path, f)
	if err != nil {
		release()
		return nil, err
	}
	m.release = release
	return m, nil
}

// ModelFromGGUF builds a Model (without Tokenizer) from a parsed GGUF file: the config from
// the {arch}.* keys, the weights from the tensors (Q and K of the llama architecture are
// un-permuted into Hugging Face row order, which copies them; the rest alias f's data), and
// Vocab from the tokenizer.* keys. file names the file in errors.
func ModelFromGGUF(file string, f *GGUFFile) (*Model, error) {
	cfg, err := configFromGGUF(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	vocab, err := vocabFromGGUF(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if vocab != nil {
		for _, id := range []int32{vocab.EOS, vocab.EOT} {
			if id >= 0 && (len(cfg.EOS) == 0 || cfg.EOS[0] != id) {
				cfg.EOS = append(cfg.EOS, id)
			}
		}
	}
	if err := checkLayerCount(cfg, len(f.Tensors)); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	w := &Weights{}
	permute := cfg.Arch == ArchLlama
	for _, sl := range slots(cfg, w) {
		t := f.Tensor(sl.gguf)
		if t == nil {
			return nil, fmt.Errorf("%s: tensor %s is missing", file, sl.gguf)
		}
		if err := checkSlotShape(&sl, sl.gguf, t, file); err != nil {
			return nil, err
		}
		if permute && sl.rope > 0 {
			if t, err = permuteRoPE(t, sl.rope, false); err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
		}
		*sl.dst = t
	}
	if cfg.TieEmbeddings {
		w.Output = w.TokenEmbed
	}
	return &Model{Config: *cfg, Weights: *w, Vocab: vocab, Path: file}, nil
}

// metaInt reads an integer of any GGUF integer type that fits an int and is >= 0.
func metaInt(f *GGUFFile, key string, def int, required bool) (int, error) {
	v, ok := f.Get(key)
	if !ok {
		if required {
			return 0, fmt.Errorf("metadata key %s is missing", key)
		}
		return def, nil
	}
	var n int64
	switch x := v.(type) {
	case uint8:
		n = int64(x)
	case int8:
		n = int64(x)
	case uint16:
		n = int64(x)
	case int16:
		n = int64(x)
	case uint32:
		n = int64(x)
	case int32:
		n = int64(x)
	case int64:
		n = x
	case uint64:
		if x > math.MaxInt32 {
			return 0, fmt.Errorf("metadata key %s = %d is out of range", key, x)
		}
		n = int64(x)
	default:
		return 0, fmt.Errorf("metadata key %s is a %T, want an integer", key, v)
	}
	if n < 0 || n > math.MaxInt32 {
		return 0, fmt.Errorf("metadata key %s = %d is out of range", key, n)
	}
	return int(n), nil
}

func metaFloat(f *GGUFFile, key string, def float64, required bool) (float64, error) {
	v, ok := f.Get(key)
	if !ok {
		if required {
			return 0, fmt.Errorf("metadata key %s is missing", key)
		}
		return def, nil
	}
	switch x := v.(type) {
	case float32:
		return float64(x), nil
	case float64:
		return x, nil
	}
	return 0, fmt.Errorf("metadata key %s is a %T, want a float", key, v)
}

func metaString(f *GGUFFile, key string) (string, bool, error) {
	v, ok := f.Get(key)
	if !ok {
		return "", false, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", false, fmt.Errorf("metadata key %s is a %T, want a string", key, v)
	}
	return s, true, nil
}

func configFromGGUF(f *GGUFFile) (*Config, error) {
	arch, ok, err := metaString(f, "general.architecture")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errors.New("metadata key general.architecture is missing")
	}
	switch arch {
	case ArchLlama, ArchQwen2, ArchQwen3:
	default:
		return nil, fmt.Errorf("unsupported general.architecture %q (want llama, qwen2 or qwen3)", arch)
	}
	c := &Config{Arch: arch}
	k := func(s string) string { return arch + "." + s }
	ints := []struct {
		key      string
		dst      *int
		required bool
	}{
		{"context_length", &c.MaxPositions, true},
		{"embedding_length", &c.HiddenSize, true},
		{"block_count", &c.NumLayers, true},
		{"feed_forward_length", &c.FFNSize, true},
		{"attention.head_count", &c.NumHeads, true},
		{"attention.sliding_window", &c.SlidingWindow, false},
	}
	for _, it := range ints {
		if *it.dst, err = metaInt(f, k(it.key), 0, it.required); err != nil {
			return nil, err
		}
	}
	if c.NumKVHeads, err = metaInt(f, k("attention.head_count_kv"), c.NumHeads, false); err != nil {
		return nil, err
	}
	if c.NumHeads == 0 {
		return nil, fmt.Errorf("metadata key %s is 0", k("attention.head_count"))
	}
	if c.HeadDim, err = metaInt(f, k("attention.key_length"), c.HiddenSize/c.NumHeads, false); err != nil {
		return nil, err
	}
	vdim, err := metaInt(f, k("attention.value_length"), c.HeadDim, false)
	if err != nil {
		return nil, err
	}
	if vdim != c.HeadDim {
		return nil, fmt.Errorf("%s %d differs from the key length %d (not supported)",
			k("attention.value_length"), vdim, c.HeadDim)
	}
	rot, err := metaInt(f, k("rope.dimension_count"), c.HeadDim, false)
	if err != nil {
		return nil, err
	}
	if rot != c.HeadDim {
		return nil, fmt.Errorf("%s %d differs from the head size %d (partial RoPE is not supported)",
			k("rope.dimension_count"), rot, c.HeadDim)
	}
	eps, err := metaFloat(f, k("attention.layer_norm_rms_epsilon"), 0, true)
	if err != nil {
		return nil, err
	}
	c.RMSNormEps = float32(eps)
	if c.RopeTheta, err = metaFloat(f, k("rope.freq_base"), 10000, false); err != nil {
		return nil, err
	}
	if typ, ok, err := metaString(f, k("rope.scaling.type")); err != nil {
		return nil, err
	} else if ok && typ != "none" {
		return nil, fmt.Errorf("unsupported %s %q", k("rope.scaling.type"), typ)
	}
	// The embedding tells the vocabulary size when the key is absent.
	embRows := 0
	if t := f.Tensor("token_embd.weight"); t != nil && len(t.Shape) == 2 {
		embRows = t.Shape[0]
	}
	if c.VocabSize, err = metaInt(f, k("vocab_size"), embRows, false); err != nil {
		return nil, err
	}
	c.TieEmbeddings = f.Tensor("output.weight") == nil
	c.AttnBias = f.Tensor("blk.0.attn_q.bias") != nil
	c.QKNorm = f.Tensor("blk.0.attn_q_norm.weight") != nil
	if t := f.Tensor("rope_freqs.weight"); t != nil {
		if len(t.Shape) != 1 || (c.HeadDim > 0 && t.Shape[0] != c.HeadDim/2) {
			return nil, fmt.Errorf("tensor rope_freqs.weight has shape %v, want [%d] (head_dim/2)", t.Shape,
				c.HeadDim/2)
		}
		c.RopeFactors = t.Float32s()
		for i, v := range c.RopeFactors {
			if !(v > 0) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("tensor rope_freqs.weight: factor %d is %v", i, v)
			}
		}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// vocabFromGGUF collects tokenizer.ggml.* and tokenizer.chat_template; nil when the file has
// no tokenizer.ggml.tokens.
func vocabFromGGUF(f *GGUFFile) (*tokenizer.GGUFVocab, error) {
	tv, ok := f.Get("tokenizer.ggml.tokens")
	if !ok {
		return nil, nil
	}
	v := &tokenizer.GGUFVocab{BOS: -1, EOS: -1, UNK: -1, PAD: -1, EOT: -1}
	if v.Tokens, ok = tv.([]string); !ok {
		return nil, fmt.Errorf("metadata key tokenizer.ggml.tokens is a %T, want an array of strings", tv)
	}
	var err error
	for key, dst := range map[string]*string{"tokenizer.ggml.model": &v.Model, "tokenizer.ggml.pre": &v.Pre,
		"tokenizer.chat_template": &v.ChatTemplate} {
		if *dst, _, err = metaString(f, key); err != nil {
			return nil, err
		}
	}
	if x, ok := f.Get("tokenizer.ggml.scores"); ok {
		if v.Scores, ok = x.([]float32); !ok {
			return nil, fmt.Errorf("metadata key tokenizer.ggml.scores is a %T, want an array of float32", x)
		}
		if len(v.Scores) != len(v.Tokens) {
			return nil, fmt.Errorf("tokenizer.ggml.scores has %d entries for %d tokens", len(v.Scores), len(v.Tokens))
		}
	}
	if x, ok := f.Get("tokenizer.ggml.token_type"); ok {
		if v.TokenTypes, ok = x.([]int32); !ok {
			return nil, fmt.Errorf("metadata key tokenizer.ggml.token_type is a %T, want an array of int32", x)
		}
		if len(v.TokenTypes) != len(v.Tokens) {
			return nil, fmt.Errorf("tokenizer.ggml.token_type has %d entries for %d tokens",
				len(v.TokenTypes), len(v.Tokens))
		}
	}
	if x, ok := f.Get("tokenizer.ggml.merges"); ok {
		if v.Merges, ok = x.([]string); !ok {
			return nil, fmt.Errorf("metadata key tokenizer.ggml.merges is a %T, want an array of strings", x)
		}
	}
	for key, dst := range map[string]*int32{"bos_token_id": &v.BOS, "eos_token_id": &v.EOS,
		"unknown_token_id": &v.UNK, "padding_token_id": &v.PAD, "eot_token_id": &v.EOT} {
		n, err := metaInt(f, "tokenizer.ggml."+key, -1, false)
		if err != nil {
			return nil, err
		}
		if n >= len(v.Tokens) {
			return nil, fmt.Errorf("tokenizer.ggml.%s %d is not below the %d tokens", key, n, len(v.Tokens))
		}
		*dst = int32(n)
	}
	for key, dst := range map[string]*bool{"add_bos_token": &v.AddBOS, "add_eos_token": &v.AddEOS,
		"add_space_prefix": &v.AddSpacePfx} {
		if x, ok := f.Get("tokenizer.ggml." + key); ok {
			if *dst, ok = x.(bool); !ok {
				return nil, fmt.Errorf("metadata key tokenizer.ggml.%s is a %T, want a bool", key, x)
			}
		}
	}
	return v, nil
}

// permuteRoPE reorders the rows of a Q or K weight (or the elements of its bias) between the
// Hugging Face rotate-half order and the interleaved order of llama-architecture GGUF files.
// Within each head of D rows, GGUF row 2i+s is HF row s*D/2+i (i < D/2, s in {0, 1}): the two
// halves that rotate-half pairs up become adjacent rows. toGGUF selects the direction. Rows are
// moved whole, so q8_0 rows (whole blocks) permute exactly.
func permuteRoPE(t *Tensor, heads int, toGGUF bool) (*Tensor, error) {
	var n, rowBytes int
	switch len(t.Shape) {
	case 2:
		n, rowBytes = t.Shape[0], t.DType.RowBytes(t.Shape[1])
	case 1:
		if t.DType == Q8_0 {
			return nil, fmt.Errorf("tensor %s: cannot permute the elements of a q8_0 vector", t.Name)
		}
		n, rowBytes = t.Shape[0], t.DType.RowBytes(1)
	default:
		return nil, fmt.Errorf("tensor %s: cannot permute shape %v", t.Name, t.Shape)
	}
	if heads <= 0 || n%heads != 0 || (n/heads)%2 != 0 {
		return nil, fmt.Errorf("tensor %s: %d rows do not split into %d heads of an even size", t.Name, n, heads)
	}
	out := &Tensor{Name: t.Name, DType: t.DType, Shape: append([]int(nil), t.Shape...), Data: make([]byte, len(t.Data))}
	d := n / heads
	for h := 0; h < heads; h++ {
		for i := 0; i < d/2; i++ {
			for s := 0; s < 2; s++ {
				g := h*d + 2*i + s
				hf := h*d + s*d/2 + i
				src, dst := hf, g
				if !toGGUF {
					src, dst = g, hf
				}
				copy(out.Data[dst*rowBytes:(dst+1)*rowBytes], t.Data[src*rowBytes:(src+1)*rowBytes])
			}
		}
	}
	return out, nil
}

// ggufFileType is general.file_type (llama_ftype) for weights mostly of dtype d.
func ggufFileType(d DType) uint32 {
	switch d {
	case F16:
		return 1
	case Q8_0:
		return 7
	case BF16:
		return 32
	}
	return 0 // all f32
}

// RopeFreqFactors returns what llama.cpp's rope_freqs.weight holds for cfg: per frequency, the
// unscaled inverse frequency divided by the scaled one (1 where unscaled). Nil when cfg has
// neither RopeScaling nor RopeFactors.
func RopeFreqFactors(cfg *Config) []float32 {
	if cfg.RopeFactors != nil {
		return append([]float32(nil), cfg.RopeFactors...)
	}
	if cfg.RopeScaling == nil {
		return nil
	}
	plain := *cfg
	plain.RopeScaling = nil
	base, scaled := plain.RopeInvFreq(), cfg.RopeInvFreq()
	out := make([]float32, len(base))
	for i := range out {
		out[i] = float32(base[i] / scaled[i])
	}
	return out
}

// WriteGGUF writes a GGUF v3 file that llama.cpp can load: general.* and {arch}.* metadata
// (mistral is written as llama), the vocabulary's tokenizer.* keys when vocab is not nil (its
// tokens padded with "[PAD<id>]" unused tokens up to cfg.VocabSize, as llama.cpp's converter
// does), rope_freqs.weight for Llama 3 scaling, and the tensors under GGUF names: matrices in
// their own dtype (Q and K permuted for interleaved RoPE in the llama architecture), 1-D
// tensors as f32. Tensors are streamed from w; nothing is held twice.
func WriteGGUF(path string, cfg *Config, w *Weights, vocab *tokenizer.GGUFVocab, name string) error {
	if err := w.Check(cfg); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	arch := cfg.Arch
	if arch == ArchMistral {
		arch = ArchLlama
	}
	u32 := func(n int) any { return uint32(n) }
	k := func(s string) string { return arch + "." + s }
	kvs := []GGUFKV{
		{"general.architecture", arch},
		{"general.name", name},
		{"general.file_type", ggufFileType(w.Layers[0].Q.DType)},
		{"general.quantization_version", uint32(2)},
		{"general.alignment", uint32(ggufDefaultAlignment)},
		{k("vocab_size"), u32(cfg.VocabSize)},
		{k("context_length"), u32(cfg.MaxPositions)},
		{k("embedding_length"), u32(cfg.HiddenSize)},
		{k("block_count"), u32(cfg.NumLayers)},
		{k("feed_forward_length"), u32(cfg.FFNSize)},
		{k("attention.head_count"), u32(cfg.NumHeads)},
		{k("attention.head_count_kv"), u32(cfg.NumKVHeads)},
		{k("attention.key_length"), u32(cfg.HeadDim)},
		{k("attention.value_length"), u32(cfg.HeadDim)},
		{k("rope.dimension_count"), u32(cfg.HeadDim)},
		{k("rope.freq_base"), float32(cfg.RopeTheta)},
		{k("attention.layer_norm_rms_epsilon"), cfg.RMSNormEps},
	}
	if cfg.SlidingWindow > 0 {
		kvs = append(kvs, GGUFKV{k("attention.sliding_window"), u32(cfg.SlidingWindow)})
	}
	if vocab != nil {
		vk, err := vocabKVs(vocab, cfg.VocabSize)
		if err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		kvs = append(kvs, vk...)
	}
	var outs []ggufTensorOut
	if fac := RopeFreqFactors(cfg); fac != nil {
		t, err := NewTensor("rope_freqs.weight", F32, []int{len(fac)}, fac)
		if err != nil {
			return err
		}
		outs = append(outs, tensorOut(t, t.Name))
	}
	permute := arch == ArchLlama
	for _, sl := range slots(cfg, w) {
		t := *sl.dst
		switch {
		case len(t.Shape) == 1:
			if t.DType != F32 {
				c, err := t.Convert(F32)
				if err != nil {
					return fmt.Errorf("write %s: %w", path, err)
				}
				t = c
			}
			if permute && sl.rope > 0 {
				p, err := permuteRoPE(t, sl.rope, true)
				if err != nil {
					return fmt.Errorf("write %s: %w", path, err)
				}
				t = p
			}
			outs = append(outs, tensorOut(t, sl.gguf))
		case permute && sl.rope > 0:
			outs = append(outs, permutedOut(t, sl.gguf, sl.rope))
		default:
			outs = append(outs, tensorOut(t, sl.gguf))
		}
	}
	return writeGGUF(path, kvs, outs)
}

// permutedOut writes a Q or K matrix's rows in GGUF llama order without copying the matrix.
func permutedOut(t *Tensor, name string, heads int) ggufTensorOut {
	o := tensorOut(t, name)
	o.write = func(w io.Writer) error {
		n, rb := t.Shape[0], t.DType.RowBytes(t.Shape[1])
		d := n / heads
		for h := 0; h < heads; h++ {
			for g := 0; g < d; g++ { // GGUF row g of the head is HF row (g%2)*d/2 + g/2
				src := h*d + (g%2)*(d/2) + g/2
				if _, err := w.Write(t.Data[src*rb : (src+1)*rb]); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return o
}

// vocabKVs renders a vocabulary as GGUF metadata, padded to vocabSize tokens.
func vocabKVs(v *tokenizer.GGUFVocab, vocabSize int) ([]GGUFKV, error) {
	n := len(v.Tokens)
	if n > vocabSize {
		return nil, fmt.Errorf("the vocabulary has %d tokens, more than the model's %d", n, vocabSize)
	}
	if v.Scores != nil && len(v.Scores) != n {
		return nil, fmt.Errorf("the vocabulary has %d scores for %d tokens", len(v.Scores), n)
	}
	if v.TokenTypes != nil && len(v.TokenTypes) != n {
		return nil, fmt.Errorf("the vocabulary has %d token types for %d tokens", len(v.TokenTypes), n)
	}
	tokens := append(make([]string, 0, vocabSize), v.Tokens...)
	types := v.TokenTypes
	scores := v.Scores
	if n < vocabSize {
		if types == nil {
			types = make([]int32, n)
			for i := range types {
				types[i] = ggufTokenNormal
			}
		}
		types = append(append(make([]int32, 0, vocabSize), types...), make([]int32, vocabSize-n)...)
		if scores != nil {
			scores = append(append(make([]float32, 0, vocabSize), scores...), make([]float32, vocabSize-n)...)
		}
		for i := n; i < vocabSize; i++ {
			tokens = append(tokens, fmt.Sprintf("[PAD%d]", i))
			types[i] = ggufTokenUnused
		}
	}
	kvs := []GGUFKV{{"tokenizer.ggml.model", v.Model}}
	if v.Pre != "" {
		kvs = append(kvs, GGUFKV{"tokenizer.ggml.pre", v.Pre})
	}
	kvs = append(kvs, GGUFKV{"tokenizer.ggml.tokens", tokens})
	if scores != nil {
		kvs = append(kvs, GGUFKV{"tokenizer.ggml.scores", scores})
	}
	if types != nil {
		kvs = append(kvs, GGUFKV{"tokenizer.ggml.token_type", types})
	}
	if v.Merges != nil || v.Model == "gpt2" { // llama.cpp wants the key for BPE, even empty
		kvs = append(kvs, GGUFKV{"tokenizer.ggml.merges", append([]string{}, v.Merges...)})
	}
	for _, id := range []struct {
		key string
		v   int32
	}{{"bos_token_id", v.BOS}, {"eos_token_id", v.EOS}, {"unknown_token_id", v.UNK},
		{"padding_token_id", v.PAD}, {"eot_token_id", v.EOT}} {
		if id.v >= 0 {
			if int(id.v) >= vocabSize {
				return nil, fmt.Errorf("tokenizer %s %d is not below the vocabulary size %d", id.key, id.v, vocabSize)
			}
			kvs = append(kvs, GGUFKV{"tokenizer.ggml." + id.key, uint32(id.v)})
		}
	}
	kvs = append(kvs, GGUFKV{"tokenizer.ggml.add_bos_token", v.AddBOS},
		GGUFKV{"tokenizer.ggml.add_eos_token", v.AddEOS})
	if v.Model == "llama" || v.AddSpacePfx {
		kvs = append(kvs, GGUFKV{"tokenizer.ggml.add_space_prefix", v.AddSpacePfx})
	}
	if v.ChatTemplate != "" {
		kvs = append(kvs, GGUFKV{"tokenizer.chat_template", v.ChatTemplate})
	}
	return kvs, nil
}

// GGUF token types used when padding a vocabulary (llama.cpp's values).
const (
	ggufTokenNormal int32 = 1
	ggufTokenUnused int32 = 5
)
