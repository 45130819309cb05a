#!/usr/bin/env bash
# The ingress controller: Traefik with IngressClass `nginx` and Gateway
# `ingress/shop-gateway`. Writes INGRESS_URL and GATEWAY_URL to
# $WORKDIR/ingress.env and appends them to $WORKDIR/env for later steps.
. "$(dirname "$0")/../addons/common.sh"

render "$ADDONS_SRC/traefik.yaml" | kubectl apply -f - >/dev/null
kubectl -n ingress rollout status deployment/traefik --timeout=120s >/dev/null ||
  { kubectl -n ingress logs deployment/traefik --tail=30 >&2 || true; fail "traefik did not become ready"; }
kubectl -n ingress wait --for=condition=Programmed --timeout=60s gateway/shop-gateway >/dev/null ||
  { kubectl -n ingress get gateway shop-gateway -o jsonpath='{.status}' >&2; fail "Gateway shop-gateway not programmed by traefik"; }
kubectl wait --for=condition=Accepted --timeout=30s gatewayclass/traefik >/dev/null ||
  fail "GatewayClass traefik not accepted by traefik"

INGRESS_URL="http://$NODE_IP:30080"
GATEWAY_URL="http://$NODE_IP:30081"
# Nothing routes yet: both entry points answer Traefik's own 404.
for url in "$INGRESS_URL" "$GATEWAY_URL"; do
  code=$(retry 30 http_code GET "$url/no-such-route") || fail "$url does not answer from the node's namespace"
  [ "$code" = 404 ] || fail "$url/no-such-route answered $code, want Traefik's 404"
done
printf 'INGRESS_URL=%s\nGATEWAY_URL=%s\n' "$INGRESS_URL" "$GATEWAY_URL" >"$WORKDIR/ingress.env"
cat "$WORKDIR/ingress.env" >>"$WORKDIR/env"
say "traefik ready: IngressClass nginx at $INGRESS_URL, Gateway ingress/shop-gateway (listener http) at $GATEWAY_URL"
