package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/platform/kafkaconn"
)

// kafkaSetup is what kafka-local.sh env exported.
type kafkaSetup struct {
	Brokers    []string
	Mechanism  string
	Admin      [2]string
	Server     [2]string
	API        [2]string
	Group      string
	Topic      string
	Partitions int
}

func kafkaFromEnv() kafkaSetup {
	p, _ := strconv.Atoi(env("KAFKA_PARTITIONS"))
	return kafkaSetup{
		Brokers:    strings.Split(env("KAFKA_BROKERS"), ","),
		Mechanism:  env("KAFKA_SASL_MECHANISM"),
		Admin:      [2]string{env("KAFKA_SASL_USERNAME"), env("KAFKA_SASL_PASSWORD")},
		Server:     [2]string{env("KAFKA_CM_SERVER_USERNAME"), env("KAFKA_CM_SERVER_PASSWORD")},
		API:        [2]string{env("KAFKA_CM_API_USERNAME"), env("KAFKA_CM_API_PASSWORD")},
		Group:      env("KAFKA_CM_API_GROUP"),
		Topic:      env("KAFKA_TOPIC"),
		Partitions: p,
	}
}

func (k kafkaSetup) conn(user [2]string) *kafkaconn.Conn {
	c, err := kafkaconn.New(kafkaconn.Settings{Brokers: k.Brokers, SASLMechanism: k.Mechanism, Username: user[0], Password: user[1]})
	if err != nil {
		panic(err)
	}
	return c
}

// serviceEnv is the Kafka part of a service's environment, logging in as user.
func (k kafkaSetup) serviceEnv(prefix string, user [2]string) []string {
	return []string{
		prefix + "_KAFKA_BROKERS=" + strings.Join(k.Brokers, ","),
		prefix + "_KAFKA_SASL_MECHANISM=" + k.Mechanism,
		prefix + "_KAFKA_SASL_USERNAME=" + user[0],
		prefix + "_KAFKA_SASL_PASSWORD=" + user[1],
	}
}

// lagger reads the consumer group's lag with the admin's credentials.
type lagger struct {
	k    kafkaSetup
	conn *kafkaconn.Conn
	c    *kafka.Client
}

func newLagger(k kafkaSetup) *lagger {
	conn := k.conn(k.Admin)
	return &lagger{k: k, conn: conn, c: &kafka.Client{Addr: kafka.TCP(k.Brokers...), Transport: conn.Transport, Timeout: 10 * time.Second}}
}

// lag is, for the slower of cm-api's two groups (the purchases consumer and
// the projection that keeps the summaries and listing pages), the sum over
// partitions of end offset minus committed offset (an uncommitted partition
// counts from 0: the topic is new and the group starts at the first offset):
// zero once every event is stored and listed. end is the sum of the end
// offsets.
func (l *lagger) lag(ctx context.Context) (lag, end int64, err error) {
	for _, group := range []string{l.k.Group, l.k.Group + "-summaries"} {
		committed, ends, err := l.conn.GroupOffsets(ctx, group, l.k.Topic)
		if err != nil {
			return 0, 0, err
		}
		var gl, ge int64
		for p, e := range ends {
			ge += e
			gl += max(e-committed[p], 0)
		}
		lag, end = max(lag, gl), ge
	}
	return lag, end, nil
}

// skipToEnd commits the end offset of every partition for the group, which must
// have no members: what was not consumed yet will never be. bench uses it to start
// a run without the previous run's backlog when cm-api cannot catch up.
func (l *lagger) skipToEnd(ctx context.Context) error {
	reqs := make([]kafka.OffsetRequest, l.k.Partitions)
	for i := range reqs {
		reqs[i] = kafka.LastOffsetOf(i)
	}
	lo, err := l.c.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{l.k.Topic: reqs}})
	if err != nil {
		return err
	}
	var commits []kafka.OffsetCommit
	for _, p := range lo.Topics[l.k.Topic] {
		commits = append(commits, kafka.OffsetCommit{Partition: p.Partition, Offset: p.LastOffset})
	}
	// Both of cm-api's groups: the projection would otherwise wait for purchases
	// the purchases consumer will never store, and work off the old backlog
	// during the next run.
	for _, group := range []string{l.k.Group, l.k.Group + "-summaries"} {
		res, err := l.c.OffsetCommit(ctx, &kafka.OffsetCommitRequest{GroupID: group, GenerationID: -1,
			Topics: map[string][]kafka.OffsetCommit{l.k.Topic: commits}})
		if err != nil {
			return err
		}
		for _, p := range res.Topics[l.k.Topic] {
			if p.Error != nil {
				return p.Error
			}
		}
	}
	return nil
}

// waitZero waits until the group has consumed everything (or timeout).
func (l *lagger) waitZero(ctx context.Context, timeout time.Duration) (int64, error) {
	deadline := time.Now().Add(timeout)
	for {
		lag, _, err := l.lag(ctx)
		if err == nil && lag == 0 {
			return 0, nil
		}
		if time.Now().After(deadline) {
			return lag, fmt.Errorf("consumer lag still %d after %s (last error: %v)", lag, timeout, err)
		}
		select {
		case <-ctx.Done():
			return lag, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// rawWriter is cm-server's producer configuration (internal/kafka/producer.go),
// as cm-server's Kafka user: the produce ceiling is measured with it.
func rawWriter(k kafkaSetup) *kafka.Writer {
	return k.conn(k.Server).NewWriter(k.Topic, kafkaconn.WriterOptions{BatchTimeout: 5 * time.Millisecond})
}

// produceRaw writes the events as cm-server does — one synchronous WriteMessages
// per event — from `concurrency` goroutines sharing one writer, as concurrent
// buys do, and returns events/s.
func produceRaw(ctx context.Context, w *kafka.Writer, values [][]byte, keys []string, concurrency int) (float64, time.Duration, error) {
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	header := []kafka.Header{{Key: contract.HeaderContentType, Value: []byte(contract.EventContentType)}}
	start := time.Now()
	for g := 0; g < concurrency; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(values) || ctx.Err() != nil {
					return
				}
				err := w.WriteMessages(ctx, kafka.Message{Key: []byte(keys[i]), Value: values[i], Headers: header})
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	return float64(len(values)) / d.Seconds(), d, firstErr
}
