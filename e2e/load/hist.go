// Package load is the shop's load generator: an open-loop schedule (requests are
// fired at their planned times whether or not earlier ones have answered, so a
// slow server cannot slow the offered load down and hide its own latency, the
// "coordinated omission" of closed-loop tools) and a log-linear latency histogram.
package load

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// subBits sets the precision: 2^subBits buckets per power of two, so a recorded
// value is off by at most 1/2^subBits (0.8 %) of itself, as with an HDR histogram
// of two significant digits.
const (
	subBits    = 7
	subBuckets = 1 << subBits
	maxExp     = 40 // 2^40 µs is 12 days: nothing a benchmark waits for
	numBuckets = (maxExp + 1) * subBuckets
)

// Histogram records durations at microsecond resolution with a bounded relative
// error. Record is lock-free and safe for concurrent use.
type Histogram struct {
	counts [numBuckets]atomic.Uint64
	n      atomic.Uint64
	max    atomic.Int64 // µs
	sum    atomic.Int64 // µs
}

// bucket maps a value in µs to its bucket: values below subBuckets get one bucket
// each; above, each power of two is split into subBuckets equal parts.
func bucket(v uint64) int {
	if v < subBuckets {
		return int(v)
	}
	exp := bits.Len64(v) - subBits // ≥ 1
	idx := exp*subBuckets + int(v>>uint(exp-1)) - subBuckets
	return min(idx, numBuckets-1)
}

// lowest returns the smallest value (µs) that falls into bucket idx.
func lowest(idx int) uint64 {
	if idx < subBuckets {
		return uint64(idx)
	}
	exp := idx / subBuckets
	sub := idx%subBuckets + subBuckets
	return uint64(sub) << uint(exp-1)
}

// Record adds one duration; negative ones count as zero.
func (h *Histogram) Record(d time.Duration) {
	us := d.Microseconds()
	if us < 0 {
		us = 0
	}
	h.counts[bucket(uint64(us))].Add(1)
	h.n.Add(1)
	h.sum.Add(us)
	for {
		m := h.max.Load()
		if us <= m || h.max.CompareAndSwap(m, us) {
			break
		}
	}
}

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 { return h.n.Load() }

// Max is the largest recorded value, exactly.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max.Load()) * time.Microsecond }

// Mean is the average of the recorded values.
func (h *Histogram) Mean() time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load()/int64(n)) * time.Microsecond
}

// Quantile returns the value below which a fraction q (0..1) of the recorded values
// lie: the upper edge of the bucket holding that rank, capped at Max, so it never
// understates.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	rank = max(rank, 1)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			upper := lowest(i+1) - 1
			if i < subBuckets {
				upper = lowest(i)
			}
			return min(time.Duration(upper)*time.Microsecond, h.Max())
		}
	}
	return h.Max()
}

// Merge adds the values of o to h.
func (h *Histogram) Merge(o *Histogram) {
	for i := range o.counts {
		if c := o.counts[i].Load(); c > 0 {
			h.counts[i].Add(c)
		}
	}
	h.n.Add(o.n.Load())
	h.sum.Add(o.sum.Load())
	for {
		m, om := h.max.Load(), o.max.Load()
		if om <= m || h.max.CompareAndSwap(m, om) {
			break
		}
	}
}

// Summary is the usual set of percentiles.
type Summary struct {
	Count uint64        `json:"count"`
	Mean  time.Duration `json:"mean_ns"`
	P50   time.Duration `json:"p50_ns"`
	P90   time.Duration `json:"p90_ns"`
	P99   time.Duration `json:"p99_ns"`
	P999  time.Duration `json:"p999_ns"`
	Max   time.Duration `json:"max_ns"`
}

// Summary returns the percentiles of h.
func (h *Histogram) Summary() Summary {
	return Summary{Count: h.Count(), Mean: h.Mean(), P50: h.Quantile(.5), P90: h.Quantile(.9),
		P99: h.Quantile(.99), P999: h.Quantile(.999), Max: h.Max()}
}
