#!/usr/bin/env bash
# The outage matrix on the real node (e2e/outage_test.go runs it on processes):
# while buys arrive through the Ingress, each dependency in turn is stopped —
#   Kafka (kafka/local's broker)       → /buy answers the JSON 503 with Retry-After, look-ups 200;
#   cm-api's look-up API (scaled to 0) → /buy 202, look-ups the JSON 503;
#   MongoDB (FerretDB scaled to 0)     → /buy 202, look-ups the JSON 503;
# and the customer page keeps answering. Every shop pod stays Ready and no
# container restarts: readiness means "this pod can do its own job", and
# liveness never looks at a dependency. After each recovery underload checks
# that every 202 is stored exactly once; only the Kafka row may refuse buys
# (503, never acknowledged).
. "$(dirname "$0")/../addons/common.sh"
# shellcheck disable=SC1091
. "$WORKDIR/ingress.env"
export NS=$SHOP_NS MONGO_NS INGRESS_URL body_file
export SHOP_PODS='app.kubernetes.io/name in (cm-api,cm-server)'
export USER_ID="outage-$(date +%s%N | tail -c 10)"
export HEADERS_FILE=$WORKDIR/logs/outage-headers

restarts() { kubectl -n "$NS" get pods -l "$SHOP_PODS" -o jsonpath='{range .items[*]}{.metadata.name} {.status.containerStatuses[0].restartCount} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | sort; }
# not_ready: the shop pods running when the row began (RESTARTS_BEFORE, less
# the ones the row itself stops) that are now NotReady, restarted or gone;
# pods an autoscaler adds meanwhile are not judged.
not_ready() {
  awk 'NR == FNR { before[$1] = $2; next }
       ($1 in before) { seen[$1] = 1; if ($3 != "True") print $1 " is NotReady"; else if ($2 != before[$1]) print $1 " restarted" }
       END { for (p in before) if (!(p in seen)) print p " is gone" }' <(echo "$RESTARTS_BEFORE") <(restarts)
}
# all_ready_for SECONDS: no shop pod NotReady or restarted, checked every second.
all_ready_for() {
  local until=$((SECONDS + $1)) bad
  while ((SECONDS < until)); do
    bad=$(not_ready)
    [ -z "$bad" ] || { echo "$bad"; return 1; }
    sleep 1
  done
}

# req ROUTE: one request through the Ingress; prints its status code, the body
# goes to $body_file and the headers to $HEADERS_FILE.
req() {
  local args=()
  case $1 in
    buy) args=(-X POST -H 'Content-Type: application/json' -d "{\"username\":\"Outage Check\",\"userid\":\"$USER_ID\",\"price\":\"1.00\"}" "$INGRESS_URL/buy") ;;
    lookup) args=("$INGRESS_URL/getAllUserBuys/$USER_ID") ;;
    page) args=(-H 'Accept: text/html' "$INGRESS_URL/") ;;
  esac
  curl -sS -o "$body_file" -D "$HEADERS_FILE" -w '%{http_code}' --max-time 10 "${args[@]}"
}
# answers BUY LOOKUP: the routes answer these codes, a 503 being the shop's own
# (JSON error "unavailable" and Retry-After), and the page 200; else says what differs.
answers() {
  local route want got
  for route in buy:$1 lookup:$2 page:200; do
    want=${route#*:} route=${route%%:*}
    got=$(req "$route")
    [ "$got" = "$want" ] || { echo "$route answered $got, want $want: $(head -c 200 "$body_file")"; return 1; }
    [ "$want" = 503 ] || continue
    python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["error"]["code"] != "unavailable")' "$body_file" 2>/dev/null ||
      { echo "$route: a 503 that is not the shop's JSON error: $(head -c 200 "$body_file")"; return 1; }
    grep -qi '^retry-after: *[0-9]' "$HEADERS_FILE" || { echo "$route: 503 without Retry-After"; return 1; }
  done
}

api_deploy=$(kubectl -n "$NS" get deploy -l app.kubernetes.io/name=cm-api,app.kubernetes.io/component=api -o jsonpath='{.items[0].metadata.name}')
api_replicas=$(kubectl -n "$NS" get deploy "$api_deploy" -o jsonpath='{.spec.replicas}')
[ -n "$api_deploy" ] && [ -n "$api_replicas" ] || fail "cannot find cm-api's look-up Deployment in $NS"
export api_deploy api_replicas
export BROKER="env KAFKA_LOCAL_DIR='$WORKDIR/kafka' KAFKA_LOCAL_HOST='$NODE_IP' KAFKA_LOCAL_PORT='$KAFKA_PORT' KAFKA_LOCAL_PLAIN_PORT='$KAFKA_PLAIN_PORT' KAFKA_LOCAL_TEST_ACLS=0 '$REPO/kafka/local/kafka-local.sh'"
# Whatever happens, the dependencies come back for the later steps.
on_exit "kubectl -n '$NS' scale deploy '$api_deploy' --replicas='$api_replicas' >/dev/null"
on_exit "kubectl -n '$MONGO_NS' scale deploy ferretdb --replicas=1 >/dev/null"
on_exit "$BROKER status >/dev/null || $BROKER start-broker >/dev/null 2>&1"

kafka_stop() { bash -c "$BROKER stop-broker"; }
kafka_start() { bash -c "$BROKER start-broker"; }
cmapi_stop() { kubectl -n "$NS" scale deploy "$api_deploy" --replicas=0; }
cmapi_start() { kubectl -n "$NS" scale deploy "$api_deploy" --replicas="$api_replicas" && kubectl -n "$NS" rollout status deploy "$api_deploy" --timeout=2m; }
mongo_stop() { kubectl -n "$MONGO_NS" scale deploy ferretdb --replicas=0; }
mongo_start() { kubectl -n "$MONGO_NS" scale deploy ferretdb --replicas=1 && kubectl -n "$MONGO_NS" rollout status deploy ferretdb --timeout=2m; }

# row NAME BUY LOOKUP: one outage, run by underload while it sends buys.
row() {
  local name=$1 out
  RESTARTS_BEFORE=$(restarts | awk -v skip="$([ "$name" = cmapi ] && echo "$api_deploy-")" 'skip == "" || index($1, skip) != 1 { print $1, $2 }')
  "${name}_stop" >>"$WORKDIR/logs/outage-$name.ops" 2>&1 || { echo "stopping $name failed (logs/outage-$name.ops)"; return 1; }
  out=$(retry 90 answers "$2" "$3") || { echo "$name stopped: the routes never answered buy $2, look-up $3: $out"; return 1; }
  out=$(all_ready_for 15) || { echo "$name stopped: $out"; return 1; }
  out=$(answers "$2" "$3") || { echo "$name stopped, 15 s on: $out"; return 1; }
  "${name}_start" >>"$WORKDIR/logs/outage-$name.ops" 2>&1 || { echo "starting $name again failed (logs/outage-$name.ops)"; return 1; }
  out=$(retry 120 answers 202 200) || { echo "$name back: the routes never recovered: $out"; return 1; }
  out=$(not_ready) && [ -z "$out" ] || { echo "$name back: $out"; return 1; }
  echo "outage: $name stopped: every pod Ready, no restart, buy $2, look-up $3, page 200; recovered"
}
export -f row answers all_ready_for not_ready restarts req retry kubectl kafka_stop kafka_start cmapi_stop cmapi_start mongo_stop mongo_start

for spec in "kafka 503 200 -1" "cmapi 202 503 0" "mongo 202 503 0"; do
  read -r name want_buy want_lookup max_failed <<<"$spec"
  "$SHOP_BIN/underload" -url "$INGRESS_URL" -rate "${TEST_K8S_OUTAGE_RATE:-10}" -users 50 -max-failed "$max_failed" -- \
    bash -c "row $name $want_buy $want_lookup" >"$WORKDIR/logs/outage-$name.out" 2>"$WORKDIR/logs/outage-$name.log" || {
    cat "$WORKDIR/logs/outage-$name.log" "$WORKDIR/logs/outage-$name.out"
    dump_pods "$NS"
    fail "the outage of $name (output above)"
  }
  say "ok  $(grep -h '^outage:' "$WORKDIR/logs/outage-$name.log" | tail -1 | cut -d' ' -f2-); under load: $(cat "$WORKDIR/logs/outage-$name.out")"
done
