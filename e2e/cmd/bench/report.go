package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scalable-shop/shop/e2e/load"
)

type throughput struct {
	Count    int           `json:"count"`
	Duration time.Duration `json:"duration_ns"`
	PerSec   float64       `json:"per_sec"`
}

type ingestResult struct {
	Backlog     int           `json:"backlog"`
	Total       time.Duration `json:"total_ns"`        // cm-api start to lag 0
	FirstCommit time.Duration `json:"first_commit_ns"` // cm-api start to the first committed batch
	Window      time.Duration `json:"window_ns"`       // first commit to lag 0
	PerSec      float64       `json:"per_sec"`         // stored/s over the window
	PerSecTotal float64       `json:"per_sec_total"`   // stored/s from start
	LeftOver    int64         `json:"left_over"`       // lag when bench stopped waiting (0: caught up)
}

type fixedRate struct {
	Rate    float64     `json:"rate"`
	Buy     load.Result `json:"buy"`
	Trivial load.Result `json:"trivial"`
}

type freshResult struct {
	Load    load.Result  `json:"load"`
	Latency load.Summary `json:"visible_after"`
	Missing int          `json:"missing"`
}

type search struct {
	Best  load.Result   `json:"best"`
	Found bool          `json:"found"`
	Runs  []load.Result `json:"runs"`
}

type phase struct {
	Name string        `json:"name"`
	Wall time.Duration `json:"wall_ns"`
	CPU  cpuSnapshot   `json:"cpu_ns"`
}

type machineInfo struct {
	CPUs        int     `json:"cpus"`
	CPUModel    string  `json:"cpu_model"`
	MemGiB      float64 `json:"mem_gib"`
	GoVersion   string  `json:"go_version"`
	LoadAtStart string  `json:"loadavg_at_start"`
	LoadAtEnd   string  `json:"loadavg_at_end"`
}

// row is one line of the table.
type row struct {
	Scenario  string `json:"scenario"`
	Figure    string `json:"figure"`
	Reference string `json:"reference"`
	Ratio     string `json:"ratio"`
	Target    string `json:"target"`
	Met       string `json:"met"`
}

type report struct {
	Started       time.Time        `json:"started"`
	Finished      time.Time        `json:"finished"`
	Scale         scale            `json:"scale"`
	Machine       machineInfo      `json:"machine"`
	Profile       bool             `json:"profile_mode"`
	Stack         string           `json:"stack"`
	Table         []row            `json:"table"`
	ProduceRaw    throughput       `json:"produce_raw"`
	ProduceOpen   load.Result      `json:"produce_raw_open_loop_1000"`
	BuyNoConsumer load.Result      `json:"buy_1000_cm_api_stopped"`
	InsertRaw     throughput       `json:"insert_raw"`
	ReplaceRaw    throughput       `json:"replace_raw"` // one conditional summary replace per user
	Ingest        ingestResult     `json:"ingest"`
	LookupDocs    [2]int64         `json:"lookup_docs"` // the user's, all
	LookupRaw     load.Result      `json:"lookup_raw_find"`
	LookupAPI     load.Result      `json:"lookup_cm_api"`
	Fixed         []fixedRate      `json:"fixed_rates"`
	Freshness     freshResult      `json:"freshness"`
	MaxBuy        search           `json:"max_buy"`
	MaxTrivial    search           `json:"max_trivial"`
	Services      map[string]usage `json:"services"`
	Phases        []phase          `json:"phases"`
	Notes         []string         `json:"notes,omitempty"`
	Skipped       int64            `json:"skipped_events"` // backlog skipped between runs

	LookupServer load.Result `json:"lookup_cm_server"`
	// 16 clients through cm-server, on all the data and on a tenth of it.
	LookupClients   load.Result `json:"lookup_cm_server_16_clients"`
	LookupSmall     load.Result `json:"lookup_cm_server_16_clients_tenth"`
	LookupSmallDocs [2]int64    `json:"lookup_docs_tenth"`
	FreshRate       float64     `json:"freshness_rate"`
}

func msf(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func pcts(r load.Result) string {
	return fmt.Sprintf("p50 %s / p90 %s / p99 %s / max %s ms", msf(r.Overall.P50), msf(r.Overall.P90), msf(r.Overall.P99), msf(r.Overall.Max))
}

func (r *report) buildTable() {
	var t []row
	add := func(x row) { t = append(t, x) }
	maxBuy, maxTriv := 0.0, 0.0
	if r.MaxBuy.Found {
		maxBuy = r.MaxBuy.Best.Rate
	}
	if r.MaxTrivial.Found {
		maxTriv = r.MaxTrivial.Best.Rate
	}
	step := r.Scale.Step.Round(time.Second)
	// Issue 15's targets, per stack.
	embedded := strings.HasPrefix(r.Stack, "embedded")
	buyTarget, buyMet := ">= 0.25 of trivial", yes(maxTriv > 0 && maxBuy >= 0.25*maxTriv)
	freshP99, lookupP99 := 250*time.Millisecond, 25*time.Millisecond
	ingestTarget, ingestMet := ">= 0.70 of raw", yes(r.InsertRaw.PerSec > 0 && r.Ingest.PerSec >= 0.7*r.InsertRaw.PerSec)
	if embedded {
		buyTarget, buyMet = "-", "-"
		freshP99, lookupP99 = 500*time.Millisecond, 50*time.Millisecond
		ingestTarget = ">= 0.50 of raw and >= 1500/s"
		ingestMet = yes(r.InsertRaw.PerSec > 0 && r.Ingest.PerSec >= 0.5*r.InsertRaw.PerSec && r.Ingest.PerSec >= 1500)
	}
	add(row{fmt.Sprintf("POST /buy highest rate held %s (<0.1%% errors, p99 < 50 ms) vs trivial handler", step),
		fmt.Sprintf("%.0f req/s", maxBuy), fmt.Sprintf("%.0f req/s", maxTriv), ratio(maxBuy, maxTriv), buyTarget, buyMet})
	add(row{"POST /buy highest rate vs raw kafka-go produce (same writer settings)",
		fmt.Sprintf("%.0f req/s", maxBuy), fmt.Sprintf("%.0f msg/s", r.ProduceRaw.PerSec), ratio(maxBuy, r.ProduceRaw.PerSec), "-", "-"})
	po := r.ProduceOpen
	add(row{fmt.Sprintf("raw kafka-go produce, open loop at 1000/s, cm-api stopped (errors %.3f%%)", 100*po.ErrorRate()), pcts(po),
		"-", "-", "-", "-"})
	for _, f := range r.Fixed {
		add(row{fmt.Sprintf("POST /buy at %.0f req/s (errors %.3f%%)", f.Rate, 100*f.Buy.ErrorRate()), pcts(f.Buy),
			"trivial: " + pcts(f.Trivial), "p99 x" + ratio(float64(f.Buy.Overall.P99), float64(f.Trivial.Overall.P99)),
			"p99 < 50 ms", yes(f.Buy.Overall.P99 < 50*time.Millisecond && f.Buy.ErrorRate() < 0.001)})
	}
	if nc := r.BuyNoConsumer; nc.Sent > 0 {
		add(row{fmt.Sprintf("POST /buy at 1000 req/s with cm-api stopped (errors %.3f%%)", 100*nc.ErrorRate()), pcts(nc),
			"raw produce open loop: " + pcts(r.ProduceOpen), "p99 x" + ratio(float64(nc.Overall.P99), float64(r.ProduceOpen.Overall.P99)),
			"p99 < 50 ms", yes(nc.Overall.P99 < 50*time.Millisecond && nc.ErrorRate() < 0.001)})
	}
	fr := r.Freshness
	add(row{fmt.Sprintf("freshness: 202 -> visible in GET /getAllUserBuys at %.0f req/s (%d probes, %d unseen)", r.FreshRate, fr.Latency.Count, fr.Missing),
		fmt.Sprintf("p50 %s / p99 %s / max %s ms", msf(fr.Latency.P50), msf(fr.Latency.P99), msf(fr.Latency.Max)), "-", "-",
		fmt.Sprintf("p99 < %d ms, 0 unseen", freshP99.Milliseconds()), yes(fr.Latency.Count > 0 && fr.Missing == 0 && fr.Latency.P99 < freshP99)})
	in := r.Ingest
	add(row{fmt.Sprintf("cm-api ingest, stored and listed, from a backlog of %d (first commit %.1f s after start; %.0f/s incl. start)", in.Backlog, in.FirstCommit.Seconds(), in.PerSecTotal),
		fmt.Sprintf("%.0f stored/s", in.PerSec), fmt.Sprintf("raw bulk insert %.0f docs/s", r.InsertRaw.PerSec),
		ratio(in.PerSec, r.InsertRaw.PerSec), ingestTarget, ingestMet})
	add(row{"store floor of the projection: raw conditional replace of one small summary per user ({_id, v}), as cm-api sends them",
		fmt.Sprintf("%.0f replaces/s", r.ReplaceRaw.PerSec), fmt.Sprintf("cm-api ingest %.0f stored/s", in.PerSec),
		ratio(in.PerSec, r.ReplaceRaw.PerSec), "-", "-"})
	lc, ls := r.LookupClients, r.LookupSmall
	add(row{fmt.Sprintf("look-up, page of 50, user with %d of %d purchases: cm-server GET /getAllUserBuys, %d clients (%.0f/s, errors %.2f%%)", r.LookupDocs[0], r.LookupDocs[1], lookupClients, lc.Rate, 100*lc.ErrorRate()),
		fmt.Sprintf("p50 %s / p99 %s ms", msf(lc.Overall.P50), msf(lc.Overall.P99)), fmt.Sprintf("raw find p50 %s / p99 %s ms", msf(r.LookupRaw.Overall.P50), msf(r.LookupRaw.Overall.P99)),
		ratio(float64(lc.Overall.P99), float64(r.LookupRaw.Overall.P99)), fmt.Sprintf("p99 < %d ms, 0 errors", lookupP99.Milliseconds()), yes(lc.Sent > 0 && lc.Errors == 0 && lc.Overall.P99 < lookupP99)})
	add(row{fmt.Sprintf("look-up cost as the data grows: the same, user with %d of %d purchases, then %d of %d", r.LookupSmallDocs[0], r.LookupSmallDocs[1], r.LookupDocs[0], r.LookupDocs[1]),
		fmt.Sprintf("p99 %s ms (errors %.2f%%)", msf(lc.Overall.P99), 100*lc.ErrorRate()), fmt.Sprintf("p99 %s ms (errors %.2f%%)", msf(ls.Overall.P99), 100*ls.ErrorRate()),
		"p99 x" + ratio(float64(lc.Overall.P99), float64(ls.Overall.P99)), "p99 ratio <= 1.5", yes(ls.Sent > 0 && lc.Errors == 0 && ls.Errors == 0 && lc.Overall.P99 <= ls.Overall.P99*3/2)})
	raw := r.LookupRaw.Overall
	for _, l := range []struct {
		name string
		res  load.Result
	}{{"cm-api GET /buyList", r.LookupAPI}, {"cm-server GET /getAllUserBuys", r.LookupServer}} {
		s := l.res.Overall
		add(row{fmt.Sprintf("look-up, page of 50, user with %d of %d purchases: %s at %.0f/s (errors %.2f%%)", r.LookupDocs[0], r.LookupDocs[1], l.name, l.res.Rate, 100*l.res.ErrorRate()),
			fmt.Sprintf("p50 %s / p99 %s ms", msf(s.P50), msf(s.P99)), fmt.Sprintf("raw find p50 %s / p99 %s ms", msf(raw.P50), msf(raw.P99)),
			fmt.Sprintf("p99 %+.1f ms", float64((s.P99-raw.P99).Microseconds())/1000), "p99 <= raw + 2 ms", yes(l.res.Errors == 0 && s.P99-raw.P99 <= 2*time.Millisecond)})
	}
	names := make([]string, 0, len(r.Services))
	for n := range r.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		u := r.Services[n]
		target, met := "< 64 MiB RSS", yes(u.HWM < 64<<20)
		if n == "ferretdb" {
			target, met = "-", "-"
		}
		add(row{n + ": peak RSS (VmHWM), CPU seconds over the run", fmt.Sprintf("%.1f MiB, %.1f s", float64(u.HWM)/(1<<20), u.CPU.Seconds()),
			"-", "-", target, met})
	}
	r.Table = t
}

func (r *report) print() string {
	var sb strings.Builder
	tw := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tfigure\treference\tratio\ttarget\tmet?")
	for _, x := range r.Table {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", x.Scenario, x.Figure, x.Reference, x.Ratio, x.Target, x.Met)
	}
	tw.Flush()
	fmt.Fprintf(&sb, "\nCPU seconds by phase (wall time; %d CPUs):\n", r.Machine.CPUs)
	tw = tabwriter.NewWriter(&sb, 0, 0, 2, ' ', 0)
	procs := []string{"bench (load generator)", "cm-server", "cm-api", "kafka", "ferretdb", "postgresql", "trivial"}
	fmt.Fprintf(tw, "phase\twall s\t%s\n", strings.Join(procs, "\t"))
	for _, p := range r.Phases {
		cells := []string{p.Name, fmt.Sprintf("%.0f", p.Wall.Seconds())}
		for _, n := range procs {
			cells = append(cells, fmt.Sprintf("%.1f", p.CPU[n].Seconds()))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	tw.Flush()
	if r.Skipped > 0 {
		fmt.Fprintf(&sb, "note: between runs, %d events cm-api had not consumed within %s were skipped (offsets moved to the end)\n", r.Skipped, r.Scale.Settle)
	}
	for _, n := range r.Notes {
		fmt.Fprintln(&sb, "note: "+n)
	}
	fmt.Fprintf(&sb, "\nstack %s; scale %s; load average at start %s, at end %s\n", r.Stack, r.Scale.Name, r.Machine.LoadAtStart, r.Machine.LoadAtEnd)
	return sb.String()
}

func (r *report) write(dir, stamp string) error {
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		r.Machine.LoadAtEnd = strings.TrimSpace(string(b))
	}
	r.buildTable()
	text := r.print()
	fmt.Print("\n" + text)
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	for _, name := range []string{"bench-" + stamp + ".json", "latest.json"} {
		if err := os.WriteFile(filepath.Join(dir, name), js, 0o644); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "latest.txt"), []byte(text), 0o644); err != nil {
		return err
	}
	// The plot BENCHMARKS.md shows, one per stack.
	svg := r.latencySVG()
	stack := "bench"
	if strings.HasPrefix(r.Stack, "embedded") {
		stack = "embedded"
	}
	for _, name := range []string{"buy-latency-" + stamp + ".svg", "buy-latency-" + stack + ".svg"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(svg), 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("written: %s\n", filepath.Join(dir, "bench-"+stamp+".json"))
	return nil
}
