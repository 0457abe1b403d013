package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/arborlabs/arbor/runtime/model"
	"github.com/arborlabs/arbor/runtime/model/demo"
	"github.com/arborlabs/arbor/runtime/tokenizer"
)

func cmdTokenize(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("tokenize", stderr)
	modelPath := fs.String("model", "", "take the tokenizer of this model (directory or .gguf)")
	tokPath := fs.String("tokenizer", "", "a tokenizer.json file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *modelPath != "" && *tokPath != "" {
		return errors.New("tokenize: give --model or --tokenizer, not both")
	}
	var tok *tokenizer.Tokenizer
	switch {
	case *tokPath != "":
		t, err := tokenizer.FromFile(*tokPath)
		if err != nil {
			return err
		}
		tok = t
	default:
		m, err := loadModel(*modelPath, stderr)
		if err != nil {
			return err
		}
		defer m.Close()
		tok = m.Tokenizer
	}
	text, err := io.ReadAll(stdin)
	if err != nil {
		return fmt.Errorf("tokenize: read stdin: %w", err)
	}
	ids := tok.Encode(string(text))
	if ids == nil {
		ids = []int32{}
	}
	return json.NewEncoder(stdout).Encode(ids)
}

func cmdModelNew(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("model new", stderr)
	shape := fs.String("shape", "", "a real model's shape: "+strings.Join(shapeNames(), ", "))
	dtypeName := fs.String("dtype", "f32", "weight type: f32, f16, bf16 or q8_0 (q8_0 only in GGUF)")
	tokPath := fs.String("tokenizer", "", "tokenizer.json to ship with the model (default: the built-in Qwen3 "+
		"tokenizer)")
	out := fs.String("out", "", "output: a path ending in .gguf writes GGUF, anything else a Hugging Face directory")
	seed := fs.Uint64("seed", 1, "random seed: the same seed gives the same weights")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *shape == "" || *out == "" {
		return errors.New("model new: --shape and --out are required")
	}
	cfg, err := model.Shape(*shape)
	if err != nil {
		return fmt.Errorf("model new: %w", err)
	}
	dtype, err := model.ParseDType(*dtypeName)
	if err != nil {
		return fmt.Errorf("model new: --dtype: %w", err)
	}
	gguf := strings.HasSuffix(strings.ToLower(*out), ".gguf")
	if dtype == model.Q8_0 && !gguf {
		return errors.New("model new: q8_0 is a GGUF type: give an --out ending in .gguf")
	}

	// The tokenizer's files: given, or the demo's built-in ones.
	files := map[string][]byte{}
	if *tokPath != "" {
		b, err := os.ReadFile(*tokPath)
		if err != nil {
			return fmt.Errorf("model new: %w", err)
		}
		files["tokenizer.json"] = b
		if c, err := os.ReadFile(filepath.Join(filepath.Dir(*tokPath), "tokenizer_config.json")); err == nil {
			files["tokenizer_config.json"] = c
		}
	} else {
		files["tokenizer.json"], files["tokenizer_config.json"] = demo.TokenizerFiles()
	}
	tok, err := tokenizer.FromBytes(files["tokenizer.json"], files["tokenizer_config.json"])
	if err != nil {
		return fmt.Errorf("model new: tokenizer: %w", err)
	}
	cfg.VocabSize = max(cfg.VocabSize, tok.VocabSize())
	// generation_config.json's eos_token_id: every id that ends a turn for this tokenizer.
	cfg.EOS = tok.EOS()

	start := time.Now()
	w, err := model.NewRandom(&cfg, dtype, *seed)
	if err != nil {
		return fmt.Errorf("model new: %w", err)
	}
	if gguf {
		vocab, err := tok.GGUF()
		if err != nil {
			return fmt.Errorf("model new: tokenizer: %w", err)
		}
		vocab.PadTo(cfg.VocabSize)
		err = model.WriteGGUF(*out, &cfg, w, vocab, "arbor-random-"+*shape)
	} else {
		err = model.WriteHF(*out, &cfg, w, files)
	}
	if err != nil {
		return fmt.Errorf("model new: %w", err)
	}
	fmt.Fprintf(stderr, "arbor: wrote %s (%s, %s, %d parameters, random weights) in %.1fs\n",
		*out, *shape, dtype, numParams(w), time.Since(start).Seconds())
	return nil
}

func cmdModelShapes(stdout io.Writer) error {
	for _, name := range shapeNames() {
		c, _ := model.Shape(name)
		fmt.Fprintf(stdout, "%-14s %-7s hidden %5d  layers %3d  heads %3d/%-3d  ffn %6d  vocab %6d\n",
			name, c.Arch, c.HiddenSize, c.NumLayers, c.NumHeads, c.NumKVHeads, c.FFNSize, c.VocabSize)
	}
	return nil
}

func shapeNames() []string {
	names := model.ShapeNames()
	sort.Strings(names)
	return names
}

func numParams(w *model.Weights) int {
	n := 0
	seen := map[*model.Tensor]bool{}
	add := func(t *model.Tensor) {
		if t != nil && !seen[t] {
			seen[t] = true
			n += t.NumElements()
		}
	}
	add(w.TokenEmbed)
	add(w.OutputNorm)
	add(w.Output)
	for i := range w.Layers {
		l := &w.Layers[i]
		for _, t := range []*model.Tensor{l.AttnNorm, l.Q, l.K, l.V, l.O, l.QBias, l.KBias, l.VBias, l.QNorm,
			l.KNorm, l.FFNNorm, l.Gate, l.Up, l.Down} {
			add(t)
		}
	}
	return n
}
