#!/usr/bin/env bash
# Builds (once) every binary of the real test node and prints the directory
# that holds them:
#   kubelet, kube-proxy                          k8s.io/kubernetes (tools/go.mod)
#   containerd, containerd-shim-runc-v2, ctr     containerd (containerd/go.mod)
#   coredns                                      a minimal CoreDNS (coredns/)
#   pause, ociimage, probe                       our own small programs (oci/)
# plus the control plane of hack/cluster/build.sh (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl), linked in, and the pause
# and CoreDNS image archives under images/. Everything lives outside the repo in
#   ${SCALABLE_SHOP_CACHE:-~/.cache/scalable-shop}/node-k8s-v1.36.3/
# so only the first run pays (BENCHMARKS.md has the times). Binaries are built
# into a temp dir and moved into place, so an interrupted build never leaves a
# broken binary behind. As root it also installs the Debian packages the node
# runs (runc, containernetworking-plugins, iptables) when they are missing.
set -euo pipefail

K8S_VERSION=v1.36.3          # k8s.io/kubernetes (tools/go.mod)
CONTAINERD_VERSION=v2.2.9    # containerd/go.mod
COREDNS_VERSION=v1.14.7      # coredns/go.mod

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE="${SCALABLE_SHOP_CACHE:-$HOME/.cache/scalable-shop}"
OUT="$CACHE/node-k8s-$K8S_VERSION"
BIN="$OUT/bin"
IMAGES="$OUT/images"
mkdir -p "$BIN" "$IMAGES"

export GOWORK=off
# Test tools, not the shop: built with the machine's own Go, so a change of the
# project's toolchain (the Makefile's GOTOOLCHAIN) does not rebuild them.
export GOTOOLCHAIN=local
export GOFLAGS="-buildvcs=false -trimpath -p=${CLUSTER_BUILD_JOBS:-2}"
export CGO_ENABLED=0

log() { echo "node build: $*" >&2; }

# Debian packages first: they need no lock and fail fast.
missing=()
command -v runc >/dev/null || missing+=(runc)
[ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ] && [ -x /usr/lib/cni/portmap ] ||
  missing+=(containernetworking-plugins)
command -v iptables >/dev/null || missing+=(iptables)
command -v nsenter >/dev/null || missing+=(util-linux)
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing ${missing[*]} (apt)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    log "missing ${missing[*]}: install them (Debian: apt-get install ${missing[*]}) or run as root"
    exit 1
  fi
fi

# The control plane: its own script, cache and lock.
cluster_bin="$("$here/../cluster/build.sh")/bin"

# Serialise concurrent runs (a second caller waits, then finds everything built).
exec 9>"$OUT/.lock"
flock 9

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A binary is rebuilt when its stamp (version + the module it was built from
# + Go) differs, so bumping a version in a go.mod never reuses a stale binary.
# Our own module has no go.sum: its sources are the stamp.
stamp_of() { # version dir
  local sum
  if [ -f "$2/go.sum" ]; then
    sum=$(sha256sum <"$2/go.sum" | cut -c1-16)
  else
    sum=$(cd "$2" && find . -name '*.go' -o -name go.mod | LC_ALL=C sort | xargs cat | sha256sum | cut -c1-16)
  fi
  echo "$1 $sum $(go env GOVERSION)"
}
fresh() { # name stamp
  [ -x "$BIN/$1" ] && [ "$(cat "$BIN/.$1.stamp" 2>/dev/null)" == "$2" ]
}

build() { # name version dir tags ldflags pkg
  local name=$1 version=$2 dir=$3 tags=$4 ldflags=$5 pkg=$6 stamp
  stamp=$(stamp_of "$version" "$dir")
  fresh "$name" "$stamp" && return 0
  log "building $name $version (first run only)"
  local start=$SECONDS
  (cd "$dir" && nice -n 10 go build -tags "$tags" -ldflags "$ldflags" -o "$tmp/$name" "$pkg")
  mv "$tmp/$name" "$BIN/$name"
  echo "$stamp" >"$BIN/.$name.stamp"
  log "built $name in $((SECONDS - start))s"
}

grep -q "k8s.io/kubernetes $K8S_VERSION" "$here/tools/go.mod" ||
  { log "tools/go.mod does not require k8s.io/kubernetes $K8S_VERSION"; exit 1; }
grep -q "github.com/containerd/containerd/v2 $CONTAINERD_VERSION" "$here/containerd/go.mod" ||
  { log "containerd/go.mod does not require containerd $CONTAINERD_VERSION"; exit 1; }
grep -q "github.com/coredns/coredns $COREDNS_VERSION" "$here/coredns/go.mod" ||
  { log "coredns/go.mod does not require coredns $COREDNS_VERSION"; exit 1; }

# Same flags as hack/cluster/build.sh, so the packages both share come from
# Go's build cache.
ver=${K8S_VERSION#v}
K8S_LDFLAGS="-s -w \
 -X k8s.io/component-base/version.gitVersion=$K8S_VERSION \
 -X k8s.io/component-base/version.gitMajor=${ver%%.*} \
 -X k8s.io/component-base/version.gitMinor=$(echo "$ver" | cut -d. -f2) \
 -X k8s.io/component-base/version.gitTreeState=clean \
 -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION \
 -X k8s.io/client-go/pkg/version.gitMajor=${ver%%.*} \
 -X k8s.io/client-go/pkg/version.gitMinor=$(echo "$ver" | cut -d. -f2)"

build pause dev "$here/oci" "" "-s -w" ./cmd/pause
build ociimage dev "$here/oci" "" "-s -w" ./cmd/ociimage
build probe dev "$here/oci" "" "-s -w" ./cmd/probe
for c in kubelet kube-proxy; do
  build "$c" "$K8S_VERSION" "$here/tools" "" "$K8S_LDFLAGS" "k8s.io/kubernetes/cmd/$c"
done
CT_TAGS="no_btrfs no_devmapper no_zfs"
CT_LDFLAGS="-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION"
for c in containerd containerd-shim-runc-v2 ctr; do
  build "$c" "$CONTAINERD_VERSION" "$here/containerd" "$CT_TAGS" "$CT_LDFLAGS" "github.com/containerd/containerd/v2/cmd/$c"
done
build coredns "$COREDNS_VERSION" "$here/coredns" "" "-s -w" .

for c in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  ln -sfn "$cluster_bin/$c" "$BIN/$c"
done

# The images every node needs. An archive is rewritten when its binary or the
# writer changed (the stamp is both digests).
image() { # archive name:tag binary [ociimage flags]
  local archive=$1 ref=$2 binary=$3 stamp; shift 3
  stamp="$ref $(cat "$BIN/$binary" "$BIN/ociimage" | sha256sum | cut -c1-16) $*"
  [ -f "$IMAGES/$archive" ] && [ "$(cat "$IMAGES/.$archive.stamp" 2>/dev/null)" == "$stamp" ] && return 0
  "$BIN/ociimage" --name "$ref" --binary "$BIN/$binary" --out "$tmp/$archive" "$@"
  mv "$tmp/$archive" "$IMAGES/$archive"
  echo "$stamp" >"$IMAGES/.$archive.stamp"
}
image pause.tar "localhost/scalable-shop/pause:node" pause
image coredns.tar "localhost/scalable-shop/coredns:$COREDNS_VERSION" coredns --port 1053 --port 8080 --port 8181

echo "$BIN"
