package model

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/arborlabs/arbor/runtime/tokenizer"
)

// Load opens a model: a Hugging Face directory (config.json, generation_config.json,
// model.safetensors or a sharded index, tokenizer.json) or a .gguf file. The weights are
// mmapped; call Close when done. It fails if the model's tokenizer cannot be built.
func Load(path string) (*Model, error) {
	m, err := LoadWeights(path)
	if err != nil {
		return nil, err
	}
	if m.Vocab != nil {
		m.Tokenizer, err = tokenizer.FromGGUF(m.Vocab)
	} else if isGGUFPath(path) {
		err = errors.New("the file has no tokenizer.ggml metadata")
	} else {
		m.Tokenizer, err = tokenizer.FromFile(filepath.Join(path, "tokenizer.json"))
	}
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("%s: tokenizer: %w", path, err)
	}
	return m, nil
}

// LoadWeights is Load without the tokenizer: the config (with EOS ids), the weights and, for
// GGUF, the raw vocabulary in Model.Vocab. Model.Tokenizer is nil.
func LoadWeights(path string) (*Model, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	switch {
	case st.IsDir():
		return loadHFWeights(path)
	case isGGUFPath(path):
		return loadGGUFWeights(path)
	}
	return nil, fmt.Errorf("load model %s: want a Hugging Face directory or a .gguf file", path)
}

func isGGUFPath(p string) bool { return strings.HasSuffix(strings.ToLower(p), ".gguf") }
