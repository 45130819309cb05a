package kafka

import (
	"context"
	"errors"
	"time"

	"github.com/segmentio/kafka-go"

	cmapi "github.com/scalable-shop/shop/cm-api"
	"github.com/scalable-shop/shop/platform/kafkaconn"
)

// Summaries is the user summaries' side of the store, which the projection
// keeps. Any error is treated as transient, like the Store's.
type Summaries interface {
	// ProjectSummaries counts a window of deliveries into their users'
	// summaries; it returns cmapi.ErrNotYetStored, counting nothing, while
	// any of their purchases is not stored yet, unless the purchases group's
	// committed offsets (read by offsets, when a purchase is missing) show
	// it skipped (cmapi.Skipped).
	ProjectSummaries(ctx context.Context, window []cmapi.Delivery, offsets func() map[int]int64) (counted, skipped int, err error)
	// RebuildUser recomputes a user's summary for the rebuild command at
	// (partition, offset), stamped at; running it again changes nothing.
	RebuildUser(ctx context.Context, userID string, partition int, offset int64, at time.Time) (before, after cmapi.Summary, err error)
}

// NewProjection returns the projection: a consumer of the same topic in a group
// of its own (opts.Group) that counts the purchases into the user summaries once
// the purchases consumer, whose group is follows, has stored them. It takes the purchases off their
// critical path: they are visible after one insert per batch, while a
// summary is written once per user per window (a batch of opts.BatchSize
// filled for up to opts.BatchWait), however many of the user's purchases the
// window holds. Its lag (Observe.Lag) is how far the summaries trail.
func NewProjection(conn *kafkaconn.Conn, sums Summaries, follows string, opts ConsumerOptions) *Consumer {
	c := newConsumer(conn, opts)
	// Unlike a batch of purchases, a window may be cut short by shutdown: each
	// summary is written whole, with its watermark, so a redelivered window
	// counts what is left and nothing twice.
	c.step = func(ctx, _ context.Context, batch []kafka.Message, p plan) bool {
		return c.project(ctx, ctx, sums, follows, p)
	}
	return c
}

// project counts the batch's purchases, running each rebuild command after the
// purchases delivered before it and before those after it. Dead letters are the
// purchases consumer's.
func (c *Consumer) project(ctx, work context.Context, sums Summaries, follows string, p plan) bool {
	from := 0
	for _, r := range p.rebuilds {
		if !c.projectWindow(ctx, work, sums, follows, p.store[from:r.stored]) {
			return false
		}
		if !c.retry(ctx, "rebuild", func() error { return c.rebuild(work, sums, r) }) {
			return false
		}
		from = r.stored
	}
	return c.projectWindow(ctx, work, sums, follows, p.store[from:])
}

// projectWindow counts one window, retrying until it works or ctx ends.
// Purchases not stored yet are waited for: they are the purchases consumer's
// work in progress, not a failing store.
func (c *Consumer) projectWindow(ctx, work context.Context, sums Summaries, follows string, window []cmapi.Delivery) bool {
	if len(window) == 0 {
		return true
	}
	start := time.Now()
	return c.retry(ctx, "summaries", func() error {
		var counted, skipped int
		var err error
		// Purchases not stored yet are the purchases consumer's batch in
		// flight, stored within milliseconds: polled for soon, not backed
		// off from like a failing store, which would add to every listing's
		// delay.
		for wait := notYetStoredPoll; ; wait = min(2*wait, time.Second) {
			// Unknown offsets (Kafka unreachable) skip nothing: every missing
			// purchase is waited for.
			offsets := func() map[int]int64 {
				octx, cancel := context.WithTimeout(work, 5*time.Second)
				defer cancel()
				committed, _, err := c.conn.GroupOffsets(octx, follows, c.opts.Topic)
				if err != nil {
					return nil
				}
				return committed
			}
			counted, skipped, err = sums.ProjectSummaries(work, window, offsets)
			if err != nil && work.Err() != nil {
				return err // shutting down: not a store failure
			}
			if !errors.Is(err, cmapi.ErrNotYetStored) {
				break
			}
			c.storeAttempt(nil) // the store answered: progress, not a failure
			if !sleep(ctx, wait) {
				return err
			}
		}
		c.storeAttempt(err)
		if err != nil {
			return err
		}
		if skipped > 0 {
			c.opts.Log.Warn("purchases the purchases consumer skipped without storing them are not counted into the summaries",
				"skipped", skipped, "group", follows)
		}
		if c.opts.Observe.Stored != nil {
			c.opts.Observe.Stored(counted, len(window)-counted, time.Since(start))
		}
		return nil
	})
}

// notYetStoredPoll is the first wait for purchases not stored yet; it doubles
// up to a second while they stay missing.
const notYetStoredPoll = 20 * time.Millisecond

func (c *Consumer) rebuild(ctx context.Context, sums Summaries, r Rebuild) error {
	before, after, err := sums.RebuildUser(ctx, r.UserID, r.Partition, r.Offset, r.At)
	if err != nil && ctx.Err() != nil {
		return err // shutting down: not a store failure
	}
	c.storeAttempt(err)
	if err == nil && (before.Count != after.Count || before.TotalCents != after.TotalCents) {
		c.opts.Log.Info("user summary corrected", "userid", r.UserID,
			"count_before", before.Count, "count_after", after.Count,
			"total_cents_before", before.TotalCents, "total_cents_after", after.TotalCents)
	}
	return err
}
