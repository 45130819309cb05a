package app

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestServiceTokensGrace(t *testing.T) {
	file := filepath.Join(t.TempDir(), "auth-token")
	write := func(s string) {
		if err := os.WriteFile(file+".new", []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(file+".new", file); err != nil {
			t.Fatal(err)
		}
	}
	write("alpha\n")
	tokens, err := newServiceTokens(slog.New(slog.NewTextHandler(io.Discard, nil)), "", file, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	tokens.now = func() time.Time { return now }
	tokens.file.Now = tokens.now
	tokens.file.SetIntervals(time.Second, time.Hour)

	check := func(when string, want map[string]bool) {
		t.Helper()
		for tok, ok := range want {
			if got := tokens.Valid(tok); got != ok {
				t.Errorf("%s: Valid(%q) = %v, want %v", when, tok, got, ok)
			}
		}
	}
	check("start", map[string]bool{"alpha": true, "beta": false, "": false, "alph": false, "alpha ": false})

	write("beta\n")
	check("within the check interval", map[string]bool{"alpha": true, "beta": false})
	now = now.Add(time.Second)
	check("after the check", map[string]bool{"alpha": true, "beta": true})
	if tokens.Primary() != "beta" {
		t.Errorf("Primary = %q", tokens.Primary())
	}
	now = now.Add(59 * time.Second)
	check("grace almost over", map[string]bool{"alpha": true, "beta": true})
	now = now.Add(time.Second)
	check("grace over", map[string]bool{"alpha": false, "beta": true})

	// Back to a former token: it is current again, with no grace entry left over.
	write("gamma\nalpha\n")
	now = now.Add(time.Second)
	check("two lines", map[string]bool{"alpha": true, "gamma": true, "beta": true})
	now = now.Add(2 * time.Minute)
	check("beta's grace over", map[string]bool{"alpha": true, "gamma": true, "beta": false})

	if tokens.Valid(strings.Repeat("x", maxAuthorizationLen+1)) {
		t.Error("an oversized token is valid")
	}
}

func TestServiceTokensStatic(t *testing.T) {
	tokens, err := newServiceTokens(slog.New(slog.NewTextHandler(io.Discard, nil)), "fixed-token", "", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !tokens.Valid("fixed-token") || tokens.Valid("fixed-token2") || tokens.Primary() != "fixed-token" {
		t.Error("static token")
	}
	if _, err := newServiceTokens(slog.New(slog.NewTextHandler(io.Discard, nil)), "", filepath.Join(t.TempDir(), "none"), time.Minute); err == nil {
		t.Error("a missing token file was accepted")
	}
}

func TestSecurityConfigOfCMAPI(t *testing.T) {
	base := testEnv{"CM_API_AUTH_TOKEN": configTestToken}
	c, err := LoadConfig(nil, base.get, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Security; s.TokenGrace != time.Minute || s.MongoTLS || s.HTTPCert != "" {
		t.Errorf("defaults = %+v", s)
	}
	for name, tc := range map[string]struct {
		env  testEnv
		want string
	}{
		"CA without TLS":   {testEnv{"CM_API_MONGO_TLS_CA_FILE": tempFile(t, "x")}, "mongo.tls.enabled"},
		"client cert only": {testEnv{"CM_API_MONGO_TLS_ENABLED": "true", "CM_API_MONGO_TLS_CERT_FILE": tempFile(t, "x")}, "mongo.tls.key_file"},
		"https cert only":  {testEnv{"CM_API_HTTP_TLS_KEY_FILE": tempFile(t, "x")}, "http.tls.key_file"},
		"negative grace":   {testEnv{"CM_API_AUTH_TOKEN_GRACE": "-1s"}, "auth.token_grace"},
		"missing mongo CA": {testEnv{"CM_API_MONGO_TLS_ENABLED": "true", "CM_API_MONGO_TLS_CA_FILE": "/nonexistent"}, "mongo.tls.ca_file"},
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
		})
	}
}
