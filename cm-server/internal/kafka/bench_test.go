package kafka_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/scalable-shop/shop/cm-server/internal/kafka"
	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/platform/kafkaconn"
	"github.com/scalable-shop/shop/platform/testinfra"
)

// BenchmarkProduce is cm-server's produce path under concurrent buys — one
// Produce per purchase from many goroutines sharing the producer — against the
// embedded broker. Its allocations are what a buy costs the garbage collector.
func BenchmarkProduce(b *testing.B) {
	infra, err := testinfra.Start()
	if err != nil {
		b.Fatal(err)
	}
	defer infra.Close()
	conn, err := kafkaconn.New(kafkaconn.Settings{Brokers: infra.KafkaBrokers})
	if err != nil {
		b.Fatal(err)
	}
	p := kafka.NewProducer(conn, kafka.ProducerOptions{Topic: contract.TopicPurchases, BatchTimeout: 5 * time.Millisecond,
		WriteTimeout: 10 * time.Second, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer p.Close()
	now := time.Now().UTC()
	e := contract.NewEvent("01a21452-703b-75a8-b160-1d3c6be5a2f3",
		contract.Purchase{UserID: "ada", Username: "Ada Lovelace", PriceCents: 1250, Timestamp: now}, now)
	ctx := context.Background()
	if err := p.Produce(ctx, e); err != nil { // metadata, connections
		b.Fatal(err)
	}
	b.SetParallelism(64) // 128 buys in flight on 2 CPUs
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := p.Produce(ctx, e); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
