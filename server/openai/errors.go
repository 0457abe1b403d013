// Package openai is the OpenAI API's wire format as the server speaks it: request bodies parsed
// by hand (so that every mistake is answered with the message and param OpenAI's clients
// expect), the response and stream chunk objects, and errors in OpenAI's shape.
package openai

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

// StrPtr is s for an optional field: nil when s is empty.
func StrPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Error types, as OpenAI names them.
const (
	TypeInvalidRequest = "invalid_request_error"
	TypeAuthentication = "authentication_error"
	TypeNotFound       = "not_found_error"
	TypeRateLimit      = "rate_limit_error" // OpenAI's name for 429s
	TypeUnavailable    = "service_unavailable_error"
	TypeServer         = "server_error"
)

// BadRequest is a 400 about one request field (param may be empty).
func BadRequest(param, format string, args ...any) *APIError {
	return &APIError{Status: http.StatusBadRequest, Type: TypeInvalidRequest, Param: StrPtr(param),
		Message: fmt.Sprintf(format, args...)}
}

// Unavailable is a 503 that asks the client to retry in a second.
func Unavailable(msg string) *APIError {
	return &APIError{Status: http.StatusServiceUnavailable, Type: TypeUnavailable, Message: msg, RetryAfter: 1}
}

// ToAPIError maps any error to the API error the client gets. This is the one place where the
// engine's and the runtime's sentinel errors meet HTTP status codes.
func ToAPIError(err error) *APIError {
	var ae *APIError
	var he *echo.HTTPError
	var mbe *http.MaxBytesError
	var te *chat.TemplateError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &mbe):
		return &APIError{Status: http.StatusRequestEntityTooLarge, Type: TypeInvalidRequest,
			Message: fmt.Sprintf("request body is larger than the limit of %d bytes", mbe.Limit)}
	case errors.Is(err, engine.ErrContextLength):
		return &APIError{Status: http.StatusBadRequest, Type: TypeInvalidRequest, Param: StrPtr("messages"),
			Code: StrPtr("context_length_exceeded"),
			// The sentinel's own words only repeat what the detail says better.
			Message: strings.Replace(err.Error(), engine.ErrContextLength.Error()+": ", "", 1)}
	case errors.Is(err, engine.ErrQueueFull):
		return &APIError{Status: http.StatusTooManyRequests, Type: TypeRateLimit, Code: StrPtr("queue_full"),
			Message: "the server is at capacity (" + err.Error() + "); retry later", RetryAfter: 1}
	case errors.Is(err, engine.ErrClosed):
		return Unavailable("the server is shutting down")
	case errors.Is(err, sample.ErrInvalidParams):
		return &APIError{Status: http.StatusBadRequest, Type: TypeInvalidRequest, Message: err.Error()}
	case errors.Is(err, engine.ErrGrammar):
		// The request's own schema (response_format, a tool's parameters, the tree schema)
		// failed it during decoding: too costly a mask, or no allowed token left.
		return &APIError{Status: http.StatusBadRequest, Type: TypeInvalidRequest, Message: err.Error()}
	case errors.Is(err, engine.ErrBadRequest):
		return &APIError{Status: http.StatusBadRequest, Type: TypeInvalidRequest, Message: err.Error()}
	case errors.As(err, &te):
		return &APIError{Status: http.StatusBadRequest, Type: TypeInvalidRequest, Param: StrPtr("messages"),
			Message: "the model's chat template rejected the conversation: " + te.Message}
	case errors.As(err, &he):
		msg := http.StatusText(he.Code)
		if s, ok := he.Message.(string); ok && s != "" {
			msg = s
		}
		t := TypeInvalidRequest
		switch {
		case he.Code == http.StatusNotFound:
			t = TypeNotFound
		case he.Code >= 500:
			t = TypeServer
		}
		return &APIError{Status: he.Code, Type: t, Message: msg}
	case errors.Is(err, context.Canceled):
		// The client went away; the status is only seen by the log. 499 is nginx's name for it.
		return &APIError{Status: 499, Type: TypeInvalidRequest, Message: "client closed the request"}
	}
	return &APIError{Status: http.StatusInternalServerError, Type: TypeServer, Message: err.Error()}
}

// ErrorBody is the JSON body of an error response.
type ErrorBody struct {
	Error *APIError `json:"error"`
}
