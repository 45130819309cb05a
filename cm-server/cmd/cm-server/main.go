// Command cm-server is the shop's public front door: it validates buy requests,
// produces them to Kafka, answers purchase look-ups through cm-api and serves the
// customer page. All of it lives in package app so tests can run the same code.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/scalable-shop/shop/cm-server/app"
	"github.com/scalable-shop/shop/platform/config"
)

func main() {
	err := app.Run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	switch {
	case err == nil, errors.Is(err, config.ErrHelp):
	default:
		fmt.Fprintln(os.Stderr, "cm-server:", err)
		os.Exit(1)
	}
}
