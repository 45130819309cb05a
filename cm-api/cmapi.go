// Package cmapi holds cm-api's domain: an event as it was delivered, and the
// per-user summary with the one rule that keeps it exact under redelivery. The
// adapters (internal/kafka, internal/mongo) and the wiring (app) build on it.
package cmapi

import (
	"cmp"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/scalable-shop/shop/contract"
)

// Delivery is a purchase event together with where it sits on the topic. The
// position is what makes the user summary exact: see Summary.
type Delivery struct {
	contract.Event
	Partition int
	Offset    int64
	// Appended is the record's timestamp: every purchase acknowledged to a
	// buyer before it sits at a lower offset of its partition.
	Appended time.Time
}

// ErrNotYetStored means a delivery's purchase is not stored yet: the summaries
// trail the purchases and wait for them (see Owns).
var ErrNotYetStored = errors.New("purchase not stored yet")

// Skipped reports whether the purchase of d, found not stored, never will be:
// the purchases consumer's group has committed past d (committed holds its next
// offset per partition, read before the purchase was looked for) without
// storing it, as when an operator moved the group's offsets past a backlog.
// Such a purchase is not counted; any other missing one is waited for.
func Skipped(d Delivery, committed map[int]int64) bool {
	c, ok := committed[d.Partition]
	return ok && c > d.Offset
}

// Owns reports whether d is the delivery that created its purchase document,
// whose stored source position is (partition, offset). Only that delivery
// counts the purchase into the user's summary: a duplicate record on the topic
// does not, and a redelivery of the owner is skipped by the watermark.
func Owns(d Delivery, partition int, offset int64) bool {
	return d.Partition == partition && d.Offset == offset
}

// Summary is a user's record: totals over every purchase counted so far.
//
// It stays exact without transactions because of Applied: for each partition,
// the highest offset already counted. A purchase is counted by the delivery that
// created its document (the purchase keeps that delivery's position), and only if
// its offset is above the watermark. So a redelivery after a crash, a duplicate
// record on the topic, or a replay of a whole batch counts nothing twice, and a
// purchase stored before a crash is still counted when its delivery comes again.
// Writers replace the summary only if Version is unchanged since they read it.
type Summary struct {
	UserID      string
	Username    string // of the latest purchase (by time, then id)
	Count       int64
	TotalCents  int64
	First, Last time.Time
	LastID      string
	Applied     map[string]int64
	Version     int64
	// AsOf: every purchase of the user acknowledged before it is counted. The
	// projection sets it to the newest record time of the user's partition in
	// the window it last wrote the summary in, so it is a lower bound.
	AsOf time.Time
}

// Counted reports whether the delivery at (partition, offset) is already in s.
func (s *Summary) Counted(partition int, offset int64) bool {
	w, ok := s.Applied[strconv.Itoa(partition)]
	return ok && offset <= w
}

// Apply counts d unless it is already counted, and reports whether it changed s.
func (s *Summary) Apply(d Delivery) bool {
	if s.Counted(d.Partition, d.Offset) {
		return false
	}
	if s.Applied == nil {
		s.Applied = map[string]int64{}
	}
	s.Applied[strconv.Itoa(d.Partition)] = d.Offset
	s.add(d.Event)
	return true
}

// add counts a purchase, watermark aside. Rebuilds use it directly.
func (s *Summary) add(e contract.Event) {
	s.UserID = e.UserID
	if s.Count == 0 || e.Timestamp.Before(s.First) {
		s.First = e.Timestamp
	}
	if s.Count == 0 || e.Timestamp.After(s.Last) || e.Timestamp.Equal(s.Last) && e.ID > s.LastID {
		s.Last, s.LastID, s.Username = e.Timestamp, e.ID, e.Username
	}
	s.Count++
	s.TotalCents += e.PriceCents
}

// Recount returns s recomputed from every stored purchase of the user, for the
// rebuild command at (partition, offset) stamped at: the purchases stored from
// a later record of that partition are left to the projection, which counts
// them after the command, and the watermark of partition becomes offset. It
// reports false, and returns s, if s already counts that position: the command
// was carried out before (a redelivery), and counting again would drop what the
// projection has counted since.
func Recount(s Summary, purchases []Delivery, partition int, offset int64, at time.Time) (Summary, bool) {
	if s.Counted(partition, offset) {
		return s, false
	}
	applied := map[string]int64{}
	for p, w := range s.Applied {
		applied[p] = w
	}
	applied[strconv.Itoa(partition)] = offset
	out := Summary{UserID: s.UserID, Applied: applied, Version: s.Version, AsOf: at}
	for _, d := range Recounted(purchases, partition, offset) {
		out.add(d.Event)
	}
	return out, true
}

// Recounted returns the purchases a rebuild command at (partition, offset)
// counts: all but those stored from later records of its partition, which
// their own deliveries count.
func Recounted(purchases []Delivery, partition int, offset int64) []Delivery {
	var out []Delivery
	for _, d := range purchases {
		if d.Partition != partition || d.Offset <= offset {
			out = append(out, d)
		}
	}
	return out
}

// Fold counts the owning deliveries into the summaries in current (keyed by
// user, missing ones start empty), in partition and offset order, and dates
// each changed summary with the newest record time of its partition among
// window, the deliveries read in the same pass. It returns the changed users.
func Fold(current map[string]Summary, counted, window []Delivery) []string {
	newest := map[int]time.Time{}
	for _, d := range window {
		if d.Appended.After(newest[d.Partition]) {
			newest[d.Partition] = d.Appended
		}
	}
	// Watermarks move forward only, so each partition goes in offset order.
	counted = slices.Clone(counted)
	slices.SortStableFunc(counted, func(a, b Delivery) int {
		return cmp.Or(cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Offset, b.Offset))
	})
	var changed []string
	dirty := map[string]bool{}
	for _, d := range counted {
		sum := current[d.UserID]
		sum.UserID = d.UserID
		if sum.Apply(d) {
			if at := newest[d.Partition]; at.After(sum.AsOf) {
				sum.AsOf = at
			}
			if !dirty[d.UserID] {
				dirty[d.UserID] = true
				changed = append(changed, d.UserID)
			}
		}
		current[d.UserID] = sum
	}
	return changed
}

// View is the summary as the API shows it.
func (s Summary) View() contract.UserSummary {
	return contract.UserSummary{
		UserID: s.UserID, Username: s.Username, PurchaseCount: s.Count,
		TotalSpent: contract.FormatPrice(s.TotalCents), FirstPurchase: s.First.UTC(), LastPurchase: s.Last.UTC(),
		AsOf: s.AsOf.UTC(),
	}
}
