package cmserver_test

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scalable-shop/shop/localstack/testenv"
)

// http.max_connections: beyond the limit a connection is not served until one of
// the served ones closes (it waits in the kernel's queue, costing cm-server nothing).
func TestConnectionsBeyondTheLimitWaitForAFreeOne(t *testing.T) {
	k := testenv.StartKafka(t)
	srv := testenv.RunServer(t, testenv.Merge(k.ServerEnv(), map[string]string{
		"CM_SERVER_CMAPI_URL": "http://127.0.0.1:1", "CM_SERVER_HTTP_MAX_CONNECTIONS": "2"}))
	// The start-up checks left a keep-alive connection; let it go.
	srv.Client.CloseIdleConnections()
	http.DefaultClient.CloseIdleConnections()
	addr := strings.TrimPrefix(srv.URL, "http://")

	// Two kept-alive connections, each answered once, hold both places.
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: cm-server\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("held connection: %v %v", res, err)
		}
		res.Body.Close()
		held = append(held, c)
	}

	// A third is not served while they stay open...
	fresh := func(timeout time.Duration) (*http.Response, error) {
		c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
		return c.Get(srv.URL + "/healthz")
	}
	if res, err := fresh(time.Second); err == nil {
		res.Body.Close()
		t.Fatalf("a third connection was served (%d) while two of two were open", res.StatusCode)
	}
	// ...and is once one of them closes.
	held[0].Close()
	res, err := fresh(30 * time.Second)
	if err != nil {
		t.Fatalf("no connection served after one closed: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz: %d", res.StatusCode)
	}
}
