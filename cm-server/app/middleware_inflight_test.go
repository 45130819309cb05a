package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/scalable-shop/shop/contract"
)

// gatedProducer holds every produce until released, like a broker that does not
// acknowledge; it counts what it was given.
type gatedProducer struct {
	Producer
	arrived chan struct{}
	release chan struct{}
	mu      sync.Mutex
	events  int
}

func (p *gatedProducer) Produce(ctx context.Context, _ contract.Event) error {
	p.arrived <- struct{}{}
	select {
	case <-p.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	p.mu.Lock()
	p.events++
	p.mu.Unlock()
	return nil
}

func TestBuysBeyondMaxInFlightAreRefusedAtOnce(t *testing.T) {
	const limit = 3
	p := &gatedProducer{arrived: make(chan struct{}, 100), release: make(chan struct{})}
	reg := prometheus.NewRegistry()
	m := newMetrics(reg)
	srv := httptest.NewServer(NewServer(slog.New(slog.DiscardHandler), p, nil, reg, m, WithMaxInFlightBuys(limit)))
	defer srv.Close()
	// A refused buy must be answered at once, not after the others: a bounded
	// wait turns a missing limit into a failure instead of a hang.
	client := &http.Client{Timeout: 10 * time.Second}
	buy := func() *http.Response {
		t.Helper()
		res, err := client.Post(srv.URL+"/buy", "application/json", strings.NewReader(`{"userid":"ada","username":"Ada","price":"1.00"}`))
		if err != nil {
			t.Error(err)
			return nil
		}
		return res
	}

	// limit buys wait for the broker...
	var wg sync.WaitGroup
	codes := make(chan int, limit)
	for range limit {
		wg.Go(func() {
			if res := buy(); res != nil {
				res.Body.Close()
				codes <- res.StatusCode
			}
		})
	}
	for range limit {
		<-p.arrived
	}
	// ...so the next ones are refused without reaching the producer.
	for range 2 {
		res := buy()
		if res == nil {
			t.FailNow()
		}
		var body contract.ErrorBody
		_ = json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" || body.Error.Code != contract.EUnavailable {
			t.Fatalf("buy beyond the limit: %d, Retry-After %q, code %q; want 503 with Retry-After and code unavailable",
				res.StatusCode, res.Header.Get("Retry-After"), body.Error.Code)
		}
	}
	if got := testutil.ToFloat64(m.shed); got != 2 {
		t.Errorf("cm_server_buys_shed_total = %v, want 2", got)
	}

	// Once the broker answers, the waiting buys succeed and the slots are free again.
	close(p.release)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusAccepted {
			t.Errorf("a waiting buy got %d, want 202", c)
		}
	}
	res := buy()
	if res == nil {
		t.FailNow()
	}
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Errorf("buy after the others finished: %d, want 202", res.StatusCode)
	}
	if p.events != limit+1 {
		t.Errorf("producer got %d events, want %d (refused buys must produce nothing)", p.events, limit+1)
	}
}
