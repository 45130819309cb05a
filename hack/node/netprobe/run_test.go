package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestReachesAListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"tcp", ln.Addr().String()}, &out); err != nil {
		t.Fatalf("Run: %v (%s)", err, out.String())
	}
	if !strings.Contains(out.String(), ": reached: connected from 127.0.0.1:") {
		t.Errorf("output %q", out.String())
	}
}

func TestAClosedPortIsRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var out bytes.Buffer
	err = Run(context.Background(), []string{"-timeout", "2s", "tcp", addr}, &out)
	if !errors.Is(err, errNotReached) {
		t.Fatalf("Run = %v, want errNotReached", err)
	}
	if !strings.Contains(out.String(), "not reached (refused)") {
		t.Errorf("output %q", out.String())
	}
}

func TestAnyHTTPStatusCountsAsReached(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusForbidden)
	}))
	defer srv.Close()
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"http", srv.URL}, &out); err != nil {
		t.Fatalf("Run: %v (%s)", err, out.String())
	}
	if !strings.Contains(out.String(), "reached: 403 Forbidden") {
		t.Errorf("output %q", out.String())
	}
}

func TestASilentServerTimesOut(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	var out bytes.Buffer
	err := Run(context.Background(), []string{"-timeout", "200ms", "http", srv.URL}, &out)
	if !errors.Is(err, errNotReached) || !strings.Contains(out.String(), "not reached (timeout)") {
		t.Errorf("Run = %v, output %q", err, out.String())
	}
}

func TestUsageErrorsAreNotProbeFailures(t *testing.T) {
	for _, args := range [][]string{nil, {"tcp"}, {"udp", "x:1"}, {"-timeout", "0s", "tcp", "x:1"}, {"-nope"}} {
		err := Run(context.Background(), args, &bytes.Buffer{})
		var u usageError
		if !errors.As(err, &u) {
			t.Errorf("Run(%q) = %v, want a usage error", args, err)
		}
	}
}

func TestSleepEndsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := Run(ctx, []string{"sleep"}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{&net.DNSError{IsNotFound: true}, "no such name"},
		{context.DeadlineExceeded, "timeout"},
		{&net.OpError{Err: &timeoutErr{}}, "timeout"},
		{errors.New("boom"), "error"},
	} {
		if got := classify(c.err); got != c.want {
			t.Errorf("classify(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

type timeoutErr struct{}

func (*timeoutErr) Error() string   { return "i/o timeout" }
func (*timeoutErr) Timeout() bool   { return true }
func (*timeoutErr) Temporary() bool { return true }

func TestExitCodes(t *testing.T) {
	if got := exitCode(nil); got != 0 {
		t.Errorf("exitCode(nil) = %d", got)
	}
	if got := exitCode(errNotReached); got != 1 {
		t.Errorf("exitCode(not reached) = %d", got)
	}
	if got := exitCode(usageError{"x"}); got != 2 {
		t.Errorf("exitCode(usage) = %d", got)
	}
}
