// Command localstack is `make run`: the whole shop on one machine with nothing
// installed but Go. Ctrl-C stops it cleanly; data stays under -data.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
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
	flag.Parse()
	o.Stdout, o.Stderr = os.Stdout, os.Stderr

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
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
