package mongo_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	drv "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	cmapi "github.com/scalable-shop/shop/cm-api"
	"github.com/scalable-shop/shop/cm-api/internal/mongo"
	"github.com/scalable-shop/shop/contract"
)

func openStore(t *testing.T) (*mongo.Store, *drv.Database) {
	t.Helper()
	return openStoreOver(t, 1)
}

// openStoreOver opens a store whose summaries are spread over n collections.
func openStoreOver(t *testing.T, n int) (*mongo.Store, *drv.Database) {
	t.Helper()
	return openStoreWith(t, mongo.Options{SummaryCollections: n}, database())
}

// openStoreWith opens a store with o on the test server's database db.
func openStoreWith(t *testing.T, o mongo.Options, db string) (*mongo.Store, *drv.Database) {
	t.Helper()
	uri := infra.MongoURI
	o.URI, o.Database, o.Timeout = uri, db, 10*time.Second
	s, err := mongo.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	c, err := drv.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return s, c.Database(db)
}

var t0 = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)

func d(user string, n, p int, off int64) cmapi.Delivery {
	return cmapi.Delivery{Event: contract.Event{Version: 1, ID: fmt.Sprintf("00000000-0000-7000-8000-%012d", n), UserID: user,
		Username: "User " + user, PriceCents: int64(100 + n), Timestamp: t0.Add(time.Duration(n) * time.Second), ReceivedAt: t0},
		Partition: p, Offset: off}
}

func summary(t *testing.T, s *mongo.Store, user string) cmapi.Summary {
	t.Helper()
	sum, ok, err := s.User(context.Background(), user)
	if err != nil || !ok {
		t.Fatalf("summary of %s: ok=%v err=%v", user, ok, err)
	}
	return sum
}

// truth computes what the summary must say from the purchases stored.
func truth(t *testing.T, db *drv.Database, user string) (count, cents int64) {
	t.Helper()
	cur, err := db.Collection("purchases").Find(context.Background(), bson.D{{Key: "userid", Value: user}})
	if err != nil {
		t.Fatal(err)
	}
	var docs []struct {
		Price int64 `bson:"price_cents"`
	}
	if err := cur.All(context.Background(), &docs); err != nil {
		t.Fatal(err)
	}
	for _, x := range docs {
		count++
		cents += x.Price
	}
	return count, cents
}

// save stores a batch and then counts it into the summaries, as the purchases
// consumer and the projection do.
func save(t *testing.T, s *mongo.Store, batch []cmapi.Delivery) (inserted, duplicates int) {
	t.Helper()
	ins, dup, err := s.SavePurchases(context.Background(), batch)
	if err != nil {
		t.Fatalf("save: %v", err)
	}
	if _, _, err := s.ProjectSummaries(context.Background(), batch, nil); err != nil {
		t.Fatalf("project: %v", err)
	}
	return ins, dup
}

func TestRedeliveryAndDuplicateRecordsCountOnce(t *testing.T) {
	s, db := openStore(t)
	batch := []cmapi.Delivery{d("ann", 1, 0, 10), d("ann", 2, 0, 11), d("ben", 3, 1, 4)}
	if ins, dup := save(t, s, batch); ins != 3 || dup != 0 {
		t.Fatalf("first save: %d %d", ins, dup)
	}
	// The whole batch again (a crash before the commit), and a producer retry
	// that put purchase 1 on the topic a second time at offset 12.
	again := append(append([]cmapi.Delivery{}, batch...), d("ann", 1, 0, 12))
	if ins, dup := save(t, s, again); ins != 0 || dup != 4 {
		t.Fatalf("redelivery: inserted %d duplicates %d", ins, dup)
	}
	// The producer's copy arriving in a later batch of its own.
	if _, dup := save(t, s, []cmapi.Delivery{d("ann", 1, 0, 13)}); dup != 1 {
		t.Fatalf("late duplicate: %d", dup)
	}
	ann := summary(t, s, "ann")
	if ann.Count != 2 || ann.TotalCents != 101+102 {
		t.Errorf("ann: %d purchases, %d cents; want 2 and 203", ann.Count, ann.TotalCents)
	}
	if c, cents := truth(t, db, "ann"); c != ann.Count || cents != ann.TotalCents {
		t.Errorf("summary %d/%d, purchases %d/%d", ann.Count, ann.TotalCents, c, cents)
	}
}

// The projection may run ahead of the purchases consumer: it must wait for the
// purchases, not count them early nor skip them.
func TestTheProjectionWaitsForThePurchases(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	first, second := []cmapi.Delivery{d("dan", 1, 0, 1)}, []cmapi.Delivery{d("dan", 1, 0, 1), d("dan", 2, 0, 2)}
	if _, _, err := s.SavePurchases(ctx, first); err != nil {
		t.Fatal(err)
	}
	// The purchases group is at offset 2: purchase 2 is on its way, not skipped.
	if _, _, err := s.ProjectSummaries(ctx, second, func() map[int]int64 { return map[int]int64{0: 2} }); !errors.Is(err, cmapi.ErrNotYetStored) {
		t.Fatalf("projecting before purchase 2 is stored: %v, want ErrNotYetStored", err)
	}
	if _, ok, _ := s.User(ctx, "dan"); ok {
		t.Fatal("a window with a purchase not stored yet was partly counted")
	}
	if _, _, err := s.SavePurchases(ctx, second); err != nil {
		t.Fatal(err)
	}
	if n, _, err := s.ProjectSummaries(ctx, second, nil); err != nil || n != 2 {
		t.Fatalf("projecting once stored: %d counted, %v", n, err)
	}
	if dan := summary(t, s, "dan"); dan.Count != 2 || dan.TotalCents != 203 {
		t.Errorf("dan: %d purchases, %d cents; want 2 and 203", dan.Count, dan.TotalCents)
	}
}

// An operator moved the purchases group past a backlog: those purchases are
// never stored, and the projection must count the rest instead of waiting.
func TestPurchasesTheConsumerSkippedAreNotWaitedFor(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	stored, skippedOne := d("eve", 1, 0, 1), d("eve", 2, 0, 2)
	if _, _, err := s.SavePurchases(ctx, []cmapi.Delivery{stored}); err != nil {
		t.Fatal(err)
	}
	n, skipped, err := s.ProjectSummaries(ctx, []cmapi.Delivery{stored, skippedOne}, func() map[int]int64 { return map[int]int64{0: 3} })
	if err != nil || n != 1 || skipped != 1 {
		t.Fatalf("counted %d, skipped %d, err %v; want 1, 1 and none", n, skipped, err)
	}
	if eve := summary(t, s, "eve"); eve.Count != 1 || eve.TotalCents != 101 {
		t.Errorf("eve: %d purchases, %d cents; want 1 and 101", eve.Count, eve.TotalCents)
	}
}

// The purchases consumer stores a purchase and commits past it after the
// projection looked for it and before the projection read the committed
// offsets: the purchase is stored, not skipped, and must be counted.
func TestAPurchaseStoredWhileTheOffsetsAreReadIsCounted(t *testing.T) {
	s, db := openStore(t)
	other, _ := openStoreWith(t, mongo.Options{}, db.Name()) // another process's purchases consumer
	ctx := context.Background()
	early, late := d("fay", 1, 0, 1), d("fay", 2, 0, 2)
	if _, _, err := s.SavePurchases(ctx, []cmapi.Delivery{early}); err != nil {
		t.Fatal(err)
	}
	offsets := func() map[int]int64 {
		if _, _, err := other.SavePurchases(ctx, []cmapi.Delivery{late}); err != nil {
			t.Error(err)
		}
		return map[int]int64{0: 3}
	}
	n, skipped, err := s.ProjectSummaries(ctx, []cmapi.Delivery{early, late}, offsets)
	if err != nil || n != 2 || skipped != 0 {
		t.Fatalf("counted %d, skipped %d, err %v; want both counted, none skipped", n, skipped, err)
	}
	if fay := summary(t, s, "fay"); fay.Count != 2 {
		t.Errorf("fay: %d purchases, want 2", fay.Count)
	}
}

func TestACrashBetweenTheTwoWritesIsRepairedByRedelivery(t *testing.T) {
	s, db := openStore(t)
	ctx := context.Background()
	// The purchase documents made it, the summary did not: what a SIGKILL between
	// the insert and the summary write leaves behind.
	off := int64(7)
	_, err := db.Collection("purchases").InsertOne(ctx, bson.D{{Key: "_id", Value: d("cat", 1, 0, 7).ID},
		{Key: "userid", Value: "cat"}, {Key: "username", Value: "User cat"}, {Key: "price_cents", Value: int64(101)},
		{Key: "ts", Value: t0}, {Key: "received_at", Value: t0}, {Key: "src_partition", Value: 0}, {Key: "src_offset", Value: off}})
	if err != nil {
		t.Fatal(err)
	}
	save(t, s, []cmapi.Delivery{d("cat", 1, 0, 7), d("cat", 2, 0, 8)})
	if cat := summary(t, s, "cat"); cat.Count != 2 || cat.TotalCents != 203 {
		t.Errorf("after redelivery: %d purchases, %d cents; want 2 and 203", cat.Count, cat.TotalCents)
	}
	// And a crash after the summary write, before the projection's commit.
	save(t, s, []cmapi.Delivery{d("cat", 1, 0, 7), d("cat", 2, 0, 8)})
	if cat := summary(t, s, "cat"); cat.Count != 2 {
		t.Errorf("after the projection's redelivery: %d purchases, want 2", cat.Count)
	}
}

func TestRebuildRecountsFromThePurchases(t *testing.T) {
	s, db := openStore(t)
	ctx := context.Background()
	var batch []cmapi.Delivery
	for i := range 30 {
		batch = append(batch, d(fmt.Sprintf("u%d", i%3), i, i%3, int64(i)))
	}
	save(t, s, batch)
	// Corrupt one summary and lose another entirely.
	if _, err := db.Collection("users").UpdateOne(ctx, bson.D{{Key: "_id", Value: "u0"}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "purchase_count", Value: int64(999)}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Collection("users").DeleteOne(ctx, bson.D{{Key: "_id", Value: "u1"}}); err != nil {
		t.Fatal(err)
	}
	// Purchases of a later record, stored before the projection reaches the
	// command: the rebuild must leave them to the projection.
	later := []cmapi.Delivery{d("u0", 90, 0, 200), d("u1", 91, 1, 201)}
	if _, _, err := s.SavePurchases(ctx, later); err != nil {
		t.Fatal(err)
	}
	users, err := s.UserIDs(ctx)
	if err != nil || len(users) != 3 {
		t.Fatalf("user ids %v %v", users, err)
	}
	for i, u := range users {
		// As the projection does on a rebuild command at offset 100+i.
		if _, _, err := s.RebuildUser(ctx, u, i, int64(100+i), t0); err != nil {
			t.Fatal(err)
		}
	}
	// Then the later records, and a redelivery of old records and of a command.
	if _, _, err := s.ProjectSummaries(ctx, later, nil); err != nil {
		t.Fatal(err)
	}
	save(t, s, batch)
	if _, _, err := s.RebuildUser(ctx, "u0", 0, 100, t0); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"u0": 11, "u1": 11, "u2": 10}
	for _, u := range users {
		sum := summary(t, s, u)
		c, cents := truth(t, db, u)
		if sum.Count != c || sum.TotalCents != cents || c != want[u] {
			t.Errorf("%s: summary %d/%d, purchases %d/%d (want %d purchases)", u, sum.Count, sum.TotalCents, c, cents, want[u])
		}
	}
}

// Spread over collections, as make run does, summaries stay exact, each user's
// in one place: the same redeliveries, duplicates and rebuilds as above.
func TestSummariesSpreadOverCollectionsStayExact(t *testing.T) {
	s, db := openStoreOver(t, 8)
	ctx := context.Background()
	var batch []cmapi.Delivery
	for i := range 60 {
		batch = append(batch, d(fmt.Sprintf("s%d", i%12), i, i%3, int64(i)))
	}
	save(t, s, batch)
	save(t, s, append(batch[:10:10], d("s0", 0, 0, 99))) // a redelivery and a producer's copy
	for i, u := range []string{"s0", "s1"} {
		if _, _, err := s.RebuildUser(ctx, u, i%3, int64(200+i), t0); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 12 {
		u := fmt.Sprintf("s%d", i)
		sum := summary(t, s, u)
		c, cents := truth(t, db, u)
		if sum.Count != 5 || sum.Count != c || sum.TotalCents != cents {
			t.Errorf("%s: summary %d/%d, purchases %d/%d (want 5 purchases)", u, sum.Count, sum.TotalCents, c, cents)
		}
	}
	names, err := db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	spread := 0
	for _, n := range names {
		if n == "users" || strings.HasPrefix(n, "users_") {
			spread++
		}
	}
	if spread < 4 {
		t.Errorf("12 users' summaries are in %d collections (%v), want them spread over most of 8", spread, names)
	}
}

func TestUnknownUserHasNoSummary(t *testing.T) {
	s, _ := openStore(t)
	if _, ok, err := s.User(context.Background(), "nobody"); ok || err != nil {
		t.Fatalf("ok=%v err=%v", ok, err)
	}
}
