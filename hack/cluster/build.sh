#!/usr/bin/env bash
# Builds (once) the binaries of the local test control plane and prints the
# directory that holds them:
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kwok
# plus kwok's stage files under stages/. Everything lives outside the repo in
#   ${SCALABLE_SHOP_CACHE:-~/.cache/scalable-shop}/k8s-v1.36.3/
# so only the first run pays (about 17 min and 2.5 GB on 2 cores). Binaries
# are built into a temp dir and moved into place, so an interrupted build
# never leaves a broken binary behind. Set CLUSTER_BUILD_JOBS (default 2) to
# change the build parallelism.
set -euo pipefail

K8S_VERSION=v1.36.3       # k8s.io/kubernetes; staging modules are v0.36.3 (see tools/go.mod)
ETCD_VERSION=v3.6.16      # see etcd/go.mod
KWOK_VERSION=v0.8.0

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE="${SCALABLE_SHOP_CACHE:-$HOME/.cache/scalable-shop}"
OUT="$CACHE/k8s-$K8S_VERSION"
BIN="$OUT/bin"
mkdir -p "$BIN"

export GOWORK=off
# Test tools, not the shop: built with the machine's own Go, so a change of the
# project's toolchain (the Makefile's GOTOOLCHAIN) does not rebuild them.
export GOTOOLCHAIN=local
export GOFLAGS="-buildvcs=false -trimpath -p=${CLUSTER_BUILD_JOBS:-2}"
export CGO_ENABLED=0

log() { echo "build: $*" >&2; }

# Serialise concurrent runs (a second caller waits, then finds everything built).
exec 9>"$OUT/.lock"
flock 9

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A binary is rebuilt when its stamp (version + the go.sum it was built from)
# differs, so bumping a version in a go.mod never reuses a stale binary.
stamp_of() { # version dir
  echo "$1 $(sha256sum <"$2/go.sum" | cut -c1-16) $(go env GOVERSION)"
}
fresh() { # name stamp
  [ -x "$BIN/$1" ] && [ "$(cat "$BIN/.$1.stamp" 2>/dev/null)" == "$2" ]
}

build() { # name version dir ldflags pkg
  local name=$1 version=$2 dir=$3 ldflags=$4 pkg=$5 stamp
  stamp=$(stamp_of "$version" "$dir")
  fresh "$name" "$stamp" && return 0
  log "building $name $version (first run only)"
  local start=$SECONDS
  (cd "$dir" && nice -n 10 go build -ldflags "$ldflags" -o "$tmp/$name" "$pkg")
  mv "$tmp/$name" "$BIN/$name"
  echo "$stamp" >"$BIN/.$name.stamp"
  log "built $name in $((SECONDS - start))s"
}

grep -q "k8s.io/kubernetes $K8S_VERSION" "$here/tools/go.mod" ||
  { log "tools/go.mod does not require k8s.io/kubernetes $K8S_VERSION"; exit 1; }
grep -q "go.etcd.io/etcd/server/v3 $ETCD_VERSION" "$here/etcd/go.mod" ||
  { log "etcd/go.mod does not require go.etcd.io/etcd/server/v3 $ETCD_VERSION"; exit 1; }

ver=${K8S_VERSION#v}
K8S_LDFLAGS="-s -w \
 -X k8s.io/component-base/version.gitVersion=$K8S_VERSION \
 -X k8s.io/component-base/version.gitMajor=${ver%%.*} \
 -X k8s.io/component-base/version.gitMinor=$(echo "$ver" | cut -d. -f2) \
 -X k8s.io/component-base/version.gitTreeState=clean \
 -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION \
 -X k8s.io/client-go/pkg/version.gitMajor=${ver%%.*} \
 -X k8s.io/client-go/pkg/version.gitMinor=$(echo "$ver" | cut -d. -f2)"

build etcd "$ETCD_VERSION" "$here/etcd" "-s -w" .
for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  build "$c" "$K8S_VERSION" "$here/tools" "$K8S_LDFLAGS" "k8s.io/kubernetes/cmd/$c"
done

kwok_stamp="$KWOK_VERSION $(go env GOVERSION)"
if ! fresh kwok "$kwok_stamp"; then
  log "installing kwok $KWOK_VERSION (first run only)"
  start=$SECONDS
  GOBIN="$tmp" nice -n 10 go install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  mv "$tmp/kwok" "$BIN/kwok"
  echo "$kwok_stamp" >"$BIN/.kwok.stamp"
  log "built kwok in $((SECONDS - start))s"
fi

# kwok's stage files come from its module in the Go module cache (not the repo).
if [ "$(cat "$OUT/stages/.done" 2>/dev/null)" != "$KWOK_VERSION" ]; then
  dir=$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  rm -rf "$OUT/stages"
  mkdir -p "$OUT/stages"
  for s in node/fast node/heartbeat pod/fast; do
    mkdir -p "$OUT/stages/$s"
    cp "$dir/kustomize/stage/$s/"*.yaml "$OUT/stages/$s/"
  done
  chmod -R u+w "$OUT/stages"
  echo "$KWOK_VERSION" >"$OUT/stages/.done"
fi

echo "$OUT"
