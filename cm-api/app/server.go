package app

import (
	"context"
	"log"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	cmapi "github.com/scalable-shop/shop/cm-api"
	"github.com/scalable-shop/shop/contract"
)

// PurchaseStore reads purchases. Errors are transient store failures.
type PurchaseStore interface {
	// ListPurchases returns up to limit purchases of userID, newest first, after
	// the position (afterTS, afterID) unless afterID is empty.
	ListPurchases(ctx context.Context, userID string, afterTS time.Time, afterID string, limit int) ([]contract.Event, error)
	// User returns a user's summary; ok is false for a user without purchases.
	User(ctx context.Context, userID string) (s cmapi.Summary, ok bool, err error)
	Ping(ctx context.Context) error
}

// ConsumerState says whether the consumer is healthy, and if not, why.
type ConsumerState interface {
	Ready() (ok bool, why string)
}

// Server is cm-api's HTTP handler with its dependencies.
type Server struct {
	log      *slog.Logger
	token    string
	tokens   *serviceTokens
	cursors  cursorCodec
	store    PurchaseStore
	consumer ConsumerState
	registry *prometheus.Registry
	metrics  *metrics
	tracer   trace.Tracer
	handler  http.Handler
	shutdown atomic.Bool
}

// Option configures a Server beyond its required dependencies.
type Option func(*Server)

// WithTracer makes the server continue callers' traces with tracer; without it
// spans are not recorded.
func WithTracer(t trace.Tracer) Option { return func(s *Server) { s.tracer = t } }

// NewServer wires the routes over the given dependencies.
func NewServer(log *slog.Logger, token string, store PurchaseStore, consumer ConsumerState, reg *prometheus.Registry, m *metrics, opts ...Option) *Server {
	s := &Server{log: log, token: token, cursors: newCursorCodec(token), store: store, consumer: consumer, registry: reg, metrics: m,
		tracer: noop.NewTracerProvider().Tracer("")}
	for _, o := range opts {
		o(s)
	}
	s.handler = s.routes()
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func slogAsStdlog(l *slog.Logger) *log.Logger { return slog.NewLogLogger(l.Handler(), slog.LevelWarn) }
