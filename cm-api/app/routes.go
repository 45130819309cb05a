package app

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/scalable-shop/shop/platform/httpjson"
	"github.com/scalable-shop/shop/platform/httpobserve"
)

// routes lists every route cm-api serves. Only the look-up needs the token: probes
// and metrics are for the cluster, and the NetworkPolicy keeps everyone else out.
func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(httpobserve.Middleware(s.registry, "cm_api", s.log, s.tracerProvider))

	// The consumer role has no Service: it serves only what the kubelet and
	// Prometheus ask for, and a look-up sent to it is a 404.
	if s.role != RoleConsumer {
		// Both look-ups share one bound on the store calls in flight (after the
		// token: a caller without one takes no slot).
		lookups := s.limitLookups()
		r.With(s.requireToken, lookups).Get("/buyList/{userid}", handleBuyList(s.log, s.store, s.cursors))
		r.With(s.requireToken, lookups).Get("/users/{userid}", handleUser(s.log, s.store))
		r.Group(openAPI.Routes) // GET /openapi.yaml, /openapi.json
	}
	r.Get("/healthz", handleHealthz(s.consumer))
	r.Get("/readyz", handleReadyz(s.role, &s.shutdown, s.store, s.consumer))
	r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))

	r.NotFound(httpjson.NotFound())
	r.MethodNotAllowed(httpjson.MethodNotAllowed())
	return r
}
