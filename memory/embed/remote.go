package embed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
)

// RemoteConfig configures a Remote embedder.
type RemoteConfig struct {
	// BaseURL is the API root, e.g. "https://api.openai.com/v1" or "http://host:8080/v1";
	// the client posts to BaseURL + "/embeddings".
	BaseURL string
	// Model is the embedding model's name, sent as "model".
	Model string
	// APIKey is sent as a bearer token; empty sends none that matters to keyless servers.
	APIKey string
	// Dim is the expected vector width. Zero learns it from the first response; after that
	// every vector must have that width.
	Dim int
	// Timeout bounds each HTTP attempt. Zero means 30 seconds: memory runs on a request's
	// path, and a hung embedding server must not hang the chat.
	Timeout time.Duration
	// MaxRetries is how many times a failed attempt is retried (the SDK backs off between
	// tries). Zero means no retries, so latency stays bounded by Timeout.
	MaxRetries int
	// BatchSize caps the texts sent in one request. Zero means 256 (OpenAI accepts up to 2048
	// inputs, but smaller batches keep each response small and each timeout meaningful).
	BatchSize int
	// MaxResponseBytes caps one response body; a larger body fails the call instead of
	// filling memory. Zero means 64 MiB, room for 256 vectors of 3072 floats as JSON text.
	MaxResponseBytes int64
	// HTTPClient replaces the default http.Client (for tests or custom transports).
	HTTPClient *http.Client
}

// Remote embeds through an OpenAI-compatible /v1/embeddings endpoint. It is safe for
// concurrent use.
type Remote struct {
	client openai.Client
	cfg    RemoteConfig
	dim    atomic.Int64
}

// ErrResponseTooLarge is returned when an embeddings response exceeds MaxResponseBytes.
var ErrResponseTooLarge = errors.New("embed: embeddings response too large")

// NewRemote returns a Remote embedder; BaseURL and Model are required.
func NewRemote(cfg RemoteConfig) (*Remote, error) {
	if cfg.BaseURL == "" {
		return nil, errors.New("embed: remote embedder needs a base URL")
	}
	if cfg.Model == "" {
		return nil, errors.New("embed: remote embedder needs a model name")
	}
	if cfg.Dim < 0 {
		return nil, fmt.Errorf("embed: negative dimension %d", cfg.Dim)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 256
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = 64 << 20
	}
	limit := cfg.MaxResponseBytes
	opts := []option.RequestOption{
		option.WithBaseURL(cfg.BaseURL),
		option.WithAPIKey(cfg.APIKey),
		option.WithMaxRetries(cfg.MaxRetries),
		option.WithRequestTimeout(cfg.Timeout),
		// The SDK reads whole bodies; cap what it can read so that a misbehaving server
		// cannot make us buffer an unbounded response.
		option.WithMiddleware(func(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
			resp, err := next(req)
			if err != nil || resp == nil || resp.Body == nil {
				return resp, err
			}
			if resp.ContentLength > limit {
				resp.Body.Close()
				return nil, fmt.Errorf("%w: %d bytes announced, limit %d", ErrResponseTooLarge, resp.ContentLength, limit)
			}
			resp.Body = &limitedBody{rc: resp.Body, left: limit}
			return resp, nil
		}),
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, option.WithHTTPClient(cfg.HTTPClient))
	}
	r := &Remote{client: openai.NewClient(opts...), cfg: cfg}
	r.dim.Store(int64(cfg.Dim))
	return r, nil
}

// Dim returns the configured width, or the width learnt from the first response (0 before it).
func (r *Remote) Dim() int { return int(r.dim.Load()) }

// Name names the vector space by endpoint and model.
func (r *Remote) Name() string { return "remote:" + r.cfg.BaseURL + "#" + r.cfg.Model }

// Embed sends texts in batches and returns one vector per text, in order. It fails if the
// server answers with an error status, with the wrong number of vectors, with indices that
// do not cover the batch, or with vectors of the wrong width.
func (r *Remote) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, 0, len(texts))
	for start := 0; start < len(texts); start += r.cfg.BatchSize {
		end := min(start+r.cfg.BatchSize, len(texts))
		vecs, err := r.embedBatch(ctx, texts[start:end])
		if err != nil {
			return nil, err
		}
		out = append(out, vecs...)
	}
	return out, nil
}

func (r *Remote) embedBatch(ctx context.Context, texts []string) ([][]float32, error) {
	resp, err := r.client.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: texts},
		Model: openai.EmbeddingModel(r.cfg.Model),
		// Ask for floats explicitly: some servers default to base64.
		EncodingFormat: openai.EmbeddingNewParamsEncodingFormatFloat,
	})
	if err != nil {
		return nil, fmt.Errorf("embed: remote %s: %w", r.cfg.Model, err)
	}
	if len(resp.Data) != len(texts) {
		return nil, fmt.Errorf("embed: remote %s returned %d embeddings for %d inputs", r.cfg.Model, len(resp.Data), len(texts))
	}
	out := make([][]float32, len(texts))
	for _, d := range resp.Data {
		// Servers may answer out of order; index says which input each vector belongs to.
		if d.Index < 0 || d.Index >= int64(len(texts)) || out[d.Index] != nil {
			return nil, fmt.Errorf("embed: remote %s returned a bad or repeated index %d", r.cfg.Model, d.Index)
		}
		if len(d.Embedding) == 0 {
			return nil, fmt.Errorf("embed: remote %s returned an empty embedding", r.cfg.Model)
		}
		want := r.dim.Load()
		if want == 0 {
			r.dim.CompareAndSwap(0, int64(len(d.Embedding)))
			want = r.dim.Load()
		}
		if int64(len(d.Embedding)) != want {
			return nil, fmt.Errorf("embed: remote %s returned %d dimensions, want %d", r.cfg.Model, len(d.Embedding), want)
		}
		v := make([]float32, len(d.Embedding))
		for i, x := range d.Embedding {
			v[i] = float32(x)
		}
		out[d.Index] = v
	}
	return out, nil
}

// limitedBody fails a read past its limit instead of silently truncating, so an oversized
// body surfaces as an error rather than as a JSON syntax error at the cut.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// Probe one byte: a body exactly at the limit is fine.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, ErrResponseTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
