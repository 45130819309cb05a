// Package mongo stores purchases and user summaries in MongoDB. The purchase id is
// the document _id, so storing an event twice is a duplicate-key error that counts
// as success: that is what makes redelivery from Kafka harmless. Summaries stay
// exact by the rule in cmapi.Summary, without multi-document transactions.
package mongo

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"golang.org/x/sync/errgroup"

	cmapi "github.com/scalable-shop/shop/cm-api"
	"github.com/scalable-shop/shop/contract"
)

// duplicateKey is MongoDB's (and FerretDB's) code for a unique index violation.
const duplicateKey = 11000

// Options say how to reach the database.
type Options struct {
	URI      string
	Database string
	Username string
	Password string
	Timeout  time.Duration
	// TLS, when set, is used for every connection (mongo.tls.*).
	TLS *tls.Config
	// SummaryCollections spreads the user summaries over this many
	// collections (users, users_1, …; 0 or 1: users alone). See users.go.
	SummaryCollections int
	// ListingPages serves look-ups from pages the projection keeps beside
	// the summaries (see pages.go): for FerretDB, off on MongoDB.
	ListingPages bool
}

// Store is the purchases collection.
type Store struct {
	client    *mongo.Client
	purchases *mongo.Collection
	users     []*mongo.Collection // see usersOf
	timeout   time.Duration
	indexed   atomic.Bool
	reach     *reachability
	pages     *mongo.Collection // nil: look-ups by the index (see pages.go)
	pageCache *pageCache
	dirs      *memo[string, []pageRef] // directories of older pages
	garbage   garbage                  // replaced pages, deleted by sweep
	// What this process wrote (remember.go).
	inserted *memo[string, purchaseDoc]
	written  *memo[string, userDoc]
}

// purchaseDoc is a purchase as stored. Money is integer cents, never a float. The
// source position is that of the delivery that created the document: it decides
// which delivery counts the purchase into the user's summary.
type purchaseDoc struct {
	ID           string    `bson:"_id"`
	UserID       string    `bson:"userid"`
	Username     string    `bson:"username"`
	PriceCents   int64     `bson:"price_cents"`
	Timestamp    time.Time `bson:"ts"`
	ReceivedAt   time.Time `bson:"received_at"`
	SrcPartition int       `bson:"src_partition"`
	SrcOffset    *int64    `bson:"src_offset,omitempty"`
}

func (d purchaseDoc) delivery() cmapi.Delivery {
	dl := cmapi.Delivery{Event: contract.Event{Version: contract.EventVersion, ID: d.ID, UserID: d.UserID, Username: d.Username,
		PriceCents: d.PriceCents, Timestamp: d.Timestamp.UTC(), ReceivedAt: d.ReceivedAt.UTC()}, Partition: d.SrcPartition, Offset: -1}
	if d.SrcOffset != nil {
		dl.Offset = *d.SrcOffset
	}
	return dl
}

// Open creates a client. It does not wait for the server: a store that is down at
// start is retried by the consumer like one that goes down later.
func Open(o Options) (*Store, error) {
	reach := newReachability()
	opts := options.Client().ApplyURI(o.URI).
		SetServerSelectionTimeout(o.Timeout).
		SetConnectTimeout(o.Timeout).
		// Look-ups fail at once while every server failed its last heartbeat
		// (see reachability); a short interval sees a recovery soon.
		SetHeartbeatInterval(2 * time.Second).
		SetServerMonitor(reach.monitor()).
		SetAppName("cm-api")
	if o.TLS != nil {
		opts.SetTLSConfig(o.TLS)
	}
	if o.Username != "" {
		opts.SetAuth(options.Credential{Username: o.Username, Password: o.Password, AuthSource: o.Database})
	}
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("mongo.uri: %w", err)
	}
	db := client.Database(o.Database)
	users := []*mongo.Collection{db.Collection("users")}
	for i := 1; i < o.SummaryCollections; i++ {
		users = append(users, db.Collection(fmt.Sprintf("users_%d", i)))
	}
	st := &Store{client: client, purchases: db.Collection("purchases"), users: users, timeout: o.Timeout, reach: reach,
		inserted: newMemo[string, purchaseDoc](rememberedPositions), written: newMemo[string, userDoc](rememberedSummaries)}
	if o.ListingPages {
		st.pages, st.pageCache = db.Collection(PagesCollection), newPageCache(cachedEntries)
		st.dirs = newMemo[string, []pageRef](cachedDirs)
	}
	return st, nil
}

// Close deletes the replaced listing pages not swept yet and disconnects.
func (s *Store) Close(ctx context.Context) error {
	if s.pages != nil {
		sctx, cancel := context.WithTimeout(ctx, s.timeout)
		s.sweep(sctx)
		cancel()
	}
	return s.client.Disconnect(ctx)
}

// Ping checks that the server answers; while it is known to be unreachable it
// says so at once.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.reach.check(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.client.Ping(ctx, nil)
}

// ensureIndexes creates the look-up index once per process. It is idempotent, so
// every replica may race to do it.
func (s *Store) ensureIndexes(ctx context.Context) error {
	if s.indexed.Load() {
		return nil
	}
	_, err := s.purchases.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "userid", Value: 1}, {Key: "ts", Value: -1}, {Key: "_id", Value: -1}},
		Options: options.Index().SetName("userid_ts_id"),
	})
	if err != nil {
		return fmt.Errorf("create index: %w", err)
	}
	s.indexed.Store(true)
	return nil
}

// SavePurchases stores deliveries with one unordered insert; a purchase already
// stored counts as a duplicate. It writes nothing else: the summaries follow on
// their own (ProjectSummaries). Each new document keeps its delivery's position,
// which later decides which delivery counts it into the user's summary.
// Any error is worth retrying: the events were validated before they got here.
func (s *Store) SavePurchases(ctx context.Context, ds []cmapi.Delivery) (inserted, duplicates int, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.ensureIndexes(ctx); err != nil {
		return 0, 0, err
	}
	// The same purchase twice in one batch: the first delivery owns it.
	seen := make(map[string]bool, len(ds))
	docs := make([]purchaseDoc, 0, len(ds))
	for _, d := range ds {
		if seen[d.ID] {
			duplicates++
			continue
		}
		seen[d.ID] = true
		off := d.Offset
		docs = append(docs, purchaseDoc{ID: d.ID, UserID: d.UserID, Username: d.Username, PriceCents: d.PriceCents,
			Timestamp: d.Timestamp.Truncate(time.Millisecond), ReceivedAt: d.ReceivedAt.Truncate(time.Millisecond),
			SrcPartition: d.Partition, SrcOffset: &off})
	}
	existing := map[int]bool{}
	if _, err := s.purchases.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false)); err != nil {
		var bwe mongo.BulkWriteException
		if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || !allDuplicates(bwe) {
			return 0, 0, err
		}
		for _, we := range bwe.WriteErrors {
			existing[we.Index] = true
		}
	}
	for i, d := range docs {
		if !existing[i] {
			s.inserted.put(d.ID, d)
		}
	}
	return len(docs) - len(existing), duplicates + len(existing), nil
}

// storedPositions reads where the stored purchases came from: from memory for
// those this process inserted (remember.go), else one look-up by _id each, every one with its own timeout, a few at a time. A single
// {_id: {$in: ids}} would be one round trip on MongoDB, but FerretDB's SQLite
// backend answers $in by scanning the whole collection (1.6 s for one id among
// 20,000 documents on a busy 2-core machine, 1 ms by equality). A purchase not
// stored yet is left out of the map, not an error.
func (s *Store) storedPositions(ctx context.Context, all []string) (map[string]purchaseDoc, error) {
	m := make(map[string]purchaseDoc, len(all))
	var ids []string
	for _, id := range all {
		if d, ok := s.inserted.take(id); ok {
			m[id] = d
		} else {
			ids = append(ids, id)
		}
	}
	out := make([]purchaseDoc, len(ids))
	found := make([]bool, len(ids))
	proj := options.FindOne().SetProjection(bson.D{{Key: "src_partition", Value: 1}, {Key: "src_offset", Value: 1}})
	err := s.roundTrips(ctx, len(ids), positionReaders, func(ctx context.Context, i int) error {
		err := s.purchases.FindOne(ctx, bson.D{{Key: "_id", Value: ids[i]}}, proj).Decode(&out[i])
		switch {
		case errors.Is(err, mongo.ErrNoDocuments):
			return nil
		case err != nil:
			return fmt.Errorf("purchase %s: %w", ids[i], err)
		}
		found[i] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, id := range ids {
		if found[i] {
			m[id] = out[i]
		}
	}
	return m, nil
}

// roundTrips calls do(ctx, i) for i in [0, n), at most limit at a time, each call
// with its own timeout and nothing bounding them together, so that a slow store
// still makes progress. The first error stops the calls not yet started and
// cancels those running: a store that is down shows as failing after one
// timeout, not one per call. It returns that first error.
func (s *Store) roundTrips(ctx context.Context, n, limit int, do func(ctx context.Context, i int) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(limit) // Go blocks while limit calls run
	for i := range n {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			cctx, cancel := context.WithTimeout(gctx, s.timeout)
			defer cancel()
			return do(cctx, i)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err() // cancelled before every call could start
}

// positionReaders bounds the look-ups of storedPositions in flight: enough to
// hide round trips, few enough to leave the store's connections to others.
const positionReaders = 8

// Listing returns what a page of the API shows: up to limit purchases of
// userID as ListPurchases does, and the user's summary (found false for a
// user without one). With listing pages the summary that names the pages is
// read once for both.
func (s *Store) Listing(ctx context.Context, userID string, afterTS time.Time, afterID string, limit int) ([]contract.Event, cmapi.Summary, bool, error) {
	if s.pages != nil {
		if err := s.reach.check(); err != nil {
			return nil, cmapi.Summary{}, false, err
		}
		ctx, cancel := context.WithTimeout(ctx, s.timeout)
		defer cancel()
		events, d, found, ok, err := s.listPages(ctx, userID, afterTS, afterID, limit)
		if err == nil && !ok { // pages not valid: the index, with the summary already read
			events, err = s.listIndexed(ctx, userID, afterTS, afterID, limit)
		}
		return events, d.summary(), found, err
	}
	events, err := s.ListPurchases(ctx, userID, afterTS, afterID, limit)
	if err != nil {
		return nil, cmapi.Summary{}, false, err
	}
	sum, found, err := s.User(ctx, userID)
	return events, sum, found, err
}

// ListPurchases returns up to limit purchases of userID, newest first, strictly
// after the position (afterTS, afterID) when afterID is not empty.
func (s *Store) ListPurchases(ctx context.Context, userID string, afterTS time.Time, afterID string, limit int) ([]contract.Event, error) {
	if err := s.reach.check(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if s.pages != nil {
		if events, _, _, ok, err := s.listPages(ctx, userID, afterTS, afterID, limit); ok || err != nil {
			return events, err
		}
	}
	return s.listIndexed(ctx, userID, afterTS, afterID, limit)
}

// listIndexed is ListPurchases by the userid_ts_id index: one query.
func (s *Store) listIndexed(ctx context.Context, userID string, afterTS time.Time, afterID string, limit int) ([]contract.Event, error) {
	filter := bson.D{{Key: "userid", Value: userID}}
	if afterID != "" {
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "ts", Value: bson.D{{Key: "$lt", Value: afterTS}}}},
			bson.D{{Key: "ts", Value: afterTS}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: afterID}}}},
		}})
	}
	cur, err := s.purchases.Find(ctx, filter, options.Find().
		SetSort(bson.D{{Key: "ts", Value: -1}, {Key: "_id", Value: -1}}).
		SetLimit(int64(limit)))
	if err != nil {
		return nil, err
	}
	var docs []purchaseDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, err
	}
	out := make([]contract.Event, len(docs))
	for i, d := range docs {
		out[i] = d.delivery().Event
	}
	return out, nil
}
