package app

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/scalable-shop/shop/platform/secretfile"
)

// maxTokenLen bounds the bearer token we parse.
const maxTokenLen = 8 << 10

// jwtVerifier checks end-user JSON Web Tokens with go-jose: HS256 with a shared
// secret, or RS256/ES256 with the public keys of a JWKS file. Only the
// configured mode's algorithms are accepted, each only with a key of its own
// type, so "none", an HS256 token made with an RSA public key as secret, or an
// RS256 token in HS256 mode all fail. Tokens must carry exp and sub; iss and
// aud are checked when configured. The secret file and the JWKS file are
// re-read when they change.
type jwtVerifier struct {
	mode     string
	algs     []jose.SignatureAlgorithm
	expected jwt.Expected
	leeway   time.Duration
	log      *slog.Logger

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
	keys    jose.JSONWebKeySet
}

func newJWTVerifier(c SecurityConfig, log *slog.Logger) (*jwtVerifier, error) {
	v := &jwtVerifier{mode: c.JWTMode, leeway: c.JWTLeeway, log: log,
		expected: jwt.Expected{Issuer: c.JWTIssuer}}
	if c.JWTAudience != "" {
		v.expected.AnyAudience = jwt.Audience{c.JWTAudience}
	}
	switch c.JWTMode {
	case jwtHS256:
		v.algs = []jose.SignatureAlgorithm{jose.HS256}
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
		v.algs = []jose.SignatureAlgorithm{jose.RS256, jose.ES256}
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
	return v, nil
}

// Why a token is refused, beside go-jose's jwt.ErrExpired, jwt.ErrNotValidYet,
// jwt.ErrIssuedInTheFuture, jwt.ErrInvalidIssuer and jwt.ErrInvalidAudience.
var (
	errMalformed    = errors.New("the token is malformed")
	errAlgorithm    = errors.New("the token's algorithm is not accepted")
	errNoKey        = errors.New("no key of the JWKS matches the token's kid and algorithm")
	errSignature    = errors.New("the token's signature is invalid")
	errMissingClaim = errors.New("the token lacks a required claim")
	errCritical     = errors.New("critical header extensions are not supported")
)

// Verify checks a token and returns its subject.
func (v *jwtVerifier) Verify(raw string) (string, error) {
	if len(raw) > maxTokenLen {
		return "", fmt.Errorf("%w: longer than %d bytes", errMalformed, maxTokenLen)
	}
	tok, err := jwt.ParseSigned(raw, v.algs)
	if err != nil {
		if _, ok := errors.AsType[*jose.ErrUnexpectedSignatureAlgorithm](err); ok {
			return "", fmt.Errorf("%w: %v", errAlgorithm, err)
		}
		return "", fmt.Errorf("%w: %v", errMalformed, err)
	}
	h := tok.Headers[0] // a compact JWS has one signature
	alg := jose.SignatureAlgorithm(h.Algorithm)
	if !slices.Contains(v.algs, alg) { // go-jose checked already; never rely on one check
		return "", fmt.Errorf("%w: %s", errAlgorithm, alg)
	}
	if _, ok := h.ExtraHeaders["crit"]; ok {
		return "", errCritical
	}
	key, err := v.key(alg, h.KeyID)
	if err != nil {
		return "", err
	}
	var claims jwt.Claims
	if err := tok.Claims(key, &claims); err != nil {
		if errors.Is(err, jose.ErrCryptoFailure) {
			return "", fmt.Errorf("%w: %v", errSignature, err)
		}
		return "", fmt.Errorf("%w: %v", errMalformed, err)
	}
	switch {
	case claims.Expiry == nil:
		return "", fmt.Errorf("%w: exp", errMissingClaim)
	case claims.Subject == "":
		return "", fmt.Errorf("%w: sub", errMissingClaim)
	case v.expected.Issuer != "" && claims.Issuer == "":
		return "", fmt.Errorf("%w: iss", errMissingClaim)
	case len(v.expected.AnyAudience) > 0 && len(claims.Audience) == 0:
		return "", fmt.Errorf("%w: aud", errMissingClaim)
	}
	if err := claims.ValidateWithLeeway(v.expected, v.leeway); err != nil {
		return "", err
	}
	return claims.Subject, nil
}

// key is the one key that may verify a token of alg and kid.
func (v *jwtVerifier) key(alg jose.SignatureAlgorithm, kid string) (any, error) {
	if v.mode == jwtHS256 {
		return v.hmacSecret(), nil
	}
	set := v.jwks()
	keys := set.Keys
	if kid != "" {
		keys = set.Key(kid)
	}
	var candidates []jose.JSONWebKey
	for _, k := range keys {
		if k.Algorithm == string(alg) {
			candidates = append(candidates, k)
		}
	}
	// Without a kid the token may only be verified when the set leaves no choice.
	if len(candidates) != 1 {
		return nil, errNoKey
	}
	return candidates[0].Key, nil
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

// jwks is the key set of the JWKS file's current version; a version that
// cannot be used keeps the previous keys.
func (v *jwtVerifier) jwks() jose.JSONWebKeySet {
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
		v.log.Info("JWKS file changed", "keys", len(keys.Keys))
	}
	v.keys.Store(&keyVersion{version: c.Version, keys: keys})
	return keys
}

// describe turns a verification failure into the error_description of the
// WWW-Authenticate header and the message of the 401: what, never a secret.
func describe(err error) string {
	switch {
	case errors.Is(err, errMalformed):
		return "the token is malformed"
	case errors.Is(err, jwt.ErrExpired):
		return "the token has expired"
	case errors.Is(err, jwt.ErrNotValidYet), errors.Is(err, jwt.ErrIssuedInTheFuture):
		return "the token is not valid yet"
	case errors.Is(err, jwt.ErrInvalidIssuer):
		return "the token's issuer is not accepted"
	case errors.Is(err, jwt.ErrInvalidAudience):
		return "the token is not meant for this service (audience)"
	case errors.Is(err, errMissingClaim):
		return "the token lacks a required claim (exp, sub, and iss and aud when checked)"
	case errors.Is(err, errNoKey):
		return "no key verifies the token (unknown kid)"
	case errors.Is(err, errAlgorithm):
		return "the token's algorithm is not accepted"
	case errors.Is(err, errSignature):
		return "the token's signature is invalid"
	default:
		return "the token is invalid"
	}
}
