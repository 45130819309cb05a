#!/usr/bin/env bash
# Starts the local control plane (see lib.sh), runs a command against it with
# KUBECONFIG set and kubectl/helm on PATH, then stops everything.
#
#   hack/cluster/run.sh                  an interactive shell
#   hack/cluster/run.sh kubectl get nodes
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(git -C "$HERE" rev-parse --show-toplevel 2>/dev/null || { cd "$HERE/../.." && pwd; })
# shellcheck source=SCRIPTDIR/lib.sh
source "$HERE/lib.sh"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/cluster.XXXXXX")
trap 'cluster_down; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

helm=$("$ROOT/hack/tools.sh" helm) || exit 1
cluster_up "$WORK" || exit 1
mkdir -p "$WORK/path"
ln -s "$KUBECTL" "$WORK/path/kubectl"
ln -s "$helm" "$WORK/path/helm"
export PATH="$WORK/path:$PATH"
if [ $# -eq 0 ]; then
  echo "KUBECONFIG=$KUBECONFIG; kubectl and helm are on PATH; exit the shell to stop the cluster" >&2
  "${SHELL:-bash}" -i
else
  "$@"
fi
