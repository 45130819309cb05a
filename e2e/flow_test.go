package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/localstack/testenv"
)

func TestABuyShowsUpInTheHistory(t *testing.T) {
	s := startShop(t)
	ts := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	r := buy(s.URL(), uid("ada"), "Ada Lovelace", "12.50", ts, "")
	if r.Status != http.StatusAccepted || r.Err != nil {
		t.Fatalf("buy: %+v", r)
	}
	got := waitHistory(t, s.URL(), uid("ada"), 1, 30*time.Second)
	want := contract.PurchaseView{ID: r.ID, UserID: uid("ada"), Username: "Ada Lovelace", Price: "12.50", Timestamp: ts}
	if len(got) != 1 || got[0].ID != want.ID || got[0].Price != want.Price || got[0].Username != want.Username || !got[0].Timestamp.Equal(ts) {
		t.Fatalf("history %+v, want %+v", got, want)
	}
	res, err := client.Get(s.URL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	var info map[string]any
	_ = json.NewDecoder(res.Body).Decode(&info)
	res.Body.Close()
	if info["service"] != "cm-server" {
		t.Errorf("GET / answered %v", info)
	}
}

func TestTheSameIdempotencyKeyStoresOnePurchase(t *testing.T) {
	s := startShop(t)
	a := buy(s.URL(), uid("bob"), "Bob", "3.00", time.Time{}, "checkout-7")
	b := buy(s.URL(), uid("bob"), "Bob", "3.00", time.Time{}, "checkout-7")
	if a.Status != 202 || b.Status != 202 || a.ID != b.ID {
		t.Fatalf("retries answered %+v and %+v", a, b)
	}
	marker := buy(s.URL(), uid("bob"), "Bob", "1.00", time.Now().Add(-time.Hour), "")
	waitHistory(t, s.URL(), uid("bob"), 2, 30*time.Second)
	time.Sleep(time.Second) // let a duplicate land, if one could
	got := history(t, s.URL(), uid("bob"))
	if len(got) != 2 || got[0].ID != a.ID || got[1].ID != marker.ID {
		t.Fatalf("history %+v, want the keyed purchase once and the marker", got)
	}
}

// load runs clients users × perUser buys, each user's buys in sequence with
// timestamps one second apart, and returns what every client saw.
func load(base string, users, perUser int, onAck func(n int64)) [][]buyResult {
	results := make([][]buyResult, users)
	base0 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	var acked atomic.Int64
	var wg sync.WaitGroup
	for u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perUser {
				var r buyResult
				// A client retries a 503 or a dropped connection with the same key,
				// as the API asks it to.
				for attempt := 0; attempt < 60; attempt++ {
					r = buy(base, uid(fmt.Sprintf("user-%02d", u)), fmt.Sprintf("User %d", u), fmt.Sprintf("%d.%02d", 1+i, u),
						base0.Add(time.Duration(i)*time.Second), fmt.Sprintf("u%d-i%d", u, i))
					if r.Status == http.StatusAccepted {
						break
					}
					time.Sleep(250 * time.Millisecond)
				}
				results[u] = append(results[u], r)
				if r.Status == http.StatusAccepted && onAck != nil {
					onAck(acked.Add(1))
				}
			}
		}()
	}
	wg.Wait()
	return results
}

// checkExactlyOnceInOrder checks that every acknowledged buy is stored once,
// newest first per user, and nothing else is.
func checkExactlyOnceInOrder(t *testing.T, base string, results [][]buyResult) {
	t.Helper()
	for u, rs := range results {
		user := uid(fmt.Sprintf("user-%02d", u))
		var acked []string
		for i, r := range rs {
			if r.Status != http.StatusAccepted {
				t.Fatalf("%s buy %d was never acknowledged: %+v", user, i, r)
			}
			acked = append(acked, r.ID)
		}
		// Generous: after kills the group must first expel the dead members.
		got := waitHistory(t, base, user, len(acked), 120*time.Second)
		if len(got) != len(acked) {
			t.Fatalf("%s: %d purchases stored, %d acknowledged", user, len(got), len(acked))
		}
		for i, p := range got {
			want := acked[len(acked)-1-i]
			if p.ID != want {
				t.Fatalf("%s: position %d holds %s, want %s (newest first, each once)", user, i, p.ID, want)
			}
		}
	}
}

func TestAThousandConcurrentBuysAreStoredExactlyOnceInOrder(t *testing.T) {
	s := startShop(t)
	results := load(s.URL(), 20, 50, nil)
	checkExactlyOnceInOrder(t, s.URL(), results)
}

func TestKillingTheConsumerMidwayLosesAndDuplicatesNothing(t *testing.T) {
	needLocal(t)
	s := startShop(t)
	c := newChaos(s.api, 500*time.Millisecond)
	results := load(s.URL(), 20, 50, func(n int64) {
		if n == 300 || n == 700 {
			c.kill()
		}
	})
	if kills := c.stop(); kills != 2 {
		t.Fatalf("cm-api was killed %d times, want 2", kills)
	}
	checkExactlyOnceInOrder(t, s.URL(), results)
}

func TestBrokerOutageAnswers503AndRecovers(t *testing.T) {
	needLocal(t)
	if testenv.External() {
		t.Skip("stops the embedded broker; the fault suite covers the real one")
	}
	s := startShop(t)
	if r := buy(s.URL(), uid("cy"), "Cy", "1.00", time.Time{}, ""); r.Status != 202 {
		t.Fatalf("buy before the outage: %+v", r)
	}
	s.kafka.Stop(t)
	r := buy(s.URL(), uid("cy"), "Cy", "2.00", time.Time{}, "")
	if r.Status != http.StatusServiceUnavailable || r.RetryAfter == "" {
		t.Fatalf("buy with the broker down: %+v, want 503 with Retry-After", r)
	}
	// Still ready: only /buy needs Kafka; /readyz says what is down.
	if st, checks := readyz(t, s.URL()); st != http.StatusOK || checks["kafka"] == "ok" {
		t.Fatalf("cm-server /readyz %d %v with the broker down, want 200 reporting kafka", st, checks)
	}
	s.kafka.Start(t)
	testenv.WaitFor(t, 60*time.Second, "cm-server /readyz to report kafka ok after the broker is back", func() bool {
		return allUp(s.URL())
	})
	var after buyResult
	testenv.WaitFor(t, 30*time.Second, "a buy after the outage", func() bool {
		after = buy(s.URL(), uid("cy"), "Cy", "3.00", time.Time{}, "after")
		return after.Status == http.StatusAccepted
	})
	got := waitHistory(t, s.URL(), uid("cy"), 2, 60*time.Second)
	if len(got) < 2 || got[0].ID != after.ID {
		t.Fatalf("history after the outage %+v", got)
	}
}

func TestSIGTERMFinishesInFlightBuysAndExitsCleanly(t *testing.T) {
	needLocal(t)
	s := startShop(t)
	const n = 200
	results := make([]buyResult, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i] = buy(s.URL(), uid("dee"), "Dee", "1.00", time.Now(), fmt.Sprintf("term-%d", i))
		}()
	}
	close(start)
	time.Sleep(20 * time.Millisecond)
	if err := s.server.term(20 * time.Second); err != nil {
		t.Fatalf("cm-server on SIGTERM: %v", err)
	}
	wg.Wait()
	acked := map[string]bool{}
	for _, r := range results {
		switch {
		case r.Status == http.StatusAccepted:
			acked[r.ID] = true
		case r.Err != nil || r.Status == http.StatusServiceUnavailable:
			// Refused before it was accepted: the client retries, nothing is owed.
		default:
			t.Fatalf("a buy during shutdown got %+v", r)
		}
	}
	if !containsAll(s.server.logs.String(), `"msg":"stopped"`) {
		t.Error("cm-server did not log its orderly stop")
	}
	if len(acked) == 0 {
		t.Fatal("no buy was acknowledged before the shutdown; the test proves nothing")
	}
	// Every acknowledged buy must be stored, though cm-server is gone.
	api := s.api.URL() + "/buyList/" + uid("dee") + "?limit=100"
	testenv.WaitFor(t, 60*time.Second, fmt.Sprintf("%d acknowledged buys stored", len(acked)), func() bool {
		return countStored(t, api) >= len(acked)
	})
	if got := countStored(t, api); got != len(acked) {
		t.Errorf("stored %d, acknowledged %d", got, len(acked))
	}
	if err := s.api.term(20 * time.Second); err != nil {
		t.Fatalf("cm-api on SIGTERM: %v", err)
	}
	if !containsAll(s.api.logs.String(), `"msg":"stopped"`) {
		t.Error("cm-api did not log its orderly stop")
	}
}

// countStored counts a user's purchases straight from cm-api (all pages).
func countStored(t *testing.T, url string) int {
	t.Helper()
	total, cursor := 0, ""
	for {
		req, _ := http.NewRequest("GET", url+cursor, nil)
		req.Header.Set("Authorization", "Bearer "+testenv.Token)
		res, err := client.Do(req)
		if err != nil {
			return -1
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		var page contract.PurchasePage
		if res.StatusCode != 200 || json.Unmarshal(raw, &page) != nil {
			return -1
		}
		total += len(page.Purchases)
		if page.NextCursor == "" {
			return total
		}
		cursor = "&cursor=" + page.NextCursor
	}
}

// TestBadInputIsRefusedWithJSONAndStoresNothing runs against processes and, in
// make test-k8s, through the ingress: every malformed buy gets a 4xx with the
// JSON error body (the contract transport checks its shape), and none of them
// reaches the history that a valid buy of the same user then shows.
func TestBadInputIsRefusedWithJSONAndStoresNothing(t *testing.T) {
	s := startShop(t)
	user := uid("mallory")
	valid := func(extra string) string {
		return `{"userid":"` + user + `","username":"Mallory","price":"1.00"` + extra + `}`
	}
	cases := []struct {
		name, contentType, body string
		want                    int
	}{
		{"malformed JSON", "application/json", `{"userid":"` + user + `",`, 400},
		{"unknown field", "application/json", valid(`,"discount":"1.00"`), 400},
		{"duplicate key", "application/json", valid(`,"price":"0.01"`), 400},
		{"three decimals", "application/json", `{"userid":"` + user + `","username":"Mallory","price":"1.001"}`, 400},
		{"negative price", "application/json", `{"userid":"` + user + `","username":"Mallory","price":"-1.00"}`, 400},
		{"missing username", "application/json", `{"userid":"` + user + `","price":"1.00"}`, 400},
		{"bad timestamp", "application/json", valid(`,"timestamp":"yesterday"`), 400},
		{"text body", "text/plain", valid(""), 415},
		{"over 64 KiB", "application/json", valid(`,"username":"` + strings.Repeat("x", 70<<10) + `"`), 413},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(http.MethodPost, s.URL()+"/buy", strings.NewReader(c.body))
		req.Header.Set("Content-Type", c.contentType)
		res, err := client.Do(req)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		var body struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		derr := json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if res.StatusCode != c.want || derr != nil || body.Error.Code == "" || body.Error.Message == "" {
			t.Errorf("%s: %d %q (decode: %v), want %d with a JSON error", c.name, res.StatusCode, body.Error, derr, c.want)
		}
	}
	good := buy(s.URL(), user, "Mallory", "2.00", time.Time{}, "")
	if good.Status != http.StatusAccepted {
		t.Fatalf("the valid buy: %+v", good)
	}
	waitHistory(t, s.URL(), user, 1, 30*time.Second)
	time.Sleep(time.Second) // a refused buy that got through would land by now
	if got := history(t, s.URL(), user); len(got) != 1 || got[0].ID != good.ID {
		t.Fatalf("history %+v, want only the valid buy %s", got, good.ID)
	}
}
