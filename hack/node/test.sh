#!/usr/bin/env bash
# make test-k8s: one real Kubernetes node (see lib.sh) with the shop's steps
# run against it. Every executable steps/NN-name.sh runs in lexical order
# inside the node's network namespace with WORKDIR/env sourced (KUBECONFIG,
# NODE_IP, ...) and WORKDIR, HACK_NODE and ROOT set; the first failing step
# stops the run. A step that starts something outside Kubernetes appends the
# command that stops it to WORKDIR/teardown. Everything is stopped and removed on exit, also on failure or
# Ctrl-C, and the run ends by printing whether it left anything behind. Before
# the node starts, every executable prepare/NN-name.sh runs outside the
# namespace (builds and images that need the module proxy).
#
#   hack/node/test.sh [STEP...]     STEP: a step's file name or its NN prefix (default: all)
#
# Environment:
#   TEST_K8S_KEEP=1      keep the work dir (logs, kubeconfig) even on success
#   SCALABLE_SHOP_CACHE  where the binaries are built (default ~/.cache/scalable-shop)
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(git -C "$HERE" rev-parse --show-toplevel 2>/dev/null || { cd "$HERE/../.." && pwd; })
# shellcheck source=SCRIPTDIR/lib.sh
source "$HERE/lib.sh"

if [ "$(id -u)" != 0 ]; then
  echo "make test-k8s needs root (it creates a network namespace, mounts and cgroups): run it as root" >&2
  exit 1
fi

T0=$SECONDS
WORK=$(mktemp -d "${TMPDIR:-/tmp}/test-k8s.XXXXXX")

finish() {
  local rc=$?
  trap '' INT TERM
  local id=$NODE_ID
  # What steps started on the node beside Kubernetes (kafka/local's broker):
  # each wrote the command that stops it into WORK/teardown, last first.
  if [ -s "$WORK/teardown" ]; then
    tac "$WORK/teardown" | while IFS= read -r cmd; do bash -c "$cmd" || echo "test-k8s: teardown failed: $cmd"; done
  fi
  node_down
  echo
  if [ -n "$id" ]; then
    node_leftovers "$WORK" "$id" || rc=1
  fi
  if ((rc)) || [ -n "${TEST_K8S_KEEP:-}" ]; then
    echo "test-k8s: logs and state kept in $WORK (logs/*.log)"
  else
    rm -rf "$WORK"
  fi
  if ((rc)); then echo "test-k8s: FAILED after $((SECONDS - T0))s"; else echo "test-k8s: all steps passed in $((SECONDS - T0))s"; fi
  exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

mapfile -t steps < <(find "$HERE/steps" -maxdepth 1 -name '[0-9][0-9]-*.sh' -perm -u+x | LC_ALL=C sort)
if [ $# -gt 0 ]; then
  wanted=()
  for s in "${steps[@]}"; do
    b=$(basename "$s")
    for w in "$@"; do [ "$b" = "$w" ] || [ "${b%%-*}" = "$w" ] && wanted+=("$s"); done
  done
  steps=("${wanted[@]}")
  ((${#steps[@]})) || { echo "test-k8s: no step matches $*" >&2; exit 2; }
fi

# The image writer's and probe's own unit tests first: seconds, and a broken
# writer would otherwise show up as a puzzling import failure.
(cd "$HERE/oci" && GOWORK=off GOTOOLCHAIN=local go test -count=1 ./... >"$WORK/unit.log" 2>&1) ||
  { cat "$WORK/unit.log"; echo "test-k8s: unit tests of hack/node/oci failed (above)"; exit 1; }
echo "PASS unit tests of hack/node/oci (image writer, probe)"
# Prepare steps: builds and images that need the module proxy, which the
# node's network namespace cannot reach. Every executable prepare/NN-name.sh
# runs here, outside it, in lexical order, with WORKDIR, HACK_NODE and ROOT set.
mapfile -t prepares < <(find "$HERE/prepare" -maxdepth 1 -name '[0-9][0-9]-*.sh' -perm -u+x 2>/dev/null | LC_ALL=C sort)
for p in "${prepares[@]}"; do
  echo "=== prepare $(basename "$p") (at $((SECONDS - T0))s)"
  WORKDIR="$WORK" HACK_NODE="$HERE" ROOT="$ROOT" "$p" || { echo "test-k8s: prepare step $(basename "$p") failed (above)"; exit 1; }
done
node_up "$WORK" || exit 1
# Tools steps use: kubectl and helm on PATH.
mkdir -p "$WORK/path"
ln -s "$NODE_BIN/kubectl" "$WORK/path/kubectl"
helm=$("$ROOT/hack/tools.sh" helm) || exit 1
ln -s "$helm" "$WORK/path/helm"

for s in "${steps[@]}"; do
  name=$(basename "$s")
  echo
  echo "=== step $name (at $((SECONDS - T0))s)"
  node_exec env WORKDIR="$WORK" HACK_NODE="$HERE" ROOT="$ROOT" PATH="$WORK/path:$PATH" \
    bash -c 'set -a; source "$WORKDIR/env"; set +a; exec "$0"' "$s"
  rc=$?
  if ((rc)); then
    echo "=== step $name FAILED (exit $rc)"
    exit "$rc"
  fi
  echo "=== step $name passed"
done
