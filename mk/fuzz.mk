##@ Test

.PHONY: test-fuzz test-fuzz-api test-fuzz-go

# FUZZTIME: how long each Go fuzz target runs. FUZZ_EXAMPLES, FUZZ_SEED and the
# other knobs of the API fuzzing are described in hack/fuzz/schemathesis.sh.
FUZZTIME ?= 20s
export FUZZTIME

test-fuzz: test-fuzz-api test-fuzz-go ## Fuzz: schemathesis against the running shop (>=1,000 requests, no 5xx, nothing off the OpenAPI documents), then every Go fuzz target for FUZZTIME

test-fuzz-api: ## Schemathesis (pinned, venv in the cache) against the shop on the embedded infrastructure, from the OpenAPI documents the services serve
	hack/fuzz/schemathesis.sh

test-fuzz-go: ## Every Go fuzz target for FUZZTIME (default 20s) each; a failing input lands in testdata/fuzz/ and becomes a regression test of `go test`
	hack/fuzz/go-fuzz.sh
