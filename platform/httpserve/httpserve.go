// Package httpserve runs an http.Server until its context ends and then shuts it
// down the way a load balancer needs: not-ready first, a pause so endpoints drop the
// pod, then a graceful Shutdown that lets in-flight requests finish.
package httpserve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Options tune Serve.
type Options struct {
	// DrainDelay is how long to keep serving after NotReady, so that Kubernetes
	// stops routing new requests before the listener closes.
	DrainDelay time.Duration
	// Timeout bounds the graceful Shutdown.
	Timeout time.Duration
	// NotReady is called first on shutdown; /readyz should answer 503 from then on.
	NotReady func()
}

// Serve serves srv on ln until ctx is done, then shuts down as Options say.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, log *slog.Logger, o Options) error {
	var draining atomic.Bool
	srv.Handler = closeWhileDraining(srv.Handler, &draining)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String())

	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	if o.NotReady != nil {
		o.NotReady()
	}
	draining.Store(true)
	if o.DrainDelay > 0 {
		log.Info("draining before shutdown", "delay", o.DrainDelay.String())
		time.Sleep(o.DrainDelay)
	}
	sctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	return nil
}

// closeWhileDraining answers with "Connection: close" once draining is set. A
// proxy (the ingress) keeps idle keep-alive connections to the pod; if Shutdown
// closed one just as the proxy sent a buy on it, the proxy could not replay the
// POST and would answer 502. Closed after a response instead, each connection
// ends cleanly while the pod still serves, and by the time Shutdown runs the
// proxy has dropped the pod from its endpoints and sends it nothing more.
func closeWhileDraining(next http.Handler, draining *atomic.Bool) http.Handler {
	if next == nil {
		next = http.DefaultServeMux
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if draining.Load() {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}
