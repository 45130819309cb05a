#!/usr/bin/env bash
# test-alerts.sh: renders the PrometheusRules of the cm-server and cm-api charts
# (namespace "shop", defaults otherwise), checks them with `promtool check rules`,
# runs the promtool unit tests of e2e/monitoring/alerts against them, and checks
# the metric names of the dashboard and the alerts (e2e/monitoring).
# UPDATE_METRICS=1 rewrites e2e/monitoring/metrics.txt.
# Usage: hack/test-alerts.sh   (make test-alerts)
set -euo pipefail
cd "$(dirname "$0")/.."

helm=$(hack/tools.sh helm)
promtool=$(hack/tools.sh promtool)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for c in cm-server cm-api; do
  "$helm" template "$c" "$c/chart" -n shop -f "e2e/charts/testdata/$c-secrets.yaml" \
    --set prometheusRule.enabled=true -s templates/prometheusrule.yaml >"$work/$c.rendered.yaml"
  # promtool reads a rules file, which is the PrometheusRule's spec.
  python3 -c '
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d.get("kind") == "PrometheusRule"]
if len(docs) != 1:
    sys.exit("%s: want one PrometheusRule, got %d" % (sys.argv[1], len(docs)))
yaml.safe_dump(docs[0]["spec"], open(sys.argv[2], "w"), sort_keys=False)
' "$work/$c.rendered.yaml" "$work/$c.rules.yaml"
  "$promtool" check rules --lint=all --lint-fatal "$work/$c.rules.yaml"
done
cp e2e/monitoring/alerts/*_test.yaml "$work/"
"$promtool" test rules "$work"/*_test.yaml

# The dashboard's and the alerts' queries parsed with Prometheus's PromQL parser:
# they name exactly the metrics of e2e/monitoring/metrics.txt, which the e2e
# suite holds to a scrape of the running services. A module of its own (not in
# go.work), so Prometheus never reaches a service's dependencies.
(cd e2e/monitoring && GOWORK=off go vet ./... && HELM="$helm" GOWORK=off go test -count=1 ./...)
