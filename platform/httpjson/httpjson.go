// Package httpjson is the one path JSON takes out of both services: a success body,
// an error mapped from its code to a status, and the JSON 404 and 405.
package httpjson

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/scalable-shop/shop/contract"
)

// statusOf maps error codes to HTTP statuses: the one table that does.
var statusOf = map[string]int{
	contract.EInvalid:          http.StatusBadRequest,
	contract.EUnauthorized:     http.StatusUnauthorized,
	contract.EForbidden:        http.StatusForbidden,
	contract.ENotFound:         http.StatusNotFound,
	contract.EMethodNotAllowed: http.StatusMethodNotAllowed,
	contract.ETooLarge:         http.StatusRequestEntityTooLarge,
	contract.EUnsupportedMedia: http.StatusUnsupportedMediaType,
	contract.ETooManyRequests:  http.StatusTooManyRequests,
	contract.EInternal:         http.StatusInternalServerError,
	contract.EUpstream:         http.StatusBadGateway,
	contract.EUnavailable:      http.StatusServiceUnavailable,
}

// Encode writes v as JSON with status.
func Encode(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Error answers with err's code and client-safe message. Errors without a code,
// and failures of a service behind us, are logged with their details; the client
// only sees the code's message.
func Error(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	code := contract.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	switch code {
	case contract.EInternal:
		log.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	case contract.EUpstream:
		log.Warn("upstream failure", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	Encode(w, status, contract.Body(err))
}

// NotFound answers unknown routes.
func NotFound() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		Encode(w, http.StatusNotFound, contract.Body(contract.Errorf(contract.ENotFound, "no route %s", r.URL.Path)))
	}
}

// MethodNotAllowed answers a known route asked with the wrong method.
func MethodNotAllowed() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		Encode(w, http.StatusMethodNotAllowed, contract.Body(contract.Errorf(contract.EMethodNotAllowed, "method %s is not allowed on %s", r.Method, r.URL.Path)))
	}
}

// Healthz answers liveness: the process serves HTTP, nothing more.
func Healthz() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		Encode(w, http.StatusOK, map[string]string{"status": "ok"})
	}
}
