// Package kafka is cm-api's consumer: it fetches purchase events in batches, stores
// them, dead-letters the ones that can never be stored, and only then commits.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	cmapi "github.com/scalable-shop/shop/cm-api"
	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/platform/kafkaconn"
	"github.com/scalable-shop/shop/platform/tracing"
)

// Store saves purchase events. Storing an event that is already stored must
// succeed (and count as a duplicate). Any error is treated as transient: the batch
// is retried, with backoff, and not committed until it succeeds.
type Store interface {
	SavePurchases(ctx context.Context, ds []cmapi.Delivery) (inserted, duplicates int, err error)
	// RebuildUser recomputes a user's summary for the rebuild command at
	// (partition, offset); running it again gives the same result.
	RebuildUser(ctx context.Context, userID string, partition int, offset int64) (before, after cmapi.Summary, err error)
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
	Log            *slog.Logger
	Observe        Observer
	// Tracer continues each purchase's trace from its record headers into a
	// consumer span around its store write. Nil records no spans.
	Tracer trace.Tracer
}

// Consumer moves events from the topic into the store.
type Consumer struct {
	conn  *kafkaconn.Conn
	opts  ConsumerOptions
	store Store
	rp    atomic.Pointer[kafka.Reader]
	dlq   *kafka.Writer

	// The stall watchdog: a reader that holds partitions with lag but fetches
	// nothing for long is replaced, which rejoins the group.
	newReader  func() *kafka.Reader
	lastFetch  atomic.Int64 // unix nanos of the last fetched message or batch end
	busy       atomic.Bool  // a batch is being processed (store retries included)
	stopReader atomic.Pointer[context.CancelFunc]
	lastRejoin time.Time

	joined      atomic.Bool // a group generation was joined
	storeFailed atomic.Bool
	kafkaFailed atomic.Bool
	mu          sync.Mutex
	lastKafka   time.Time // last time the reader reported an error
	kafkaErr    string    // that error, explained
	kafkaRaw    string    // that error as kafka-go worded it
}

// NewConsumer returns a consumer; Run starts it.
func NewConsumer(conn *kafkaconn.Conn, store Store, opts ConsumerOptions) *Consumer {
	if opts.Tracer == nil {
		opts.Tracer = noop.NewTracerProvider().Tracer("")
	}
	c := &Consumer{conn: conn, opts: opts, store: store}
	cfg := kafka.ReaderConfig{
		Brokers:  conn.Settings.Brokers,
		GroupID:  opts.Group,
		Topic:    opts.Topic,
		Dialer:   conn.Dialer,
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
		ErrorLogger:            kafka.LoggerFunc(c.readerError),
	}
	c.newReader = func() *kafka.Reader { return kafka.NewReader(cfg) }
	c.rp.Store(c.newReader())
	c.dlq = conn.NewWriter(opts.DLQTopic, kafkaconn.WriterOptions{})
	return c
}

// benignReaderErrors are what kafka-go reports in normal operation: a long-poll
// fetch that the broker answers just after kafka-go's own deadline, a fetch at
// the end of a partition, or a rebalance that began while this member joined
// (Apache Kafka answers a SyncGroup so when a killed member comes back; kafka-go joins
// again by itself). They say nothing about the health of the consumer; a group
// that never settles shows as "not yet a member" in Ready.
var benignReaderErrors = []string{"i/o timeout", "reading passed the last offset", "reading before the first offset",
	"[27] Rebalance In Progress"}

// readerError receives kafka-go's background errors. A refused SASL login only
// shows up here, so it is where the consumer learns that Kafka is unusable.
func (c *Consumer) readerError(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	for _, benign := range benignReaderErrors {
		if strings.Contains(msg, benign) {
			c.opts.Log.Debug("kafka reader", "msg", msg)
			return
		}
	}
	// The same words again need no new explanation (explaining an EOF dials).
	c.mu.Lock()
	explained, known := c.kafkaErr, msg == c.kafkaRaw
	c.mu.Unlock()
	if !known {
		explained = c.conn.ExplainText(msg)
	}
	c.mu.Lock()
	c.lastKafka, c.kafkaErr, c.kafkaRaw = time.Now(), explained, msg
	c.mu.Unlock()
	if c.kafkaFailed.CompareAndSwap(false, true) {
		c.opts.Log.Error("kafka consumer failing", "err", explained)
	}
}

// Ready reports whether the consumer is doing its job, and if not, why.
func (c *Consumer) Ready() (ok bool, why string) {
	c.mu.Lock()
	recent := time.Since(c.lastKafka) < 2*c.opts.SessionTimeout
	kerr := c.kafkaErr
	c.mu.Unlock()
	switch {
	case c.storeFailed.Load():
		return false, "cannot write to MongoDB; retrying"
	case recent && c.kafkaFailed.Load():
		return false, kerr
	case !c.joined.Load():
		return false, "not yet a member of consumer group " + c.opts.Group
	}
	return true, ""
}

// Run consumes until ctx is cancelled. The batch in flight at that moment is
// finished (stored and committed) unless the store is down, in which case it is
// left uncommitted for the next owner of the partition.
func (c *Consumer) Run(ctx context.Context) error {
	go c.watchStats(ctx)
	backoff := newBackoff()
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
			c.readerError("fetch: %v", err)
			sleep(ctx, backoff.next())
			continue
		}
		backoff.reset()
		c.process(ctx, batch)
	}
}

// fetch blocks for one message, then takes whatever else arrives within BatchWait.
func (c *Consumer) fetch(ctx context.Context) ([]kafka.Message, error) {
	m, err := c.reader().FetchMessage(ctx)
	if err != nil {
		return nil, err
	}
	c.lastFetch.Store(time.Now().UnixNano())
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

// process is the heart of the delivery guarantee: dead letters are written, then
// valid events are stored, and only then is the batch committed.
func (c *Consumer) process(ctx context.Context, batch []kafka.Message) {
	c.busy.Store(true)
	defer func() {
		c.lastFetch.Store(time.Now().UnixNano())
		c.busy.Store(false)
	}()
	if c.opts.Observe.Batch != nil {
		c.opts.Observe.Batch(len(batch))
	}
	events := make([]cmapi.Delivery, 0, len(batch))
	var dead []kafka.Message
	var rebuilds []cmapi.Delivery
	for _, m := range batch {
		if cmd, ok := header(m, contract.HeaderCommand); ok {
			r, err := decodeCommand(cmd, m.Value)
			if err != nil {
				dead = append(dead, c.deadLetter(m, err))
				continue
			}
			rebuilds = append(rebuilds, cmapi.Delivery{Event: contract.Event{UserID: r.UserID}, Partition: m.Partition, Offset: m.Offset})
			continue
		}
		e, err := contract.DecodeEvent(m.Value)
		if err != nil {
			dead = append(dead, c.deadLetter(m, err))
			continue
		}
		events = append(events, cmapi.Delivery{Event: e, Partition: m.Partition, Offset: m.Offset})
	}
	// A write in flight is not interrupted by shutdown; the retry loops stop early
	// instead, leaving the batch uncommitted.
	work := context.WithoutCancel(ctx)
	if len(dead) > 0 && !c.retry(ctx, "dead-letter", func() error { return c.dlq.WriteMessages(work, dead...) }) {
		return
	}
	if len(events) > 0 {
		spans := c.startSpans(work, batch, events)
		defer endSpans(spans)
		start := time.Now()
		ok := c.retry(ctx, "store", func() error {
			inserted, dups, err := c.store.SavePurchases(work, events)
			if err != nil {
				if c.opts.Observe.StoreError != nil {
					c.opts.Observe.StoreError()
				}
				if c.storeFailed.CompareAndSwap(false, true) {
					c.opts.Log.Error("mongodb write failing; pausing consumption, nothing is committed until it recovers", "err", err.Error())
				}
				return err
			}
			if c.storeFailed.CompareAndSwap(true, false) {
				c.opts.Log.Info("mongodb write recovered")
			}
			if c.opts.Observe.Stored != nil {
				c.opts.Observe.Stored(inserted, dups, time.Since(start))
			}
			if c.opts.Log.Enabled(work, slog.LevelDebug) {
				for i, e := range events {
					c.opts.Log.DebugContext(spans[i].ctx, "purchase stored", "purchase_id", e.ID, "userid", e.UserID,
						"partition", e.Partition, "offset", e.Offset)
				}
			}
			return nil
		})
		if !ok {
			return
		}
	}
	// Rebuilds come after the batch's purchases are counted: each sees every
	// purchase of its user delivered before it.
	for _, r := range rebuilds {
		ok := c.retry(ctx, "rebuild", func() error {
			before, after, err := c.store.RebuildUser(work, r.UserID, r.Partition, r.Offset)
			if err == nil && (before.Count != after.Count || before.TotalCents != after.TotalCents) {
				c.opts.Log.Info("user summary corrected", "userid", r.UserID,
					"count_before", before.Count, "count_after", after.Count,
					"total_cents_before", before.TotalCents, "total_cents_after", after.TotalCents)
			}
			return err
		})
		if !ok {
			return
		}
	}
	cctx, cancel := context.WithTimeout(work, 10*time.Second)
	defer cancel()
	if err := c.reader().CommitMessages(cctx, batch...); err != nil {
		// Not lost: the events are stored, and a redelivery is a duplicate.
		c.opts.Log.Warn("commit failed; the batch will be redelivered and skipped as duplicates", "err", err.Error(), "size", len(batch))
	}
}

// msgSpan is a purchase's consumer span and the context that carries it.
type msgSpan struct {
	ctx  context.Context
	span trace.Span
}

// startSpans opens, for each event, a span continuing the trace its producer
// put in the record headers: the purchase's trace runs from the buy request to
// its store write.
func (c *Consumer) startSpans(ctx context.Context, batch []kafka.Message, events []cmapi.Delivery) []msgSpan {
	headers := make(map[int64][]kafka.Header, len(batch))
	for _, m := range batch {
		headers[int64(m.Partition)<<48|m.Offset] = m.Headers
	}
	spans := make([]msgSpan, len(events))
	for i, e := range events {
		parent := tracing.Extract(ctx, headers[int64(e.Partition)<<48|e.Offset])
		sctx, span := c.opts.Tracer.Start(parent, c.opts.Topic+" process", trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(attribute.String("messaging.system", "kafka"), attribute.String("purchase.id", e.ID),
				attribute.Int("messaging.kafka.destination.partition", e.Partition), attribute.Int64("messaging.kafka.offset", e.Offset)))
		spans[i] = msgSpan{ctx: sctx, span: span}
	}
	return spans
}

func endSpans(spans []msgSpan) {
	for _, s := range spans {
		s.span.End()
	}
}

func header(m kafka.Message, key string) (string, bool) {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

func decodeCommand(cmd string, value []byte) (contract.RebuildUser, error) {
	if cmd != contract.CommandRebuildUser {
		return contract.RebuildUser{}, &contract.EventError{Reason: contract.ReasonMalformed, Err: fmt.Errorf("unknown command %q", cmd)}
	}
	return contract.DecodeRebuildUser(value)
}

// deadLetter builds the DLQ record for a message that can never be stored.
func (c *Consumer) deadLetter(m kafka.Message, err error) kafka.Message {
	reason := contract.ReasonMalformed
	var ee *contract.EventError
	if errors.As(err, &ee) {
		reason = ee.Reason
	}
	if c.opts.Observe.DeadLetter != nil {
		c.opts.Observe.DeadLetter(reason)
	}
	headers := append([]kafka.Header{}, m.Headers...)
	headers = append(headers,
		kafka.Header{Key: contract.HeaderDLQReason, Value: []byte(reason)},
		kafka.Header{Key: contract.HeaderDLQError, Value: []byte(err.Error())},
		kafka.Header{Key: contract.HeaderDLQTopic, Value: []byte(m.Topic)},
		kafka.Header{Key: contract.HeaderDLQPartition, Value: []byte(strconv.Itoa(m.Partition))},
		kafka.Header{Key: contract.HeaderDLQOffset, Value: []byte(strconv.FormatInt(m.Offset, 10))},
	)
	return kafka.Message{Key: m.Key, Value: m.Value, Headers: headers}
}

// retry runs op until it succeeds or ctx ends; it reports whether op succeeded.
func (c *Consumer) retry(ctx context.Context, what string, op func() error) bool {
	b := newBackoff()
	for {
		err := op()
		if err == nil {
			return true
		}
		c.opts.Log.Debug("retrying", "op", what, "err", err.Error())
		if !sleep(ctx, b.next()) {
			return false
		}
	}
}

// watchStats turns kafka-go's reset-on-read stats into state: joined or not,
// healthy again after errors, and figures for metrics.
func (c *Consumer) watchStats(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	tick := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st := c.reader().Stats()
		if st.Rebalances > 0 {
			c.joined.Store(true)
		}
		c.mu.Lock()
		quiet := time.Since(c.lastKafka) > 3*time.Second
		c.mu.Unlock()
		if st.Errors == 0 && quiet && st.Fetches > 0 && c.joined.Load() && c.kafkaFailed.CompareAndSwap(true, false) {
			c.opts.Log.Info("kafka consumer recovered")
		}
		if c.opts.Observe.Stats != nil {
			c.opts.Observe.Stats(st)
		}
		if tick++; tick%5 == 0 {
			lctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			if lag, err := c.conn.PartitionLag(lctx, c.opts.Group, c.opts.Topic); err == nil {
				var total int64
				for p, l := range lag {
					total += l
					if c.opts.Observe.Lag != nil {
						c.opts.Observe.Lag(p, l)
					}
				}
				c.checkStall(total)
			}
			cancel()
		}
	}
}

// stallAfter is how long a reader may fetch nothing while its group has lag.
// Rebalances after a crashed member take up to a session timeout or two; this
// is well past that.
func (c *Consumer) stallAfter() time.Duration { return 4 * c.opts.SessionTimeout }

// checkStall replaces a reader that fetched nothing for stallAfter although the
// topic has records the group has not committed, and nothing is being stored.
// kafka-go can end up with a generation that assigns it no partitions after
// members crash mid-rebalance; rejoining heals that instead of idling forever.
func (c *Consumer) checkStall(lag int64) {
	idle := time.Since(time.Unix(0, c.lastFetch.Load()))
	if lag == 0 || c.busy.Load() || idle < c.stallAfter() || time.Since(c.lastRejoin) < c.stallAfter() {
		return
	}
	c.lastRejoin = time.Now()
	c.opts.Log.Warn("kafka consumer stalled: the group has lag but nothing was fetched; rejoining the group",
		"lag", lag, "idle_s", int(idle.Seconds()))
	if stop := c.stopReader.Load(); stop != nil {
		(*stop)()
	}
}

func (c *Consumer) reader() *kafka.Reader { return c.rp.Load() }

// Close leaves the group (handing partitions over at once) and flushes the DLQ.
func (c *Consumer) Close() error {
	rerr := c.reader().Close()
	werr := c.dlq.Close()
	if rerr != nil {
		return rerr
	}
	return werr
}

type backoff struct{ d time.Duration }

func newBackoff() *backoff { return &backoff{d: 100 * time.Millisecond} }

func (b *backoff) reset() { b.d = 100 * time.Millisecond }

// next doubles up to 5 s, with jitter so replicas do not retry in step.
func (b *backoff) next() time.Duration {
	d := b.d
	b.d = min(2*b.d, 5*time.Second)
	return d/2 + rand.N(d/2+1)
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
