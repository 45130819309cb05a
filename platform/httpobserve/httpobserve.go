// Package httpobserve is the middleware every route of both services runs behind:
// one log line and two metrics per request, and a JSON 500 instead of a dropped
// connection if a handler panics.
package httpobserve

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/platform/httpjson"
)

// quietRoutes are polled by machines; logging them would drown the requests.
var quietRoutes = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// Middleware returns the middleware, registering its metrics as <namespace>_http_*.
func Middleware(reg prometheus.Registerer, namespace string, log *slog.Logger) func(http.Handler) http.Handler {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "http_requests_total", Help: "HTTP requests by route, method and status.",
	}, []string{"route", "method", "status"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "http_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"route", "method"})
	reg.MustRegister(requests, latency)

	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			defer func() {
				if p := recover(); p != nil {
					if p == http.ErrAbortHandler {
						panic(p)
					}
					log.Error("panic in handler", "path", r.URL.Path, "panic", fmt.Sprint(p))
					if ww.Status() == 0 {
						httpjson.Encode(ww, http.StatusInternalServerError, contract.Body(fmt.Errorf("panic")))
					}
				}
				route := "unmatched"
				if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
					route = rc.RoutePattern()
				}
				status := ww.Status()
				if status == 0 {
					status = http.StatusOK
				}
				d := time.Since(start)
				requests.WithLabelValues(route, r.Method, strconv.Itoa(status)).Inc()
				latency.WithLabelValues(route, r.Method).Observe(d.Seconds())
				if !quietRoutes[route] {
					log.Info("request", "method", r.Method, "path", r.URL.Path, "route", route,
						"status", status, "duration_ms", float64(d.Microseconds())/1000, "bytes", ww.BytesWritten())
				}
			}()
			next.ServeHTTP(ww, r)
		})
	}
}
