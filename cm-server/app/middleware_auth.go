package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/golang-jwt/jwt/v5"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/platform/httpjson"
	"github.com/scalable-shop/shop/platform/secretfile"
)

// maxTokenLen bounds the bearer token we parse.
const maxTokenLen = 8 << 10

// jwtVerifier checks end-user JSON Web Tokens: HS256 with a shared secret, or
// RS256/ES256 with the public keys of a JWKS file. Only the configured mode's
// algorithms are accepted, each only with a key of its own type, so "none", an
// HS256 token made with an RSA public key as secret, or an RS256 token in HS256
// mode all fail. Tokens must carry exp and sub; iss and aud are checked when
// configured. The secret file and the JWKS file are re-read when they change.
type jwtVerifier struct {
	mode    string
	methods []string
	parser  *jwt.Parser
	log     *slog.Logger

	secret     []byte           // static HS256 secret
	secretFile *secretfile.File // or a watched one
	jwksFile   *secretfile.File

	mu   sync.Mutex // guards loading a new version of a file
	keys atomic.Pointer[keyVersion]
}

// keyVersion is the parsed content of a version of the secret or JWKS file.
type keyVersion struct {
	version uint64
	secret  []byte
	keys    []verificationKey
}

func newJWTVerifier(c SecurityConfig, log *slog.Logger) (*jwtVerifier, error) {
	v := &jwtVerifier{mode: c.JWTMode, log: log}
	switch c.JWTMode {
	case jwtHS256:
		v.methods = []string{jwt.SigningMethodHS256.Alg()}
		v.secret = []byte(c.JWTSecret)
		if c.JWTSecretFile != "" {
			f, err := secretfile.Open(c.JWTSecretFile)
			if err != nil {
				return nil, fmt.Errorf("auth.jwt.secret_file: %w", err)
			}
			f.OnError = func(err error) { log.Warn("JWT secret file", "err", err.Error()) }
			v.secretFile = f
		}
	case jwtJWKS:
		v.methods = []string{jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg()}
		f, err := secretfile.Open(c.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("auth.jwt.jwks_file: %w", err)
		}
		f.OnError = func(err error) { log.Warn("JWKS file", "err", err.Error()) }
		keys, err := parseJWKS(f.Get().Data)
		if err != nil {
			return nil, fmt.Errorf("auth.jwt.jwks_file %s: %w", c.JWKSFile, err)
		}
		v.jwksFile = f
		v.keys.Store(&keyVersion{version: f.Get().Version, keys: keys})
	default:
		return nil, fmt.Errorf("auth.jwt.mode %q turns end-user authentication off", c.JWTMode)
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(v.methods),
		jwt.WithLeeway(c.JWTLeeway),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	}
	if c.JWTIssuer != "" {
		opts = append(opts, jwt.WithIssuer(c.JWTIssuer))
	}
	if c.JWTAudience != "" {
		opts = append(opts, jwt.WithAudience(c.JWTAudience))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

// errNoKey says that no key of the set fits the token.
var errNoKey = errors.New("no key of the JWKS matches the token's kid and algorithm")

// Verify checks a token and returns its subject.
func (v *jwtVerifier) Verify(raw string) (string, error) {
	if len(raw) > maxTokenLen {
		return "", fmt.Errorf("%w: longer than %d bytes", jwt.ErrTokenMalformed, maxTokenLen)
	}
	var claims jwt.RegisteredClaims
	if _, err := v.parser.ParseWithClaims(raw, &claims, v.key); err != nil {
		return "", err
	}
	if claims.Subject == "" {
		return "", fmt.Errorf("%w: sub", jwt.ErrTokenRequiredClaimMissing)
	}
	return claims.Subject, nil
}

// key is the jwt.Keyfunc: the one key that may verify this token.
func (v *jwtVerifier) key(t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	if !slices.Contains(v.methods, alg) { // the parser checked already; never rely on one check
		return nil, fmt.Errorf("algorithm %s is not accepted", alg)
	}
	if _, ok := t.Header["crit"]; ok {
		return nil, errors.New("critical header extensions are not supported")
	}
	if v.mode == jwtHS256 {
		return v.hmacSecret(), nil
	}
	kid, _ := t.Header["kid"].(string)
	var candidates []verificationKey
	for _, k := range v.jwks() {
		if k.alg == alg && (kid == "" || k.kid == kid) {
			candidates = append(candidates, k)
		}
	}
	// Without a kid the token may only be verified when the set leaves no choice.
	if len(candidates) != 1 {
		return nil, errNoKey
	}
	return candidates[0].key, nil
}

func (v *jwtVerifier) hmacSecret() []byte {
	if v.secretFile == nil {
		return v.secret
	}
	c := v.secretFile.Get()
	if kv := v.keys.Load(); kv != nil && kv.version == c.Version {
		return kv.secret
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	kv := v.keys.Load()
	if kv != nil && kv.version >= c.Version {
		return kv.secret
	}
	next := &keyVersion{version: c.Version, secret: c.Data}
	if len(c.Data) < minHS256SecretLen {
		v.log.Warn("JWT secret file holds a secret shorter than 32 bytes; keeping the previous one", "file", v.secretFile.Path())
		if kv != nil {
			next.secret = kv.secret
		} else {
			next.secret = v.secret
		}
	} else if kv != nil {
		v.log.Info("JWT secret file changed")
	}
	v.keys.Store(next)
	return next.secret
}

func (v *jwtVerifier) jwks() []verificationKey {
	c := v.jwksFile.Get()
	kv := v.keys.Load()
	if kv.version == c.Version {
		return kv.keys
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if kv = v.keys.Load(); kv.version >= c.Version {
		return kv.keys
	}
	keys, err := parseJWKS(c.Data)
	if err != nil {
		v.log.Warn("JWKS file changed but cannot be used; keeping the previous keys", "file", v.jwksFile.Path(), "err", err.Error())
		keys = kv.keys
	} else {
		v.log.Info("JWKS file changed", "keys", len(keys))
	}
	v.keys.Store(&keyVersion{version: c.Version, keys: keys})
	return keys
}

// describe turns a verification failure into the error_description of the
// WWW-Authenticate header and the message of the 401: what, never a secret.
func describe(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "the token is malformed"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "the token has expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "the token is not valid yet"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "the token's issuer is not accepted"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "the token is not meant for this service (audience)"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "the token lacks a required claim (exp, sub, and iss and aud when checked)"
	case errors.Is(err, errNoKey):
		return "no key verifies the token (unknown kid)"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid) && strings.Contains(err.Error(), "signing method"),
		errors.Is(err, jwt.ErrTokenUnverifiable):
		return "the token's algorithm is not accepted"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "the token's signature is invalid"
	default:
		return "the token is invalid"
	}
}

// subjectKey carries the authenticated user id in a request's context.
type subjectKey struct{}

// subject returns the authenticated user of a request, if any.
func subject(ctx context.Context) (string, bool) {
	s, ok := ctx.Value(subjectKey{}).(string)
	return s, ok
}

// requireUser answers 401 unless the request carries a valid end-user token
// (when end-user auth is on), and puts the token's subject into the context.
func (s *Server) requireUser(next http.Handler) http.Handler {
	if s.sec == nil || s.sec.jwt == nil {
		return next
	}
	v := s.sec.jwt
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			s.unauthorized(w, r, "", "a bearer token is required: Authorization: Bearer <JWT>")
			return
		}
		sub, err := v.Verify(raw)
		if err != nil {
			s.log.Debug("token refused", "path", r.URL.Path, "err", err.Error())
			s.unauthorized(w, r, "invalid_token", describe(err))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), subjectKey{}, sub)))
	})
}

// bearerToken takes the token out of an Authorization header; the scheme is
// case-insensitive (RFC 7235).
func bearerToken(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(h, " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", false
	}
	return tok, true
}

// unauthorized answers 401 with the challenge of RFC 6750.
func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request, code, description string) {
	challenge := `Bearer realm="cm-server"`
	if code != "" {
		challenge += `, error="` + code + `", error_description="` + description + `"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	httpjson.Error(w, r, s.log, contract.Errorf(contract.EUnauthorized, "%s", description))
}

// authorize checks that the authenticated user may act for userID: with
// end-user auth on, only for themselves.
func (s *Server) authorize(ctx context.Context, userID, what string) error {
	if s.sec == nil || s.sec.jwt == nil {
		return nil
	}
	sub, ok := subject(ctx)
	if !ok {
		return contract.Errorf(contract.EUnauthorized, "a bearer token is required")
	}
	if sub != userID {
		return contract.Errorf(contract.EForbidden, "the token's subject may %s only their own purchases", what)
	}
	return nil
}

// ownPurchasesOnly is the producer /buy uses: it refuses a purchase whose userid
// is not the token's subject. The check sits on the decoded event, so it
// applies to exactly the user id that would be stored.
func (s *Server) ownPurchasesOnly() Producer { return ownProducer{s.producer, s} }

type ownProducer struct {
	Producer
	s *Server
}

func (p ownProducer) Produce(ctx context.Context, e contract.Event) error {
	if err := p.s.authorize(ctx, e.UserID, "buy"); err != nil {
		return err
	}
	return p.Producer.Produce(ctx, e)
}

// ownLookupsOnly is the look-up the read routes use: a user reads only their
// own purchases and summary.
func (s *Server) ownLookupsOnly() PurchaseLookup { return ownLookup{s.lookup, s} }

type ownLookup struct {
	PurchaseLookup
	s *Server
}

func (l ownLookup) Purchases(ctx context.Context, userID string, page contract.Page) (contract.PurchasePage, error) {
	if err := l.s.authorize(ctx, userID, "read"); err != nil {
		return contract.PurchasePage{}, err
	}
	return l.PurchaseLookup.Purchases(ctx, userID, page)
}

func (l ownLookup) User(ctx context.Context, userID string) (contract.UserSummary, error) {
	if err := l.s.authorize(ctx, userID, "read"); err != nil {
		return contract.UserSummary{}, err
	}
	return l.PurchaseLookup.User(ctx, userID)
}
