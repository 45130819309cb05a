package app

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/scalable-shop/shop/contract"
)

// limitedShop serves cm-server's routes with the rate limit of c over fakes,
// without a listener: inside a synctest bubble the handler is called directly,
// so the limiter's clock is the bubble's fake one.
type limitedShop struct {
	http.Handler
	producer *recordingProducer
	limiter  *rateLimiter
}

func newLimitedShop(t *testing.T, c SecurityConfig) *limitedShop {
	t.Helper()
	c.RateLimit, c.HSTS = true, hstsTLS
	sec, err := newSecurity(c, quiet)
	if err != nil {
		t.Fatal(err)
	}
	p := &recordingProducer{}
	return &limitedShop{Handler: NewServer(quiet, p, echoLookup{}, prometheus.NewRegistry(), nil, WithSecurity(sec)), producer: p, limiter: sec.limiter}
}

// buy posts a purchase of user from the client at addr (a 127.0.0.0/8 address).
func (s *limitedShop) buy(t *testing.T, user, addr string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/buy", strings.NewReader(buyAs(user)))
	r.Header.Set("Content-Type", "application/json")
	r.RemoteAddr = addr + ":40000"
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

func expectTooMany(t *testing.T, w *httptest.ResponseRecorder, retryAfter string) {
	t.Helper()
	var body contract.ErrorBody
	if w.Code != http.StatusTooManyRequests || json.Unmarshal(w.Body.Bytes(), &body) != nil || body.Error.Code != contract.ETooManyRequests {
		t.Fatalf("got %d %s, want 429 with the JSON error too_many_requests", w.Code, w.Body)
	}
	if got := w.Header().Get("Retry-After"); got != retryAfter {
		t.Errorf("Retry-After = %q, want %q", got, retryAfter)
	}
	if !strings.Contains(body.Error.Message, "retry after "+retryAfter+" s") {
		t.Errorf("message %q does not say when to retry", body.Error.Message)
	}
}

func TestRateLimitPerClient(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 2 buys per window of 2 s: 1 buy per second on average.
		s := newLimitedShop(t, SecurityConfig{Rate: 1, Burst: 2})
		const ada, bob = "127.0.0.1", "127.0.0.2"
		for i := 0; i < 2; i++ {
			if w := s.buy(t, "ada", ada); w.Code != http.StatusAccepted {
				t.Fatalf("buy %d within the burst: %d %s", i, w.Code, w.Body)
			}
		}
		expectTooMany(t, s.buy(t, "ada", ada), "2")
		if n := s.producer.count(); n != 2 {
			t.Errorf("%d purchases produced, want 2", n)
		}
		if w := s.buy(t, "bob", bob); w.Code != http.StatusAccepted {
			t.Errorf("another client while ada is limited: %d", w.Code)
		}
		// Only /buy is limited.
		r := httptest.NewRequest(http.MethodGet, "/getAllUserBuys/ada", nil)
		r.RemoteAddr = ada + ":40000"
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Errorf("a look-up while limited: %d", w.Code)
		}

		time.Sleep(time.Second)
		expectTooMany(t, s.buy(t, "ada", ada), "2") // same window
		time.Sleep(time.Second)
		// The next window starts with the previous one's two buys at full weight:
		// the window slides, it does not reset.
		expectTooMany(t, s.buy(t, "ada", ada), "2")
		time.Sleep(time.Second)
		// Half-way, the previous window's buys weigh half: one buy passes. The
		// refusals above cost nothing.
		if w := s.buy(t, "ada", ada); w.Code != http.StatusAccepted {
			t.Errorf("half a window later: %d %s", w.Code, w.Body)
		}
		expectTooMany(t, s.buy(t, "ada", ada), "2")
		// Two quiet windows later the whole burst is there again.
		time.Sleep(2 * 2 * time.Second)
		for i := 0; i < 2; i++ {
			if w := s.buy(t, "ada", ada); w.Code != http.StatusAccepted {
				t.Errorf("buy %d after two quiet windows: %d", i, w.Code)
			}
		}
	})
}

func TestRateLimitWindow(t *testing.T) {
	for _, tc := range []struct {
		rate   float64
		burst  int
		window time.Duration
	}{
		{5, 10, 2 * time.Second},
		{0.4, 1, 2500 * time.Millisecond},
		{100, 1, time.Second},              // 10 ms, clamped up
		{1e-6, 1_000_000, 24 * time.Hour},  // 31 years, clamped down
		{1e-6, 1, 24 * time.Hour},          // beyond time.Duration's range
		{0.001, 1_000_000, 24 * time.Hour}, // 1e9 s
	} {
		if got := rateWindow(tc.rate, tc.burst); got != tc.window {
			t.Errorf("rate %g, burst %d: window %s, want %s", tc.rate, tc.burst, got, tc.window)
		}
	}
}

// Retry-After is httprate's window, rounded up to whole seconds (httprate
// itself truncates). The window slides, so a client waiting just that long may
// still be refused: the buys of the previous window weigh until half a window
// per burst later (window/(2*burst)); then a buy passes.
func TestRateLimitRetryAfterIsTheWindow(t *testing.T) {
	for _, tc := range []struct {
		rate       float64
		window     time.Duration
		retryAfter string
	}{
		{0.4, 2500 * time.Millisecond, "3"}, // httprate itself says 2
		{0.1, 10 * time.Second, "10"},
		{1e-9, 24 * time.Hour, "86400"}, // at most a day
	} {
		synctest.Test(t, func(t *testing.T) {
			s := newLimitedShop(t, SecurityConfig{Rate: tc.rate, Burst: 1})
			if w := s.buy(t, "ada", "127.0.0.1"); w.Code != http.StatusAccepted {
				t.Fatalf("first buy: %d", w.Code)
			}
			expectTooMany(t, s.buy(t, "ada", "127.0.0.1"), tc.retryAfter)
			longest := tc.window + tc.window/2 // window/(2*burst) more, burst 1
			time.Sleep(longest - time.Millisecond)
			expectTooMany(t, s.buy(t, "ada", "127.0.0.1"), tc.retryAfter)
			time.Sleep(2 * time.Millisecond)
			if w := s.buy(t, "ada", "127.0.0.1"); w.Code != http.StatusAccepted {
				t.Errorf("%s after the buy: %d, want it to pass", longest+time.Millisecond, w.Code)
			}
		})
	}
}

// trackedClients counts the per-client counters httprate's in-memory counter
// holds. They sit in unexported maps: this reads httprate v0.16.1's internals
// and fails loudly when an upgrade changes them.
func trackedClients(t *testing.T, l *rateLimiter) int {
	t.Helper()
	v := reflect.ValueOf(l.rl.Counter())
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		t.Fatalf("httprate's counter is a %T: its internals changed, update trackedClients", l.rl.Counter())
	}
	n := 0
	for _, name := range []string{"latestCounters", "previousCounters"} {
		m := v.Elem().FieldByName(name)
		if m.Kind() != reflect.Map {
			t.Fatalf("httprate's counter has no map %s: its internals changed, update trackedClients", name)
		}
		n += m.Len()
	}
	return n
}

// httprate has no cap on the clients it tracks (the old ratelimit.max_clients):
// what bounds its memory is that a client's counter lives two windows at most.
func TestRateLimitForgetsClientsAfterTwoWindows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newLimitedShop(t, SecurityConfig{Rate: 1, Burst: 5}) // 5 s windows
		const clients = 300
		for i := range clients {
			addr := "127.0." + strconv.Itoa(i/250) + "." + strconv.Itoa(i%250+1)
			if w := s.buy(t, "ada", addr); w.Code != http.StatusAccepted {
				t.Fatalf("client %d: %d", i, w.Code)
			}
		}
		if n := trackedClients(t, s.limiter); n != clients {
			t.Fatalf("%d clients tracked, want %d", n, clients)
		}
		// One window later they are the previous window's counts, still needed.
		time.Sleep(5 * time.Second)
		s.buy(t, "ada", "127.1.0.1")
		if n := trackedClients(t, s.limiter); n != clients+1 {
			t.Errorf("a window later: %d clients tracked, want %d", n, clients+1)
		}
		// Two windows after their last buy they are gone: what is left is the
		// client of the previous window and the newcomer.
		time.Sleep(5 * time.Second)
		s.buy(t, "ada", "127.1.0.2")
		if n := trackedClients(t, s.limiter); n != 2 {
			t.Errorf("two windows later: %d clients tracked, want 2", n)
		}
	})
}

func TestRateLimitKeys(t *testing.T) {
	t.Run("by IP, forwarded only when trusted", func(t *testing.T) {
		for _, trust := range []bool{false, true} {
			s := newShop(t, SecurityConfig{RateLimit: true, Rate: 0.001, Burst: 1, TrustForwarded: trust})
			xff := func(v string) map[string]string { return map[string]string{"X-Forwarded-For": v} }
			if a := s.do(t, "POST", "/buy", buyAs("ada"), xff("203.0.113.7")); a.status != 202 {
				t.Fatalf("first: %d", a.status)
			}
			// A client forging the first entry stays the same client: the ingress
			// appended the real address last.
			a := s.do(t, "POST", "/buy", buyAs("ada"), xff("198.51.100.1, 203.0.113.7"))
			if a.status != 429 {
				t.Errorf("trust=%v forged first entry: %d, want 429", trust, a.status)
			}
			a = s.do(t, "POST", "/buy", buyAs("ada"), xff("203.0.113.8"))
			if want := map[bool]int{false: 429, true: 202}[trust]; a.status != want {
				t.Errorf("trust=%v another forwarded address: %d, want %d", trust, a.status, want)
			}
		}
	})
	t.Run("by subject with auth on", func(t *testing.T) {
		c := hsConfig()
		c.RateLimit, c.Rate, c.Burst = true, 0.001, 1
		s := newShop(t, c)
		for _, user := range []string{"ada", "bob"} {
			tok := sign(t, jose.HS256, []byte(hsSecret), "", claims(user))
			if a := s.do(t, "POST", "/buy", buyAs(user), bearer(tok)); a.status != 202 {
				t.Errorf("%s first: %d", user, a.status)
			}
			if a := s.do(t, "POST", "/buy", buyAs(user), bearer(tok)); a.status != 429 {
				t.Errorf("%s second: %d", user, a.status)
			}
		}
	})
	t.Run("IPv6 by /64", func(t *testing.T) {
		r := httptest.NewRequest("POST", "/buy", nil)
		r.RemoteAddr = "[2001:db8:1:2:aaaa::1]:5555"
		a := clientIP(r, false)
		r.RemoteAddr = "[2001:db8:1:2:bbbb::9]:5555"
		if b := clientIP(r, false); a != b || a != "2001:db8:1:2::/64" {
			t.Errorf("clientIP = %q and %q, want the same /64", a, b)
		}
		r.RemoteAddr = "[::ffff:192.0.2.1]:1"
		if got := clientIP(r, false); got != "192.0.2.1" {
			t.Errorf("IPv4-mapped: %q", got)
		}
	})
}
