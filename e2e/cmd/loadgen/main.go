// Command loadgen fires HTTP requests at a fixed rate on an open-loop schedule and
// prints latency percentiles measured from each request's scheduled time.
//
//	go run ./e2e/cmd/loadgen -url http://127.0.0.1:8080/buy -rate 1000 -duration 30s \
//	    -body '{"userid":"u{i}","username":"Load","price":"1.00"}' -status 202
//
// "{i}" in the URL or body is replaced by the request number (modulo -users when
// set), so requests can spread over many users.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/scalable-shop/shop/e2e/load"
)

type headers []string

func (h *headers) String() string     { return strings.Join(*h, ", ") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

func main() {
	url := flag.String("url", "", "target URL (required)")
	method := flag.String("method", "", "HTTP method (POST when -body is set, else GET)")
	body := flag.String("body", "", "request body; sent as application/json unless -H sets Content-Type")
	rate := flag.Float64("rate", 100, "requests per second")
	duration := flag.Duration("duration", 10*time.Second, "how long to fire")
	timeout := flag.Duration("timeout", 10*time.Second, "timeout of one request")
	status := flag.Int("status", 0, "status that counts as success (200 for GET, 202 for POST by default)")
	users := flag.Int("users", 0, "replace {i} by the request number modulo this (0: the request number)")
	asJSON := flag.Bool("json", false, "print the result as JSON")
	var hs headers
	flag.Var(&hs, "H", "header 'Name: value' (repeatable)")
	flag.Parse()
	if *url == "" || *rate <= 0 {
		flag.Usage()
		os.Exit(2)
	}
	if *method == "" {
		*method = http.MethodGet
		if *body != "" {
			*method = http.MethodPost
		}
	}
	if *status == 0 {
		*status = http.StatusOK
		if *method == http.MethodPost {
			*status = http.StatusAccepted
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	client := load.NewClient()
	subst := func(s string, i int) string {
		if !strings.Contains(s, "{i}") {
			return s
		}
		if *users > 0 {
			i %= *users
		}
		return strings.ReplaceAll(s, "{i}", strconv.Itoa(i))
	}
	res := load.Run(ctx, load.Options{Rate: *rate, Duration: *duration, Timeout: *timeout}, func(ctx context.Context, i int) string {
		var rd *strings.Reader
		if *body != "" {
			rd = strings.NewReader(subst(*body, i))
		}
		var req *http.Request
		if rd != nil {
			req, _ = http.NewRequestWithContext(ctx, *method, subst(*url, i), rd)
			req.Header.Set("Content-Type", "application/json")
		} else {
			req, _ = http.NewRequestWithContext(ctx, *method, subst(*url, i), nil)
		}
		for _, h := range hs {
			k, v, _ := strings.Cut(h, ":")
			req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
		}
		return load.Do(client, req, *status, nil)
	})
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(res)
		return
	}
	fmt.Println(res)
}
