#!/usr/bin/env bash
# The NetworkPolicy engine: kube-router's firewall controller as a DaemonSet.
# Checks that it runs and has hooked its chains into the node's iptables;
# steps 61-62 prove it enforces.
. "$(dirname "$0")/../addons/common.sh"

render "$ADDONS_SRC/kube-router.yaml" | kubectl apply -f - >/dev/null
kubectl -n kube-system rollout status daemonset/kube-router --timeout=120s >/dev/null ||
  { kubectl -n kube-system logs daemonset/kube-router --tail=30 >&2 || true; fail "kube-router did not become ready"; }

# kube-router hooks INPUT, FORWARD and OUTPUT once its first sync is done.
hooks() {
  local rules
  rules=$(iptables-save -t filter)
  for chain in INPUT FORWARD OUTPUT; do
    grep -q -- "-A $chain .*-j KUBE-ROUTER-$chain" <<<"$rules" || { echo "no jump from $chain to KUBE-ROUTER-$chain"; return 1; }
  done
}
retry 60 hooks >/dev/null || { kubectl -n kube-system logs daemonset/kube-router --tail=30 >&2 || true; fail "kube-router never hooked its chains into iptables"; }
say "kube-router $KUBE_ROUTER_IMAGE running; KUBE-ROUTER-INPUT/FORWARD/OUTPUT hooked into the node's filter table"
