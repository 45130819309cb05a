#!/usr/bin/env bash
# A cm-api consumer pod, a cm-api look-up pod and a cm-server pod deleted with
# --grace-period=0 (SIGKILL, no drain) while buys arrive through the Ingress:
# buys in flight on the killed cm-server pod may fail, but nothing acknowledged
# is lost or stored twice, and the consumer group's lag returns to 0.
. "$(dirname "$0")/../addons/common.sh"
# shellcheck disable=SC1091
. "$WORKDIR/ingress.env"

one_pod() { kubectl -n "$SHOP_NS" get pods -l "$1" --field-selector=status.phase=Running -o jsonpath='{.items[0].metadata.name}'; }
consumer=$(one_pod app.kubernetes.io/name=cm-api,app.kubernetes.io/component=consumer)
api=$(one_pod app.kubernetes.io/name=cm-api,app.kubernetes.io/component=api)
server=$(one_pod app.kubernetes.io/name=cm-server)
[ -n "$consumer" ] && [ -n "$api" ] && [ -n "$server" ] || fail "cannot find the pods to kill (consumer '$consumer', api '$api', cm-server '$server')"
kill="set -e
sleep 3
kubectl -n '$SHOP_NS' delete pod --grace-period=0 --force '$consumer' '$api' '$server' 2>&1 | grep -v '^Warning'
kubectl -n '$SHOP_NS' rollout status deployment -l 'app.kubernetes.io/name in (cm-api,cm-server)' --timeout=3m >/dev/null
echo 'killed $consumer $api $server; replacements ready'"
"$SHOP_BIN/underload" -url "$INGRESS_URL" -rate "${TEST_K8S_KILL_RATE:-20}" -users 100 -max-failed -1 -- bash -c "$kill" \
  >"$WORKDIR/logs/kill.out" 2>"$WORKDIR/logs/kill.log" ||
  { cat "$WORKDIR/logs/kill.log" "$WORKDIR/logs/kill.out"; fail "an acknowledged buy was lost or stored twice after the kills"; }

# The group's lag, from the broker itself (its plain listener, on the node).
lag() {
  env KAFKA_LOCAL_DIR="$WORKDIR/kafka" "$REPO/kafka/local/kafka-local.sh" tool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand \
    --bootstrap-server "$NODE_IP:$KAFKA_PLAIN_PORT" --describe --group cm-api 2>/dev/null |
    awk '$2 == "purchases" && $6 ~ /^[0-9]+$/ { sum += $6; n++ } END { if (n == 0) exit 1; print sum }'
}
zero() { [ "$(lag)" = 0 ]; }
retry 120 zero >/dev/null || fail "consumer group cm-api's lag did not return to 0: $(lag)"
say "ok  killed $consumer, $api and $server with --grace-period=0 under load: $(cat "$WORKDIR/logs/kill.out"); lag 0"
