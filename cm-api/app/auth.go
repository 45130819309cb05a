package app

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/platform/httpjson"
)

// requireToken lets through only requests bearing the service token. The compare
// is constant-time so the token cannot be guessed byte by byte from timings.
func (s *Server) requireToken(next http.Handler) http.Handler {
	want := []byte(s.token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="cm-api"`)
			httpjson.Error(w, r, s.log, contract.Errorf(contract.EUnauthorized, "a valid bearer token is required"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
