package server

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/arborlabs/arbor/server/openai"
)

// sseWriter writes server-sent events the way OpenAI streams: "data: JSON\n\n" per chunk and
// "data: [DONE]\n\n" at the end, flushed at once so that tokens reach the client as they come.
type sseWriter struct {
	w       http.ResponseWriter
	flusher http.Flusher
	started bool
}

func newSSE(c echo.Context) *sseWriter {
	w := c.Response()
	f, _ := c.Response().Writer.(http.Flusher)
	return &sseWriter{w: w, flusher: f}
}

func (s *sseWriter) start() {
	if s.started {
		return
	}
	s.started = true
	h := s.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	s.w.WriteHeader(http.StatusOK)
}

// send writes one event; an error means the client is gone.
func (s *sseWriter) send(v any) error {
	s.start()
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode stream chunk: %w", err)
	}
	return s.write(append(append([]byte("data: "), b...), '\n', '\n'))
}

func (s *sseWriter) done() error {
	s.start()
	return s.write([]byte("data: [DONE]\n\n"))
}

func (s *sseWriter) write(b []byte) error {
	if _, err := s.w.Write(b); err != nil {
		return fmt.Errorf("write stream: %w", err)
	}
	if s.flusher != nil {
		s.flusher.Flush()
	}
	return nil
}

// fail reports an error inside a stream that has started (the status is already 200): an
// event with OpenAI's error object, which the SDKs raise, then [DONE].
func (s *sseWriter) fail(err error) {
	ae := openai.ToAPIError(err)
	if s.send(openai.ErrorBody{Error: ae}) == nil {
		_ = s.done()
	}
}
