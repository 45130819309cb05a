// Package kafka is cm-server's producer: one kafka-go Writer shared by every
// request, so that concurrent buys ride in the same batches.
package kafka

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/platform/kafkaconn"
	"github.com/scalable-shop/shop/platform/tracing"
)

// ProducerOptions tune the producer.
type ProducerOptions struct {
	Topic string
	// BatchTimeout is how long the writer waits for more messages before sending a
	// batch. kafka-go's default is a full second; a few milliseconds keep a buy fast
	// while still grouping concurrent ones.
	BatchTimeout time.Duration
	// WriteTimeout bounds how long one buy waits for the acknowledgement.
	WriteTimeout time.Duration
	Log          *slog.Logger
	// Observe, if set, is told the duration and result of every produce.
	Observe func(time.Duration, error)
	// Tracer makes a producer span per purchase, whose context travels in the
	// record's headers to cm-api. Nil records no spans.
	Tracer trace.Tracer
}

// Producer writes purchase events with acks=all, keyed by user id.
type Producer struct {
	conn    *kafkaconn.Conn
	w       *kafka.Writer
	opts    ProducerOptions
	failing atomic.Bool
	stop    context.CancelFunc
	checked chan struct{}

	mu sync.Mutex // guards the figures of the current outage
	// lastFailure, failingSince and failures describe the current outage.
	lastFailure, failingSince time.Time
	failures                  int
}

// NewProducer returns a producer for opts.Topic over conn. It checks the brokers in
// the background until they first answer, so that wrong settings (a refused SASL
// login, a missing topic or ACL) are logged at start, once, not only at the first
// buy.
func NewProducer(conn *kafkaconn.Conn, opts ProducerOptions) *Producer {
	if opts.Tracer == nil {
		opts.Tracer = noop.NewTracerProvider().Tracer("")
	}
	ctx, stop := context.WithCancel(context.Background())
	p := &Producer{
		conn:    conn,
		opts:    opts,
		stop:    stop,
		checked: make(chan struct{}),
		w:       conn.NewWriter(opts.Topic, kafkaconn.WriterOptions{BatchTimeout: opts.BatchTimeout}),
	}
	go p.checkAtStart(ctx)
	return p
}

// checkAtStart pings until the first success, backing off to 30 s. A failure goes
// through the same once-per-state-change log as a failed produce.
func (p *Producer) checkAtStart(ctx context.Context) {
	defer close(p.checked)
	wait := time.Second
	for {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := p.Ping(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		p.noteState(err)
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// Produce writes e and waits for the broker's acknowledgement. On failure it
// returns a *contract.Error with code EUnavailable: the caller must not report
// success, though the record may still have reached the topic.
func (p *Producer) Produce(ctx context.Context, e contract.Event) error {
	value, err := contract.EncodeEvent(e)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, p.opts.WriteTimeout)
	defer cancel()
	ctx, span := p.opts.Tracer.Start(ctx, p.opts.Topic+" publish", trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(attribute.String("messaging.system", "kafka"),
			attribute.String("messaging.destination.name", p.opts.Topic), attribute.String("purchase.id", e.ID)))
	defer span.End()
	headers := []kafka.Header{{Key: contract.HeaderContentType, Value: []byte(contract.EventContentType)}}
	tracing.Inject(ctx, &headers)
	start := time.Now()
	err = p.w.WriteMessages(ctx, kafka.Message{Key: []byte(e.UserID), Value: value, Headers: headers})
	if p.opts.Observe != nil {
		p.opts.Observe(time.Since(start), err)
	}
	p.noteState(err)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return contract.Errorf(contract.EUnavailable, "the purchase could not be recorded right now; retry later")
	}
	return nil
}

// recoverAfter is how long produces must succeed without a single failure before
// the producer counts as recovered. Right after a broker comes back some writes
// still time out while others succeed; without it the log would flap.
const recoverAfter = 5 * time.Second

// noteState logs the first failure and the recovery, not every failed write: one
// line when produces start failing, one when they have succeeded for
// recoverAfter without a failure.
func (p *Producer) noteState(err error) {
	if err == nil && !p.failing.Load() {
		return // the common case, without the lock
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if err != nil {
		p.lastFailure = now
		p.failures++
		if p.failing.CompareAndSwap(false, true) {
			p.failingSince, p.failures = now, 1
			p.opts.Log.Error("kafka produce failing; answering buys with 503", "err", p.conn.Explain(err).Error())
		}
		return
	}
	if now.Sub(p.lastFailure) >= recoverAfter && p.failing.CompareAndSwap(true, false) {
		p.opts.Log.Info("kafka produce recovered", "after", now.Sub(p.failingSince).Round(time.Millisecond).String(),
			"failed_produces", p.failures)
	}
}

// Ping checks that the brokers serve the topic with our credentials.
func (p *Producer) Ping(ctx context.Context) error { return p.conn.Ping(ctx, p.opts.Topic) }

// Close flushes buffered messages and closes the connections.
func (p *Producer) Close() error {
	p.stop()
	<-p.checked
	return p.w.Close()
}
