package kafkaconn

import (
	"time"

	"github.com/segmentio/kafka-go"
)

// WriterOptions tune a Writer in what its callers may differ on. Zero values take
// the defaults of the purchase producer.
type WriterOptions struct {
	// BatchTimeout is how long a partition's batch waits to fill (default 5 ms).
	BatchTimeout time.Duration
}

// NewWriter returns the one kafka-go Writer configuration every writer of the shop
// uses: cm-server's producer, cm-api's dead-letter and rebuild writers, the test
// and bench producers. They must agree on partitioning: a rebuild command for a
// user has to land on the partition that holds the user's purchases, so that the
// consumer owning it applies the command in order with them.
func (c *Conn) NewWriter(topic string, o WriterOptions) *kafka.Writer {
	if o.BatchTimeout <= 0 {
		o.BatchTimeout = 5 * time.Millisecond
	}
	return &kafka.Writer{
		Addr:  kafka.TCP(c.Settings.Brokers...),
		Topic: topic,
		// Murmur2 places a key on the partition a Java client would choose.
		Balancer: &kafka.Murmur2Balancer{},
		// Every in-sync replica has the record before the write returns: an
		// acknowledged buy survives the loss of the leader.
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: o.BatchTimeout,
		// kafka-go allocates a batch's whole message slice up front (see
		// BENCHMARKS.md, cm-server's allocations): a short window holds far fewer
		// than 100 records per partition, and a full batch is sent at once.
		BatchSize: 100,
		// Retries may duplicate a record on the topic; the consumer stores by id.
		MaxAttempts:     3,
		WriteBackoffMin: 50 * time.Millisecond,
		WriteBackoffMax: 500 * time.Millisecond,
		Transport:       c.Transport,
	}
}
