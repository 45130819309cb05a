#!/usr/bin/env bash
# Functions run through traps and variables (SC2317) and arrays read through
# namerefs (SC2034) look unused to shellcheck.
# shellcheck disable=SC2317,SC2034
# make test-cluster: installs every chart into a real (local, Docker-free)
# Kubernetes control plane and checks what static checks cannot see:
# immutable fields, defaulting, admission, CRD schemas.
#
#   hack/cluster/test.sh [CHART...]     CHART: cm-api cm-server kafka mongodb gateway
#
# Environment:
#   SHOP_CRDS_DIR        CRDs to install (default: <repo>/../shared/crds)
#   HELM                 helm binary (default: hack/tools.sh helm)
#   TEST_CLUSTER_KEEP=1  keep the work dir (logs, kubeconfig) even on success
#   SCALABLE_SHOP_CACHE  where the binaries are built (default ~/.cache/scalable-shop)
#
# Each check prints PASS or FAIL; the run ends with "N passed, N failed" and
# exits non-zero if anything failed. Everything started is stopped by PID on
# exit, also on failure or Ctrl-C.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(git -C "$HERE" rev-parse --show-toplevel 2>/dev/null || { cd "$HERE/../.." && pwd; })
CRDS_DIR=${SHOP_CRDS_DIR:-$ROOT/../shared/crds}
POSTRENDER=$HERE/postrender.py
VALUES=$HERE/values

# shellcheck source=SCRIPTDIR/lib.sh
source "$HERE/lib.sh"

T0=$SECONDS
PASSED=0
FAILED=0
FAILURES=()
WORK=$(mktemp -d "${TMPDIR:-/tmp}/test-cluster.XXXXXX")
OUT=$WORK/out.log

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*"; }

# The script's own stdout/stderr: a signal's trap may run while a command's
# redirection into $OUT is still in place.
exec 3>&1 4>&2

finish() {
  local rc=$?
  exec 1>&3 2>&4
  trap '' INT TERM
  cluster_down
  echo
  if ((FAILED)); then
    log "failed checks:"
    printf '  - %s\n' "${FAILURES[@]}"
  fi
  local note=""
  ((rc >= 128)) && note=", interrupted"
  log "test-cluster: $PASSED passed, $FAILED failed ($((SECONDS - T0))s$note)"
  if ((FAILED)) || ((rc)) || [ -n "${TEST_CLUSTER_KEEP:-}" ]; then
    log "logs and kubeconfig kept in $WORK"
  else
    rm -rf "$WORK"
  fi
  if ((FAILED)) && ((rc == 0)); then rc=1; fi
  exit "$rc"
}
trap finish EXIT
trap 'log "interrupted: stopping" >&3; exit 130' INT
trap 'log "terminated: stopping" >&3; exit 143' TERM

pass() { PASSED=$((PASSED + 1)); log "PASS $1"; }
fail() {
  FAILED=$((FAILED + 1)); FAILURES+=("$1"); log "FAIL $1"
  # the error lines when there are any, else the end of the output
  if grep -qiE 'error|invalid|fail' "$OUT" 2>/dev/null; then
    grep -iE 'error|invalid|fail' "$OUT" | head -n 15 | cut -c1-400 | sed 's/^/       | /'
  elif [ -s "$OUT" ]; then
    tail -n 25 "$OUT" | sed 's/^/       | /'
  fi
  return 0
}

# check NAME CMD...: CMD must succeed.
check() {
  local name=$1; shift
  if "$@" >"$OUT" 2>&1; then pass "$name"; else fail "$name"; return 1; fi
}

# refuse NAME PATTERN CMD...: CMD must fail with output matching the
# extended regex PATTERN (so it failed for the reason we meant).
refuse() {
  local name=$1 pattern=$2; shift 2
  if "$@" >"$OUT" 2>&1; then
    fail "$name (it was accepted)"
  elif grep -Eq -- "$pattern" "$OUT"; then
    pass "$name"
    # the matching line, and the next one when it holds the details (schema errors)
    grep -Em1 -- "$pattern" "$OUT" | cut -c1-300 | sed 's/^/       > /'
    grep -E -- "^- at '" "$OUT" | head -n 3 | cut -c1-300 | sed 's/^/       > /' # schema details
  else
    fail "$name (failed, but not with /$pattern/)"
  fi
}

# expect_eq NAME GOT WANT
expect_eq() {
  if [ "$2" == "$3" ]; then pass "$1"; else : >"$OUT"; fail "$1 (got '$2', want '$3')"; fi
}
# expect_ne NAME GOT OLD
expect_ne() {
  if [ -n "$2" ] && [ "$2" != "$3" ]; then pass "$1"; else : >"$OUT"; fail "$1 (got '$2', was '$3')"; fi
}

k() { "$KUBECTL" "$@"; }

# ---------------------------------------------------------------- helpers

# revision REL NS: the release's latest revision number (0 if none).
revision() {
  "$HELM" history "$1" -n "$2" --max 1 -o json 2>/dev/null |
    python3 -c 'import json,sys; h=json.load(sys.stdin); print(h[-1]["revision"] if h else 0)' 2>/dev/null || echo 0
}

# deployments REL NS: names of the Deployments the release manages.
deployments() {
  "$HELM" get manifest "$1" -n "$2" | python3 -c '
import sys, yaml
for d in yaml.safe_load_all(sys.stdin):
    if d and d.get("kind") == "Deployment":
        print(d["metadata"]["name"])'
}

# template_hash DEPLOY NS: pod-template-hash of the Deployment's current ReplicaSet.
template_hash() {
  local rev
  rev=$(k get deploy "$1" -n "$2" -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}')
  k get rs -n "$2" -o jsonpath='{range .items[*]}{.metadata.ownerReferences[0].name}{" "}{.metadata.annotations.deployment\.kubernetes\.io/revision}{" "}{.metadata.labels.pod-template-hash}{"\n"}{end}' |
    awk -v d="$1" -v r="$rev" '$1 == d && $2 == r { print $3 }'
}

# hashes REL NS: "deploy=hash ..." for every Deployment of the release.
hashes() {
  local d out=""
  for d in $(deployments "$1" "$2"); do out+="$d=$(template_hash "$d" "$2") "; done
  echo "${out% }"
}

# ready_pods DEPLOY NS: pods of the current ReplicaSet that are Ready.
ready_pods() {
  local h; h=$(template_hash "$1" "$2")
  k get pods -n "$2" -l "pod-template-hash=$h" \
    -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c True
}

objects_exist() {
  "$HELM" get manifest "$1" -n "$2" >"$WORK/manifest.yaml" && k get -n "$2" -f "$WORK/manifest.yaml" -o name
}

has_test_hooks() {
  "$HELM" get hooks "$1" -n "$2" | grep -Eq 'helm.sh/hook"?: *"?test'
}

# server_dry_run NAME REL CHART NS VALUES...: render with the values and let
# the API server validate every object (helm --dry-run=server does not).
# Objects of kinds the server does not serve (e.g. a ServiceMonitor when the
# Prometheus Operator CRDs are not installed) are left out and listed.
server_dry_run() {
  local rel=$1 chart=$2 ns=$3; shift 3
  "$HELM" template "$rel" "$chart" -n "$ns" "$@" >"$WORK/render.yaml" || return 1
  k api-resources --no-headers >"$WORK/api-resources.txt" || return 1
  python3 - "$WORK/api-resources.txt" "$WORK/render.yaml" >"$WORK/render-served.yaml" <<'PY' || return 1
import re, sys, yaml
served = set()
for line in open(sys.argv[1]):
    f = line.split()
    gv = next((x for x in f if re.fullmatch(r"([a-z0-9.-]+/)?v[0-9]+((alpha|beta)[0-9]+)?", x)), None)
    if gv:
        served.add((gv, f[-1]))
docs, skipped = [], []
for d in yaml.safe_load_all(open(sys.argv[2])):
    if not d:
        continue
    if (d.get("apiVersion"), d.get("kind")) in served:
        docs.append(d)
    else:
        skipped.append("%s %s" % (d.get("apiVersion"), d.get("kind")))
if skipped:
    print("left out (not served by this API server): " + ", ".join(sorted(set(skipped))), file=sys.stderr)
yaml.safe_dump_all(docs, sys.stdout)
PY
  k create namespace "$ns" --dry-run=client -o yaml | k apply -f - >/dev/null &&
    k apply --dry-run=server -n "$ns" -f "$WORK/render-served.yaml"
}

# ------------------------------------------------------------ chart flows

# test_chart NAME REL CHART NS BASE_ARGS_VAR ROLL_FN SCHEMA_CASES_VAR SERVER_FN
# runs the flow every chart goes through:
#   install --wait; helm test; server dry-run of ci/*-values.yaml;
#   an upgrade that changes a value (ROLL_FN checks its effect); a rollback;
#   values the schema must refuse; an upgrade the server must refuse
#   (SERVER_FN); a recovering upgrade; uninstall.
test_chart() {
  local name=$1 rel=$2 chart=$3 ns=$4 base_var=$5 roll_fn=$6 schema_var=$7 server_fn=$8
  local -n base=$base_var
  local -n schema_cases=$schema_var
  log "=== $name: $chart (release $rel, namespace $ns)"
  if [ ! -f "$chart/Chart.yaml" ]; then
    : >"$OUT"; fail "$name: no chart at $chart"; return
  fi
  # Work on a snapshot, so every step of the run sees the same chart even if
  # someone edits it meanwhile.
  rm -rf "$WORK/charts/$name" && mkdir -p "$WORK/charts" && cp -R "$chart" "$WORK/charts/$name" &&
    chart=$WORK/charts/$name

  if grep -q '^dependencies:' "$chart/Chart.yaml"; then
    check "$name: dependencies resolve" "$HELM" dependency build "$chart" --skip-refresh
  fi
  if [ -d "$chart/ci" ]; then
    local f
    for f in "$chart"/ci/*.yaml; do
      check "$name: API server accepts every object rendered with ci/$(basename "$f")" \
        server_dry_run "$rel" "$chart" "$ns" "${base[@]}" -f "$f"
      grep '^left out' "$OUT" | sed 's/^/       > /'
    done
  fi

  if ! check "$name: helm upgrade --install --wait" \
    "$HELM" upgrade --install "$rel" "$chart" -n "$ns" --create-namespace \
    --wait --timeout 3m "${base[@]}"; then
    return
  fi

  check "$name: every object of the release exists on the server" objects_exist "$rel" "$ns"
  if has_test_hooks "$rel" "$ns"; then
    check "$name: helm test" "$HELM" test "$rel" -n "$ns" --timeout 2m
  else
    : >"$OUT"; fail "$name: helm test (the chart has no test hook)"
  fi

  local rev1 before
  rev1=$(revision "$rel" "$ns")
  before=$(hashes "$rel" "$ns")
  log "    deployments (name=pod-template-hash): ${before:-none}"

  "$roll_fn" "$name" "$rel" "$chart" "$ns" "$base_var" "$before"

  check "$name: helm rollback to revision $rev1 --wait" \
    "$HELM" rollback "$rel" "$rev1" -n "$ns" --wait --timeout 3m
  [ -n "$before" ] &&
    expect_eq "$name: rollback restores the original pod templates" "$(hashes "$rel" "$ns")" "$before"
  rollback_check_fn=${roll_fn}_rolled_back
  if declare -F "$rollback_check_fn" >/dev/null; then
    "$rollback_check_fn" "$name" "$rel" "$ns"
  fi

  local case rev_before
  for case in "${schema_cases[@]}"; do
    rev_before=$(revision "$rel" "$ns")
    # shellcheck disable=SC2086 # a case is a list of helm flags
    refuse "$name: the schema refuses $case" \
      "values don't meet the specifications of the schema|values.schema.json|jsonschema" \
      "$HELM" upgrade "$rel" "$chart" -n "$ns" "${base[@]}" $case
    expect_eq "$name: no revision recorded for the refused values" "$(revision "$rel" "$ns")" "$rev_before"
  done

  "$server_fn" "$name" "$rel" "$chart" "$ns" "$base_var"

  check "$name: a normal upgrade works after the refused one" \
    "$HELM" upgrade "$rel" "$chart" -n "$ns" --wait --timeout 3m "${base[@]}"
  [ -n "$before" ] &&
    expect_eq "$name: pod templates unchanged by the refused upgrade" "$(hashes "$rel" "$ns")" "$before"
  return 0
}

uninstall() {
  local name=$1 rel=$2 ns=$3
  "$HELM" status "$rel" -n "$ns" >/dev/null 2>&1 || return 0 # never installed: reported already
  # Objects marked helm.sh/resource-policy: keep are meant to outlive the release.
  "$HELM" get manifest "$rel" -n "$ns" | python3 -c '
import sys, yaml
docs = [d for d in yaml.safe_load_all(sys.stdin) if d]
keep = lambda d: ((d.get("metadata") or {}).get("annotations") or {}).get("helm.sh/resource-policy") == "keep"
for d in docs:
    if keep(d):
        print("kept by resource-policy: %s/%s" % (d["kind"], d["metadata"]["name"]), file=sys.stderr)
yaml.safe_dump_all([d for d in docs if not keep(d)], sys.stdout)' >"$WORK/manifest-$rel.yaml" 2>"$WORK/kept-$rel.txt"
  sed 's/^/       > /' "$WORK/kept-$rel.txt"
  check "$name: helm uninstall --wait" "$HELM" uninstall "$rel" -n "$ns" --wait --timeout 2m
  expect_eq "$name: no object of the release left" \
    "$(k get -f "$WORK/manifest-$rel.yaml" -n "$ns" --ignore-not-found -o name 2>&1 | wc -l)" 0
}

# --- services: a config change must roll the pods (ConfigMap checksum).
roll_deployments() {
  local name=$1 rel=$2 chart=$3 ns=$4 base_var=$5 before=$6
  local -n base=$base_var
  local -n roll=ROLL_${name//-/_}
  check "$name: upgrade with ${roll[*]}" \
    "$HELM" upgrade "$rel" "$chart" -n "$ns" --wait --timeout 3m "${base[@]}" "${roll[@]}"
  local d after
  for d in $(deployments "$rel" "$ns"); do
    after=$(template_hash "$d" "$ns")
    expect_ne "$name: $d rolled to a new ReplicaSet" "$after" "$(echo " $before" | sed -n "s/.* $d=\([^ ]*\).*/\1/p")"
    check "$name: $d rollout complete" k rollout status "deploy/$d" -n "$ns" --timeout 90s
    expect_eq "$name: $d pods of the new ReplicaSet Ready" "$(ready_pods "$d" "$ns")" \
      "$(k get deploy "$d" -n "$ns" -o jsonpath='{.spec.replicas}')"
  done
}

# --- services: the server must refuse a changed Deployment selector.
refuse_selector_change() {
  local name=$1 rel=$2 chart=$3 ns=$4 base_var=$5
  local -n base=$base_var
  refuse "$name: the API server refuses a changed Deployment selector (immutable)" \
    "field is immutable" \
    "$HELM" upgrade "$rel" "$chart" -n "$ns" "${base[@]}" \
    --post-renderer "$POSTRENDER" \
    --post-renderer-args Deployment --post-renderer-args spec.selector.matchLabels.test-cluster-changed --post-renderer-args '"yes"' \
    --post-renderer-args Deployment --post-renderer-args spec.template.metadata.labels.test-cluster-changed --post-renderer-args '"yes"'
  local d
  for d in $(deployments "$rel" "$ns"); do
    expect_eq "$name: $d selector unchanged" \
      "$(k get deploy "$d" -n "$ns" -o jsonpath='{.spec.selector.matchLabels.test-cluster-changed}')" ""
  done
}

# --- cm-api: two roles. The Service's endpoints are the api pods only (the
# endpoint controller's view, not the selector's); the chart refuses more
# consumers than partitions and an install without a cursor key.
refuse_cm_api() {
  local name=$1 rel=$2 chart=$3 ns=$4 base_var=$5
  local -n base=$base_var
  local svc pods roles
  svc=$(k get svc -n "$ns" -l "app.kubernetes.io/instance=$rel,app.kubernetes.io/component=api" -o jsonpath='{.items[0].metadata.name}')
  pods=$(k get endpointslices -n "$ns" -l "kubernetes.io/service-name=$svc" \
    -o jsonpath='{range .items[*].endpoints[*]}{.targetRef.name}{"\n"}{end}')
  roles=$(for p in $pods; do k get pod "$p" -n "$ns" -o jsonpath='{.metadata.labels.app\.kubernetes\.io/component}{"\n"}'; done | sort -u | xargs)
  expect_eq "$name: Service $svc's endpoints are pods of role api only ($(echo "$pods" | wc -w) endpoints)" "$roles" api
  expect_eq "$name: the consumer pods run (role consumer)" \
    "$(k get deploy "$rel-consumer" -n "$ns" -o jsonpath='{.status.readyReplicas}')" \
    "$(k get deploy "$rel-consumer" -n "$ns" -o jsonpath='{.spec.replicas}')"
  refuse "$name: the chart refuses more consumers than partitions" \
    "consumer.replicaCount \(7\) is larger than kafkaPartitions \(6\)" \
    "$HELM" upgrade "$rel" "$chart" -n "$ns" "${base[@]}" --set consumer.replicaCount=7
  refuse "$name: the chart refuses an install without a cursor key" \
    "the cursor key is missing" \
    "$HELM" upgrade "$rel" "$chart" -n "$ns" "${base[@]}" --set secrets.cursorKey=
  refuse_selector_change "$@"
}

# jsonpath_of KIND NS JSONPATH REL: a field of every object of KIND in the release.
field_of() {
  k get "$1" -n "$2" -l "app.kubernetes.io/instance=$4" -o jsonpath="{range .items[*]}{$3}{\" \"}{end}" | xargs
}

# ------------------------------------------------------------ the charts
# Install values: the chart defaults plus what a real install must set
# (hack/cluster/values/*.yaml); nothing runs on a kwok node, so images need
# not exist.

BASE_cm_api=(-f "$VALUES/cm-api.yaml")
ROLL_cm_api=(--set config.log.level=debug)
SCHEMA_cm_api=("--set api.replicaCount=two" "--set consumer.replicaCount=two" "--set service.port=-1" "--set image.repository=null")

BASE_cm_server=(-f "$VALUES/cm-server.yaml")
ROLL_cm_server=(--set config.log.level=debug)
SCHEMA_cm_server=("--set replicaCount=two" "--set service.port=-1" "--set image.repository=null")

BASE_kafka=(-f "$VALUES/kafka.yaml")
SCHEMA_kafka=("--set topics.purchases.partitions=many")

BASE_mongodb=(-f "$VALUES/mongodb.yaml")
SCHEMA_mongodb=("--set members=two")

# Kafka and MongoDB charts hold custom resources (no pods of their own): the
# upgrade changes a field of a resource, the rollback restores it.
roll_kafka() {
  local name=$1 rel=$2 chart=$3 ns=$4 base_var=$5
  local -n base=$base_var
  KAFKA_PARTITIONS_BEFORE=$(field_of kafkatopics "$ns" .spec.partitions "$rel")
  check "$name: upgrade with --set topics.purchases.partitions=12" \
    "$HELM" upgrade "$rel" "$chart" -n "$ns" --wait "${base[@]}" --set topics.purchases.partitions=12
  expect_eq "$name: KafkaTopic partitions after the upgrade" \
    "$(k get kafkatopic -n "$ns" -l "app.kubernetes.io/instance=$rel" -o jsonpath='{.items[?(@.spec.topicName=="purchases")].spec.partitions}')" 12
}
roll_kafka_rolled_back() {
  expect_eq "$1: rollback restores the KafkaTopic partitions" \
    "$(field_of kafkatopics "$3" .spec.partitions "$2")" "$KAFKA_PARTITIONS_BEFORE"
}
refuse_kafka() {
  local name=$1 rel=$2 chart=$3 ns=$4 base_var=$5
  local -n base=$base_var
  # Past the chart's schema, the CRD's schema must still refuse it.
  refuse "$name: the API server (Strimzi CRD schema) refuses 0 partitions" \
    "spec.partitions.*(should be greater than or equal to 1|Invalid value)" \
    "$HELM" upgrade "$rel" "$chart" -n "$ns" "${base[@]}" --skip-schema-validation \
    --set topics.purchases.partitions=0
  refuse "$name: the API server (Strimzi CRD schema) refuses an unknown KafkaUser authentication type" \
    "spec.authentication.type.*Unsupported value" \
    "$HELM" upgrade "$rel" "$chart" -n "$ns" "${base[@]}" --post-renderer "$POSTRENDER" \
    --post-renderer-args KafkaUser --post-renderer-args spec.authentication.type --post-renderer-args '"kerberos"'
}

roll_mongodb() {
  local name=$1 rel=$2 chart=$3 ns=$4 base_var=$5
  local -n base=$base_var
  MONGO_VERSION_BEFORE=$(field_of mongodbcommunity "$ns" .spec.version "$rel")
  local pw; pw=$(k get secret -n "$ns" -l "app.kubernetes.io/instance=$rel" -o jsonpath='{.items[*].data}')
  check "$name: upgrade with --set version=8.0.13" \
    "$HELM" upgrade "$rel" "$chart" -n "$ns" --wait "${base[@]}" --set version=8.0.13
  expect_eq "$name: MongoDBCommunity version after the upgrade" \
    "$(field_of mongodbcommunity "$ns" .spec.version "$rel")" 8.0.13
  expect_eq "$name: the generated password survives the upgrade (lookup)" \
    "$(k get secret -n "$ns" -l "app.kubernetes.io/instance=$rel" -o jsonpath='{.items[*].data}')" "$pw"
}
roll_mongodb_rolled_back() {
  expect_eq "$1: rollback restores the MongoDBCommunity version" \
    "$(field_of mongodbcommunity "$3" .spec.version "$2")" "$MONGO_VERSION_BEFORE"
}
refuse_mongodb() {
  local name=$1 rel=$2 chart=$3 ns=$4 base_var=$5
  local -n base=$base_var
  refuse "$name: the API server (MongoDBCommunity CRD schema) refuses type Sharded" \
    "spec.type.*Unsupported value" \
    "$HELM" upgrade "$rel" "$chart" -n "$ns" "${base[@]}" --post-renderer "$POSTRENDER" \
    --post-renderer-args MongoDBCommunity --post-renderer-args spec.type --post-renderer-args '"Sharded"'
}

# cm-server's Ingress (class nginx) and HTTPRoute against the Gateway API CRDs.
test_gateway() {
  local rel=cm-server ns=shop
  log "=== gateway: cm-server Ingress and HTTPRoute"
  expect_eq "gateway: the cm-server Ingress exists with class nginx" \
    "$(field_of ingress "$ns" .spec.ingressClassName "$rel")" nginx
  expect_ne "gateway: the server accepted the cm-server HTTPRoute" \
    "$(k get httproute -n "$ns" -l "app.kubernetes.io/instance=$rel" -o name)" ""
  refuse "gateway: the API server (Gateway API CRD schema) refuses an invalid HTTPRoute hostname" \
    "spec.hostnames" \
    "$HELM" upgrade "$rel" "$WORK/charts/cm-server" -n "$ns" "${BASE_cm_server[@]}" --post-renderer "$POSTRENDER" \
    --post-renderer-args HTTPRoute --post-renderer-args spec.hostnames --post-renderer-args '["-not a hostname-"]'
}

find_chart() { # dir: the first folder under dir holding a Chart.yaml whose name matches pattern
  local dir=$1 pattern=$2 f
  for f in "$dir"/Chart.yaml "$dir"/*/Chart.yaml; do
    [ -f "$f" ] && grep -Eq "^name: *($pattern)" "$f" && { dirname "$f"; return; }
  done
  echo "$dir/chart"
}

CHART_cm_api=${CHART_CM_API:-$ROOT/cm-api/chart}
CHART_cm_server=${CHART_CM_SERVER:-$ROOT/cm-server/chart}
CHART_kafka=${CHART_KAFKA:-$(find_chart "$ROOT/kafka" '.*')}
CHART_mongodb=${CHART_MONGODB:-$(find_chart "$ROOT/mongodb" '.*')}

# ------------------------------------------------------------------ main

HELM=${HELM:-$("$ROOT/hack/tools.sh" helm)} || exit 1
export HELM_CACHE_HOME=$WORK/helm/cache HELM_CONFIG_HOME=$WORK/helm/config HELM_DATA_HOME=$WORK/helm/data

wanted=("$@")
[ ${#wanted[@]} -eq 0 ] && wanted=(kafka mongodb cm-api cm-server gateway)
want() { [[ " ${wanted[*]} " == *" $1 "* ]]; }

log "test-cluster: work dir $WORK"
if ! cluster_up "$WORK/cluster"; then
  : >"$OUT"; fail "control plane starts"; exit 1
fi
pass "control plane starts (etcd, kube-apiserver, controller-manager, scheduler, kwok)"
log "    $(k version 2>/dev/null | tr '\n' ' ')"

if [ ! -d "$CRDS_DIR" ]; then
  : >"$OUT"; fail "CRDs: $CRDS_DIR not found (set SHOP_CRDS_DIR)"; exit 1
fi
check "CRDs from $CRDS_DIR installed" \
  k apply --server-side -R -f "$CRDS_DIR" --force-conflicts
# (kubectl wait errors out instead of waiting on a CRD that has no status yet)
check "CRDs established" \
  cluster_wait_for "CRDs established" 60 k wait --for=condition=Established crd --all --timeout=5s
if want gateway; then
  # The HTTPRoute is enabled so the server sees it (off by default).
  BASE_cm_server+=(--set httpRoute.enabled=true)
  want cm-server || wanted+=(cm-server)
fi

want kafka && test_chart kafka kafka "$CHART_kafka" kafka BASE_kafka roll_kafka SCHEMA_kafka refuse_kafka
want mongodb && test_chart mongodb mongodb "$CHART_mongodb" mongodb BASE_mongodb roll_mongodb SCHEMA_mongodb refuse_mongodb
want cm-api && test_chart cm-api cm-api "$CHART_cm_api" shop BASE_cm_api roll_deployments SCHEMA_cm_api refuse_cm_api
want cm-server && test_chart cm-server cm-server "$CHART_cm_server" shop BASE_cm_server roll_deployments SCHEMA_cm_server refuse_selector_change
want gateway && test_gateway

log "=== uninstall"
want cm-server && uninstall cm-server cm-server shop
want cm-api && uninstall cm-api cm-api shop
want mongodb && uninstall mongodb mongodb mongodb
want kafka && uninstall kafka kafka kafka
exit 0
