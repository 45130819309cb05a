package httpobserve_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/scalable-shop/shop/platform/httpobserve"
)

// serve runs one request through a router behind the middleware and returns the
// answer and the one span it ended.
func serve(t *testing.T, req *http.Request) (*httptest.ResponseRecorder, sdktrace.ReadOnlySpan) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	r := chi.NewRouter()
	r.Use(httpobserve.Middleware(prometheus.NewRegistry(), "test", slog.New(slog.DiscardHandler), tp))
	r.Get("/things/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !trace.SpanContextFromContext(r.Context()).IsValid() {
			t.Error("the handler's context carries no span")
		}
		w.WriteHeader(http.StatusNoContent)
	})
	r.Get("/broken", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	r.Get("/panics", func(http.ResponseWriter, *http.Request) { panic("boom") })
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans ended, want 1", len(spans))
	}
	return w, spans[0]
}

func attr(s sdktrace.ReadOnlySpan, key attribute.Key) attribute.Value {
	for _, kv := range s.Attributes() {
		if kv.Key == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

func TestTheServerSpanContinuesTheCallersTrace(t *testing.T) {
	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req := httptest.NewRequest(http.MethodGet, "/things/42", nil)
	req.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
	w, span := serve(t, req)
	if w.Code != http.StatusNoContent {
		t.Fatalf("status %d", w.Code)
	}
	if got := span.SpanContext().TraceID().String(); got != traceID {
		t.Errorf("trace id %s, want the caller's %s", got, traceID)
	}
	if got := span.Parent().SpanID().String(); got != parentID || !span.Parent().IsRemote() {
		t.Errorf("parent %s (remote %v), want the caller's span %s", got, span.Parent().IsRemote(), parentID)
	}
	if span.Name() != "GET /things/{id}" || span.SpanKind() != trace.SpanKindServer {
		t.Errorf("span %q of kind %v, want a server span named after the route template", span.Name(), span.SpanKind())
	}
	for key, want := range map[attribute.Key]string{
		"http.route":                "/things/{id}",
		"http.request.method":       "GET",
		"url.path":                  "/things/42",
		"http.response.status_code": "204",
	} {
		if got := attr(span, key).String(); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	if span.Status().Code != codes.Unset {
		t.Errorf("status %v for a 204", span.Status())
	}
}

func TestWithoutACallerTheSpanStartsATrace(t *testing.T) {
	_, span := serve(t, httptest.NewRequest(http.MethodGet, "/things/1", nil))
	if !span.SpanContext().IsValid() || span.Parent().IsValid() {
		t.Errorf("span %v with parent %v, want a new root", span.SpanContext(), span.Parent())
	}
}

func TestFailuresMarkTheSpan(t *testing.T) {
	for _, c := range []struct{ path, name, route string }{
		{"/broken", "GET /broken", "/broken"},
		{"/panics", "GET /panics", "/panics"},
	} {
		t.Run(c.path, func(t *testing.T) {
			w, span := serve(t, httptest.NewRequest(http.MethodGet, c.path, nil))
			if w.Code < 500 {
				t.Fatalf("status %d", w.Code)
			}
			if span.Name() != c.name || attr(span, "http.route").String() != c.route {
				t.Errorf("span %q route %q, want %q %q", span.Name(), attr(span, "http.route").String(), c.name, c.route)
			}
			if span.Status().Code != codes.Error {
				t.Errorf("status %v for a %d", span.Status(), w.Code)
			}
		})
	}
}

func TestAnUnmatchedRouteKeepsItsCardinalityLow(t *testing.T) {
	w, span := serve(t, httptest.NewRequest(http.MethodGet, "/no/such/thing", nil))
	if w.Code != http.StatusNotFound {
		t.Fatalf("status %d", w.Code)
	}
	if span.Name() != "GET unmatched" || attr(span, "http.route").String() != "unmatched" {
		t.Errorf("span %q route %q, want GET unmatched", span.Name(), attr(span, "http.route").String())
	}
}
