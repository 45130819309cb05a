package kafka

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/scalable-shop/shop/contract"
)

func purchaseRecord(t *testing.T, id, user string, partition int, offset int64) kafka.Message {
	t.Helper()
	ts := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	b, err := json.Marshal(contract.NewEvent(id, contract.Purchase{UserID: user, Username: "U", PriceCents: 100, Timestamp: ts}, ts))
	if err != nil {
		t.Fatal(err)
	}
	return kafka.Message{Topic: "purchases", Partition: partition, Offset: offset, Key: []byte(user), Value: b,
		Headers: []kafka.Header{{Key: "traceparent", Value: []byte("00-x")}}}
}

func command(name, value string, partition int, offset int64) kafka.Message {
	return kafka.Message{Topic: "purchases", Partition: partition, Offset: offset, Value: []byte(value),
		Headers: []kafka.Header{{Key: contract.HeaderCommand, Value: []byte(name)}}}
}

func TestClassifySortsABatchIntoStoreDeadLetterAndRebuild(t *testing.T) {
	batch := []kafka.Message{
		purchaseRecord(t, "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a01", "ada", 2, 10),
		{Topic: "purchases", Partition: 2, Offset: 11, Key: []byte("x"), Value: []byte("not json")},
		command(contract.CommandRebuildUser, `{"userid":"ada"}`, 2, 12),
		command("users.delete", `{"userid":"ada"}`, 2, 13),
		command(contract.CommandRebuildUser, `{"userid":""}`, 2, 14),
		{Topic: "purchases", Partition: 2, Offset: 15, Value: []byte(`{"version":99}`)},
		purchaseRecord(t, "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a02", "bob", 2, 16),
	}
	p := classify(batch)

	if len(p.store) != 2 || p.store[0].UserID != "ada" || p.store[0].Offset != 10 || p.store[1].UserID != "bob" || p.store[1].Partition != 2 || p.store[1].Offset != 16 {
		t.Fatalf("store %+v, want the two purchases with their positions", p.store)
	}
	if len(p.rebuilds) != 1 || p.rebuilds[0] != (Rebuild{UserID: "ada", Partition: 2, Offset: 12, stored: 1}) {
		t.Fatalf("rebuilds %+v, want ada's command at 2/12, after the first purchase", p.rebuilds)
	}
	wantDead := map[int64]string{11: contract.ReasonMalformed, 13: contract.ReasonMalformed, 14: contract.ReasonInvalid, 15: contract.ReasonVersion}
	if len(p.dead) != len(wantDead) {
		t.Fatalf("%d dead letters, want %d: %+v", len(p.dead), len(wantDead), p.dead)
	}
	for _, d := range p.dead {
		if want := wantDead[d.msg.Offset]; d.reason != want {
			t.Errorf("record at offset %d: reason %q, want %q (%v)", d.msg.Offset, d.reason, want, d.err)
		}
	}
}

func TestClassifyEmptyBatch(t *testing.T) {
	if p := classify(nil); len(p.store)+len(p.dead)+len(p.rebuilds) != 0 {
		t.Fatalf("empty batch planned %+v", p)
	}
}

func TestDeadLetterRecordKeepsTheOriginalAndSaysWhyAndWhere(t *testing.T) {
	m := kafka.Message{Topic: "purchases", Partition: 4, Offset: 77, Key: []byte("k"), Value: []byte("v"),
		Headers: []kafka.Header{{Key: "traceparent", Value: []byte("00-abc")}}}
	d := classify([]kafka.Message{m}).dead
	if len(d) != 1 {
		t.Fatalf("dead %+v", d)
	}
	r := d[0].record()
	if string(r.Key) != "k" || string(r.Value) != "v" || r.Topic != "" || r.Partition != 0 {
		t.Fatalf("record %+v: key and value must be the original's, topic and partition left to the DLQ writer", r)
	}
	got := map[string]string{}
	for _, h := range r.Headers {
		got[h.Key] = string(h.Value)
	}
	want := map[string]string{"traceparent": "00-abc", contract.HeaderDLQReason: contract.ReasonMalformed,
		contract.HeaderDLQTopic: "purchases", contract.HeaderDLQPartition: "4", contract.HeaderDLQOffset: strconv.Itoa(77)}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("header %s = %q, want %q", k, got[k], v)
		}
	}
	if got[contract.HeaderDLQError] == "" {
		t.Error("no error header")
	}
	if len(m.Headers) != 1 {
		t.Error("the original message's headers were changed")
	}
}
