package cmapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"go.mongodb.org/mongo-driver/v2/bson"
	drv "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/scalable-shop/shop/cm-api/app"
	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/localstack/testenv"
)

func getUser(t *testing.T, s stack, user string) (int, contract.UserSummary) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.api.URL+"/users/"+user, nil)
	req.Header.Set("Authorization", "Bearer "+testenv.Token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var u contract.UserSummary
	if res.StatusCode == 200 {
		if err := json.Unmarshal(b, &u); err != nil {
			t.Fatalf("bad summary %s", b)
		}
	} else {
		var eb contract.ErrorBody
		if json.Unmarshal(b, &eb) != nil || eb.Error.Code == "" {
			t.Fatalf("%d without a JSON error: %s", res.StatusCode, b)
		}
	}
	return res.StatusCode, u
}

// truth sums a user's stored purchases through the look-up API.
func truth(t *testing.T, s stack, user string) (int64, string) {
	t.Helper()
	var n, cents int64
	cursor := ""
	for {
		url := s.api.URL + "/buyList/" + user + "?limit=100" + cursor
		status, page, eb := get(t, url, testenv.Token)
		if status != 200 {
			t.Fatalf("buyList: %d %+v", status, eb)
		}
		for _, p := range page.Purchases {
			c, problem := contract.ParsePrice(p.Price)
			if problem != "" {
				t.Fatalf("stored price %q: %s", p.Price, problem)
			}
			n, cents = n+1, cents+c
		}
		if page.NextCursor == "" {
			return n, contract.FormatPrice(cents)
		}
		cursor = "&cursor=" + page.NextCursor
	}
}

func TestUserSummary(t *testing.T) {
	s := startAPI(t)
	if status, _ := getUser(t, s, "nobody"); status != http.StatusNotFound {
		t.Fatalf("unknown user: %d, want 404", status)
	}
	t0 := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	a, b := event("zoe", 1999, t0), event("zoe", 1, t0.Add(time.Hour))
	b.Username = "Zoe Renamed"
	produced := time.Now().Truncate(time.Millisecond)
	s.kafka.Produce(t, s.kafka.Topic, record(a), record(b), record(a))
	waitStored(t, s, "zoe", 2)
	testenv.WaitFor(t, 10*time.Second, "the summary", func() bool {
		status, u := getUser(t, s, "zoe")
		return status == 200 && u.PurchaseCount == 2
	})
	_, u := getUser(t, s, "zoe")
	// How current it is: at least as late as the records counted.
	if u.AsOf.Before(produced) || u.AsOf.After(time.Now()) {
		t.Errorf("as_of %v, want the time of the records counted (produced from %v)", u.AsOf, produced)
	}
	want := contract.UserSummary{UserID: "zoe", Username: "Zoe Renamed", PurchaseCount: 2, TotalSpent: "20.00",
		FirstPurchase: t0, LastPurchase: t0.Add(time.Hour), AsOf: u.AsOf}
	if u != want {
		t.Errorf("summary %+v, want %+v", u, want)
	}
	_, page, _ := get(t, s.api.URL+"/buyList/zoe", testenv.Token)
	if page.User == nil || *page.User != want {
		t.Errorf("the page's summary %+v, want %+v", page.User, want)
	}
}

func TestRebuildBesideARunningConsumer(t *testing.T) {
	s := startAPI(t)
	ctx := context.Background()
	users := []string{"r0", "r1", "r2", "r3", "r4"}
	produce := func(from, to int) {
		var msgs []kafka.Message
		for i := from; i < to; i++ {
			msgs = append(msgs, record(event(users[i%len(users)], int64(100+i), time.Now())))
		}
		s.kafka.Produce(t, s.kafka.Topic, msgs...)
	}
	produce(0, 100)
	for _, u := range users {
		waitStored(t, s, u, 20)
		// The summaries trail the purchases: damage them only once written.
		testenv.WaitFor(t, 20*time.Second, "summary of "+u, func() bool {
			status, sum := getUser(t, s, u)
			return status == 200 && sum.PurchaseCount == 20
		})
	}
	// Damage the summaries: one wrong, one gone. A writer changes a summary
	// only with its version (v), which is also how the projection, which
	// remembers what it wrote, learns of a change it did not make.
	c, err := drv.Connect(options.Client().ApplyURI(s.mongo.URI))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(ctx)
	coll := c.Database(s.mongo.Database).Collection("users")
	if _, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: "r0"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "purchase_count", Value: int64(7)}, {Key: "total_cents", Value: int64(7)}}},
		{Key: "$inc", Value: bson.D{{Key: "v", Value: int64(1)}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: "r1"}}); err != nil {
		t.Fatal(err)
	}
	// Purchases keep coming while the rebuild runs.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for batch := 1; batch <= 10; batch++ {
			produce(100*batch, 100*batch+100)
		}
	}()
	// Run as an operator would: cm-api's own Kafka user may not write the topic.
	env := testenv.Merge(s.kafka.OperatorAPIEnv(), s.mongo.APIEnv(), map[string]string{"CM_API_AUTH_TOKEN": testenv.Token, "CM_API_LOG_FORMAT": "json"})
	logs := &testenv.SyncBuffer{}
	rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := app.Run(rctx, []string{"users", "rebuild"}, func(k string) string { return env[k] }, logs, logs); err != nil {
		t.Fatalf("users rebuild: %v\n%s", err, logs)
	}
	if logs.Count(`"msg":"users rebuilt"`) != 1 {
		t.Errorf("rebuild did not report completion:\n%s", logs)
	}
	wg.Wait()
	for _, u := range users {
		testenv.WaitFor(t, 30*time.Second, "all purchases of "+u, func() bool { n, _ := truth(t, s, u); return n == 220 })
	}
	for _, u := range users {
		n, total := truth(t, s, u)
		testenv.WaitFor(t, 20*time.Second, "summary of "+u, func() bool {
			status, sum := getUser(t, s, u)
			return status == 200 && sum.PurchaseCount == n && sum.TotalSpent == total
		})
		if n != 220 {
			t.Errorf("%s has %d purchases stored, want 220", u, n)
		}
	}
	if s.api.Logs.Count("user summary corrected") != 2 {
		t.Errorf("want 2 corrections logged (r0 and r1):\n%s", s.api.Logs)
	}
}
