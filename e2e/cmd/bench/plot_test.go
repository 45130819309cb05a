package main

import (
	"encoding/xml"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scalable-shop/shop/e2e/load"
)

func run(rate float64, p99 time.Duration, errors int) load.Result {
	return load.Result{Rate: rate, Sent: 100, OK: 100 - errors, Errors: errors, Overall: load.Summary{P50: p99 / 4, P99: p99}}
}

// The plot is well-formed SVG with one p99 and one p50 line per target, a
// point per distinct rate in rate order, and the runs that did not hold
// hollow.
func TestLatencyPlotHasAPointPerRateAndMarksWhatDidNotHold(t *testing.T) {
	r := report{Stack: "bench (FerretDB on PostgreSQL)", Scale: scale{Name: "small"},
		Fixed: []fixedRate{{Rate: 1000, Buy: run(1000, 8*time.Millisecond, 0), Trivial: run(1000, time.Millisecond, 0)}},
		MaxBuy: search{Runs: []load.Result{run(250, 5*time.Millisecond, 0), run(1000, 9*time.Millisecond, 0),
			run(4000, 80*time.Millisecond, 0), run(2000, 20*time.Millisecond, 3)}},
		MaxTrivial: search{Runs: []load.Result{run(250, time.Millisecond, 0), run(8000, 3*time.Millisecond, 0)}}}
	svg := r.latencySVG()
	if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil {
		t.Fatalf("not well-formed: %v\n%s", err, svg)
	}
	lines := strings.Count(svg, "<polyline")
	buyPoints := len(series(nil, r.MaxBuy.Runs))
	if lines != 4 || buyPoints != 4 {
		t.Errorf("%d lines and %d /buy points, want 4 lines (p50 and p99 of two targets) and 4 distinct rates", lines, buyPoints)
	}
	pts := series([]load.Result{r.Fixed[0].Buy}, r.MaxBuy.Runs)
	var held []bool
	for i, p := range pts {
		held = append(held, p.held)
		if i > 0 && p.rate <= pts[i-1].rate {
			t.Errorf("points out of rate order: %+v", pts)
		}
	}
	// 4000/s over 50 ms and 2000/s with errors did not hold.
	if want := []bool{true, true, false, false}; !slices.Equal(held, want) {
		t.Errorf("held %v, want %v", held, want)
	}
	if hollow := strings.Count(svg, `fill="white" stroke="#1f5fbf"`); hollow != 4 {
		t.Errorf("%d hollow /buy marks, want 4 (two runs, p50 and p99 each)", hollow)
	}
}
