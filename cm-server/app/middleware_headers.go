package app

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strings"
)

// APIContentSecurityPolicy is the policy of every answer that is not the
// customer page: JSON loads nothing and may not be framed.
const APIContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'"

// hstsValue asks browsers to use HTTPS only for a year.
const hstsValue = "max-age=31536000"

// securityHeaders gives every answer the security headers a handler did not set
// itself: the customer page sets its own Content-Security-Policy (and the rest),
// which is kept; the JSON API gets a policy that allows nothing. JSON answers are
// never stored by caches. Strict-Transport-Security goes on answers over TLS
// (headers.hsts=tls), on all (always: behind a TLS-terminating ingress), or none.
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	hsts := hstsTLS
	if s.sec != nil && s.sec.hsts != "" {
		hsts = s.sec.hsts
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sendHSTS := hsts == hstsAlways || hsts == hstsTLS && r.TLS != nil
		hw := &headerWriter{ResponseWriter: w, hsts: sendHSTS}
		next.ServeHTTP(hw, r)
		hw.defaults() // a handler that wrote nothing: net/http sends the header now
	})
}

// headerWriter fills in the default headers just before the header is written.
type headerWriter struct {
	http.ResponseWriter
	hsts  bool
	wrote bool
}

func (w *headerWriter) defaults() {
	if w.wrote {
		return
	}
	w.wrote = true
	h := w.Header()
	setDefault(h, "X-Content-Type-Options", "nosniff")
	setDefault(h, "Referrer-Policy", "no-referrer")
	setDefault(h, "X-Frame-Options", "DENY")
	setDefault(h, "Cross-Origin-Resource-Policy", "same-origin")
	setDefault(h, "Content-Security-Policy", APIContentSecurityPolicy)
	if strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		setDefault(h, "Cache-Control", "no-store")
	}
	if w.hsts {
		setDefault(h, "Strict-Transport-Security", hstsValue)
	}
}

func setDefault(h http.Header, k, v string) {
	if _, ok := h[k]; !ok {
		h.Set(k, v)
	}
}

func (w *headerWriter) WriteHeader(code int) {
	if code >= 200 { // informational answers (103) come before the real header
		w.defaults()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *headerWriter) Write(b []byte) (int, error) {
	w.defaults()
	return w.ResponseWriter.Write(b)
}

// Flush and Unwrap keep streaming and http.ResponseController working.
func (w *headerWriter) Flush() {
	w.defaults()
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *headerWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *headerWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h, ok := w.ResponseWriter.(http.Hijacker); ok {
		return h.Hijack()
	}
	return nil, nil, errors.New("hijacking is not supported")
}
