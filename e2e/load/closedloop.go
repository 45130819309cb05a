package load

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Closed runs op from clients goroutines, each sending its next request when
// the last one ended, for d: how a page of the shop behaves with that many
// users reloading it. The Result's Rate and Achieved are the requests per
// second that completed; latency is from each request's send.
func Closed(ctx context.Context, clients int, d, timeout time.Duration, op Op) Result {
	var (
		okHist, allHist Histogram
		sent, ok        atomic.Int64
		mu              sync.Mutex
		kinds           = map[string]int{}
		wg              sync.WaitGroup
	)
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; ctx.Err() == nil; i += clients {
				start := time.Now()
				rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
				class := op(rctx, i)
				if class == "" && rctx.Err() != nil {
					class = "timeout"
				}
				rcancel()
				took := time.Since(start)
				sent.Add(1)
				allHist.Record(took)
				if class != "" {
					mu.Lock()
					kinds[class]++
					mu.Unlock()
					continue
				}
				okHist.Record(took)
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	r := Result{Duration: d, Sent: int(sent.Load()), OK: int(ok.Load()), Latency: okHist.Summary(), Overall: allHist.Summary()}
	r.Errors = r.Sent - r.OK
	if len(kinds) > 0 {
		r.ErrorKinds = kinds
	}
	r.Rate = float64(r.Sent) / d.Seconds()
	r.Achieved = float64(r.OK) / d.Seconds()
	return r
}
