package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/localstack/testenv"
)

func userSummary(base, userID string) (int, contract.UserSummary, error) {
	res, err := client.Get(base + "/users/" + userID)
	if err != nil {
		return 0, contract.UserSummary{}, err
	}
	defer res.Body.Close()
	var u contract.UserSummary
	if res.StatusCode == http.StatusOK {
		err = json.NewDecoder(res.Body).Decode(&u)
	}
	return res.StatusCode, u, err
}

// TestUserSummariesStayExactUnderDuplicatesAndKills drives a load while copies of
// records already on the topic are written to it again and cm-api is killed
// repeatedly, then compares every user's summary with their stored purchases.
// With listing pages (as make run lists), the history comes from the pages the
// projection keeps, and must hold every acknowledged purchase once all the same.
func TestUserSummariesStayExactUnderDuplicatesAndKills(t *testing.T) {
	needLocal(t)
	for _, pages := range []string{"false", "true"} {
		t.Run("listing_pages="+pages, func(t *testing.T) {
			summariesStayExact(t, startShop(t, map[string]string{"CM_API_MONGO_LISTING_PAGES": pages, "CM_API_MONGO_SUMMARY_COLLECTIONS": "8"}))
		})
	}
}

func summariesStayExact(t *testing.T, s *shop) {
	if st, _, _ := userSummary(s.URL(), uid("nobody")); st != http.StatusNotFound {
		t.Fatalf("unknown user: %d, want 404", st)
	}
	var injected atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the duplicator: every 7th original record is written again, once
		defer wg.Done()
		seen := map[int]int64{}
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			var dups []kafka.Message
			for _, m := range s.kafka.ReadAll(t, s.kafka.Topic, 0, time.Second) {
				if last, ok := seen[m.Partition]; ok && m.Offset <= last {
					continue
				}
				seen[m.Partition] = max(seen[m.Partition], m.Offset)
				if isCopy(m) || m.Offset%7 != 0 {
					continue
				}
				dups = append(dups, kafka.Message{Key: m.Key, Value: m.Value,
					Headers: append(append([]kafka.Header{}, m.Headers...), kafka.Header{Key: "e2e-copy", Value: []byte("1")})})
			}
			if len(dups) > 0 {
				s.kafka.Produce(t, s.kafka.Topic, dups...)
				injected.Add(int64(len(dups)))
			}
		}
	}()
	c := newChaos(s.api, 300*time.Millisecond)
	results := load(s.URL(), 20, 50, func(n int64) {
		if n%200 == 0 && n < 1000 {
			c.kill()
		}
	})
	close(stop)
	wg.Wait()
	kills := c.stop()
	if kills < 4 {
		t.Fatalf("cm-api was killed %d times, want at least 4", kills)
	}
	if injected.Load() == 0 {
		t.Fatal("no duplicates were injected; the test proves nothing")
	}
	checkExactlyOnceInOrder(t, s.URL(), results)
	for u := range results {
		user := uid(fmt.Sprintf("user-%02d", u))
		stored := history(t, s.URL(), user)
		var cents int64
		for _, p := range stored {
			c, _ := contract.ParsePrice(p.Price)
			cents += c
		}
		var sum contract.UserSummary
		testenv.WaitFor(t, 30*time.Second, "summary of "+user, func() bool {
			st, got, err := userSummary(s.URL(), user)
			sum = got
			return err == nil && st == 200 && got.PurchaseCount == int64(len(stored))
		})
		if sum.PurchaseCount != int64(len(stored)) || sum.TotalSpent != contract.FormatPrice(cents) {
			t.Errorf("%s: summary says %d purchases for %s, stored are %d for %s",
				user, sum.PurchaseCount, sum.TotalSpent, len(stored), contract.FormatPrice(cents))
		}
	}
	t.Logf("%d purchases, %d duplicate records injected, cm-api killed %d times", 1000, injected.Load(), kills)
}

func isCopy(m kafka.Message) bool {
	for _, h := range m.Headers {
		if h.Key == "e2e-copy" {
			return true
		}
	}
	return false
}
