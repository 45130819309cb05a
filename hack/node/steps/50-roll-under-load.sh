#!/usr/bin/env bash
# A `helm upgrade` of both charts that rolls every pod (cm-api's look-up API and
# consumer, cm-server) while buys arrive through the Ingress at a steady rate:
# no buy may fail because of the roll (no reset, no 502/503 from the ingress),
# and every 202 must be stored exactly once. underload prints the counts.
. "$(dirname "$0")/../addons/common.sh"
# shellcheck disable=SC1091
. "$WORKDIR/ingress.env"

pods() { kubectl -n "$SHOP_NS" get pods -l 'app.kubernetes.io/name in (cm-api,cm-server)' --field-selector=status.phase=Running -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}' | sort; }
before=$(pods)
nonce=$(date +%s)
roll="set -e
for r in cm-api cm-server; do
  helm upgrade \$r '$REPO/'\$r/chart -n '$SHOP_NS' -f '$WORKDIR/values/'\$r.yaml --set-string podAnnotations.roll=$nonce --wait --timeout 5m >/dev/null
  echo \"rolled \$r\"
done"
"$SHOP_BIN/underload" -url "$INGRESS_URL" -rate "${TEST_K8S_ROLL_RATE:-20}" -users 100 -max-failed 0 -- bash -c "$roll" \
  >"$WORKDIR/logs/roll.out" 2>"$WORKDIR/logs/roll.log" ||
  { cat "$WORKDIR/logs/roll.log" "$WORKDIR/logs/roll.out"; fail "buys failed or were lost while every pod rolled"; }
after=$(pods)
still=$(comm -12 <(echo "$before") <(echo "$after"))
[ -z "$still" ] || fail "these pods survived the upgrade, so it did not roll every pod: $still"
say "ok  every pod rolled ($(echo "$before" | wc -l) replaced) under load: $(cat "$WORKDIR/logs/roll.out")"
