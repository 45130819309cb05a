#!/usr/bin/env bash
# govulncheck over every module of the workspace, offline-capable.
#
# The vulnerability database: the public one (vuln.go.dev) is often out of reach
# where only package registries are, but the Go module proxy serves the same
# data as the module golang.org/x/vulndb (data/osv/*.json). This script downloads
# that module with `go mod download` (VULNDB_VERSION, default latest), turns it
# into a database in govulncheck's v1 layout with hack/vulndb, keeps it under
# $SCALABLE_SHOP_CACHE/vulndb/<version>, and runs govulncheck -db file://... .
#
#   VULNDB=https://vuln.go.dev   use that database instead (or file:///dir)
#   VULNDB_VERSION=v0.0.0-...    pin the module version (reproducible runs)
#   VULNCHECK_MODULES="a b"      modules to check (default: the Makefile's)
#
# Without the proxy it falls back to the newest database already in the cache;
# with no database at all it says so and exits 0, unless VULNCHECK_STRICT=1.
# It exits 1 when govulncheck finds a vulnerability that the code calls and
# hack/vulncheck.ignore does not except (each exception has a reason and an end
# date, after which it counts again).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${SCALABLE_SHOP_CACHE:-$HOME/.cache/scalable-shop}
MODULES=${VULNCHECK_MODULES:-contract platform cm-server cm-api localstack e2e}
GOVULNCHECK=$("$ROOT/hack/tools.sh" govulncheck)

db=${VULNDB:-}
if [ -z "$db" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  # Outside any module, so the workspace's go.mod files are not touched.
  if info=$(cd "$tmp" && GOWORK=off GOFLAGS=-mod=mod go mod download -json "golang.org/x/vulndb@${VULNDB_VERSION:-latest}" 2>"$tmp/err"); then
    version=$(sed -n 's/^[[:space:]]*"Version": "\(.*\)",*$/\1/p' <<<"$info")
    dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p' <<<"$info")
    infofile=$(sed -n 's/^[[:space:]]*"Info": "\(.*\)",*$/\1/p' <<<"$info")
    modified=$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$infofile")
    out=$CACHE/vulndb/$version
    if [ ! -f "$out/index/modules.json" ]; then
      echo "building the vulnerability database $version from the module proxy (once per version)" >&2
      (cd "$ROOT/hack/vulndb" && GOWORK=off go run . -osv "$dir/data/osv" -out "$out" -modified "$modified") >&2
    fi
    db=file://$out
  else
    why=$(sed -n 's/^[[:space:]]*"Error": "\(.*\)",*$/\1/p' <<<"${info:-}")
    echo "vulncheck: golang.org/x/vulndb is not available from the module proxy: ${why:-$(tail -1 "$tmp/err")}" >&2
    newest=$(find "$CACHE/vulndb" -mindepth 1 -maxdepth 1 -type d -name 'v*' 2>/dev/null | sort | tail -1 || true)
    if [ -n "$newest" ] && [ -f "$newest/index/modules.json" ]; then
      echo "vulncheck: using the newest database in the cache instead: $newest" >&2
      db=file://$newest
    elif curl -fsS --max-time 5 -o /dev/null https://vuln.go.dev/index/db.json.gz 2>/dev/null; then
      db=https://vuln.go.dev
    else
      echo "vulncheck: SKIPPED - no vulnerability database: not from the module proxy, none cached, vuln.go.dev unreachable" >&2
      [ "${VULNCHECK_STRICT:-0}" = 1 ] && exit 1
      exit 0
    fi
  fi
fi

echo "vulncheck: $("$GOVULNCHECK" -version 2>/dev/null | sed -n 's/^Scanner: //p'), database $db, $(go env GOVERSION)"
results=$(mktemp -d)
args=()
for m in $MODULES; do
  echo "==> govulncheck ./$m/..."
  # From the module's directory (govulncheck needs its go.mod); go.work above
  # still applies, so the versions checked are the ones the builds use.
  if ! (cd "$ROOT/$m" && "$GOVULNCHECK" -db "$db" -format json ./... > "$results/$m.json"); then
    echo "vulncheck: govulncheck failed on ./$m" >&2
    rm -rf "$results"
    exit 1
  fi
  args+=("$m=$results/$m.json")
done
# Called vulnerabilities fail, unless hack/vulncheck.ignore excepts them (with a
# reason and an end date); imported-only ones are listed.
status=0
python3 "$ROOT/hack/vulncheck-report.py" "$ROOT/hack/vulncheck.ignore" "${args[@]}" || status=$?
rm -rf "$results"
exit "$status"
