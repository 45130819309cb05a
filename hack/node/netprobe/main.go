// Command netprobe is the client the NetworkPolicy tests run inside pods: one
// dial, DNS look-up or HTTP GET with a timeout, one line of output, and an exit
// code that says whether the target answered. Busybox's static wget crashes in
// pods here (exit 139), and an image FROM scratch has no shell, so the tests
// start one pod with `netprobe sleep` and `kubectl exec` each probe into it.
//
//	netprobe [-timeout 3s] tcp HOST:PORT   connect (and close)
//	netprobe [-timeout 3s] http URL        GET; any HTTP status counts as reached
//	netprobe [-timeout 3s] dns NAME        resolve with the pod's resolver
//	netprobe sleep                         wait for SIGTERM (the pod's main process)
//
// Exit codes: 0 reached, 1 not reached (refused, timed out, reset, unresolved),
// 2 usage.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(exitCode(run()))
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, os.Args[1:], os.Stdout)
}

// exitCode maps Run's result to the documented exit codes.
func exitCode(err error) int {
	var u usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &u):
		fmt.Fprintln(os.Stderr, "netprobe:", err)
		return 2
	default:
		return 1 // the probe's line on stdout already says why
	}
}
