package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/scalable-shop/shop/cm-server/web"
	"github.com/scalable-shop/shop/contract"
)

// recordingProducer takes every event.
type recordingProducer struct {
	mu     sync.Mutex
	events []contract.Event
}

func (p *recordingProducer) Produce(_ context.Context, e contract.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, e)
	return nil
}

func (p *recordingProducer) Ping(context.Context) error { return nil }

func (p *recordingProducer) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.events)
}

// echoLookup answers every user with an empty page and a summary.
type echoLookup struct{}

func (echoLookup) Purchases(_ context.Context, userID string, _ contract.Page) (contract.PurchasePage, error) {
	return contract.PurchasePage{UserID: userID, Purchases: []contract.PurchaseView{}}, nil
}

func (echoLookup) User(_ context.Context, userID string) (contract.UserSummary, error) {
	return contract.UserSummary{UserID: userID, TotalSpent: "0.00"}, nil
}

func (echoLookup) Ping(context.Context) error { return nil }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// shop serves cm-server's routes with the security of c over fakes.
type shop struct {
	*httptest.Server
	producer *recordingProducer
	sec      *security
}

func newShop(t *testing.T, c SecurityConfig) *shop {
	t.Helper()
	if c.HSTS == "" {
		c.HSTS = hstsTLS
	}
	sec, err := newSecurity(c, quiet)
	if err != nil {
		t.Fatal(err)
	}
	p := &recordingProducer{}
	srv := NewServer(quiet, p, echoLookup{}, prometheus.NewRegistry(), nil, WithSecurity(sec))
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &shop{Server: ts, producer: p, sec: sec}
}

type answer struct {
	status int
	header http.Header
	body   contract.ErrorBody
	raw    string
}

func (s *shop) do(t *testing.T, method, path, body string, header map[string]string) answer {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	a := answer{status: res.StatusCode, header: res.Header, raw: string(b)}
	if res.StatusCode >= 400 && res.StatusCode != 405 {
		if err := json.Unmarshal(b, &a.body); err != nil || a.body.Error.Code == "" {
			t.Fatalf("%s %s: %d without a JSON error: %s", method, path, res.StatusCode, b)
		}
	}
	return a
}

func buyAs(user string) string {
	return `{"username":"User ` + user + `","userid":"` + user + `","price":"1.00"}`
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

const hsSecret = "0123456789abcdef0123456789abcdef-test-secret"

// claimSet is a token's payload.
type claimSet map[string]any

// claims are valid claims for user: issued now, expiring in five minutes.
func claims(user string) claimSet {
	now := time.Now()
	return claimSet{"sub": user, "iss": "https://id.example.com", "aud": "shop",
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
}

func with(c claimSet, k string, v any) claimSet {
	out := claimSet{}
	for kk, vv := range c {
		out[kk] = vv
	}
	if v == nil {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

// sign mints a compact JWS of c: HMAC by hand (go-jose refuses to sign with a
// secret shorter than the hash, which a test needs), the others with go-jose.
func sign(t *testing.T, alg jose.SignatureAlgorithm, key any, kid string, c claimSet) string {
	t.Helper()
	payload, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if alg == jose.HS256 || alg == jose.HS512 {
		h := map[string]any{"alg": string(alg), "typ": "JWT"}
		if kid != "" {
			h["kid"] = kid
		}
		return hmacToken(h, payload, key.([]byte))
	}
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// hmacToken signs payload under header with HS256, or HS512 when the header says so.
func hmacToken(header map[string]any, payload, secret []byte) string {
	hb, _ := json.Marshal(header)
	input := b64u(hb) + "." + b64u(payload)
	hash := sha256.New
	if header["alg"] == string(jose.HS512) {
		hash = sha512.New
	}
	mac := hmac.New(hash, secret)
	mac.Write([]byte(input))
	return input + "." + b64u(mac.Sum(nil))
}

// unsigned is a token with alg "none".
func unsigned(c claimSet) string {
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT"})
	p, _ := json.Marshal(c)
	return enc.EncodeToString(h) + "." + enc.EncodeToString(p) + "."
}

// tamper replaces the payload of a signed token, keeping its signature.
func tamper(tok string, c claimSet) string {
	parts := strings.Split(tok, ".")
	p, _ := json.Marshal(c)
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(p) + "." + parts[2]
}

func hsConfig() SecurityConfig {
	return SecurityConfig{JWTMode: jwtHS256, JWTSecret: hsSecret, JWTIssuer: "https://id.example.com", JWTAudience: "shop", JWTLeeway: 5 * time.Second}
}

func expectUnauthorized(t *testing.T, a answer, description string) {
	t.Helper()
	if a.status != http.StatusUnauthorized || a.body.Error.Code != contract.EUnauthorized {
		t.Fatalf("got %d %s, want 401 unauthorized", a.status, a.raw)
	}
	challenge := a.header.Get("WWW-Authenticate")
	if !strings.HasPrefix(challenge, `Bearer realm="cm-server"`) {
		t.Errorf("WWW-Authenticate = %q", challenge)
	}
	if description != "" && (!strings.Contains(challenge, `error="invalid_token"`) || !strings.Contains(challenge, description)) {
		t.Errorf("WWW-Authenticate = %q, want invalid_token with %q", challenge, description)
	}
}

func TestJWTHS256(t *testing.T) {
	s := newShop(t, hsConfig())
	hs := func(c claimSet) string { return sign(t, jose.HS256, []byte(hsSecret), "", c) }
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	valid := claims("ada")

	t.Run("own purchase accepted", func(t *testing.T) {
		a := s.do(t, "POST", "/buy", buyAs("ada"), bearer(hs(valid)))
		if a.status != http.StatusAccepted {
			t.Fatalf("got %d %s", a.status, a.raw)
		}
	})
	t.Run("another user's purchase forbidden", func(t *testing.T) {
		before := s.producer.count()
		a := s.do(t, "POST", "/buy", buyAs("bob"), bearer(hs(valid)))
		if a.status != http.StatusForbidden || a.body.Error.Code != contract.EForbidden {
			t.Fatalf("got %d %s, want 403", a.status, a.raw)
		}
		if s.producer.count() != before {
			t.Error("a forbidden purchase was produced")
		}
	})
	t.Run("expired within the leeway", func(t *testing.T) {
		a := s.do(t, "POST", "/buy", buyAs("ada"), bearer(hs(with(valid, "exp", time.Now().Add(-2*time.Second).Unix()))))
		if a.status != http.StatusAccepted {
			t.Fatalf("got %d %s, want 202 (leeway 5s)", a.status, a.raw)
		}
	})
	t.Run("scheme is case-insensitive", func(t *testing.T) {
		a := s.do(t, "POST", "/buy", buyAs("ada"), map[string]string{"Authorization": "bearer " + hs(valid)})
		if a.status != http.StatusAccepted {
			t.Fatalf("got %d %s", a.status, a.raw)
		}
	})

	refused := []struct {
		name, header, description string
	}{
		{"no token", "", ""},
		{"basic auth", "Basic YWRhOnB3", ""},
		{"empty bearer", "Bearer ", ""},
		{"garbage", "Bearer not.a.jwt", "malformed"},
		{"expired", "Bearer " + hs(with(valid, "exp", time.Now().Add(-time.Minute).Unix())), "expired"},
		{"not yet valid", "Bearer " + hs(with(valid, "nbf", time.Now().Add(time.Hour).Unix())), "not valid yet"},
		{"issued in the future", "Bearer " + hs(with(valid, "iat", time.Now().Add(time.Hour).Unix())), "not valid yet"},
		{"no exp", "Bearer " + hs(with(valid, "exp", nil)), "required claim"},
		{"no sub", "Bearer " + hs(with(valid, "sub", nil)), "required claim"},
		{"wrong issuer", "Bearer " + hs(with(valid, "iss", "https://evil.example.com")), "issuer"},
		{"no issuer", "Bearer " + hs(with(valid, "iss", nil)), "required claim"},
		{"wrong audience", "Bearer " + hs(with(valid, "aud", "another-service")), "audience"},
		{"wrong secret", "Bearer " + sign(t, jose.HS256, []byte(hsSecret+"x"), "", valid), "signature"},
		{"tampered payload", "Bearer " + tamper(hs(valid), with(valid, "sub", "bob")), "signature"},
		{"alg none", "Bearer " + unsigned(valid), "algorithm"},
		{"HS512", "Bearer " + sign(t, jose.HS512, []byte(hsSecret), "", valid), "algorithm"},
		{"RS256 in HS256 mode", "Bearer " + sign(t, jose.RS256, rsaKey, "", valid), "algorithm"},
		{"oversized", "Bearer " + strings.Repeat("a", maxTokenLen+1), "malformed"},
		{"critical header", "Bearer " + hmacToken(map[string]any{"alg": "HS256", "crit": []string{"exp"}, "exp": 1}, []byte(mustJSON(t, valid)), []byte(hsSecret)), "the token is invalid"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{}
			if tc.header != "" {
				h["Authorization"] = tc.header
			}
			before := s.producer.count()
			expectUnauthorized(t, s.do(t, "POST", "/buy", buyAs("ada"), h), tc.description)
			if s.producer.count() != before {
				t.Error("an unauthenticated purchase was produced")
			}
		})
	}

	t.Run("reads only one's own purchases", func(t *testing.T) {
		for path, want := range map[string]int{
			"/getAllUserBuys/ada": 200, "/getAllUserBuys/bob": 403,
			"/users/ada": 200, "/users/bob": 403,
		} {
			a := s.do(t, "GET", path, "", bearer(hs(valid)))
			if a.status != want {
				t.Errorf("GET %s as ada: %d %s, want %d", path, a.status, a.raw, want)
			}
			expectUnauthorized(t, s.do(t, "GET", path, "", nil), "")
		}
	})
	t.Run("public routes need no token", func(t *testing.T) {
		for _, path := range []string{"/", "/healthz", "/readyz", "/metrics"} {
			if a := s.do(t, "GET", path, "", nil); a.status != 200 {
				t.Errorf("GET %s without a token: %d", path, a.status)
			}
		}
	})
}

func TestJWTHS256SecretFileIsReRead(t *testing.T) {
	file := filepath.Join(t.TempDir(), "jwt-secret")
	writeFile(t, file, hsSecret)
	c := hsConfig()
	c.JWTSecretFile = file
	s := newShop(t, c)
	s.sec.jwt.secretFile.SetIntervals(10*time.Millisecond, time.Hour)
	old := sign(t, jose.HS256, []byte(hsSecret), "", claims("ada"))
	if a := s.do(t, "POST", "/buy", buyAs("ada"), bearer(old)); a.status != 202 {
		t.Fatalf("old secret: %d", a.status)
	}
	next := strings.Repeat("n", 40)
	writeFile(t, file, next)
	time.Sleep(30 * time.Millisecond)
	if a := s.do(t, "POST", "/buy", buyAs("ada"), bearer(sign(t, jose.HS256, []byte(next), "", claims("ada")))); a.status != 202 {
		t.Errorf("new secret: %d %s", a.status, a.raw)
	}
	expectUnauthorized(t, s.do(t, "POST", "/buy", buyAs("ada"), bearer(old)), "signature")
	// A secret too short to be safe is not taken.
	writeFile(t, file, "short")
	time.Sleep(30 * time.Millisecond)
	expectUnauthorized(t, s.do(t, "POST", "/buy", buyAs("ada"), bearer(sign(t, jose.HS256, []byte("short"), "", claims("ada")))), "signature")
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func rsaJWK(kid string, k *rsa.PublicKey) map[string]string {
	return map[string]string{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
		"n": b64u(k.N.Bytes()), "e": b64u(big.NewInt(int64(k.E)).Bytes())}
}

func ecJWK(kid string, k *ecdsa.PublicKey) map[string]string {
	raw, err := k.Bytes() // 0x04 || X || Y
	if err != nil {
		panic(err)
	}
	return map[string]string{"kty": "EC", "kid": kid, "crv": "P-256", "x": b64u(raw[1:33]), "y": b64u(raw[33:])}
}

func writeJWKS(t *testing.T, path string, keys ...map[string]string) {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(b))
}

func TestJWTJWKS(t *testing.T) {
	rsa1, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsa2, _ := rsa.GenerateKey(rand.Reader, 2048)
	ec1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	file := filepath.Join(t.TempDir(), "jwks.json")
	writeJWKS(t, file, rsaJWK("r1", &rsa1.PublicKey), ecJWK("e1", &ec1.PublicKey),
		// Keys cm-server does not use are skipped: encryption, other curves.
		map[string]string{"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
		map[string]string{"kty": "EC", "kid": "p384", "crv": "P-384", "x": "AA", "y": "AA"},
		map[string]string{"kty": "oct", "kid": "hmac", "k": b64u([]byte(hsSecret))})
	c := SecurityConfig{JWTMode: jwtJWKS, JWKSFile: file, JWTIssuer: "https://id.example.com", JWTAudience: "shop"}
	s := newShop(t, c)
	s.sec.jwt.jwksFile.SetIntervals(10*time.Millisecond, time.Hour)
	valid := claims("ada")

	for name, tok := range map[string]string{
		"RS256": sign(t, jose.RS256, rsa1, "r1", valid),
		"ES256": sign(t, jose.ES256, ec1, "e1", valid),
	} {
		t.Run(name+" accepted", func(t *testing.T) {
			if a := s.do(t, "POST", "/buy", buyAs("ada"), bearer(tok)); a.status != 202 {
				t.Fatalf("got %d %s", a.status, a.raw)
			}
			if a := s.do(t, "POST", "/buy", buyAs("bob"), bearer(tok)); a.status != 403 {
				t.Fatalf("for another user: %d %s, want 403", a.status, a.raw)
			}
		})
	}

	rsaPublicPEM, _ := x509.MarshalPKIXPublicKey(&rsa1.PublicKey)
	refused := map[string]struct{ tok, description string }{
		"HS256 with the RSA public key as secret": {sign(t, jose.HS256, rsaPublicPEM, "r1", valid), "algorithm"},
		"HS256 with the JWKS's oct key":           {sign(t, jose.HS256, []byte(hsSecret), "hmac", valid), "algorithm"},
		"alg none":                                {unsigned(valid), "algorithm"},
		"RS256 by an unknown key, known kid":      {sign(t, jose.RS256, rsa2, "r1", valid), "signature"},
		"RS256 with an unknown kid":               {sign(t, jose.RS256, rsa1, "r9", valid), "kid"},
		"RS256 naming the EC key":                 {sign(t, jose.RS256, rsa1, "e1", valid), "kid"},
		"ES256 naming the RSA key":                {sign(t, jose.ES256, ec1, "r1", valid), "kid"},
		"RS384":                                   {sign(t, jose.RS384, rsa1, "r1", valid), "algorithm"},
		"PS256":                                   {sign(t, jose.PS256, rsa1, "r1", valid), "algorithm"},
		"expired":                                 {sign(t, jose.ES256, ec1, "e1", with(valid, "exp", time.Now().Add(-time.Hour).Unix())), "expired"},
		"wrong audience":                          {sign(t, jose.RS256, rsa1, "r1", with(valid, "aud", "other")), "audience"},
		"wrong issuer":                            {sign(t, jose.RS256, rsa1, "r1", with(valid, "iss", "other")), "issuer"},
		"tampered":                                {tamper(sign(t, jose.ES256, ec1, "e1", valid), with(valid, "sub", "bob")), "signature"},
	}
	for name, tc := range refused {
		t.Run(name, func(t *testing.T) {
			expectUnauthorized(t, s.do(t, "POST", "/buy", buyAs("ada"), bearer(tc.tok)), tc.description)
		})
	}

	t.Run("without kid only when one key fits", func(t *testing.T) {
		// One RSA key and one EC key: the algorithm leaves no choice.
		if a := s.do(t, "POST", "/buy", buyAs("ada"), bearer(sign(t, jose.RS256, rsa1, "", valid))); a.status != 202 {
			t.Errorf("RS256 without kid, one RSA key: %d %s", a.status, a.raw)
		}
	})

	t.Run("the file is re-read on change", func(t *testing.T) {
		tok2 := sign(t, jose.RS256, rsa2, "r2", valid)
		expectUnauthorized(t, s.do(t, "POST", "/buy", buyAs("ada"), bearer(tok2)), "kid")
		writeJWKS(t, file, rsaJWK("r1", &rsa1.PublicKey), rsaJWK("r2", &rsa2.PublicKey))
		time.Sleep(30 * time.Millisecond)
		if a := s.do(t, "POST", "/buy", buyAs("ada"), bearer(tok2)); a.status != 202 {
			t.Errorf("key added to the file: %d %s", a.status, a.raw)
		}
		// Two RSA keys now: a token without kid is ambiguous.
		expectUnauthorized(t, s.do(t, "POST", "/buy", buyAs("ada"), bearer(sign(t, jose.RS256, rsa1, "", valid))), "kid")
		// A broken file keeps the last good keys.
		writeFile(t, file, `{"keys": [`)
		time.Sleep(30 * time.Millisecond)
		if a := s.do(t, "POST", "/buy", buyAs("ada"), bearer(tok2)); a.status != 202 {
			t.Errorf("after a broken file: %d %s", a.status, a.raw)
		}
		// The EC key was removed from the file.
		expectUnauthorized(t, s.do(t, "POST", "/buy", buyAs("ada"), bearer(sign(t, jose.ES256, ec1, "e1", valid))), "kid")
	})
}

func TestParseJWKSRefusesBadKeys(t *testing.T) {
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	big2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	ec1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	offCurve := ecJWK("e", &ec1.PublicKey)
	offCurve["y"] = offCurve["x"]
	evenE := rsaJWK("x", &big2048.PublicKey)
	evenE["e"] = b64u(big.NewInt(65536).Bytes())
	for name, tc := range map[string]struct {
		keys []map[string]string
		want string
	}{
		"no keys":        {nil, "no RSA (RS256) or EC P-256 (ES256) signing key"},
		"only enc keys":  {[]map[string]string{{"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"}}, "no RSA"},
		"short RSA":      {[]map[string]string{rsaJWK("s", &small.PublicKey)}, "1024 bits; at least 2048"},
		"even exponent":  {[]map[string]string{evenE}, "exponent is not a small odd number"},
		"point off P256": {[]map[string]string{offCurve}, "not on declared curve"},
		"short x":        {[]map[string]string{{"kty": "EC", "crv": "P-256", "x": "AQ", "y": "AQ"}}, "wrong length for x"},
		"RSA without n":  {[]map[string]string{{"kty": "RSA", "e": "AQAB"}}, "missing n/e"},
		"duplicate kid":  {[]map[string]string{ecJWK("e", &ec1.PublicKey), ecJWK("e", &ec1.PublicKey)}, "appears twice"},
	} {
		b, _ := json.Marshal(map[string]any{"keys": tc.keys})
		if _, err := parseJWKS(b); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error with %q", name, err, tc.want)
		}
	}
	if _, err := parseJWKS([]byte("not json")); err == nil {
		t.Error("not JSON: accepted")
	}
}

func TestParseJWKSKeepsPublicSigningKeys(t *testing.T) {
	rsa1, _ := rsa.GenerateKey(rand.Reader, 2048)
	ec1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	private, err := (&jose.JSONWebKey{Key: rsa1, KeyID: "private", Use: "sig"}).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	p384 := ecJWK("p384", &ec1.PublicKey)
	p384["crv"] = "P-384"
	rs512 := rsaJWK("rs512", &rsa1.PublicKey)
	rs512["alg"] = "RS512"
	set := fmt.Sprintf(`{"keys": [%s, %s, %s, %s, {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}, {"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": "AA"}]}`,
		private, mustJSON(t, ecJWK("e1", &ec1.PublicKey)), mustJSON(t, p384), mustJSON(t, rs512))
	keys, err := parseJWKS([]byte(set))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range keys.Keys {
		got = append(got, k.KeyID+":"+k.Algorithm)
		if !k.IsPublic() {
			t.Errorf("key %s keeps its private part", k.KeyID)
		}
	}
	if strings.Join(got, " ") != "private:RS256 e1:ES256" {
		t.Errorf("keys kept = %v, want the RSA key (public part only) and the P-256 key", got)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCORS(t *testing.T) {
	s := newShop(t, SecurityConfig{CORSOrigins: []string{"https://shop.example.com"}, CORSMaxAge: 10 * time.Minute})
	preflight := func(origin, method, headers string) answer {
		return s.do(t, "OPTIONS", "/buy", "", map[string]string{"Origin": origin,
			"Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers})
	}
	// Browsers send the requested headers lower case, sorted, joined by commas.
	a := preflight("https://shop.example.com", "POST", "authorization,content-type,idempotency-key")
	if a.status != http.StatusNoContent || a.header.Get("Access-Control-Allow-Origin") != "https://shop.example.com" ||
		a.header.Get("Access-Control-Allow-Methods") != "POST" ||
		a.header.Get("Access-Control-Allow-Headers") != "authorization,content-type,idempotency-key" ||
		a.header.Get("Access-Control-Max-Age") != "600" || a.header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("preflight of a listed origin: %d %v", a.status, a.header)
	}
	if !strings.Contains(strings.Join(a.header.Values("Vary"), ","), "Origin") {
		t.Errorf("Vary = %v", a.header.Values("Vary"))
	}
	if a := preflight("https://shop.example.com", "GET", ""); a.status != http.StatusNoContent || a.header.Get("Access-Control-Allow-Methods") != "GET" {
		t.Errorf("preflight of a GET: %d %v", a.status, a.header)
	}
	for name, a := range map[string]answer{
		"unlisted origin":     preflight("https://evil.example.com", "POST", "content-type"),
		"origin as a suffix":  preflight("https://shop.example.com.evil.example", "POST", ""),
		"other scheme":        preflight("http://shop.example.com", "POST", ""),
		"method not allowed":  preflight("https://shop.example.com", "DELETE", ""),
		"header not allowed":  preflight("https://shop.example.com", "POST", "x-admin"),
		"headers not sorted":  preflight("https://shop.example.com", "POST", "content-type,authorization"),
		"headers upper case":  preflight("https://shop.example.com", "POST", "Content-Type"),
		"one header too many": preflight("https://shop.example.com", "POST", "authorization,content-type,x-admin"),
	} {
		if a.status != http.StatusForbidden || a.body.Error.Code != contract.EForbidden || a.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s: %d %s, Allow-Origin %q; want the JSON 403 without it", name, a.status, a.raw, a.header.Get("Access-Control-Allow-Origin"))
		}
	}
	a = s.do(t, "GET", "/getAllUserBuys/ada", "", map[string]string{"Origin": "https://shop.example.com"})
	if a.header.Get("Access-Control-Allow-Origin") != "https://shop.example.com" || !strings.Contains(a.header.Get("Access-Control-Expose-Headers"), "Retry-After") {
		t.Errorf("request of a listed origin: %v", a.header)
	}
	a = s.do(t, "GET", "/getAllUserBuys/ada", "", map[string]string{"Origin": "https://evil.example.com"})
	if a.status != 200 || a.header.Get("Access-Control-Allow-Origin") != "" || a.header.Get("Vary") == "" {
		t.Errorf("request of an unlisted origin: %d %v", a.status, a.header)
	}
	// Without Origin nothing is a CORS request: OPTIONS goes to the router.
	if a := s.do(t, "OPTIONS", "/buy", "", map[string]string{"Access-Control-Request-Method": "POST"}); a.status == http.StatusNoContent || a.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight without Origin: %d %v", a.status, a.header)
	}

	anyOrigin := newShop(t, SecurityConfig{CORSOrigins: []string{"*"}})
	a = anyOrigin.do(t, "GET", "/healthz", "", map[string]string{"Origin": "https://anyone.example"})
	if a.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("wildcard: Allow-Origin %q", a.header.Get("Access-Control-Allow-Origin"))
	}
	cred := newShop(t, SecurityConfig{CORSOrigins: []string{"https://shop.example.com"}, CORSCredentials: true})
	a = cred.do(t, "GET", "/healthz", "", map[string]string{"Origin": "https://shop.example.com"})
	if a.header.Get("Access-Control-Allow-Origin") != "https://shop.example.com" || a.header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("with credentials: %v", a.header)
	}
	a = cred.do(t, "OPTIONS", "/buy", "", map[string]string{"Origin": "https://shop.example.com", "Access-Control-Request-Method": "POST"})
	if a.status != http.StatusNoContent || a.header.Get("Access-Control-Allow-Credentials") != "true" || a.header.Get("Access-Control-Max-Age") != "0" {
		t.Errorf("preflight with credentials, max_age 0: %d %v", a.status, a.header)
	}
}

func TestSecurityHeaders(t *testing.T) {
	s := newShop(t, SecurityConfig{})
	want := map[string]string{
		"X-Content-Type-Options":       "nosniff",
		"Referrer-Policy":              "no-referrer",
		"X-Frame-Options":              "DENY",
		"Cross-Origin-Resource-Policy": "same-origin",
	}
	for _, path := range []string{"/healthz", "/getAllUserBuys/ada", "/nope", "/"} {
		a := s.do(t, "GET", path, "", nil)
		for k, v := range want {
			if got := a.header.Get(k); got != v {
				t.Errorf("GET %s: %s = %q, want %q", path, k, got, v)
			}
		}
		if got := a.header.Get("Content-Security-Policy"); got != APIContentSecurityPolicy {
			t.Errorf("GET %s: CSP %q", path, got)
		}
		if got := a.header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("GET %s: Cache-Control %q", path, got)
		}
		if a.header.Get("Strict-Transport-Security") != "" {
			t.Errorf("GET %s: HSTS over plain HTTP", path)
		}
	}
	// The customer page keeps its own policy.
	a := s.do(t, "GET", "/", "", map[string]string{"Accept": "text/html"})
	if got := a.header.Get("Content-Security-Policy"); got != web.ContentSecurityPolicy {
		t.Errorf("page CSP = %q, want the page's own", got)
	}
	if n := len(a.header.Values("Content-Security-Policy")); n != 1 {
		t.Errorf("page has %d CSP headers", n)
	}

	always := newShop(t, SecurityConfig{HSTS: hstsAlways})
	if got := always.do(t, "GET", "/healthz", "", nil).header.Get("Strict-Transport-Security"); got != hstsValue {
		t.Errorf("headers.hsts=always: HSTS %q", got)
	}
	tlsShop := httptest.NewTLSServer(NewServer(quiet, &recordingProducer{}, echoLookup{}, prometheus.NewRegistry(), nil))
	defer tlsShop.Close()
	res, err := tlsShop.Client().Get(tlsShop.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Get("Strict-Transport-Security"); got != hstsValue {
		t.Errorf("over TLS by default: HSTS %q", got)
	}
}
