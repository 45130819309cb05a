package app

import (
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/platform/httpjson"
	"github.com/scalable-shop/shop/platform/secretfile"
)

// maxAuthorizationLen bounds the Authorization header we bother to hash.
const maxAuthorizationLen = 4096

// serviceTokens holds the bearer tokens cm-api accepts. With auth.token_file the
// file is watched (see secretfile: a stat at most once per second, a read when
// it changed) and each non-empty line is a valid token, so a rotation can add
// the new token beside the old one. A token that disappears from the file stays
// valid for the grace period (auth.token_grace), so that cm-server replicas
// whose copy of the Secret is not updated yet keep working.
//
// Tokens are kept as SHA-256 digests and compared in constant time: neither the
// content nor the length of a token can be learned from response timings.
type serviceTokens struct {
	static []string         // auth.token when no file is set
	file   *secretfile.File // auth.token_file
	grace  time.Duration    // how long a removed token stays valid
	now    func() time.Time // clock (tests)
	log    *slog.Logger
	state  atomic.Pointer[tokenState]
	mu     sync.Mutex // serialises updates of state
}

type tokenState struct {
	version uint64
	current [][sha256.Size]byte
	retired []retiredToken
}

type retiredToken struct {
	digest [sha256.Size]byte
	until  time.Time
}

// newServiceTokens returns the accepted tokens: those in file when set (watched
// from now on), else the static token.
func newServiceTokens(log *slog.Logger, static, file string, grace time.Duration) (*serviceTokens, error) {
	t := &serviceTokens{grace: grace, now: time.Now, log: log}
	if file == "" {
		t.static = []string{static}
		t.state.Store(&tokenState{version: 1, current: digests(t.static)})
		return t, nil
	}
	f, err := secretfile.Open(file)
	if err != nil {
		return nil, err
	}
	f.OnError = func(err error) { log.Warn("service token file", "err", err.Error()) }
	t.file = f
	c := f.Get()
	t.state.Store(&tokenState{version: c.Version, current: digests(c.Lines())})
	return t, nil
}

func digests(tokens []string) [][sha256.Size]byte {
	out := make([][sha256.Size]byte, 0, len(tokens))
	for _, tok := range tokens {
		if tok != "" {
			out = append(out, sha256.Sum256([]byte(tok)))
		}
	}
	return out
}

// Primary is the first token: the one that keys the page cursors.
func (t *serviceTokens) Primary() string {
	if t.file == nil {
		return t.static[0]
	}
	if lines := t.file.Get().Lines(); len(lines) > 0 {
		return lines[0]
	}
	return ""
}

// current returns the state for now, taking in a new version of the file.
func (t *serviceTokens) current() *tokenState {
	st := t.state.Load()
	if t.file == nil {
		return st
	}
	c := t.file.Get()
	if c.Version == st.version {
		return st
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if st = t.state.Load(); c.Version <= st.version {
		return st
	}
	now := t.now()
	next := &tokenState{version: c.Version, current: digests(c.Lines())}
	for _, r := range st.retired {
		if now.Before(r.until) && !containsDigest(next.current, r.digest) {
			next.retired = append(next.retired, r)
		}
	}
	for _, d := range st.current {
		if !containsDigest(next.current, d) {
			next.retired = append(next.retired, retiredToken{digest: d, until: now.Add(t.grace)})
		}
	}
	t.state.Store(next)
	t.log.Info("service token file changed", "tokens", len(next.current), "retired_in_grace", len(next.retired), "grace", t.grace.String())
	return next
}

func containsDigest(ds [][sha256.Size]byte, d [sha256.Size]byte) bool {
	for _, x := range ds {
		if x == d {
			return true
		}
	}
	return false
}

// Valid reports whether token is accepted now. Every candidate is compared, so
// the time taken does not depend on which one matches.
func (t *serviceTokens) Valid(token string) bool {
	if token == "" || len(token) > maxAuthorizationLen {
		return false
	}
	got := sha256.Sum256([]byte(token))
	st := t.current()
	ok := 0
	for i := range st.current {
		ok |= subtle.ConstantTimeCompare(got[:], st.current[i][:])
	}
	now := t.now()
	for i := range st.retired {
		match := subtle.ConstantTimeCompare(got[:], st.retired[i].digest[:])
		if now.Before(st.retired[i].until) {
			ok |= match
		}
	}
	return ok == 1
}

// requireToken lets through only requests bearing a service token.
func (s *Server) requireToken(next http.Handler) http.Handler {
	tokens := s.tokens
	if tokens == nil {
		tokens = &serviceTokens{static: []string{s.token}, now: time.Now}
		tokens.state.Store(&tokenState{version: 1, current: digests(tokens.static)})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !tokens.Valid(got) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="cm-api"`)
			httpjson.Error(w, r, s.log, contract.Errorf(contract.EUnauthorized, "a valid bearer token is required"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// WithServiceTokens makes the server accept the tokens t holds (re-read from
// their file) instead of the fixed token given to NewServer.
func WithServiceTokens(t *serviceTokens) Option { return func(s *Server) { s.tokens = t } }
