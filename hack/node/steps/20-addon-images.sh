#!/usr/bin/env bash
# Imports the add-on images (prepare/20-addons.sh wrote them) into the node's
# containerd, and installs the Gateway API CRDs (standard channel, the release
# of ../../shared/crds) that the ingress controller serves.
. "$(dirname "$0")/../addons/common.sh"

for img in traefik kube-router netprobe; do
  "$NODE_BIN/ctr" --address "$CONTAINERD_SOCK" -n k8s.io images import --local "$WORKDIR/images/$img.tar" >/dev/null ||
    fail "cannot import $WORKDIR/images/$img.tar into containerd: run hack/node/prepare/20-addons.sh first"
done
# Listed once: grep -q closing the pipe early would fail ctr (pipefail).
images=$("$NODE_BIN/ctr" --address "$CONTAINERD_SOCK" -n k8s.io images ls -q)
for ref in "$TRAEFIK_IMAGE" "$KUBE_ROUTER_IMAGE" "$NETPROBE_IMAGE"; do
  grep -qx "docker.io/$ref\|$ref" <<<"$images" ||
    fail "image $ref is not in containerd after the import"
done
say "imported $TRAEFIK_IMAGE, $KUBE_ROUTER_IMAGE, $NETPROBE_IMAGE"

# Server-side: the HTTPRoute CRD is too big for client-side apply's annotation.
kubectl apply --server-side -f "$ADDONS_DIR/gateway-api/" >/dev/null
kubectl wait --for=condition=Established --timeout=60s crd \
  gatewayclasses.gateway.networking.k8s.io gateways.gateway.networking.k8s.io \
  httproutes.gateway.networking.k8s.io grpcroutes.gateway.networking.k8s.io \
  referencegrants.gateway.networking.k8s.io backendtlspolicies.gateway.networking.k8s.io >/dev/null
say "Gateway API $(cat "$ADDONS_DIR/gateway-api/.version") CRDs established: $(ls "$ADDONS_DIR/gateway-api" | sed 's/gateway.networking.k8s.io_//; s/.yaml//' | tr '\n' ' ')"
