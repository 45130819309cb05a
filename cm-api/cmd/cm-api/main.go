// Command cm-api consumes purchase events into MongoDB and serves the internal
// look-up API that cm-server calls. All of it lives in package app.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/scalable-shop/shop/cm-api/app"
	"github.com/scalable-shop/shop/platform/config"
)

func main() {
	err := app.Run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	switch {
	case err == nil, errors.Is(err, config.ErrHelp):
	default:
		fmt.Fprintln(os.Stderr, "cm-api:", err)
		os.Exit(1)
	}
}
