#!/usr/bin/env bash
# `make test-fuzz`, Go part: every native fuzz target (func FuzzXxx in a
# *_test.go of the service modules) runs for FUZZTIME (default 20s) each.
#
# A failing input is written to <package>/testdata/fuzz/FuzzXxx/<hash> and the
# run fails. Commit that file: from then on plain `go test` (and `make test`)
# replays it as a regression test. The inputs the fuzzer found interesting stay
# in the Go build cache ($(go env GOCACHE)/fuzz), so later runs start from them.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FUZZTIME=${FUZZTIME:-20s}
cd "$ROOT"

# Packages with fuzz targets, found by their source so that a new target is
# fuzzed without touching this script.
mapfile -t dirs < <(grep -rl --include='*_test.go' -E '^func Fuzz[A-Z][A-Za-z0-9_]*\(f \*testing\.F\)' \
  contract platform cm-server cm-api localstack 2>/dev/null | xargs -r -n1 dirname | sort -u)
if [ "${#dirs[@]}" = 0 ]; then
  echo "no fuzz targets found" >&2
  exit 1
fi

failed=()
total=0
for dir in "${dirs[@]}"; do
  mapfile -t targets < <(go test -list '^Fuzz' "./$dir" | grep '^Fuzz' || true)
  for target in "${targets[@]}"; do
    total=$((total + 1))
    printf '\033[1m==> %s %s for %s\033[0m\n' "./$dir" "$target" "$FUZZTIME"
    if ! go test -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME" "./$dir"; then
      failed+=("./$dir $target")
    fi
  done
done

echo
if [ "${#failed[@]}" -gt 0 ]; then
  echo "FAIL: ${#failed[@]} of $total fuzz targets found a failing input:" >&2
  printf '  %s\n' "${failed[@]}" >&2
  echo "The inputs are in the packages' testdata/fuzz/<target>/: commit them as regression tests after the fix." >&2
  exit 1
fi
echo "PASS: $total fuzz targets ran for $FUZZTIME each without a failure"
