package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/scalable-shop/shop/cm-api/internal/mongo"
	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/platform/kafkaconn"
	"github.com/scalable-shop/shop/platform/logging"
)

// rebuildUsers is `cm-api users rebuild`: recompute every user summary from the
// purchases. It does not write summaries itself: it puts one rebuild command per
// user on the purchases topic, keyed by the user, so the projection that owns the
// user's partition recomputes the summary in order with the user's purchases.
// That is what makes it safe beside a running consumer. It then waits until the
// projection's group has caught up with the commands.
func rebuildUsers(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := LoadConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	log, err := logging.New(stdout, "cm-api", cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	conn, err := kafkaconn.New(cfg.Kafka)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	mongoTLS, err := cfg.Security.mongoTLS()
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	store, err := mongo.Open(mongo.Options{URI: cfg.MongoURI, Database: cfg.MongoDatabase,
		Username: cfg.MongoUsername, Password: cfg.MongoPassword, Timeout: cfg.MongoTimeout, TLS: mongoTLS,
		SummaryCollections: cfg.SummaryCollections, ListingPages: cfg.ListingPages})
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	defer store.Close(context.WithoutCancel(ctx))

	start := time.Now()
	users, err := store.UserIDs(ctx)
	if err != nil {
		return err
	}
	w := conn.NewWriter(cfg.Topic, kafkaconn.WriterOptions{BatchTimeout: 10 * time.Millisecond})
	defer w.Close()
	msgs := make([]kafkago.Message, len(users))
	for i, u := range users {
		v, _ := json.Marshal(contract.RebuildUser{UserID: u})
		msgs[i] = kafkago.Message{Key: []byte(u), Value: v,
			Headers: []kafkago.Header{{Key: contract.HeaderCommand, Value: []byte(contract.CommandRebuildUser)}}}
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("queueing rebuild commands on %s: %w (the Kafka user needs Write on that topic)", cfg.Topic, conn.Explain(err))
	}
	log.Info("rebuild commands queued", "users", len(users))

	// Done when the projection has committed past everything on the topic now.
	for {
		lag, err := conn.GroupLag(ctx, cfg.Summaries.Group, cfg.Topic)
		if err == nil && lag == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped before the consumer caught up (lag %d): the commands stay queued and will be applied", lag)
		case <-time.After(500 * time.Millisecond):
		}
	}
	log.Info("users rebuilt", "users", len(users), "duration_ms", time.Since(start).Milliseconds())
	return nil
}
