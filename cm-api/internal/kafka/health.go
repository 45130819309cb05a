package kafka

import "time"

// Status is the consumer's state as /readyz reports it and /healthz decides on.
// Each text is "ok" or one line saying what is wrong.
type Status struct {
	Kafka    string // the brokers: reachable, our login accepted
	Store    string // the last MongoDB write
	Consumer string // "ok", or joining, paused or stalled and why
	// Stalled: the consumer holds partitions with lag but made no progress for the
	// stall timeout. Only a restart is known to help (see health.stalled).
	Stalled bool
}

// health is the consumer's state machine. It is moved only by events that carry
// their time, and holds no lock and reads no clock, so that every transition has
// a unit test; the Consumer serialises access.
type health struct {
	group          string
	sessionTimeout time.Duration
	stallAfter     time.Duration

	joined       bool
	kafkaFailing bool
	kafkaErr     string    // the last reader error, explained
	kafkaErrAt   time.Time // when it came
	storeFailing bool
	storeErr     string

	progress time.Time // last fetch, or end of a store attempt (success or not)
	inBatch  bool      // a batch is being processed: its store calls each have a timeout
	lagSince time.Time // since when the member's own partitions have lag; zero: none or unknown
}

func newHealth(group string, sessionTimeout, stallAfter time.Duration, now time.Time) *health {
	return &health{group: group, sessionTimeout: sessionTimeout, stallAfter: stallAfter, progress: now}
}

// readerFailed records a reader error that is not part of normal operation. It
// reports whether Kafka just turned failing, which is logged once.
func (h *health) readerFailed(now time.Time, explained string) (turnedFailing bool) {
	h.kafkaErr, h.kafkaErrAt = explained, now
	turnedFailing = !h.kafkaFailing
	h.kafkaFailing = true
	return turnedFailing
}

// quietAfterError is how long the reader must report no error, while fetching,
// before Kafka counts as recovered: kafka-go keeps retrying in the background,
// and one good fetch between failures is not a recovery.
const quietAfterError = 3 * time.Second

// stats takes one reading of kafka-go's reset-on-read reader stats. It reports
// whether Kafka just recovered.
func (h *health) stats(now time.Time, rebalances, errors, fetches int64) (recovered bool) {
	if rebalances > 0 {
		h.joined = true
	}
	if h.kafkaFailing && errors == 0 && fetches > 0 && h.joined && now.Sub(h.kafkaErrAt) > quietAfterError {
		h.kafkaFailing = false
		return true
	}
	return false
}

// stored records the outcome of a store attempt. Either way the consumer is
// alive: a consumer paused on a MongoDB outage is not stalled, and restarting it
// would not help. It reports whether the store turned failing or recovered.
func (h *health) stored(now time.Time, err error) (turnedFailing, recovered bool) {
	h.progress = now
	if err != nil {
		h.storeErr = err.Error()
		turnedFailing = !h.storeFailing
		h.storeFailing = true
		return turnedFailing, false
	}
	recovered = h.storeFailing
	h.storeFailing, h.storeErr = false, ""
	return false, recovered
}

// fetched records that the reader delivered records or finished a batch.
func (h *health) fetched(now time.Time) { h.progress = now }

// batch records that a batch's processing started or ended. A batch in
// progress is no stall, however long it takes: every store call it makes is
// bounded by its own timeout and retried, and a projection window on a slow
// store may take minutes of such calls.
func (h *health) batch(now time.Time, started bool) {
	h.inBatch = started
	h.progress = now
}

// ownLag records the lag of the partitions assigned to this member; known is
// false when the assignment or the offsets could not be read, which decides
// nothing (a Kafka outage is not a stall).
func (h *health) ownLag(now time.Time, lag int64, known bool) {
	switch {
	case !known || lag == 0:
		h.lagSince = time.Time{}
	case h.lagSince.IsZero():
		h.lagSince = now
	}
}

// stalled: the member's own partitions have had lag for the whole stall timeout
// and in that time it fetched nothing and worked on no batch. The rejoin
// watchdog has had its chance by then (it acts after a few session timeouts).
func (h *health) stalled(now time.Time) bool {
	return h.stallAfter > 0 && !h.lagSince.IsZero() && !h.inBatch &&
		now.Sub(h.lagSince) >= h.stallAfter && now.Sub(h.progress) >= h.stallAfter
}

// status reads the state at now.
func (h *health) status(now time.Time) Status {
	s := Status{Kafka: "ok", Store: "ok", Consumer: "ok"}
	// kafka-go reports errors only while they happen: a failure not repeated
	// within two session timeouts is over even if no stats reading said so.
	if h.kafkaFailing && now.Sub(h.kafkaErrAt) < 2*h.sessionTimeout {
		s.Kafka = h.kafkaErr
	}
	if h.storeFailing {
		s.Store = "write failed: " + h.storeErr
	}
	switch {
	case h.stalled(now):
		s.Stalled = true
		s.Consumer = "stalled: its partitions have lag but nothing was fetched or stored for " + h.stallAfter.String()
	case h.storeFailing:
		s.Consumer = "paused: cannot write to MongoDB; retrying, nothing is committed until it recovers"
	case s.Kafka != "ok":
		s.Consumer = "paused: " + s.Kafka
	case !h.joined:
		s.Consumer = "not yet a member of consumer group " + h.group
	}
	return s
}
