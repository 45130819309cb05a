package app

import (
	"net/http"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/platform/httpjson"
)

// WithMaxInFlightBuys bounds the buys waiting for Kafka at once; 0 leaves them
// unbounded.
func WithMaxInFlightBuys(n int) Option { return func(s *Server) { s.maxInFlight = n } }

// limitInFlight answers 503 with Retry-After, at once, to a buy that arrives
// while maxInFlight buys already wait for the broker. Every waiting buy holds a
// goroutine, its request, buffers and span: when the broker slowed down under an
// open-loop load, cm-server grew to 400 MiB of them (BENCHMARKS.md). Refusing
// early turns overload into quick answers the client retries, instead of memory.
func (s *Server) limitInFlight() func(http.Handler) http.Handler {
	if s.maxInFlight <= 0 {
		return func(next http.Handler) http.Handler { return next }
	}
	slots := make(chan struct{}, s.maxInFlight)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case slots <- struct{}{}:
				defer func() { <-slots }()
				next.ServeHTTP(w, r)
			default:
				if s.metrics != nil {
					s.metrics.shed.Inc()
				}
				httpjson.Error(w, r, s.log, contract.Errorf(contract.EUnavailable,
					"too many buys are waiting for Kafka; retry after Retry-After"))
			}
		})
	}
}
