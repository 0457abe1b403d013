package server

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/arborlabs/arbor/server/openai"
)

// httpErrorHandler answers every error a handler or echo returns in OpenAI's shape.
func (s *Server) httpErrorHandler(err error, c echo.Context) {
	ae := openai.ToAPIError(err)
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
	if err := c.JSON(status, openai.ErrorBody{Error: ae}); err != nil {
		s.log.Debug("write error response", "err", err)
	}
}
