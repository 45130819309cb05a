package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scalable-shop/shop/contract"
)

// pathLookup records the user ids the handlers ask for.
type pathLookup struct {
	mu  sync.Mutex
	ids []string
}

func (l *pathLookup) add(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ids = append(l.ids, id)
}

func (l *pathLookup) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ids) == 0 {
		return ""
	}
	return l.ids[len(l.ids)-1]
}

func (l *pathLookup) Purchases(_ context.Context, id string, _ contract.Page) (contract.PurchasePage, error) {
	l.add(id)
	return contract.PurchasePage{UserID: id, Purchases: []contract.PurchaseView{}}, nil
}

func (l *pathLookup) User(_ context.Context, id string) (contract.UserSummary, error) {
	l.add(id)
	return contract.UserSummary{}, contract.Errorf(contract.ENotFound, "no purchases of user %s", id)
}

func (l *pathLookup) Ping(context.Context) error { return nil }

// A user id may be percent-encoded in the path, and "." and ".." (valid ids, which
// every HTTP client drops as dot segments unless escaped) must be: schemathesis
// found that a buy for user ".." was accepted but its purchases could not be read.
func TestUserIDsInPathsArePercentDecoded(t *testing.T) {
	l := &pathLookup{}
	srv := NewServer(slog.New(slog.DiscardHandler), nil, l, prometheus.NewRegistry(), nil)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	for _, c := range []struct {
		path   string
		status int
		id     string
	}{
		{"/getAllUserBuys/%2E%2E", 200, ".."},
		{"/getAllUserBuys/%2E", 200, "."},
		{"/getAllUserBuys/%41da", 200, "Ada"},
		{"/users/%2E%2E", 404, ".."},
		{"/getAllUserBuys/a%2Fb", 400, ""},
	} {
		before := len(l.ids)
		res, err := http.Get(ts.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != c.status {
			t.Errorf("GET %s: %d %s, want %d", c.path, res.StatusCode, body, c.status)
		}
		if c.id != "" && l.last() != c.id {
			t.Errorf("GET %s looked up %q, want %q", c.path, l.last(), c.id)
		}
		if c.id == "" && len(l.ids) != before {
			t.Errorf("GET %s reached the look-up with %q", c.path, l.last())
		}
	}
}
