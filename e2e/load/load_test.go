package load

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// The histogram's quantiles stay within its stated error of the exact ones.
func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	vals := make([]time.Duration, 20000)
	for i := range vals {
		vals[i] = time.Duration(rand.ExpFloat64()*5000) * time.Microsecond
		h.Record(vals[i])
	}
	slices.Sort(vals)
	for _, q := range []float64{.5, .9, .99, .999} {
		exact := vals[int(q*float64(len(vals)))-1]
		got := h.Quantile(q)
		if got < exact || float64(got-exact) > 0.01*float64(exact)+float64(time.Microsecond) {
			t.Errorf("q%.3f = %s, exact %s", q, got, exact)
		}
	}
	if h.Max() != vals[len(vals)-1].Truncate(time.Microsecond) || h.Count() != uint64(len(vals)) {
		t.Errorf("max %s count %d", h.Max(), h.Count())
	}
	for v := uint64(0); v < 1<<20; v += 997 {
		if b := bucket(v); lowest(b) > v || lowest(b+1) <= v {
			t.Fatalf("value %d in bucket %d [%d, %d)", v, b, lowest(b), lowest(b+1))
		}
	}
}

// Requests go out on schedule even when the server is slow (open loop), and their
// latency counts from the schedule.
func TestRunOpenLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a load for half a second against a slow server; not under -short")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(200 * time.Millisecond)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	c := NewClient()
	start := time.Now()
	res := Run(context.Background(), Options{Rate: 100, Duration: 500 * time.Millisecond}, func(ctx context.Context, _ int) string {
		return Do(c, PostJSON(ctx, srv.URL, []byte(`{}`)), http.StatusAccepted, nil)
	})
	if res.Sent != 50 || res.OK != 50 || res.Errors != 0 {
		t.Fatalf("%s", res)
	}
	// Closed loop with one worker would take 50 × 200 ms; open loop ends ~200 ms
	// after the last scheduled send.
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %s: requests waited for each other", d)
	}
	if res.Latency.P50 < 200*time.Millisecond {
		t.Errorf("p50 %s below the server's own 200 ms", res.Latency.P50)
	}
	fail := Run(context.Background(), Options{Rate: 50, Duration: 100 * time.Millisecond}, func(ctx context.Context, _ int) string {
		return Do(c, PostJSON(ctx, srv.URL, nil), http.StatusOK, nil)
	})
	if fail.Errors != fail.Sent || fail.ErrorKinds["202"] != fail.Sent {
		t.Errorf("wrong status not counted: %s", fail)
	}
}

func TestSearch(t *testing.T) {
	run := func(rate float64) Result { return Result{Rate: rate} }
	pass := func(r Result) bool { return r.Rate <= 3000 }
	best, ok, all := Search([]float64{4000, 1000, 2000}, run, pass)
	if !ok || best.Rate != 3000 || len(all) != 4 {
		t.Errorf("best %v ok %v runs %d", best.Rate, ok, len(all))
	}
}

func TestClosedLoopKeepsEachClientToOneRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a load for half a second; not under -short")
	}
	var inFlight, most atomic.Int32
	res := Closed(context.Background(), 4, 500*time.Millisecond, time.Second, func(ctx context.Context, i int) string {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(20 * time.Millisecond)
		if i%5 == 0 {
			return "odd"
		}
		return ""
	})
	if most.Load() != 4 {
		t.Errorf("%d requests in flight at most, want the 4 clients'", most.Load())
	}
	// Every request is counted once, and the failing fifth (i%5 == 0) as its
	// error kind; how many fit in the half second is the machine's business.
	if res.Sent == 0 || res.OK+res.Errors != res.Sent || res.Errors != res.ErrorKinds["odd"] || res.Errors < res.Sent/8 || res.Errors > res.Sent/3+1 {
		t.Errorf("%s", res)
	}
	if res.Latency.P50 < 20*time.Millisecond {
		t.Errorf("p50 %s below the op's own 20 ms", res.Latency.P50)
	}
}
