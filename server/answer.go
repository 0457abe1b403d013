package server

import (
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/arborlabs/arbor/runtime/engine"
	"github.com/arborlabs/arbor/server/openai"
)

// Chat and completions requests go through the same steps: parseRequest reads and checks the
// body, respond submits the engine requests and runs the one event loop, streamed or not. What
// differs between the two endpoints (the prompt, the shape of the response) is theirs.

// largeBody is the size past which a request body is parsed under paced: schemas of hundreds of
// thousands of enum values or items come in bodies of megabytes, and a client sending them back
// to back must not take the cores the engine's steps need.
const largeBody = 256 << 10

// heavySlots lets one large body be parsed at a time.
var heavySlots = make(chan struct{}, 1)

// paced runs work (the parsing of a large body, and the schema compilations within it) holding
// heavySlots, and keeps the slot for as long again after work ends when it took more than a few
// milliseconds (the request itself does not wait): back-to-back large bodies get at most half
// of a core, the rest stays the engine's.
func paced(work func()) {
	heavySlots <- struct{}{}
	start := time.Now()
	work()
	if d := time.Since(start); d > 5*time.Millisecond {
		go func() {
			time.Sleep(d)
			<-heavySlots
		}()
		return
	}
	<-heavySlots
}

// request is a parsed request body of either endpoint.
type request interface{ Base() *openai.Common }

// parseRequest reads and parses a request body: the model must be loaded, and the request must
// name it or no model.
func parseRequest[R request](s *Server, c echo.Context,
	parse func([]byte) (R, *openai.APIError)) (*modelState, R, error) {
	var none R
	st, err := s.ready()
	if err != nil {
		return nil, none, err
	}
	body, err := openai.ReadBody(c.Request().Body)
	if err != nil {
		return nil, none, err
	}
	var req R
	var ae *openai.APIError
	if len(body) > largeBody {
		paced(func() { req, ae = parse(body) })
	} else {
		req, ae = parse(body)
	}
	if ae != nil {
		return nil, none, ae
	}
	if err := st.checkModel(req.Base().Model); err != nil {
		return nil, none, err
	}
	return st, req, nil
}

// answer is an endpoint's response as its events come: chat parses the output into messages,
// completions gathers the text.
type answer interface {
	// begin opens a stream (sse is nil when the response is not streamed).
	begin(sse *sseWriter) error
	// event takes one event of choice i (for the last one, after its result is recorded).
	// Streaming, it sends the chunks the event completes; an error means the client is gone.
	event(i int, ev engine.Event, sse *sseWriter) error
	// finishReason is choice i's, once its last event has come.
	finishReason(i int) string
	// usageChunk is the last chunk of a stream whose request asked for usage.
	usageChunk(u *openai.Usage) any
	// body is the response when it is not streamed.
	body(u *openai.Usage) any
}

// respondOpts is what respond needs of a request besides its engine requests.
type respondOpts struct {
	stream       bool
	includeUsage bool
	// choicesPerPrompt is n: usage counts a prompt shared by choices once.
	choicesPerPrompt int
	// tree adds the task-tree figures to usage.
	tree bool
	// finish, when set, runs once every choice has finished and before the response's last
	// byte (the JSON body; the usage chunk and [DONE] of a stream): a session stores its turn
	// there. An error fails the response.
	finish func(u *openai.Usage) error
}

// respond queues reqs (one per choice) and answers with their events as a delivers them: as
// server-sent events or as one JSON body.
func (s *Server) respond(c echo.Context, st *modelState, reqs []engine.Request, o respondOpts, a answer) error {
	ctx := c.Request().Context()
	r, err := s.submit(ctx, st, reqs)
	if err != nil {
		return err
	}
	defer r.cancel()
	var sse *sseWriter
	if o.stream {
		sse = newSSE(c)
		if err := a.begin(sse); err != nil {
			return err
		}
	}
	results := make([]*engine.Result, len(reqs))
	for left := len(reqs); left > 0; {
		ce, err := r.next(ctx)
		if err != nil {
			s.metrics.success.WithLabelValues("abort").Inc()
			if sse != nil {
				c.Set(ctxKeyError, err.Error())
				return nil // the client is gone: nobody to tell
			}
			return err
		}
		if ce.err != nil {
			if sse != nil {
				c.Set(ctxKeyError, ce.err.Error())
				sse.fail(ce.err)
				return nil
			}
			return fmt.Errorf("choice %d: %w", ce.choice, ce.err)
		}
		s.observeToken(r, ce)
		if ce.ev.Done {
			results[ce.choice] = ce.ev.Result
			s.metrics.finished(ce.ev.Result, time.Since(r.start).Seconds())
			left--
		}
		if err := a.event(ce.choice, ce.ev, sse); err != nil {
			return nil
		}
	}
	u := usageOf(results, o.choicesPerPrompt)
	if o.tree {
		u.AddTree(results)
	}
	if o.finish != nil {
		if err := o.finish(u); err != nil {
			if sse != nil {
				c.Set(ctxKeyError, err.Error())
				sse.fail(err)
				return nil
			}
			return err
		}
	}
	s.logUsage(c, u, a.finishReason(0))
	if sse == nil {
		return c.JSON(http.StatusOK, a.body(u))
	}
	if o.includeUsage {
		if err := sse.send(a.usageChunk(u)); err != nil {
			return nil
		}
	}
	_ = sse.done()
	return nil
}
