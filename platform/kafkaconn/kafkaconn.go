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
			return nil, fmt.Errorf("kafka TLS CA file: %v", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka TLS CA file %s holds no PEM certificate", s.CAFile)
		}
	}
	if s.CertFile != "" || s.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka TLS client certificate: %v", err)
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
// fix it. A refused SASL login often surfaces as a bare EOF: the broker just hangs up.
func (c *Conn) Explain(err error) error {
	if err == nil {
		return nil
	}
	s := c.Settings
	env := s.EnvPrefix + "_KAFKA_SASL"
	var opErr *net.OpError
	switch {
	case errors.Is(err, kafka.SASLAuthenticationFailed), errors.Is(err, kafka.IllegalSASLState),
		errors.Is(err, kafka.UnsupportedSASLMechanism),
		s.SASLMechanism != "" && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)):
		return fmt.Errorf("kafka refused the SASL login of user %q with %s (%v): check %s_USERNAME and %s_PASSWORD", s.Username, s.SASLMechanism, err, env, env)
	case errors.Is(err, kafka.TopicAuthorizationFailed), errors.Is(err, kafka.GroupAuthorizationFailed):
		return fmt.Errorf("kafka user %q lacks an ACL (%v): grant it in the KafkaUser of the kafka chart", s.Username, err)
	case errors.Is(err, kafka.UnknownTopicOrPartition):
		return fmt.Errorf("kafka topic missing (%v): create it (the kafka chart and the local stack do) before starting the service", err)
	case errors.Is(err, syscall.ECONNREFUSED), errors.As(err, &opErr):
		return fmt.Errorf("cannot reach kafka at %s (%v): check %s_KAFKA_BROKERS and that the brokers are up", strings.Join(s.Brokers, ","), err, s.EnvPrefix)
	default:
		return fmt.Errorf("kafka at %s: %w", strings.Join(s.Brokers, ","), err)
	}
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
