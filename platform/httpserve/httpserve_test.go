package httpserve

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"
)

// Once shutdown begins, every response closes its connection, so a proxy's
// pooled connection ends cleanly instead of racing Shutdown's close.
func TestResponsesCloseTheirConnectionWhileDraining(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })}
	ctx, cancel := context.WithCancel(context.Background())
	notReady := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, srv, ln, slog.New(slog.DiscardHandler), Options{
			DrainDelay: 2 * time.Second, Timeout: time.Second, NotReady: func() { close(notReady) },
		})
	}()
	get := func() *http.Response {
		t.Helper()
		res, err := http.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	if res := get(); res.Close {
		t.Fatal("a response before shutdown asked to close the connection")
	}
	cancel()
	<-notReady
	time.Sleep(50 * time.Millisecond) // NotReady runs just before draining is set
	if res := get(); !res.Close {
		t.Error("a response while draining kept its connection open (no Connection: close)")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
