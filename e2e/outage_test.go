package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/localstack/testenv"
)

// outage is one row of the outage matrix: a dependency, how to take it away and
// bring it back, and which routes may fail while it is gone.
type outage struct {
	name string
	// skip says why this outage cannot be made here ("" when it can).
	skip        func() string
	stop, start func(t *testing.T, s *shop)
	// What the shop answers while it lasts; every other route must keep working.
	buysRefused    bool // POST /buy answers the JSON 503 (else 202)
	lookupsRefused bool // the look-ups answer the JSON 503 (else 200)
	// The dependency whose trouble the services' /readyz bodies must report, by
	// check name; cm-api is not asked while it is the one stopped.
	serverCheck, apiCheck string
	// consumerPaused: cm-api's consumer check must say it pauses.
	consumerPaused bool
}

// TestOneOutageDegradesOnlyTheRoutesThatNeedIt is the outage matrix of DESIGN.md
// ("Readiness") on both services as processes: with Kafka, cm-api or MongoDB
// stopped, every running pod stays Ready and live and says in /readyz what is
// down, the routes that need the dependency answer the shop's JSON 503 with
// Retry-After, and the others keep working. After the recovery every 202 is
// stored exactly once and the consumer's lag is back to 0. Each outage gets a
// shop of its own: one that does not recover cannot fail the next.
func TestOneOutageDegradesOnlyTheRoutesThatNeedIt(t *testing.T) {
	needLocal(t)
	cases := []outage{
		{
			name: "kafka",
			skip: func() string {
				if testenv.External() {
					return "stops the embedded broker; the fault suite (make test-faults) stops the real one"
				}
				return ""
			},
			stop:        func(t *testing.T, s *shop) { s.kafka.Stop(t) },
			start:       func(t *testing.T, s *shop) { s.kafka.Start(t) },
			buysRefused: true, serverCheck: "kafka", apiCheck: "kafka",
		},
		{
			name: "cm-api",
			stop: func(t *testing.T, s *shop) {
				if err := s.api.term(30 * time.Second); err != nil {
					t.Fatalf("stopping cm-api: %v", err)
				}
			},
			start:          func(t *testing.T, s *shop) { s.api.start() },
			lookupsRefused: true, serverCheck: "cmapi",
		},
		{
			name: "mongodb",
			skip: func() string {
				if os.Getenv("MONGO_URI") != "" {
					return "stops the embedded MongoDB-wire server; MONGO_URI names an external one"
				}
				return ""
			},
			stop:           func(t *testing.T, s *shop) { s.mongo.Stop(t) },
			start:          func(t *testing.T, s *shop) { s.mongo.Start(t) },
			lookupsRefused: true, apiCheck: "mongodb", consumerPaused: true,
		},
	}
	for _, o := range cases {
		t.Run(o.name, func(t *testing.T) {
			if o.skip != nil {
				if why := o.skip(); why != "" {
					t.Skip(why)
				}
			}
			checkOutage(t, o)
		})
	}
}

func checkOutage(t *testing.T, o outage) {
	s := startShop(t)
	user := uid("outage-" + o.name)
	var acked []string // every purchase id a 202 carried
	buyOK := func(key string) {
		t.Helper()
		r := buy(s.URL(), user, "Outage", "1.25", time.Time{}, key)
		if r.Status != http.StatusAccepted || r.Err != nil {
			t.Fatalf("buy %s: %+v, want 202", key, r)
		}
		acked = append(acked, r.ID)
	}
	buyOK("before-1")
	buyOK("before-2")
	waitHistory(t, s.URL(), user, len(acked), 60*time.Second)
	apiUp := o.name != "cm-api"

	o.stop(t, s)

	// While it is down.
	var refused []string // Idempotency-Keys of buys answered 503, retried after
	for i := range 3 {
		key := fmt.Sprintf("during-%d", i)
		if !o.buysRefused {
			buyOK(key)
			continue
		}
		code, h, raw := send(t, "POST", s.URL()+"/buy", key,
			fmt.Sprintf(`{"userid":%q,"username":"Outage","price":"1.25"}`, user))
		wantUnavailable(t, "POST /buy with "+o.name+" down", code, h, raw)
		refused = append(refused, key)
	}
	for _, path := range []string{"/getAllUserBuys/" + user, "/users/" + user} {
		code, h, raw := send(t, "GET", s.URL()+path, "", "")
		switch {
		case o.lookupsRefused:
			wantUnavailable(t, "GET "+path+" with "+o.name+" down", code, h, raw)
		case code != http.StatusOK:
			t.Fatalf("GET %s with %s down: %d %s, want 200 (look-ups do not need %s)", path, o.name, code, raw, o.name)
		}
	}
	if code, _, raw := send(t, "GET", s.URL()+"/", "", ""); code != http.StatusOK {
		t.Fatalf("GET / with %s down: %d %s, want 200", o.name, code, raw)
	}
	// The bodies say what is down; readiness itself stays 200 at every look.
	testenv.WaitFor(t, 60*time.Second, "cm-server /readyz to report "+o.name+" down", func() bool {
		r := mustBeReady(t, "cm-server", s.URL())
		return o.serverCheck == "" || r.Status == "degraded" && r.Checks[o.serverCheck] != "ok" && r.Checks[o.serverCheck] != ""
	})
	if apiUp {
		// The consumer meets a MongoDB outage on its next write, which waits
		// CM_API_MONGO_TIMEOUT for server selection before it fails.
		testenv.WaitFor(t, 90*time.Second, "cm-api /readyz to report "+o.name+" down", func() bool {
			r := mustBeReady(t, "cm-api", s.api.URL())
			return r.Status == "degraded" && r.Checks[o.apiCheck] != "ok" && r.Checks[o.apiCheck] != "" &&
				(!o.consumerPaused || strings.HasPrefix(r.Checks["consumer"], "paused"))
		})
	}
	mustBeReady(t, "cm-server", s.URL())
	if code := status(s.URL() + "/healthz"); code != http.StatusOK {
		t.Fatalf("cm-server /healthz %d with %s down, want 200 (liveness checks no dependency)", code, o.name)
	}
	if apiUp {
		mustBeReady(t, "cm-api", s.api.URL())
		if code := status(s.api.URL() + "/healthz"); code != http.StatusOK {
			t.Fatalf("cm-api /healthz %d with %s down, want 200 (a paused consumer is not stalled)", code, o.name)
		}
	}

	o.start(t, s)

	// After the recovery.
	testenv.WaitFor(t, 120*time.Second, "both services to report every dependency up", func() bool {
		return allUp(s.URL()) && allUp(s.api.URL())
	})
	for _, key := range refused {
		// The client retries what was refused, with the same key.
		var r buyResult
		testenv.WaitFor(t, 60*time.Second, "the refused buy "+key+" to be accepted", func() bool {
			r = buy(s.URL(), user, "Outage", "1.25", time.Time{}, key)
			return r.Status == http.StatusAccepted && r.Err == nil
		})
		acked = append(acked, r.ID)
	}
	buyOK("after-1")
	if lag := waitGroupLag(t, s.kafka, 120*time.Second); lag != 0 {
		t.Fatalf("consumer lag %d after the recovery, want 0", lag)
	}
	got := waitHistory(t, s.URL(), user, len(acked), 60*time.Second)
	seen := map[string]int{}
	for _, p := range got {
		seen[p.ID]++
	}
	for _, id := range acked {
		if seen[id] != 1 {
			t.Errorf("purchase %s was acknowledged (202) and is listed %d times, want once", id, seen[id])
		}
	}
	if len(got) != len(acked) {
		t.Errorf("cm-server lists %d purchases of %s, %d were acknowledged: %+v", len(got), user, len(acked), got)
	}
}

// probeBody is a /readyz answer.
type probeBody struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// mustBeReady fails the test unless /readyz answers 200 with JSON, and returns
// the body.
func mustBeReady(t *testing.T, name, base string) probeBody {
	t.Helper()
	code, _, raw := send(t, "GET", base+"/readyz", "", "")
	var r probeBody
	if err := json.Unmarshal(raw, &r); code != http.StatusOK || err != nil {
		t.Fatalf("%s /readyz: %d %s, want 200: a dependency's outage must not make the pod NotReady", name, code, raw)
	}
	return r
}

// send makes one request and returns its status, headers and body; a request
// that gets no answer fails the test, since every case here must be answered.
func send(t *testing.T, method, url, key, body string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v (it must be answered, not hang or drop)", method, url, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, bytes.TrimSpace(raw)
}

// wantUnavailable checks the shop's own 503: Retry-After and the JSON error body
// with code unavailable, not a proxy's page or a bare status.
func wantUnavailable(t *testing.T, what string, status int, h http.Header, raw []byte) {
	t.Helper()
	var eb contract.ErrorBody
	err := json.Unmarshal(raw, &eb)
	if status != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || err != nil || eb.Error.Code != contract.EUnavailable {
		t.Fatalf("%s: %d, Retry-After %q, body %s; want 503 with Retry-After and a JSON error of code %s",
			what, status, h.Get("Retry-After"), raw, contract.EUnavailable)
	}
}

// waitGroupLag waits until cm-api's group has committed every record of the
// topic and returns the lag left.
func waitGroupLag(t *testing.T, k *testenv.Kafka, timeout time.Duration) int64 {
	t.Helper()
	conn := k.Conn(t)
	var lag int64
	var err error
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		lag, err = conn.GroupLag(ctx, k.Group, k.Topic)
		cancel()
		if err == nil && lag == 0 {
			return 0
		}
		if time.Now().After(deadline) {
			if err != nil {
				t.Fatalf("consumer lag: %v", err)
			}
			return lag
		}
		time.Sleep(250 * time.Millisecond)
	}
}
