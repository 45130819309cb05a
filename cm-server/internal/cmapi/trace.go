package cmapi

import (
	"context"
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"

	"github.com/scalable-shop/shop/platform/tracing"
)

// routeKey carries the route template of a call to the span name.
type routeKey struct{}

// tracedTransport wraps base in a client span per call, named after cm-api's route
// template ("GET cm-api /buyList/{userid}"), and sends the W3C trace context so
// cm-api's server span joins the caller's trace.
func tracedTransport(base http.RoundTripper, tp trace.TracerProvider) http.RoundTripper {
	return otelhttp.NewTransport(base,
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(tracing.Propagator),
		// cm-server exports its own Prometheus metrics.
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			return r.Method + " cm-api " + routeOf(r.Context())
		}),
	)
}

// routeOf is the route template get put into ctx.
func routeOf(ctx context.Context) string {
	if route, ok := ctx.Value(routeKey{}).(string); ok {
		return route
	}
	return "unknown"
}
