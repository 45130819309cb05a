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
