// Package cmapi holds cm-api's domain: an event as it was delivered, and the
// per-user summary with the one rule that keeps it exact under redelivery. The
// adapters (internal/kafka, internal/mongo) and the wiring (app) build on it.
package cmapi

import (
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

// Recount returns s recomputed from every stored purchase of the user, with the
// watermark of partition raised to offset: the position of the rebuild command
// that asked for it. The consumer handles that command in partition order after
// every earlier delivery of the user, so nothing it counts is still in flight.
func Recount(s Summary, purchases []contract.Event, partition int, offset int64) Summary {
	applied := map[string]int64{}
	for p, w := range s.Applied {
		applied[p] = w
	}
	if w, ok := applied[strconv.Itoa(partition)]; !ok || offset > w {
		applied[strconv.Itoa(partition)] = offset
	}
	out := Summary{UserID: s.UserID, Applied: applied, Version: s.Version}
	for _, e := range purchases {
		out.add(e)
	}
	return out
}

// View is the summary as the API shows it.
func (s Summary) View() contract.UserSummary {
	return contract.UserSummary{
		UserID: s.UserID, Username: s.Username, PurchaseCount: s.Count,
		TotalSpent: contract.FormatPrice(s.TotalCents), FirstPurchase: s.First.UTC(), LastPurchase: s.Last.UTC(),
	}
}
