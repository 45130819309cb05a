package cmapi_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/scalable-shop/shop/cm-api/app"
	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/localstack/testenv"
)

// runDLQ runs `cm-api dlq ARGS...` as an operator would, logged in as the
// dead-letter user, and returns what it printed.
func runDLQ(t *testing.T, s stack, args ...string) (string, error) {
	t.Helper()
	env := s.kafka.DLQEnv()
	out := &testenv.SyncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := app.Run(ctx, append([]string{"dlq"}, args...), func(k string) string { return env[k] }, out, out)
	return out.String(), err
}

type listed struct {
	ID                string `json:"id"`
	Offset            int64  `json:"offset"`
	Reason            string `json:"reason"`
	Error             string `json:"error"`
	OriginalTopic     string `json:"original_topic"`
	OriginalPartition int    `json:"original_partition"`
	OriginalOffset    int64  `json:"original_offset"`
	Key               string `json:"key"`
	PurchaseID        string `json:"purchase_id"`
	Preview           string `json:"preview"`
	Replayable        bool   `json:"replayable"`
}

func listDLQ(t *testing.T, s stack, args ...string) []listed {
	t.Helper()
	out, err := runDLQ(t, s, append([]string{"list", "--json"}, args...)...)
	if err != nil {
		t.Fatalf("dlq list: %v\n%s", err, out)
	}
	var ls []listed
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var l listed
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("dlq list --json printed %q: %v", line, err)
		}
		ls = append(ls, l)
	}
	return ls
}

// countStored is how many purchases of user the look-up API shows.
func countStored(t *testing.T, s stack, user string) int {
	t.Helper()
	status, page, eb := get(t, s.api.URL+"/buyList/"+user+"?limit=100", testenv.Token)
	if status == 404 {
		return 0
	}
	if status != 200 {
		t.Fatalf("buyList %s: %d %+v", user, status, eb)
	}
	return len(page.Purchases)
}

// Poison stays in the DLQ; a dead letter that is valid today (dead-lettered by
// an older consumer) is replayed with its key and a replay header, only with
// --yes, and a purchase replayed twice or already stored is stored once.
func TestDeadLettersListAndReplay(t *testing.T) {
	s := startAPI(t)
	// Two poison records through the consumer itself.
	s.kafka.Produce(t, s.kafka.Topic,
		kafka.Message{Key: []byte("pat"), Value: []byte("not json\x00\xff")},
		kafka.Message{Key: []byte("pat"), Value: []byte(`{"version":99,"id":"x"}`)})
	testenv.WaitFor(t, 30*time.Second, "two dead letters", func() bool {
		return len(s.kafka.ReadAll(t, s.kafka.DLQTopic, 2, time.Second)) >= 2
	})
	// A stored purchase that is also in the DLQ, and one that only is: what an
	// older consumer with a stricter rule would have left there.
	stored := event("fin", 700, time.Now())
	s.kafka.Produce(t, s.kafka.Topic, record(stored))
	waitStored(t, s, "fin", 1)
	fixable := event("fay", 1250, time.Now())
	dead := func(e contract.Event, partition, offset int) kafka.Message {
		m := record(e)
		m.Headers = []kafka.Header{
			{Key: contract.HeaderContentType, Value: []byte(contract.EventContentType)},
			{Key: contract.HeaderDLQReason, Value: []byte(contract.ReasonInvalid)},
			{Key: contract.HeaderDLQError, Value: []byte("invalid_purchase: price above the old maximum")},
			{Key: contract.HeaderDLQTopic, Value: []byte(s.kafka.Topic)},
			{Key: contract.HeaderDLQPartition, Value: []byte(strconv.Itoa(partition))},
			{Key: contract.HeaderDLQOffset, Value: []byte(strconv.Itoa(offset))},
		}
		return m
	}
	s.kafka.Produce(t, s.kafka.DLQTopic, dead(fixable, 4, 17), dead(stored, 2, 5))

	ls := listDLQ(t, s)
	if len(ls) != 4 {
		t.Fatalf("dlq list shows %d dead letters, want 4: %+v", len(ls), ls)
	}
	byReason := map[string]int{}
	for _, l := range ls {
		byReason[l.Reason]++
		if l.Key == "" || l.Error == "" || l.OriginalTopic != s.kafka.Topic || l.OriginalPartition < 0 || l.OriginalOffset < 0 || l.Preview == "" {
			t.Errorf("dead letter listed without key, error, origin or preview: %+v", l)
		}
	}
	if byReason[contract.ReasonMalformed] != 1 || byReason[contract.ReasonVersion] != 1 || byReason[contract.ReasonInvalid] != 2 {
		t.Errorf("reasons %v, want 1 malformed, 1 unsupported_version, 2 invalid_purchase", byReason)
	}
	for _, l := range ls {
		switch {
		case l.Reason == contract.ReasonMalformed:
			if l.Replayable || l.Preview != `not json\u0000\xff` {
				t.Errorf("poison listed as %+v; want not replayable, preview with escapes", l)
			}
		case l.PurchaseID == fixable.ID:
			if !l.Replayable || l.Key != "fay" || l.OriginalPartition != 4 || l.OriginalOffset != 17 {
				t.Errorf("fixable listed as %+v", l)
			}
		}
	}
	if got := listDLQ(t, s, "--reason", contract.ReasonMalformed); len(got) != 1 {
		t.Errorf("--reason malformed lists %d, want 1", len(got))
	}
	table, err := runDLQ(t, s, "list")
	if err != nil || !strings.Contains(table, "REASON") || !strings.Contains(table, "4 of 4 dead letters") {
		t.Errorf("dlq list table (err %v):\n%s", err, table)
	}

	if _, err := runDLQ(t, s, "replay"); err == nil {
		t.Error("dlq replay without a selection succeeded; it must ask for --reason, --offsets, --id or --all")
	}
	topicBefore := s.kafka.EndOffsets(t, s.kafka.Topic)
	out, err := runDLQ(t, s, "replay", "--all")
	if err != nil || !strings.Contains(out, "dry run: would replay 2 and skip 2") {
		t.Fatalf("dry run (err %v):\n%s", err, out)
	}
	if after := s.kafka.EndOffsets(t, s.kafka.Topic); after != topicBefore {
		t.Fatalf("the dry run wrote %d records to %s", after-topicBefore, s.kafka.Topic)
	}

	out, err = runDLQ(t, s, "replay", "--all", "--yes")
	if err != nil || !strings.Contains(out, "replayed 2 and skipped 2") {
		t.Fatalf("replay --yes (err %v):\n%s", err, out)
	}
	waitStored(t, s, "fay", 1)
	// Again, picking the fixable one by its purchase id: still stored once.
	if out, err := runDLQ(t, s, "replay", "--id", fixable.ID, "--yes"); err != nil || !strings.Contains(out, "replayed 1 and skipped 0") {
		t.Fatalf("replay --id (err %v):\n%s", err, out)
	}
	recs := s.kafka.ReadAll(t, s.kafka.Topic, int(topicBefore)+3, 20*time.Second)
	var replayed []kafka.Message
	for _, m := range recs {
		for _, h := range m.Headers {
			if h.Key == contract.HeaderReplayedFrom {
				replayed = append(replayed, m)
				if !strings.HasPrefix(string(h.Value), s.kafka.DLQTopic+"/") {
					t.Errorf("replay header %q does not name the dead letter", h.Value)
				}
			}
			if strings.HasPrefix(h.Key, "dlq-") {
				t.Errorf("replayed record keeps the consumer's header %s", h.Key)
			}
		}
	}
	if len(replayed) != 3 {
		t.Fatalf("%d records with a %s header on %s, want 3", len(replayed), contract.HeaderReplayedFrom, s.kafka.Topic)
	}
	for _, m := range replayed {
		if e, err := contract.DecodeEvent(m.Value); err != nil || string(m.Key) != e.UserID {
			t.Errorf("replayed record key %q, value %s (%v): want the original key", m.Key, m.Value, err)
		}
	}
	// The consumer has taken everything; nothing went back to the DLQ.
	testenv.WaitFor(t, 30*time.Second, "the consumer to catch up", func() bool {
		lag, err := s.kafka.Conn(t).GroupLag(context.Background(), s.kafka.Group, s.kafka.Topic)
		return err == nil && lag == 0
	})
	if n := countStored(t, s, "fay"); n != 1 {
		t.Errorf("fay has %d purchases stored after two replays, want 1", n)
	}
	if n := countStored(t, s, "fin"); n != 1 {
		t.Errorf("fin has %d purchases stored after its replay, want 1", n)
	}
	if n := len(listDLQ(t, s)); n != 4 {
		t.Errorf("the DLQ holds %d dead letters after the replays, want still 4 (none dead-lettered again)", n)
	}
}

// A mistyped selection is one line naming the fix.
func TestDeadLetterCommandErrors(t *testing.T) {
	s := stack{kafka: testenv.StartKafka(t)}
	for _, args := range [][]string{{}, {"purge"}, {"list", "--offsets", "9-3"}, {"replay", "--all", "--reason", "malformed"}} {
		out, err := runDLQ(t, s, args...)
		if err == nil {
			t.Errorf("dlq %v succeeded:\n%s", args, out)
			continue
		}
		if first := strings.SplitN(err.Error(), "\n", 2)[0]; !strings.Contains(first, "dlq") && !strings.Contains(first, "--offsets") {
			t.Errorf("dlq %v: error %q does not say what to change", args, first)
		}
	}
}
