// Package httpobserve is the middleware every route of both services runs behind:
// an OpenTelemetry server span (otelhttp) continuing the caller's W3C trace, one
// log line and two metrics per request, and a JSON 500 instead of a dropped
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
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/platform/httpjson"
	"github.com/scalable-shop/shop/platform/tracing"
)

// quietRoutes are polled by machines; logging them would drown the requests.
var quietRoutes = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// Middleware returns the middleware, registering its metrics as <namespace>_http_*.
// Spans come from tp, the service's own provider (never the global one: two
// services share a process under `make run`). It must run inside a chi router
// so that spans and metrics are named after the route template.
func Middleware(reg prometheus.Registerer, namespace string, log *slog.Logger, tp trace.TracerProvider) func(http.Handler) http.Handler {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "http_requests_total", Help: "HTTP requests by route, method and status.",
	}, []string{"route", "method", "status"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "http_request_duration_seconds", Help: "HTTP request latency by route, method and status.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"route", "method", "status"})
	reg.MustRegister(requests, latency)

	traced := otelhttp.NewMiddleware("",
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(tracing.Propagator),
		// The services export their own Prometheus metrics above.
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithSpanNameFormatter(spanName),
	)
	return func(next http.Handler) http.Handler {
		return traced(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			ctx := r.Context()
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
				route := routeOf(r)
				status := ww.Status()
				if status == 0 {
					status = http.StatusOK
				}
				d := time.Since(start)
				code := strconv.Itoa(status)
				requests.WithLabelValues(route, r.Method, code).Inc()
				latency.WithLabelValues(route, r.Method, code).Observe(d.Seconds())
				// otelhttp named the span before chi routed the request, and sets
				// the status and status code itself once this returns.
				span := trace.SpanFromContext(ctx)
				span.SetName(r.Method + " " + route)
				span.SetAttributes(attribute.String("http.route", route))
				if !quietRoutes[route] {
					log.InfoContext(ctx, "request", "method", r.Method, "path", r.URL.Path, "route", route,
						"status", status, "duration_ms", float64(d.Microseconds())/1000, "bytes", ww.BytesWritten())
				}
			}()
			next.ServeHTTP(ww, r)
		}))
	}
}

// routeOf is the chi route template r matched, or "unmatched" (also before routing).
func routeOf(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
		return rc.RoutePattern()
	}
	return "unmatched"
}

// spanName is "METHOD /route/{template}": low-cardinality, as semantic conventions
// ask. Before routing the template is unknown and the name is the method alone.
func spanName(_ string, r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc == nil || rc.RoutePattern() == "" {
		return r.Method
	}
	return r.Method + " " + routeOf(r)
}
