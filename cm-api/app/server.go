package app

import (
	"context"
	"log"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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
	cursors  cursorCodec
	store    PurchaseStore
	consumer ConsumerState
	registry *prometheus.Registry
	metrics  *metrics
	handler  http.Handler
	shutdown atomic.Bool
}

// NewServer wires the routes over the given dependencies.
func NewServer(log *slog.Logger, token string, store PurchaseStore, consumer ConsumerState, reg *prometheus.Registry, m *metrics) *Server {
	s := &Server{log: log, token: token, cursors: newCursorCodec(token), store: store, consumer: consumer, registry: reg, metrics: m}
	s.handler = s.routes()
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func slogAsStdlog(l *slog.Logger) *log.Logger { return slog.NewLogLogger(l.Handler(), slog.LevelWarn) }
