package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/arborlabs/arbor/server/openai"
)

// bearerMatch reports whether an Authorization header is "Bearer KEY" for one of keys (their
// SHA-256 digests). Digests are compared in constant time, so neither a key's bytes nor its
// length leak through timing.
func bearerMatch(header string, keys [][sha256.Size]byte) bool {
	scheme, key, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(key)))
	match := 0
	for _, k := range keys {
		match |= subtle.ConstantTimeCompare(sum[:], k[:])
	}
	return match == 1
}

// metricsAuth guards /metrics with Options.MetricsKey when one is set (arbor serve
// --metrics-key): scrapers then send "Authorization: Bearer KEY". The API keys do not open it,
// nor does the metrics key open the API: a scraper's credential is not a client's. Without a
// metrics key /metrics is open, like /health.
func (s *Server) metricsAuth(next echo.HandlerFunc) echo.HandlerFunc {
	if s.opt.MetricsKey == "" {
		return next
	}
	keys := [][sha256.Size]byte{sha256.Sum256([]byte(s.opt.MetricsKey))}
	return func(c echo.Context) error {
		h := c.Request().Header.Get(echo.HeaderAuthorization)
		if bearerMatch(h, keys) {
			return next(c)
		}
		msg := "missing metrics key: send \"Authorization: Bearer METRICS_KEY\""
		if h != "" {
			msg = "invalid metrics key"
		}
		return &openai.APIError{Status: http.StatusUnauthorized, Type: openai.TypeAuthentication,
			Code: openai.StrPtr("invalid_api_key"), Message: msg}
	}
}
