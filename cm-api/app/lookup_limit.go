package app

import (
	"context"
	"net/http"
	"time"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/platform/httpjson"
)

// LookupLimits are the lookup.* settings: what one look-up may cost the store.
type LookupLimits struct {
	// Timeout bounds a look-up from its arrival, slot wait included: every store
	// call it makes ends by then. Below cm-server's cmapi.timeout, so that cm-api
	// answers its own JSON 503 before cm-server gives up on the call.
	Timeout time.Duration
	// MaxConcurrent look-ups run store calls at once; 0: no bound.
	MaxConcurrent int
	// QueueWait is how long a look-up waits for a slot before it is answered 503.
	QueueWait time.Duration
}

// WithLookupLimits bounds look-ups by l; without it they are unbounded and have
// no deadline of their own (each store call still has mongo.timeout).
func WithLookupLimits(l LookupLimits) Option { return func(s *Server) { s.lookup = l } }

// lookupGate holds the slots of the look-ups that run store calls. A slow store
// otherwise makes every look-up wait its full timeout while more arrive: they
// stack up as goroutines and connections in the driver's pool, each one slowing
// the store further. With the gate, look-ups beyond the bound wait briefly and
// are then answered 503 with Retry-After at once, which the caller can retry.
type lookupGate struct {
	slots chan struct{} // nil: no bound
	wait  time.Duration
}

func newLookupGate(maxConcurrent int, wait time.Duration) *lookupGate {
	g := &lookupGate{wait: wait}
	if maxConcurrent > 0 {
		g.slots = make(chan struct{}, maxConcurrent)
	}
	return g
}

// enter takes a slot, waiting up to g.wait for one and no longer than ctx
// allows. ok is false when none came free; otherwise release gives it back.
func (g *lookupGate) enter(ctx context.Context) (release func(), ok bool) {
	if g.slots == nil {
		return func() {}, true
	}
	release = func() { <-g.slots }
	select {
	case g.slots <- struct{}{}:
		return release, true
	default:
	}
	if g.wait <= 0 {
		return nil, false
	}
	timer := time.NewTimer(g.wait)
	defer timer.Stop()
	select {
	case g.slots <- struct{}{}:
		return release, true
	case <-timer.C:
	case <-ctx.Done():
	}
	return nil, false
}

// limitLookups gives each look-up its deadline (lookup.timeout) and a slot of
// the gate (lookup.max_concurrent, waiting up to lookup.queue_wait); a look-up
// without a slot is answered the JSON 503 with Retry-After and counted in
// cm_api_lookups_shed_total. One gate serves every look-up route.
func (s *Server) limitLookups() func(http.Handler) http.Handler {
	gate := newLookupGate(s.lookup.MaxConcurrent, s.lookup.QueueWait)
	timeout := s.lookup.Timeout
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			release, ok := gate.enter(ctx)
			if !ok {
				if s.metrics != nil {
					s.metrics.lookupsShed.Inc()
				}
				httpjson.Error(w, r, s.log, contract.Errorf(contract.EUnavailable,
					"too many look-ups are waiting for the purchase store; retry after Retry-After"))
				return
			}
			defer release()
			if s.metrics != nil {
				s.metrics.lookupsInFlight.Inc()
				defer s.metrics.lookupsInFlight.Dec()
			}
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}
