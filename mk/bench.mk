##@ Benchmark

.PHONY: bench bench-small

bench: ## Benchmark both stacks on real Kafka (SASL): FerretDB/PostgreSQL, then make run's FerretDB/SQLite; /buy rate and latency, freshness, ingest, look-up, RSS/CPU vs references; tables + JSON in out/bench (~35 min)
	BENCH_STACK=bench e2e/bench/bench.sh
	BENCH_STACK=embedded e2e/bench/bench.sh

bench-small: ## The same benchmark at BENCH_SCALE=small: a smoke run of a few minutes per stack
	BENCH_SCALE=small BENCH_STACK=bench e2e/bench/bench.sh
	BENCH_SCALE=small BENCH_STACK=embedded e2e/bench/bench.sh
