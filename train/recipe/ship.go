package recipe

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/arborlabs/arbor/runtime/model"
	"github.com/arborlabs/arbor/runtime/model/demo"
)

// Ship writes the model directory modelDir in the layout the binary embeds (package demo's
// ShippedFiles) into outDir: the weights in f16 (half the bytes of f32; the demo's figures are
// measured on this form), model.safetensors gzipped. Copying outDir's files into
// runtime/model/demo/trained and rebuilding makes the model the built-in demo.
func Ship(modelDir, outDir string) error {
	m, err := model.Load(modelDir)
	if err != nil {
		return fmt.Errorf("ship: %w", err)
	}
	defer m.Close()
	w, err := model.ConvertWeights(&m.Config, &m.Weights, model.F16)
	if err != nil {
		return fmt.Errorf("ship: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(outDir)), ".ship-")
	if err != nil {
		return fmt.Errorf("ship: %w", err)
	}
	defer os.RemoveAll(tmp)
	tok := map[string][]byte{}
	for _, name := range []string{"tokenizer.json", "tokenizer_config.json"} {
		if tok[name], err = os.ReadFile(filepath.Join(modelDir, name)); err != nil {
			return fmt.Errorf("ship: %w", err)
		}
	}
	if err := model.WriteHF(tmp, &m.Config, w, tok); err != nil {
		return fmt.Errorf("ship: %w", err)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return fmt.Errorf("ship: %w", err)
	}
	for _, name := range demo.ShippedFiles {
		src, gz := strings.CutSuffix(name, ".gz")
		b, err := os.ReadFile(filepath.Join(tmp, src))
		if err != nil {
			return fmt.Errorf("ship: %w", err)
		}
		if gz {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			zw.Write(b)
			if err := zw.Close(); err != nil {
				return fmt.Errorf("ship: %w", err)
			}
			b = buf.Bytes()
		}
		if err := os.WriteFile(filepath.Join(outDir, name), b, 0o644); err != nil {
			return fmt.Errorf("ship: %w", err)
		}
	}
	return nil
}
