package app

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scalable-shop/shop/platform/config"
)

const configTestToken = "tok-hunter2-S3cret"

type testEnv map[string]string

func (e testEnv) get(k string) string { return e[k] }

func tempFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfigDefaults(t *testing.T) {
	c, err := LoadConfig(nil, testEnv{"CM_SERVER_CMAPI_TOKEN": configTestToken}.get, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != ":8080" || c.Topic != "purchases" || c.CMAPIURL != "http://127.0.0.1:8081" || c.CMAPIToken != configTestToken ||
		len(c.Kafka.Brokers) != 1 || c.Kafka.Brokers[0] != "127.0.0.1:9092" || c.Kafka.SASLMechanism != "" || c.Kafka.TLS ||
		c.Kafka.EnvPrefix != "CM_SERVER" || c.BatchTimeout != 5*time.Millisecond || c.CMAPITimeout != 3*time.Second ||
		c.LogLevel != "info" || c.LogFormat != "auto" || c.DrainDelay != 0 || c.ShutdownWait <= 0 || c.WriteTimeout <= 0 {
		t.Errorf("defaults = %+v", c)
	}
}

func TestLoadConfigSecretsFromFiles(t *testing.T) {
	c, err := LoadConfig([]string{"--kafka.sasl.mechanism=scram-sha-256"}, testEnv{
		"CM_SERVER_CMAPI_TOKEN_FILE":         tempFile(t, configTestToken+"\n"),
		"CM_SERVER_KAFKA_SASL_USERNAME":      "cm-server",
		"CM_SERVER_KAFKA_SASL_PASSWORD_FILE": tempFile(t, " kpw "),
	}.get, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.CMAPIToken != configTestToken || c.Kafka.Password != "kpw" || c.Kafka.Username != "cm-server" || c.Kafka.SASLMechanism != "scram-sha-256" {
		t.Errorf("config = %+v", c)
	}
}

func TestLoadConfigRefused(t *testing.T) {
	emptyFile := tempFile(t, "\n")
	tok := testEnv{"CM_SERVER_CMAPI_TOKEN": configTestToken}
	with := func(kv ...string) testEnv {
		e := testEnv{"CM_SERVER_CMAPI_TOKEN": configTestToken}
		for i := 0; i+1 < len(kv); i += 2 {
			e[kv[i]] = kv[i+1]
		}
		return e
	}
	tests := []struct {
		name  string
		args  []string
		env   testEnv
		parts []string
	}{
		{"no token", nil, testEnv{}, []string{"cmapi.token", "is required", "CM_SERVER_CMAPI_TOKEN", "CM_SERVER_CMAPI_TOKEN_FILE"}},
		{"blank token", []string{"--cmapi.token= "}, testEnv{}, []string{"cmapi.token", "is required"}},
		{"empty token file", nil, testEnv{"CM_SERVER_CMAPI_TOKEN_FILE": emptyFile}, []string{"cmapi.token", "is required"}},
		{"empty token file beside a token", nil, with("CM_SERVER_CMAPI_TOKEN_FILE", emptyFile), []string{"cmapi.token", "is required"}},
		{"unreadable token file", nil, testEnv{"CM_SERVER_CMAPI_TOKEN_FILE": filepath.Join(t.TempDir(), "missing")},
			[]string{"cmapi.token_file", "cannot be read", "CM_SERVER_CMAPI_TOKEN_FILE"}},
		{"SASL without username", nil, with("CM_SERVER_KAFKA_SASL_MECHANISM", "scram-sha-512", "CM_SERVER_KAFKA_SASL_PASSWORD", "kpw"),
			[]string{"kafka.sasl.mechanism", "needs kafka.sasl.username", "(from CM_SERVER_KAFKA_SASL_MECHANISM)"}},
		{"SASL without password", []string{"--kafka.sasl.mechanism=plain", "--kafka.sasl.username=cm-server"}, tok,
			[]string{"kafka.sasl.mechanism", "kafka.sasl.password", "(from flag --kafka.sasl.mechanism)"}},
		{"unknown SASL mechanism", nil, with("CM_SERVER_KAFKA_SASL_MECHANISM", "kerberos"),
			[]string{"kafka.sasl.mechanism", `"kerberos"`, "CM_SERVER_KAFKA_SASL_MECHANISM"}},
		{"cm-api URL without scheme", nil, with("CM_SERVER_CMAPI_URL", "cm-api:8081"), []string{"cmapi.url", "http://"}},
		{"cm-api URL of another scheme", nil, with("CM_SERVER_CMAPI_URL", "ftp://cm-api"), []string{"cmapi.url", "http://"}},
		{"cm-api URL without host", nil, with("CM_SERVER_CMAPI_URL", "http://"), []string{"cmapi.url"}},
		{"cm-api URL unparsable", nil, with("CM_SERVER_CMAPI_URL", "http://cm api:80/%zz"), []string{"cmapi.url"}},
		{"empty cm-api URL", nil, with("CM_SERVER_CMAPI_URL", " "), []string{"cmapi.url", "is required"}},
		{"bad batch timeout", nil, with("CM_SERVER_KAFKA_BATCH_TIMEOUT", "5"),
			[]string{"kafka.batch_timeout", `"5"`, "(from CM_SERVER_KAFKA_BATCH_TIMEOUT)", "CM_SERVER_KAFKA_BATCH_TIMEOUT"}},
		{"zero write timeout", []string{"--kafka.write_timeout=0s"}, tok, []string{"kafka.write_timeout", "greater than zero"}},
		{"bad brokers", nil, with("CM_SERVER_KAFKA_BROKERS", "kafka"), []string{"kafka.brokers", "host:port"}},
		{"bad listen address", []string{"--http.addr=8080"}, tok, []string{"http.addr", "host:port"}},
		{"bad TLS flag", nil, with("CM_SERVER_KAFKA_TLS_ENABLED", "yes"), []string{"kafka.tls.enabled", "true or false"}},
		{"missing CA file", nil, with("CM_SERVER_KAFKA_TLS_CA_FILE", "/nonexistent/ca.pem"), []string{"kafka.tls.ca_file", "does not exist"}},
		{"bad log format", nil, with("CM_SERVER_LOG_FORMAT", "xml"), []string{"log.format", `"xml"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadConfig(tt.args, tt.env.get, io.Discard)
			if err == nil {
				t.Fatalf("LoadConfig accepted %q %v", tt.args, tt.env)
			}
			msg := err.Error()
			for _, p := range tt.parts {
				if !strings.Contains(msg, p) {
					t.Errorf("error %q does not mention %q", msg, p)
				}
			}
			if strings.ContainsAny(msg, "\r\n") {
				t.Errorf("error %q spans several lines", msg)
			}
			for _, secret := range []string{configTestToken, "kpw"} {
				if strings.Contains(msg, secret) {
					t.Errorf("error %q shows the secret %q", msg, secret)
				}
			}
		})
	}
}

func TestLoadConfigHelp(t *testing.T) {
	var out strings.Builder
	_, err := LoadConfig([]string{"-h"}, testEnv{}.get, &out)
	if !errors.Is(err, config.ErrHelp) {
		t.Fatalf("LoadConfig(-h) = %v, want ErrHelp", err)
	}
	for _, s := range Settings {
		if !strings.Contains(out.String(), "--"+s.Key) {
			t.Errorf("usage does not list --%s", s.Key)
		}
	}
}
