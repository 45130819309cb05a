// Package kafkaconn turns connection settings (brokers, SASL, TLS) into the kafka-go
// transport and dialer both services use, and explains connection failures in words
// an operator can act on.
package kafkaconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/scalable-shop/shop/platform/tlsconf"
)

// SASL mechanisms accepted in configuration.
const (
	MechanismNone        = ""
	MechanismSCRAMSHA512 = "scram-sha-512"
	MechanismSCRAMSHA256 = "scram-sha-256"
	MechanismPlain       = "plain"
)

// Mechanisms lists the accepted mechanism names.
func Mechanisms() []string {
	return []string{MechanismNone, MechanismSCRAMSHA512, MechanismSCRAMSHA256, MechanismPlain}
}

// Settings say how to reach the brokers.
type Settings struct {
	Brokers       []string
	SASLMechanism string
	Username      string
	Password      string
	TLS           bool
	CAFile        string // PEM; system roots when empty
	CertFile      string // optional client certificate
	KeyFile       string
	// EnvPrefix names the service's settings in error messages, e.g. "CM_SERVER".
	EnvPrefix string
}

// Conn is a ready-to-use set of kafka-go connection objects for Settings.
type Conn struct {
	Settings  Settings
	Transport *kafka.Transport
	Dialer    *kafka.Dialer
}

// New validates s and builds the transport and dialer.
func New(s Settings) (*Conn, error) {
	mech, err := mechanism(s)
	if err != nil {
		return nil, err
	}
	tlsConfig, err := tlsConfig(s)
	if err != nil {
		return nil, err
	}
	return &Conn{
		Settings: s,
		Transport: &kafka.Transport{
			DialTimeout: 5 * time.Second,
			IdleTimeout: 30 * time.Second,
			MetadataTTL: 10 * time.Second,
			SASL:        mech,
			TLS:         tlsConfig,
		},
		Dialer: &kafka.Dialer{
			Timeout:       5 * time.Second,
			DualStack:     true,
			SASLMechanism: mech,
			TLS:           tlsConfig,
		},
	}, nil
}

func mechanism(s Settings) (sasl.Mechanism, error) {
	switch strings.ToLower(s.SASLMechanism) {
	case MechanismNone:
		return nil, nil
	case MechanismPlain:
		return plain.Mechanism{Username: s.Username, Password: s.Password}, nil
	case MechanismSCRAMSHA512:
		return scram.Mechanism(scram.SHA512, s.Username, s.Password)
	case MechanismSCRAMSHA256:
		return scram.Mechanism(scram.SHA256, s.Username, s.Password)
	default:
		return nil, fmt.Errorf("kafka SASL mechanism %q is not one of scram-sha-512, scram-sha-256, plain", s.SASLMechanism)
	}
}

func tlsConfig(s Settings) (*tls.Config, error) {
	if !s.TLS {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka TLS CA file: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka TLS CA file %s holds no PEM certificate", s.CAFile)
		}
	}
	if s.CertFile != "" || s.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka TLS client certificate: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// Ping asks a broker for the metadata of topic and reports whether every partition
// has a leader: the broker is reachable, accepts our credentials, and the topic is
// there. The error is already explained (see Explain).
//
// It dials afresh each time: the shared transport caches metadata and pooled
// connections, and would call a stopped broker healthy.
func (c *Conn) Ping(ctx context.Context, topic string) error {
	t := &kafka.Transport{DialTimeout: c.Transport.DialTimeout, SASL: c.Transport.SASL, TLS: c.Transport.TLS}
	defer t.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(c.Settings.Brokers...), Transport: t, Timeout: 3 * time.Second}
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return c.Explain(err)
	}
	for _, t := range md.Topics {
		if t.Error != nil {
			return c.Explain(fmt.Errorf("topic %s: %w", topic, t.Error))
		}
		if len(t.Partitions) == 0 {
			return fmt.Errorf("topic %s has no partitions yet; create it before starting the service", topic)
		}
		for _, p := range t.Partitions {
			if p.Error != nil {
				return c.Explain(fmt.Errorf("topic %s partition %d: %w", topic, p.ID, p.Error))
			}
		}
	}
	return nil
}

// Explain rewrites a broker error into one line that says what is wrong and how to
// fix it. The result wraps err, and explaining it again changes nothing.
//
// A refused SASL login often surfaces as a bare EOF (the broker just hangs up), but
// so does a broker that stops or restarts. With SASL on, Explain therefore answers
// an EOF by logging in afresh (within 3 s) to tell the two apart.
func (c *Conn) Explain(err error) error {
	if err == nil {
		return nil
	}
	var done *explained
	if errors.As(err, &done) {
		return err
	}
	s := c.Settings
	var opErr *net.OpError
	switch {
	case errors.Is(err, kafka.SASLAuthenticationFailed), errors.Is(err, kafka.IllegalSASLState),
		errors.Is(err, kafka.UnsupportedSASLMechanism):
		return c.saslRefused(err)
	case s.SASLMechanism != "" && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)):
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		switch login := c.probeLogin(ctx); {
		case login == nil:
			return &explained{fmt.Sprintf("kafka at %s closed the connection (%v); a fresh SASL login works, so the broker may be restarting", strings.Join(s.Brokers, ","), err), err}
		case errors.Is(login, errLoginRefused):
			return c.saslRefused(err)
		default:
			return &explained{c.Explain(login).Error(), err}
		}
	case errors.Is(err, kafka.TopicAuthorizationFailed), errors.Is(err, kafka.GroupAuthorizationFailed):
		return &explained{fmt.Sprintf("kafka user %q lacks an ACL (%v): grant it in the KafkaUser of the kafka chart", s.Username, err), err}
	case errors.Is(err, kafka.UnknownTopicOrPartition) && s.SASLMechanism != "":
		// With authorization on, Kafka calls a topic the user may not Describe unknown.
		return &explained{fmt.Sprintf("kafka topic missing, or user %q may not see it (%v): create the topic (the kafka chart and the local stack do), and grant the user Describe on it in the KafkaUser of the kafka chart", s.Username, err), err}
	case errors.Is(err, kafka.UnknownTopicOrPartition):
		return &explained{fmt.Sprintf("kafka topic missing (%v): create it (the kafka chart and the local stack do) before starting the service", err), err}
	case s.TLS && tlsconf.Hint(err, "") != "":
		return &explained{fmt.Sprintf("kafka at %s: %v: %s", strings.Join(s.Brokers, ","), err, tlsconf.Hint(err, s.EnvPrefix+"_KAFKA_TLS_CA_FILE")), err}
	case errors.Is(err, syscall.ECONNREFUSED), errors.As(err, &opErr):
		return &explained{fmt.Sprintf("cannot reach kafka at %s (%v): check %s_KAFKA_BROKERS and that the brokers are up", strings.Join(s.Brokers, ","), err, s.EnvPrefix), err}
	default:
		return &explained{fmt.Sprintf("kafka at %s: %v", strings.Join(s.Brokers, ","), err), err}
	}
}

// explained is an error Explain has already put into words; it wraps the cause.
type explained struct {
	msg   string
	cause error
}

func (e *explained) Error() string { return e.msg }
func (e *explained) Unwrap() error { return e.cause }

func (c *Conn) saslRefused(cause error) error {
	s := c.Settings
	env := s.EnvPrefix + "_KAFKA_SASL"
	hint := fmt.Sprintf("check %s_USERNAME and %s_PASSWORD (or %s_PASSWORD_FILE)", env, env, env)
	if errors.Is(cause, kafka.UnsupportedSASLMechanism) {
		hint = fmt.Sprintf("check %s_MECHANISM against the mechanisms the listener enables", env)
	}
	return &explained{fmt.Sprintf("kafka refused the SASL login of user %q with %s (%v): %s", s.Username, s.SASLMechanism, cause, hint), cause}
}

// errLoginRefused marks a probe whose connection was accepted but whose SASL
// exchange failed.
var errLoginRefused = errors.New("SASL login refused")

// probeLogin dials one broker afresh and logs in. It returns nil when the login
// works, an error wrapping errLoginRefused when the broker accepted the connection
// but not the login, and the dial error otherwise.
func (c *Conn) probeLogin(ctx context.Context) error {
	var last error
	for _, b := range c.Settings.Brokers {
		conn, err := c.Dialer.DialContext(ctx, "tcp", b)
		if err == nil {
			conn.Close()
			return nil
		}
		// kafka-go's Dialer: "failed to dial: ..." before the connection exists,
		// "could not successfully authenticate to ...: ..." after.
		if strings.Contains(err.Error(), "could not successfully authenticate") {
			return fmt.Errorf("%w: %v", errLoginRefused, err)
		}
		last = err
	}
	return last
}

// ExplainText explains a background error kafka-go reports only as text (the
// ErrorLogger of a Reader): a refused SASL login becomes the same one line Explain
// gives, a connection the broker closed is told apart from a refused login by a
// fresh login, and anything else is returned unchanged.
func (c *Conn) ExplainText(msg string) string {
	if c.Settings.SASLMechanism == "" {
		return msg
	}
	for _, refused := range []string{"SASL Authentication Failed", "could not successfully authenticate", "Illegal SASL State", "Unsupported SASL Mechanism"} {
		if strings.Contains(msg, refused) {
			cause := errors.New(msg)
			if refused == "Unsupported SASL Mechanism" {
				cause = fmt.Errorf("%s: %w", msg, kafka.UnsupportedSASLMechanism)
			}
			return c.saslRefused(cause).Error()
		}
	}
	if strings.Contains(msg, "EOF") {
		return c.Explain(fmt.Errorf("%s: %w", msg, io.EOF)).Error()
	}
	return msg
}

// CreateTopics creates topics with the given partition counts if they do not exist.
// Production topics come from the kafka chart; this serves the local stack and tests.
func (c *Conn) CreateTopics(ctx context.Context, partitions map[string]int) error {
	client := &kafka.Client{Addr: kafka.TCP(c.Settings.Brokers...), Transport: c.Transport, Timeout: 10 * time.Second}
	req := &kafka.CreateTopicsRequest{}
	for name, n := range partitions {
		req.Topics = append(req.Topics, kafka.TopicConfig{Topic: name, NumPartitions: n, ReplicationFactor: 1})
	}
	res, err := client.CreateTopics(ctx, req)
	if err != nil {
		return c.Explain(err)
	}
	for name, err := range res.Errors {
		if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			return c.Explain(fmt.Errorf("create topic %s: %w", name, err))
		}
	}
	return nil
}
