package app

import (
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/platform/httpjson"
)

// rateLimiter is a token bucket per client (golang.org/x/time/rate): rate buys
// per second on average, burst at once. A client is the token's subject when
// end-user auth is on, else its IP address (an IPv6 client by its /64, which one
// host can fill).
//
// Memory is bounded: a client idle long enough for its bucket to be full again
// is forgotten (it loses nothing: a new bucket starts full), and beyond
// maxClients tracked clients the newcomers share one overflow bucket until the
// idle ones are swept.
type rateLimiter struct {
	limit          rate.Limit
	burst          int
	maxClients     int
	trustForwarded bool
	idle           time.Duration // a bucket idle this long is full again
	now            func() time.Time
	log            *slog.Logger

	mu        sync.Mutex
	clients   map[string]*bucket
	overflow  *rate.Limiter
	nextSweep time.Time
	warned    bool
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time
}

func newRateLimiter(perSecond float64, burst, maxClients int, trustForwarded bool, log *slog.Logger) *rateLimiter {
	// Time to refill a whole burst, at least a minute so that sweeps stay rare.
	idle := time.Duration(float64(burst) / perSecond * float64(time.Second))
	idle = max(idle, time.Minute)
	return &rateLimiter{
		limit: rate.Limit(perSecond), burst: burst, maxClients: maxClients, trustForwarded: trustForwarded,
		idle: idle, now: time.Now, log: log,
		clients:  map[string]*bucket{},
		overflow: rate.NewLimiter(rate.Limit(perSecond), burst),
	}
}

// allow takes one token of key's bucket; when it is empty it returns false and
// how long until a token is there.
func (l *rateLimiter) allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.After(l.nextSweep) {
		l.sweep(now)
	}
	lim := l.overflow
	if b, ok := l.clients[key]; ok {
		b.last, lim = now, b.lim
	} else if len(l.clients) < l.maxClients {
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst), last: now}
		l.clients[key], lim = b, b.lim
	} else if !l.warned {
		l.warned = true
		l.log.Warn("rate limiter tracks ratelimit.max_clients clients; new ones share one bucket until idle ones are forgotten", "max_clients", l.maxClients)
	}
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Duration(math.MaxInt64)
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now) // a refused request costs no token
		return false, d
	}
	return true, 0
}

// sweep forgets clients whose buckets are full again. It runs at most every
// idle/2, so its cost is spread over many requests.
func (l *rateLimiter) sweep(now time.Time) {
	for k, b := range l.clients {
		if now.Sub(b.last) >= l.idle {
			delete(l.clients, k)
		}
	}
	if len(l.clients) < l.maxClients {
		l.warned = false
	}
	l.nextSweep = now.Add(l.idle / 2)
}

// size is the number of clients tracked (tests).
func (l *rateLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}

// limitBuys answers 429 with Retry-After to a client over its rate.
func (s *Server) limitBuys(next http.Handler) http.Handler {
	if s.sec == nil || s.sec.limiter == nil {
		return next
	}
	l := s.sec.limiter
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := "ip:" + clientIP(r, l.trustForwarded)
		if sub, ok := subject(r.Context()); ok {
			key = "sub:" + sub
		}
		ok, wait := l.allow(key)
		if !ok {
			secs := int64(math.Ceil(wait.Seconds()))
			if wait >= time.Duration(math.MaxInt64) || secs > 86400 {
				secs = 86400
			}
			w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
			httpjson.Encode(w, http.StatusTooManyRequests, contract.Body(contract.Errorf(contract.ETooManyRequests,
				"too many purchases from this client; retry after %d s", max(secs, 1))))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// clientIP is the address the rate limit counts a request against: the peer
// address, or, behind the ingress (trustForwarded), the last address of
// X-Forwarded-For, which the ingress appended itself; the addresses before it
// come from the client and could be anything. IPv6 addresses count by /64.
func clientIP(r *http.Request, trustForwarded bool) string {
	addr := r.RemoteAddr
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	if trustForwarded {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			last := xff[len(xff)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if ip, err := netip.ParseAddr(strings.TrimSpace(last)); err == nil {
				addr = ip.String()
			}
		}
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
