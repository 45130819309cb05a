// Package httpobserve is the middleware every route of both services runs behind:
// a server span continuing the caller's W3C trace, one log line and two metrics per
// request, and a JSON 500 instead of a dropped connection if a handler panics.
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
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/platform/httpjson"
	"github.com/scalable-shop/shop/platform/tracing"
)

// quietRoutes are polled by machines; logging them would drown the requests.
var quietRoutes = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// Middleware returns the middleware, registering its metrics as <namespace>_http_*.
func Middleware(reg prometheus.Registerer, namespace string, log *slog.Logger, tracer trace.Tracer) func(http.Handler) http.Handler {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "http_requests_total", Help: "HTTP requests by route, method and status.",
	}, []string{"route", "method", "status"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "http_request_duration_seconds", Help: "HTTP request latency by route, method and status.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"route", "method", "status"})
	reg.MustRegister(requests, latency)

	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			ctx := tracing.Propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
			ctx, span := tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path)))
			r = r.WithContext(ctx)
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			defer func() {
				if p := recover(); p != nil {
					if p == http.ErrAbortHandler { //nolint:errorlint // a recovered value, compared as net/http does
						panic(p)
					}
					log.ErrorContext(ctx, "panic in handler", "path", r.URL.Path, "panic", fmt.Sprint(p))
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
				code := strconv.Itoa(status)
				requests.WithLabelValues(route, r.Method, code).Inc()
				latency.WithLabelValues(route, r.Method, code).Observe(d.Seconds())
				span.SetName(r.Method + " " + route)
				span.SetAttributes(attribute.String("http.route", route), attribute.Int("http.response.status_code", status))
				if status >= 500 {
					span.SetStatus(codes.Error, http.StatusText(status))
				}
				span.End()
				if !quietRoutes[route] {
					log.InfoContext(ctx, "request", "method", r.Method, "path", r.URL.Path, "route", route,
						"status", status, "duration_ms", float64(d.Microseconds())/1000, "bytes", ww.BytesWritten())
				}
			}()
			next.ServeHTTP(ww, r)
		})
	}
}
