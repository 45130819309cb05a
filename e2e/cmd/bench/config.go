package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// scale is how long and how big each scenario is.
type scale struct {
	Name        string        `json:"name"`
	Step        time.Duration `json:"step_ns"`     // one rate of the max-rate search
	Fixed       time.Duration `json:"fixed_ns"`    // the runs at 1,000 and 5,000 req/s
	Fresh       time.Duration `json:"fresh_ns"`    // the freshness run
	Warmup      time.Duration `json:"warmup_ns"`   // before the first measured run
	Backlog     int           `json:"backlog"`     // events waiting when cm-api starts
	LookupUser  int           `json:"lookup_user"` // purchases of the look-up user among them
	LookupRate  float64       `json:"lookup_rate"`
	LookupFor   time.Duration `json:"lookup_ns"`
	SearchRates []float64     `json:"search_rates"`
	Users       int           `json:"users"`         // distinct user ids of the load
	Settle      time.Duration `json:"settle_ns"`     // longest wait for cm-api to catch up between runs
	IngestMax   time.Duration `json:"ingest_max_ns"` // longest wait for the backlog to be consumed
}

func scaleFromEnv() (scale, error) {
	s := scale{Name: "full", Step: 30 * time.Second, Fixed: 30 * time.Second, Fresh: 30 * time.Second,
		Warmup: 5 * time.Second, Backlog: 200000, LookupUser: 1000, LookupRate: 2, LookupFor: 30 * time.Second,
		SearchRates: []float64{250, 500, 1000, 2000, 3000, 4000, 5000, 6500, 8000, 10000, 12500, 15000, 20000}, Users: 10000,
		Settle: 30 * time.Second, IngestMax: 3 * time.Minute}
	switch name := os.Getenv("BENCH_SCALE"); name {
	case "", "full":
	case "small":
		s = scale{Name: "small", Step: 5 * time.Second, Fixed: 5 * time.Second, Fresh: 5 * time.Second,
			Warmup: 2 * time.Second, Backlog: 20000, LookupUser: 1000, LookupRate: 2, LookupFor: 10 * time.Second,
			SearchRates: []float64{250, 500, 1000, 2000, 4000, 8000}, Users: 2000,
			Settle: 15 * time.Second, IngestMax: time.Minute}
	default:
		return s, fmt.Errorf("BENCH_SCALE=%s: use full or small", name)
	}
	durations := map[string]*time.Duration{"BENCH_STEP": &s.Step, "BENCH_FIXED": &s.Fixed, "BENCH_FRESH": &s.Fresh,
		"BENCH_SETTLE": &s.Settle, "BENCH_INGEST_MAX": &s.IngestMax}
	for env, d := range durations {
		if v := os.Getenv(env); v != "" {
			parsed, err := time.ParseDuration(v)
			if err != nil || parsed <= 0 {
				return s, fmt.Errorf("%s=%s: not a duration such as 30s", env, v)
			}
			*d = parsed
		}
	}
	if v := os.Getenv("BENCH_BACKLOG"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 2*s.LookupUser {
			return s, fmt.Errorf("BENCH_BACKLOG=%s: a whole number of at least %d", v, 2*s.LookupUser)
		}
		s.Backlog = n
	}
	if v := os.Getenv("BENCH_RATES"); v != "" {
		s.SearchRates = nil
		for _, f := range strings.Split(v, ",") {
			r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil || r <= 0 {
				return s, fmt.Errorf("BENCH_RATES=%s: comma-separated rates such as 2000,4000,8000", v)
			}
			s.SearchRates = append(s.SearchRates, r)
		}
	}
	return s, nil
}

// env returns the variable or fails loudly: bench.sh sets all of them.
func env(name string) string {
	v := os.Getenv(name)
	if v == "" {
		fmt.Fprintf(os.Stderr, "bench: %s is not set (run it through e2e/bench/bench.sh or make bench)\n", name)
		os.Exit(2)
	}
	return v
}
