package server

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/arborlabs/arbor/memory/embed"
	"github.com/arborlabs/arbor/runtime/engine"
)

// ModelEmbedder embeds texts with the served model: the mean of a text's last hidden states
// (engine.Request.Embed), one engine request per text, run together. It needs a backend that
// pools hidden states (the cpu backend). Until the server has a model it fails, as a remote
// embedder that is down does.
//
// Create it before the server, give it to session.Config.Embedder (and Options.Embedder) and
// to Options.ModelEmbedder: the server hands it the model when the model is ready.
//
// A decoder's pooled hidden states are a weak embedding next to a model trained for it (use
// --embeddings-url for one); they cost nothing extra to deploy.
type ModelEmbedder struct {
	st atomic.Pointer[modelState]
}

var _ embed.Embedder = (*ModelEmbedder)(nil)

var errEmbedderNotReady = errors.New("the served model is not loaded yet")

// Dim implements embed.Embedder: the model's hidden size (0 before the model is ready).
func (me *ModelEmbedder) Dim() int {
	if st := me.st.Load(); st != nil {
		return st.model.HiddenSize
	}
	return 0
}

// Name implements embed.Embedder.
func (me *ModelEmbedder) Name() string {
	if st := me.st.Load(); st != nil {
		return "model:" + st.model.Name + ":mean-pooled"
	}
	return "model"
}

// Embed implements embed.Embedder. A text longer than the context is cut to its first
// context-1 tokens.
func (me *ModelEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	st := me.st.Load()
	if st == nil {
		return nil, errEmbedderNotReady
	}
	if st.model.HiddenSize <= 0 {
		return nil, errors.New("the served model's hidden size is unknown: it cannot embed")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // a failure cancels the texts still running
	limit := st.gen.MaxContext() - 1
	streams := make([]EventStream, len(texts))
	for i, t := range texts {
		ids := st.tok.Encode(t)
		if len(ids) == 0 {
			ids = st.tok.EncodeText(" ")
		}
		ids = ids[:min(len(ids), limit)]
		s, err := st.gen.Submit(ctx, engine.Request{Prompt: ids, Embed: true})
		if err != nil {
			return nil, fmt.Errorf("embedding text %d: %w", i, err)
		}
		streams[i] = s
	}
	out := make([][]float32, len(texts))
	for i, s := range streams {
		for {
			ev, err := s.Recv(ctx)
			if err != nil {
				return nil, fmt.Errorf("embedding text %d: %w", i, err)
			}
			if ev.Done {
				if ev.Result == nil || len(ev.Result.Embedding) != st.model.HiddenSize {
					return nil, fmt.Errorf("embedding text %d: the engine returned no embedding", i)
				}
				out[i] = ev.Result.Embedding
				break
			}
		}
	}
	return out, nil
}
