package kafka

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/platform/kafkaconn"
)

// DeadLetter is one record of the dead-letter topic and what the consumer wrote
// about it in its headers.
type DeadLetter struct {
	Partition int   // of the dead-letter topic
	Offset    int64 // in that partition
	Key       []byte
	Value     []byte
	Headers   []kafka.Header // the original record's, then the dlq-* ones

	Reason            string
	Error             string
	OriginalTopic     string
	OriginalPartition int   // -1 when the header is missing
	OriginalOffset    int64 // -1 when the header is missing
}

// Header returns the value of the dead letter's header key.
func (d DeadLetter) Header(key string) (string, bool) {
	return header(kafka.Message{Headers: d.Headers}, key)
}

// ReadDeadLetters reads every record of the dead-letter topic that exists when
// it is called, partition by partition. It joins no group and commits nothing,
// so it needs only Read and Describe on the topic and can run beside anything.
func ReadDeadLetters(ctx context.Context, conn *kafkaconn.Conn, topic string) ([]DeadLetter, error) {
	client := &kafka.Client{Addr: kafka.TCP(conn.Settings.Brokers...), Transport: conn.Transport, Timeout: 15 * time.Second}
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, conn.Explain(err)
	}
	if len(md.Topics) != 1 || md.Topics[0].Error != nil {
		var terr error
		if len(md.Topics) == 1 {
			terr = md.Topics[0].Error
		}
		return nil, fmt.Errorf("topic %s: %v (does it exist, and may this Kafka user Describe it?)", topic, terr)
	}
	var reqs []kafka.OffsetRequest
	for _, p := range md.Topics[0].Partitions {
		reqs = append(reqs, kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
	}
	offs, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, conn.Explain(err)
	}
	var out []DeadLetter
	for _, p := range offs.Topics[topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("topic %s partition %d: %w", topic, p.Partition, conn.Explain(p.Error))
		}
		for next := p.FirstOffset; next < p.LastOffset; {
			res, err := client.Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: p.Partition, Offset: next,
				MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 500 * time.Millisecond})
			if err == nil && res.Error != nil {
				err = res.Error
			}
			if err != nil {
				return nil, fmt.Errorf("reading %s partition %d at offset %d: %w (the Kafka user needs Read on the topic)", topic, p.Partition, next, conn.Explain(err))
			}
			before := next
			for {
				r, err := res.Records.ReadRecord()
				if err != nil {
					break
				}
				// A compressed batch starts before the offset asked for.
				if r.Offset < next || r.Offset >= p.LastOffset {
					continue
				}
				d, err := deadLetterOf(p.Partition, r)
				if err != nil {
					return nil, err
				}
				out = append(out, d)
				next = r.Offset + 1
			}
			if next == before {
				// Nothing readable at next: a gap left by compaction or an aborted
				// transaction; step over it.
				next++
			}
		}
	}
	return out, nil
}

func deadLetterOf(partition int, r *kafka.Record) (DeadLetter, error) {
	d := DeadLetter{Partition: partition, Offset: r.Offset, OriginalPartition: -1, OriginalOffset: -1}
	var err error
	if r.Key != nil {
		if d.Key, err = io.ReadAll(r.Key); err != nil {
			return d, err
		}
	}
	if r.Value != nil {
		if d.Value, err = io.ReadAll(r.Value); err != nil {
			return d, err
		}
	}
	for _, h := range r.Headers {
		d.Headers = append(d.Headers, kafka.Header(h))
	}
	d.Reason, _ = d.Header(contract.HeaderDLQReason)
	d.Error, _ = d.Header(contract.HeaderDLQError)
	d.OriginalTopic, _ = d.Header(contract.HeaderDLQTopic)
	if v, ok := d.Header(contract.HeaderDLQPartition); ok {
		if n, err := strconv.Atoi(v); err == nil {
			d.OriginalPartition = n
		}
	}
	if v, ok := d.Header(contract.HeaderDLQOffset); ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			d.OriginalOffset = n
		}
	}
	return d, nil
}

// NewReplayWriter writes replayed records back to the purchases topic: keyed
// like cm-server's (murmur2), so a user's records land on the user's partition,
// and acknowledged by all in-sync replicas.
func NewReplayWriter(conn *kafkaconn.Conn, topic string) *kafka.Writer {
	return conn.NewWriter(topic, kafkaconn.WriterOptions{})
}
