##@ Benchmark

.PHONY: bench bench-small

bench: ## Benchmark on real Kafka (SASL) and FerretDB/PostgreSQL: /buy rate and latency, freshness, ingest, look-up, RSS/CPU vs references; table + JSON in out/bench (~15 min)
	e2e/bench/bench.sh

bench-small: ## The same benchmark at BENCH_SCALE=small: a smoke run of a few minutes
	BENCH_SCALE=small e2e/bench/bench.sh
