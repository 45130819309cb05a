package mongo

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestRoundTripsRunAFewAtATimeEachWithItsOwnTimeout(t *testing.T) {
	s := &Store{timeout: time.Minute}
	var running, most, calls atomic.Int32
	err := s.roundTrips(context.Background(), 20, 3, func(ctx context.Context, i int) error {
		calls.Add(1)
		n := running.Add(1)
		defer running.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		if _, ok := ctx.Deadline(); !ok {
			t.Error("a call without its own deadline")
		}
		time.Sleep(2 * time.Millisecond) // lets the others overlap
		return nil
	})
	if err != nil || calls.Load() != 20 {
		t.Fatalf("err %v after %d calls, want nil after 20", err, calls.Load())
	}
	if most.Load() > 3 {
		t.Fatalf("%d calls at once, want at most 3", most.Load())
	}
}

func TestRoundTripsStopAtTheFirstFailure(t *testing.T) {
	s := &Store{timeout: time.Minute}
	down := errors.New("connection refused")
	var calls atomic.Int32
	err := s.roundTrips(context.Background(), 100, 2, func(ctx context.Context, i int) error {
		calls.Add(1)
		if i == 0 {
			return down
		}
		<-ctx.Done() // the others run until the failure cancels them
		return ctx.Err()
	})
	if !errors.Is(err, down) {
		t.Fatalf("err %v, want the first failure", err)
	}
	if n := calls.Load(); n > 4 {
		t.Fatalf("%d of 100 calls started after a failure among the first two", n)
	}
}

func TestRoundTripsReportACancelledContext(t *testing.T) {
	s := &Store{timeout: time.Minute}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.roundTrips(ctx, 5, 2, func(ctx context.Context, i int) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}
