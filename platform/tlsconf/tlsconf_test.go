package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scalable-shop/shop/platform/secretfile"
)

type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string
}

func newCA(t *testing.T, dir, name string) *ca {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	c := &ca{cert: cert, key: key, file: filepath.Join(dir, name+".crt")}
	write(t, c.file, "CERTIFICATE", der)
	return c
}

func write(t *testing.T, path, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path+".tmp", pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

// issue writes a server certificate for 127.0.0.1 named cn to certFile/keyFile.
func (c *ca) issue(t *testing.T, cn, certFile, keyFile string, usage x509.ExtKeyUsage) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	write(t, keyFile, "PRIVATE KEY", kder)
	write(t, certFile, "CERTIFICATE", der)
}

func TestServerReloadsARenewedCertificate(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the certificate watcher's poll; not under -short")
	}
	dir := t.TempDir()
	root := newCA(t, dir, "root")
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	root.issue(t, "first", certFile, keyFile, x509.ExtKeyUsageServerAuth)
	cfg, err := Server(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := serveTLS(cfg)
	defer srv.Close()

	client, err := Client("test", root.file, "", "")
	if err != nil {
		t.Fatal(err)
	}
	served := func() string {
		t.Helper()
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: client, DisableKeepAlives: true}}
		res, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		return res.TLS.PeerCertificates[0].Subject.CommonName
	}
	if got := served(); got != "first" {
		t.Fatalf("served %q", got)
	}
	root.issue(t, "second", certFile, keyFile, x509.ExtKeyUsageServerAuth)
	deadline := time.Now().Add(3 * secretfile.CheckInterval)
	for served() != "second" {
		if time.Now().After(deadline) {
			t.Fatal("the renewed certificate was not served")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestClientErrors(t *testing.T) {
	dir := t.TempDir()
	bogus := filepath.Join(dir, "bogus.pem")
	if err := os.WriteFile(bogus, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Client("mongo", bogus, "", ""); err == nil || !strings.Contains(err.Error(), "mongo TLS CA file") {
		t.Errorf("bogus CA: %v", err)
	}
	if _, err := Client("mongo", "", bogus, ""); err == nil {
		t.Error("a certificate without key was accepted")
	}
	if _, err := Server(bogus, bogus, nil); err == nil {
		t.Error("a bogus server pair was accepted")
	}
}

func TestExplain(t *testing.T) {
	dir := t.TempDir()
	root, other := newCA(t, dir, "root"), newCA(t, dir, "other")
	certFile, keyFile := filepath.Join(dir, "s.crt"), filepath.Join(dir, "s.key")
	root.issue(t, "s", certFile, keyFile, x509.ExtKeyUsageServerAuth)
	cfg, err := Server(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := serveTLS(cfg)
	defer srv.Close()
	wrong, _ := Client("test", other.file, "", "")
	_, err = (&http.Client{Transport: &http.Transport{TLSClientConfig: wrong}}).Get(srv.URL)
	if err == nil {
		t.Fatal("an untrusted certificate was accepted")
	}
	if got := Explain(err, "X_CA_FILE").Error(); !strings.Contains(got, "not signed by a trusted CA; set X_CA_FILE") {
		t.Errorf("Explain = %q", got)
	}
	plain := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer plain.Close()
	right, _ := Client("test", root.file, "", "")
	_, err = (&http.Client{Transport: &http.Transport{TLSClientConfig: right}}).Get(strings.Replace(plain.URL, "http:", "https:", 1))
	if err == nil || !strings.Contains(Explain(err, "X").Error(), "does not speak TLS") {
		t.Errorf("TLS to a plain server: %v", Explain(err, "X"))
	}
	other2 := errors.New("connection refused")
	if Explain(other2, "X") != other2 || Explain(nil, "X") != nil {
		t.Error("a non-TLS error was changed")
	}
	// Flattened into text, as the MongoDB driver does.
	if !strings.Contains(Explain(errors.New("server selection error: x509: certificate signed by unknown authority"), "M").Error(), "set M") {
		t.Error("text form not recognised")
	}
}

// serveTLS serves with cfg alone (httptest's StartTLS would add its own certificate).
func serveTLS(cfg *tls.Config) *httptest.Server {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Listener = tls.NewListener(srv.Listener, cfg)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	srv.URL = strings.Replace(srv.URL, "http://", "https://", 1)
	return srv
}
