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
	c, err := LoadConfig(nil, testEnv{"CM_API_AUTH_TOKEN": configTestToken}.get, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != ":8081" || c.Topic != "purchases" || c.DLQTopic != "purchases.dlq" || c.Group != "cm-api" ||
		c.MongoURI != "mongodb://127.0.0.1:27017/" || c.MongoDatabase != "shop" || c.AuthToken != configTestToken ||
		len(c.Kafka.Brokers) != 1 || c.Kafka.Brokers[0] != "127.0.0.1:9092" || c.Kafka.SASLMechanism != "" ||
		c.Kafka.EnvPrefix != "CM_API" || c.LogLevel != "info" || c.LogFormat != "auto" || c.BatchSize != 500 ||
		c.BatchWait != 20*time.Millisecond || c.DrainDelay != 0 || c.ShutdownWait <= 0 ||
		c.Lookup != (LookupLimits{Timeout: 2 * time.Second, MaxConcurrent: 32, QueueWait: 100 * time.Millisecond}) {
		t.Errorf("defaults = %+v", c)
	}
}

func TestLoadConfigSecretsFromFiles(t *testing.T) {
	c, err := LoadConfig([]string{"--kafka.sasl.mechanism=SCRAM-SHA-512", "--kafka.sasl.username=cm-api"}, testEnv{
		"CM_API_AUTH_TOKEN_FILE":          tempFile(t, configTestToken+"\n"),
		"CM_API_KAFKA_SASL_PASSWORD_FILE": tempFile(t, "kpw\n"),
		"CM_API_MONGO_USERNAME":           "cm-api",
		"CM_API_MONGO_PASSWORD_FILE":      tempFile(t, "mpw"),
	}.get, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.AuthToken != configTestToken || c.Kafka.Password != "kpw" || c.Kafka.SASLMechanism != "scram-sha-512" || c.MongoPassword != "mpw" {
		t.Errorf("config = %+v", c)
	}
}

func TestLoadConfigRefused(t *testing.T) {
	emptyFile := tempFile(t, "")
	tests := []struct {
		name  string
		args  []string
		env   testEnv
		parts []string
	}{
		{"no token", nil, testEnv{}, []string{"auth.token", "is required", "CM_API_AUTH_TOKEN", "CM_API_AUTH_TOKEN_FILE"}},
		{"blank token", nil, testEnv{"CM_API_AUTH_TOKEN": "  "}, []string{"auth.token", "is required"}},
		{"empty token file", nil, testEnv{"CM_API_AUTH_TOKEN_FILE": emptyFile}, []string{"auth.token", "is required"}},
		{"empty token file beside a token", nil, testEnv{"CM_API_AUTH_TOKEN": configTestToken, "CM_API_AUTH_TOKEN_FILE": emptyFile}, []string{"auth.token", "is required"}},
		{"unreadable token file", nil, testEnv{"CM_API_AUTH_TOKEN_FILE": filepath.Join(t.TempDir(), "missing")},
			[]string{"auth.token_file", "cannot be read", "CM_API_AUTH_TOKEN_FILE"}},
		{"SASL without username", []string{"--kafka.sasl.mechanism=scram-sha-512"},
			testEnv{"CM_API_AUTH_TOKEN": configTestToken, "CM_API_KAFKA_SASL_PASSWORD": "kpw"},
			[]string{"kafka.sasl.mechanism", "needs kafka.sasl.username", "(from flag --kafka.sasl.mechanism)"}},
		{"SASL without password", nil,
			testEnv{"CM_API_AUTH_TOKEN": configTestToken, "CM_API_KAFKA_SASL_MECHANISM": "plain", "CM_API_KAFKA_SASL_USERNAME": "cm-api"},
			[]string{"kafka.sasl.mechanism", "kafka.sasl.password", "(from CM_API_KAFKA_SASL_MECHANISM)"}},
		{"unknown SASL mechanism", nil,
			testEnv{"CM_API_AUTH_TOKEN": configTestToken, "CM_API_KAFKA_SASL_MECHANISM": "gssapi"},
			[]string{"kafka.sasl.mechanism", `"gssapi"`, "scram-sha-512", "CM_API_KAFKA_SASL_MECHANISM"}},
		{"mongo password without user", nil,
			testEnv{"CM_API_AUTH_TOKEN": configTestToken, "CM_API_MONGO_PASSWORD": "mpw"},
			[]string{"mongo.username", "is required when mongo.password is set"}},
		{"bad batch size", nil, testEnv{"CM_API_AUTH_TOKEN": configTestToken, "CM_API_KAFKA_BATCH_SIZE": "0"},
			[]string{"kafka.batch_size", "CM_API_KAFKA_BATCH_SIZE"}},
		{"bad duration", nil, testEnv{"CM_API_AUTH_TOKEN": configTestToken, "CM_API_KAFKA_SESSION_TIMEOUT": "10"},
			[]string{"kafka.session_timeout", "CM_API_KAFKA_SESSION_TIMEOUT", "not a duration"}},
		{"bad log level", []string{"--log.level=loud"}, testEnv{"CM_API_AUTH_TOKEN": configTestToken},
			[]string{"log.level", `"loud"`}},
		{"queue wait as long as the look-up", nil, testEnv{"CM_API_AUTH_TOKEN": configTestToken, "CM_API_LOOKUP_QUEUE_WAIT": "2s"},
			[]string{"lookup.queue_wait", "shorter than lookup.timeout", "CM_API_LOOKUP_QUEUE_WAIT"}},
		{"no look-up deadline", nil, testEnv{"CM_API_AUTH_TOKEN": configTestToken, "CM_API_LOOKUP_TIMEOUT": "0s"},
			[]string{"lookup.timeout", "greater than zero"}},
		{"negative look-up bound", nil, testEnv{"CM_API_AUTH_TOKEN": configTestToken, "CM_API_LOOKUP_MAX_CONCURRENT": "-1"},
			[]string{"lookup.max_concurrent", "from 0 to 10000"}},
		{"empty group", nil, testEnv{"CM_API_AUTH_TOKEN": configTestToken, "CM_API_KAFKA_GROUP": " "},
			[]string{"kafka.group", "is required"}},
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
			for _, secret := range []string{configTestToken, "kpw", "mpw"} {
				if strings.Contains(msg, secret) {
					t.Errorf("error %q shows the secret %q", msg, secret)
				}
			}
		})
	}
}

func TestLoadConfigHelp(t *testing.T) {
	var out strings.Builder
	_, err := LoadConfig([]string{"--help"}, testEnv{}.get, &out)
	if !errors.Is(err, config.ErrHelp) {
		t.Fatalf("LoadConfig(--help) = %v, want ErrHelp", err)
	}
	for _, s := range Settings {
		if !strings.Contains(out.String(), "--"+s.Key) {
			t.Errorf("usage does not list --%s", s.Key)
		}
	}
}

func TestCursorKeyIsRequiredWhereCursorsAreSigned(t *testing.T) {
	for role, required := range map[string]bool{RoleAll: true, RoleAPI: true, RoleConsumer: false} {
		c, err := LoadConfig(nil, testEnv{"CM_API_AUTH_TOKEN": configTestToken, "CM_API_ROLE": role}.get, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		err = c.requireCursorKey()
		if (err != nil) != required {
			t.Fatalf("role %s without a cursor key: %v, want required=%v", role, err, required)
		}
		if err != nil {
			msg := err.Error()
			for _, want := range []string{"cursor.key", "CM_API_CURSOR_KEY", "CM_API_CURSOR_KEY_FILE"} {
				if !strings.Contains(msg, want) || strings.Contains(msg, "\n") {
					t.Errorf("error %q does not name %s on one line", msg, want)
				}
			}
		}
	}
	c, err := LoadConfig(nil, testEnv{"CM_API_AUTH_TOKEN": configTestToken, "CM_API_CURSOR_KEY": "k"}.get, io.Discard)
	if err != nil || c.requireCursorKey() != nil || c.Role != RoleAll {
		t.Fatalf("with a key: role %q, %v / %v", c.Role, err, c.requireCursorKey())
	}
	if _, err := LoadConfig(nil, testEnv{"CM_API_AUTH_TOKEN": configTestToken, "CM_API_ROLE": "both"}.get, io.Discard); err == nil || !strings.Contains(err.Error(), "role") {
		t.Fatalf("unknown role: %v, want an error naming role", err)
	}
	if _, err := LoadConfig(nil, testEnv{"CM_API_ROLE": RoleConsumer}.get, io.Discard); err != nil {
		t.Fatalf("role consumer needs no service token: %v", err)
	}
}

// The look-up API reads no topic: its pods get no Kafka password (the chart
// mounts none), and the shared config.yaml's SASL settings must not stop it.
func TestRoleAPINeedsNoKafkaCredentials(t *testing.T) {
	env := testEnv{"CM_API_AUTH_TOKEN": configTestToken, "CM_API_KAFKA_SASL_MECHANISM": "scram-sha-512", "CM_API_KAFKA_SASL_USERNAME": "cm-api"}
	env["CM_API_ROLE"] = RoleAPI
	if _, err := LoadConfig(nil, env.get, io.Discard); err != nil {
		t.Fatalf("role api without a Kafka password: %v, want it accepted", err)
	}
	for _, role := range []string{RoleAll, RoleConsumer} {
		env["CM_API_ROLE"] = role
		if _, err := LoadConfig(nil, env.get, io.Discard); err == nil || !strings.Contains(err.Error(), "kafka.sasl.password") {
			t.Errorf("role %s without a Kafka password: %v, want an error naming kafka.sasl.password", role, err)
		}
	}
}
