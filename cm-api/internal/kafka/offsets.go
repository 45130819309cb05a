package kafka

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/scalable-shop/shop/platform/kafkaconn"
)

// GroupLag returns how many records of topic the group has not yet committed,
// summed over the partitions.
func GroupLag(ctx context.Context, conn *kafkaconn.Conn, group, topic string) (int64, error) {
	per, err := PartitionLag(ctx, conn, group, topic)
	var sum int64
	for _, l := range per {
		sum += l
	}
	return sum, err
}

// PartitionLag returns, per partition of topic, how many records the group has
// not yet committed.
func PartitionLag(ctx context.Context, conn *kafkaconn.Conn, group, topic string) (map[int]int64, error) {
	client := &kafka.Client{Addr: kafka.TCP(conn.Settings.Brokers...), Transport: conn.Transport, Timeout: 10 * time.Second}
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, conn.Explain(err)
	}
	if len(md.Topics) != 1 || md.Topics[0].Error != nil {
		return nil, fmt.Errorf("topic %s: no metadata", topic)
	}
	var parts []int
	var reqs []kafka.OffsetRequest
	for _, p := range md.Topics[0].Partitions {
		parts = append(parts, p.ID)
		reqs = append(reqs, kafka.LastOffsetOf(p.ID))
	}
	ends, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, conn.Explain(err)
	}
	res, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err != nil {
		return nil, conn.Explain(err)
	}
	if res.Error != nil {
		return nil, conn.Explain(res.Error)
	}
	committed := map[int]int64{}
	for _, p := range res.Topics[topic] {
		committed[p.Partition] = max(p.CommittedOffset, 0)
	}
	lag := map[int]int64{}
	for _, p := range ends.Topics[topic] {
		if p.Error != nil {
			return nil, conn.Explain(p.Error)
		}
		lag[p.Partition] = max(p.LastOffset-committed[p.Partition], 0)
	}
	return lag, nil
}
