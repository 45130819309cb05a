// Command probe runs in pods of the test node's smoke step:
//
//	probe serve [ADDR]        HTTP: / answers the pod's host name, /healthz "ok" (ADDR default :8080)
//	probe get URL [TRIES]     prints the body of GET URL; retries TRIES times (default 1), 0.5 s apart
//	probe report              prints what the container sees of its own sandbox (see report.go)
//
// It is a static Go program because the node has no images but the ones built
// here (and busybox's static wget crashes in pods).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: probe serve [ADDR] | get URL [TRIES] | report")
	}
	switch args[0] {
	case "serve":
		addr := ":8080"
		if len(args) > 1 {
			addr = args[1]
		}
		return serve(ctx, addr)
	case "get":
		if len(args) < 2 {
			return errors.New("usage: probe get URL [TRIES]")
		}
		tries := 1
		if len(args) > 2 {
			n, err := strconv.Atoi(args[2])
			if err != nil || n < 1 {
				return fmt.Errorf("TRIES %q: want a positive number", args[2])
			}
			tries = n
		}
		return get(ctx, args[1], tries, stdout)
	case "report":
		return report(stdout)
	}
	return fmt.Errorf("unknown command %q: want serve, get or report", args[0])
}

func serve(ctx context.Context, addr string) error {
	host, _ := os.Hostname()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, host) })
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(shut)
	}
}

func get(ctx context.Context, url string, tries int, stdout io.Writer) error {
	client := &http.Client{Timeout: 5 * time.Second}
	var err error
	for i := 0; i < tries; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(500 * time.Millisecond):
			}
		}
		var body []byte
		if body, err = fetch(ctx, client, url); err == nil {
			_, err = stdout.Write(body)
			return err
		}
	}
	return err
}

func fetch(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return body, nil
}
