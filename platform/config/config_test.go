package config_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scalable-shop/shop/platform/config"
)

const prefix = "CM_SERVER"

// settings is a small service: one setting of each kind the getters read.
var settings = []config.Setting{
	{Key: "http.addr", Default: ":8080", Usage: "listen address"},
	{Key: "kafka.brokers", Default: "127.0.0.1:9092", Usage: "bootstrap servers"},
	{Key: "kafka.batch_timeout", Default: "5ms", Usage: "batch timeout"},
	{Key: "kafka.batch_size", Default: "100", Usage: "batch size"},
	{Key: "kafka.tls.enabled", Default: "false", Usage: "TLS"},
	{Key: "kafka.tls.ca_file", Default: "", Usage: "CA file"},
	{Key: "kafka.topic", Default: "purchases", Usage: "topic"},
	{Key: "kafka.sasl.password", Default: "", Usage: "SASL password", Secret: true},
	{Key: "log.level", Default: "info", Usage: "level"},
	{Key: "shutdown.drain_delay", Default: "0s", Usage: "drain delay"},
}

// env is a fake environment.
type env map[string]string

func (e env) get(k string) string { return e[k] }

func load(t *testing.T, args []string, e env) (*config.Values, error) {
	t.Helper()
	return config.Load("cm-server", prefix, settings, args, e.get, io.Discard)
}

func mustLoad(t *testing.T, args []string, e env) *config.Values {
	t.Helper()
	v, err := load(t, args, e)
	if err != nil {
		t.Fatalf("Load(%q): %v", args, err)
	}
	return v
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// oneLine asserts err is a single line holding every part.
func oneLine(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one mentioning %q", parts)
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\r\n") {
		t.Errorf("error spans several lines: %q", msg)
	}
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("error %q does not mention %q", msg, p)
		}
	}
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, "cm-server.yaml", "kafka:\n  topic: from-file\n  batch_size: 7\nlog:\n  level: warn\n")
	tests := []struct {
		name  string
		args  []string
		env   env
		topic string
		size  int
		level string
	}{
		{"defaults", nil, nil, "purchases", 100, "info"},
		{"config file over defaults", []string{"--config", file}, nil, "from-file", 7, "warn"},
		{"config file named by the environment", nil, env{"CM_SERVER_CONFIG": file}, "from-file", 7, "warn"},
		{"environment over config file", []string{"--config", file}, env{"CM_SERVER_KAFKA_TOPIC": "from-env"}, "from-env", 7, "warn"},
		{"flag over environment", []string{"--config", file, "--kafka.topic=from-flag"}, env{"CM_SERVER_KAFKA_TOPIC": "from-env"}, "from-flag", 7, "warn"},
		{"flag over config file", []string{"--config=" + file, "--kafka.batch_size", "9"}, nil, "from-file", 9, "warn"},
		{"flag equal to the default still wins", []string{"--config", file, "--kafka.topic=purchases"}, env{"CM_SERVER_KAFKA_TOPIC": "from-env"}, "purchases", 7, "warn"},
		{"environment without a file", nil, env{"CM_SERVER_KAFKA_BATCH_SIZE": "11", "CM_SERVER_LOG_LEVEL": "debug"}, "purchases", 11, "debug"},
		{"empty environment variable is unset", []string{"--config", file}, env{"CM_SERVER_KAFKA_TOPIC": ""}, "from-file", 7, "warn"},
		{"every layer on separate keys", []string{"--config", file, "--log.level=error"}, env{"CM_SERVER_KAFKA_BATCH_SIZE": "12"}, "from-file", 12, "error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := mustLoad(t, tt.args, tt.env)
			topic, size, level := v.String("kafka.topic"), v.Int("kafka.batch_size", 1, 1000), v.OneOf("log.level", "debug", "info", "warn", "error")
			if err := v.Err(); err != nil {
				t.Fatal(err)
			}
			if topic != tt.topic || size != tt.size || level != tt.level {
				t.Errorf("got topic=%q size=%d level=%q, want %q %d %q", topic, size, level, tt.topic, tt.size, tt.level)
			}
			// Untouched keys keep their defaults.
			if got := v.Duration("kafka.batch_timeout", false); got != 5*time.Millisecond {
				t.Errorf("kafka.batch_timeout = %v", got)
			}
		})
	}
}

// TestSourceInErrors: a bad value is reported with the layer it came from.
func TestSourceInErrors(t *testing.T) {
	file := writeFile(t, "c.yaml", "kafka:\n  batch_timeout: 5\n")
	fileOK := writeFile(t, "ok.yaml", "log:\n  level: info\n")
	badDefault := []config.Setting{{Key: "kafka.batch_timeout", Default: "soon"}}
	tests := []struct {
		name     string
		settings []config.Setting
		args     []string
		env      env
		source   string
	}{
		{"default", badDefault, nil, nil, "(from default)"},
		{"config file", settings, []string{"--config", file}, nil, "(from config file " + file + ")"},
		{"environment", settings, []string{"--config", fileOK}, env{"CM_SERVER_KAFKA_BATCH_TIMEOUT": "5"}, "(from CM_SERVER_KAFKA_BATCH_TIMEOUT)"},
		{"environment over a good file value", settings, []string{"--config", file}, env{"CM_SERVER_KAFKA_BATCH_TIMEOUT": "later"}, "(from CM_SERVER_KAFKA_BATCH_TIMEOUT)"},
		{"flag", settings, []string{"--kafka.batch_timeout=5"}, env{"CM_SERVER_KAFKA_BATCH_TIMEOUT": "5ms"}, "(from flag --kafka.batch_timeout)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := config.Load("cm-server", prefix, tt.settings, tt.args, tt.env.get, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			v.Duration("kafka.batch_timeout", false)
			oneLine(t, v.Err(), "kafka.batch_timeout", "CM_SERVER_KAFKA_BATCH_TIMEOUT", "--kafka.batch_timeout", tt.source)
		})
	}
}

func TestBadValues(t *testing.T) {
	tests := []struct {
		name, key, value string
		read             func(v *config.Values)
		problem          string
	}{
		{"duration without unit", "kafka.batch_timeout", "5", func(v *config.Values) { v.Duration("kafka.batch_timeout", false) }, "not a duration"},
		{"duration words", "kafka.batch_timeout", "five seconds", func(v *config.Values) { v.Duration("kafka.batch_timeout", false) }, "not a duration"},
		{"duration zero", "kafka.batch_timeout", "0s", func(v *config.Values) { v.Duration("kafka.batch_timeout", false) }, "greater than zero"},
		{"duration negative", "shutdown.drain_delay", "-1s", func(v *config.Values) { v.Duration("shutdown.drain_delay", true) }, "greater than zero"},
		{"duration empty", "kafka.batch_timeout", " ", func(v *config.Values) { v.Duration("kafka.batch_timeout", false) }, "not a duration"},
		{"int words", "kafka.batch_size", "many", func(v *config.Values) { v.Int("kafka.batch_size", 1, 1000) }, "whole number from 1 to 1000"},
		{"int fraction", "kafka.batch_size", "1.5", func(v *config.Values) { v.Int("kafka.batch_size", 1, 1000) }, "whole number"},
		{"int below", "kafka.batch_size", "0", func(v *config.Values) { v.Int("kafka.batch_size", 1, 1000) }, "from 1 to 1000"},
		{"int above", "kafka.batch_size", "1001", func(v *config.Values) { v.Int("kafka.batch_size", 1, 1000) }, "from 1 to 1000"},
		{"int overflow", "kafka.batch_size", "99999999999999999999", func(v *config.Values) { v.Int("kafka.batch_size", 1, 1000) }, "whole number"},
		{"bool yes", "kafka.tls.enabled", "yes", func(v *config.Values) { v.Bool("kafka.tls.enabled") }, "true or false"},
		{"bool on", "kafka.tls.enabled", "on", func(v *config.Values) { v.Bool("kafka.tls.enabled") }, "true or false"},
		{"addr without colon", "http.addr", "8080", func(v *config.Values) { v.Addr("http.addr") }, "host:port"},
		{"addr without port", "http.addr", "localhost:", func(v *config.Values) { v.Addr("http.addr") }, "host:port"},
		{"addr with path", "http.addr", "http://x:80/", func(v *config.Values) { v.Addr("http.addr") }, "host:port"},
		{"addr bare IPv6", "http.addr", "::1", func(v *config.Values) { v.Addr("http.addr") }, "host:port"},
		{"list with a bare host", "kafka.brokers", "a:9092,b", func(v *config.Values) { v.AddrList("kafka.brokers") }, "comma-separated list"},
		{"list of commas", "kafka.brokers", ",,", func(v *config.Values) { v.AddrList("kafka.brokers") }, "at least one"},
		{"list with spaces as separators", "kafka.brokers", "a:1 b:2", func(v *config.Values) { v.AddrList("kafka.brokers") }, "comma-separated list"},
		{"oneof", "log.level", "verbose", func(v *config.Values) { v.OneOf("log.level", "debug", "info") }, `is not one of "debug", "info"`},
		{"required", "kafka.topic", "   ", func(v *config.Values) { v.Required("kafka.topic") }, "is required"},
		{"file missing", "kafka.tls.ca_file", "/nonexistent/ca.pem", func(v *config.Values) { v.File("kafka.tls.ca_file") }, "does not exist"},
		{"invalid", "kafka.topic", "purchases", func(v *config.Values) { v.Invalid("kafka.topic", "must differ from the DLQ topic") }, "must differ from the DLQ topic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			envName := "CM_SERVER_" + strings.ToUpper(strings.ReplaceAll(tt.key, ".", "_"))
			v := mustLoad(t, nil, env{envName: tt.value})
			if err := v.Err(); err != nil {
				t.Fatalf("Err before reading = %v", err)
			}
			tt.read(v)
			shown := strings.TrimSpace(tt.value)
			oneLine(t, v.Err(), tt.key+` = "`+shown+`"`, "(from "+envName+")", envName, "--"+tt.key, tt.problem)
		})
	}
}

func TestGoodValues(t *testing.T) {
	ca := writeFile(t, "ca.pem", "x")
	v := mustLoad(t, nil, env{
		"CM_SERVER_HTTP_ADDR":            "[::1]:8080",
		"CM_SERVER_KAFKA_BROKERS":        " a:9092, b:9093 ,,c:1 ",
		"CM_SERVER_KAFKA_BATCH_TIMEOUT":  "250ms",
		"CM_SERVER_KAFKA_BATCH_SIZE":     " 1000 ",
		"CM_SERVER_KAFKA_TLS_ENABLED":    "TRUE",
		"CM_SERVER_KAFKA_TLS_CA_FILE":    ca,
		"CM_SERVER_LOG_LEVEL":            "DeBuG",
		"CM_SERVER_SHUTDOWN_DRAIN_DELAY": "0s",
	})
	if got := v.Addr("http.addr"); got != "[::1]:8080" {
		t.Errorf("Addr = %q", got)
	}
	if got := v.AddrList("kafka.brokers"); !slices.Equal(got, []string{"a:9092", "b:9093", "c:1"}) {
		t.Errorf("AddrList = %q", got)
	}
	if got := v.Duration("kafka.batch_timeout", false); got != 250*time.Millisecond {
		t.Errorf("Duration = %v", got)
	}
	if got := v.Int("kafka.batch_size", 1, 1000); got != 1000 {
		t.Errorf("Int = %d", got)
	}
	if !v.Bool("kafka.tls.enabled") {
		t.Error("Bool = false")
	}
	if got := v.File("kafka.tls.ca_file"); got != ca {
		t.Errorf("File = %q", got)
	}
	if got := v.OneOf("log.level", "debug", "info"); got != "debug" {
		t.Errorf("OneOf = %q", got)
	}
	if got := v.Duration("shutdown.drain_delay", true); got != 0 {
		t.Errorf("Duration(allowZero) = %v", got)
	}
	if got := v.File("kafka.sasl.password_file"); got != "" {
		t.Errorf("empty File = %q", got)
	}
	if err := v.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestFirstProblemWins: the service stops with one line, about the first bad value.
func TestFirstProblemWins(t *testing.T) {
	v := mustLoad(t, nil, env{"CM_SERVER_KAFKA_BATCH_SIZE": "x", "CM_SERVER_LOG_LEVEL": "loud"})
	v.Int("kafka.batch_size", 1, 10)
	v.OneOf("log.level", "info")
	oneLine(t, v.Err(), "kafka.batch_size")
	if strings.Contains(v.Err().Error(), "log.level") {
		t.Errorf("error %q mentions the second problem too", v.Err())
	}
}

func TestConfigFileErrors(t *testing.T) {
	tests := []struct {
		name, content string
		parts         []string
	}{
		{"unknown nested key", "kafka:\n  topic: x\n  bogus: 1\n", []string{`"kafka.bogus"`, "unknown setting"}},
		{"unknown top-level key", "extra: true\n", []string{`"extra"`, "unknown setting"}},
		{"misspelled key", "kafka:\n  batch_timout: 5ms\n", []string{`"kafka.batch_timout"`}},
		{"env-style key", "CM_SERVER_KAFKA_TOPIC: x\n", []string{`"cm_server_kafka_topic"`}},
		{"scalar where a section is", "kafka: x\n", []string{`"kafka"`}},
		{"YAML syntax", "kafka:\n  topic: [x\n", []string{"cannot read config file"}},
		{"tabs for indentation", "kafka:\n\ttopic: x\n", []string{"cannot read config file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := writeFile(t, "c.yaml", tt.content)
			_, err := load(t, []string{"--config", file}, nil)
			oneLine(t, err, append(tt.parts, file)...)
		})
	}
	t.Run("missing file", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "nope.yaml")
		_, err := load(t, []string{"--config", missing}, nil)
		oneLine(t, err, missing, "cannot read config file")
	})
	t.Run("known secret file key", func(t *testing.T) {
		file := writeFile(t, "c.yaml", "kafka:\n  sasl:\n    password_file: /run/secrets/pw\n")
		v := mustLoad(t, []string{"--config", file}, nil)
		if got := v.String("kafka.sasl.password_file"); got != "/run/secrets/pw" {
			t.Errorf("password_file = %q", got)
		}
	})
	t.Run("empty file", func(t *testing.T) {
		file := writeFile(t, "c.yaml", "")
		v := mustLoad(t, []string{"--config", file}, nil)
		if got := v.String("kafka.topic"); got != "purchases" {
			t.Errorf("topic = %q", got)
		}
	})
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"--kafka.topic=x", "--help"}} {
		var stderr bytes.Buffer
		_, err := config.Load("cm-server", prefix, settings, args, env{}.get, &stderr)
		if !errors.Is(err, config.ErrHelp) {
			t.Errorf("Load(%q) = %v, want ErrHelp", args, err)
		}
		for _, want := range []string{"--kafka.batch_timeout", "CM_SERVER_KAFKA_BATCH_TIMEOUT", "--config", "CM_SERVER_KAFKA_SASL_PASSWORD_FILE"} {
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("usage for %q does not mention %s:\n%s", args, want, stderr.String())
			}
		}
	}
	_, err := load(t, []string{"--kafka.bogus=1"}, nil)
	oneLine(t, err, "kafka.bogus", "--help")
	if errors.Is(err, config.ErrHelp) {
		t.Error("an unknown flag is not a request for help")
	}
	_, err = load(t, []string{"serve"}, nil)
	oneLine(t, err, `"serve"`)
	_, err = load(t, []string{"--kafka.topic"}, nil)
	oneLine(t, err, "kafka.topic")
}

func TestEnvName(t *testing.T) {
	v := mustLoad(t, nil, nil)
	for key, want := range map[string]string{
		"http.addr":                "CM_SERVER_HTTP_ADDR",
		"kafka.batch_timeout":      "CM_SERVER_KAFKA_BATCH_TIMEOUT",
		"kafka.sasl.password_file": "CM_SERVER_KAFKA_SASL_PASSWORD_FILE",
		"log-level":                "CM_SERVER_LOG_LEVEL",
	} {
		if got := v.EnvName(key); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestSecret(t *testing.T) {
	const secret = "hunter2-S3cret"
	withNewline := writeFile(t, "pw", secret+"\n")
	other := writeFile(t, "pw2", "  from-file \n")
	tests := []struct {
		name string
		args []string
		env  env
		want string
	}{
		{"unset", nil, nil, ""},
		{"from the environment", nil, env{"CM_SERVER_KAFKA_SASL_PASSWORD": secret}, secret},
		{"from a flag", []string{"--kafka.sasl.password=" + secret}, nil, secret},
		{"from a file named by the environment", nil, env{"CM_SERVER_KAFKA_SASL_PASSWORD_FILE": withNewline}, secret},
		{"from a file named by a flag", []string{"--kafka.sasl.password_file", withNewline}, nil, secret},
		{"file wins over value", nil, env{"CM_SERVER_KAFKA_SASL_PASSWORD": "plain", "CM_SERVER_KAFKA_SASL_PASSWORD_FILE": other}, "from-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := mustLoad(t, tt.args, tt.env)
			if got := v.Secret("kafka.sasl.password"); got != tt.want {
				t.Errorf("Secret = %q, want %q", got, tt.want)
			}
			if err := v.Err(); err != nil {
				t.Fatal(err)
			}
		})
	}
	// A file is re-read on every call, so a rotated secret is picked up.
	v := mustLoad(t, nil, env{"CM_SERVER_KAFKA_SASL_PASSWORD_FILE": withNewline})
	if err := os.WriteFile(withNewline, []byte("rotated"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := v.Secret("kafka.sasl.password"); got != "rotated" {
		t.Errorf("Secret after rotation = %q", got)
	}
}

func TestSecretUnreadableFile(t *testing.T) {
	const secret = "hunter2-S3cret"
	dir := t.TempDir()
	for name, path := range map[string]string{
		"missing file": filepath.Join(dir, "missing"),
		"a directory":  dir,
	} {
		t.Run(name, func(t *testing.T) {
			v := mustLoad(t, nil, env{"CM_SERVER_KAFKA_SASL_PASSWORD": secret, "CM_SERVER_KAFKA_SASL_PASSWORD_FILE": path})
			if got := v.Secret("kafka.sasl.password"); got != "" {
				t.Errorf("Secret = %q, want empty", got)
			}
			err := v.Err()
			oneLine(t, err, "kafka.sasl.password_file", "CM_SERVER_KAFKA_SASL_PASSWORD_FILE", "(from CM_SERVER_KAFKA_SASL_PASSWORD_FILE)", "cannot be read")
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q shows the secret", err)
			}
			if strings.Contains(err.Error(), "_FILE_FILE") || strings.Contains(err.Error(), "_file_file") {
				t.Errorf("error %q names a setting that does not exist", err)
			}
		})
	}
}

// TestSecretNeverInErrors: a problem with a secret setting found by the caller
// names the setting but never its value.
func TestSecretNeverInErrors(t *testing.T) {
	const secret = "hunter2-S3cret"
	empty := writeFile(t, "empty", "")
	v := mustLoad(t, nil, env{"CM_SERVER_KAFKA_SASL_PASSWORD": secret, "CM_SERVER_KAFKA_SASL_PASSWORD_FILE": empty})
	if got := v.Secret("kafka.sasl.password"); got != "" {
		t.Fatalf("Secret from an empty file = %q", got)
	}
	v.Invalid("kafka.sasl.password", "is required")
	err := v.Err()
	oneLine(t, err, "kafka.sasl.password", "CM_SERVER_KAFKA_SASL_PASSWORD", "is required")
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error %q shows the secret", err)
	}

	v = mustLoad(t, []string{"--kafka.sasl.password", secret}, nil)
	v.Required("kafka.sasl.password")
	v.Invalid("kafka.sasl.password", "is too short")
	if err := v.Err(); err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("error = %v, want one without the secret", err)
	}
}

func TestAddrNeedsANumericPort(t *testing.T) {
	for _, addr := range []string{":abc", "127.0.0.1:99999", "host:-1", "host:+80"} {
		v, err := config.Load("svc", "SVC", []config.Setting{{Key: "http.addr", Default: ":8080"}},
			[]string{"--http.addr=" + addr}, func(string) string { return "" }, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		v.Addr("http.addr")
		if v.Err() == nil {
			t.Errorf("address %q accepted", addr)
		}
	}
}
