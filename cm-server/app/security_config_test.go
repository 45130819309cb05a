package app

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestSecurityConfigDefaults(t *testing.T) {
	c, err := LoadConfig(nil, testEnv{"CM_SERVER_CMAPI_TOKEN": configTestToken}.get, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s := c.Security
	if s.JWTMode != jwtOff || s.RateLimit || s.Rate != 5 || s.Burst != 10 || s.TrustForwarded ||
		len(s.CORSOrigins) != 0 || s.CORSCredentials || s.CORSMaxAge != 10*time.Minute || s.HSTS != hstsTLS ||
		s.JWTLeeway != 30*time.Second || s.HTTPCert != "" || s.CMAPICA != "" {
		t.Errorf("security defaults = %+v", s)
	}
	sec, err := newSecurity(s, quiet)
	if err != nil || sec.jwt != nil || sec.limiter != nil || sec.cors != nil {
		t.Errorf("default security = %+v, %v: want everything but the headers off", sec, err)
	}
}

func TestSecurityConfigRefusesUnsafeSettings(t *testing.T) {
	base := testEnv{"CM_SERVER_CMAPI_TOKEN": configTestToken}
	for name, tc := range map[string]struct {
		env  testEnv
		want string
	}{
		"unknown jwt mode":          {testEnv{"CM_SERVER_AUTH_JWT_MODE": "rs256"}, "auth.jwt.mode"},
		"hs256 without secret":      {testEnv{"CM_SERVER_AUTH_JWT_MODE": "hs256"}, "auth.jwt.secret"},
		"hs256 with a short secret": {testEnv{"CM_SERVER_AUTH_JWT_MODE": "hs256", "CM_SERVER_AUTH_JWT_SECRET": "short"}, "at least 32 bytes"},
		"jwks without a file":       {testEnv{"CM_SERVER_AUTH_JWT_MODE": "jwks"}, "auth.jwt.jwks_file"},
		"jwks file missing":         {testEnv{"CM_SERVER_AUTH_JWT_MODE": "jwks", "CM_SERVER_AUTH_JWT_JWKS_FILE": "/nonexistent/jwks.json"}, "auth.jwt.jwks_file"},
		"wildcard with credentials": {testEnv{"CM_SERVER_CORS_ALLOWED_ORIGINS": "*", "CM_SERVER_CORS_ALLOW_CREDENTIALS": "true"}, "cors.allowed_origins"},
		"origin without scheme":     {testEnv{"CM_SERVER_CORS_ALLOWED_ORIGINS": "shop.example.com"}, "is not an origin"},
		"origin with a path":        {testEnv{"CM_SERVER_CORS_ALLOWED_ORIGINS": "https://shop.example.com/app"}, "is not an origin"},
		"origin pattern":            {testEnv{"CM_SERVER_CORS_ALLOWED_ORIGINS": "https://*.example.com"}, "is not an origin"},
		"zero rate":                 {testEnv{"CM_SERVER_RATELIMIT_RATE": "0"}, "ratelimit.rate"},
		"zero burst":                {testEnv{"CM_SERVER_RATELIMIT_BURST": "0"}, "ratelimit.burst"},
		"cert without key":          {testEnv{"CM_SERVER_HTTP_TLS_CERT_FILE": tempFile(t, "x")}, "http.tls.key_file"},
		"cm-api CA with http URL":   {testEnv{"CM_SERVER_CMAPI_CA_FILE": tempFile(t, "x")}, "https://"},
		"unknown hsts mode":         {testEnv{"CM_SERVER_HEADERS_HSTS": "yes"}, "headers.hsts"},
	} {
		t.Run(name, func(t *testing.T) {
			env := testEnv{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tc.env {
				env[k] = v
			}
			_, err := LoadConfig(nil, env.get, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error mentioning %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "short") && name == "hs256 with a short secret" {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}

func TestSecurityConfigAccepts(t *testing.T) {
	c, err := LoadConfig(nil, testEnv{
		"CM_SERVER_CMAPI_TOKEN":               configTestToken,
		"CM_SERVER_AUTH_JWT_MODE":             "HS256",
		"CM_SERVER_AUTH_JWT_SECRET_FILE":      tempFile(t, strings.Repeat("s", 32)+"\n"),
		"CM_SERVER_CORS_ALLOWED_ORIGINS":      "https://Shop.Example.com:443/, http://localhost:5173",
		"CM_SERVER_RATELIMIT_ENABLED":         "true",
		"CM_SERVER_RATELIMIT_RATE":            "0.5",
		"CM_SERVER_RATELIMIT_TRUST_FORWARDED": "true",
	}.get, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s := c.Security
	if s.JWTMode != jwtHS256 || s.JWTSecret != strings.Repeat("s", 32) || s.Rate != 0.5 || !s.TrustForwarded ||
		strings.Join(s.CORSOrigins, " ") != "https://shop.example.com http://localhost:5173" {
		t.Errorf("security = %+v", s)
	}
	if _, err := newSecurity(s, quiet); err != nil {
		t.Error(err)
	}
}

func TestBrokenJWKSStopsTheStart(t *testing.T) {
	c := SecurityConfig{JWTMode: jwtJWKS, JWKSFile: tempFile(t, `{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`)}
	_, err := newSecurity(c, quiet)
	if err == nil || !strings.Contains(err.Error(), "auth.jwt.jwks_file") || !strings.Contains(err.Error(), "bits") {
		t.Errorf("got %v, want the JWKS file and the short key named", err)
	}
}
