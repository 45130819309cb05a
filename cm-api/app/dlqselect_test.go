package app

import (
	"reflect"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/scalable-shop/shop/cm-api/internal/kafka"
	"github.com/scalable-shop/shop/contract"
)

func validDeadLetter(t *testing.T, user string, offset int64) kafka.DeadLetter {
	t.Helper()
	e := contract.NewEvent("0190d9a8-0000-7000-8000-00000000000"+string(rune('0'+offset%10)),
		contract.Purchase{UserID: user, Username: "U", PriceCents: 100, Timestamp: time.Unix(1e9, 0)}, time.Unix(1e9, 0))
	v, err := contract.EncodeEvent(e)
	if err != nil {
		t.Fatal(err)
	}
	return kafka.DeadLetter{Partition: 0, Offset: offset, Key: []byte(user), Value: v, Reason: contract.ReasonInvalid,
		Headers: []kafkago.Header{{Key: "traceparent", Value: []byte("00-1-2-01")}, {Key: contract.HeaderDLQReason, Value: []byte(contract.ReasonInvalid)},
			{Key: contract.HeaderDLQError, Value: []byte("x")}, {Key: contract.HeaderDLQOffset, Value: []byte("3")}}}
}

func TestParseOffsets(t *testing.T) {
	for in, want := range map[string][2]int64{"10-20": {10, 20}, "7": {7, 7}, "5-": {5, -1}, "-9": {-1, 9}, "3-3": {3, 3}} {
		from, to, err := parseOffsets(in)
		if err != nil || from != want[0] || to != want[1] {
			t.Errorf("parseOffsets(%q) = %d, %d, %v; want %v", in, from, to, err, want)
		}
	}
	for _, in := range []string{"", "-", "a-b", "20-10", "-1-5", "1.5"} {
		if _, _, err := parseOffsets(in); err == nil {
			t.Errorf("parseOffsets(%q) accepted", in)
		}
	}
}

func TestSelectorMatches(t *testing.T) {
	d := validDeadLetter(t, "ann", 12)
	id := purchaseID(d.Value)
	cases := []struct {
		sel  dlqSelector
		want bool
	}{
		{dlqSelector{From: -1, To: -1}, true},
		{dlqSelector{Reasons: []string{contract.ReasonInvalid}, From: -1, To: -1}, true},
		{dlqSelector{Reasons: []string{contract.ReasonMalformed}, From: -1, To: -1}, false},
		{dlqSelector{From: 10, To: 12}, true},
		{dlqSelector{From: 13, To: -1}, false},
		{dlqSelector{From: -1, To: 11}, false},
		{dlqSelector{IDs: []string{"0:12"}, From: -1, To: -1}, true},
		{dlqSelector{IDs: []string{"1:12"}, From: -1, To: -1}, false},
		{dlqSelector{IDs: []string{id}, From: -1, To: -1}, true},
		{dlqSelector{IDs: []string{id}, Reasons: []string{contract.ReasonMalformed}, From: -1, To: -1}, false},
	}
	for _, c := range cases {
		if got := c.sel.matches(d); got != c.want {
			t.Errorf("%+v matches = %v, want %v", c.sel, got, c.want)
		}
	}
	// A value without an id is not matched by an empty purchase id.
	poison := kafka.DeadLetter{Offset: 1, Value: []byte("x")}
	if (dlqSelector{IDs: []string{""}, From: -1, To: -1}).matches(poison) {
		t.Error("an empty id matched a value without one")
	}
}

func TestRevalidate(t *testing.T) {
	ok := validDeadLetter(t, "ann", 1)
	if err := revalidate(ok); err != nil {
		t.Errorf("valid purchase: %v", err)
	}
	wrongKey := ok
	wrongKey.Key = []byte("bob")
	bad := []kafka.DeadLetter{
		{Value: []byte("not json")},
		{Key: []byte("ann"), Value: []byte(`{"version":2}`)},
		wrongKey,
		{Key: []byte("ann"), Value: []byte(`{"userid":"ann"}`), Headers: []kafkago.Header{{Key: contract.HeaderCommand, Value: []byte("users.drop")}}},
		{Key: []byte("a b"), Value: []byte(`{"userid":"a b"}`), Headers: []kafkago.Header{{Key: contract.HeaderCommand, Value: []byte(contract.CommandRebuildUser)}}},
	}
	for _, d := range bad {
		if err := revalidate(d); err == nil {
			t.Errorf("revalidate accepted %q (headers %v)", d.Value, d.Headers)
		}
	}
	cmd := kafka.DeadLetter{Key: []byte("ann"), Value: []byte(`{"userid":"ann"}`), Headers: []kafkago.Header{{Key: contract.HeaderCommand, Value: []byte(contract.CommandRebuildUser)}}}
	if err := revalidate(cmd); err != nil {
		t.Errorf("rebuild command: %v", err)
	}
}

func TestReplayRecord(t *testing.T) {
	d := validDeadLetter(t, "ann", 12)
	d.Partition = 2
	m := replayRecord(d, "purchases.dlq")
	if string(m.Key) != "ann" || string(m.Value) != string(d.Value) {
		t.Errorf("key %q value %q: want the original", m.Key, m.Value)
	}
	want := []kafkago.Header{{Key: "traceparent", Value: []byte("00-1-2-01")}, {Key: contract.HeaderReplayedFrom, Value: []byte("purchases.dlq/2/12")}}
	if !reflect.DeepEqual(m.Headers, want) {
		t.Errorf("headers %q, want %q", m.Headers, want)
	}
}

func TestPlanReplay(t *testing.T) {
	good, poison := validDeadLetter(t, "ann", 0), kafka.DeadLetter{Offset: 1, Value: []byte("{"), Reason: contract.ReasonMalformed}
	other := validDeadLetter(t, "bob", 2)
	replay, skip := planReplay([]kafka.DeadLetter{good, poison, other}, dlqSelector{From: 0, To: 1})
	if len(replay) != 1 || replay[0].Offset != 0 || len(skip) != 1 || skip[0].Offset != 1 || skip[0].Problem == nil {
		t.Errorf("replay %v, skip %v", replay, skip)
	}
}

func TestPreview(t *testing.T) {
	for in, want := range map[string]string{
		"plain":              "plain",
		"a\nb\x01":           `a\nb\u0001`,
		"\xff\xfe":           `\xff\xfe`,
		"ünïcödé":            "ünïcödé",
		"0123456789abcdefgh": "0123456789…",
	} {
		if got := preview([]byte(in), 10); got != want {
			t.Errorf("preview(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSplitDLQArgs(t *testing.T) {
	own, rest := splitDLQArgs([]string{"--reason", "malformed", "--kafka.brokers=a:1", "--yes", "--id=0:3", "--log.level", "debug", "--offsets", "1-2"})
	if want := []string{"--reason", "malformed", "--yes", "--id=0:3", "--offsets", "1-2"}; !reflect.DeepEqual(own, want) {
		t.Errorf("own %q, want %q", own, want)
	}
	if want := []string{"--kafka.brokers=a:1", "--log.level", "debug"}; !reflect.DeepEqual(rest, want) {
		t.Errorf("rest %q, want %q", rest, want)
	}
}
