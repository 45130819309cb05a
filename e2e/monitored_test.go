package e2e

import (
	"bufio"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/scalable-shop/shop/localstack/testenv"
)

// externalMetrics are the names the dashboard may query that the shop does not
// export itself. Add one only with the exporter that provides it.
var externalMetrics = map[string]string{
	"kube_pod_container_status_restarts_total": "kube-state-metrics",
}

// exportedNames returns the series names a /metrics page exposes: a
// histogram's _bucket, _sum and _count, a summary's _sum and _count, and the
// name itself for every other type.
func exportedNames(t *testing.T, url string) map[string]bool {
	t.Helper()
	res, err := client.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	names := map[string]bool{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 4 || f[0] != "#" || f[1] != "TYPE" {
			continue
		}
		switch f[3] {
		case "histogram":
			names[f[2]+"_bucket"], names[f[2]+"_sum"], names[f[2]+"_count"] = true, true, true
		case "summary":
			names[f[2]+"_sum"], names[f[2]+"_count"] = true, true
		default:
			names[f[2]] = true
		}
	}
	_, _ = io.Copy(io.Discard, res.Body)
	return names
}

// Every metric the dashboard and the alerts query (e2e/monitoring/metrics.txt,
// held to the queries by Prometheus's PromQL parser there) is exported by the
// running services once they have taken a buy and dead-lettered a poison record.
func TestDashboardAndAlertsQueryExportedMetrics(t *testing.T) {
	needLocal(t)
	s := startShop(t)
	if r := buy(s.URL(), uid("mia"), "Mia", "4.20", time.Time{}, ""); r.Status != 202 {
		t.Fatalf("buy: %d %v", r.Status, r.Err)
	}
	s.kafka.Produce(t, s.kafka.Topic, kafka.Message{Key: []byte(uid("mia")), Value: []byte("poison")})
	// The lag is reported every few seconds, after the first look at the group.
	testenv.WaitFor(t, 30*time.Second, "a dead letter, a stored purchase and the lag", func() bool {
		return testenv.Metric(t, s.api.URL(), "cm_api_dead_letters_total") >= 1 && testenv.Metric(t, s.api.URL(), "cm_api_purchases_stored_total") >= 1 &&
			exportedNames(t, s.api.URL())["cm_api_consumer_lag"] && exportedNames(t, s.api.URL())["cm_api_summaries_lag"]
	})
	_ = history(t, s.URL(), uid("mia")) // a look-up, for the look-up panel
	exported := exportedNames(t, s.URL())
	for n := range exportedNames(t, s.api.URL()) {
		exported[n] = true
	}

	raw, err := os.ReadFile("monitoring/metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, name := range strings.Split(string(raw), "\n") {
		if name == "" || strings.HasPrefix(name, "#") {
			continue
		}
		n++
		if !exported[name] && externalMetrics[name] == "" {
			t.Errorf("the dashboard or an alert queries %s, which neither service exports (nor is it an allowed external metric)", name)
		}
	}
	if n == 0 {
		t.Fatal("monitoring/metrics.txt lists no metric")
	}
}
