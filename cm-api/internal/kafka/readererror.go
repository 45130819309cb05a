package kafka

import (
	"context"
	"errors"
	"net"
	"os"

	"github.com/segmentio/kafka-go"
)

// readerError is what kafka-go's ErrorLogger hands over: a format and its
// arguments. Classification looks at the typed errors among the arguments, never
// at the rendered text.
type readerError struct {
	format string
	args   []any
}

// err returns the first error among the arguments, nil when there is none.
func (e readerError) err() error {
	for _, a := range e.args {
		if err, ok := a.(error); ok {
			return err
		}
	}
	return nil
}

// benign reports whether the reader error belongs to normal operation and says
// nothing about the health of the consumer:
//   - no error at all: kafka-go notes on the error log that it skips to a
//     partition's first offset or waits past its last one;
//   - a timeout: a long-poll fetch the broker answers just after kafka-go's own
//     deadline;
//   - Rebalance In Progress: a rebalance began while this member joined (Apache
//     Kafka answers a SyncGroup so when a killed member comes back; kafka-go
//     joins again by itself). A group that never settles shows as "not yet a
//     member" instead.
func (e readerError) benign() bool {
	err := e.err()
	if err == nil {
		return true
	}
	var ne net.Error
	switch {
	case errors.Is(err, kafka.RebalanceInProgress),
		errors.Is(err, kafka.RequestTimedOut),
		errors.Is(err, os.ErrDeadlineExceeded),
		errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return true
	}
	return false
}
