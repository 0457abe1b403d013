package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/arborlabs/arbor/runtime/chat"
	"github.com/arborlabs/arbor/runtime/engine"
	"github.com/arborlabs/arbor/runtime/sample"
)

// APIError is an error in OpenAI's shape: {"error": {"message", "type", "param", "code"}}.
// Every error the server answers goes through it, so that clients (which parse this body to
// show the message) never see a bare text or an HTML page.
type APIError struct {
	Status  int     `json:"-"`
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
	// RetryAfter, when positive, is sent as the Retry-After header (seconds).
	RetryAfter int `json:"-"`
}

func (e *APIError) Error() string { return e.Message }

func strptr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Error types, as OpenAI names them.
const (
	typeInvalidRequest = "invalid_request_error"
	typeAuthentication = "authentication_error"
	typeNotFound       = "not_found_error"
	typeRateLimit      = "rate_limit_error" // OpenAI's name for 429s
	typeUnavailable    = "service_unavailable_error"
	typeServer         = "server_error"
)

// badRequest is a 400 about one request field (param may be empty).
func badRequest(param, format string, args ...any) *APIError {
	return &APIError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Param: strptr(param), Message: fmt.Sprintf(format, args...)}
}

func unavailable(msg string) *APIError {
	return &APIError{Status: http.StatusServiceUnavailable, Type: typeUnavailable, Message: msg, RetryAfter: 1}
}

// toAPIError maps any error to the API error the client gets. This is the one place where the
// engine's and the runtime's sentinel errors meet HTTP status codes.
func toAPIError(err error) *APIError {
	var ae *APIError
	var he *echo.HTTPError
	var mbe *http.MaxBytesError
	var te *chat.TemplateError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &mbe):
		return &APIError{Status: http.StatusRequestEntityTooLarge, Type: typeInvalidRequest,
			Message: fmt.Sprintf("request body is larger than the limit of %d bytes", mbe.Limit)}
	case errors.Is(err, engine.ErrContextLength):
		return &APIError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Param: strptr("messages"),
			Code: strptr("context_length_exceeded"),
			// The sentinel's own words only repeat what the detail says better.
			Message: strings.Replace(err.Error(), engine.ErrContextLength.Error()+": ", "", 1)}
	case errors.Is(err, engine.ErrQueueFull):
		return &APIError{Status: http.StatusTooManyRequests, Type: typeRateLimit, Code: strptr("queue_full"),
			Message: "the server is at capacity (" + err.Error() + "); retry later", RetryAfter: 1}
	case errors.Is(err, engine.ErrClosed):
		return unavailable("the server is shutting down")
	case errors.Is(err, sample.ErrInvalidParams):
		return &APIError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Message: err.Error()}
	case errors.Is(err, engine.ErrGrammar):
		// The request's own schema (response_format, a tool's parameters, the tree schema)
		// failed it during decoding: too costly a mask, or no allowed token left.
		return &APIError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Message: err.Error()}
	case errors.Is(err, engine.ErrBadRequest):
		return &APIError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Message: err.Error()}
	case errors.As(err, &te):
		return &APIError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Param: strptr("messages"),
			Message: "the model's chat template rejected the conversation: " + te.Message}
	case errors.As(err, &he):
		msg := http.StatusText(he.Code)
		if s, ok := he.Message.(string); ok && s != "" {
			msg = s
		}
		t := typeInvalidRequest
		switch {
		case he.Code == http.StatusNotFound:
			t = typeNotFound
		case he.Code >= 500:
			t = typeServer
		}
		return &APIError{Status: he.Code, Type: t, Message: msg}
	case errors.Is(err, context.Canceled):
		// The client went away; the status is only seen by the log. 499 is nginx's name for it.
		return &APIError{Status: 499, Type: typeInvalidRequest, Message: "client closed the request"}
	}
	return &APIError{Status: http.StatusInternalServerError, Type: typeServer, Message: err.Error()}
}

// errorBody is the JSON body of an error response.
type errorBody struct {
	Error *APIError `json:"error"`
}

// httpErrorHandler answers every error a handler or echo returns in OpenAI's shape.
func (s *Server) httpErrorHandler(err error, c echo.Context) {
	ae := toAPIError(err)
	c.Set(ctxKeyError, ae.Message)
	if c.Response().Committed {
		return
	}
	if ae.RetryAfter > 0 {
		c.Response().Header().Set("Retry-After", fmt.Sprint(ae.RetryAfter))
	}
	if ae.Status == http.StatusUnauthorized {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="arbor"`)
	}
	status := ae.Status
	if status == 499 {
		c.Response().WriteHeader(status) // nobody is listening
		return
	}
	if err := c.JSON(status, errorBody{Error: ae}); err != nil {
		s.log.Debug("write error response", "err", err)
	}
}
