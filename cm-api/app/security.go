package app

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"time"

	"github.com/scalable-shop/shop/platform/config"
	"github.com/scalable-shop/shop/platform/tlsconf"
)

// SecurityConfig is the part of the configuration about the service token and
// TLS: to MongoDB, and of cm-api's own HTTP listener.
type SecurityConfig struct {
	TokenFile  string        // auth.token_file: watched, re-read on change
	TokenGrace time.Duration // auth.token_grace
	HTTPCert   string        // http.tls.cert_file
	HTTPKey    string        // http.tls.key_file
	MongoTLS   bool          // mongo.tls.enabled
	MongoCA    string        // mongo.tls.ca_file
	MongoCert  string        // mongo.tls.cert_file
	MongoKey   string        // mongo.tls.key_file
}

func loadSecurity(v *config.Values) SecurityConfig {
	c := SecurityConfig{
		TokenFile:  v.String("auth.token_file"),
		TokenGrace: v.Duration("auth.token_grace", true),
		HTTPCert:   v.File("http.tls.cert_file"),
		HTTPKey:    v.File("http.tls.key_file"),
		MongoTLS:   v.Bool("mongo.tls.enabled"),
		MongoCA:    v.File("mongo.tls.ca_file"),
		MongoCert:  v.File("mongo.tls.cert_file"),
		MongoKey:   v.File("mongo.tls.key_file"),
	}
	if (c.HTTPCert == "") != (c.HTTPKey == "") {
		v.Invalid("http.tls.cert_file", "and http.tls.key_file must be set together to serve HTTPS")
	}
	if (c.MongoCert == "") != (c.MongoKey == "") {
		v.Invalid("mongo.tls.cert_file", "and mongo.tls.key_file must be set together (the client certificate and its key)")
	}
	if !c.MongoTLS && (c.MongoCA != "" || c.MongoCert != "") {
		v.Invalid("mongo.tls.enabled", "must be true when mongo.tls.ca_file or mongo.tls.cert_file is set")
	}
	return c
}

// mongoTLS returns the TLS configuration for MongoDB, nil when TLS is off.
func (c SecurityConfig) mongoTLS() (*tls.Config, error) {
	if !c.MongoTLS {
		return nil, nil
	}
	return tlsconf.Client("mongo", c.MongoCA, c.MongoCert, c.MongoKey)
}

// tlsExplained makes the store's ping (readiness) say what a TLS failure means
// and which setting fixes it.
type tlsExplained struct{ PurchaseStore }

func (s tlsExplained) Ping(ctx context.Context) error {
	return tlsconf.Explain(s.PurchaseStore.Ping(ctx), EnvPrefix+"_MONGO_TLS_CA_FILE")
}

// listen wraps ln in TLS when a certificate is configured; the certificate is
// re-read when its files change.
func (c SecurityConfig) listen(ln net.Listener, log *slog.Logger) (net.Listener, error) {
	if c.HTTPCert == "" {
		return ln, nil
	}
	cfg, err := tlsconf.Server(c.HTTPCert, c.HTTPKey, func(err error) { log.Warn("HTTPS certificate", "err", err.Error()) })
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	return tls.NewListener(ln, cfg), nil
}
