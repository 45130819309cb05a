// Package app is cm-server: configuration, wiring and the HTTP handlers. main only
// calls Run, so tests and the local stack start exactly what production starts.
package app

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/net/netutil"

	"github.com/scalable-shop/shop/cm-server/internal/cmapi"
	"github.com/scalable-shop/shop/cm-server/internal/kafka"
	"github.com/scalable-shop/shop/platform/httpserve"
	"github.com/scalable-shop/shop/platform/kafkaconn"
	"github.com/scalable-shop/shop/platform/logging"
	"github.com/scalable-shop/shop/platform/tracing"
)

// Version is set at build time with -ldflags "-X .../app.Version=...".
var Version = "dev"

// Run starts cm-server and blocks until ctx is cancelled or SIGINT/SIGTERM arrives,
// then shuts down gracefully: not-ready, drain, finish in-flight requests, flush
// the producer, close.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	cfg, err := LoadConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	log, err := logging.New(stdout, "cm-server", cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	conn, err := kafkaconn.New(cfg.Kafka)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	tp, err := tracing.New(ctx, "cm-server", Version, cfg.OTLPEndpoint, cfg.SampleRatio)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = tp.Shutdown(sctx) // flushes spans still batched for export
	}()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := newMetrics(reg)

	producer := kafka.NewProducer(conn, kafka.ProducerOptions{
		Topic:        cfg.Topic,
		BatchTimeout: cfg.BatchTimeout,
		WriteTimeout: cfg.WriteTimeout,
		Log:          log,
		Observe:      metrics.observeProduce,
		Tracer:       tp.Tracer(),
	})
	sec, err := newSecurity(cfg.Security, log)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	cmapiOpts, err := cfg.Security.cmapiOptions(log)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	// Look-ups carry the request's trace to cm-api, as buys carry it through Kafka.
	cmapiOpts = append(cmapiOpts, cmapi.WithTracerProvider(tp.TracerProvider))
	lookups := cmapi.New(cfg.CMAPIURL, cfg.CMAPIToken, cfg.CMAPITimeout, cmapiOpts...)

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		producer.Close()
		return fmt.Errorf("config: http.addr %s cannot be used (%v); set %s_HTTP_ADDR to a free address", cfg.HTTPAddr, err, EnvPrefix)
	}
	if cfg.MaxConns > 0 {
		// Every open connection costs a goroutine and its buffers (~20 KiB);
		// under an open-loop overload they reached 250 MiB. Beyond the limit,
		// connections wait in the kernel's queue, which costs us nothing.
		ln = netutil.LimitListener(ln, cfg.MaxConns)
	}
	if ln, err = cfg.Security.listen(ln, log); err != nil {
		producer.Close()
		return fmt.Errorf("config: %w (check %s_HTTP_TLS_CERT_FILE and %s_HTTP_TLS_KEY_FILE)", err, EnvPrefix, EnvPrefix)
	}

	srv := NewServer(log, producer, lookups, reg, metrics, WithTracerProvider(tp.TracerProvider), WithSecurity(sec), WithMaxInFlightBuys(cfg.MaxInFlight))
	httpServer := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      cfg.WriteTimeout + cfg.CMAPITimeout + 10*time.Second,
		IdleTimeout:       90 * time.Second,
		ErrorLog:          slogAsStdlog(log),
	}
	log.Info("starting", "version", Version, "kafka", cfg.Kafka.Brokers, "topic", cfg.Topic, "cmapi", cfg.CMAPIURL)
	serveErr := httpserve.Serve(ctx, httpServer, ln, log, httpserve.Options{
		DrainDelay: cfg.DrainDelay,
		Timeout:    cfg.ShutdownWait,
		NotReady:   func() { srv.shutdown.Store(true) },
	})
	// In-flight buys have their answers; flush whatever the writer still holds.
	if err := producer.Close(); err != nil {
		log.Error("closing the producer", "err", err)
	}
	log.Info("stopped")
	return serveErr
}
