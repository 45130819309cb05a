package app

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/httprate"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/platform/httpjson"
)

// Bounds of the rate limit's window: Retry-After counts whole seconds, and a
// client should not wait more than a day.
const (
	minRateWindow = time.Second
	maxRateWindow = 24 * time.Hour
)

// rateLimiter limits the buys of each client with go-chi/httprate: at most
// burst buys in a sliding window of burst/rate seconds (clamped to 1 s … 1 day),
// which keeps rate buys per second on average. A client is the token's subject
// when end-user auth is on, else its IP address (an IPv6 client by its /64,
// which one host can fill).
//
// What httprate does not do, and this limiter therefore does not either: it is
// a sliding-window counter, not a token bucket (a client over the limit waits
// for the window to slide, not for one token to refill), and it has no cap on
// the clients it tracks: it keeps one counter per client seen in the current
// and the previous window, so memory follows the peak number of distinct
// clients per window, and a client's counter is gone two windows after its
// last buy.
//
// Retry-After is the window, rounded up to whole seconds. Because the window
// slides, a client that waited that long may be refused once more: the previous
// window's buys weigh until at most window/(2*burst) later.
type rateLimiter struct {
	rl             *httprate.RateLimiter
	window         time.Duration
	retryAfter     int64 // seconds: the window, rounded up
	trustForwarded bool
}

// rateWindow is the window in which burst buys keep perSecond on average.
func rateWindow(perSecond float64, burst int) time.Duration {
	secs := float64(burst) / perSecond
	if secs >= maxRateWindow.Seconds() {
		return maxRateWindow
	}
	return max(time.Duration(secs*float64(time.Second)), minRateWindow)
}

func newRateLimiter(perSecond float64, burst int, trustForwarded bool) *rateLimiter {
	l := &rateLimiter{window: rateWindow(perSecond, burst), trustForwarded: trustForwarded}
	l.retryAfter = int64(math.Ceil(l.window.Seconds()))
	l.rl = httprate.NewRateLimiter(burst, l.window,
		httprate.WithKeyFuncs(l.key),
		// Only Retry-After, as the API documents; httprate writes the window
		// truncated to whole seconds, limited rounds it up.
		httprate.WithResponseHeaders(httprate.ResponseHeaders{RetryAfter: "Retry-After"}),
		httprate.WithLimitHandler(l.limited),
	)
	return l
}

// key is the client a request counts against.
func (l *rateLimiter) key(r *http.Request) (string, error) {
	if sub, ok := subject(r.Context()); ok {
		return "sub:" + sub, nil
	}
	return "ip:" + clientIP(r, l.trustForwarded), nil
}

// limited answers a client over its limit: 429 with the project's JSON error.
func (l *rateLimiter) limited(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Retry-After", strconv.FormatInt(l.retryAfter, 10))
	httpjson.Encode(w, http.StatusTooManyRequests, contract.Body(contract.Errorf(contract.ETooManyRequests,
		"too many purchases from this client; retry after %d s", l.retryAfter)))
}

// limitBuys answers 429 with Retry-After to a client over its rate.
func (s *Server) limitBuys(next http.Handler) http.Handler {
	if s.sec == nil || s.sec.limiter == nil {
		return next
	}
	return s.sec.limiter.rl.Handler(next)
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
