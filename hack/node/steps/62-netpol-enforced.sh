#!/usr/bin/env bash
# NetworkPolicy enforcement, from probe pods (netprobe, addons/netprobe-pod.yaml):
#  - a pod without the allowed labels, in the shop's namespace and in another
#    one, cannot reach cm-api (Service and pod IP), the Kafka broker (both
#    listeners) or MongoDB (FerretDB, Service and pod IP);
#  - DNS still answers it;
#  - the same probe from a pod with the allowed label reaches each of them (so
#    a block is the policy's doing, not a broken probe or target).
# Step 61 proved the shop's own traffic flows under the same policies.
. "$(dirname "$0")/../addons/common.sh"

probe_pod() { # namespace name label
  render "$ADDONS_SRC/netprobe-pod.yaml" |
    sed -e "s|__NAME__|$2|" -e "s|__NS__|$1|" -e "s|__LABEL__|$3|"
}
pods=$(mktemp)
on_exit "kubectl delete --ignore-not-found --wait=false -f '$pods' >/dev/null; rm -f '$pods'"
{
  printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: netprobe-outside\n  labels:\n    pod-security.kubernetes.io/enforce: restricted\n---\n'
  probe_pod "$SHOP_NS" netprobe-unlabelled "netprobe: unlabelled"
  echo ---
  probe_pod netprobe-outside netprobe-unlabelled "netprobe: unlabelled"
  echo ---
  probe_pod "$SHOP_NS" netprobe-as-cm-server "app.kubernetes.io/name: cm-server"
  echo ---
  probe_pod "$SHOP_NS" netprobe-as-cm-api "app.kubernetes.io/name: cm-api"
} >"$pods"
kubectl apply -f "$pods" >/dev/null
for p in "$SHOP_NS/netprobe-unlabelled" netprobe-outside/netprobe-unlabelled "$SHOP_NS/netprobe-as-cm-server" "$SHOP_NS/netprobe-as-cm-api"; do
  kubectl -n "${p%/*}" wait --for=condition=Ready --timeout=60s "pod/${p#*/}" >/dev/null ||
    fail "probe pod $p not ready: $(kubectl -n "${p%/*}" get pod "${p#*/}" -o jsonpath='{.status}')"
done

# The targets, looked up from the cluster (the charts' own names and ports).
svc_addr() { # namespace label port-name|port
  kubectl -n "$1" get svc -l "$2" -o jsonpath="{.items[0].metadata.name}.$1.svc.cluster.local:{.items[0].spec.ports[?(@.name==\"$3\")].port}"
}
pod_ip() { # namespace selector
  kubectl -n "$1" get pod -l "$2" --field-selector=status.phase=Running -o jsonpath='{.items[0].status.podIP}'
}
cmapi_sel=$(kubectl -n "$SHOP_NS" get svc -l app.kubernetes.io/name=cm-api -o jsonpath='{.items[0].spec.selector}' |
  python3 -c 'import json,sys; print(",".join(f"{k}={v}" for k,v in json.load(sys.stdin).items()))')
[ -n "$cmapi_sel" ] || fail "no cm-api Service in $SHOP_NS: install the chart first (steps 3x)"
cmapi_port=$(kubectl -n "$SHOP_NS" get svc -l app.kubernetes.io/name=cm-api -o jsonpath='{.items[0].spec.ports[0].targetPort}')
cmapi_svc=$(svc_addr "$SHOP_NS" app.kubernetes.io/name=cm-api http)
cmapi_pod="$(pod_ip "$SHOP_NS" "$cmapi_sel"):$(kubectl -n "$SHOP_NS" get pod -l "$cmapi_sel" -o jsonpath="{.items[0].spec.containers[0].ports[?(@.name==\"$cmapi_port\")].containerPort}")"
mongo_svc=$(kubectl -n "$MONGO_NS" get svc -l app.kubernetes.io/name=ferretdb -o jsonpath="{.items[0].metadata.name}.$MONGO_NS.svc.cluster.local:{.items[0].spec.ports[0].port}")
mongo_pod="$(pod_ip "$MONGO_NS" app.kubernetes.io/name=ferretdb):27017"
kafka="$NODE_IP:$KAFKA_PORT"
kafka_plain="$NODE_IP:$KAFKA_PLAIN_PORT"
for t in "$cmapi_svc" "$cmapi_pod" "$mongo_svc" "$mongo_pod"; do
  case $t in :* | *: | *.svc.cluster.local:) fail "could not look up a target address ($t): are cm-api and ferretdb installed?" ;; esac
done

# probe POD KIND TARGET: runs netprobe in POD (ns/name), prints its one line.
probe() {
  kubectl -n "${1%/*}" exec "${1#*/}" -- "$NETPROBE_BIN" -timeout 3s "$2" "$3" 2>&1 || true
}
checked=0
expect() { # reached|blocked POD KIND TARGET WHAT
  local want=$1 pod=$2 kind=$3 target=$4 what=$5 line
  line=$(probe "$pod" "$kind" "$target")
  case $want:$line in
    reached:*": reached: "*) ;;
    blocked:*": not reached ("[trui]*) ;; # timeout, refused, unreachable, reset
    *) fail "$pod -> $what ($kind $target): want $want, got: $line" ;;
  esac
  checked=$((checked + 1))
  printf '  ok  %-7s %-38s -> %-22s %s\n' "$want" "$pod" "$what" "${line#*: }"
}

in=$SHOP_NS/netprobe-unlabelled
out=netprobe-outside/netprobe-unlabelled
# Policies apply within a kube-router sync of the last change (step 61).
mongo_blocked() { probe "$in" tcp "$mongo_pod" | grep -q ': not reached ('; }
retry 30 mongo_blocked >/dev/null ||
  fail "$in still reaches MongoDB at $mongo_pod: the NetworkPolicy engine does not enforce (kubectl -n kube-system logs ds/kube-router)"

say "probes (3 s timeout each):"
for pod in "$in" "$out"; do
  expect blocked "$pod" tcp "$cmapi_svc" "cm-api (Service)"
  expect blocked "$pod" tcp "$cmapi_pod" "cm-api (pod)"
  expect blocked "$pod" tcp "$mongo_svc" "MongoDB (Service)"
  expect blocked "$pod" tcp "$mongo_pod" "MongoDB (pod)"
  expect reached "$pod" dns "${cmapi_svc%:*}" "DNS"
done
# The broker is a process on the node: only the shop's namespace guards it (netpol-guards.yaml).
expect blocked "$in" tcp "$kafka" "Kafka (SASL listener)"
expect blocked "$in" tcp "$kafka_plain" "Kafka (plain listener)"
# Controls: the same probes with the label each policy allows.
expect reached "$SHOP_NS/netprobe-as-cm-server" tcp "$cmapi_svc" "cm-api (Service)"
expect reached "$SHOP_NS/netprobe-as-cm-server" tcp "$cmapi_pod" "cm-api (pod)"
expect reached "$SHOP_NS/netprobe-as-cm-server" tcp "$kafka" "Kafka (SASL listener)"
expect reached "$SHOP_NS/netprobe-as-cm-api" tcp "$mongo_svc" "MongoDB (Service)"
expect reached "$SHOP_NS/netprobe-as-cm-api" tcp "$mongo_pod" "MongoDB (pod)"
expect reached "$SHOP_NS/netprobe-as-cm-api" tcp "$kafka" "Kafka (SASL listener)"
expect reached "$SHOP_NS/netprobe-as-cm-api" dns "${mongo_svc%:*}" "DNS"
say "ok  $checked probes as expected: unlabelled pods are shut out of cm-api, Kafka and MongoDB; DNS and the allowed labels get through"
