##@ Develop

.PHONY: lint-go vulncheck

# golangci-lint v2 with the committed .golangci.yml, over every workspace module
# in one run (package patterns work across a go.work workspace), plus the
# stand-alone modules of hack/vulndb and hack/node/netprobe. Its cache stays outside the repository.
lint-go: ## golangci-lint (.golangci.yml) over every module; builds the pinned version once
	@gl=$$(hack/tools.sh golangci-lint); \
	export GOLANGCI_LINT_CACHE=$(SCALABLE_SHOP_CACHE)/golangci-lint; \
	$$gl config verify; \
	$$gl run --allow-parallel-runners $(addprefix ./,$(addsuffix /...,$(GO_MODULES))); \
	(cd hack/vulndb && GOWORK=off $$gl run --allow-parallel-runners --config ../../.golangci.yml ./...); \
	cd hack/node/netprobe && GOWORK=off $$gl run --allow-parallel-runners --config ../../../.golangci.yml ./...

vulncheck: ## govulncheck over every module, with the Go vulnerability database built from the module proxy (offline-capable)
	VULNCHECK_MODULES="$(GO_MODULES)" hack/vulncheck.sh
