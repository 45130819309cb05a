package kafkaconn_test

import (
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/scalable-shop/shop/platform/kafkaconn"
)

// Every writer must partition like the others (a rebuild command follows its
// user's purchases) and wait for every in-sync replica.
func TestNewWriterPartitionsByMurmur2AndWaitsForAllReplicas(t *testing.T) {
	conn, err := kafkaconn.New(kafkaconn.Settings{Brokers: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	w := conn.NewWriter("purchases", kafkaconn.WriterOptions{})
	defer w.Close()
	if _, ok := w.Balancer.(*kafka.Murmur2Balancer); !ok {
		t.Errorf("balancer %T, want *kafka.Murmur2Balancer", w.Balancer)
	}
	if w.RequiredAcks != kafka.RequireAll {
		t.Errorf("RequiredAcks %v, want RequireAll", w.RequiredAcks)
	}
	if w.Topic != "purchases" || w.Transport != conn.Transport {
		t.Errorf("topic %q, transport %p; want purchases over the connection's transport %p", w.Topic, w.Transport, conn.Transport)
	}
	if w.BatchTimeout != 5*time.Millisecond {
		t.Errorf("default batch timeout %s, want 5ms", w.BatchTimeout)
	}
	if got := conn.NewWriter("t", kafkaconn.WriterOptions{BatchTimeout: time.Millisecond}).BatchTimeout; got != time.Millisecond {
		t.Errorf("batch timeout %s, want the 1ms asked for", got)
	}
}
