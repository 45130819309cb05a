package load

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// NewClient returns an HTTP/1.1 client that keeps enough idle connections to a host
// for an open-loop run: without them every request above the idle limit would pay
// for a new TCP connection, and the port range would run out.
func NewClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        20000,
		MaxIdleConnsPerHost: 20000,
		// A bound on connections keeps an overloaded server from being buried
		// under new TCP handshakes; a request waiting for one still counts from
		// its scheduled time.
		MaxConnsPerHost:    4096,
		IdleConnTimeout:    60 * time.Second,
		DisableCompression: true,
	}}
}

// Do sends req and classifies the answer: "" when the status is want, else the
// status code or "neterr". The body is read to the end so the connection is reused;
// if body is not nil it receives it.
func Do(c *http.Client, req *http.Request, want int, body *[]byte) string {
	res, err := c.Do(req)
	if err != nil {
		if req.Context().Err() != nil {
			return "timeout"
		}
		return "neterr"
	}
	var b []byte
	if body != nil {
		b, err = io.ReadAll(res.Body)
		*body = b
	} else {
		_, err = io.Copy(io.Discard, res.Body)
	}
	res.Body.Close()
	if err != nil {
		return "neterr"
	}
	if res.StatusCode != want {
		return strconv.Itoa(res.StatusCode)
	}
	return ""
}

// PostJSON builds a POST with a JSON body.
func PostJSON(ctx context.Context, url string, body []byte) *http.Request {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return req
}
