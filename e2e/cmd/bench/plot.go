package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/scalable-shop/shop/e2e/load"
)

// plotReport writes the plot of a report written by bench run.
func plotReport(args []string, w io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: bench plot REPORT.json")
	}
	b, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	_, err = io.WriteString(w, r.latencySVG())
	return err
}

// point is one run: offered rate, latency quantiles, and whether it held.
type point struct {
	rate     float64
	p50, p99 time.Duration
	held     bool
}

// series collects the runs of one target at distinct rates, ascending; of two
// runs at the same rate the later one wins (the search's, after the fixed).
func series(runs ...[]load.Result) []point {
	byRate := map[float64]point{}
	for _, rs := range runs {
		for _, r := range rs {
			if r.Sent == 0 {
				continue
			}
			byRate[r.Rate] = point{rate: r.Rate, p50: r.Overall.P50, p99: r.Overall.P99, held: passes(r)}
		}
	}
	out := make([]point, 0, len(byRate))
	for _, p := range byRate {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b point) int { return int(a.rate - b.rate) })
	return out
}

// latencySVG plots /buy's latency against the offered rate beside the trivial
// handler's, both axes logarithmic: p99 solid, p50 dashed, a hollow mark for a
// run that did not hold (errors, or p99 over 50 ms).
func (r *report) latencySVG() string {
	var buyRuns, trivRuns []load.Result
	for _, f := range r.Fixed {
		buyRuns, trivRuns = append(buyRuns, f.Buy), append(trivRuns, f.Trivial)
	}
	buy := series(buyRuns, r.MaxBuy.Runs)
	triv := series(trivRuns, r.MaxTrivial.Runs)
	const w, h, left, right, top, bottom = 720.0, 440.0, 70.0, 20.0, 60.0, 50.0
	minR, maxR := math.Inf(1), 0.0
	minL, maxL := math.Inf(1), 0.0
	for _, p := range append(slices.Clone(buy), triv...) {
		minR, maxR = min(minR, p.rate), max(maxR, p.rate)
		minL, maxL = min(minL, ms(p.p50)), max(maxL, ms(p.p99))
	}
	if len(buy)+len(triv) == 0 {
		minR, maxR, minL, maxL = 100, 10000, 0.1, 100
	}
	// Decades around the data.
	x0, x1 := math.Floor(math.Log10(minR)), math.Ceil(math.Log10(maxR))
	y0, y1 := math.Floor(math.Log10(max(minL, 0.01))), math.Ceil(math.Log10(max(maxL, 50)))
	if x1 == x0 {
		x1++
	}
	if y1 == y0 {
		y1++
	}
	x := func(rate float64) float64 { return left + (math.Log10(rate)-x0)/(x1-x0)*(w-left-right) }
	y := func(msec float64) float64 {
		return h - bottom - (math.Log10(max(msec, math.Pow(10, y0)))-y0)/(y1-y0)*(h-top-bottom)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">`+"\n", w, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="22" font-size="15">POST /buy latency against offered rate, beside the trivial handler's</text>`+"\n", left)
	fmt.Fprintf(&b, `<text x="%.0f" y="40">%s, %s scale, %s; cm-api consuming beside /buy</text>`+"\n",
		left, escape(r.Stack), r.Scale.Name, r.Started.Format("2006-01-02"))
	for e := x0; e <= x1; e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v > math.Pow(10, x1) {
				break
			}
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#ddd"/><text x="%.1f" y="%.0f" text-anchor="middle">%g</text>`+"\n",
				x(v), top, x(v), h-bottom, x(v), h-bottom+16, v)
		}
	}
	for e := y0; e <= y1; e++ {
		v := math.Pow(10, e)
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#ddd"/><text x="%.0f" y="%.1f" text-anchor="end">%g ms</text>`+"\n",
			left, y(v), w-right, y(v), left-6, y(v)+4, v)
	}
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#c33" stroke-dasharray="2 3"/><text x="%.0f" y="%.1f" fill="#c33">50 ms: the p99 a held rate stays under</text>`+"\n",
		left, y(50), w-right, y(50), left+6, y(50)-4)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle">offered rate, requests/s (open loop)</text>`+"\n", (left+w-right)/2, h-12)
	for _, s := range []struct {
		name, color string
		pts         []point
	}{{"POST /buy (cm-server)", "#1f5fbf", buy}, {"trivial handler", "#888", triv}} {
		for _, q := range []struct {
			dash string
			at   func(point) time.Duration
		}{{"", func(p point) time.Duration { return p.p99 }}, {` stroke-dasharray="6 4"`, func(p point) time.Duration { return p.p50 }}} {
			var path []string
			for _, p := range s.pts {
				path = append(path, fmt.Sprintf("%.1f,%.1f", x(p.rate), y(ms(q.at(p)))))
			}
			if len(path) > 0 {
				fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`+"\n", s.color, q.dash, strings.Join(path, " "))
			}
			for _, p := range s.pts {
				fill := s.color
				if !p.held {
					fill = "white"
				}
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s" stroke="%s"/>`+"\n", x(p.rate), y(ms(q.at(p))), fill, s.color)
			}
		}
	}
	ly := top + 8
	for _, l := range []struct{ text, color, dash string }{
		{"POST /buy p99", "#1f5fbf", ""}, {"POST /buy p50", "#1f5fbf", ` stroke-dasharray="6 4"`},
		{"trivial p99", "#888", ""}, {"trivial p50", "#888", ` stroke-dasharray="6 4"`},
	} {
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="%s" stroke-width="2"%s/><text x="%.0f" y="%.0f">%s</text>`+"\n",
			left+10, ly, left+40, ly, l.color, l.dash, left+46, ly+4, l.text)
		ly += 16
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">hollow: not held (errors or p99 over 50 ms)</text>`+"\n", left+10, ly+4)
	b.WriteString("</svg>\n")
	return b.String()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
