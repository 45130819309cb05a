// Package kafka is cm-api's two consumers of the purchases topic. The purchases
// consumer fetches events in batches, stores them, dead-letters the ones that
// can never be stored, and only then commits. The projection (projection.go),
// a group of its own, follows it and counts the stored purchases into the user
// summaries, so that nothing in the purchases' path grows with the users.
//
// The decisions live in pure parts, each with its own tests: classify (what a
// batch asks for), health (the state probes report), readerError (which reader
// errors matter) and the watchdog (when to rejoin). The Consumer only sequences
// them around kafka-go.
package kafka

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	cmapi "github.com/scalable-shop/shop/cm-api"
	"github.com/scalable-shop/shop/platform/kafkaconn"
)

// Store saves purchase events. Storing an event that is already stored must
// succeed (and count as a duplicate). Any error is treated as transient: the batch
// is retried, with backoff, and not committed until it succeeds.
type Store interface {
	SavePurchases(ctx context.Context, ds []cmapi.Delivery) (inserted, duplicates int, err error)
}

// Observer is told what the consumer did, for metrics. Every field may be nil.
type Observer struct {
	Batch      func(size int)
	Stored     func(inserted, duplicates int, d time.Duration)
	StoreError func()
	DeadLetter func(reason string)
	Stats      func(kafka.ReaderStats)
	// Lag is told the group's lag per partition every few seconds.
	Lag func(partition int, lag int64)
}

// ConsumerOptions tune the consumer.
type ConsumerOptions struct {
	Topic          string
	DLQTopic       string
	Group          string
	BatchSize      int
	BatchWait      time.Duration
	SessionTimeout time.Duration
	// StallTimeout: a consumer whose own partitions have lag but that made no
	// progress for this long reports Stalled (its liveness fails). Zero: never.
	StallTimeout time.Duration
	Log          *slog.Logger
	Observe      Observer
	// Tracer continues each purchase's trace from its record headers into a
	// consumer span around its store write. Nil records no spans.
	Tracer trace.Tracer
	// QuietBroker logs Kafka turning failing or recovering at debug level
	// only: set for the projection, whose brokers and credentials are the
	// purchases consumer's, which says it once.
	QuietBroker bool
}

// Consumer moves events from the topic into the store.
type Consumer struct {
	conn     *kafkaconn.Conn
	opts     ConsumerOptions
	clientID string // unique: how the consumer finds its own assignment (see monitor)
	rp       atomic.Pointer[kafka.Reader]
	dlq      *kafka.Writer // nil in the projection
	// step does what a batch asks, up to the commit, and reports whether it
	// got there (see process).
	step func(ctx, work context.Context, batch []kafka.Message, p plan) bool

	newReader  func() *kafka.Reader
	lastFetch  atomic.Int64 // unix nanos of the last fetched message or batch end
	stopReader atomic.Pointer[context.CancelFunc]
	lastRejoin time.Time

	mu       sync.Mutex // guards health and the explanation cache
	health   *health
	kafkaRaw string // the last reader error as kafka-go worded it
	kafkaErr string // and as explained
}

// NewConsumer returns the purchases consumer; Run starts it.
func NewConsumer(conn *kafkaconn.Conn, store Store, opts ConsumerOptions) *Consumer {
	c := newConsumer(conn, opts)
	c.dlq = conn.NewWriter(opts.DLQTopic, kafkaconn.WriterOptions{})
	c.step = func(ctx, work context.Context, batch []kafka.Message, p plan) bool {
		return c.storePurchases(ctx, work, store, batch, p)
	}
	return c
}

func newConsumer(conn *kafkaconn.Conn, opts ConsumerOptions) *Consumer {
	if opts.Tracer == nil {
		opts.Tracer = noop.NewTracerProvider().Tracer("")
	}
	c := &Consumer{conn: conn, opts: opts, clientID: uniqueClientID(),
		health: newHealth(opts.Group, opts.SessionTimeout, opts.StallTimeout, time.Now())}
	dialer := *conn.Dialer
	dialer.ClientID = c.clientID
	cfg := kafka.ReaderConfig{
		Brokers:  conn.Settings.Brokers,
		GroupID:  opts.Group,
		Topic:    opts.Topic,
		Dialer:   &dialer,
		MinBytes: 1,
		MaxBytes: 10 << 20,
		MaxWait:  500 * time.Millisecond,
		// Zero means synchronous commits: CommitMessages returns once the broker has
		// the offsets, so nothing is committed that is not stored.
		CommitInterval:         0,
		StartOffset:            kafka.FirstOffset,
		HeartbeatInterval:      opts.SessionTimeout / 5,
		SessionTimeout:         opts.SessionTimeout,
		RebalanceTimeout:       opts.SessionTimeout,
		JoinGroupBackoff:       time.Second,
		ReadBackoffMax:         time.Second,
		WatchPartitionChanges:  true,
		PartitionWatchInterval: 10 * time.Second,
		QueueCapacity:          opts.BatchSize,
		ErrorLogger:            kafka.LoggerFunc(func(f string, args ...any) { c.readerFailed(readerError{f, args}) }),
	}
	c.newReader = func() *kafka.Reader { return kafka.NewReader(cfg) }
	c.rp.Store(c.newReader())
	return c
}

// uniqueClientID names this consumer to the brokers, so that it can find itself
// among the group's members.
func uniqueClientID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "cm-api-" + hex.EncodeToString(b)
}

// Status reports the consumer's state now.
func (c *Consumer) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.health.status(time.Now())
}

// readerFailed receives kafka-go's background errors. A refused SASL login only
// shows up here, so it is where the consumer learns that Kafka is unusable.
func (c *Consumer) readerFailed(e readerError) {
	msg := fmt.Sprintf(e.format, e.args...)
	if e.benign() {
		c.opts.Log.Debug("kafka reader", "msg", msg)
		return
	}
	// The same words again need no new explanation (explaining an EOF dials).
	c.mu.Lock()
	explained, known := c.kafkaErr, msg == c.kafkaRaw
	c.mu.Unlock()
	if !known {
		if err := e.err(); err != nil {
			explained = c.conn.Explain(fmt.Errorf("%s: %w", msg, err)).Error()
		} else {
			explained = c.conn.ExplainText(msg)
		}
	}
	c.mu.Lock()
	c.kafkaRaw, c.kafkaErr = msg, explained
	turned := c.health.readerFailed(time.Now(), explained)
	c.mu.Unlock()
	if turned {
		c.opts.Log.Log(context.Background(), c.brokerLevel(slog.LevelError), "kafka consumer failing", "err", explained)
	}
}

// Run consumes until ctx is cancelled. The batch in flight at that moment is
// finished (stored and committed) unless the store is down, in which case it is
// left uncommitted for the next owner of the partition.
func (c *Consumer) Run(ctx context.Context) error {
	go c.monitor(ctx)
	b := newBackoff()
	rctx, cancel := context.WithCancel(ctx)
	c.stopReader.Store(&cancel)
	c.lastFetch.Store(time.Now().UnixNano())
	for {
		batch, err := c.fetch(rctx)
		if ctx.Err() != nil {
			cancel()
			return nil
		}
		if rctx.Err() != nil {
			// The watchdog found the reader stalled: leave the group and join anew.
			cancel()
			_ = c.reader().Close()
			c.rp.Store(c.newReader())
			rctx, cancel = context.WithCancel(ctx)
			c.stopReader.Store(&cancel)
			c.lastFetch.Store(time.Now().UnixNano())
			continue
		}
		if err != nil {
			c.readerFailed(readerError{"fetch: %w", []any{err}})
			if !sleep(ctx, b.NextBackOff()) {
				cancel()
				return nil
			}
			continue
		}
		b.Reset()
		c.process(ctx, batch)
	}
}

// fetch blocks for one message, then takes whatever else arrives within BatchWait.
func (c *Consumer) fetch(ctx context.Context) ([]kafka.Message, error) {
	m, err := c.reader().FetchMessage(ctx)
	if err != nil {
		return nil, err
	}
	c.fetched()
	batch := []kafka.Message{m}
	wctx, cancel := context.WithTimeout(ctx, c.opts.BatchWait)
	defer cancel()
	for len(batch) < c.opts.BatchSize {
		m, err := c.reader().FetchMessage(wctx)
		if err != nil {
			break
		}
		batch = append(batch, m)
	}
	return batch, nil
}

func (c *Consumer) inBatch(started bool) {
	c.mu.Lock()
	c.health.batch(time.Now(), started)
	c.mu.Unlock()
}

func (c *Consumer) fetched() {
	now := time.Now()
	c.lastFetch.Store(now.UnixNano())
	c.mu.Lock()
	c.health.fetched(now)
	c.mu.Unlock()
}

// process does what the batch asks (step), and only then commits it: that is
// the heart of the delivery guarantee.
func (c *Consumer) process(ctx context.Context, batch []kafka.Message) {
	c.inBatch(true)
	defer func() {
		c.inBatch(false)
		c.fetched()
	}()
	if c.opts.Observe.Batch != nil {
		c.opts.Observe.Batch(len(batch))
	}
	// A write in flight is not interrupted by shutdown; the retry loops stop early
	// instead, leaving the batch uncommitted.
	work := context.WithoutCancel(ctx)
	if !c.step(ctx, work, batch, classify(batch)) {
		return
	}
	cctx, cancel := context.WithTimeout(work, 10*time.Second)
	defer cancel()
	if err := c.reader().CommitMessages(cctx, batch...); err != nil {
		// Not lost: the events are stored, and a redelivery is a duplicate.
		c.opts.Log.Warn("commit failed; the batch will be redelivered and skipped as duplicates", "err", err.Error(), "size", len(batch))
	}
}

// storePurchases writes the dead letters, then stores the valid events. The
// rebuild commands are the projection's.
func (c *Consumer) storePurchases(ctx, work context.Context, store Store, batch []kafka.Message, p plan) bool {
	if len(p.dead) > 0 {
		records := make([]kafka.Message, len(p.dead))
		for i, d := range p.dead {
			records[i] = d.record()
			if c.opts.Observe.DeadLetter != nil {
				c.opts.Observe.DeadLetter(d.reason)
			}
		}
		if !c.retry(ctx, "dead-letter", func() error { return c.dlq.WriteMessages(work, records...) }) {
			return false
		}
	}
	if len(p.store) == 0 {
		return true
	}
	spans := c.startSpans(work, batch, p.store)
	defer endSpans(spans)
	start := time.Now()
	return c.retry(ctx, "store", func() error {
		inserted, dups, err := store.SavePurchases(work, p.store)
		c.storeAttempt(err)
		if err != nil {
			return err
		}
		if c.opts.Observe.Stored != nil {
			c.opts.Observe.Stored(inserted, dups, time.Since(start))
		}
		if c.opts.Log.Enabled(work, slog.LevelDebug) {
			for i, e := range p.store {
				c.opts.Log.DebugContext(spans[i].ctx, "purchase stored", "purchase_id", e.ID, "userid", e.UserID,
					"partition", e.Partition, "offset", e.Offset)
			}
		}
		return nil
	})
}

// storeAttempt records the outcome of a MongoDB write in health, logging when
// the store turns failing or recovers.
func (c *Consumer) storeAttempt(err error) {
	c.mu.Lock()
	turnedFailing, recovered := c.health.stored(time.Now(), err)
	c.mu.Unlock()
	switch {
	case turnedFailing:
		c.opts.Log.Error("mongodb write failing; pausing consumption, nothing is committed until it recovers", "err", err.Error(), "group", c.opts.Group)
	case recovered:
		c.opts.Log.Info("mongodb write recovered", "group", c.opts.Group)
	}
	if err != nil && c.opts.Observe.StoreError != nil {
		c.opts.Observe.StoreError()
	}
}

// retry runs op until it succeeds or ctx ends; it reports whether op succeeded.
func (c *Consumer) retry(ctx context.Context, what string, op func() error) bool {
	_, err := backoff.Retry(ctx, func() (struct{}, error) { return struct{}{}, op() },
		backoff.WithBackOff(newBackoff()),
		// Never give up: an event not stored must not be committed, and a
		// consumer that stopped retrying would only be restarted to retry again.
		backoff.WithMaxElapsedTime(0),
		backoff.WithNotify(func(err error, next time.Duration) {
			c.opts.Log.Debug("retrying", "op", what, "err", err.Error(), "in", next.String())
		}))
	return err == nil
}

// newBackoff doubles from 100 ms up to 5 s, with jitter so that replicas do not
// retry in step.
func newBackoff() *backoff.ExponentialBackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 100 * time.Millisecond
	b.Multiplier = 2
	b.MaxInterval = 5 * time.Second
	b.RandomizationFactor = 0.5
	b.Reset()
	return b
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (c *Consumer) reader() *kafka.Reader { return c.rp.Load() }

func (c *Consumer) brokerLevel(l slog.Level) slog.Level {
	if c.opts.QuietBroker {
		return slog.LevelDebug
	}
	return l
}

// Close leaves the group (handing partitions over at once) and flushes the DLQ.
func (c *Consumer) Close() error {
	rerr := c.reader().Close()
	var werr error
	if c.dlq != nil {
		werr = c.dlq.Close()
	}
	if rerr != nil {
		return rerr
	}
	return werr
}
