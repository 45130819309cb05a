#!/usr/bin/env bash
# The shop from its own charts with real pods: cm-api (both Deployments: the
# look-up API behind the Service and the consumer) and cm-server (behind the
# chart's Ingress and HTTPRoute), `helm install --wait`, then `helm test` of
# each. Values: the charts' defaults plus shop/cm-api.yaml and shop/cm-server.yaml
# (where Kafka, MongoDB, DNS and the ingress controller are on this node).
. "$(dirname "$0")/../addons/common.sh"

# Kept for the later steps' upgrades (as an operator keeps values files).
vals=$WORKDIR/values
mkdir -p "$vals"
for chart in cm-api cm-server; do
  render "$HACK_NODE/shop/$chart.yaml" >"$vals/$chart.yaml"
done
install() { # release chart
  local t0=$SECONDS
  helm upgrade --install "$1" "$REPO/$2/chart" -n "$SHOP_NS" -f "$vals/$2.yaml" --wait --timeout 5m >"$WORKDIR/logs/helm-$1.log" 2>&1 || {
    cat "$WORKDIR/logs/helm-$1.log"
    dump_pods "$SHOP_NS" app.kubernetes.io/instance="$1"
    kubectl -n "$SHOP_NS" get events --sort-by=.lastTimestamp | tail -20
    fail "helm install $1 did not become ready (log above)"
  }
  say "helm install --wait $1: $(kubectl -n "$SHOP_NS" get deploy -l app.kubernetes.io/instance="$1" -o jsonpath='{range .items[*]}{.metadata.name} {.status.readyReplicas}/{.spec.replicas} {end}')ready in $((SECONDS - t0))s"
}
install cm-api cm-api
install cm-server cm-server

for release in cm-api cm-server; do
  helm test "$release" -n "$SHOP_NS" --logs --timeout 3m >"$WORKDIR/logs/helm-test-$release.log" 2>&1 || {
    cat "$WORKDIR/logs/helm-test-$release.log"
    dump_pods "$SHOP_NS" app.kubernetes.io/instance="$release"
    fail "helm test $release failed (output above)"
  }
  say "helm test $release: $(grep -c '^PASS' "$WORKDIR/logs/helm-test-$release.log") checks passed ($(grep -o 'Phase: *[A-Za-z]*' "$WORKDIR/logs/helm-test-$release.log" | sort | uniq -c | xargs))"
done
