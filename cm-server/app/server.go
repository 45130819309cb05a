package app

import (
	"context"
	"log"
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/scalable-shop/shop/contract"
)

// Producer sends a purchase event to Kafka and returns only once the broker has
// acknowledged it with acks=all. Any error means the purchase may not be stored; it
// is a *contract.Error with code EUnavailable when the broker could not take it.
type Producer interface {
	Produce(ctx context.Context, e contract.Event) error
	Ping(ctx context.Context) error
}

// PurchaseLookup reads a user's purchases from cm-api. Errors carry contract codes:
// EInvalid for a cursor cm-api refused, EUnavailable when cm-api cannot be reached,
// EUpstream when it answered something it should not have.
type PurchaseLookup interface {
	Purchases(ctx context.Context, userID string, page contract.Page) (contract.PurchasePage, error)
	// User returns a user's summary; ENotFound for a user without purchases.
	User(ctx context.Context, userID string) (contract.UserSummary, error)
	Ping(ctx context.Context) error
}

// Server is cm-server's HTTP handler with its dependencies.
type Server struct {
	log            *slog.Logger
	producer       Producer
	lookup         PurchaseLookup
	registry       *prometheus.Registry
	metrics        *metrics
	sec            *security
	tracerProvider trace.TracerProvider
	handler        http.Handler
	// maxInFlight bounds the buys waiting for Kafka (0: no bound).
	maxInFlight int
	// shutdown turns /readyz to 503 so the load balancer drains us first.
	shutdown atomic.Bool
}

// Option configures a Server beyond its required dependencies.
type Option func(*Server)

// WithTracerProvider makes the server continue callers' traces with spans of tp
// (the service's own provider); without it spans are not recorded.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(s *Server) { s.tracerProvider = tp }
}

// NewServer wires the routes over the given dependencies.
func NewServer(log *slog.Logger, p Producer, l PurchaseLookup, reg *prometheus.Registry, m *metrics, opts ...Option) *Server {
	s := &Server{log: log, producer: p, lookup: l, registry: reg, metrics: m, tracerProvider: noop.NewTracerProvider()}
	for _, o := range opts {
		o(s)
	}
	s.handler = s.routes()
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// slogAsStdlog routes net/http's own complaints (bad TLS handshakes, panics) into
// the structured log instead of stderr.
func slogAsStdlog(l *slog.Logger) *log.Logger {
	return slog.NewLogLogger(l.Handler(), slog.LevelWarn)
}
