#!/usr/bin/env bash
# Puts the infrastructure guards in force (addons/netpol-guards.yaml: Kafka
# clients, MongoDB clients, FerretDB's ingress) on top of the charts' own
# policies, then proves the shop's own traffic still flows under all of them: a
# buy through the ingress is stored and listed (cm-server -> Kafka, cm-api ->
# Kafka and MongoDB, cm-server -> cm-api, and DNS for each of those names).
. "$(dirname "$0")/../addons/common.sh"
# shellcheck disable=SC1091
. "$WORKDIR/ingress.env"

render "$ADDONS_SRC/netpol-guards.yaml" | kubectl apply -f - >/dev/null
say "applied: $(render "$ADDONS_SRC/netpol-guards.yaml" | awk '/^  name:/ { n=$2 } /^  namespace:/ { printf "%s/%s ", $2, n }')"
say "policies in force: $(kubectl get networkpolicy -A --no-headers | awk '{ printf "%s/%s ", $1, $2 }')"

# kube-router picks a new policy up within a sync; give it a few.
user=$(buy_and_list "shop traffic under every policy" "$INGRESS_URL")
say "ok  buy of $user through $INGRESS_URL stored and listed with every policy in force"
