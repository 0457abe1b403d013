package model

import (
	"fmt"
	"sort"
	"strings"
)

// shapes are real models' hyper-parameters (and tiny ones for tests), for random weights.
var shapes = map[string]Config{
	"qwen2.5-0.5b": {Arch: ArchQwen2, VocabSize: 151936, HiddenSize: 896, NumLayers: 24, NumHeads: 14,
		NumKVHeads: 2, HeadDim: 64, FFNSize: 4864, MaxPositions: 32768, RMSNormEps: 1e-6, RopeTheta: 1e6,
		TieEmbeddings: true, AttnBias: true},
	"qwen3-0.6b": {Arch: ArchQwen3, VocabSize: 151936, HiddenSize: 1024, NumLayers: 28, NumHeads: 16,
		NumKVHeads: 8, HeadDim: 128, FFNSize: 3072, MaxPositions: 40960, RMSNormEps: 1e-6, RopeTheta: 1e6,
		TieEmbeddings: true, QKNorm: true},
	"llama-3.2-1b": {Arch: ArchLlama, VocabSize: 128256, HiddenSize: 2048, NumLayers: 16, NumHeads: 32,
		NumKVHeads: 8, HeadDim: 64, FFNSize: 8192, MaxPositions: 131072, RMSNormEps: 1e-5, RopeTheta: 500000,
		TieEmbeddings: true, RopeScaling: &RopeScaling{Type: "llama3", Factor: 32, LowFreqFactor: 1,
			HighFreqFactor: 4, OriginalMaxPositions: 8192}},
	// TIM-8b's shape (a Qwen3-8B fine-tune).
	"qwen3-8b": {Arch: ArchQwen3, VocabSize: 151936, HiddenSize: 4096, NumLayers: 36, NumHeads: 32,
		NumKVHeads: 8, HeadDim: 128, FFNSize: 12288, MaxPositions: 40960, RMSNormEps: 1e-6, RopeTheta: 1e6,
		QKNorm: true},
	"tiny": {Arch: ArchQwen3, VocabSize: 512, HiddenSize: 64, NumLayers: 2, NumHeads: 4, NumKVHeads: 2,
		HeadDim: 16, FFNSize: 128, MaxPositions: 4096, RMSNormEps: 1e-6, RopeTheta: 1e6,
		TieEmbeddings: true, QKNorm: true},
	"tiny-llama": {Arch: ArchLlama, VocabSize: 512, HiddenSize: 64, NumLayers: 2, NumHeads: 4, NumKVHeads: 2,
		HeadDim: 16, FFNSize: 128, MaxPositions: 4096, RMSNormEps: 1e-5, RopeTheta: 500000,
		RopeScaling: &RopeScaling{Type: "llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4,
			OriginalMaxPositions: 256}},
	"tiny-qwen2": {Arch: ArchQwen2, VocabSize: 512, HiddenSize: 64, NumLayers: 2, NumHeads: 4, NumKVHeads: 2,
		HeadDim: 16, FFNSize: 128, MaxPositions: 4096, RMSNormEps: 1e-6, RopeTheta: 1e6,
		TieEmbeddings: true, AttnBias: true},
}

// ShapeNames lists the names Shape knows, sorted.
func ShapeNames() []string {
	names := make([]string, 0, len(shapes))
	for n := range shapes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Shape returns a copy of the named shape's config. A model made with a tokenizer needs
// VocabSize = max(shape's, tokenizer's); the caller sets it, and EOS, which belong to the
// tokenizer used.
func Shape(name string) (Config, error) {
	c, ok := shapes[name]
	if !ok {
		return Config{}, fmt.Errorf("unknown model shape %q (known: %s)", name, strings.Join(ShapeNames(), ", "))
	}
	if c.RopeScaling != nil {
		s := *c.RopeScaling
		c.RopeScaling = &s
	}
	return c, nil
}
