package kafkaconn_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/scalable-shop/shop/platform/kafkaconn"
)

const password = "pw-hunter2-S3cret"

// pemFiles writes a self-signed certificate and its key and returns their paths.
func pemFiles(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	write(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	write(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})))
	return certFile, keyFile
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestNewSASL(t *testing.T) {
	tests := []struct {
		mechanism string
		name      string // of the kafka-go mechanism; "" for none
	}{
		{"", ""},
		{"plain", "PLAIN"},
		{"scram-sha-512", "SCRAM-SHA-512"},
		{"scram-sha-256", "SCRAM-SHA-256"},
		{"SCRAM-SHA-512", "SCRAM-SHA-512"},
	}
	for _, tt := range tests {
		t.Run(tt.mechanism, func(t *testing.T) {
			c, err := kafkaconn.New(kafkaconn.Settings{Brokers: []string{"127.0.0.1:9092"}, SASLMechanism: tt.mechanism,
				Username: "cm-server", Password: password, EnvPrefix: "CM_SERVER"})
			if err != nil {
				t.Fatal(err)
			}
			if c.Transport == nil || c.Dialer == nil {
				t.Fatal("New returned no transport or dialer")
			}
			if tt.name == "" {
				if c.Transport.SASL != nil || c.Dialer.SASLMechanism != nil {
					t.Errorf("SASL set without a mechanism")
				}
				return
			}
			if c.Transport.SASL == nil || c.Transport.SASL.Name() != tt.name {
				t.Fatalf("transport SASL = %v, want %s", c.Transport.SASL, tt.name)
			}
			if c.Dialer.SASLMechanism == nil || c.Dialer.SASLMechanism.Name() != tt.name {
				t.Errorf("dialer SASL = %v, want %s", c.Dialer.SASLMechanism, tt.name)
			}
			if c.Transport.TLS != nil || c.Dialer.TLS != nil {
				t.Error("TLS set although it is disabled")
			}
		})
	}
}

func TestNewRefusesUnknownMechanism(t *testing.T) {
	for _, m := range []string{"gssapi", "oauthbearer", "scram", "scram-sha-1", " plain"} {
		_, err := kafkaconn.New(kafkaconn.Settings{Brokers: []string{"b:1"}, SASLMechanism: m, Username: "u", Password: password})
		if err == nil {
			t.Errorf("mechanism %q accepted", m)
			continue
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", m)) || strings.Contains(err.Error(), password) {
			t.Errorf("error %q does not name %q, or shows the password", err, m)
		}
	}
}

func TestMechanismsAreAccepted(t *testing.T) {
	for _, m := range kafkaconn.Mechanisms() {
		if _, err := kafkaconn.New(kafkaconn.Settings{Brokers: []string{"b:1"}, SASLMechanism: m, Username: "u", Password: "p"}); err != nil {
			t.Errorf("listed mechanism %q refused: %v", m, err)
		}
	}
}

func TestNewTLS(t *testing.T) {
	cert, key := pemFiles(t)
	otherCert, _ := pemFiles(t)
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	write(t, notPEM, "this is not a certificate\n")

	tests := []struct {
		name    string
		s       kafkaconn.Settings
		wantErr string // part of the error; "" for success
		roots   bool   // RootCAs set
		client  bool   // a client certificate
	}{
		{"disabled ignores the files", kafkaconn.Settings{CAFile: filepath.Join(dir, "missing")}, "", false, false},
		{"system roots", kafkaconn.Settings{TLS: true}, "", false, false},
		{"CA file", kafkaconn.Settings{TLS: true, CAFile: cert}, "", true, false},
		{"client certificate", kafkaconn.Settings{TLS: true, CAFile: cert, CertFile: cert, KeyFile: key}, "", true, true},
		{"missing CA file", kafkaconn.Settings{TLS: true, CAFile: filepath.Join(dir, "missing")}, "CA file", false, false},
		{"CA file without PEM", kafkaconn.Settings{TLS: true, CAFile: notPEM}, "no PEM certificate", false, false},
		{"certificate without key", kafkaconn.Settings{TLS: true, CertFile: cert}, "client certificate", false, false},
		{"key without certificate", kafkaconn.Settings{TLS: true, KeyFile: key}, "client certificate", false, false},
		{"key of another certificate", kafkaconn.Settings{TLS: true, CertFile: otherCert, KeyFile: key}, "client certificate", false, false},
		{"key is not PEM", kafkaconn.Settings{TLS: true, CertFile: cert, KeyFile: notPEM}, "client certificate", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.s.Brokers = []string{"b:9093"}
			c, err := kafkaconn.New(tt.s)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New = %v, want an error mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cfg := c.Transport.TLS
			if !tt.s.TLS {
				if cfg != nil || c.Dialer.TLS != nil {
					t.Error("TLS configured although disabled")
				}
				return
			}
			if cfg == nil || c.Dialer.TLS != cfg {
				t.Fatalf("transport TLS %p, dialer TLS %p: want the same config", cfg, c.Dialer.TLS)
			}
			if cfg.MinVersion < tls.VersionTLS12 {
				t.Errorf("MinVersion = %x", cfg.MinVersion)
			}
			if cfg.InsecureSkipVerify {
				t.Error("certificate verification is off")
			}
			if (cfg.RootCAs != nil) != tt.roots {
				t.Errorf("RootCAs set = %v, want %v", cfg.RootCAs != nil, tt.roots)
			}
			if (len(cfg.Certificates) == 1) != tt.client {
				t.Errorf("client certificates = %d", len(cfg.Certificates))
			}
		})
	}
}

func TestExplain(t *testing.T) {
	scram := kafkaconn.Settings{Brokers: []string{"kafka-0:9092", "kafka-1:9092"}, SASLMechanism: "scram-sha-512",
		Username: "cm-server", Password: password, EnvPrefix: "CM_SERVER"}
	noSASL := kafkaconn.Settings{Brokers: []string{"127.0.0.1:9092"}, EnvPrefix: "CM_API"}
	dialErr := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("i/o timeout")}

	tests := []struct {
		name  string
		s     kafkaconn.Settings
		err   error
		parts []string
	}{
		{"SASL refused", scram, kafka.SASLAuthenticationFailed,
			[]string{"refused the SASL login", `"cm-server"`, "scram-sha-512", "CM_SERVER_KAFKA_SASL_USERNAME", "CM_SERVER_KAFKA_SASL_PASSWORD"}},
		{"SASL refused, wrapped", scram, fmt.Errorf("writing: %w", kafka.SASLAuthenticationFailed), []string{"refused the SASL login"}},
		{"illegal SASL state", scram, kafka.IllegalSASLState, []string{"refused the SASL login"}},
		{"mechanism unsupported by the broker", scram, kafka.UnsupportedSASLMechanism, []string{"refused the SASL login", "CM_SERVER_KAFKA_SASL_MECHANISM"}},
		{"EOF without SASL is just EOF", noSASL, io.EOF, []string{"kafka at 127.0.0.1:9092", "EOF"}},
		{"topic ACL", scram, kafka.TopicAuthorizationFailed, []string{"lacks an ACL", `"cm-server"`}},
		{"group ACL", scram, fmt.Errorf("join: %w", kafka.GroupAuthorizationFailed), []string{"lacks an ACL"}},
		{"missing topic", noSASL, fmt.Errorf("topic purchases: %w", kafka.UnknownTopicOrPartition), []string{"topic missing", "create it"}},
		{"missing topic or no Describe ACL", scram, fmt.Errorf("topic purchases: %w", kafka.UnknownTopicOrPartition), []string{"topic missing", `"cm-server"`, "Describe"}},
		{"connection refused", noSASL, syscall.ECONNREFUSED, []string{"cannot reach kafka at 127.0.0.1:9092", "CM_API_KAFKA_BROKERS"}},
		{"dial error", scram, fmt.Errorf("metadata: %w", dialErr), []string{"cannot reach kafka at kafka-0:9092,kafka-1:9092", "CM_SERVER_KAFKA_BROKERS", "i/o timeout"}},
		{"other error", scram, errors.New("boom"), []string{"kafka at kafka-0:9092,kafka-1:9092", "boom"}},
		{"other kafka error", noSASL, kafka.NotEnoughReplicas, []string{"kafka at 127.0.0.1:9092"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := kafkaconn.New(tt.s)
			if err != nil {
				t.Fatal(err)
			}
			got := c.Explain(tt.err)
			if got == nil {
				t.Fatal("Explain returned nil")
			}
			msg := got.Error()
			for _, p := range tt.parts {
				if !strings.Contains(msg, p) {
					t.Errorf("Explain = %q, want it to mention %q", msg, p)
				}
			}
			if strings.Contains(msg, password) {
				t.Errorf("Explain = %q shows the password", msg)
			}
			if strings.ContainsAny(msg, "\r\n") {
				t.Errorf("Explain = %q spans several lines", msg)
			}
			if again := c.Explain(got); again.Error() != msg {
				t.Errorf("Explain(Explain(err)) = %q, want %q unchanged", again, msg)
			}
			if !errors.Is(got, tt.err) {
				t.Errorf("Explain(%v) does not wrap its cause", tt.err)
			}
		})
	}
}

// hangUp listens on loopback and closes every connection as soon as it is
// accepted, as a broker does that refuses a login without a word.
func hangUp(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return l.Addr().String()
}

// closedPort returns a loopback address nobody listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// An EOF with SASL on is a refused login only if a fresh login is refused too; a
// broker that is gone is said to be unreachable instead.
func TestExplainEOFLogsInAfreshToTellWhy(t *testing.T) {
	for _, tt := range []struct {
		name   string
		broker string
		err    error
		parts  []string
	}{
		{"broker hangs up on the login", hangUp(t), io.EOF,
			[]string{"refused the SASL login", `"cm-server"`, "CM_SERVER_KAFKA_SASL_USERNAME", "CM_SERVER_KAFKA_SASL_PASSWORD"}},
		{"unexpected EOF, broker hangs up", hangUp(t), fmt.Errorf("read: %w", io.ErrUnexpectedEOF), []string{"refused the SASL login"}},
		{"broker gone", closedPort(t), io.EOF, []string{"cannot reach kafka", "CM_SERVER_KAFKA_BROKERS"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := kafkaconn.New(kafkaconn.Settings{Brokers: []string{tt.broker}, SASLMechanism: "scram-sha-512",
				Username: "cm-server", Password: password, EnvPrefix: "CM_SERVER"})
			if err != nil {
				t.Fatal(err)
			}
			msg := c.Explain(tt.err).Error()
			for _, p := range tt.parts {
				if !strings.Contains(msg, p) {
					t.Errorf("Explain = %q, want it to mention %q", msg, p)
				}
			}
			if strings.Contains(msg, password) {
				t.Errorf("Explain = %q shows the password", msg)
			}
		})
	}
}

func TestExplainText(t *testing.T) {
	scram := kafkaconn.Settings{Brokers: []string{hangUp(t)}, SASLMechanism: "scram-sha-512",
		Username: "cm-api", Password: password, EnvPrefix: "CM_API"}
	noSASL := kafkaconn.Settings{Brokers: []string{"127.0.0.1:9092"}, EnvPrefix: "CM_API"}
	for _, tt := range []struct {
		name  string
		s     kafkaconn.Settings
		msg   string
		parts []string
	}{
		{"Kafka's refusal", scram, "Unable to establish connection to consumer group coordinator for group cm-api: could not successfully authenticate to 127.0.0.1:19092 with SASL: [58] SASL Authentication Failed: SASL Authentication failed",
			[]string{"refused the SASL login", `"cm-api"`, "scram-sha-512", "CM_API_KAFKA_SASL_USERNAME", "CM_API_KAFKA_SASL_PASSWORD", "consumer group coordinator"}},
		{"unsupported mechanism", scram, "[33] Unsupported SASL Mechanism: the broker does not support the requested SASL mechanism", []string{"refused the SASL login", "CM_API_KAFKA_SASL_MECHANISM"}},
		{"EOF, login refused", scram, "failed to join group: unexpected EOF", []string{"refused the SASL login", "failed to join group"}},
		{"other text unchanged", scram, "kafka.(*Reader).run: leader not available", []string{"kafka.(*Reader).run: leader not available"}},
		{"no SASL: unchanged", noSASL, "unexpected EOF", []string{"unexpected EOF"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := kafkaconn.New(tt.s)
			if err != nil {
				t.Fatal(err)
			}
			got := c.ExplainText(tt.msg)
			for _, p := range tt.parts {
				if !strings.Contains(got, p) {
					t.Errorf("ExplainText = %q, want it to mention %q", got, p)
				}
			}
			if strings.Contains(got, password) || strings.ContainsAny(got, "\r\n") {
				t.Errorf("ExplainText = %q shows the password or spans lines", got)
			}
		})
	}
	c, _ := kafkaconn.New(noSASL)
	if got := c.ExplainText("unexpected EOF"); got != "unexpected EOF" {
		t.Errorf("without SASL ExplainText changed %q", got)
	}
}

func TestExplainKeepsTheCause(t *testing.T) {
	c, err := kafkaconn.New(kafkaconn.Settings{Brokers: []string{"b:1"}, EnvPrefix: "CM_API"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Explain(nil) != nil {
		t.Error("Explain(nil) != nil")
	}
	cause := errors.New("leader not available")
	if got := c.Explain(cause); !errors.Is(got, cause) {
		t.Errorf("Explain(%v) = %v does not wrap the cause", cause, got)
	}
	if got := c.Explain(kafka.LeaderNotAvailable); !errors.Is(got, kafka.LeaderNotAvailable) {
		t.Errorf("Explain(kafka error) = %v does not wrap it", got)
	}
}
