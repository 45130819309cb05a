// Package tracing sets up OpenTelemetry for one service instance and carries the
// W3C trace context across Kafka records. Each Run builds its own provider: two
// services share one process under `make run`, so nothing here is global.
package tracing

import (
	"context"
	"fmt"
	"net/url"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// Propagator reads and writes the W3C traceparent and tracestate headers.
var Propagator propagation.TextMapPropagator = propagation.TraceContext{}

// Provider is a service's tracer provider. Without an OTLP endpoint it still
// creates real trace and span ids, so they reach logs and Kafka headers; it just
// exports nothing.
type Provider struct {
	*sdktrace.TracerProvider
}

// New returns the provider of service. endpoint is an OTLP/HTTP URL such as
// http://otel-collector:4318; empty turns export off. ratio samples root spans.
func New(ctx context.Context, service, version, endpoint string, ratio float64) (*Provider, error) {
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName(service), semconv.ServiceVersion(version))),
	}
	if endpoint != "" {
		if _, err := url.ParseRequestURI(endpoint); err != nil {
			return nil, fmt.Errorf("trace.otlp_endpoint %q is not a URL such as http://otel-collector:4318", endpoint)
		}
		exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
		if err != nil {
			return nil, fmt.Errorf("trace.otlp_endpoint: %w", err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	return &Provider{sdktrace.NewTracerProvider(opts...)}, nil
}

// Tracer returns the provider's tracer for the service's code.
func (p *Provider) Tracer() trace.Tracer {
	return p.TracerProvider.Tracer("github.com/scalable-shop/shop")
}

// headerCarrier adapts kafka-go headers to the propagation API.
type headerCarrier struct{ headers *[]kafka.Header }

func (c headerCarrier) Get(key string) string {
	for _, h := range *c.headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func (c headerCarrier) Set(key, value string) {
	for i, h := range *c.headers {
		if h.Key == key {
			(*c.headers)[i].Value = []byte(value)
			return
		}
	}
	*c.headers = append(*c.headers, kafka.Header{Key: key, Value: []byte(value)})
}

func (c headerCarrier) Keys() []string {
	keys := make([]string, len(*c.headers))
	for i, h := range *c.headers {
		keys[i] = h.Key
	}
	return keys
}

// Inject writes ctx's trace context into Kafka headers.
func Inject(ctx context.Context, headers *[]kafka.Header) {
	Propagator.Inject(ctx, headerCarrier{headers})
}

// Extract returns ctx carrying the trace context found in Kafka headers.
func Extract(ctx context.Context, headers []kafka.Header) context.Context {
	return Propagator.Extract(ctx, headerCarrier{&headers})
}
