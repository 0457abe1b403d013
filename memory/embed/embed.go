// Package embed turns text into fixed-size vectors for Arbor's vector memory.
//
// Every embedder sits behind Embedder, so the memory layer can store and search vectors
// without knowing where they came from. Two live here: Hashed, a model-free embedder built
// from hashed word and character n-grams (deterministic, the default), and Remote, a client
// for an OpenAI-compatible /v1/embeddings endpoint. The third kind the memory design names,
// the served model's pooled hidden states, needs the engine and belongs next to it; it only
// has to satisfy this interface.
package embed

import "context"

// Embedder maps texts to vectors of Dim() float32 values, one per text, in order.
//
// Name identifies the vector space: two embedders with the same Name produce comparable
// vectors, so stored vectors can be checked against the embedder that will query them.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
	Dim() int
	Name() string
}

// Both built-in embedders satisfy Embedder; the compiler checks it here.
var (
	_ Embedder = (*Hashed)(nil)
	_ Embedder = (*Remote)(nil)
)
