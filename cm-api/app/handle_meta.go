package app

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/scalable-shop/shop/platform/httpjson"
)

// readiness is the body of /readyz.
type readiness struct {
	Status string            `json:"status"`
	Role   string            `json:"role"`
	Checks map[string]string `json:"checks"`
}

// readyzPingTimeout bounds the store ping of /readyz: it must answer within the
// kubelet's probe timeout (1 s by default) whatever MongoDB does.
const readyzPingTimeout = 500 * time.Millisecond

// handleReadyz answers 200 whenever this pod can do its own job, which is only
// not the case while it shuts down. A dependency that is down is reported in the
// checks but does not fail readiness: every pod shares it, so taking them all out
// of the Service would only turn the routes that still work into the ingress's
// own error page, while the pod itself answers the affected routes with the JSON
// 503 and Retry-After. status is "ok" when every check is, else "degraded".
// consumer is nil in role api, which has no consumer (and needs no Kafka).
func handleReadyz(role string, shutdown *atomic.Bool, store PurchaseStore, consumer ConsumerState) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if shutdown.Load() {
			httpjson.Encode(w, http.StatusServiceUnavailable, readiness{Status: "shutting down", Role: role, Checks: map[string]string{}})
			return
		}
		res := readiness{Status: "ok", Role: role, Checks: map[string]string{"mongodb": "ok"}}
		ctx, cancel := context.WithTimeout(r.Context(), readyzPingTimeout)
		defer cancel()
		if err := store.Ping(ctx); err != nil {
			res.Checks["mongodb"] = "ping failed: " + err.Error()
		}
		if consumer != nil {
			st := consumer.Status()
			res.Checks["kafka"], res.Checks["consumer"] = st.Kafka, st.Consumer
			if st.Store != "ok" && res.Checks["mongodb"] == "ok" {
				res.Checks["mongodb"] = st.Store // reads work, the consumer's writes do not
			}
		}
		for _, v := range res.Checks {
			if v != "ok" {
				res.Status = "degraded"
			}
		}
		httpjson.Encode(w, http.StatusOK, res)
	}
}

// liveness is the body of /healthz.
type liveness struct {
	Status   string `json:"status"`
	Consumer string `json:"consumer,omitempty"`
}

// handleHealthz is liveness: it checks no dependency, since restarting a pod
// does not bring MongoDB or Kafka back. The one exception is a stalled consumer
// (its own partitions have lag and nothing moved for consumer.stall_timeout;
// lag that cannot be read, as with Kafka down, decides nothing, and store
// retries count as movement): only a restart is known to get it going again,
// so the kubelet is asked for one.
func handleHealthz(consumer ConsumerState) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if consumer != nil {
			if st := consumer.Status(); st.Stalled {
				httpjson.Encode(w, http.StatusServiceUnavailable, liveness{Status: "stalled", Consumer: st.Consumer})
				return
			}
		}
		httpjson.Encode(w, http.StatusOK, liveness{Status: "ok"})
	}
}
