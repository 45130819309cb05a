package mongo_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	drv "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	cmapi "github.com/scalable-shop/shop/cm-api"
	"github.com/scalable-shop/shop/cm-api/internal/mongo"
	"github.com/scalable-shop/shop/contract"
)

// The store batcher: one consumer batch (cm-api's default kafka.batch_size, 500
// events over 100 users) written with SavePurchases, against FerretDB (the
// embedded SQLite one, or MONGO_URI, e.g. FerretDB on PostgreSQL), beside the raw
// unordered insert of the same documents. Compare runs with benchstat.

const benchBatch, benchUsers = 500, 100

func benchDeliveries(batch int) []cmapi.Delivery {
	ds := make([]cmapi.Delivery, benchBatch)
	for i := range ds {
		n := batch*benchBatch + i
		u := fmt.Sprintf("bench-%d", n%benchUsers)
		ds[i] = cmapi.Delivery{Event: contract.Event{Version: 1, ID: fmt.Sprintf("00000000-0000-7000-8000-%012d", n), UserID: u,
			Username: "User " + u, PriceCents: int64(100 + n%1000), Timestamp: t0.Add(time.Duration(n) * time.Millisecond), ReceivedAt: t0},
			Partition: n % 6, Offset: int64(n / 6)}
	}
	return ds
}

func BenchmarkSavePurchases(b *testing.B) {
	uri, db := infra.MongoURI, database()
	s, err := mongo.Open(mongo.Options{URI: uri, Database: db, Timeout: 30 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(context.Background())
	ctx := context.Background()
	batch := 0
	if _, _, err := s.SavePurchases(ctx, benchDeliveries(batch)); err != nil { // index, connections
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		batch++
		b.StopTimer()
		ds := benchDeliveries(batch)
		b.StartTimer()
		ins, _, err := s.SavePurchases(ctx, ds)
		if err != nil || ins != benchBatch {
			b.Fatalf("inserted %d: %v", ins, err)
		}
	}
	b.ReportMetric(float64(batch*benchBatch)/time.Since(start).Seconds(), "docs/s")
}

func BenchmarkRawInsertMany(b *testing.B) {
	uri, db := infra.MongoURI, database()
	c, err := drv.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Disconnect(context.Background())
	ctx := context.Background()
	coll := c.Database(db).Collection("purchases")
	if _, err := coll.Indexes().CreateOne(ctx, drv.IndexModel{
		Keys: bson.D{{Key: "userid", Value: 1}, {Key: "ts", Value: -1}, {Key: "_id", Value: -1}},
	}); err != nil {
		b.Fatal(err)
	}
	docs := func(batch int) []any {
		out := make([]any, 0, benchBatch)
		for _, d := range benchDeliveries(batch) {
			out = append(out, bson.D{{Key: "_id", Value: d.ID}, {Key: "userid", Value: d.UserID}, {Key: "username", Value: d.Username},
				{Key: "price_cents", Value: d.PriceCents}, {Key: "ts", Value: d.Timestamp}, {Key: "received_at", Value: d.ReceivedAt},
				{Key: "src_partition", Value: d.Partition}, {Key: "src_offset", Value: d.Offset}})
		}
		return out
	}
	batch := 0
	start := time.Now()
	for b.Loop() {
		batch++
		b.StopTimer()
		ds := docs(batch)
		b.StartTimer()
		if _, err := coll.InsertMany(ctx, ds, options.InsertMany().SetOrdered(false)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(batch*benchBatch)/time.Since(start).Seconds(), "docs/s")
}

// The projection's side: each window (a stored batch) counted into the
// summaries and, with listing pages, the pages; as make run is configured.
func BenchmarkProjectSummaries(b *testing.B) {
	for _, pages := range []bool{false, true} {
		b.Run(fmt.Sprintf("listing_pages=%v", pages), func(b *testing.B) {
			s, err := mongo.Open(mongo.Options{URI: infra.MongoURI, Database: database(), Timeout: 30 * time.Second,
				SummaryCollections: 64, ListingPages: pages})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close(context.Background())
			ctx := context.Background()
			batch := 0
			var ds []cmapi.Delivery
			next := func() {
				batch++
				ds = benchDeliveries(batch)
				if _, _, err := s.SavePurchases(ctx, ds); err != nil {
					b.Fatal(err)
				}
			}
			spent := time.Duration(0)
			for b.Loop() {
				b.StopTimer()
				next()
				b.StartTimer()
				t := time.Now()
				if n, _, err := s.ProjectSummaries(ctx, ds, nil); err != nil || n != benchBatch {
					b.Fatalf("counted %d: %v", n, err)
				}
				spent += time.Since(t)
			}
			b.ReportMetric(float64(batch*benchBatch)/spent.Seconds(), "events/s")
		})
	}
}
