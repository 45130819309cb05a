package kafka

import "time"

// rejoinAfter is how long a reader may fetch nothing while its group has lag
// before it is replaced. Rebalances after a crashed member take up to a session
// timeout or two; this is well past that.
func rejoinAfter(sessionTimeout time.Duration) time.Duration { return 4 * sessionTimeout }

// watch is one reading for the rejoin watchdog.
type watch struct {
	groupLag    int64         // records of the topic the group has not committed
	busy        bool          // a batch is being processed (store retries included)
	idle        time.Duration // since the last fetch or the end of the last batch
	sinceRejoin time.Duration // since the watchdog last replaced the reader
}

// shouldRejoin decides whether to replace the reader, which leaves the group and
// joins anew. kafka-go can end up in a generation that assigns it no partitions
// after members crash mid-rebalance; rejoining heals that instead of idling for
// ever. The group's lag, not the member's, is what counts here: such a member
// holds nothing. A batch in progress is never interrupted, and one rejoin gets
// its time to work before the next.
func shouldRejoin(w watch, after time.Duration) bool {
	return w.groupLag > 0 && !w.busy && w.idle >= after && w.sinceRejoin >= after
}

// ownLag sums the lag of the partitions assigned to this member.
func ownLag(lag map[int]int64, mine []int) int64 {
	var sum int64
	for _, p := range mine {
		sum += lag[p]
	}
	return sum
}
