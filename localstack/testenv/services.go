package testenv

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	cmapi "github.com/scalable-shop/shop/cm-api/app"
	cmserver "github.com/scalable-shop/shop/cm-server/app"
)

// Token is the service token tests configure between cm-server and cm-api.
const Token = "test-service-token"

// CursorKey is the key the test cm-api signs page cursors with.
const CursorKey = "test-cursor-key"

// Service is a service started in-process through its production Run.
type Service struct {
	URL  string
	Logs *SyncBuffer
	// Client reaches URL: over HTTPS it trusts the test CA (RunAPITLS).
	Client *http.Client
	stop   context.CancelFunc
	done   chan error
}

// Stop cancels the service as SIGTERM would and returns Run's error.
func (s *Service) Stop() error {
	s.stop()
	return <-s.done
}

// FreeAddr returns a loopback address with a port nobody listens on right now.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type runFunc func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error

// RunAPI starts cm-api with env (plus a free address and the test token) and
// waits until it serves /healthz.
func RunAPI(tb testing.TB, env map[string]string) *Service {
	tb.Helper()
	return run(tb, cmapi.Run, "CM_API", merge(map[string]string{"CM_API_AUTH_TOKEN": Token, "CM_API_CURSOR_KEY": CursorKey}, env))
}

// RunServer starts cm-server with env (plus a free address and the test token).
func RunServer(tb testing.TB, env map[string]string) *Service {
	tb.Helper()
	return run(tb, cmserver.Run, "CM_SERVER", merge(map[string]string{"CM_SERVER_CMAPI_TOKEN": Token, "CM_SERVER_KAFKA_WRITE_TIMEOUT": "2s"}, env))
}

func run(tb testing.TB, fn runFunc, prefix string, env map[string]string) *Service {
	tb.Helper()
	return runWith(tb, fn, prefix, env, nil)
}

// runWith is run with client speaking HTTPS to the service (nil: plain HTTP).
func runWith(tb testing.TB, fn runFunc, prefix string, env map[string]string, client *http.Client) *Service {
	tb.Helper()
	SkipShort(tb)
	addr := FreeAddr(tb)
	env = merge(map[string]string{prefix + "_HTTP_ADDR": addr, prefix + "_LOG_FORMAT": "json"}, env)
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{URL: "http://" + addr, Client: http.DefaultClient, Logs: &SyncBuffer{}, stop: cancel, done: make(chan error, 1)}
	if client != nil {
		s.URL, s.Client = "https://"+addr, client
	}
	go func() { s.done <- fn(ctx, nil, func(k string) string { return env[k] }, s.Logs, s.Logs) }()
	var once sync.Once
	tb.Cleanup(func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-s.done:
				if err != nil {
					tb.Logf("%s stopped with: %v", prefix, err)
				}
			case <-time.After(30 * time.Second):
				tb.Errorf("%s did not stop within 30 s", prefix)
			}
			if tb.Failed() {
				tb.Logf("%s logs:\n%s", prefix, s.Logs.String())
			}
		})
	})
	WaitFor(tb, 20*time.Second, prefix+" /healthz", func() bool {
		select {
		case err := <-s.done:
			tb.Fatalf("%s exited at start: %v\n%s", prefix, err, s.Logs.String())
		default:
		}
		res, err := s.Client.Get(s.URL + "/healthz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	return s
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// Merge combines environments; later ones win.
func Merge(ms ...map[string]string) map[string]string { return merge(ms...) }

// WaitFor polls cond every 50 ms until it holds, failing the test after timeout.
func WaitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// SyncBuffer is a bytes.Buffer safe for a logger and a test to share.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Count returns how many lines contain s.
func (b *SyncBuffer) Count(s string) int {
	n := 0
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}
