package app

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scalable-shop/shop/contract"
)

func TestReadinessOf(t *testing.T) {
	for _, c := range []struct {
		name     string
		shutdown bool
		checks   map[string]string
		status   int
		word     string
	}{
		{"all up", false, map[string]string{"kafka": "ok", "cmapi": "ok"}, 200, "ok"},
		{"kafka down", false, map[string]string{"kafka": "dial tcp: refused", "cmapi": "ok"}, 200, "degraded"},
		{"cm-api down", false, map[string]string{"kafka": "ok", "cmapi": "unavailable"}, 200, "degraded"},
		{"both down", false, map[string]string{"kafka": "x", "cmapi": "y"}, 200, "degraded"},
		{"shutting down", true, map[string]string{"kafka": "ok", "cmapi": "ok"}, 503, "shutting down"},
	} {
		status, body := readinessOf(c.shutdown, c.checks)
		if status != c.status || body.Status != c.word {
			t.Errorf("%s: %d %q, want %d %q", c.name, status, body.Status, c.status, c.word)
		}
	}
}

// downProducer is a broker that is down: every write and ping fails as the
// real producer's do.
type downProducer struct{}

func (downProducer) Produce(context.Context, contract.Event) error {
	return contract.Errorf(contract.EUnavailable, "the purchase could not be recorded right now; retry later")
}
func (downProducer) Ping(context.Context) error {
	return errors.New("kafka: dial tcp 127.0.0.1:1: connection refused")
}

// upProducer takes everything.
type upProducer struct{}

func (upProducer) Produce(context.Context, contract.Event) error { return nil }
func (upProducer) Ping(context.Context) error                    { return nil }

// downLookup is cm-api unreachable.
type downLookup struct{}

func (downLookup) Purchases(context.Context, string, contract.Page) (contract.PurchasePage, error) {
	return contract.PurchasePage{}, contract.Errorf(contract.EUnavailable, "purchase history is unavailable right now; retry later")
}
func (downLookup) User(context.Context, string) (contract.UserSummary, error) {
	return contract.UserSummary{}, contract.Errorf(contract.EUnavailable, "purchase history is unavailable right now; retry later")
}
func (downLookup) Ping(context.Context) error {
	return errors.New("cm-api at http://127.0.0.1:1: connection refused")
}

// hangingLookup never answers its ping.
type hangingLookup struct{ downLookup }

func (hangingLookup) Ping(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }

func serve(t *testing.T, p Producer, l PurchaseLookup) *httptest.Server {
	t.Helper()
	reg := prometheus.NewRegistry()
	ts := httptest.NewServer(NewServer(slog.New(slog.DiscardHandler), p, l, reg, newMetrics(reg)))
	t.Cleanup(ts.Close)
	return ts
}

func call(t *testing.T, method, url, body string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: %d without a JSON body: %v", method, url, res.StatusCode, err)
	}
	return res, out
}

const aBuy = `{"userid":"ada","username":"Ada","price":"1.00"}`

// TestOneDependencyDownDegradesOneRoute: with Kafka down the pod stays ready,
// buys answer the JSON 503 and look-ups keep working; with cm-api down the
// pod stays ready, look-ups answer the JSON 503 and buys are still accepted.
func TestOneDependencyDownDegradesOneRoute(t *testing.T) {
	t.Run("kafka down", func(t *testing.T) {
		ts := serve(t, downProducer{}, echoLookup{})
		res, body := call(t, "GET", ts.URL+"/readyz", "")
		checks, _ := body["checks"].(map[string]any)
		if res.StatusCode != 200 || body["status"] != "degraded" || !strings.Contains(checks["kafka"].(string), "refused") || checks["cmapi"] != "ok" {
			t.Errorf("/readyz %d %v, want 200 degraded naming kafka", res.StatusCode, body)
		}
		if res, body := call(t, "POST", ts.URL+"/buy", aBuy); res.StatusCode != 503 || res.Header.Get("Retry-After") == "" || body["error"] == nil {
			t.Errorf("/buy %d Retry-After %q %v, want the JSON 503 with Retry-After", res.StatusCode, res.Header.Get("Retry-After"), body)
		}
		if res, _ := call(t, "GET", ts.URL+"/getAllUserBuys/ada", ""); res.StatusCode != 200 {
			t.Errorf("look-up %d with Kafka down, want 200", res.StatusCode)
		}
	})
	t.Run("cm-api down", func(t *testing.T) {
		ts := serve(t, upProducer{}, downLookup{})
		res, body := call(t, "GET", ts.URL+"/readyz", "")
		checks, _ := body["checks"].(map[string]any)
		if res.StatusCode != 200 || body["status"] != "degraded" || checks["kafka"] != "ok" || checks["cmapi"] == "ok" {
			t.Errorf("/readyz %d %v, want 200 degraded naming cmapi", res.StatusCode, body)
		}
		for _, path := range []string{"/getAllUserBuys/ada", "/users/ada"} {
			if res, body := call(t, "GET", ts.URL+path, ""); res.StatusCode != 503 || res.Header.Get("Retry-After") == "" || body["error"] == nil {
				t.Errorf("%s %d Retry-After %q %v, want the JSON 503 with Retry-After", path, res.StatusCode, res.Header.Get("Retry-After"), body)
			}
		}
		if res, _ := call(t, "POST", ts.URL+"/buy", aBuy); res.StatusCode != 202 {
			t.Errorf("/buy %d with cm-api down, want 202", res.StatusCode)
		}
	})
	t.Run("cm-api hangs", func(t *testing.T) {
		ts := serve(t, upProducer{}, hangingLookup{})
		res, body := call(t, "GET", ts.URL+"/readyz", "")
		checks, _ := body["checks"].(map[string]any)
		if res.StatusCode != 200 || !strings.Contains(checks["cmapi"].(string), "deadline") || checks["kafka"] != "ok" {
			t.Errorf("/readyz %d %v, want 200 with the cm-api check timed out", res.StatusCode, body)
		}
	})
}
