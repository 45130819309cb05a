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
	"github.com/scalable-shop/shop/cm-api/internal/kafka"
	"github.com/scalable-shop/shop/contract"
)

// PurchaseStore reads purchases. Errors are transient store failures.
type PurchaseStore interface {
	// Listing returns up to limit purchases of userID, newest first, after
	// the position (afterTS, afterID) unless afterID is empty, and the user's
	// summary; found is false for a user without one.
	Listing(ctx context.Context, userID string, afterTS time.Time, afterID string, limit int) (events []contract.Event, s cmapi.Summary, found bool, err error)
	// User returns a user's summary; ok is false for a user without purchases.
	User(ctx context.Context, userID string) (s cmapi.Summary, ok bool, err error)
	Ping(ctx context.Context) error
}

// ConsumerState reports the consumer's state (see kafka.Status).
type ConsumerState interface {
	Status() kafka.Status
}

// Roles of the binary (config key role): the look-up API and the consumer scale
// and fail apart, so production runs them as two Deployments; make run and the
// tests run both in one process.
const (
	RoleAll      = "all"
	RoleAPI      = "api"      // look-ups; no consumer, no Kafka
	RoleConsumer = "consumer" // the consumer; HTTP serves only probes and metrics
)

// Roles lists the accepted roles.
func Roles() []string { return []string{RoleAll, RoleAPI, RoleConsumer} }

// Server is cm-api's HTTP handler with its dependencies.
type Server struct {
	role           string
	log            *slog.Logger
	token          string
	tokens         *serviceTokens
	cursors        cursorCodec
	store          PurchaseStore
	consumer       ConsumerState
	registry       *prometheus.Registry
	metrics        *metrics
	tracerProvider trace.TracerProvider
	handler        http.Handler
	shutdown       atomic.Bool
	lookup         LookupLimits
}

// Option configures a Server beyond its required dependencies.
type Option func(*Server)

// WithTracerProvider makes the server continue callers' traces with spans of tp
// (the service's own provider); without it spans are not recorded.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(s *Server) { s.tracerProvider = tp }
}

// WithRole serves the routes of role (RoleAll without it).
func WithRole(role string) Option { return func(s *Server) { s.role = role } }

// WithCursorKeys signs page cursors with c. Without it cursors are signed with
// an empty key, which only tests that do not page may rely on.
func WithCursorKeys(c cursorCodec) Option { return func(s *Server) { s.cursors = c } }

// NewServer wires the routes over the given dependencies. consumer is nil when
// the process runs no consumer (role api).
func NewServer(log *slog.Logger, token string, store PurchaseStore, consumer ConsumerState, reg *prometheus.Registry, m *metrics, opts ...Option) *Server {
	s := &Server{role: RoleAll, log: log, token: token, cursors: newCursorCodec(""), store: store, consumer: consumer, registry: reg, metrics: m,
		tracerProvider: noop.NewTracerProvider()}
	for _, o := range opts {
		o(s)
	}
	s.handler = s.routes()
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func slogAsStdlog(l *slog.Logger) *log.Logger { return slog.NewLogLogger(l.Handler(), slog.LevelWarn) }
