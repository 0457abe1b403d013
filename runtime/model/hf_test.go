package model

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Configs as the Hugging Face hub has them (trimmed of keys we ignore).
const (
	qwen25Config = `{
  "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
  "eos_token_id": 151645, "hidden_act": "silu", "hidden_size": 896, "initializer_range": 0.02,
  "intermediate_size": 4864, "max_position_embeddings": 32768, "max_window_layers": 21,
  "model_type": "qwen2", "num_attention_heads": 14, "num_hidden_layers": 24, "num_key_value_heads": 2,
  "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 32768, "tie_word_embeddings": true,
  "torch_dtype": "bfloat16", "transformers_version": "4.43.1", "use_cache": true, "use_sliding_window": false,
  "vocab_size": 151936}`
	llama32Config = `{
  "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
  "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "head_dim": 64, "hidden_act": "silu",
  "hidden_size": 2048, "initializer_range": 0.02, "intermediate_size": 8192, "max_position_embeddings": 131072,
  "mlp_bias": false, "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 16,
  "num_key_value_heads": 8, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
  "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
    "original_max_position_embeddings": 8192, "rope_type": "llama3"},
  "rope_theta": 500000.0, "tie_word_embeddings": true, "torch_dtype": "bfloat16", "use_cache": true,
  "vocab_size": 128256}`
	qwen3Config = `{
  "architectures": ["Qwen3ForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
  "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu", "hidden_size": 4096,
  "initializer_range": 0.02, "intermediate_size": 12288, "max_position_embeddings": 40960,
  "max_window_layers": 36, "model_type": "qwen3", "num_attention_heads": 32, "num_hidden_layers": 36,
  "num_key_value_heads": 8, "rms_norm_eps": 1e-06, "rope_scaling": null, "rope_theta": 1000000,
  "sliding_window": null, "tie_word_embeddings": false, "torch_dtype": "bfloat16", "use_cache": true,
  "use_sliding_window": false, "vocab_size": 151936}`
	mistralConfig = `{
  "architectures": ["MistralForCausalLM"], "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
  "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336, "max_position_embeddings": 32768,
  "model_type": "mistral", "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
  "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "sliding_window": 4096, "tie_word_embeddings": false,
  "torch_dtype": "bfloat16", "vocab_size": 32000}`
)

func TestParseHFConfig(t *testing.T) {
	for _, c := range []struct {
		name, json string
		want       func() Config
	}{
		{"qwen2.5-0.5b", qwen25Config, func() Config {
			c, _ := Shape("qwen2.5-0.5b")
			c.EOS = []int32{151645}
			return c
		}},
		{"llama-3.2-1b", llama32Config, func() Config {
			c, _ := Shape("llama-3.2-1b")
			c.EOS = []int32{128001, 128008, 128009}
			return c
		}},
		{"qwen3-8b", qwen3Config, func() Config {
			c, _ := Shape("qwen3-8b")
			c.EOS = []int32{151645}
			return c
		}},
		{"mistral-7b", mistralConfig, func() Config {
			return Config{Arch: ArchMistral, VocabSize: 32000, HiddenSize: 4096, NumLayers: 32, NumHeads: 32,
				NumKVHeads: 8, HeadDim: 128, FFNSize: 14336, MaxPositions: 32768, RMSNormEps: 1e-5, RopeTheta: 10000,
				SlidingWindow: 4096, EOS: []int32{2}}
		}},
	} {
		got, err := ParseHFConfig([]byte(c.json))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if want := c.want(); !reflect.DeepEqual(*got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, *got, want)
		}
	}
}

func TestParseHFConfigDefaultsAndErrors(t *testing.T) {
	c, err := ParseHFConfig([]byte(`{"model_type":"llama","vocab_size":100,"hidden_size":64,"intermediate_size":128,
		"num_hidden_layers":2,"num_attention_heads":4,"head_dim":null}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.NumKVHeads != 4 || c.HeadDim != 16 || c.RopeTheta != 10000 || c.RMSNormEps != 1e-6 ||
		c.TieEmbeddings || c.MaxPositions != 2048 || c.EOS != nil {
		t.Errorf("defaults: %+v", *c)
	}
	// transformers v5 moves rope_theta and the scaling into rope_parameters.
	c, err = ParseHFConfig([]byte(`{"model_type":"llama","vocab_size":100,"hidden_size":64,"intermediate_size":128,
		"num_hidden_layers":2,"num_attention_heads":4,"rope_parameters":{"rope_type":"llama3","rope_theta":500000,
		"factor":8,"low_freq_factor":1,"high_freq_factor":4,"original_max_position_embeddings":8192}}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.RopeTheta != 500000 || c.RopeScaling == nil || c.RopeScaling.Factor != 8 {
		t.Errorf("rope_parameters: %+v %+v", *c, c.RopeScaling)
	}
	base := `"vocab_size":100,"hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4`
	for _, bad := range []struct{ json, want string }{
		{`{"model_type":"gpt2",` + base + `}`, `unsupported model_type "gpt2"`},
		{`{` + base + `}`, "model_type is missing"},
		{`{"model_type":"llama","rope_scaling":{"type":"yarn","factor":4},` + base + `}`,
			`unsupported rope_scaling type "yarn"`},
		{`{"model_type":"llama","rope_scaling":{"rope_type":"linear","factor":4},` + base + `}`, `"linear"`},
		{`{"model_type":"llama","hidden_act":"gelu",` + base + `}`, "hidden_act"},
		{`{"model_type":"llama","attention_bias":true,` + base + `}`, "attention_bias"},
		{`{"model_type":"qwen2","use_sliding_window":true,"max_window_layers":1,` + base + `}`, "use_sliding_window"},
		{`{"model_type":"llama","num_key_value_heads":3,` + base + `}`, "not a multiple"},
		{`{"model_type":"llama","eos_token_id":"x",` + base + `}`, "eos_token_id"},
		{`{"model_type":"llama","vocab_size":100,"hidden_size":64,"num_hidden_layers":2,"num_attention_heads":4}`,
			"intermediate_size"},
		{`{"model_type":"llama","rope_scaling":{"rope_type":"llama3","factor":8},` + base + `}`, "invalid llama3"},
	} {
		if _, err := ParseHFConfig([]byte(bad.json)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: got %v, want an error with %q", bad.json, err, bad.want)
		}
	}
}

// sameWeights checks that two models' tensors are identical, slot by slot.
func sameWeights(t testing.TB, cfg *Config, got, want *Weights) {
	t.Helper()
	gs, ws := slots(cfg, got), slots(cfg, want)
	if len(gs) != len(ws) {
		t.Fatalf("%d tensors, want %d", len(gs), len(ws))
	}
	for i := range ws {
		sameTensor(t, ws[i].hf, *gs[i].dst, *ws[i].dst)
	}
	if cfg.TieEmbeddings && got.Output != got.TokenEmbed {
		t.Error("tied: Output is not TokenEmbed")
	}
	if !cfg.TieEmbeddings {
		sameTensor(t, "output", got.Output, want.Output)
	}
}

func TestHFRoundTrip(t *testing.T) {
	for _, name := range []string{"tiny", "tiny-llama", "tiny-qwen2", "mistral"} {
		for _, d := range []DType{F32, F16, BF16} {
			var cfg *Config
			if name == "mistral" {
				cfg = tinyConfig(t, "tiny-llama")
				cfg.Arch, cfg.RopeScaling, cfg.SlidingWindow, cfg.TieEmbeddings = ArchMistral, nil, 256, true
			} else {
				cfg = tinyConfig(t, name)
			}
			cfg.EOS = []int32{3, 7}
			w, err := NewRandom(cfg, d, 5)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "m")
			tok := map[string][]byte{"tokenizer.json": []byte(`{"x":1}`), "tokenizer_config.json": []byte(`{}`)}
			if err := WriteHF(dir, cfg, w, tok); err != nil {
				t.Fatalf("%s %v: %v", name, d, err)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "tokenizer.json")); string(b) != `{"x":1}` {
				t.Errorf("tokenizer.json not written verbatim: %q", b)
			}
			var gen map[string]any
			gb, _ := os.ReadFile(filepath.Join(dir, "generation_config.json"))
			json.Unmarshal(gb, &gen)
			if !reflect.DeepEqual(gen["eos_token_id"], []any{3.0, 7.0}) {
				t.Errorf("generation_config.json: %s", gb)
			}
			m, err := LoadWeights(dir)
			if err != nil {
				t.Fatalf("%s %v: %v", name, d, err)
			}
			if !reflect.DeepEqual(m.Config, *cfg) {
				t.Errorf("%s %v: config\n got %+v\nwant %+v", name, d, m.Config, *cfg)
			}
			sameWeights(t, cfg, &m.Weights, w)
			if m.Path != dir || m.Tokenizer != nil || m.Vocab != nil {
				t.Errorf("model fields: path %q tokenizer %v vocab %v", m.Path, m.Tokenizer, m.Vocab)
			}
			if err := m.Close(); err != nil {
				t.Error(err)
			}
		}
	}
}

func TestWriteHFErrors(t *testing.T) {
	cfg := tinyConfig(t, "tiny")
	w, _ := NewRandom(cfg, Q8_0, 1)
	if err := WriteHF(t.TempDir(), cfg, w, nil); err == nil || !strings.Contains(err.Error(), "q8_0") {
		t.Errorf("q8_0 weights: got %v", err)
	}
	// Converted to bf16, the same weights write and read back as their conversion.
	wb, err := ConvertWeights(cfg, w, BF16)
	if err != nil {
		t.Fatal(err)
	}
	if wb.Output != wb.TokenEmbed || wb.Layers[0].Q.DType != BF16 || wb.Layers[0].AttnNorm != w.Layers[0].AttnNorm {
		t.Error("ConvertWeights: tie lost, matrix not converted, or an f32 norm copied")
	}
	dir := t.TempDir()
	if err := WriteHF(dir, cfg, wb, nil); err != nil {
		t.Fatal(err)
	}
	m, err := LoadWeights(dir)
	if err != nil {
		t.Fatal(err)
	}
	sameWeights(t, cfg, &m.Weights, wb)
	m.Close()
	w, _ = NewRandom(cfg, BF16, 1)
	if err := WriteHF(t.TempDir(), cfg, w, map[string][]byte{"config.json": nil}); err == nil {
		t.Error("a tokenizer file named config.json: want an error")
	}
	if err := WriteHF(t.TempDir(), cfg, w, map[string][]byte{"../x.json": nil}); err == nil {
		t.Error("a tokenizer file outside the directory: want an error")
	}
	w.Layers[1].Up = nil
	if err := WriteHF(t.TempDir(), cfg, w, nil); err == nil ||
		!strings.Contains(err.Error(), "model.layers.1.mlp.up_proj.weight") {
		t.Errorf("missing tensor: got %v", err)
	}
	c2 := *cfg
	c2.RopeFactors = make([]float32, cfg.HeadDim/2)
	if _, err := MarshalHFConfig(&c2, "bfloat16"); err == nil {
		t.Error("rope factors without scaling: want an error")
	}
}

// writeTinyHF writes a tiny model and returns its directory, config and weights.
func writeTinyHF(t *testing.T, shape string) (string, *Config, *Weights) {
	t.Helper()
	cfg := tinyConfig(t, shape)
	w, err := NewRandom(cfg, BF16, 9)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := WriteHF(dir, cfg, w, nil); err != nil {
		t.Fatal(err)
	}
	return dir, cfg, w
}

func TestHFBadDirectories(t *testing.T) {
	dir, cfg, w := writeTinyHF(t, "tiny-qwen2")
	st := filepath.Join(dir, "model.safetensors")
	// Rewrite model.safetensors with one tensor left out, renamed or mis-shaped.
	rewrite := func(edit func(ts []*Tensor) []*Tensor) {
		var ts []*Tensor
		for _, s := range slots(cfg, w) {
			c := **s.dst
			c.Name = s.hf
			ts = append(ts, &c)
		}
		if err := WriteSafetensors(st, edit(ts), nil); err != nil {
			t.Fatal(err)
		}
	}
	rewrite(func(ts []*Tensor) []*Tensor { return ts[:len(ts)-1] }) // drop model.norm.weight
	_, err := LoadWeights(dir)
	if err == nil || !strings.Contains(err.Error(), "model.norm.weight") || !strings.Contains(err.Error(), dir) {
		t.Errorf("missing tensor: got %v", err)
	}
	rewrite(func(ts []*Tensor) []*Tensor {
		for _, x := range ts {
			if x.Name == "model.layers.1.self_attn.k_proj.bias" {
				x.Shape = []int{x.Shape[0] / 2, 2}
			}
		}
		return ts
	})
	_, err = LoadWeights(dir)
	if err == nil || !strings.Contains(err.Error(), "model.layers.1.self_attn.k_proj.bias") ||
		!strings.Contains(err.Error(), "model.safetensors") ||
		!strings.Contains(err.Error(), "want [32]") {
		t.Errorf("mis-shaped tensor: got %v", err)
	}
	// An extra tensor that nothing asks for is ignored.
	rewrite(func(ts []*Tensor) []*Tensor {
		return append(ts, randTensor(t, "model.layers.0.self_attn.rotary_emb.inv_freq", F32, []int{8}, 1))
	})
	m, err := LoadWeights(dir)
	if err != nil {
		t.Fatalf("extra tensor: %v", err)
	}
	m.Close()
	// Truncated safetensors.
	b, _ := os.ReadFile(st)
	os.WriteFile(st, b[:len(b)-10], 0o644)
	if _, err := LoadWeights(dir); err == nil || !strings.Contains(err.Error(), "out of bounds") {
		t.Errorf("truncated: got %v", err)
	}
	os.Remove(st)
	if _, err := LoadWeights(dir); err == nil || !strings.Contains(err.Error(), "model.safetensors") {
		t.Errorf("no weights: got %v", err)
	}
	// A config.json that disagrees with the weights: a tensor has the wrong shape.
	dir2, _, _ := writeTinyHF(t, "tiny")
	cj, _ := os.ReadFile(filepath.Join(dir2, "config.json"))
	os.WriteFile(filepath.Join(dir2, "config.json"), []byte(strings.Replace(string(cj),
		`"intermediate_size": 128`, `"intermediate_size": 96`, 1)), 0o644)
	if _, err := LoadWeights(dir2); err == nil || !strings.Contains(err.Error(), "mlp.gate_proj.weight") ||
		!strings.Contains(err.Error(), "intermediate_size") {
		t.Errorf("config/weights mismatch: got %v", err)
	}
	os.WriteFile(filepath.Join(dir2, "config.json"), []byte(`{"model_type":"bert"}`), 0o644)
	if _, err := LoadWeights(dir2); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("bad config: got %v", err)
	}
}

func TestHFGenerationConfigEOS(t *testing.T) {
	dir, _, _ := writeTinyHF(t, "tiny")
	for _, c := range []struct {
		gen  string
		want []int32
	}{
		{`{"eos_token_id": 151645}`, []int32{151645}},
		{`{"eos_token_id": [151645, 151643], "bos_token_id": 151643}`, []int32{151645, 151643}},
		{`{"do_sample": true}`, nil},
	} {
		os.WriteFile(filepath.Join(dir, "generation_config.json"), []byte(c.gen), 0o644)
		m, err := LoadWeights(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(m.Config.EOS, c.want) {
			t.Errorf("%s: EOS %v, want %v", c.gen, m.Config.EOS, c.want)
		}
		m.Close()
	}
	// Without generation_config.json, config.json's eos_token_id is used.
	os.Remove(filepath.Join(dir, "generation_config.json"))
	cj, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	var obj map[string]any
	json.Unmarshal(cj, &obj)
	obj["eos_token_id"] = 2
	cj, _ = json.Marshal(obj)
	os.WriteFile(filepath.Join(dir, "config.json"), cj, 0o644)
	m, err := LoadWeights(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.Config.EOS, []int32{2}) {
		t.Errorf("EOS from config.json: %v", m.Config.EOS)
	}
	m.Close()
}

func TestLoadNeedsTokenizer(t *testing.T) {
	dir, _, _ := writeTinyHF(t, "tiny")
	// No tokenizer.json: Load fails and says why; LoadWeights works.
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "tokenizer") {
		t.Errorf("Load without tokenizer.json: got %v", err)
	}
	if _, err := Load(filepath.Join(dir, "nope")); err == nil {
		t.Error("Load of a missing path: want an error")
	}
	if _, err := LoadWeights(filepath.Join(dir, "config.json")); err == nil || !strings.Contains(err.Error(), ".gguf") {
		t.Errorf("Load of a plain file: got %v", err)
	}
}

// TestLoadHFFilesErrors: a model held in memory names the missing or broken file. (A whole
// load is tested by package demo, whose embedded model comes this way.)
func TestLoadHFFilesErrors(t *testing.T) {
	dir, _, _ := writeTinyHF(t, "tiny")
	files := map[string][]byte{}
	for _, f := range []string{"config.json", "generation_config.json", "model.safetensors"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		files[f] = b
	}
	files["tokenizer.json"] = []byte(`{}`)
	for _, c := range []struct {
		drop, corrupt, want string
	}{
		{drop: "config.json", want: "mem: no config.json"},
		{drop: "model.safetensors", want: "no model.safetensors"},
		{drop: "tokenizer.json", want: "no tokenizer.json"},
		{corrupt: "model.safetensors", want: "mem/model.safetensors"},
		{corrupt: "config.json", want: "mem/config.json"},
		{corrupt: "generation_config.json", want: "mem/generation_config.json"},
		{want: "mem/tokenizer.json"}, // `{}` is no tokenizer
	} {
		fs := maps.Clone(files)
		delete(fs, c.drop)
		if c.corrupt != "" {
			fs[c.corrupt] = []byte("{not json")
		}
		_, err := LoadHFFiles("mem", fs)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("drop %q corrupt %q: got %v, want an error naming %q", c.drop, c.corrupt, err, c.want)
		}
	}
}
