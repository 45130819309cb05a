package app

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/cors"

	"github.com/scalable-shop/shop/cm-server/internal/cmapi"
	"github.com/scalable-shop/shop/platform/config"
	"github.com/scalable-shop/shop/platform/secretfile"
	"github.com/scalable-shop/shop/platform/tlsconf"
)

// JWT modes of auth.jwt.mode.
const (
	jwtOff   = "off"
	jwtHS256 = "hs256"
	jwtJWKS  = "jwks"
)

// HSTS modes of headers.hsts.
const (
	hstsTLS    = "tls"    // only on connections cm-server terminates with TLS itself
	hstsAlways = "always" // also behind a TLS-terminating ingress
	hstsOff    = "off"
)

// SecurityConfig is the part of cm-server's configuration about who may call it
// and how it talks: end-user JWTs, the rate limit on /buy, CORS, response
// headers, HTTPS, and the TLS and token of its calls to cm-api.
type SecurityConfig struct {
	HTTPCert, HTTPKey string // http.tls.cert_file, http.tls.key_file
	CMAPICA           string // cmapi.ca_file
	CMAPITokenFile    string // cmapi.token_file: watched, re-read on change

	JWTMode       string // auth.jwt.mode
	JWTSecret     string // auth.jwt.secret (or the content of auth.jwt.secret_file)
	JWTSecretFile string // auth.jwt.secret_file: watched
	JWKSFile      string // auth.jwt.jwks_file: watched
	JWTIssuer     string
	JWTAudience   string
	JWTLeeway     time.Duration

	RateLimit      bool    // ratelimit.enabled
	Rate           float64 // ratelimit.rate: buys per second per client
	Burst          int     // ratelimit.burst
	TrustForwarded bool    // ratelimit.trust_forwarded

	CORSOrigins     []string // cors.allowed_origins
	CORSCredentials bool     // cors.allow_credentials
	CORSMaxAge      time.Duration

	HSTS string // headers.hsts
}

// minHS256SecretLen is the shortest HS256 secret accepted: 256 bits, as RFC 7518
// section 3.2 requires.
const minHS256SecretLen = 32

func loadSecurity(v *config.Values) SecurityConfig {
	c := SecurityConfig{
		HTTPCert:       v.File("http.tls.cert_file"),
		HTTPKey:        v.File("http.tls.key_file"),
		CMAPICA:        v.File("cmapi.ca_file"),
		CMAPITokenFile: v.String("cmapi.token_file"),

		JWTMode:       v.OneOf("auth.jwt.mode", jwtOff, jwtHS256, jwtJWKS),
		JWTSecret:     v.Secret("auth.jwt.secret"),
		JWTSecretFile: v.String("auth.jwt.secret_file"),
		JWKSFile:      v.File("auth.jwt.jwks_file"),
		JWTIssuer:     v.String("auth.jwt.issuer"),
		JWTAudience:   v.String("auth.jwt.audience"),
		JWTLeeway:     v.Duration("auth.jwt.leeway", true),

		RateLimit:      v.Bool("ratelimit.enabled"),
		Rate:           positiveFloat(v, "ratelimit.rate"),
		Burst:          v.Int("ratelimit.burst", 1, 1_000_000),
		TrustForwarded: v.Bool("ratelimit.trust_forwarded"),

		CORSCredentials: v.Bool("cors.allow_credentials"),
		CORSMaxAge:      v.Duration("cors.max_age", true),

		HSTS: v.OneOf("headers.hsts", hstsTLS, hstsAlways, hstsOff),
	}
	if (c.HTTPCert == "") != (c.HTTPKey == "") {
		v.Invalid("http.tls.cert_file", "and http.tls.key_file must be set together to serve HTTPS")
	}
	if c.CMAPICA != "" {
		if u, err := url.Parse(v.String("cmapi.url")); err == nil && u.Scheme != "https" {
			v.Invalid("cmapi.ca_file", "needs an https:// cmapi.url (cm-api serving TLS)")
		}
	}
	switch c.JWTMode {
	case jwtHS256:
		if len(c.JWTSecret) < minHS256SecretLen {
			v.Invalid("auth.jwt.secret", fmt.Sprintf("must be at least %d bytes for auth.jwt.mode=hs256 (set it or auth.jwt.secret_file)", minHS256SecretLen))
		}
	case jwtJWKS:
		if c.JWKSFile == "" {
			v.Invalid("auth.jwt.jwks_file", "is required for auth.jwt.mode=jwks: a file holding the JSON Web Key Set of the token issuer")
		}
	}
	for _, o := range strings.Split(v.String("cors.allowed_origins"), ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		norm, err := normalizeOrigin(o)
		if err != nil {
			v.Invalid("cors.allowed_origins", err.Error())
			break
		}
		c.CORSOrigins = append(c.CORSOrigins, norm)
	}
	for _, o := range c.CORSOrigins {
		if o == "*" && c.CORSCredentials {
			v.Invalid("cors.allowed_origins", "may not be * with cors.allow_credentials=true; list the origins")
		}
	}
	return c
}

func positiveFloat(v *config.Values, key string) float64 {
	f, err := strconv.ParseFloat(v.String(key), 64)
	if err != nil || !(f > 0 && f <= 1e6) {
		v.Invalid(key, "must be a number of requests per second above 0, such as 0.5 or 10")
	}
	return f
}

// security is what the middlewares need at run time.
type security struct {
	log     *slog.Logger
	jwt     *jwtVerifier // nil: end-user auth off
	limiter *rateLimiter // nil: no rate limit
	cors    *cors.Cors   // nil: no CORS headers
	hsts    string
}

// newSecurity builds the middlewares' state from c.
func newSecurity(c SecurityConfig, log *slog.Logger) (*security, error) {
	s := &security{log: log, hsts: c.HSTS}
	switch c.JWTMode {
	case jwtHS256, jwtJWKS:
		v, err := newJWTVerifier(c, log)
		if err != nil {
			return nil, err
		}
		s.jwt = v
	}
	if c.RateLimit {
		s.limiter = newRateLimiter(c.Rate, c.Burst, c.TrustForwarded)
	}
	if len(c.CORSOrigins) > 0 {
		s.cors = newCORS(c.CORSOrigins, c.CORSCredentials, c.CORSMaxAge)
	}
	return s, nil
}

// WithSecurity turns on the security middlewares. Without it a Server still sets
// the security headers, and authenticates, limits and allows nothing else.
func WithSecurity(sec *security) Option { return func(s *Server) { s.sec = sec } }

// cmapiOptions are the cm-api client's TLS and its re-read token.
func (c SecurityConfig) cmapiOptions(log *slog.Logger) ([]cmapi.Option, error) {
	var opts []cmapi.Option
	if c.CMAPICA != "" {
		t, err := tlsconf.Client("cm-api", c.CMAPICA, "", "")
		if err != nil {
			return nil, fmt.Errorf("%w (check %s_CMAPI_CA_FILE)", err, EnvPrefix)
		}
		opts = append(opts, cmapi.WithTLS(t))
	}
	if c.CMAPITokenFile != "" {
		src, err := newTokenSource(c.CMAPITokenFile, log)
		if err != nil {
			return nil, fmt.Errorf("cmapi.token_file: %w (set %s_CMAPI_TOKEN_FILE)", err, EnvPrefix)
		}
		opts = append(opts, cmapi.WithTokenSource(src.Token))
	}
	return opts, nil
}

// tokenSource presents the first line of a watched token file: a rotated token
// is used within a second of the file changing, without a restart.
type tokenSource struct {
	file *secretfile.File
	cur  atomic.Pointer[versionedToken]
}

type versionedToken struct {
	version uint64
	token   string
}

func newTokenSource(path string, log *slog.Logger) (*tokenSource, error) {
	f, err := secretfile.Open(path)
	if err != nil {
		return nil, err
	}
	f.OnError = func(err error) { log.Warn("cm-api token file", "err", err.Error()) }
	f.OnChange = func(*secretfile.Content) { log.Info("cm-api token file changed; presenting the new token") }
	return &tokenSource{file: f}, nil
}

// Token returns the token to present now.
func (t *tokenSource) Token() string {
	c := t.file.Get()
	if v := t.cur.Load(); v != nil && v.version == c.Version {
		return v.token
	}
	var tok string
	if lines := c.Lines(); len(lines) > 0 {
		tok = lines[0]
	}
	t.cur.Store(&versionedToken{version: c.Version, token: tok})
	return tok
}

// listen wraps ln in TLS when a certificate is configured; the certificate is
// re-read when its files change.
func (c SecurityConfig) listen(ln net.Listener, log *slog.Logger) (net.Listener, error) {
	if c.HTTPCert == "" {
		return ln, nil
	}
	cfg, err := tlsconf.Server(c.HTTPCert, c.HTTPKey, func(err error) { log.Warn("HTTPS certificate", "err", err.Error()) })
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	return tls.NewListener(ln, cfg), nil
}
