#!/usr/bin/env bash
# Starts the real node (see lib.sh), runs a command inside its network
# namespace with WORKDIR/env sourced (KUBECONFIG, NODE_IP, ...) and kubectl and
# helm on PATH, then stops and removes everything.
#
#   hack/node/run.sh                    an interactive shell
#   hack/node/run.sh kubectl get pods -A
#   NODE_RUN_KEEP=1 hack/node/run.sh    keep the work dir (logs) afterwards
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(git -C "$HERE" rev-parse --show-toplevel 2>/dev/null || { cd "$HERE/../.." && pwd; })
# shellcheck source=SCRIPTDIR/lib.sh
source "$HERE/lib.sh"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/node.XXXXXX")
finish() {
  local rc=$? id=$NODE_ID
  trap '' INT TERM
  node_down
  [ -n "$id" ] && { node_leftovers "$WORK" "$id" >&2 || rc=1; }
  if [ -n "${NODE_RUN_KEEP:-}" ]; then echo "work dir kept: $WORK" >&2; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

node_up "$WORK" || exit 1
helm=$("$ROOT/hack/tools.sh" helm) || exit 1
mkdir -p "$WORK/path"
ln -s "$NODE_BIN/kubectl" "$WORK/path/kubectl"
ln -s "$helm" "$WORK/path/helm"
if [ $# -eq 0 ]; then
  echo "inside the node's namespace $NODE_NETNS; KUBECONFIG=$KUBECONFIG; exit the shell to stop the node" >&2
  set -- "${SHELL:-bash}" -i
fi
node_exec env WORKDIR="$WORK" HACK_NODE="$HERE" ROOT="$ROOT" PATH="$WORK/path:$PATH" \
  bash -c 'set -a; source "$WORKDIR/env"; set +a; exec "$@"' bash "$@"
