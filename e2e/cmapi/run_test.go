package cmapi_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/localstack/testenv"
)

type stack struct {
	api   *testenv.Service
	kafka *testenv.Kafka
	mongo *testenv.Mongo
}

func startAPI(t *testing.T, env ...map[string]string) stack {
	t.Helper()
	k, m := testenv.StartKafka(t), testenv.StartMongo(t)
	api := testenv.RunAPI(t, testenv.Merge(append([]map[string]string{k.APIEnv(), m.APIEnv()}, env...)...))
	return stack{api: api, kafka: k, mongo: m}
}

func event(user string, cents int64, ts time.Time) contract.Event {
	return contract.NewEvent(uuid.Must(uuid.NewV7()).String(),
		contract.Purchase{UserID: user, Username: "User " + user, PriceCents: cents, Timestamp: ts}, ts)
}

func record(e contract.Event) kafka.Message {
	b, _ := json.Marshal(e)
	return kafka.Message{Key: []byte(e.UserID), Value: b}
}

// get calls cm-api with the token and decodes a page.
func get(t *testing.T, url, token string) (int, contract.PurchasePage, contract.ErrorBody) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var page contract.PurchasePage
	var eb contract.ErrorBody
	if res.StatusCode == 200 {
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatalf("bad page %s", b)
		}
	} else if err := json.Unmarshal(b, &eb); err != nil || eb.Error.Code == "" {
		t.Fatalf("status %d without a JSON error: %s", res.StatusCode, b)
	}
	return res.StatusCode, page, eb
}

func waitStored(t *testing.T, s stack, user string, n int) contract.PurchasePage {
	t.Helper()
	var page contract.PurchasePage
	testenv.WaitFor(t, 30*time.Second, fmt.Sprintf("%d purchases of %s", n, user), func() bool {
		var status int
		status, page, _ = get(t, s.api.URL+"/buyList/"+user+"?limit=100", testenv.Token)
		return status == 200 && len(page.Purchases) >= n
	})
	return page
}

func TestLookupNeedsTheServiceToken(t *testing.T) {
	s := startAPI(t)
	for _, token := range []string{"", "wrong", testenv.Token + "x", strings.ToUpper(testenv.Token)} {
		status, _, eb := get(t, s.api.URL+"/buyList/ada", token)
		if status != http.StatusUnauthorized || eb.Error.Code != contract.EUnauthorized {
			t.Errorf("token %q: %d %+v, want 401", token, status, eb)
		}
	}
	if status, page, _ := get(t, s.api.URL+"/buyList/ada", testenv.Token); status != 200 || page.UserID != "ada" || page.Purchases == nil {
		t.Errorf("with the token: %d %+v", status, page)
	}
}

func TestPagingIsNewestFirstAndRefusesForgedCursors(t *testing.T) {
	s := startAPI(t)
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var msgs []kafka.Message
	for i := range 7 {
		msgs = append(msgs, record(event("pat", int64(100+i), base.Add(time.Duration(i)*time.Minute))))
	}
	// Two purchases in the same millisecond still page without loss or repeats.
	msgs = append(msgs, record(event("pat", 999, base.Add(3*time.Minute))))
	s.kafka.Produce(t, s.kafka.Topic, msgs...)
	waitStored(t, s, "pat", len(msgs))

	var seen []contract.PurchaseView
	cursor := ""
	for pages := 0; ; pages++ {
		url := s.api.URL + "/buyList/pat?limit=3"
		if cursor != "" {
			url += "&cursor=" + cursor
		}
		status, page, eb := get(t, url, testenv.Token)
		if status != 200 {
			t.Fatalf("page %d: %d %+v", pages, status, eb)
		}
		seen = append(seen, page.Purchases...)
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if len(seen) != len(msgs) {
		t.Fatalf("paged through %d purchases, want %d", len(seen), len(msgs))
	}
	ids := map[string]bool{}
	for i, p := range seen {
		if ids[p.ID] {
			t.Errorf("purchase %s seen twice", p.ID)
		}
		ids[p.ID] = true
		if i > 0 && (p.Timestamp.After(seen[i-1].Timestamp) || p.Timestamp.Equal(seen[i-1].Timestamp) && p.ID > seen[i-1].ID) {
			t.Errorf("not newest first at %d: %v after %v", i, p.Timestamp, seen[i-1].Timestamp)
		}
	}
	if seen[0].Price != "1.06" {
		t.Errorf("newest purchase has price %s, want 1.06", seen[0].Price)
	}

	_, first, _ := get(t, s.api.URL+"/buyList/pat?limit=2", testenv.Token)
	for name, c := range map[string]string{
		"tampered":     flipMiddle(first.NextCursor),
		"truncated":    first.NextCursor[:10],
		"garbage":      "bm90LWEtY3Vyc29y.AAAA",
		"another user": "", // filled below
	} {
		url := s.api.URL + "/buyList/pat?cursor=" + c
		if name == "another user" {
			url = s.api.URL + "/buyList/someone-else?cursor=" + first.NextCursor
		}
		status, _, eb := get(t, url, testenv.Token)
		if status != 400 || eb.Error.Code != contract.EInvalid {
			t.Errorf("%s cursor: %d %+v, want 400", name, status, eb)
		}
	}
}

func TestPoisonMessagesGoToTheDLQAndTheConsumerGoesOn(t *testing.T) {
	s := startAPI(t)
	bad := event("eve", 100, time.Now())
	bad.PriceCents = 0
	badJSON, _ := json.Marshal(bad)
	future := event("eve", 100, time.Now())
	futureJSON, _ := json.Marshal(future)
	futureJSON = []byte(strings.Replace(string(futureJSON), `"version":1`, `"version":7`, 1))
	poison := map[string]kafka.Message{
		contract.ReasonMalformed: {Key: []byte("eve"), Value: []byte{0xde, 0xad, 0xbe, 0xef}},
		contract.ReasonInvalid:   {Key: []byte("eve"), Value: badJSON},
		contract.ReasonVersion:   {Key: []byte("eve"), Value: futureJSON},
	}
	for _, m := range poison {
		s.kafka.Produce(t, s.kafka.Topic, m)
	}
	good := event("eve", 4200, time.Now())
	s.kafka.Produce(t, s.kafka.Topic, record(good))

	page := waitStored(t, s, "eve", 1)
	if len(page.Purchases) != 1 || page.Purchases[0].ID != good.ID || page.Purchases[0].Price != "42.00" {
		t.Fatalf("stored %+v, want only the good purchase", page.Purchases)
	}
	dead := s.kafka.ReadAll(t, s.kafka.DLQTopic, len(poison), 20*time.Second)
	if len(dead) != len(poison) {
		t.Fatalf("DLQ holds %d records, want %d", len(dead), len(poison))
	}
	for _, d := range dead {
		h := map[string]string{}
		for _, x := range d.Headers {
			h[x.Key] = string(x.Value)
		}
		want, ok := poison[h[contract.HeaderDLQReason]]
		if !ok || string(want.Value) != string(d.Value) {
			t.Errorf("DLQ record with reason %q does not match what was sent", h[contract.HeaderDLQReason])
		}
		if h[contract.HeaderDLQError] == "" || h[contract.HeaderDLQTopic] != s.kafka.Topic || h[contract.HeaderDLQOffset] == "" {
			t.Errorf("DLQ record lacks its provenance headers: %v", h)
		}
	}
	testenv.WaitFor(t, 10*time.Second, "the poison counted in metrics", func() bool {
		res, err := http.Get(s.api.URL + "/metrics")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return strings.Contains(string(b), `cm_api_dead_letters_total{reason="malformed"} 1`)
	})
}

func TestRedeliveredEventsAreStoredOnce(t *testing.T) {
	s := startAPI(t)
	e := event("dup", 500, time.Now())
	s.kafka.Produce(t, s.kafka.Topic, record(e), record(e))
	s.kafka.Produce(t, s.kafka.Topic, record(e))
	marker := event("dup", 1, time.Now().Add(-time.Hour))
	s.kafka.Produce(t, s.kafka.Topic, record(marker))
	waitStored(t, s, "dup", 2)
	time.Sleep(500 * time.Millisecond) // let any straggling duplicate land, if it could
	_, page, _ := get(t, s.api.URL+"/buyList/dup", testenv.Token)
	if len(page.Purchases) != 2 {
		t.Fatalf("stored %d purchases, want 2 (one event three times, one marker)", len(page.Purchases))
	}
}

// readiness is a /readyz or /healthz answer.
type readiness struct {
	code   int
	Status string            `json:"status"`
	Role   string            `json:"role"`
	Checks map[string]string `json:"checks"`
}

func probe(t *testing.T, url string) readiness {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	r := readiness{code: res.StatusCode}
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		t.Fatalf("GET %s: %d without JSON: %v", url, res.StatusCode, err)
	}
	return r
}

// A MongoDB outage pauses the consumer (nothing committed, nothing lost) but
// keeps the pod ready and live: look-ups answer the JSON 503 with Retry-After
// at once, and /readyz says what is down.
func TestStoreOutagePausesWithoutLoss(t *testing.T) {
	// A long operation timeout: a look-up that waited for MongoDB instead of
	// failing at once would outlast the client's timeout below.
	s := startAPI(t, map[string]string{"CM_API_MONGO_TIMEOUT": "20s"})
	first := event("sam", 100, time.Now())
	s.kafka.Produce(t, s.kafka.Topic, record(first))
	waitStored(t, s, "sam", 1)

	s.mongo.Stop(t)
	during := []kafka.Message{record(event("sam", 200, time.Now())), record(event("sam", 300, time.Now()))}
	s.kafka.Produce(t, s.kafka.Topic, during...)
	testenv.WaitFor(t, 30*time.Second, "/readyz to report the store down", func() bool {
		r := probe(t, s.api.URL+"/readyz")
		if r.code != http.StatusOK {
			t.Fatalf("/readyz %d with MongoDB down, want 200 (the pod can still do its job): %+v", r.code, r)
		}
		return r.Status == "degraded" && r.Checks["mongodb"] != "ok" && strings.HasPrefix(r.Checks["consumer"], "paused")
	})
	// The consumer's write waits for server selection up to CM_API_MONGO_TIMEOUT
	// before it fails, after a fetch from the broker: the wait allows both.
	testenv.WaitFor(t, 45*time.Second, "the consumer to meet the outage", func() bool {
		return s.api.Logs.Count("mongodb write failing") > 0
	})
	if r := probe(t, s.api.URL+"/healthz"); r.code != http.StatusOK {
		t.Fatalf("/healthz %d with MongoDB down: a paused consumer is not stalled", r.code)
	}
	quick := &http.Client{Timeout: 5 * time.Second}
	for _, path := range []string{"/buyList/sam", "/users/sam"} {
		req, _ := http.NewRequest("GET", s.api.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+testenv.Token)
		res, err := quick.Do(req)
		if err != nil {
			t.Fatalf("GET %s with MongoDB down: %v (a look-up must fail at once, not wait for the store)", path, err)
		}
		var eb contract.ErrorBody
		err = json.NewDecoder(res.Body).Decode(&eb)
		res.Body.Close()
		if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" || err != nil || eb.Error.Code != contract.EUnavailable {
			t.Fatalf("GET %s with MongoDB down: %d, Retry-After %q, body %+v (%v); want the JSON 503 with Retry-After",
				path, res.StatusCode, res.Header.Get("Retry-After"), eb, err)
		}
	}
	time.Sleep(2 * time.Second) // several retries, each must stay silent
	s.mongo.Start(t)
	waitStored(t, s, "sam", 3)
	testenv.WaitFor(t, 30*time.Second, "/readyz to recover", func() bool {
		r := probe(t, s.api.URL+"/readyz")
		return r.code == http.StatusOK && r.Status == "ok"
	})
	// Once by the purchases consumer; the projection says so too if it had a
	// window to count meanwhile, and at most once.
	all, summaries := s.api.Logs.Count("mongodb write failing"), 0
	for _, line := range strings.Split(s.api.Logs.String(), "\n") {
		if strings.Contains(line, "mongodb write failing") && strings.Contains(line, `"consumer":"summaries"`) {
			summaries++
		}
	}
	if all-summaries != 1 || summaries > 1 {
		t.Errorf("store outage logged %d times by the purchases consumer and %d by the projection, want once per state change", all-summaries, summaries)
	}
	page := waitStored(t, s, "sam", 3)
	if len(page.Purchases) != 3 {
		t.Errorf("stored %d purchases, want 3: one before, two during the outage, none twice", len(page.Purchases))
	}
}

// flipMiddle changes one character in the middle of the signature part of a
// cursor: always a different cursor, unlike overwriting its last characters.
func flipMiddle(c string) string {
	i := strings.LastIndex(c, ".") + 5
	b := []byte(c)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}
