// Command localstack is `make run`: the whole shop on one machine with nothing
// installed but Go. Ctrl-C stops it cleanly; data stays under -data.
//
// With -infra it starts only the embedded Kafka and MongoDB, prints their
// addresses as "kafka ADDR" and "mongo URI" lines on stdout and runs until
// SIGTERM or until stdin closes: the services' own tests start it as a process
// (platform/testinfra), so their modules need not require FerretDB.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/scalable-shop/shop/localstack"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "localstack:", err)
		os.Exit(1)
	}
}

func run() error {
	var o localstack.Options
	flag.StringVar(&o.DataDir, "data", ".data", "folder for Kafka and MongoDB data (git-ignored)")
	flag.StringVar(&o.ServerAddr, "server-addr", "127.0.0.1:8080", "cm-server listen address")
	flag.StringVar(&o.APIAddr, "api-addr", "127.0.0.1:8081", "cm-api listen address")
	flag.StringVar(&o.KafkaAddr, "kafka-addr", "127.0.0.1:9092", "embedded Kafka listen address")
	flag.StringVar(&o.MongoAddr, "mongo-addr", "127.0.0.1:27017", "embedded MongoDB listen address")
	flag.StringVar(&o.LogLevel, "log-level", "info", "log level of both services")
	infraOnly := flag.Bool("infra", false, "start only Kafka and MongoDB, print their addresses, stop on SIGTERM or when stdin closes")
	flag.Parse()
	o.Stdout, o.Stderr = os.Stdout, os.Stderr

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *infraOnly {
		return runInfra(ctx, o)
	}
	shop, err := localstack.Start(ctx, o)
	if err != nil {
		stop()
		if shop != nil {
			_ = shop.Wait()
		}
		return err
	}
	fmt.Fprintf(os.Stderr, `
  Scalable Shop is running.
    customer page  %[1]s/
    cm-server API  %[1]s  (readyz %[1]s/readyz, metrics %[1]s/metrics)
    cm-api         %[2]s  (token: local-dev-token)
    Kafka          %[3]s    MongoDB  %[4]s
    data           %[5]s

  Try:
    curl -i -X POST %[1]s/buy -H 'Content-Type: application/json' \
         -d '{"username":"Ada Lovelace","userid":"ada","price":"12.50"}'
    curl -s %[1]s/getAllUserBuys/ada

  Ctrl-C stops everything.

`, shop.ServerURL, shop.APIURL, shop.Kafka.Addr(), shop.Mongo.URI(), o.DataDir)
	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "stopping…")
	return shop.Wait()
}

// runInfra is -infra: the embedded infrastructure alone, for a parent process
// (a test) that stops it by closing our stdin, also when it dies.
func runInfra(ctx context.Context, o localstack.Options) error {
	k, err := localstack.StartKafka(localstack.KafkaOptions{Addr: o.KafkaAddr, DataDir: filepath.Join(o.DataDir, "kafka")})
	if err != nil {
		return err
	}
	defer k.Close()
	m, err := localstack.StartMongo(localstack.MongoOptions{Addr: o.MongoAddr, DataDir: filepath.Join(o.DataDir, "mongo")})
	if err != nil {
		return err
	}
	defer m.Close()
	fmt.Printf("kafka %s\nmongo %s\n", k.Addr(), m.URI())
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	<-ctx.Done()
	return nil
}
