#!/usr/bin/env bash
# The e2e suite in deployed mode (SHOP_URL), through the chart's Ingress only:
# no port-forward, no credentials. Tests that kill or stop the services skip
# themselves; the ones below must run and pass: a buy is listed, one
# Idempotency-Key stores once, 1,000 concurrent buys are each listed exactly
# once in order, bad input gets a JSON 4xx and stores nothing, and every
# response is checked against the OpenAPI document (the last test proves the
# check recognised cm-server behind the ingress).
. "$(dirname "$0")/../addons/common.sh"
# shellcheck disable=SC1091
. "$WORKDIR/ingress.env"

must_pass=(TestABuyShowsUpInTheHistory TestTheSameIdempotencyKeyStoresOnePurchase
  TestAThousandConcurrentBuysAreStoredExactlyOnceInOrder TestBadInputIsRefusedWithJSONAndStoresNothing
  TestTheShopIsRecognisedByTheContractCheck)
log=$WORKDIR/logs/e2e.log
# The suite reads the OpenAPI documents from the repository (../cm-*/app).
(cd "$REPO/e2e" && SHOP_URL=$INGRESS_URL "$SHOP_BIN/e2e.test" -test.v -test.count=1 -test.timeout=15m) >"$log" 2>&1 ||
  { grep -E '^(---|===|\s+\S+_test.go)|FAIL|VIOLATION' "$log" | tail -40; fail "the e2e suite failed against $INGRESS_URL (log: $log)"; }
for t in "${must_pass[@]}"; do
  grep -q "^--- PASS: $t " "$log" || fail "$t did not run and pass against $INGRESS_URL: $(grep -A2 "^--- [A-Z]*: $t " "$log")"
done
say "ok  e2e through the Ingress at $INGRESS_URL: $(grep -c '^--- PASS' "$log") passed, $(grep -c '^--- SKIP' "$log") skipped (they stop or kill local processes); $(grep -o '[0-9]* responses validated' "$log" | tail -1)"
