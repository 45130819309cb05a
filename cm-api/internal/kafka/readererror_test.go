package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/segmentio/kafka-go"
)

func TestReaderErrorClassification(t *testing.T) {
	timeout := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	cases := []struct {
		name   string
		e      readerError
		benign bool
	}{
		// The notes kafka-go writes to the error log without an error.
		{"past the last offset", readerError{"the kafka reader is reading passed the last offset for partition %d of %s at offset %d", []any{3, "purchases", int64(7)}}, true},
		{"before the first offset", readerError{"the kafka reader is reading before the first offset for partition %d of %s, skipping from offset %d to %d (%d messages)", []any{1, "purchases", int64(0), int64(5), int64(5)}}, true},
		{"fetch timeout", readerError{"the kafka reader got an unknown error reading partition %d of %s at offset %d: %s", []any{0, "purchases", int64(1), timeout}}, true},
		{"wrapped deadline", readerError{"%v", []any{fmt.Errorf("fetch: %w", context.DeadlineExceeded)}}, true},
		{"rebalance in progress", readerError{"Failed to sync group %s: %v", []any{"cm-api", kafka.RebalanceInProgress}}, true},
		{"broker request timed out", readerError{"%v", []any{kafka.RequestTimedOut}}, true},
		// Failures the consumer must report.
		{"SASL refused", readerError{"%v", []any{fmt.Errorf("could not successfully authenticate to 127.0.0.1:9092 with SASL: %w", kafka.SASLAuthenticationFailed)}}, false},
		{"connection refused", readerError{"Unable to establish connection to consumer group coordinator for group %s: %v", []any{"cm-api", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}}, false},
		{"broker hung up", readerError{"%v", []any{io.EOF}}, false},
		{"group authorization", readerError{"Failed to join group %s: %v", []any{"cm-api", kafka.GroupAuthorizationFailed}}, false},
		// The text would say "i/o timeout", but the error is not one: the type decides.
		{"text that looks benign", readerError{"%v", []any{errors.New("i/o timeout")}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.e.benign(); got != c.benign {
				t.Fatalf("benign %v, want %v", got, c.benign)
			}
		})
	}
}
