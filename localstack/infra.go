// Package localstack is the shop's infrastructure in one process: an in-process
// Kafka-protocol broker (kfake) and an embedded MongoDB-wire server (FerretDB on
// SQLite). `make run` starts both with the two services on top; the tests start
// them to talk real wire protocols over loopback sockets without installing
// anything.
package localstack

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/scalable-shop/shop/contract"
)

// Kafka is a running in-process broker.
type Kafka struct {
	cluster *kfake.Cluster
	addr    string
}

// KafkaOptions configure StartKafka.
type KafkaOptions struct {
	// Addr to listen on; "127.0.0.1:0" picks a free port. Reusing the address of
	// a stopped broker lets clients reconnect to its successor.
	Addr string
	// DataDir keeps topics and committed offsets across restarts; empty keeps them
	// in memory only.
	DataDir string
	// Users enables SASL (SCRAM-SHA-512) with these user/password pairs.
	Users map[string]string
	// Partitions of the purchases topic; contract.DefaultPartitions when zero.
	Partitions int
	// TLS, when set, makes the listener speak TLS only (with ClientAuth and
	// ClientCAs set, it requires client certificates).
	TLS *tls.Config
	// Listen opens the listener in place of net.Listen (same arguments): tests
	// wrap it to fault the network between the broker and its clients.
	Listen func(network, address string) (net.Listener, error)
}

// StartKafka starts a one-broker cluster with the shop's topics created.
func StartKafka(o KafkaOptions) (*Kafka, error) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Partitions == 0 {
		o.Partitions = contract.DefaultPartitions
	}
	_, portText, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return nil, fmt.Errorf("kafka address %q: %w", o.Addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("kafka address %q: the port is not a number", o.Addr)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.SeedTopics(int32(o.Partitions), contract.TopicPurchases),
		kfake.SeedTopics(1, contract.TopicDLQ),
		// Fast rebalances after a SIGKILL, as in the chart's broker settings.
		kfake.GroupMinSessionTimeout(time.Second),
	}
	if o.DataDir != "" {
		opts = append(opts, kfake.DataDir(o.DataDir))
	}
	if o.TLS != nil {
		opts = append(opts, kfake.TLS(o.TLS))
	}
	if o.Listen != nil {
		opts = append(opts, kfake.ListenFn(o.Listen))
	}
	if len(o.Users) > 0 {
		opts = append(opts, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "admin", "admin"))
		for u, p := range o.Users {
			opts = append(opts, kfake.User("SCRAM-SHA-512", u, p))
		}
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start embedded kafka on %s: %w", o.Addr, err)
	}
	return &Kafka{cluster: c, addr: c.ListenAddrs()[0]}, nil
}

// Addr is the bootstrap address.
func (k *Kafka) Addr() string { return k.addr }

// Close stops the broker; with a DataDir its data stays for the next start.
func (k *Kafka) Close() { k.cluster.Close() }

// Mongo is a running embedded FerretDB.
type Mongo struct {
	uri     string
	cancel  context.CancelFunc
	done    chan struct{}
	indexes *idIndexes
}

// MongoOptions configure StartMongo.
type MongoOptions struct {
	Addr    string // "127.0.0.1:0" picks a free port
	DataDir string // SQLite files; required
	// TLSCertFile and TLSKeyFile, when set, make Addr a TLS-only listener (the URI
	// then carries tls=true); with TLSCAFile it requires client certificates
	// signed by that CA.
	TLSCertFile, TLSKeyFile, TLSCAFile string
}

// StartMongo starts FerretDB with the SQLite backend on DataDir.
func StartMongo(o MongoOptions) (*Mongo, error) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if err := os.MkdirAll(o.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("mongo data dir: %w", err)
	}
	dir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return nil, err
	}
	listener := ferretdb.ListenerConfig{TCP: o.Addr}
	if o.TLSCertFile != "" {
		listener = ferretdb.ListenerConfig{TLS: o.Addr, TLSCertFile: o.TLSCertFile, TLSKeyFile: o.TLSKeyFile, TLSCAFile: o.TLSCAFile}
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener: listener,
		Handler:  "sqlite",
		// In WAL mode, synchronous(normal) syncs at checkpoints instead of at
		// every commit: a killed process still loses nothing committed, an
		// OS crash may lose the last commits, as it loses the embedded
		// broker's whole log anyway. Every summary write is a commit of its
		// own here, and the sync per commit is a fifth of the projection's
		// cost (BENCHMARKS.md).
		SQLiteURL: "file:" + dir + "/?_pragma=synchronous(normal)",
		// FerretDB is chatty at info; its errors are all we want beside ours.
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err != nil {
		return nil, fmt.Errorf("start embedded mongodb: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Mongo{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		_ = f.Run(ctx)
	}()
	m.uri = f.MongoDBURI() // blocks until the listener is up
	m.indexes = indexIDs(dir, 200*time.Millisecond)
	return m, nil
}

// URI is the connection string.
func (m *Mongo) URI() string { return m.uri }

// Close stops FerretDB and waits for it to release its files.
func (m *Mongo) Close() {
	m.indexes.stop()
	m.cancel()
	<-m.done
}
