#!/usr/bin/env bash
# Installs pinned developer tools into a cache outside the repo and prints the path
# of the binary. Usage: hack/tools.sh helm|golangci-lint|govulncheck|benchstat|promtool
# The cache survives between runs, so only the first run pays for the build.
set -euo pipefail

CACHE="${SCALABLE_SHOP_CACHE:-$HOME/.cache/scalable-shop}"
BIN="$CACHE/bin"
mkdir -p "$BIN"

HELM_VERSION=v3.22.0
GOLANGCI_LINT_VERSION=v2.15.0
GOVULNCHECK_VERSION=v1.9.0
BENCHSTAT_VERSION=v0.0.0-20260908200009-22c9c6c9d4da
# Prometheus's Go module tags are v0.<minor>.<patch> for release 3.<minor>.<patch>.
PROMTOOL_VERSION=v0.316.0

install() { # name version package [per-go] (GO_TAGS: build tags)
  local name=$1 version=$2 pkg=$3 dest="$BIN/$1-$2"
  # Analysers load the standard library's source with the build tags of the Go
  # that built them, so one built by an older Go fails on a newer Go's library:
  # keep one build per Go version.
  if [ "${4:-}" = per-go ]; then dest="$dest-$(go env GOVERSION)"; fi
  if [ ! -x "$dest" ]; then
    echo "installing $name $version into $BIN (first run only)" >&2
    local tmp; tmp=$(mktemp -d)
    GOWORK=off GOBIN="$tmp" nice -n 10 go install -tags "${GO_TAGS:-}" "$pkg@$version" >&2
    mv "$tmp/$name" "$dest"
    rm -rf "$tmp"
  fi
  echo "$dest"
}

case "${1:-}" in
  helm) install helm "$HELM_VERSION" helm.sh/helm/v3/cmd/helm ;;
  golangci-lint) install golangci-lint "$GOLANGCI_LINT_VERSION" github.com/golangci/golangci-lint/v2/cmd/golangci-lint per-go ;;
  govulncheck) install govulncheck "$GOVULNCHECK_VERSION" golang.org/x/vuln/cmd/govulncheck per-go ;;
  benchstat) install benchstat "$BENCHSTAT_VERSION" golang.org/x/perf/cmd/benchstat ;;
  # remove_all_sd: rule tests need none of Prometheus's cloud service discoveries,
  # whose SDKs are most of a cold build.
  promtool) GO_TAGS=remove_all_sd install promtool "$PROMTOOL_VERSION" github.com/prometheus/prometheus/cmd/promtool ;;
  *) echo "usage: $0 helm|golangci-lint|govulncheck|benchstat|promtool" >&2; exit 2 ;;
esac
