// Command ferretdb serves MongoDB's wire protocol (FerretDB, SQLite backend) on
// one address until SIGTERM: the MongoDB of `make test-k8s`, where it runs in a
// pod because the MongoDB operator's images cannot be had on that node. It is
// the same server `make run` embeds, so the node runs what developers run.
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
		fmt.Fprintln(os.Stderr, "ferretdb:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("listen", "0.0.0.0:27017", "address to serve the MongoDB wire protocol on")
	data := flag.String("data", "/data", "folder for the SQLite files")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m, err := localstack.StartMongo(localstack.MongoOptions{Addr: *addr, DataDir: *data})
	if err != nil {
		return err
	}
	defer m.Close()
	fmt.Fprintln(os.Stderr, "ferretdb: serving", m.URI())
	<-ctx.Done()
	return nil
}
