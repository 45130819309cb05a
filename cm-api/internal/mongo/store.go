// Package mongo stores purchases in MongoDB. The purchase id is the document _id,
// so storing an event twice is a duplicate-key error that counts as success: that
// is what makes redelivery from Kafka harmless.
package mongo

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

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
}

// Store is the purchases collection.
type Store struct {
	client    *mongo.Client
	purchases *mongo.Collection
	timeout   time.Duration
	indexed   atomic.Bool
}

// purchaseDoc is a purchase as stored. Money is integer cents, never a float.
type purchaseDoc struct {
	ID         string    `bson:"_id"`
	UserID     string    `bson:"userid"`
	Username   string    `bson:"username"`
	PriceCents int64     `bson:"price_cents"`
	Timestamp  time.Time `bson:"ts"`
	ReceivedAt time.Time `bson:"received_at"`
}

// Open creates a client. It does not wait for the server: a store that is down at
// start is retried by the consumer like one that goes down later.
func Open(o Options) (*Store, error) {
	opts := options.Client().ApplyURI(o.URI).
		SetServerSelectionTimeout(o.Timeout).
		SetConnectTimeout(o.Timeout).
		SetAppName("cm-api")
	if o.Username != "" {
		opts.SetAuth(options.Credential{Username: o.Username, Password: o.Password, AuthSource: o.Database})
	}
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("mongo.uri: %w", err)
	}
	return &Store{client: client, purchases: client.Database(o.Database).Collection("purchases"), timeout: o.Timeout}, nil
}

// Close disconnects.
func (s *Store) Close(ctx context.Context) error { return s.client.Disconnect(ctx) }

// Ping checks that the server answers.
func (s *Store) Ping(ctx context.Context) error {
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

// SavePurchases inserts events, unordered, in one round trip. Events already
// stored are counted as duplicates, not errors. Any error is worth retrying: the
// events were validated before they got here.
func (s *Store) SavePurchases(ctx context.Context, events []contract.Event) (inserted, duplicates int, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.ensureIndexes(ctx); err != nil {
		return 0, 0, err
	}
	docs := make([]purchaseDoc, len(events))
	for i, e := range events {
		docs[i] = purchaseDoc{ID: e.ID, UserID: e.UserID, Username: e.Username, PriceCents: e.PriceCents,
			Timestamp: e.Timestamp.Truncate(time.Millisecond), ReceivedAt: e.ReceivedAt.Truncate(time.Millisecond)}
	}
	_, err = s.purchases.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err == nil {
		return len(docs), 0, nil
	}
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
		return 0, 0, err
	}
	for _, we := range bwe.WriteErrors {
		if we.Code != duplicateKey {
			return 0, 0, err
		}
	}
	return len(docs) - len(bwe.WriteErrors), len(bwe.WriteErrors), nil
}

// ListPurchases returns up to limit purchases of userID, newest first, strictly
// after the position (afterTS, afterID) when afterID is not empty.
func (s *Store) ListPurchases(ctx context.Context, userID string, afterTS time.Time, afterID string, limit int) ([]contract.Event, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
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
		out[i] = contract.Event{Version: contract.EventVersion, ID: d.ID, UserID: d.UserID, Username: d.Username,
			PriceCents: d.PriceCents, Timestamp: d.Timestamp.UTC(), ReceivedAt: d.ReceivedAt.UTC()}
	}
	return out, nil
}
