package app

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/scalable-shop/shop/platform/httpjson"
)

// readiness is the body of /readyz.
type readiness struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// handleReadyz reports ready when Kafka serves the topic and cm-api answers.
func handleReadyz(log *slog.Logger, shutdown *atomic.Bool, producer Producer, lookup PurchaseLookup) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if shutdown.Load() {
			httpjson.Encode(w, http.StatusServiceUnavailable, readiness{Status: "shutting down", Checks: map[string]string{}})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		res := readiness{Status: "ok", Checks: map[string]string{"kafka": "ok", "cmapi": "ok"}}
		if err := producer.Ping(ctx); err != nil {
			res.Status, res.Checks["kafka"] = "unavailable", err.Error()
		}
		if err := lookup.Ping(ctx); err != nil {
			res.Status, res.Checks["cmapi"] = "unavailable", err.Error()
		}
		status := http.StatusOK
		if res.Status != "ok" {
			status = http.StatusServiceUnavailable
			w.Header().Set("Retry-After", "1")
		}
		httpjson.Encode(w, status, res)
	}
}
