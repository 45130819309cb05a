package cmapi_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/scalable-shop/shop/cm-server/internal/cmapi"
	"github.com/scalable-shop/shop/contract"
)

func TestCallsCarryTheCallersTrace(t *testing.T) {
	ts, req := answering(t, 200, `{"userid":"ada","purchases":[]}`)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	ctx, parent := tp.Tracer("test").Start(context.Background(), "GET /getAllUserBuys/{userid}")
	cl := cmapi.New(ts.URL, token, 5*time.Second, cmapi.WithTracerProvider(tp))
	if _, err := cl.Purchases(ctx, "ada", contract.Page{Limit: 5}); err != nil {
		t.Fatal(err)
	}
	if err := cl.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	parent.End()

	spans := rec.Ended()
	if len(spans) != 3 {
		t.Fatalf("%d spans, want two calls and their parent", len(spans))
	}
	for i, want := range []string{"GET cm-api /buyList/{userid}", "GET cm-api /healthz"} {
		s := spans[i]
		if s.Name() != want || s.SpanKind() != trace.SpanKindClient {
			t.Errorf("span %q of kind %v, want client span %q", s.Name(), s.SpanKind(), want)
		}
		if s.Parent().SpanID() != parent.SpanContext().SpanID() || s.SpanContext().TraceID() != parent.SpanContext().TraceID() {
			t.Errorf("span %q is not a child of the caller's span", s.Name())
		}
	}
	// The last call (Ping) told cm-api its span, so cm-api's server span is its child.
	want := "00-" + parent.SpanContext().TraceID().String() + "-" + spans[1].SpanContext().SpanID().String() + "-01"
	if got := req.Header.Get("traceparent"); got != want {
		t.Errorf("traceparent %q, want %q", got, want)
	}
}

func TestWithoutATracerProviderNoTraceIsSent(t *testing.T) {
	ts, req := answering(t, 200, `{}`)
	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("test").Start(context.Background(), "caller")
	defer span.End()
	if err := cmapi.New(ts.URL, token, 5*time.Second).Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if got := req.Header.Get("traceparent"); got != "" {
		t.Errorf("traceparent %q sent without WithTracerProvider", got)
	}
}

func TestTracingKeepsTheTLSConfig(t *testing.T) {
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(ts.Close)
	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	tp := sdktrace.NewTracerProvider()
	// Either order: the span wraps the transport that verifies cm-api.
	for _, opts := range [][]cmapi.Option{
		{cmapi.WithTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}), cmapi.WithTracerProvider(tp)},
		{cmapi.WithTracerProvider(tp), cmapi.WithTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})},
	} {
		if err := cmapi.New(ts.URL, token, 5*time.Second, opts...).Ping(context.Background()); err != nil {
			t.Errorf("Ping over TLS with tracing: %v", err)
		}
	}
}
