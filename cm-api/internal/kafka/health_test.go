package kafka

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func newTestHealth() *health { return newHealth("cm-api", 10*time.Second, 60*time.Second, t0) }

func TestHealthStartsNotJoinedAndJoinsOnARebalance(t *testing.T) {
	h := newTestHealth()
	if s := h.status(at(1)); !strings.Contains(s.Consumer, "not yet a member of consumer group cm-api") || s.Kafka != "ok" || s.Stalled {
		t.Fatalf("at start: %+v", s)
	}
	h.stats(at(2), 1, 0, 0)
	if s := h.status(at(2)); s != (Status{Kafka: "ok", Store: "ok", Consumer: "ok"}) {
		t.Fatalf("after joining: %+v", s)
	}
}

func TestHealthKafkaFailureIsReportedOnceAndRecoversOnlyWhenQuiet(t *testing.T) {
	h := newTestHealth()
	h.stats(at(0), 1, 0, 1)
	if !h.readerFailed(at(1), "kafka refused the SASL login") {
		t.Fatal("first failure must say it turned failing (logged once)")
	}
	if h.readerFailed(at(2), "kafka refused the SASL login") {
		t.Fatal("a repeated failure must not say it turned failing again")
	}
	s := h.status(at(3))
	if s.Kafka != "kafka refused the SASL login" || !strings.HasPrefix(s.Consumer, "paused: kafka refused") {
		t.Fatalf("failing: %+v", s)
	}
	if h.stats(at(4), 0, 0, 5) {
		t.Fatal("recovered 2 s after an error; must wait for quiet")
	}
	if h.stats(at(10), 0, 1, 5) {
		t.Fatal("recovered while the stats still count errors")
	}
	if h.stats(at(10), 0, 0, 0) {
		t.Fatal("recovered without fetching")
	}
	if !h.stats(at(10), 0, 0, 5) {
		t.Fatal("quiet, fetching and joined: must recover")
	}
	if s := h.status(at(10)); s.Kafka != "ok" || s.Consumer != "ok" {
		t.Fatalf("recovered: %+v", s)
	}
}

func TestHealthOldKafkaErrorsExpire(t *testing.T) {
	h := newTestHealth()
	h.stats(at(0), 1, 0, 0)
	h.readerFailed(at(1), "cannot reach kafka")
	if s := h.status(at(20)); s.Kafka == "ok" {
		t.Fatal("an error within two session timeouts must show")
	}
	if s := h.status(at(22)); s.Kafka != "ok" {
		t.Fatalf("an error older than two session timeouts still shows: %+v", s)
	}
}

func TestHealthStoreOutagePausesButIsNotAStall(t *testing.T) {
	h := newTestHealth()
	h.stats(at(0), 1, 0, 1)
	h.ownLag(at(0), 10, true)
	if failing, _ := h.stored(at(1), errors.New("server selection timeout")); !failing {
		t.Fatal("first store failure must say it turned failing")
	}
	// Retries keep failing for far longer than the stall timeout.
	for s := 2.0; s < 300; s += 5 {
		if failing, _ := h.stored(at(s), errors.New("server selection timeout")); failing {
			t.Fatal("a repeated store failure must not say it turned failing again")
		}
		h.ownLag(at(s), 10, true)
	}
	s := h.status(at(300))
	if s.Stalled || !strings.HasPrefix(s.Consumer, "paused: cannot write to MongoDB") || !strings.Contains(s.Store, "server selection timeout") {
		t.Fatalf("store outage: %+v", s)
	}
	if _, recovered := h.stored(at(301), nil); !recovered {
		t.Fatal("a write after failures must say it recovered")
	}
	if s := h.status(at(301)); s.Store != "ok" || s.Consumer != "ok" {
		t.Fatalf("after recovery: %+v", s)
	}
}

func TestHealthStallNeedsOwnLagAndNoProgressForTheWholeTimeout(t *testing.T) {
	cases := []struct {
		name        string
		lagFrom     float64 // first lag reading (own partitions); <0: none
		lagKnown    bool
		lastFetch   float64
		now         float64
		wantStalled bool
	}{
		{"lag and no progress for the timeout", 1, true, 0, 61, true},
		{"no lag: an idle consumer is healthy", -1, true, 0, 600, false},
		{"lag unknown (Kafka down): decides nothing", 1, false, 0, 600, false},
		{"lag for the timeout but a fetch recently", 1, true, 30, 61, false},
		{"no progress for long but lag only recently", 50, true, 0, 61, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newTestHealth()
			h.stats(at(0), 1, 0, 1)
			h.fetched(at(c.lastFetch))
			if c.lagFrom >= 0 {
				for s := c.lagFrom; s <= c.now; s += 5 {
					h.ownLag(at(s), 3, c.lagKnown)
				}
			}
			s := h.status(at(c.now))
			if s.Stalled != c.wantStalled {
				t.Fatalf("stalled %v, want %v (%+v)", s.Stalled, c.wantStalled, s)
			}
			if c.wantStalled && !strings.HasPrefix(s.Consumer, "stalled:") {
				t.Fatalf("consumer check %q does not say stalled", s.Consumer)
			}
		})
	}
}

func TestHealthLagGoingToZeroResetsTheStallClock(t *testing.T) {
	h := newTestHealth()
	h.stats(at(0), 1, 0, 1)
	h.ownLag(at(1), 3, true)
	h.ownLag(at(40), 0, true)
	h.ownLag(at(45), 3, true)
	if h.stalled(at(100)) {
		t.Fatal("lag continuous only since 45 s: not stalled at 100 s with a 60 s timeout")
	}
	if !h.stalled(at(106)) {
		t.Fatal("lag continuous since 45 s, nothing done: stalled at 106 s")
	}
}

func TestHealthWithoutStallTimeoutNeverStalls(t *testing.T) {
	h := newHealth("g", time.Second, 0, t0)
	h.ownLag(at(1), 3, true)
	if h.stalled(at(1e6)) {
		t.Fatal("a zero stall timeout must turn the check off")
	}
}

// A window of the projection on a slow store may take longer than the stall
// timeout; it is work, not a stall. Once it ends the clock runs again.
func TestHealthALongBatchIsNoStall(t *testing.T) {
	h := newTestHealth()
	h.stats(at(0), 1, 0, 1)
	h.ownLag(at(1), 3, true)
	h.batch(at(2), true)
	if h.stalled(at(500)) {
		t.Fatal("stalled while a batch was being processed")
	}
	h.batch(at(500), false)
	if h.stalled(at(540)) || !h.stalled(at(561)) {
		t.Fatal("after the batch, a stall is 60 s without progress")
	}
}
