// Package testenv starts the real infrastructure a test talks to: the embedded
// Kafka-protocol broker and FerretDB by default, or the external Kafka broker the
// environment names (KAFKA_BROKERS, KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME,
// KAFKA_SASL_PASSWORD: what `make kafka-local-env` prints), so that one suite
// keeps the stand-ins honest against Apache Kafka. On an external broker each test
// gets topics and a consumer group of its own, deleted when it ends
// (KAFKA_KEEP_TOPICS=1 keeps them for a look), and the services log in as the
// least-privileged users KAFKA_CM_SERVER_USERNAME / KAFKA_CM_API_USERNAME.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/localstack"
	"github.com/scalable-shop/shop/platform/kafkaconn"
)

// Kafka is a broker for one test, with topics of its own.
type Kafka struct {
	Settings   kafkaconn.Settings // admin credentials, for the test itself
	Topic      string
	DLQTopic   string
	Group      string
	Partitions int
	// Per-service credentials: the admin's on the embedded broker, the least-
	// privileged users on an external one when the environment names them.
	ServerUser, ServerPassword string
	APIUser, APIPassword       string
	// The user of `cm-api dlq` (Read on the DLQ, Write on the topic).
	DLQUser, DLQPassword string

	embedded *localstack.Kafka
	addr     string
	dataDir  string
	users    map[string]string // SASL users of the embedded broker
	tls      *kafkaTLS         // TLS listener of the embedded broker (tls.go)
	listen   func(network, address string) (net.Listener, error)
}

// External reports whether the environment names an external broker.
func External() bool { return os.Getenv("KAFKA_BROKERS") != "" }

// StartKafka returns a broker with the shop's topics. An embedded one is stopped
// when the test ends.
func StartKafka(tb testing.TB) *Kafka {
	tb.Helper()
	SkipShort(tb)
	if External() {
		return externalKafka(tb)
	}
	k := &Kafka{Topic: contract.TopicPurchases, DLQTopic: contract.TopicDLQ, Group: "cm-api",
		Partitions: contract.DefaultPartitions, dataDir: filepath.Join(tb.TempDir(), "kafka"), addr: "127.0.0.1:0"}
	k.start(tb)
	tb.Cleanup(func() {
		if k.embedded != nil {
			k.embedded.Close()
		}
	})
	return k
}

// StartKafkaSASL is StartKafka with SASL/SCRAM-SHA-512 on. The embedded broker
// gets the users cm-server and cm-api beside its super user admin (it enforces no
// ACLs); an external broker is used as it is, and a test is skipped if the
// environment names no SASL mechanism for it.
func StartKafkaSASL(tb testing.TB) *Kafka {
	tb.Helper()
	SkipShort(tb)
	if External() {
		if os.Getenv("KAFKA_SASL_MECHANISM") == "" {
			tb.Skip("the external broker named by KAFKA_BROKERS has no SASL (KAFKA_SASL_MECHANISM is empty)")
		}
		return externalKafka(tb)
	}
	k := &Kafka{Topic: contract.TopicPurchases, DLQTopic: contract.TopicDLQ, Group: "cm-api",
		Partitions: contract.DefaultPartitions, dataDir: filepath.Join(tb.TempDir(), "kafka"), addr: "127.0.0.1:0",
		ServerUser: "cm-server", ServerPassword: "cm-server-secret", APIUser: "cm-api", APIPassword: "cm-api-secret",
		DLQUser: "cm-api-dlq", DLQPassword: "cm-api-dlq-secret"}
	k.users = map[string]string{k.ServerUser: k.ServerPassword, k.APIUser: k.APIPassword, k.DLQUser: k.DLQPassword}
	k.start(tb)
	tb.Cleanup(func() {
		if k.embedded != nil {
			k.embedded.Close()
		}
	})
	return k
}

// StartKafkaListening is StartKafka on an embedded broker whose listener listen
// opens (net.Listen's arguments): a test wraps it to fault the network between
// the broker and the services, say to stop answering fetches. It skips the test
// when the environment names an external broker, whose sockets it cannot reach.
func StartKafkaListening(tb testing.TB, listen func(network, address string) (net.Listener, error)) *Kafka {
	tb.Helper()
	SkipShort(tb)
	if External() {
		tb.Skip("faults the embedded broker's sockets; KAFKA_BROKERS names an external one")
	}
	k := &Kafka{Topic: contract.TopicPurchases, DLQTopic: contract.TopicDLQ, Group: "cm-api",
		Partitions: contract.DefaultPartitions, dataDir: filepath.Join(tb.TempDir(), "kafka"), addr: "127.0.0.1:0", listen: listen}
	k.start(tb)
	tb.Cleanup(func() {
		if k.embedded != nil {
			k.embedded.Close()
		}
	})
	return k
}

func (k *Kafka) start(tb testing.TB) {
	tb.Helper()
	var err error
	k.embedded, err = localstack.StartKafka(localstack.KafkaOptions{Addr: k.addr, DataDir: k.dataDir, Users: k.users, TLS: k.tls.server(), Listen: k.listen})
	if err != nil {
		tb.Fatal(err)
	}
	k.addr = k.embedded.Addr()
	k.Settings = kafkaconn.Settings{Brokers: []string{k.addr}}
	k.tls.settings(&k.Settings)
	if len(k.users) > 0 {
		// localstack.StartKafka makes admin/admin the super user.
		k.Settings.SASLMechanism, k.Settings.Username, k.Settings.Password = kafkaconn.MechanismSCRAMSHA512, "admin", "admin"
		k.Settings.EnvPrefix = "KAFKA"
	}
}

// Stop stops an embedded broker, keeping its data; Start brings it back on the
// same address. Tests of outages use them.
func (k *Kafka) Stop(tb testing.TB) {
	tb.Helper()
	if k.embedded == nil {
		tb.Fatal("Stop needs the embedded broker (or kafka/local/kafka-local.sh stop-broker)")
	}
	k.embedded.Close()
	k.embedded = nil
}

// Start restarts a stopped embedded broker on its old address and data.
func (k *Kafka) Start(tb testing.TB) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		// The old listener's port can take a moment to be free again.
		l, err := net.Listen("tcp", k.addr)
		if err == nil {
			l.Close()
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("port of the stopped broker stays busy: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	k.start(tb)
}

func externalKafka(tb testing.TB) *Kafka {
	tb.Helper()
	id := randomID()
	k := &Kafka{
		Settings: kafkaconn.Settings{
			Brokers:       strings.Split(os.Getenv("KAFKA_BROKERS"), ","),
			SASLMechanism: os.Getenv("KAFKA_SASL_MECHANISM"),
			Username:      os.Getenv("KAFKA_SASL_USERNAME"),
			Password:      os.Getenv("KAFKA_SASL_PASSWORD"),
			EnvPrefix:     "KAFKA",
		},
		// Unique names keep tests apart on a shared broker. kafka/local grants the
		// service users PREFIXED ACLs on "purchases-", "purchases.dlq-" and
		// "cm-api-" (beside the literal ones on the real names): cm-server may write
		// purchases-<id> only, cm-api may read it, write purchases.dlq-<id> and use
		// the group cm-api-<id>. The dash keeps "purchases-" from matching the DLQ.
		Topic: contract.TopicPurchases + "-" + id, DLQTopic: contract.TopicDLQ + "-" + id,
		Group: "cm-api-" + id, Partitions: contract.DefaultPartitions,
	}
	k.ServerUser, k.ServerPassword = envOr("KAFKA_CM_SERVER_USERNAME", k.Settings.Username), envOr("KAFKA_CM_SERVER_PASSWORD", k.Settings.Password)
	k.APIUser, k.APIPassword = envOr("KAFKA_CM_API_USERNAME", k.Settings.Username), envOr("KAFKA_CM_API_PASSWORD", k.Settings.Password)
	k.DLQUser, k.DLQPassword = envOr("KAFKA_CM_API_DLQ_USERNAME", k.Settings.Username), envOr("KAFKA_CM_API_DLQ_PASSWORD", k.Settings.Password)
	conn := k.Conn(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := conn.CreateTopics(ctx, map[string]int{k.Topic: k.Partitions, k.DLQTopic: 1}); err != nil {
		tb.Fatal(err)
	}
	// A shared broker should not collect a pair of topics per test run.
	tb.Cleanup(func() {
		if os.Getenv("KAFKA_KEEP_TOPICS") != "" {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		client := &kafka.Client{Addr: kafka.TCP(k.Settings.Brokers...), Transport: conn.Transport, Timeout: 30 * time.Second}
		res, err := client.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{k.Topic, k.DLQTopic}})
		if err == nil {
			for _, e := range res.Errors {
				if e != nil && err == nil {
					err = e
				}
			}
		}
		if err != nil {
			tb.Logf("deleting the test's topics %s and %s: %v", k.Topic, k.DLQTopic, err)
		}
		_, _ = client.DeleteGroups(ctx, &kafka.DeleteGroupsRequest{GroupIDs: []string{k.Group}})
	})
	// Topic creation is asynchronous on a real broker: wait until leaders exist.
	for _, t := range []string{k.Topic, k.DLQTopic} {
		for conn.Ping(ctx, t) != nil {
			if ctx.Err() != nil {
				tb.Fatalf("topic %s did not come up: %v", t, conn.Ping(context.Background(), t))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return k
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func randomID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// SkipShort skips a test under -short (`make test-short`): everything that
// starts real infrastructure or processes takes seconds, not milliseconds.
func SkipShort(tb testing.TB) {
	tb.Helper()
	if testing.Short() {
		tb.Skip("starts real infrastructure or processes; not under -short")
	}
}

// Conn returns an admin connection.
func (k *Kafka) Conn(tb testing.TB) *kafkaconn.Conn {
	tb.Helper()
	c, err := kafkaconn.New(k.Settings)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// Brokers is the bootstrap list as a setting value.
func (k *Kafka) Brokers() string { return strings.Join(k.Settings.Brokers, ",") }

// ServerEnv is the Kafka part of cm-server's environment.
func (k *Kafka) ServerEnv() map[string]string {
	return k.env("CM_SERVER", k.ServerUser, k.ServerPassword, map[string]string{"CM_SERVER_KAFKA_TOPIC": k.Topic})
}

// APIEnv is the Kafka part of cm-api's environment.
func (k *Kafka) APIEnv() map[string]string {
	return k.env("CM_API", k.APIUser, k.APIPassword, map[string]string{
		"CM_API_KAFKA_TOPIC": k.Topic, "CM_API_KAFKA_DLQ_TOPIC": k.DLQTopic, "CM_API_KAFKA_GROUP": k.Group,
		// A killed consumer's partitions move within seconds, not the default 10 s.
		"CM_API_KAFKA_SESSION_TIMEOUT": "6s",
	})
}

func (k *Kafka) env(prefix, user, pass string, extra map[string]string) map[string]string {
	env := map[string]string{prefix + "_KAFKA_BROKERS": k.Brokers()}
	if k.Settings.SASLMechanism != "" {
		env[prefix+"_KAFKA_SASL_MECHANISM"] = k.Settings.SASLMechanism
		env[prefix+"_KAFKA_SASL_USERNAME"] = user
		env[prefix+"_KAFKA_SASL_PASSWORD"] = pass
	}
	k.tls.env(prefix, env)
	for key, v := range extra {
		env[key] = v
	}
	return env
}

// EndOffsets returns the sum of the end offsets of a topic's partitions: how many
// records were ever written to it.
func (k *Kafka) EndOffsets(tb testing.TB, topic string) int64 {
	tb.Helper()
	// A real broker answers "not leader" for a while after a topic is created.
	var err error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var sum int64
		if sum, err = k.endOffsets(tb, topic); err == nil {
			return sum
		}
	}
	tb.Fatalf("end offsets of %s: %v", topic, err)
	return 0
}

func (k *Kafka) endOffsets(tb testing.TB, topic string) (int64, error) {
	conn := k.Conn(tb)
	client := &kafka.Client{Addr: kafka.TCP(k.Settings.Brokers...), Transport: conn.Transport, Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(md.Topics) != 1 {
		return 0, fmt.Errorf("metadata: %v", err)
	}
	var reqs []kafka.OffsetRequest
	for _, p := range md.Topics[0].Partitions {
		reqs = append(reqs, kafka.LastOffsetOf(p.ID))
	}
	res, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return 0, err
	}
	var sum int64
	for _, p := range res.Topics[topic] {
		if p.Error != nil {
			return 0, fmt.Errorf("partition %d: %w", p.Partition, p.Error)
		}
		sum += p.LastOffset
	}
	return sum, nil
}

// DLQEnv is the environment of `cm-api dlq list|replay`: the Kafka part of
// cm-api's, logged in as the dead-letter user (kafka/local grants it Read on the
// DLQ and Write on the topic, nothing else).
func (k *Kafka) DLQEnv() map[string]string {
	user, pass := k.DLQUser, k.DLQPassword
	if user == "" { // the embedded broker without SASL
		user, pass = k.Settings.Username, k.Settings.Password
	}
	return k.env("CM_API", user, pass, map[string]string{"CM_API_KAFKA_TOPIC": k.Topic, "CM_API_KAFKA_DLQ_TOPIC": k.DLQTopic})
}

// OperatorAPIEnv is APIEnv with the admin's credentials: what an operator runs
// `cm-api users rebuild` with when cm-api's own user may not write the topic.
func (k *Kafka) OperatorAPIEnv() map[string]string {
	return k.env("CM_API", k.Settings.Username, k.Settings.Password, map[string]string{
		"CM_API_KAFKA_TOPIC": k.Topic, "CM_API_KAFKA_DLQ_TOPIC": k.DLQTopic, "CM_API_KAFKA_GROUP": k.Group,
	})
}

// Produce writes raw records to a topic, as a misbehaving producer would.
func (k *Kafka) Produce(tb testing.TB, topic string, msgs ...kafka.Message) {
	tb.Helper()
	w := k.Conn(tb).NewWriter(topic, kafkaconn.WriterOptions{BatchTimeout: time.Millisecond})
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		tb.Fatalf("produce to %s: %v", topic, err)
	}
}

// ReadAll reads every record of a topic from the start, waiting until at least
// want have arrived.
func (k *Kafka) ReadAll(tb testing.TB, topic string, want int, timeout time.Duration) []kafka.Message {
	tb.Helper()
	conn := k.Conn(tb)
	client := &kafka.Client{Addr: kafka.TCP(k.Settings.Brokers...), Transport: conn.Transport, Timeout: 10 * time.Second}
	deadline := time.Now().Add(timeout)
	for {
		var out []kafka.Message
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
		if err == nil && len(md.Topics) == 1 {
			for _, p := range md.Topics[0].Partitions {
				res, err := client.Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: p.ID, Offset: 0, MaxBytes: 50 << 20, MaxWait: 100 * time.Millisecond})
				if err != nil || res.Error != nil {
					continue
				}
				for {
					r, err := res.Records.ReadRecord()
					if err != nil {
						break
					}
					m := kafka.Message{Topic: topic, Partition: p.ID, Offset: r.Offset}
					if r.Key != nil {
						m.Key, _ = io.ReadAll(r.Key)
					}
					if r.Value != nil {
						m.Value, _ = io.ReadAll(r.Value)
					}
					for _, h := range r.Headers {
						m.Headers = append(m.Headers, kafka.Header(h))
					}
					out = append(out, m)
				}
			}
		}
		cancel()
		if len(out) >= want || time.Now().After(deadline) {
			return out
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Mongo is a MongoDB-wire server for one test.
type Mongo struct {
	URI      string
	Database string
	embedded *localstack.Mongo
	addr     string
	dataDir  string
	tls      *mongoTLS // TLS listener of the embedded server (tls.go)
}

// StartMongo starts FerretDB on a temporary folder (MONGO_URI names an external
// server instead), with a database of the test's own.
func StartMongo(tb testing.TB) *Mongo {
	tb.Helper()
	SkipShort(tb)
	m := &Mongo{Database: "shop_" + randomID()}
	if uri := os.Getenv("MONGO_URI"); uri != "" {
		m.URI = uri
		return m
	}
	m.dataDir, m.addr = filepath.Join(tb.TempDir(), "mongo"), "127.0.0.1:0"
	m.start(tb)
	tb.Cleanup(func() {
		if m.embedded != nil {
			m.embedded.Close()
		}
	})
	return m
}

func (m *Mongo) start(tb testing.TB) {
	tb.Helper()
	var err error
	opts := localstack.MongoOptions{Addr: m.addr, DataDir: m.dataDir}
	m.tls.options(&opts)
	m.embedded, err = localstack.StartMongo(opts)
	if err != nil {
		tb.Fatal(err)
	}
	m.URI = m.embedded.URI()
	u, err := url.Parse(m.URI)
	if err != nil {
		tb.Fatal(err)
	}
	m.addr = u.Host
}

// Stop stops the embedded server, keeping its data.
func (m *Mongo) Stop(tb testing.TB) {
	tb.Helper()
	m.embedded.Close()
	m.embedded = nil
}

// Start restarts a stopped embedded server on the same address and data.
func (m *Mongo) Start(tb testing.TB) {
	tb.Helper()
	m.start(tb)
}

// APIEnv is the MongoDB part of cm-api's environment.
func (m *Mongo) APIEnv() map[string]string {
	env := map[string]string{"CM_API_MONGO_URI": m.URI, "CM_API_MONGO_DATABASE": m.Database}
	m.tls.env(env)
	return env
}
