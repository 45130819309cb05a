package app

import (
	"io"
	"net/url"
	"time"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/platform/config"
	"github.com/scalable-shop/shop/platform/kafkaconn"
	"github.com/scalable-shop/shop/platform/logging"
)

// EnvPrefix prefixes every environment variable of cm-server.
const EnvPrefix = "CM_SERVER"

// Settings lists every setting of cm-server with its default. The README's table
// and the chart's ConfigMap follow this list.
var Settings = []config.Setting{
	{Key: "http.addr", Default: ":8080", Usage: "listen address"},
	{Key: "http.max_connections", Default: "1024", Usage: "most client connections served at once; more wait in the kernel's accept queue, which bounds memory under overload (keep it above the connections the ingress holds open; 0: no limit)"},
	{Key: "http.tls.cert_file", Default: "", Usage: "PEM certificate to serve HTTPS with (with http.tls.key_file; re-read when it changes); empty: plain HTTP"},
	{Key: "http.tls.key_file", Default: "", Usage: "PEM key of http.tls.cert_file"},
	{Key: "kafka.brokers", Default: "127.0.0.1:9092", Usage: "comma-separated Kafka bootstrap servers"},
	{Key: "kafka.topic", Default: contract.TopicPurchases, Usage: "topic purchases are produced to"},
	{Key: "kafka.sasl.mechanism", Default: "", Usage: "SASL mechanism: empty, scram-sha-512, scram-sha-256 or plain"},
	{Key: "kafka.sasl.username", Default: "", Usage: "SASL user"},
	{Key: "kafka.sasl.password", Default: "", Usage: "SASL password", Secret: true},
	{Key: "kafka.tls.enabled", Default: "false", Usage: "connect to Kafka over TLS"},
	{Key: "kafka.tls.ca_file", Default: "", Usage: "PEM CA bundle for Kafka TLS (system roots when empty)"},
	{Key: "kafka.tls.cert_file", Default: "", Usage: "PEM client certificate for Kafka mTLS"},
	{Key: "kafka.tls.key_file", Default: "", Usage: "PEM client key for Kafka mTLS"},
	{Key: "kafka.batch_timeout", Default: "5ms", Usage: "how long the producer waits to fill a batch"},
	{Key: "kafka.write_timeout", Default: "5s", Usage: "how long a buy waits for the broker's acknowledgement before answering 503"},
	{Key: "kafka.max_in_flight", Default: "512", Usage: "most buys waiting for the broker's acknowledgement at once; one more is answered 503 with Retry-After at once, which bounds memory when the broker slows down (0: no limit)"},
	{Key: "cmapi.url", Default: "http://127.0.0.1:8081", Usage: "base URL of cm-api"},
	{Key: "cmapi.token", Default: "", Usage: "bearer token presented to cm-api; a cmapi.token_file is re-read within a second of a change (its first line is presented)", Secret: true},
	{Key: "cmapi.ca_file", Default: "", Usage: "PEM CA bundle that signed cm-api's certificate (with an https:// cmapi.url; system roots when empty)"},
	{Key: "auth.jwt.mode", Default: "off", Usage: "end-user authentication: off, hs256 (shared secret) or jwks (RS256/ES256 keys of auth.jwt.jwks_file)"},
	{Key: "auth.jwt.secret", Default: "", Usage: "HS256 secret, at least 32 bytes (auth.jwt.secret_file is re-read on change)", Secret: true},
	{Key: "auth.jwt.jwks_file", Default: "", Usage: "JSON Web Key Set file with the issuer's public keys (re-read on change)"},
	{Key: "auth.jwt.issuer", Default: "", Usage: "required iss of tokens (empty: not checked)"},
	{Key: "auth.jwt.audience", Default: "", Usage: "required aud of tokens (empty: not checked)"},
	{Key: "auth.jwt.leeway", Default: "30s", Usage: "clock skew allowed on exp, nbf and iat"},
	{Key: "ratelimit.enabled", Default: "false", Usage: "limit POST /buy per client (the token's subject with auth on, else the client IP)"},
	{Key: "ratelimit.rate", Default: "5", Usage: "buys per second a client may make on average: a client may make ratelimit.burst buys in any window of burst/rate seconds (at least 1 s, at most a day)"},
	{Key: "ratelimit.burst", Default: "10", Usage: "buys a client may make at once, and in one window"},
	{Key: "ratelimit.trust_forwarded", Default: "false", Usage: "take the client IP from the last X-Forwarded-For address (only behind an ingress that sets it)"},
	{Key: "cors.allowed_origins", Default: "", Usage: "comma-separated origins whose pages may call the API (empty: no CORS; * any, without credentials)"},
	{Key: "cors.allow_credentials", Default: "false", Usage: "let cross-origin pages send cookies and Authorization with credentials mode"},
	{Key: "cors.max_age", Default: "10m", Usage: "how long browsers may cache a preflight answer"},
	{Key: "headers.hsts", Default: "tls", Usage: "Strict-Transport-Security: tls (on answers over TLS), always (behind a TLS ingress) or off"},
	{Key: "cmapi.timeout", Default: "3s", Usage: "timeout of one call to cm-api"},
	{Key: "trace.otlp_endpoint", Default: "", Usage: "OTLP/HTTP URL to export traces to, such as http://otel-collector:4318 (empty: no export)"},
	{Key: "trace.sample_ratio", Default: "1", Usage: "share of new traces sampled, 0 to 1 (callers' sampling decisions are kept)"},
	{Key: "log.level", Default: "info", Usage: "debug, info, warn or error"},
	{Key: "log.format", Default: "auto", Usage: "json, text, or auto (text on a terminal)"},
	{Key: "shutdown.drain_delay", Default: "0s", Usage: "time to keep serving after turning not-ready (about 5s behind a load balancer)"},
	{Key: "shutdown.timeout", Default: "15s", Usage: "time allowed for in-flight requests to finish on shutdown"},
}

// Config is cm-server's validated configuration.
type Config struct {
	HTTPAddr     string
	MaxConns     int
	Kafka        kafkaconn.Settings
	Topic        string
	BatchTimeout time.Duration
	WriteTimeout time.Duration
	MaxInFlight  int
	CMAPIURL     string
	CMAPIToken   string
	Security     SecurityConfig
	CMAPITimeout time.Duration
	OTLPEndpoint string
	SampleRatio  float64
	LogLevel     string
	LogFormat    string
	DrainDelay   time.Duration
	ShutdownWait time.Duration
}

// LoadConfig reads and validates the configuration; its error is one line naming
// the setting at fault.
func LoadConfig(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	v, err := config.Load("cm-server", EnvPrefix, Settings, args, getenv, stderr)
	if err != nil {
		return Config{}, err
	}
	c := Config{
		HTTPAddr: v.Addr("http.addr"),
		MaxConns: v.Int("http.max_connections", 0, 1_000_000),
		Kafka: kafkaconn.Settings{
			Brokers:       v.AddrList("kafka.brokers"),
			SASLMechanism: v.OneOf("kafka.sasl.mechanism", kafkaconn.Mechanisms()...),
			Username:      v.String("kafka.sasl.username"),
			Password:      v.Secret("kafka.sasl.password"),
			TLS:           v.Bool("kafka.tls.enabled"),
			CAFile:        v.File("kafka.tls.ca_file"),
			CertFile:      v.File("kafka.tls.cert_file"),
			KeyFile:       v.File("kafka.tls.key_file"),
			EnvPrefix:     EnvPrefix,
		},
		Topic:        v.Required("kafka.topic"),
		BatchTimeout: v.Duration("kafka.batch_timeout", false),
		WriteTimeout: v.Duration("kafka.write_timeout", false),
		MaxInFlight:  v.Int("kafka.max_in_flight", 0, 1_000_000),
		CMAPIURL:     v.Required("cmapi.url"),
		CMAPIToken:   v.Secret("cmapi.token"),
		Security:     loadSecurity(v),
		CMAPITimeout: v.Duration("cmapi.timeout", false),
		OTLPEndpoint: v.String("trace.otlp_endpoint"),
		SampleRatio:  v.Float("trace.sample_ratio", 0, 1),
		LogLevel:     v.OneOf("log.level", logging.Levels()...),
		LogFormat:    v.OneOf("log.format", logging.Formats()...),
		DrainDelay:   v.Duration("shutdown.drain_delay", true),
		ShutdownWait: v.Duration("shutdown.timeout", false),
	}
	if c.Kafka.SASLMechanism != "" && (c.Kafka.Username == "" || c.Kafka.Password == "") {
		v.Invalid("kafka.sasl.mechanism", "needs kafka.sasl.username and kafka.sasl.password as well")
	}
	if u, err := url.Parse(c.CMAPIURL); err == nil && (u.Scheme != "http" && u.Scheme != "https" || u.Host == "") {
		v.Invalid("cmapi.url", "must be an http:// or https:// URL such as http://cm-api:8081")
	} else if err != nil {
		v.Invalid("cmapi.url", "is not a URL")
	}
	if c.CMAPIToken == "" {
		v.Invalid("cmapi.token", "is required: set the token cm-api expects (CM_SERVER_CMAPI_TOKEN or CM_SERVER_CMAPI_TOKEN_FILE)")
	}
	return c, v.Err()
}
