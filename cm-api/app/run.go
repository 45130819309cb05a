// Package app is cm-api: configuration, wiring, the consumer's lifecycle and the
// internal HTTP API. main only calls Run, so tests run exactly what production runs.
package app

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/scalable-shop/shop/cm-api/internal/kafka"
	"github.com/scalable-shop/shop/cm-api/internal/mongo"
	"github.com/scalable-shop/shop/platform/httpserve"
	"github.com/scalable-shop/shop/platform/kafkaconn"
	"github.com/scalable-shop/shop/platform/logging"
	"github.com/scalable-shop/shop/platform/tracing"
)

// Version is set at build time with -ldflags "-X .../app.Version=...".
var Version = "dev"

// Run starts cm-api and blocks until ctx is cancelled or SIGINT/SIGTERM arrives.
// Shutdown order: not-ready, stop HTTP (finishing in-flight requests), let the
// consumer finish and commit its batch, leave the group, disconnect.
//
// With the arguments "users rebuild" it recomputes every user summary instead;
// with "dlq list" or "dlq replay" it shows or replays dead letters (dlq.go).
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if len(args) >= 2 && args[0] == "users" && args[1] == "rebuild" {
		return rebuildUsers(ctx, args[2:], getenv, stdout, stderr)
	}
	if len(args) >= 1 && args[0] == "dlq" {
		return runDLQ(ctx, args[1:], getenv, stdout, stderr)
	}

	cfg, err := LoadConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	if err := cfg.requireCursorKey(); err != nil {
		return err
	}
	log, err := logging.New(stdout, "cm-api", cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	tp, err := tracing.New(ctx, "cm-api", Version, cfg.OTLPEndpoint, cfg.SampleRatio)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = tp.Shutdown(sctx) // flushes spans still batched for export
	}()
	mongoTLS, err := cfg.Security.mongoTLS()
	if err != nil {
		return fmt.Errorf("config: %w (check %s_MONGO_TLS_CA_FILE, _CERT_FILE and _KEY_FILE)", err, EnvPrefix)
	}
	tokens, err := newServiceTokens(log, cfg.AuthToken, cfg.Security.TokenFile, cfg.Security.TokenGrace)
	if err != nil {
		return fmt.Errorf("config: auth.token_file: %w (set %s_AUTH_TOKEN_FILE)", err, EnvPrefix)
	}
	cursors, err := newCursorKeys(cfg.Cursor, func(err error) { log.Warn("cursor key file", "err", err.Error()) })
	if err != nil {
		return fmt.Errorf("config: cursor key file: %w (set %s_CURSOR_KEY_FILE and _PREVIOUS_KEY_FILE to readable, non-empty files)", err, EnvPrefix)
	}
	store, err := mongo.Open(mongo.Options{URI: cfg.MongoURI, Database: cfg.MongoDatabase,
		Username: cfg.MongoUsername, Password: cfg.MongoPassword, Timeout: cfg.MongoTimeout, TLS: mongoTLS,
		SummaryCollections: cfg.SummaryCollections, ListingPages: cfg.ListingPages})
	if err != nil {
		return fmt.Errorf("config: %w (set %s_MONGO_URI to a mongodb:// URI)", err, EnvPrefix)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = store.Close(dctx)
	}()

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("config: http.addr %s cannot be used (%v); set %s_HTTP_ADDR to a free address", cfg.HTTPAddr, err, EnvPrefix)
	}
	if ln, err = cfg.Security.listen(ln, log); err != nil {
		return fmt.Errorf("config: %w (check %s_HTTP_TLS_CERT_FILE and %s_HTTP_TLS_KEY_FILE)", err, EnvPrefix, EnvPrefix)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := newMetrics(reg)

	// In role api there is no consumer: state is a nil interface, not a nil
	// *kafka.Consumer, so the probes know to leave it out.
	var consumers []*kafka.Consumer
	var state ConsumerState
	if cfg.Role != RoleAPI {
		conn, err := kafkaconn.New(cfg.Kafka)
		if err != nil {
			return fmt.Errorf("config: %w", err)
		}
		purchases := kafka.NewConsumer(conn, store, kafka.ConsumerOptions{
			Topic: cfg.Topic, DLQTopic: cfg.DLQTopic, Group: cfg.Group,
			BatchSize: cfg.BatchSize, BatchWait: cfg.BatchWait, SessionTimeout: cfg.SessionTimeout,
			StallTimeout: cfg.StallTimeout, Log: log, Observe: m.consumerObserver(), Tracer: tp.Tracer(),
		})
		summaries := kafka.NewProjection(conn, store, cfg.Group, kafka.ConsumerOptions{
			Topic: cfg.Topic, Group: cfg.Summaries.Group,
			BatchSize: cfg.Summaries.BatchSize, BatchWait: cfg.Summaries.Window, SessionTimeout: cfg.SessionTimeout,
			StallTimeout: cfg.StallTimeout, Log: log.With("consumer", "summaries"), Observe: m.summariesObserver(),
			QuietBroker: true,
		})
		consumers = []*kafka.Consumer{purchases, summaries}
		state = bothConsumers{purchases, summaries}
	}
	srv := NewServer(log, tokens.Primary(), tlsExplained{store}, state, reg, m, WithRole(cfg.Role), WithCursorKeys(cursors),
		WithTracerProvider(tp.TracerProvider), WithServiceTokens(tokens), WithLookupLimits(cfg.Lookup))
	httpServer := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      cfg.MongoTimeout + 10*time.Second,
		IdleTimeout:       90 * time.Second,
		ErrorLog:          slogAsStdlog(log),
	}

	attrs := []any{"version", Version, "role", cfg.Role, "database", cfg.MongoDatabase}
	if consumers != nil {
		attrs = append(attrs, "kafka", cfg.Kafka.Brokers, "topic", cfg.Topic, "group", cfg.Group, "summaries_group", cfg.Summaries.Group)
	}
	log.Info("starting", attrs...)
	consumerCtx, stopConsumer := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	for _, c := range consumers {
		wg.Go(func() { _ = c.Run(consumerCtx) })
	}

	serveErr := httpserve.Serve(ctx, httpServer, ln, log, httpserve.Options{
		DrainDelay: cfg.DrainDelay,
		Timeout:    cfg.ShutdownWait,
		NotReady:   func() { srv.shutdown.Store(true) },
	})
	stopConsumer()
	wg.Wait()
	for _, c := range consumers {
		if err := c.Close(); err != nil {
			log.Warn("closing the consumer", "err", err.Error())
		}
	}
	log.Info("stopped")
	return serveErr
}
