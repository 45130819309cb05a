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
	got, ok := cmapi.Recount(s, stored, 0, 9, t0.Add(time.Minute))
	if !ok || got.Count != 2 || got.TotalCents != 300 || got.Username != "B" {
		t.Fatalf("recount %+v (%v), want 2 purchases, 300 cents, latest name B", got, ok)
	}
	if !got.Counted(0, 9) || got.Counted(0, 10) {
		t.Error("the watermark is not the rebuild command's offset")
	}
	if got.Apply(stored[1]) {
		t.Error("a redelivery below the rebuild was counted again")
	}
	if !got.AsOf.Equal(t0.Add(time.Minute)) {
		t.Errorf("as of %v, want the command's time", got.AsOf)
	}
}

// The purchases are stored ahead of the summaries: a purchase from a record
// after the command is the projection's to count, after the command.
func TestRecountLeavesPurchasesOfLaterRecordsToTheProjection(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	stored := []cmapi.Delivery{delivery("a", 0, 5, 100, t0, "A"), delivery("b", 0, 12, 200, t0, "B"), delivery("c", 1, 40, 7, t0, "C")}
	got, _ := cmapi.Recount(cmapi.Summary{UserID: "u"}, stored, 0, 9, t0)
	if got.Count != 2 || got.TotalCents != 107 {
		t.Fatalf("recount %d/%d, want 2 purchases (a and c) and 107 cents", got.Count, got.TotalCents)
	}
	if !got.Apply(stored[1]) || got.Count != 3 {
		t.Error("the purchase after the command was not counted by its delivery")
	}
}

// A rebuild command delivered again after the projection moved on must not
// recount: that would drop the purchases counted since (they are above the
// command, and the watermark already covers them).
func TestRecountOfACommandAlreadyCarriedOutChangesNothing(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	stored := []cmapi.Delivery{delivery("a", 0, 5, 100, t0, "A"), delivery("b", 0, 12, 200, t0, "B")}
	s, _ := cmapi.Recount(cmapi.Summary{UserID: "u"}, stored, 0, 9, t0)
	s.Apply(stored[1])
	again, ok := cmapi.Recount(s, stored, 0, 9, t0)
	if ok || again.Count != 2 || again.TotalCents != 300 {
		t.Fatalf("second recount: %d/%d changed=%v, want 2/300 unchanged", again.Count, again.TotalCents, ok)
	}
}

func TestFoldCountsInOffsetOrderAndDatesWhatItChanged(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d cmapi.Delivery, sec int) cmapi.Delivery {
		d.Appended = t0.Add(time.Duration(sec) * time.Second)
		return d
	}
	a, b := at(delivery("a", 0, 5, 100, t0, "A"), 1), at(delivery("b", 0, 6, 200, t0, "B"), 2)
	other := at(delivery("x", 0, 7, 1, t0, "X"), 3) // another user's record, later in the same partition
	other.UserID = "v"
	current := map[string]cmapi.Summary{}
	// Out of order: applying 6 before 5 would raise the watermark past 5 and lose it.
	changed := cmapi.Fold(current, []cmapi.Delivery{b, a}, []cmapi.Delivery{a, b, other})
	if len(changed) != 1 || changed[0] != "u" || current["u"].Count != 2 || current["u"].TotalCents != 300 {
		t.Fatalf("changed %v, summary %+v; want u with 2 purchases, 300 cents", changed, current["u"])
	}
	if !current["u"].AsOf.Equal(t0.Add(3 * time.Second)) {
		t.Errorf("as of %v, want the newest record time of the partition in the window", current["u"].AsOf)
	}
	if changed := cmapi.Fold(current, []cmapi.Delivery{a, b}, []cmapi.Delivery{a, b}); len(changed) != 0 {
		t.Errorf("a replay changed %v", changed)
	}
}

func TestOnlyTheDeliveryThatStoredAPurchaseOwnsIt(t *testing.T) {
	d := delivery("a", 2, 10, 1, time.Time{}, "A")
	if !cmapi.Owns(d, 2, 10) || cmapi.Owns(d, 2, 9) || cmapi.Owns(d, 3, 10) {
		t.Error("ownership is not the exact stored position")
	}
}

func TestAPurchaseIsSkippedOnlyIfThePurchasesGroupCommittedPastIt(t *testing.T) {
	d := delivery("a", 2, 10, 1, time.Time{}, "A")
	cases := []struct {
		committed map[int]int64
		want      bool
	}{
		{nil, false},                  // offsets unknown: wait
		{map[int]int64{2: 10}, false}, // the group is at it: in progress
		{map[int]int64{2: 11}, true},  // committed past it, and it is not stored
		{map[int]int64{3: 99}, false}, // another partition says nothing
	}
	for _, c := range cases {
		if got := cmapi.Skipped(d, c.committed); got != c.want {
			t.Errorf("committed %v: skipped %v, want %v", c.committed, got, c.want)
		}
	}
}
