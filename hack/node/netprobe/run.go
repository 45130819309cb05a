package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// usageError is a command line the probe cannot run; main exits 2 on it so a
// test never mistakes a typo for a blocked connection.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// errNotReached is returned after the probe printed why the target did not answer.
var errNotReached = errors.New("not reached")

// Run parses args, runs one probe and prints one line to stdout.
func Run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("netprobe", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if fs.NArg() == 1 && fs.Arg(0) == "sleep" {
		<-ctx.Done()
		return nil
	}
	if fs.NArg() != 2 {
		return usageError{"usage: netprobe [-timeout 3s] tcp HOST:PORT | http URL | dns NAME | sleep"}
	}
	if *timeout <= 0 {
		return usageError{"-timeout must be positive, e.g. -timeout 3s"}
	}
	kind, target := fs.Arg(0), fs.Arg(1)
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	var detail string
	var err error
	switch kind {
	case "tcp":
		detail, err = dialTCP(ctx, target)
	case "http":
		detail, err = getHTTP(ctx, target)
	case "dns":
		detail, err = lookUp(ctx, target)
	default:
		return usageError{fmt.Sprintf("unknown probe %q: use tcp, http, dns or sleep", kind)}
	}
	if err != nil {
		fmt.Fprintf(stdout, "%s %s: not reached (%s): %v\n", kind, target, classify(err), err)
		return errNotReached
	}
	fmt.Fprintf(stdout, "%s %s: reached: %s\n", kind, target, detail)
	return nil
}

func dialTCP(ctx context.Context, addr string) (string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	return "connected from " + c.LocalAddr().String(), nil
}

func getHTTP(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", usageError{err.Error()}
	}
	// No keep-alive and no proxy from the environment: one request, straight there.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.Status, nil
}

func lookUp(ctx context.Context, name string) (string, error) {
	addrs, err := net.DefaultResolver.LookupHost(ctx, name)
	if err != nil {
		return "", err
	}
	return fmt.Sprint(addrs), nil
}
