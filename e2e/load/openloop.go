package load

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Op is one request. i numbers the requests of a run from 0. It returns "" on
// success or a short error class (an HTTP status, "timeout", ...) for the tally.
type Op func(ctx context.Context, i int) (errClass string)

// Options of one open-loop run.
type Options struct {
	Rate     float64       // requests per second
	Duration time.Duration // how long to keep firing
	// Timeout bounds one request; it ends as an error "timeout". Default 10 s.
	Timeout time.Duration
	// MaxInFlight caps the requests outstanding at once (default 50,000). A
	// request that would exceed it is not sent and counts as the error
	// "overload": the generator does not slow down to wait for the server.
	MaxInFlight int
}

// Result of one run. Latency is measured from each request's scheduled start, not
// from when it was actually sent, so time spent waiting for the generator (or for
// a connection) counts as the server's.
type Result struct {
	Rate       float64        `json:"rate"`        // offered, requests/s
	Duration   time.Duration  `json:"duration_ns"` // of the schedule
	Sent       int            `json:"sent"`
	OK         int            `json:"ok"`
	Errors     int            `json:"errors"`
	ErrorKinds map[string]int `json:"error_kinds,omitempty"`
	Achieved   float64        `json:"achieved"` // successful requests/s over the schedule
	// Lag is how far behind its schedule the generator sent its requests at worst.
	Lag     time.Duration `json:"max_send_lag_ns"`
	Latency Summary       `json:"latency"`     // of successful requests
	Overall Summary       `json:"latency_all"` // of every request, failed ones included
}

// ErrorRate is the share of requests that failed.
func (r Result) ErrorRate() float64 {
	if r.Sent == 0 {
		return 0
	}
	return float64(r.Errors) / float64(r.Sent)
}

func (r Result) String() string {
	return fmt.Sprintf("rate %.0f/s sent %d ok %d err %d (%.3f%%) p50 %s p90 %s p99 %s max %s lag %s %v",
		r.Rate, r.Sent, r.OK, r.Errors, 100*r.ErrorRate(), ms(r.Overall.P50), ms(r.Overall.P90),
		ms(r.Overall.P99), ms(r.Overall.Max), ms(r.Lag), r.ErrorKinds)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

// Run fires op at opts.Rate for opts.Duration on an open-loop schedule and waits
// for the requests in flight to end.
func Run(ctx context.Context, opts Options, op Op) Result {
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.MaxInFlight == 0 {
		opts.MaxInFlight = 50000
	}
	total := int(opts.Rate * opts.Duration.Seconds())
	interval := time.Duration(float64(time.Second) / opts.Rate)
	var (
		okHist, allHist Histogram
		ok, failed      atomic.Int64
		inFlight        atomic.Int64
		mu              sync.Mutex
		kinds           = map[string]int{}
		wg              sync.WaitGroup
		maxLag          time.Duration
	)
	fail := func(class string) {
		failed.Add(1)
		mu.Lock()
		kinds[class]++
		mu.Unlock()
	}
	start := time.Now().Add(10 * time.Millisecond)
	sent := 0
	for i := 0; i < total; i++ {
		due := start.Add(time.Duration(i) * interval)
		if wait := time.Until(due); wait > 0 {
			// Sleep in one piece to the next due time; requests that came due meanwhile
			// go out at once below (their latency still counts from their due time).
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
		if ctx.Err() != nil {
			break
		}
		sent++
		if lag := time.Since(due); lag > maxLag {
			maxLag = lag
		}
		if inFlight.Load() >= int64(opts.MaxInFlight) {
			allHist.Record(opts.Timeout)
			fail("overload")
			continue
		}
		inFlight.Add(1)
		wg.Add(1)
		go func(i int, due time.Time) {
			defer wg.Done()
			defer inFlight.Add(-1)
			rctx, cancel := context.WithDeadline(ctx, due.Add(opts.Timeout))
			class := op(rctx, i)
			if class == "" && rctx.Err() != nil {
				class = "timeout"
			}
			cancel()
			d := time.Since(due)
			allHist.Record(d)
			if class != "" {
				fail(class)
				return
			}
			okHist.Record(d)
			ok.Add(1)
		}(i, due)
	}
	wg.Wait()
	r := Result{Rate: opts.Rate, Duration: opts.Duration, Sent: sent, OK: int(ok.Load()), Errors: int(failed.Load()),
		Lag: maxLag, Latency: okHist.Summary(), Overall: allHist.Summary()}
	if len(kinds) > 0 {
		r.ErrorKinds = kinds
	}
	r.Achieved = float64(r.OK) / opts.Duration.Seconds()
	return r
}

// Search finds the highest rate from rates (ascending) that passes: it runs them in
// order and stops at the first failure, then tries the midpoint between the last
// pass and that failure once. It returns the best passing result (ok false if
// none passed) and every run, in order.
func Search(rates []float64, run func(rate float64) Result, pass func(Result) bool) (best Result, ok bool, all []Result) {
	sort.Float64s(rates)
	var failedAt float64
	for _, rate := range rates {
		r := run(rate)
		all = append(all, r)
		if !pass(r) {
			failedAt = rate
			break
		}
		best, ok = r, true
	}
	if failedAt > 0 && ok {
		mid := float64(int((best.Rate+failedAt)/2/100) * 100)
		if mid > best.Rate && mid < failedAt {
			r := run(mid)
			all = append(all, r)
			if pass(r) {
				best = r
			}
		}
	}
	return best, ok, all
}
