package server

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/arborlabs/arbor/memory/embed"
	"github.com/arborlabs/arbor/runtime/engine"
	"github.com/arborlabs/arbor/server/openai"
)

// Bounds of an embeddings request: OpenAI's own limit on inputs, and a text's size (the
// embedder's cost is linear in it; the body limit bounds the total).
const (
	maxEmbeddingInputs = 2048
	maxEmbeddingText   = 256 << 10
)

type embeddingsRequest struct {
	Input          json.RawMessage `json:"input"`
	Model          string          `json:"model"`
	EncodingFormat string          `json:"encoding_format"`
	Dimensions     *int            `json:"dimensions"`
	User           string          `json:"user"`
}

// embeddings is POST /v1/embeddings in OpenAI's shape, answered by the server's embedder (the
// built-in hashed n-gram one unless Options.Embedder names another). Its model field is not
// checked against anything: the response names the embedder that ran. Inputs are texts, or
// token ids of the served model (decoded to text first).
func (s *Server) embeddings(c echo.Context) error {
	if s.draining.Load() {
		return openai.Unavailable("the server is shutting down")
	}
	body, err := openai.ReadBody(c.Request().Body)
	if err != nil {
		return err
	}
	var req embeddingsRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return openai.BadRequest("", "the body is not a JSON object of an embeddings request: %v", err)
	}
	texts, ae := s.embeddingInputs(req.Input)
	if ae != nil {
		return ae
	}
	switch req.EncodingFormat {
	case "", "float", "base64":
	default:
		return openai.BadRequest("encoding_format", "'encoding_format' must be \"float\" or \"base64\", got %q",
			req.EncodingFormat)
	}
	emb := s.embedder()
	// A remote embedder's width is known after its first answer (Dim 0 until then).
	if req.Dimensions != nil && emb.Dim() > 0 && *req.Dimensions != emb.Dim() {
		return openai.BadRequest("dimensions", "'dimensions': this server's embedder %s gives %d dimensions, not %d",
			emb.Name(), emb.Dim(), *req.Dimensions)
	}
	var vecs [][]float32
	tokens := 0
	work := func() {
		if vecs, err = emb.Embed(c.Request().Context(), texts); err != nil {
			return
		}
		for _, t := range texts {
			tokens += s.countTokens(t)
		}
	}
	if len(body) > largeBody {
		paced(work) // many or long texts: at most one such request embeds at a time
	} else {
		work()
	}
	if err != nil {
		if c.Request().Context().Err() != nil {
			return err
		}
		switch {
		case errors.Is(err, errEmbedderNotReady):
			return openai.Unavailable("the model is still loading; retry shortly")
		case errors.Is(err, engine.ErrQueueFull), errors.Is(err, engine.ErrClosed), errors.Is(err, engine.ErrBadRequest):
			return err // the served model's embedder (ModelEmbedder): the engine's own statuses
		}
		// The embedder is another service (--embeddings-url): its failure is a bad gateway,
		// not this server's fault nor the client's.
		return &openai.APIError{Status: http.StatusBadGateway, Type: openai.TypeServer,
			Message: "the embedder failed: " + err.Error()}
	}
	type item struct {
		Object    string `json:"object"`
		Index     int    `json:"index"`
		Embedding any    `json:"embedding"`
	}
	data := make([]item, len(vecs))
	for i, v := range vecs {
		data[i] = item{Object: "embedding", Index: i, Embedding: v}
		if req.EncodingFormat == "base64" {
			// OpenAI's base64 form: the float32s little-endian, base64-encoded.
			raw := make([]byte, 4*len(v))
			for j, x := range v {
				binary.LittleEndian.PutUint32(raw[4*j:], math.Float32bits(x))
			}
			data[i].Embedding = base64.StdEncoding.EncodeToString(raw)
		}
	}
	return c.JSON(http.StatusOK, map[string]any{
		"object": "list", "data": data, "model": emb.Name(),
		"usage": map[string]int{"prompt_tokens": tokens, "total_tokens": tokens},
	})
}

// embeddingInputs reads input: a string, an array of strings, an array of token ids or an
// array of such arrays. Token ids need the served model's tokenizer.
func (s *Server) embeddingInputs(raw json.RawMessage) ([]string, *openai.APIError) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, openai.BadRequest("input", "'input' is required")
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return checkEmbeddingTexts([]string{one})
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil {
		return checkEmbeddingTexts(many)
	}
	var ids []int32
	var idLists [][]int32
	if json.Unmarshal(raw, &ids) == nil {
		idLists = [][]int32{ids}
	} else if json.Unmarshal(raw, &idLists) != nil {
		return nil, openai.BadRequest("input", "'input' must be a string, an array of strings, an array of "+
			"token ids or an array of arrays of token ids")
	}
	st := s.state.Load()
	if st == nil {
		return nil, openai.Unavailable("the model is still loading; token ids need its tokenizer")
	}
	texts := make([]string, len(idLists))
	for i, l := range idLists {
		for _, id := range l {
			if id < 0 || int(id) >= st.tok.VocabSize() {
				return nil, openai.BadRequest("input", "'input' token %d is outside the vocabulary of %d", id,
					st.tok.VocabSize())
			}
		}
		texts[i] = st.tok.Decode(l)
	}
	return checkEmbeddingTexts(texts)
}

func checkEmbeddingTexts(texts []string) ([]string, *openai.APIError) {
	if len(texts) == 0 || len(texts) > maxEmbeddingInputs {
		return nil, openai.BadRequest("input", "'input' must hold 1 to %d inputs, got %d", maxEmbeddingInputs, len(texts))
	}
	for i, t := range texts {
		if t == "" {
			return nil, openai.BadRequest("input", "'input' %d is empty", i)
		}
		if len(t) > maxEmbeddingText {
			return nil, openai.BadRequest("input", "'input' %d is %d bytes, over %d", i, len(t), maxEmbeddingText)
		}
	}
	return texts, nil
}

// embedder is the configured embedder, memory's, or the built-in one.
func (s *Server) embedder() embed.Embedder {
	if s.opt.Embedder != nil {
		return s.opt.Embedder
	}
	if s.opt.Memory != nil {
		return s.opt.Memory.Embedder() // the vectors a session's memory is searched with
	}
	s.hashedOnce.Do(func() { s.hashed = embed.NewHashed(0) })
	return s.hashed
}

// countTokens counts a text's tokens with the served model's tokenizer, or its words while the
// model loads.
func (s *Server) countTokens(text string) int {
	if st := s.state.Load(); st != nil {
		return len(st.tok.EncodeText(text))
	}
	return len(embed.Words(text))
}
