package testenv

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

var metricsClient = &http.Client{Timeout: 15 * time.Second}

// Metric sums the samples of name on base's /metrics page whose label sets
// contain every one of labels (`partition="0"`, say). A series not exposed yet
// counts 0, as a counter vector has no sample before its first event: callers
// that poll for a value can start before the first one.
func Metric(tb testing.TB, base, name string, labels ...string) float64 {
	tb.Helper()
	res, err := metricsClient.Get(base + "/metrics")
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatalf("reading %s/metrics: %v", base, err)
	}
	sum := 0.0
	for line := range strings.SplitSeq(string(b), "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		matches := true
		for _, l := range labels {
			matches = matches && strings.Contains(line, l)
		}
		if !matches {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndex(line, " ")+1:], 64)
		if err != nil {
			tb.Fatalf("%s/metrics: %q: %v", base, line, err)
		}
		sum += v
	}
	return sum
}
