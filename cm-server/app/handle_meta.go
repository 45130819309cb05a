package app

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scalable-shop/shop/platform/httpjson"
)

// readyCheckTimeout bounds each dependency check of /readyz. The checks run at
// once, so the answer comes within this even when a dependency hangs, well
// inside the probe's timeoutSeconds (2 s in the chart).
const readyCheckTimeout = 800 * time.Millisecond

// readiness is the body of /readyz.
type readiness struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// readinessOf decides /readyz: the pod is ready while it can do its own job,
// which only shutting down stops. A dependency that is down takes one route
// with it (Kafka: /buy; cm-api: the look-ups), which answers its own JSON 503;
// failing readiness for it would take every replica out of the Service at once
// and turn the shop's JSON answers, and the page, into the ingress's 503.
func readinessOf(shuttingDown bool, checks map[string]string) (int, readiness) {
	if shuttingDown {
		return http.StatusServiceUnavailable, readiness{Status: "shutting down", Checks: map[string]string{}}
	}
	res := readiness{Status: "ok", Checks: checks}
	for _, v := range checks {
		if v != "ok" {
			res.Status = "degraded"
		}
	}
	return http.StatusOK, res
}

// handleReadyz answers readiness and reports Kafka and cm-api in the body.
func handleReadyz(shutdown *atomic.Bool, producer Producer, lookup PurchaseLookup) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if shutdown.Load() {
			status, body := readinessOf(true, nil)
			w.Header().Set("Retry-After", "1")
			httpjson.Encode(w, status, body)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), readyCheckTimeout)
		defer cancel()
		checks := map[string]func(context.Context) error{"kafka": producer.Ping, "cmapi": lookup.Ping}
		var mu sync.Mutex
		var wg sync.WaitGroup
		results := map[string]string{}
		for name, check := range checks {
			wg.Go(func() {
				v := "ok"
				if err := check(ctx); err != nil {
					v = err.Error()
				}
				mu.Lock()
				results[name] = v
				mu.Unlock()
			})
		}
		wg.Wait()
		status, body := readinessOf(false, results)
		httpjson.Encode(w, status, body)
	}
}
