#!/usr/bin/env bash
# Before the node starts (outside its network namespace, where the module proxy
# is reachable): builds the add-ons once (addons/build.sh, cached) and writes
# their images FROM scratch into $WORKDIR/images/, which step 20 imports.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${WORKDIR:?prepare steps run from hack/node/test.sh, which sets WORKDIR}"
out=$(nice -n 10 "$here/addons/build.sh")
mkdir -p "$WORKDIR/images"

# image.sh puts the binary at /usr/local/bin/<name>, the entrypoint (as the
# services' Dockerfiles); step 62 execs NETPROBE_BIN.
# Tags carry the version (or the source hash), so an image never goes stale.
traefik_tag=$("$out/bin/traefik" version 2>/dev/null | awk '/^Version:/ { print $2 }')
probe_tag=$(cut -c1-12 <"$out/bin/.netprobe.stamp")
router_tag=$(cut -d' ' -f1 <"$out/bin/.kube-router.stamp" | cut -d@ -f2)
: "${traefik_tag:?cannot read the version of $out/bin/traefik}"

"$here/image.sh" "node-addons/traefik:$traefik_tag" "$out/bin/traefik" "$WORKDIR/images/traefik.tar" \
  --user 65532 --port 8000 --port 8001
"$here/image.sh" "node-addons/netprobe:$probe_tag" "$out/bin/netprobe" "$WORKDIR/images/netprobe.tar" \
  --user 65532
# kube-router runs iptables and ipset (Debian's, with their libraries) as root
# in the node's namespace, with only NET_ADMIN and NET_RAW.
files=()
while IFS= read -r f; do files+=(--file "$f"); done < <("$here/addons/runtime-files.sh")
"$here/image.sh" "node-addons/kube-router:$router_tag" "$out/bin/kube-router" "$WORKDIR/images/kube-router.tar" \
  --user 0 "${files[@]}"

cat >"$WORKDIR/addons.env" <<ENV
ADDONS_DIR=$out
TRAEFIK_IMAGE=node-addons/traefik:$traefik_tag
NETPROBE_IMAGE=node-addons/netprobe:$probe_tag
NETPROBE_BIN=/usr/local/bin/netprobe
KUBE_ROUTER_IMAGE=node-addons/kube-router:$router_tag
ENV
echo "prepare: add-on images in $WORKDIR/images (traefik $traefik_tag, kube-router $router_tag, netprobe $probe_tag)"
