#!/usr/bin/env bash
# Builds (once) the node's add-ons and prints the directory that holds them:
#   bin/traefik       the ingress controller (Ingress of class nginx + Gateway API)
#   bin/kube-router   its NetworkPolicy controller (iptables + ipset)
#   bin/netprobe      the probe client of the NetworkPolicy tests (hack/node/netprobe)
#   gateway-api/      the Gateway API standard-channel CRDs
# Everything lives outside the repo in
#   ${SCALABLE_SHOP_CACHE:-~/.cache/scalable-shop}/node-addons/
# keyed by version, so only the first run pays (cold build times: BENCHMARKS.md).
# Sources come from the Go module proxy; each binary is built into a temp dir and
# moved into place.
#
# Why these (README "Real node"): ingress-nginx is retired and needs OpenResty's
# Lua modules, which no registry here serves; Traefik's kubernetesIngressNGINX
# provider serves the chart's Ingress of class nginx, annotations included, and
# its kubernetesGateway provider the HTTPRoute. kube-network-policies needs the
# nftables `queue` expression, which this kernel lacks (nft: "Could not process
# rule: No such file or directory"); kube-router enforces with iptables + ipset,
# which it has.
set -euo pipefail

# v3.7.x requires github.com/traefik/traefik/dynamic/ext, a nested module the
# proxy does not serve, so v3.6 (the newest buildable line) it is.
TRAEFIK_VERSION=v3.6.12
# The newest v2 release the module proxy serves.
KUBE_ROUTER_VERSION=v2.1.0
# The Gateway API release of ../../shared/crds (same files, plus the CRDs of the
# standard channel that Traefik also watches: GRPCRoute, BackendTLSPolicy, ...).
GATEWAY_API_VERSION=v1.6.1

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE="${SCALABLE_SHOP_CACHE:-$HOME/.cache/scalable-shop}"
OUT="$CACHE/node-addons"
BIN="$OUT/bin"
mkdir -p "$BIN"

export GOWORK=off
# Test tools, not the shop: built with the machine's own Go (as hack/cluster/build.sh).
export GOTOOLCHAIN=local
export GOFLAGS="-buildvcs=false -trimpath -p=${CLUSTER_BUILD_JOBS:-2}"
export CGO_ENABLED=0

log() { echo "addons: $*" >&2; }

exec 9>"$OUT/.lock"
flock 9

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fresh() { # name stamp
  [ -x "$BIN/$1" ] && [ "$(cat "$BIN/.$1.stamp" 2>/dev/null)" == "$2" ]
}
module_dir() { # module@version: downloads it into the module cache, prints its folder
  go mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'
}

# build NAME MODULE VERSION PKG LDFLAGS: builds PKG inside the module's own folder
# in the module cache, so its go.mod (replace lines included) and go.sum decide
# every dependency, exactly as upstream's release build.
build() {
  local name=$1 module=$2 version=$3 pkg=$4 ldflags=$5 stamp dir start
  stamp="$module@$version $(go env GOVERSION)"
  fresh "$name" "$stamp" && return 0
  log "building $name $version (first run only)"
  start=$SECONDS
  dir=$(module_dir "$module@$version")
  [ -n "$dir" ] || { log "cannot download $module@$version from the Go module proxy"; exit 1; }
  (cd "$dir" && nice -n 10 go build -ldflags "$ldflags" -o "$tmp/$name" "$pkg")
  mv "$tmp/$name" "$BIN/$name"
  echo "$stamp" >"$BIN/.$name.stamp"
  log "built $name in $((SECONDS - start))s"
}

build traefik github.com/traefik/traefik/v3 "$TRAEFIK_VERSION" ./cmd/traefik \
  "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION"
build kube-router github.com/cloudnativelabs/kube-router/v2 "$KUBE_ROUTER_VERSION" ./cmd/kube-router \
  "-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$KUBE_ROUTER_VERSION"

# netprobe is ours: rebuilt when its source changes.
probe_stamp="$(cat "$here/../netprobe/"*.go "$here/../netprobe/go.mod" | sha256sum | cut -c1-16) $(go env GOVERSION)"
if ! fresh netprobe "$probe_stamp"; then
  (cd "$here/../netprobe" && go build -ldflags "-s -w" -o "$tmp/netprobe" .)
  mv "$tmp/netprobe" "$BIN/netprobe"
  echo "$probe_stamp" >"$BIN/.netprobe.stamp"
fi

if [ "$(cat "$OUT/gateway-api/.version" 2>/dev/null)" != "$GATEWAY_API_VERSION" ]; then
  dir=$(module_dir "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION")
  rm -rf "$OUT/gateway-api"
  mkdir -p "$OUT/gateway-api"
  cp "$dir"/config/crd/standard/gateway.networking.k8s.io_*.yaml "$OUT/gateway-api/"
  chmod -R u+w "$OUT/gateway-api"
  echo "$GATEWAY_API_VERSION" >"$OUT/gateway-api/.version"
fi

echo "$OUT"
