package load

import "sort"

// Tally is what a disruption did to acknowledged buys: each acknowledged id
// must be stored once; an id stored but never acknowledged (its answer was
// lost with a killed pod) is allowed, since the client retries with the same
// Idempotency-Key and gets the same id.
type Tally struct {
	Acked   int      // ids acknowledged with 202
	Stored  int      // acknowledged ids found exactly once
	Missing []string // acknowledged, not stored
	Twice   []string // stored more than once
	Extra   int      // stored but never acknowledged
}

// OK reports whether nothing acknowledged was lost or stored twice.
func (t Tally) OK() bool { return len(t.Missing) == 0 && len(t.Twice) == 0 }

// Count compares the ids acknowledged with the ids a user's history lists.
func Count(acked, stored []string) Tally {
	seen := map[string]int{}
	for _, id := range stored {
		seen[id]++
	}
	t := Tally{Acked: len(acked)}
	wanted := map[string]bool{}
	for _, id := range acked {
		wanted[id] = true
		switch seen[id] {
		case 0:
			t.Missing = append(t.Missing, id)
		case 1:
			t.Stored++
		}
	}
	for id, n := range seen {
		if n > 1 {
			t.Twice = append(t.Twice, id)
		}
		if !wanted[id] {
			t.Extra++
		}
	}
	sort.Strings(t.Missing)
	sort.Strings(t.Twice)
	return t
}

// Add sums two tallies (of different users).
func (t Tally) Add(o Tally) Tally {
	return Tally{
		Acked: t.Acked + o.Acked, Stored: t.Stored + o.Stored, Extra: t.Extra + o.Extra,
		Missing: append(append([]string(nil), t.Missing...), o.Missing...),
		Twice:   append(append([]string(nil), t.Twice...), o.Twice...),
	}
}
