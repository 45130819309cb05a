package app

import (
	"fmt"
	"io"
	"time"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/platform/config"
	"github.com/scalable-shop/shop/platform/kafkaconn"
	"github.com/scalable-shop/shop/platform/logging"
)

// EnvPrefix prefixes every environment variable of cm-api.
const EnvPrefix = "CM_API"

// Settings lists every setting of cm-api with its default.
var Settings = []config.Setting{
	{Key: "role", Default: RoleAll, Usage: "what this process does: all (look-ups and consumer), api (look-ups only) or consumer (consumer only; HTTP serves probes and metrics)"},
	{Key: "http.addr", Default: ":8081", Usage: "listen address"},
	{Key: "http.tls.cert_file", Default: "", Usage: "PEM certificate to serve HTTPS with (with http.tls.key_file; re-read when it changes); empty: plain HTTP"},
	{Key: "http.tls.key_file", Default: "", Usage: "PEM key of http.tls.cert_file"},
	{Key: "auth.token", Default: "", Usage: "bearer token cm-server must present", Secret: true},
	{Key: "auth.token_grace", Default: "60s", Usage: "how long a token removed from auth.token_file (re-read within a second of a change; one token per line) is still accepted"},
	{Key: "kafka.brokers", Default: "127.0.0.1:9092", Usage: "comma-separated Kafka bootstrap servers"},
	{Key: "kafka.topic", Default: contract.TopicPurchases, Usage: "topic purchases are consumed from"},
	{Key: "kafka.dlq_topic", Default: contract.TopicDLQ, Usage: "topic invalid events are copied to"},
	{Key: "kafka.group", Default: "cm-api", Usage: "consumer group id"},
	{Key: "kafka.sasl.mechanism", Default: "", Usage: "SASL mechanism: empty, scram-sha-512, scram-sha-256 or plain"},
	{Key: "kafka.sasl.username", Default: "", Usage: "SASL user"},
	{Key: "kafka.sasl.password", Default: "", Usage: "SASL password", Secret: true},
	{Key: "kafka.tls.enabled", Default: "false", Usage: "connect to Kafka over TLS"},
	{Key: "kafka.tls.ca_file", Default: "", Usage: "PEM CA bundle for Kafka TLS (system roots when empty)"},
	{Key: "kafka.tls.cert_file", Default: "", Usage: "PEM client certificate for Kafka mTLS"},
	{Key: "kafka.tls.key_file", Default: "", Usage: "PEM client key for Kafka mTLS"},
	{Key: "cursor.key", Default: "", Usage: "secret that signs page cursors, the same in every cm-api pod (required in roles all and api); cursor.key_file is re-read when it changes", Secret: true},
	{Key: "cursor.previous_key", Default: "", Usage: "the key before the last rotation: cursors it signed still page (empty: none); cursor.previous_key_file is re-read when it changes", Secret: true},
	{Key: "consumer.stall_timeout", Default: "2m", Usage: "a consumer whose partitions have lag but that fetched and stored nothing for this long fails /healthz, so that it is restarted (0s: never)"},
	{Key: "kafka.batch_size", Default: "500", Usage: "most events written to MongoDB in one batch"},
	{Key: "kafka.batch_wait", Default: "20ms", Usage: "how long to wait for a batch to fill once it has one event"},
	{Key: "summaries.group", Default: "", Usage: "consumer group of the projection that counts stored purchases into the user summaries (empty: kafka.group followed by -summaries); the Kafka user needs Read on it"},
	{Key: "summaries.batch_size", Default: "5000", Usage: "most events the projection counts in one window: each user it touches is written once per window"},
	{Key: "summaries.window", Default: "100ms", Usage: "how long the projection fills a window once it has one event: how far summaries may trail the purchases"},
	{Key: "kafka.session_timeout", Default: "10s", Usage: "consumer group session timeout: how soon a dead consumer's partitions move"},
	{Key: "mongo.uri", Default: "mongodb://127.0.0.1:27017/", Usage: "MongoDB connection string"},
	{Key: "mongo.database", Default: "shop", Usage: "database holding the purchases"},
	{Key: "mongo.username", Default: "", Usage: "SCRAM user (instead of credentials in the URI)"},
	{Key: "mongo.password", Default: "", Usage: "SCRAM password", Secret: true},
	{Key: "mongo.tls.enabled", Default: "false", Usage: "connect to MongoDB over TLS"},
	{Key: "mongo.tls.ca_file", Default: "", Usage: "PEM CA bundle for MongoDB TLS (system roots when empty)"},
	{Key: "mongo.tls.cert_file", Default: "", Usage: "PEM client certificate for MongoDB mutual TLS"},
	{Key: "mongo.tls.key_file", Default: "", Usage: "PEM client key for MongoDB mutual TLS"},
	{Key: "mongo.timeout", Default: "5s", Usage: "timeout of one MongoDB operation"},
	{Key: "mongo.summary_collections", Default: "1", Usage: "collections the user summaries are spread over by a hash of the user id (users, users_1, …): keep 1 on MongoDB; FerretDB's SQLite backend reads a whole collection per conditional summary write, so make run uses 64. Changing it moves no summary: rebuild them (cm-api users rebuild)"},
	{Key: "mongo.listing_pages", Default: "false", Usage: "serve look-ups from listing pages the projection keeps beside the summaries, read by _id alone, instead of the userid_ts_id index: for FerretDB, whose backends serve no sorted look-up from an index (make run turns it on); keep it off on MongoDB. Listings then trail the purchases as the summaries do. Turning it on lists existing users by the index until their summaries are rebuilt (cm-api users rebuild)"},
	{Key: "lookup.timeout", Default: "2s", Usage: "deadline of one look-up from its arrival, slot wait and every store call included; then it answers 503 with Retry-After. Keep it below cm-server's cmapi.timeout (3s), so that cm-api answers before cm-server gives up"},
	{Key: "lookup.max_concurrent", Default: "32", Usage: "most look-ups running MongoDB calls at once in this process; one more waits up to lookup.queue_wait for a slot, then answers 503 with Retry-After (0: no limit)"},
	{Key: "lookup.queue_wait", Default: "100ms", Usage: "how long a look-up waits for a slot when lookup.max_concurrent are busy (0s: not at all); below lookup.timeout"},
	{Key: "trace.otlp_endpoint", Default: "", Usage: "OTLP/HTTP URL to export traces to, such as http://otel-collector:4318 (empty: no export)"},
	{Key: "trace.sample_ratio", Default: "1", Usage: "share of new traces sampled, 0 to 1 (callers' sampling decisions are kept)"},
	{Key: "log.level", Default: "info", Usage: "debug, info, warn or error"},
	{Key: "log.format", Default: "auto", Usage: "json, text, or auto (text on a terminal)"},
	{Key: "shutdown.drain_delay", Default: "0s", Usage: "time to keep serving after turning not-ready (about 5s behind a load balancer)"},
	{Key: "shutdown.timeout", Default: "15s", Usage: "time allowed for in-flight requests and the current batch on shutdown"},
}

// Config is cm-api's validated configuration.
type Config struct {
	Role               string
	HTTPAddr           string
	AuthToken          string
	Security           SecurityConfig
	Kafka              kafkaconn.Settings
	Topic              string
	DLQTopic           string
	Group              string
	Summaries          SummariesConfig
	BatchSize          int
	BatchWait          time.Duration
	SessionTimeout     time.Duration
	StallTimeout       time.Duration
	Cursor             CursorConfig
	MongoURI           string
	MongoDatabase      string
	MongoUsername      string
	MongoPassword      string
	MongoTimeout       time.Duration
	SummaryCollections int
	ListingPages       bool
	Lookup             LookupLimits
	OTLPEndpoint       string
	SampleRatio        float64
	LogLevel           string
	LogFormat          string
	DrainDelay         time.Duration
	ShutdownWait       time.Duration
}

// LoadConfig reads and validates the configuration; its error is one line naming
// the setting at fault.
func LoadConfig(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	v, err := config.Load("cm-api", EnvPrefix, Settings, args, getenv, stderr)
	if err != nil {
		return Config{}, err
	}
	c := Config{
		Role:      v.OneOf("role", Roles()...),
		HTTPAddr:  v.Addr("http.addr"),
		AuthToken: v.Secret("auth.token"),
		Security:  loadSecurity(v),
		Topic:     v.Required("kafka.topic"),
		DLQTopic:  v.Required("kafka.dlq_topic"),
		Group:     v.Required("kafka.group"),
		Summaries: SummariesConfig{Group: v.String("summaries.group"),
			BatchSize: v.Int("summaries.batch_size", 1, 100000), Window: v.Duration("summaries.window", true)},
		BatchSize:      v.Int("kafka.batch_size", 1, 10000),
		BatchWait:      v.Duration("kafka.batch_wait", true),
		SessionTimeout: v.Duration("kafka.session_timeout", false),
		StallTimeout:   v.Duration("consumer.stall_timeout", true),
		Cursor: CursorConfig{Key: v.Secret("cursor.key"), KeyFile: v.String("cursor.key_file"),
			PreviousKey: v.Secret("cursor.previous_key"), PreviousKeyFile: v.String("cursor.previous_key_file")},
		MongoURI:           v.Required("mongo.uri"),
		MongoDatabase:      v.Required("mongo.database"),
		MongoUsername:      v.String("mongo.username"),
		MongoPassword:      v.Secret("mongo.password"),
		MongoTimeout:       v.Duration("mongo.timeout", false),
		SummaryCollections: v.Int("mongo.summary_collections", 1, 1024),
		ListingPages:       v.Bool("mongo.listing_pages"),
		Lookup: LookupLimits{
			Timeout:       v.Duration("lookup.timeout", false),
			MaxConcurrent: v.Int("lookup.max_concurrent", 0, 10000),
			QueueWait:     v.Duration("lookup.queue_wait", true),
		},
		OTLPEndpoint: v.String("trace.otlp_endpoint"),
		SampleRatio:  v.Float("trace.sample_ratio", 0, 1),
		LogLevel:     v.OneOf("log.level", logging.Levels()...),
		LogFormat:    v.OneOf("log.format", logging.Formats()...),
		DrainDelay:   v.Duration("shutdown.drain_delay", true),
		ShutdownWait: v.Duration("shutdown.timeout", false),
	}
	if c.Summaries.Group == "" {
		c.Summaries.Group = c.Group + "-summaries"
	}
	if c.Summaries.Group == c.Group {
		v.Invalid("summaries.group", "must differ from kafka.group: the projection follows the purchases consumer in a group of its own")
	}
	// The look-up API reads no topic, so its pods hold no Kafka credentials.
	if c.Role != RoleAPI {
		c.Kafka = kafkaSettings(v)
	}
	if c.AuthToken == "" && c.Role != RoleConsumer {
		v.Invalid("auth.token", "is required: set the token cm-server presents (CM_API_AUTH_TOKEN or CM_API_AUTH_TOKEN_FILE)")
	}
	if c.StallTimeout > 0 && c.StallTimeout < 2*c.SessionTimeout {
		v.Invalid("consumer.stall_timeout", "must be 0s or at least twice kafka.session_timeout: a rebalance must not look like a stall")
	}
	if c.Lookup.QueueWait >= c.Lookup.Timeout && c.Lookup.Timeout > 0 {
		v.Invalid("lookup.queue_wait", "must be shorter than lookup.timeout: a look-up that waited that long has no time left for the store")
	}
	if c.MongoPassword != "" && c.MongoUsername == "" {
		v.Invalid("mongo.username", "is required when mongo.password is set")
	}
	return c, v.Err()
}

// SummariesConfig are the summaries.* settings of the projection.
type SummariesConfig struct {
	Group     string
	BatchSize int
	Window    time.Duration
}

// kafkaSettings reads the kafka.* connection settings, shared by the service and
// the `cm-api dlq` commands.
func kafkaSettings(v *config.Values) kafkaconn.Settings {
	k := kafkaconn.Settings{
		Brokers:       v.AddrList("kafka.brokers"),
		SASLMechanism: v.OneOf("kafka.sasl.mechanism", kafkaconn.Mechanisms()...),
		Username:      v.String("kafka.sasl.username"),
		Password:      v.Secret("kafka.sasl.password"),
		TLS:           v.Bool("kafka.tls.enabled"),
		CAFile:        v.File("kafka.tls.ca_file"),
		CertFile:      v.File("kafka.tls.cert_file"),
		KeyFile:       v.File("kafka.tls.key_file"),
		EnvPrefix:     EnvPrefix,
	}
	if k.SASLMechanism != "" && (k.Username == "" || k.Password == "") {
		v.Invalid("kafka.sasl.mechanism", "needs kafka.sasl.username and kafka.sasl.password as well")
	}
	return k
}

// CursorConfig are the cursor.* settings: the signing key and the one accepted
// during a rotation, each as a value or a watched file.
type CursorConfig struct {
	Key, KeyFile                 string
	PreviousKey, PreviousKeyFile string
}

// requireCursorKey is checked by Run, not LoadConfig: `cm-api users rebuild`
// and role consumer sign no cursors.
func (c Config) requireCursorKey() error {
	if c.Role == RoleConsumer || c.Cursor.Key != "" {
		return nil
	}
	return fmt.Errorf("config: cursor.key is required in role %s: set %s_CURSOR_KEY or %s_CURSOR_KEY_FILE to a random secret shared by every cm-api pod (openssl rand -hex 32)", c.Role, EnvPrefix, EnvPrefix)
}
