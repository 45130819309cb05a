package cmapi_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/scalable-shop/shop/cm-server/internal/cmapi"
	"github.com/scalable-shop/shop/contract"
)

const token = "service-token"

// answering is a cm-api that answers every call with status and body, and
// records what it was asked.
func answering(t *testing.T, status int, body string) (*httptest.Server, *http.Request) {
	t.Helper()
	var got http.Request
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = *r.Clone(context.Background())
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(ts.Close)
	return ts, &got
}

func code(err error) string {
	if err == nil {
		return ""
	}
	return contract.ErrorCode(err)
}

func TestEveryStatusBranch(t *testing.T) {
	page := `{"userid":"ada","purchases":[{"id":"01a21452-703b-75a8-b160-1d3c6be5a2f3","userid":"ada","username":"Ada","price":"12.50","timestamp":"2026-11-25T10:00:00Z","received_at":"2026-11-25T10:00:00Z"}],"next_cursor":"c2"}`
	for _, c := range []struct {
		name    string
		status  int
		body    string
		code    string // contract code of the error, "" for success
		message string // part of the client-facing message or the wrapped detail
	}{
		{"200", 200, page, "", ""},
		{"200 with malformed JSON", 200, `{"userid":`, contract.EUpstream, "malformed JSON"},
		{"200 with a body of another shape", 200, `[1,2]`, contract.EUpstream, "malformed JSON"},
		{"400 refusing the cursor", 400, `{"error":{"code":"invalid_request","message":"the cursor is not valid"}}`, contract.EInvalid, "the cursor is not valid"},
		{"400 without an error body", 400, `oops`, contract.EUpstream, "400 without an error body"},
		{"400 with another code", 400, `{"error":{"code":"internal","message":"x"}}`, contract.EUpstream, "400"},
		{"401", 401, `{"error":{"code":"unauthorized","message":"no"}}`, contract.EUpstream, "CM_SERVER_CMAPI_TOKEN"},
		{"403", 403, `{"error":{"code":"forbidden","message":"no"}}`, contract.EUpstream, "refused our token with 403"},
		{"404 for an unknown user", 404, `{"error":{"code":"not_found","message":"no purchases of ada"}}`, contract.ENotFound, "no purchases of ada"},
		{"404 of a missing route", 404, `404 page not found`, contract.EUpstream, "answered 404"},
		{"429", 429, `{"error":{"code":"too_many_requests","message":"slow"}}`, contract.EUnavailable, "answered 429"},
		{"500", 500, `{"error":{"code":"internal","message":"x"}}`, contract.EUpstream, "answered 500"},
		{"502", 502, ``, contract.EUpstream, "answered 502"},
		{"503", 503, `{"error":{"code":"unavailable","message":"x"}}`, contract.EUnavailable, "answered 503"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ts, req := answering(t, c.status, c.body)
			cl := cmapi.New(ts.URL, token, 5*time.Second)
			got, err := cl.Purchases(context.Background(), "ada", contract.Page{Limit: 20, Cursor: "c1"})
			if code(err) != c.code {
				t.Fatalf("error %v (code %q), want code %q", err, code(err), c.code)
			}
			if err != nil && !strings.Contains(err.Error(), c.message) {
				var ce *contract.Error
				if !errors.As(err, &ce) || !strings.Contains(ce.Message, c.message) {
					t.Errorf("error %q does not say %q", err, c.message)
				}
			}
			if c.code == "" && (got.UserID != "ada" || len(got.Purchases) != 1 || got.Purchases[0].Price != "12.50" || got.NextCursor != "c2") {
				t.Errorf("page %+v", got)
			}
			if req.URL.Path != "/buyList/ada" || req.URL.Query().Get("limit") != "20" || req.URL.Query().Get("cursor") != "c1" {
				t.Errorf("asked %s", req.URL)
			}
			if req.Header.Get("Authorization") != "Bearer "+token || req.Header.Get("Accept") != "application/json" {
				t.Errorf("headers %v", req.Header)
			}
		})
	}
}

func TestUserAndPing(t *testing.T) {
	ts, req := answering(t, 200, `{"userid":"ada","username":"Ada","purchase_count":2,"total_spent":"3.00","first_purchase":"2026-11-25T10:00:00Z","last_purchase":"2026-11-25T11:00:00Z"}`)
	cl := cmapi.New(ts.URL+"/", token, 5*time.Second) // a trailing slash is trimmed
	sum, err := cl.User(context.Background(), "ada")
	if err != nil || sum.PurchaseCount != 2 || sum.TotalSpent != "3.00" || req.URL.Path != "/users/ada" {
		t.Fatalf("User: %+v %v (asked %s)", sum, err, req.URL)
	}
	if err := cl.Ping(context.Background()); err != nil || req.URL.Path != "/healthz" {
		t.Fatalf("Ping: %v (asked %s)", err, req.URL)
	}
	down, _ := answering(t, 503, ``)
	if err := cmapi.New(down.URL, token, 5*time.Second).Ping(context.Background()); code(err) != contract.EUnavailable {
		t.Fatalf("Ping of a 503: %v", err)
	}
}

func TestUserIDIsEscapedInThePath(t *testing.T) {
	ts, req := answering(t, 200, `{"userid":"a/b"}`)
	if _, err := cmapi.New(ts.URL, token, 5*time.Second).User(context.Background(), "a/b?c"); err != nil {
		t.Fatal(err)
	}
	if req.URL.EscapedPath() != "/users/a%2Fb%3Fc" || req.URL.RawQuery != "" {
		t.Errorf("user id reached cm-api as path %q raw %q query %q", req.URL.Path, req.URL.RawPath, req.URL.RawQuery)
	}
}

func TestConnectionRefusedIsUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nobody listens there now
	_, err = cmapi.New("http://"+addr, token, 5*time.Second).Purchases(context.Background(), "ada", contract.Page{Limit: 1})
	if code(err) != contract.EUnavailable || !strings.Contains(err.Error(), addr) {
		t.Fatalf("error %v, want unavailable naming %s", err, addr)
	}
}

func TestTimeoutIsUnavailable(t *testing.T) {
	release := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); ts.Close() })
	_, err := cmapi.New(ts.URL, token, 50*time.Millisecond).User(context.Background(), "ada")
	if code(err) != contract.EUnavailable || !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("error %v, want unavailable after the per-call timeout", err)
	}
}

func TestCallerCancellationStopsTheCall(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(ts.Close)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := cmapi.New(ts.URL, token, time.Minute).User(ctx, "ada"); code(err) != contract.EUnavailable {
		t.Fatalf("error %v, want unavailable", err)
	}
}

func TestBodyCutMidwayIsUnavailable(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(200)
		_, _ = w.Write([]byte(`{"userid":`))
		// Returning with fewer bytes than announced cuts the connection.
	}))
	t.Cleanup(ts.Close)
	_, err := cmapi.New(ts.URL, token, 5*time.Second).User(context.Background(), "ada")
	if code(err) != contract.EUnavailable || !strings.Contains(err.Error(), "reading cm-api's answer") {
		t.Fatalf("error %v, want unavailable while reading", err)
	}
}

func TestRotatedTokenIsPresented(t *testing.T) {
	ts, req := answering(t, 200, `{}`)
	tok := "first"
	cl := cmapi.New(ts.URL, "fixed", 5*time.Second, cmapi.WithTokenSource(func() string { return tok }))
	_ = cl.Ping(context.Background())
	if req.Header.Get("Authorization") != "Bearer first" {
		t.Fatalf("presented %q", req.Header.Get("Authorization"))
	}
	tok = "second"
	_ = cl.Ping(context.Background())
	if req.Header.Get("Authorization") != "Bearer second" {
		t.Fatalf("presented %q after rotation", req.Header.Get("Authorization"))
	}
}
