package app

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/scalable-shop/shop/platform/httpjson"
	"github.com/scalable-shop/shop/platform/httpobserve"
)

// routes lists every route cm-server serves.
func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(httpobserve.Middleware(s.registry, "cm_server", s.log, s.tracerProvider))

	r.Use(s.securityHeaders, s.cors)
	// HEAD is answered by the GET handler: probes and caches use it.
	r.Use(middleware.GetHead)

	r.Get("/", handleIndex())
	r.Get("/static/*", handleStatic())
	r.With(s.requireUser, s.limitBuys, s.limitInFlight()).Post("/buy", handleBuy(s.log, s.ownPurchasesOnly()))
	r.With(s.requireUser).Get("/getAllUserBuys/{userid}", handleGetAllUserBuys(s.log, s.ownLookupsOnly()))
	r.With(s.requireUser).Get("/users/{userid}", handleUser(s.log, s.ownLookupsOnly()))
	r.Get("/healthz", httpjson.Healthz())
	r.Get("/readyz", handleReadyz(&s.shutdown, s.producer, s.lookup))
	r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	r.Group(openAPI.Routes) // GET /openapi.yaml, /openapi.json

	r.NotFound(httpjson.NotFound())
	r.MethodNotAllowed(httpjson.MethodNotAllowed())
	return r
}
