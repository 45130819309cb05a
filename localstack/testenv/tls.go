package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	cmapi "github.com/scalable-shop/shop/cm-api/app"
	cmserver "github.com/scalable-shop/shop/cm-server/app"
	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/localstack"
	"github.com/scalable-shop/shop/platform/kafkaconn"
)

// CA is a certificate authority made for one test: an ECDSA P-256 key and a
// self-signed certificate, written as PEM to CertFile.
type CA struct {
	CertFile string
	Pool     *x509.CertPool
	cert     *x509.Certificate
	key      *ecdsa.PrivateKey
	dir      string
}

// KeyPair is a certificate the CA issued, with its key, as files and loaded.
type KeyPair struct {
	CertFile, KeyFile string
	Cert              tls.Certificate
}

// NewCA makes a CA in a temporary folder.
func NewCA(tb testing.TB, name string) *CA {
	tb.Helper()
	SkipShort(tb)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(tb),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	ca := &CA{cert: cert, key: key, dir: tb.TempDir(), Pool: x509.NewCertPool()}
	ca.Pool.AddCert(cert)
	ca.CertFile = filepath.Join(ca.dir, name+"-ca.crt")
	writePEM(tb, ca.CertFile, "CERTIFICATE", der)
	return ca
}

func serial(tb testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

func writePEM(tb testing.TB, path, kind string, der []byte) {
	tb.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// Server issues a server certificate for 127.0.0.1, ::1 and localhost.
func (ca *CA) Server(tb testing.TB, name string) KeyPair {
	tb.Helper()
	return ca.issue(tb, name, x509.ExtKeyUsageServerAuth, 24*time.Hour)
}

// Client issues a client certificate with common name name.
func (ca *CA) Client(tb testing.TB, name string) KeyPair {
	tb.Helper()
	return ca.issue(tb, name, x509.ExtKeyUsageClientAuth, 24*time.Hour)
}

// Expired issues a server certificate that expired an hour ago.
func (ca *CA) Expired(tb testing.TB, name string) KeyPair {
	tb.Helper()
	return ca.issue(tb, name, x509.ExtKeyUsageServerAuth, -time.Hour)
}

func (ca *CA) issue(tb testing.TB, name string, usage x509.ExtKeyUsage, validFor time.Duration) KeyPair {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	notAfter := time.Now().Add(validFor)
	notBefore := time.Now().Add(-time.Hour)
	if validFor < 0 {
		notBefore = notAfter.Add(-time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(tb),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		tb.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	kp := KeyPair{CertFile: filepath.Join(ca.dir, name+".crt"), KeyFile: filepath.Join(ca.dir, name+".key")}
	writePEM(tb, kp.CertFile, "CERTIFICATE", der)
	writePEM(tb, kp.KeyFile, "PRIVATE KEY", keyDER)
	if kp.Cert, err = tls.LoadX509KeyPair(kp.CertFile, kp.KeyFile); err != nil {
		tb.Fatal(err)
	}
	return kp
}

// HTTPClient trusts the CA (and presents client, if given).
func (ca *CA) HTTPClient(client *KeyPair) *http.Client {
	cfg := &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS12}
	if client != nil {
		cfg.Certificates = []tls.Certificate{client.Cert}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 30 * time.Second}
}

// kafkaTLS is the TLS of an embedded broker: its certificate, and the client
// certificate the services present when it requires one.
type kafkaTLS struct {
	ca     *CA
	cert   KeyPair  // the broker's
	client *KeyPair // mutual TLS when set
}

func (t *kafkaTLS) server() *tls.Config {
	if t == nil {
		return nil
	}
	c := &tls.Config{Certificates: []tls.Certificate{t.cert.Cert}, MinVersion: tls.VersionTLS12}
	if t.client != nil {
		c.ClientAuth, c.ClientCAs = tls.RequireAndVerifyClientCert, t.ca.Pool
	}
	return c
}

func (t *kafkaTLS) settings(s *kafkaconn.Settings) {
	if t == nil {
		return
	}
	s.TLS, s.CAFile = true, t.ca.CertFile
	if t.client != nil {
		s.CertFile, s.KeyFile = t.client.CertFile, t.client.KeyFile
	}
}

func (t *kafkaTLS) env(prefix string, env map[string]string) {
	if t == nil {
		return
	}
	env[prefix+"_KAFKA_TLS_ENABLED"] = "true"
	env[prefix+"_KAFKA_TLS_CA_FILE"] = t.ca.CertFile
	if t.client != nil {
		env[prefix+"_KAFKA_TLS_CERT_FILE"] = t.client.CertFile
		env[prefix+"_KAFKA_TLS_KEY_FILE"] = t.client.KeyFile
	}
}

// StartKafkaTLS starts the embedded broker with a TLS-only listener whose
// certificate ca signed; with mutual set it also requires a client certificate
// of ca, which the admin connection and ServerEnv/APIEnv present. The
// environment's external broker is not used: its TLS is not the test's.
func StartKafkaTLS(tb testing.TB, ca *CA, mutual bool) *Kafka {
	tb.Helper()
	SkipShort(tb)
	k := &Kafka{Topic: contract.TopicPurchases, DLQTopic: contract.TopicDLQ, Group: "cm-api",
		Partitions: contract.DefaultPartitions, dataDir: filepath.Join(tb.TempDir(), "kafka"), addr: "127.0.0.1:0",
		tls: &kafkaTLS{ca: ca, cert: ca.Server(tb, "kafka")}}
	if mutual {
		c := ca.Client(tb, "kafka-client")
		k.tls.client = &c
	}
	k.start(tb)
	tb.Cleanup(func() {
		if k.embedded != nil {
			k.embedded.Close()
		}
	})
	return k
}

// mongoTLS is the TLS of the embedded FerretDB.
type mongoTLS struct {
	ca     *CA
	server KeyPair
	client *KeyPair // mutual TLS when set
}

func (t *mongoTLS) options(o *localstack.MongoOptions) {
	if t == nil {
		return
	}
	o.TLSCertFile, o.TLSKeyFile = t.server.CertFile, t.server.KeyFile
	if t.client != nil {
		o.TLSCAFile = t.ca.CertFile // FerretDB then requires client certificates
	}
}

func (t *mongoTLS) env(env map[string]string) {
	if t == nil {
		return
	}
	env["CM_API_MONGO_TLS_ENABLED"] = "true"
	env["CM_API_MONGO_TLS_CA_FILE"] = t.ca.CertFile
	if t.client != nil {
		env["CM_API_MONGO_TLS_CERT_FILE"] = t.client.CertFile
		env["CM_API_MONGO_TLS_KEY_FILE"] = t.client.KeyFile
	}
}

// StartMongoTLS starts FerretDB with a TLS-only listener whose certificate ca
// signed (its URI carries tls=true); with mutual set it requires a client
// certificate of ca, which APIEnv configures.
func StartMongoTLS(tb testing.TB, ca *CA, mutual bool) *Mongo {
	tb.Helper()
	SkipShort(tb)
	m := &Mongo{Database: "shop_" + randomID(), dataDir: filepath.Join(tb.TempDir(), "mongo"), addr: "127.0.0.1:0",
		tls: &mongoTLS{ca: ca, server: ca.Server(tb, "mongo")}}
	if mutual {
		c := ca.Client(tb, "mongo-client")
		m.tls.client = &c
	}
	m.start(tb)
	tb.Cleanup(func() {
		if m.embedded != nil {
			m.embedded.Close()
		}
	})
	return m
}

// RunAPITLS is RunAPI with cm-api serving HTTPS with a certificate of ca.
func RunAPITLS(tb testing.TB, ca *CA, env map[string]string) *Service {
	tb.Helper()
	kp := ca.Server(tb, "cm-api")
	return runWith(tb, cmapi.Run, "CM_API", merge(map[string]string{"CM_API_AUTH_TOKEN": Token, "CM_API_CURSOR_KEY": CursorKey,
		"CM_API_HTTP_TLS_CERT_FILE": kp.CertFile, "CM_API_HTTP_TLS_KEY_FILE": kp.KeyFile}, env), ca.HTTPClient(nil))
}

// RunServerTLS is RunServer with cm-server serving HTTPS with a certificate of ca.
func RunServerTLS(tb testing.TB, ca *CA, env map[string]string) *Service {
	tb.Helper()
	kp := ca.Server(tb, "cm-server")
	return runWith(tb, cmserver.Run, "CM_SERVER", merge(map[string]string{"CM_SERVER_CMAPI_TOKEN": Token, "CM_SERVER_KAFKA_WRITE_TIMEOUT": "2s",
		"CM_SERVER_HTTP_TLS_CERT_FILE": kp.CertFile, "CM_SERVER_HTTP_TLS_KEY_FILE": kp.KeyFile}, env), ca.HTTPClient(nil))
}
