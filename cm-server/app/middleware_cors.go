package app

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/platform/httpjson"
)

// CORS: which request headers a cross-origin page may send, which response
// headers it may read, and the methods of the API.
var (
	corsAllowHeaders  = []string{"authorization", "content-type", "idempotency-key", "traceparent", "tracestate"}
	corsExposeHeaders = "Retry-After, WWW-Authenticate"
	corsMethods       = []string{http.MethodGet, http.MethodHead, http.MethodPost}
)

// corsPolicy lets pages of the listed origins call the API from a browser. Only
// a listed origin is ever echoed; "*" (any origin) is allowed only without
// credentials. Every answer varies by Origin, so caches keep them apart.
type corsPolicy struct {
	origins     map[string]bool
	any         bool
	credentials bool
	maxAge      string
}

func newCORSPolicy(origins []string, credentials bool, maxAge time.Duration) *corsPolicy {
	p := &corsPolicy{origins: map[string]bool{}, credentials: credentials, maxAge: strconv.Itoa(int(maxAge.Seconds()))}
	for _, o := range origins {
		if o == "*" {
			p.any = true
		}
		p.origins[o] = true
	}
	return p
}

// normalizeOrigin checks a configured origin (scheme://host[:port], no path) and
// returns it as browsers send it: lower case, no trailing slash, no default port.
func normalizeOrigin(o string) (string, error) {
	if o == "*" {
		return o, nil
	}
	u, err := url.Parse(strings.TrimSuffix(o, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
		return "", fmt.Errorf("%q is not an origin such as https://shop.example.com", o)
	}
	host := strings.ToLower(u.Host)
	if u.Scheme == "https" {
		host = strings.TrimSuffix(host, ":443")
	} else {
		host = strings.TrimSuffix(host, ":80")
	}
	return u.Scheme + "://" + host, nil
}

// allow sets the headers that let the page of origin read the answer.
func (p *corsPolicy) allow(h http.Header, origin string) {
	if p.any && !p.credentials {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
	}
	if p.credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
}

func (p *corsPolicy) allowed(origin string) bool {
	return p.any || p.origins[strings.ToLower(origin)]
}

// cors answers preflights and adds the CORS headers to answers for allowed
// origins. Requests without Origin (same-origin, curl, servers) pass untouched.
func (s *Server) cors(next http.Handler) http.Handler {
	if s.sec == nil || s.sec.cors == nil {
		return next
	}
	p := s.sec.cors
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		if preflight {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
		}
		if !p.allowed(origin) {
			if preflight {
				httpjson.Error(w, r, s.log, contract.Errorf(contract.EForbidden, "origin %s may not call this API", origin))
				return
			}
			// No CORS headers: the browser keeps the answer from the page.
			next.ServeHTTP(w, r)
			return
		}
		if !preflight {
			p.allow(h, origin)
			h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
			next.ServeHTTP(w, r)
			return
		}
		method := r.Header.Get("Access-Control-Request-Method")
		if !slices.Contains(corsMethods, method) {
			httpjson.Error(w, r, s.log, contract.Errorf(contract.EForbidden, "method %s may not be used cross-origin", method))
			return
		}
		var asked []string
		for _, f := range strings.Split(r.Header.Get("Access-Control-Request-Headers"), ",") {
			f = strings.ToLower(strings.TrimSpace(f))
			if f == "" {
				continue
			}
			if !slices.Contains(corsAllowHeaders, f) {
				httpjson.Error(w, r, s.log, contract.Errorf(contract.EForbidden, "header %s may not be sent cross-origin", f))
				return
			}
			asked = append(asked, f)
		}
		p.allow(h, origin)
		h.Set("Access-Control-Allow-Methods", strings.Join(corsMethods, ", "))
		if len(asked) > 0 {
			h.Set("Access-Control-Allow-Headers", strings.Join(asked, ", "))
		}
		h.Set("Access-Control-Max-Age", p.maxAge)
		w.WriteHeader(http.StatusNoContent)
	})
}
