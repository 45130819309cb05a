package app

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rs/cors"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/platform/httpjson"
)

// CORS: which request headers a cross-origin page may send, which response
// headers it may read, and the methods of the API.
var (
	corsAllowHeaders  = []string{"authorization", "content-type", "idempotency-key", "traceparent", "tracestate"}
	corsExposeHeaders = []string{"Retry-After", "WWW-Authenticate"}
	corsMethods       = []string{http.MethodGet, http.MethodHead, http.MethodPost}
)

// newCORS lets pages of the listed origins call the API from a browser, with
// github.com/rs/cors. Only a listed origin is ever echoed; "*" (any origin) is
// allowed only without credentials (the configuration refuses both together).
// Every answer varies by Origin, so caches keep them apart.
//
// As rs/cors does, a preflight's Access-Control-Allow-Methods echoes the
// requested method, and the requested headers must come as browsers send them
// (lower case, sorted, no repeats; see the Fetch standard's CORS-unsafe
// request-header names).
func newCORS(origins []string, credentials bool, maxAge time.Duration) *cors.Cors {
	secs := int(maxAge.Seconds())
	if secs == 0 {
		secs = -1 // rs/cors: send Access-Control-Max-Age: 0, not nothing
	}
	return cors.New(cors.Options{
		AllowedOrigins:   origins,
		AllowedMethods:   corsMethods,
		AllowedHeaders:   corsAllowHeaders,
		ExposedHeaders:   corsExposeHeaders,
		AllowCredentials: credentials,
		MaxAge:           secs,
		// The preflight comes on to cors below, which answers a refusal with
		// the JSON error.
		OptionsPassthrough: true,
	})
}

// normalizeOrigin checks a configured origin (scheme://host[:port], no path) and
// returns it as browsers send it: lower case, no trailing slash, no default port.
func normalizeOrigin(o string) (string, error) {
	if o == "*" {
		return o, nil
	}
	u, err := url.Parse(strings.TrimSuffix(o, "/"))
	// A "*" inside an origin would be a pattern to rs/cors (https://*.example.com):
	// list the origins instead.
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil ||
		strings.Contains(o, "*") {
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

// cors answers preflights and adds the CORS headers to answers for allowed
// origins. Requests without Origin (same-origin, curl, servers) pass untouched.
// A preflight rs/cors refuses (origin, method or headers not allowed) is
// answered 403 with the JSON error; rs/cors does not say which part failed.
func (s *Server) cors(next http.Handler) http.Handler {
	if s.sec == nil || s.sec.cors == nil {
		return next
	}
	return s.sec.cors.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" || origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		if w.Header().Get("Access-Control-Allow-Origin") == "" {
			httpjson.Error(w, r, s.log, contract.Errorf(contract.EForbidden,
				"origin %s may not make this cross-origin request (origin, method or headers not allowed)", origin))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
}
