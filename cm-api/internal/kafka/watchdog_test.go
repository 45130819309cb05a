package kafka

import (
	"testing"
	"time"
)

func TestShouldRejoin(t *testing.T) {
	after := 40 * time.Second
	stalled := watch{groupLag: 5, idle: time.Minute, sinceRejoin: time.Hour}
	if !shouldRejoin(stalled, after) {
		t.Fatal("lag, idle past the limit, no recent rejoin: must rejoin")
	}
	for name, w := range map[string]watch{
		"no lag: an idle group is fine":   {groupLag: 0, idle: time.Hour, sinceRejoin: time.Hour},
		"busy: a batch in store retries":  {groupLag: 5, busy: true, idle: time.Hour, sinceRejoin: time.Hour},
		"fetched recently":                {groupLag: 5, idle: 39 * time.Second, sinceRejoin: time.Hour},
		"rejoined recently: give it time": {groupLag: 5, idle: time.Hour, sinceRejoin: 10 * time.Second},
	} {
		if shouldRejoin(w, after) {
			t.Errorf("%s: rejoined", name)
		}
	}
	if rejoinAfter(10*time.Second) != 40*time.Second {
		t.Errorf("rejoinAfter(10s) = %s, want four session timeouts", rejoinAfter(10*time.Second))
	}
}

func TestOwnLagCountsOnlyAssignedPartitions(t *testing.T) {
	lag := map[int]int64{0: 3, 1: 0, 2: 7, 3: 11}
	if got := ownLag(lag, []int{1, 2}); got != 7 {
		t.Fatalf("own lag %d, want 7 (partitions 1 and 2)", got)
	}
	if got := ownLag(lag, nil); got != 0 {
		t.Fatalf("no partitions: lag %d, want 0", got)
	}
}
