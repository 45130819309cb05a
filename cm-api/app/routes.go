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
	r.Use(httpobserve.Middleware(s.registry, "cm_api", s.log, s.tracer))

	r.With(s.requireToken).Get("/buyList/{userid}", handleBuyList(s.log, s.store, s.cursors))
	r.With(s.requireToken).Get("/users/{userid}", handleUser(s.log, s.store))
	r.Get("/healthz", httpjson.Healthz())
	r.Get("/readyz", handleReadyz(&s.shutdown, s.store, s.consumer))
	r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	r.Group(openAPI.Routes) // GET /openapi.yaml, /openapi.json

	r.NotFound(httpjson.NotFound())
	r.MethodNotAllowed(httpjson.MethodNotAllowed())
	return r
}
