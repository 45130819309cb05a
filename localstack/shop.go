package localstack

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"time"

	cmapi "github.com/scalable-shop/shop/cm-api/app"
	cmserver "github.com/scalable-shop/shop/cm-server/app"
)

// Options configure Start. Zero values pick the defaults of `make run`.
type Options struct {
	DataDir    string // default ".data"
	ServerAddr string // cm-server, default 127.0.0.1:8080
	APIAddr    string // cm-api, default 127.0.0.1:8081
	KafkaAddr  string // default 127.0.0.1:9092
	MongoAddr  string // default 127.0.0.1:27017
	Token      string // service token between the two, default "local-dev-token"
	CursorKey  string // key cm-api signs page cursors with, default a random one per start
	LogLevel   string // default "info"
	Stdout     io.Writer
	Stderr     io.Writer
}

// Shop is the whole shop running in this process.
type Shop struct {
	Kafka     *Kafka
	Mongo     *Mongo
	ServerURL string
	APIURL    string
	errc      chan error
}

// Start runs Kafka, MongoDB, cm-api and cm-server, each service through the same
// Run its production main calls, and waits until cm-server is ready. The shop
// stops when ctx is cancelled; Wait returns once everything has shut down.
func Start(ctx context.Context, o Options) (*Shop, error) {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.DataDir, ".data")
	def(&o.ServerAddr, "127.0.0.1:8080")
	def(&o.APIAddr, "127.0.0.1:8081")
	def(&o.KafkaAddr, "127.0.0.1:9092")
	def(&o.MongoAddr, "127.0.0.1:27017")
	def(&o.Token, "local-dev-token")
	def(&o.LogLevel, "info")
	// Cursors of an earlier run then no longer page, which is all a dev stack
	// loses; make run needs no secret set up.
	def(&o.CursorKey, rand.Text())

	k, err := StartKafka(KafkaOptions{Addr: o.KafkaAddr, DataDir: filepath.Join(o.DataDir, "kafka")})
	if err != nil {
		return nil, fmt.Errorf("%w (is another `make run` running? stop it or set other addresses)", err)
	}
	m, err := StartMongo(MongoOptions{Addr: o.MongoAddr, DataDir: filepath.Join(o.DataDir, "mongo")})
	if err != nil {
		k.Close()
		return nil, err
	}
	s := &Shop{Kafka: k, Mongo: m, ServerURL: "http://" + o.ServerAddr, APIURL: "http://" + o.APIAddr, errc: make(chan error, 2)}

	apiEnv := map[string]string{
		"CM_API_HTTP_ADDR":     o.APIAddr,
		"CM_API_AUTH_TOKEN":    o.Token,
		"CM_API_CURSOR_KEY":    o.CursorKey,
		"CM_API_KAFKA_BROKERS": k.Addr(),
		"CM_API_MONGO_URI":     m.URI(),
		// FerretDB on SQLite reads a whole collection per conditional summary
		// write: spread the summaries (cm-api/internal/mongo/users.go).
		"CM_API_MONGO_SUMMARY_COLLECTIONS": "64",
		// Neither lists a user's purchases from an index: list them from pages
		// read by _id (cm-api/internal/mongo/pages.go).
		"CM_API_MONGO_LISTING_PAGES": "true",
		"CM_API_LOG_LEVEL":           o.LogLevel,
	}
	serverEnv := map[string]string{
		"CM_SERVER_HTTP_ADDR":     o.ServerAddr,
		"CM_SERVER_CMAPI_URL":     s.APIURL,
		"CM_SERVER_CMAPI_TOKEN":   o.Token,
		"CM_SERVER_KAFKA_BROKERS": k.Addr(),
		"CM_SERVER_LOG_LEVEL":     o.LogLevel,
	}
	apiDone, serverDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(apiDone)
		s.errc <- prefix("cm-api", cmapi.Run(ctx, nil, lookup(apiEnv), o.Stdout, o.Stderr))
	}()
	go func() {
		defer close(serverDone)
		s.errc <- prefix("cm-server", cmserver.Run(ctx, nil, lookup(serverEnv), o.Stdout, o.Stderr))
	}()
	// Infrastructure goes last, after both services have flushed and committed.
	go func() {
		<-apiDone
		<-serverDone
		m.Close()
		k.Close()
		close(s.errc)
	}()

	if err := waitReady(ctx, s.ServerURL+"/readyz", 30*time.Second); err != nil {
		return s, err
	}
	return s, nil
}

// Wait blocks until the shop has stopped and returns the services' errors.
func (s *Shop) Wait() error {
	var errs []error
	for err := range s.errc {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func prefix(name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", name, err)
}

func lookup(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

func waitReady(ctx context.Context, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		res, err := http.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the shop was not ready at %s within %s", url, timeout)
}
