package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/localstack/testenv"
)

// jsonLines returns the JSON log lines of a process that have msg.
func jsonLines(p *proc, msg string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(p.logs.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == msg {
			out = append(out, line)
		}
	}
	return out
}

func TestATraceRunsFromTheBuyToTheStoreWrite(t *testing.T) {
	needLocal(t)
	s := startShop(t, map[string]string{"CM_API_LOG_LEVEL": "debug"})

	// A caller that already traces: its trace id must reach cm-api.
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	body, _ := json.Marshal(map[string]string{"userid": uid("tia"), "username": "Tia", "price": "2.00"})
	req, _ := http.NewRequest("POST", s.URL()+"/buy", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var acc contract.BuyAccepted
	_ = json.NewDecoder(res.Body).Decode(&acc)
	res.Body.Close()
	if res.StatusCode != 202 {
		t.Fatalf("buy: %d", res.StatusCode)
	}
	// A caller that does not: cm-server starts the trace, and its request log
	// line and cm-api's store line share its id.
	plain := buy(s.URL(), uid("tia"), "Tia", "3.00", time.Time{}, "")

	var stored map[string]map[string]any
	testenv.WaitFor(t, 30*time.Second, "cm-api's store log lines", func() bool {
		stored = map[string]map[string]any{}
		for _, l := range jsonLines(s.api, "purchase stored") {
			stored[fmt.Sprint(l["purchase_id"])] = l
		}
		return stored[acc.ID] != nil && stored[plain.ID] != nil
	})
	if got := stored[acc.ID]["trace_id"]; got != traceID {
		t.Errorf("cm-api logged purchase %s with trace_id %v, want the caller's %s", acc.ID, got, traceID)
	}
	var serverTrace any
	for _, l := range jsonLines(s.server, "request") {
		if l["path"] == "/buy" && l["trace_id"] != traceID {
			serverTrace = l["trace_id"]
		}
	}
	if serverTrace == nil || stored[plain.ID]["trace_id"] != serverTrace {
		t.Errorf("cm-server's request trace %v, cm-api's store line trace %v: want the same", serverTrace, stored[plain.ID]["trace_id"])
	}
	// At the default level the consumer logs nothing per purchase.
	if n := len(jsonLines(s.server, "purchase stored")); n != 0 {
		t.Errorf("cm-server logged %d store lines", n)
	}
}

func TestATraceRunsFromTheLookupThroughCMAPI(t *testing.T) {
	needLocal(t)
	s := startShop(t)
	user := uid("lu")
	if r := buy(s.URL(), user, "Lu", "4.00", time.Time{}, ""); r.Status != 202 {
		t.Fatalf("buy: %+v", r)
	}
	waitHistory(t, s.URL(), user, 1, 30*time.Second)                // look-ups that start their own traces
	testenv.WaitFor(t, 30*time.Second, "the summary", func() bool { // it trails the purchases
		st, _, err := userSummary(s.URL(), user)
		return err == nil && st == http.StatusOK
	})

	// A caller that already traces: cm-server's span and cm-api's, which reads
	// the store, are in the caller's trace.
	const traceID = "0af7651916cd43dd8448eb211c80319c"
	for _, path := range []string{"/getAllUserBuys/" + user + "?limit=10", "/users/" + user} {
		req, _ := http.NewRequest("GET", s.URL()+path, nil)
		req.Header.Set("traceparent", "00-"+traceID+"-b7ad6b7169203331-01")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("GET %s: %d", path, res.StatusCode)
		}
	}

	// Every look-up cm-server logged is one trace with the call cm-api logged for it.
	type hop struct{ server, api string } // request paths of one look-up
	hops := []hop{{"/getAllUserBuys/" + user, "/buyList/" + user}, {"/users/" + user, "/users/" + user}}
	traces := func(p *proc, path string) (ids []string, spans map[string]bool) {
		spans = map[string]bool{}
		for _, l := range jsonLines(p, "request") {
			if l["path"] == path {
				ids = append(ids, fmt.Sprint(l["trace_id"]))
				spans[fmt.Sprint(l["span_id"])] = true
			}
		}
		return ids, spans
	}
	for _, h := range hops {
		var srv, api []string
		var srvSpans, apiSpans map[string]bool
		testenv.WaitFor(t, 10*time.Second, "cm-api's request lines for "+h.api, func() bool {
			srv, srvSpans = traces(s.server, h.server)
			api, apiSpans = traces(s.api, h.api)
			return slices.Contains(srv, traceID) && len(api) >= len(srv)
		})
		if !slices.Contains(srv, traceID) || !slices.Contains(api, traceID) {
			t.Errorf("%s: the caller's trace %s in cm-server's lines %v and cm-api's %v: want it in both", h.server, traceID, srv, api)
		}
		slices.Sort(srv)
		slices.Sort(api)
		if !slices.Equal(srv, api) {
			t.Errorf("%s: cm-server's request traces %v, cm-api's %v: want one trace per look-up across the hop", h.server, srv, api)
		}
		for id := range apiSpans {
			if srvSpans[id] {
				t.Errorf("%s: cm-api logged cm-server's span %s: want a span of its own in the trace", h.server, id)
			}
		}
	}
}

func TestMetricsMoveWithTraffic(t *testing.T) {
	needLocal(t)
	s := startShop(t)
	srv, api := s.URL(), s.api.URL()
	for i := range 5 {
		if r := buy(srv, uid("mo"), "Mo", "1.00", time.Time{}, fmt.Sprintf("m%d", i)); r.Status != 202 {
			t.Fatalf("buy: %+v", r)
		}
	}
	bad := buy(srv, uid("mo"), "Mo", "-1", time.Time{}, "")
	if bad.Status != 400 {
		t.Fatalf("bad buy: %+v", bad)
	}
	waitHistory(t, srv, uid("mo"), 5, 30*time.Second)
	// One duplicate and one poison record straight onto the topic.
	msgs := s.kafka.ReadAll(t, s.kafka.Topic, 5, 10*time.Second)
	s.kafka.Produce(t, s.kafka.Topic, kafka.Message{Key: msgs[0].Key, Value: msgs[0].Value}, kafka.Message{Key: []byte("mo"), Value: []byte("not json")})

	checks := []struct {
		url, name string
		labels    []string
		want      float64
	}{
		{srv, "cm_server_http_requests_total", []string{`route="/buy"`, `status="202"`}, 5},
		{srv, "cm_server_http_requests_total", []string{`route="/buy"`, `status="400"`}, 1},
		{srv, "cm_server_http_request_duration_seconds_count", []string{`route="/buy"`}, 6},
		{srv, "cm_server_kafka_produce_duration_seconds_count", []string{`result="ok"`}, 5},
		{api, "cm_api_purchases_stored_total", nil, 5},
		{api, "cm_api_purchases_duplicate_total", nil, 1},
		{api, "cm_api_dead_letters_total", []string{`reason="malformed"`}, 1},
		{api, "cm_api_consumer_batch_size_count", nil, 2},
		{api, "cm_api_store_duration_seconds_count", nil, 1},
		{api, "go_goroutines", nil, 1},
	}
	for _, c := range checks {
		testenv.WaitFor(t, 20*time.Second, fmt.Sprintf("%s%v >= %v", c.name, c.labels, c.want), func() bool {
			return testenv.Metric(t, c.url, c.name, c.labels...) >= c.want
		})
	}
	// Lag per partition is reported and comes back to zero.
	testenv.WaitFor(t, 30*time.Second, "cm_api_consumer_lag per partition at 0", func() bool {
		res, err := client.Get(api + "/metrics")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return strings.Contains(string(b), `cm_api_consumer_lag{partition="0"} 0`) && testenv.Metric(t, api, "cm_api_consumer_lag") == 0
	})
}
