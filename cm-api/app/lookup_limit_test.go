package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	cmapi "github.com/scalable-shop/shop/cm-api"
	"github.com/scalable-shop/shop/contract"
)

func TestLookupGateWaitsForASlotThenRefuses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newLookupGate(2, 100*time.Millisecond)
		ctx := context.Background()
		r1, ok1 := g.enter(ctx)
		_, ok2 := g.enter(ctx)
		if !ok1 || !ok2 {
			t.Fatal("the first two look-ups got no slot")
		}
		// Both slots are held: the third waits exactly queue_wait, then gives up.
		start := time.Now()
		if _, ok := g.enter(ctx); ok {
			t.Fatal("a third look-up got a slot of two")
		}
		if waited := time.Since(start); waited != 100*time.Millisecond {
			t.Errorf("the refused look-up waited %v, want lookup.queue_wait (100ms)", waited)
		}

		// A slot given back while one waits is taken by the waiter.
		got := make(chan bool)
		go func() { _, ok := g.enter(ctx); got <- ok }()
		time.Sleep(40 * time.Millisecond)
		r1()
		if !<-got {
			t.Error("a look-up waiting while a slot came free was refused")
		}
	})
}

func TestLookupGateWithoutWaitRefusesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newLookupGate(1, 0)
		if _, ok := g.enter(context.Background()); !ok {
			t.Fatal("the first look-up got no slot")
		}
		start := time.Now()
		if _, ok := g.enter(context.Background()); ok || time.Since(start) != 0 {
			t.Errorf("second look-up: ok %v after %v, want refused at once", ok, time.Since(start))
		}
	})
}

func TestLookupGateWaitEndsWithTheLookupsDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newLookupGate(1, time.Minute)
		g.enter(context.Background())
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		start := time.Now()
		if _, ok := g.enter(ctx); ok || time.Since(start) != 30*time.Millisecond {
			t.Errorf("ok %v after %v, want refused when the look-up's deadline passed (30ms)", ok, time.Since(start))
		}
	})
}

func TestLookupGateWithoutBoundAdmitsAll(t *testing.T) {
	g := newLookupGate(0, 0)
	for range 1000 {
		if _, ok := g.enter(context.Background()); !ok {
			t.Fatal("an unbounded gate refused a look-up")
		}
	}
}

// blockingStore holds every Listing until its context ends or release is
// closed, telling arrived when one starts; it remembers the deadline it got.
type blockingStore struct {
	PurchaseStore
	arrived  chan struct{}
	release  chan struct{}
	deadline chan time.Duration
}

func (s *blockingStore) Listing(ctx context.Context, _ string, _ time.Time, _ string, _ int) ([]contract.Event, cmapi.Summary, bool, error) {
	if d, ok := ctx.Deadline(); ok {
		s.deadline <- time.Until(d)
	} else {
		s.deadline <- 0
	}
	s.arrived <- struct{}{}
	select {
	case <-s.release:
		return nil, cmapi.Summary{}, false, nil
	case <-ctx.Done():
		return nil, cmapi.Summary{}, false, ctx.Err()
	}
}

func (s *blockingStore) User(context.Context, string) (cmapi.Summary, bool, error) {
	return cmapi.Summary{}, false, nil
}

func TestLookupsBeyondTheBoundAreShedWithTheJSON503(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &blockingStore{arrived: make(chan struct{}, 10), release: make(chan struct{}), deadline: make(chan time.Duration, 10)}
		reg := prometheus.NewRegistry()
		m := newMetrics(reg)
		srv := NewServer(slog.New(slog.DiscardHandler), "tok", store, nil, reg, m, WithRole(RoleAPI),
			WithLookupLimits(LookupLimits{Timeout: 2 * time.Second, MaxConcurrent: 1, QueueWait: 100 * time.Millisecond}))
		get := func(path string) *httptest.ResponseRecorder {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.Header.Set("Authorization", "Bearer tok")
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, req)
			return w
		}

		t0 := time.Now()
		held := make(chan *httptest.ResponseRecorder)
		go func() { held <- get("/buyList/ada") }()
		<-store.arrived
		if d := <-store.deadline; d != 2*time.Second {
			t.Errorf("the store call got a deadline %v away, want lookup.timeout (2s)", d)
		}
		if got := testutil.ToFloat64(m.lookupsInFlight); got != 1 {
			t.Errorf("cm_api_lookups_in_flight = %v, want 1", got)
		}

		// The one slot is held: both look-up routes are refused, without
		// reaching the store, after lookup.queue_wait.
		for _, path := range []string{"/buyList/bob", "/users/bob"} {
			start := time.Now()
			w := get(path)
			var body contract.ErrorBody
			_ = json.Unmarshal(w.Body.Bytes(), &body)
			if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || body.Error.Code != contract.EUnavailable {
				t.Errorf("%s beyond the bound: %d, Retry-After %q, %s; want the JSON 503 with Retry-After", path, w.Code, w.Header().Get("Retry-After"), w.Body)
			}
			if waited := time.Since(start); waited != 100*time.Millisecond {
				t.Errorf("%s was refused after %v, want lookup.queue_wait (100ms)", path, waited)
			}
		}
		if got := testutil.ToFloat64(m.lookupsShed); got != 2 {
			t.Errorf("cm_api_lookups_shed_total = %v, want 2", got)
		}

		// The held look-up ends at its own deadline with the JSON 503, and gives
		// its slot back.
		w := <-held
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
			t.Errorf("look-up past lookup.timeout: %d %s, want 503 with Retry-After", w.Code, w.Body)
		}
		if took := time.Since(t0); took != 2*time.Second {
			t.Errorf("the held look-up answered after %v, want at lookup.timeout (2s)", took)
		}
		if got := testutil.ToFloat64(m.lookupsInFlight); got != 0 {
			t.Errorf("cm_api_lookups_in_flight = %v after the look-up ended, want 0", got)
		}
		close(store.release)
		if w := get("/buyList/ada"); w.Code != http.StatusOK {
			t.Errorf("look-up after the slot came free: %d %s", w.Code, w.Body)
		}
	})
}

func TestAnUnauthenticatedLookupTakesNoSlot(t *testing.T) {
	store := &blockingStore{arrived: make(chan struct{}, 10), release: make(chan struct{}), deadline: make(chan time.Duration, 10)}
	close(store.release)
	reg := prometheus.NewRegistry()
	m := newMetrics(reg)
	srv := NewServer(slog.New(slog.DiscardHandler), "tok", store, nil, reg, m, WithRole(RoleAPI),
		WithLookupLimits(LookupLimits{Timeout: 2 * time.Second, MaxConcurrent: 1}))
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/buyList/ada", nil))
	if w.Code != http.StatusUnauthorized || testutil.ToFloat64(m.lookupsShed) != 0 || len(store.arrived) != 0 {
		t.Errorf("without a token: %d, shed %v; want 401 before the gate", w.Code, testutil.ToFloat64(m.lookupsShed))
	}
}
