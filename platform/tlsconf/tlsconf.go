// Package tlsconf builds the TLS configurations of both services from PEM files
// (a CA bundle, a certificate and its key, as cert-manager or a Kubernetes Secret
// mounts them) and puts TLS failures into words an operator can act on.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"

	"github.com/scalable-shop/shop/platform/secretfile"
)

// Client returns the configuration of a TLS client: the server is verified
// against the CA bundle in caFile (the system roots when empty), and certFile /
// keyFile, when set, are the client certificate presented for mutual TLS. what
// names the connection in errors, e.g. "mongo".
func Client(what, caFile, certFile, keyFile string) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pool, err := Pool(caFile)
		if err != nil {
			return nil, fmt.Errorf("%s TLS CA file: %w", what, err)
		}
		c.RootCAs = pool
	}
	if certFile != "" || keyFile != "" {
		if certFile == "" || keyFile == "" {
			return nil, fmt.Errorf("%s TLS client certificate needs both a certificate and a key file", what)
		}
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("%s TLS client certificate: %v", what, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// Pool reads a PEM CA bundle.
func Pool(caFile string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	return pool, nil
}

// Server returns the configuration of a TLS server presenting the certificate in
// certFile with the key in keyFile. Both files are watched (see secretfile): a
// renewed certificate is served from the next handshake on, without a restart.
// A renewed pair that does not load (the certificate already new, the key not
// yet) keeps the previous one until both match. onError may be nil.
func Server(certFile, keyFile string, onError func(error)) (*tls.Config, error) {
	cf, err := secretfile.Open(certFile)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate: %w", err)
	}
	kf, err := secretfile.Open(keyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS key: %w", err)
	}
	cf.OnError, kf.OnError = onError, onError
	r := &reloader{cert: cf, key: kf, onError: onError}
	if _, err := r.get(); err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return r.get()
		},
	}, nil
}

type reloader struct {
	cert, key *secretfile.File
	onError   func(error)

	mu          sync.Mutex
	cv, kv      uint64
	pair        *tls.Certificate
	lastFailure string
}

func (r *reloader) get() (*tls.Certificate, error) {
	c, k := r.cert.Get(), r.key.Get()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pair != nil && c.Version == r.cv && k.Version == r.kv {
		return r.pair, nil
	}
	pair, err := tls.X509KeyPair(c.Data, k.Data)
	if err != nil {
		err = fmt.Errorf("TLS certificate %s and key %s: %v", r.cert.Path(), r.key.Path(), err)
		if r.pair == nil {
			return nil, err
		}
		if r.onError != nil && err.Error() != r.lastFailure {
			r.onError(fmt.Errorf("%w; serving the previous certificate", err))
		}
		r.lastFailure = err.Error()
		return r.pair, nil
	}
	r.pair, r.cv, r.kv, r.lastFailure = &pair, c.Version, k.Version, ""
	return r.pair, nil
}

// Explain returns err with a hint when it is a TLS failure: which side is wrong
// and which setting fixes it. caSetting names the CA setting of the client, e.g.
// "CM_SERVER_CMAPI_CA_FILE". Other errors come back unchanged. Drivers that
// flatten their errors into text (the MongoDB driver's server selection error)
// are recognised by the standard library's messages.
func Explain(err error, caSetting string) error {
	if err == nil {
		return nil
	}
	if h := Hint(err, caSetting); h != "" {
		return fmt.Errorf("%w: %s", err, h)
	}
	return err
}

// Hint is the advice Explain adds to err, or "" for an error that is not about TLS.
func Hint(err error, caSetting string) string {
	var (
		unknown  x509.UnknownAuthorityError
		invalid  x509.CertificateInvalidError
		hostname x509.HostnameError
		record   tls.RecordHeaderError
		op       *net.OpError
	)
	msg := err.Error()
	switch {
	case errors.As(err, &unknown) || strings.Contains(msg, "x509: certificate signed by unknown authority"):
		return "the server's certificate is not signed by a trusted CA; set " + caSetting + " to the CA bundle that signed it"
	case errors.As(err, &hostname) || strings.Contains(msg, "x509: certificate is valid for"):
		return "the server's certificate does not name the host dialled; connect by a name the certificate lists"
	case errors.As(err, &invalid) || strings.Contains(msg, "x509: certificate has expired"):
		return "the server's certificate is not valid (expired, or not for serving); renew it"
	case errors.As(err, &record) || strings.Contains(msg, "first record does not look like a TLS handshake") ||
		strings.Contains(msg, "server gave HTTP response to HTTPS client"):
		return "the server does not speak TLS on this port; turn TLS off for it or use its TLS port"
	case errors.As(err, &op) && op.Op == "remote error" || strings.Contains(msg, "remote error: tls:"):
		return "the server refused the TLS handshake (it may require a client certificate)"
	}
	return ""
}
