// Command bench is `make bench`: it runs both services as processes on a real
// Kafka broker (SASL on) and FerretDB on PostgreSQL, puts each scenario of
// BENCHMARKS.md through them with the open-loop generator of package load,
// measures the references (a trivial HTTP handler, raw kafka-go produce, a raw
// bulk insert, a raw indexed find) in the same run, and prints one table, also
// written as JSON.
//
// e2e/bench/bench.sh starts Kafka and PostgreSQL and calls `bench run`; the other
// subcommands are children that bench starts itself:
//
//	bench run -pg URL -bin DIR -out DIR    the benchmark (environment: see config.go)
//	bench ferretdb -listen ADDR -pg URL    FerretDB on the PostgreSQL backend
//	bench trivial -listen ADDR             the trivial HTTP handler (the HTTP ceiling)
//	bench cm-server|cm-api ARGS...         the service's app.Run with a pprof listener
//	                                       on $BENCH_PPROF_ADDR (BENCH_PROFILE=1 only)
//	bench plot REPORT.json                 the report's /buy latency plot again, as SVG
//	                                       on stdout
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // only served by the profiling children, on their own listener
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"

	cmapi "github.com/scalable-shop/shop/cm-api/app"
	cmserver "github.com/scalable-shop/shop/cm-server/app"
	"github.com/scalable-shop/shop/localstack"
	"github.com/scalable-shop/shop/platform/config"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: bench run|ferretdb|trivial|cm-server|cm-api|plot ...")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "run":
		err = runBench(ctx, args)
	case "ferretdb":
		err = runFerretDB(ctx, args)
	case "trivial":
		err = runTrivial(ctx, args)
	case "cm-server", "cm-api":
		err = runProfiled(ctx, cmd, args)
	case "plot":
		err = plotReport(args, os.Stdout)
	default:
		err = fmt.Errorf("unknown command %q", cmd)
	}
	if err != nil {
		stop()
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1) //nolint:gocritic // stop() ran just above
	}
}

// runFerretDB serves the MongoDB wire protocol on PostgreSQL until ctx ends.
func runFerretDB(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ferretdb", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:27017", "listen address")
	pg := fs.String("pg", "", "PostgreSQL URL")
	sqlite := fs.String("sqlite", "", "folder for the SQLite files: make run's embedded store instead of -pg")
	_ = fs.Parse(args)
	if addr := os.Getenv("BENCH_PPROF_ADDR"); addr != "" {
		go func() { _ = http.ListenAndServe(addr, http.DefaultServeMux) }()
	}
	if *sqlite != "" {
		// Exactly what make run starts, its _id index included (localstack/idindex.go).
		m, err := localstack.StartMongo(localstack.MongoOptions{Addr: *listen, DataDir: *sqlite})
		if err != nil {
			return err
		}
		<-ctx.Done()
		m.Close()
		return nil
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: *listen},
		Handler:       "postgresql",
		PostgreSQLURL: *pg,
		Logger:        slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err != nil {
		return err
	}
	return f.Run(ctx)
}

// runTrivial is the HTTP ceiling: the least a Go handler can do for a POST /buy —
// read the body, answer 202 with a small JSON — on the same net/http server.
func runTrivial(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("trivial", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "listen address")
	_ = fs.Parse(args)
	accepted := []byte(`{"id":"00000000-0000-7000-8000-000000000000","status":"accepted"}` + "\n")
	srv := &http.Server{Addr: *listen, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.WriteHeader(http.StatusOK)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write(accepted)
	})}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// runProfiled runs a service's own app.Run, exactly as its main does, beside a
// pprof listener. bench uses it only with BENCH_PROFILE=1; the measured run uses
// the services' real binaries.
func runProfiled(ctx context.Context, name string, args []string) error {
	if addr := os.Getenv("BENCH_PPROF_ADDR"); addr != "" {
		runtime.SetMutexProfileFraction(100)
		runtime.SetBlockProfileRate(int(time.Millisecond))
		go func() { _ = http.ListenAndServe(addr, http.DefaultServeMux) }()
	}
	run := cmserver.Run
	if name == "cm-api" {
		run = cmapi.Run
	}
	err := run(ctx, args, os.Getenv, os.Stdout, os.Stderr)
	if errors.Is(err, config.ErrHelp) {
		return nil
	}
	return err
}
