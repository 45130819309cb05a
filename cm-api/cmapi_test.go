package cmapi_test

import (
	"math/rand/v2"
	"testing"
	"time"

	cmapi "github.com/scalable-shop/shop/cm-api"
	"github.com/scalable-shop/shop/contract"
)

func delivery(id string, p int, off int64, cents int64, ts time.Time, name string) cmapi.Delivery {
	return cmapi.Delivery{Event: contract.Event{ID: id, UserID: "u", Username: name, PriceCents: cents, Timestamp: ts}, Partition: p, Offset: off}
}

func TestApplyCountsEachDeliveryOnce(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ds := []cmapi.Delivery{
		delivery("a", 2, 10, 100, t0.Add(time.Hour), "Old"),
		delivery("b", 2, 11, 250, t0, "Older"),
		delivery("c", 2, 15, 5, t0.Add(2*time.Hour), "Newest"),
	}
	var s cmapi.Summary
	for _, d := range ds {
		if !s.Apply(d) {
			t.Fatalf("first delivery of %s not applied", d.ID)
		}
	}
	// A replay of everything, as after a crash before the commit, changes nothing.
	for _, d := range ds {
		if s.Apply(d) {
			t.Errorf("redelivery of %s counted again", d.ID)
		}
	}
	if s.Count != 3 || s.TotalCents != 355 {
		t.Errorf("count %d total %d, want 3 and 355", s.Count, s.TotalCents)
	}
	if !s.First.Equal(t0) || !s.Last.Equal(t0.Add(2*time.Hour)) || s.Username != "Newest" {
		t.Errorf("first %v last %v name %q", s.First, s.Last, s.Username)
	}
	// Another partition has its own watermark.
	if !s.Apply(delivery("d", 3, 1, 1, t0, "x")) || s.Count != 4 {
		t.Error("a delivery of another partition was not counted")
	}
}

func TestLatestUsernameDoesNotDependOnArrivalOrder(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ds := []cmapi.Delivery{
		delivery("a", 0, 1, 1, t0, "A"),
		delivery("b", 1, 1, 1, t0.Add(time.Minute), "B"),
		delivery("c", 2, 1, 1, t0.Add(time.Minute), "C"), // same time: the larger id wins
		delivery("d", 3, 1, 1, t0.Add(-time.Minute), "D"),
	}
	for i := 0; i < 20; i++ {
		var s cmapi.Summary
		for _, j := range rand.Perm(len(ds)) {
			s.Apply(ds[j])
		}
		if s.Username != "C" || s.Count != 4 {
			t.Fatalf("order %d: username %q count %d, want C and 4", i, s.Username, s.Count)
		}
	}
}

func TestRecountCountsEveryStoredPurchaseAndRaisesTheWatermark(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	stored := []cmapi.Delivery{delivery("a", 0, 5, 100, t0, "A"), delivery("b", 0, 6, 200, t0.Add(time.Second), "B")}
	var s cmapi.Summary
	s.Apply(stored[0])
	s.Count, s.TotalCents = 99, 99 // corrupted
	got := cmapi.Recount(s, []contract.Event{stored[0].Event, stored[1].Event}, 0, 9)
	if got.Count != 2 || got.TotalCents != 300 || got.Username != "B" {
		t.Fatalf("recount %+v, want 2 purchases, 300 cents, latest name B", got)
	}
	if !got.Counted(0, 9) || got.Counted(0, 10) {
		t.Error("the watermark is not the rebuild command's offset")
	}
	if got.Apply(stored[1]) {
		t.Error("a redelivery below the rebuild was counted again")
	}
}
