package kafka

import (
	"context"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	cmapi "github.com/scalable-shop/shop/cm-api"
	"github.com/scalable-shop/shop/platform/tracing"
)

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
