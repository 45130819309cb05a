package kafkaconn

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// GroupOffsets returns, per partition of topic, the group's committed offset (0
// where it has committed nothing: it starts at the first offset) and the
// partition's end offset.
func (c *Conn) GroupOffsets(ctx context.Context, group, topic string) (committed, end map[int]int64, err error) {
	client := &kafka.Client{Addr: kafka.TCP(c.Settings.Brokers...), Transport: c.Transport, Timeout: 10 * time.Second}
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, nil, c.Explain(err)
	}
	if len(md.Topics) != 1 || md.Topics[0].Error != nil {
		return nil, nil, fmt.Errorf("topic %s: no metadata", topic)
	}
	var parts []int
	var reqs []kafka.OffsetRequest
	for _, p := range md.Topics[0].Partitions {
		parts = append(parts, p.ID)
		reqs = append(reqs, kafka.LastOffsetOf(p.ID))
	}
	ends, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, nil, c.Explain(err)
	}
	res, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err != nil {
		return nil, nil, c.Explain(err)
	}
	if res.Error != nil {
		return nil, nil, c.Explain(res.Error)
	}
	committed, end = map[int]int64{}, map[int]int64{}
	for _, p := range res.Topics[topic] {
		if p.Error != nil {
			return nil, nil, c.Explain(p.Error)
		}
		committed[p.Partition] = max(p.CommittedOffset, 0)
	}
	for _, p := range ends.Topics[topic] {
		if p.Error != nil {
			return nil, nil, c.Explain(p.Error)
		}
		end[p.Partition] = p.LastOffset
	}
	return committed, end, nil
}

// PartitionLag returns, per partition of topic, how many records the group has
// not yet committed.
func (c *Conn) PartitionLag(ctx context.Context, group, topic string) (map[int]int64, error) {
	committed, end, err := c.GroupOffsets(ctx, group, topic)
	if err != nil {
		return nil, err
	}
	lag := make(map[int]int64, len(end))
	for p, e := range end {
		lag[p] = max(e-committed[p], 0)
	}
	return lag, nil
}

// GroupLag returns how many records of topic the group has not yet committed,
// summed over the partitions.
func (c *Conn) GroupLag(ctx context.Context, group, topic string) (int64, error) {
	per, err := c.PartitionLag(ctx, group, topic)
	var sum int64
	for _, l := range per {
		sum += l
	}
	return sum, err
}

// MemberPartitions returns the partitions of topic the group assigned to the
// member whose client id is clientID; ok is false while no member has that id
// (not joined yet, or between generations). kafka-go does not tell a reader its
// assignment, so a consumer that gives itself a unique client id learns it here.
func (c *Conn) MemberPartitions(ctx context.Context, group, clientID, topic string) (partitions []int, ok bool, err error) {
	client := &kafka.Client{Addr: kafka.TCP(c.Settings.Brokers...), Transport: c.Transport, Timeout: 10 * time.Second}
	res, err := client.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
	if err != nil {
		return nil, false, c.Explain(err)
	}
	for _, g := range res.Groups {
		if g.Error != nil {
			return nil, false, c.Explain(g.Error)
		}
		for _, m := range g.Members {
			if m.ClientID != clientID {
				continue
			}
			for _, t := range m.MemberAssignments.Topics {
				if t.Topic == topic {
					partitions = append(partitions, t.Partitions...)
				}
			}
			return partitions, true, nil
		}
	}
	return nil, false, nil
}
