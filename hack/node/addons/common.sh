# Sourced by the steps (hack/node/steps/2x-6x). They run inside the
# node's network namespace with $WORKDIR/env sourced (KUBECONFIG, NODE_IP,
# NODE_BIN, CONTAINERD_SOCK, SERVICE_CIDR, ...), and $WORKDIR/addons.env, which
# prepare/20-addons.sh writes.
set -euo pipefail
: "${WORKDIR:?steps run from hack/node/test.sh, which sets WORKDIR}"
# shellcheck disable=SC1091
. "$WORKDIR/addons.env"
# shellcheck disable=SC1091
[ ! -f "$WORKDIR/shop.env" ] || . "$WORKDIR/shop.env" # prepare/30-shop.sh
ADDONS_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$ADDONS_SRC/../../.." && pwd)

# on_exit CMD: run CMD (a string) when the step ends, also on failure; last first.
_on_exit=()
on_exit() { _on_exit=("$1" "${_on_exit[@]}"); }
trap 'for _c in "${_on_exit[@]}"; do eval "$_c" || true; done' EXIT

# Where steps 3x put the shop and its stand-ins (k8s-status.md, 2026-12-01).
SHOP_NS=${SHOP_NAMESPACE:-shop}
MONGO_NS=${SHOP_MONGO_NAMESPACE:-mongodb}
KAFKA_PORT=${SHOP_KAFKA_NODE_PORT:-19092}       # SASL/SCRAM listener on NODE_IP
KAFKA_PLAIN_PORT=${SHOP_KAFKA_PLAIN_PORT:-19093} # the tests' plain listener

kubectl() { "${KUBECTL:-$NODE_BIN/kubectl}" "$@"; }
say() { echo "$(basename "$0"): $*"; }
fail() { echo "$(basename "$0"): FAILED: $*" >&2; exit 1; }

# render FILE: the manifest with its __PLACEHOLDERS__ filled in.
render() {
  sed -e "s|__TRAEFIK_IMAGE__|$TRAEFIK_IMAGE|g" \
    -e "s|__KUBE_ROUTER_IMAGE__|$KUBE_ROUTER_IMAGE|g" \
    -e "s|__NETPROBE_IMAGE__|$NETPROBE_IMAGE|g" \
    -e "s|__SERVICE_CIDR__|$SERVICE_CIDR|g" \
    -e "s|__NODE_IP__|$NODE_IP|g" \
    -e "s|__SHOP_NS__|$SHOP_NS|g" \
    -e "s|__MONGO_NS__|$MONGO_NS|g" \
    -e "s|__KAFKA_PORT__|$KAFKA_PORT|g" \
    -e "s|__FERRETDB_IMAGE__|${FERRETDB_IMAGE:-}|g" \
    -e "s|__FERRETDB_DATA__|$WORKDIR/ferretdb-data|g" \
    -e "s|__TEST_CURL_REPOSITORY__|${TEST_CURL_REPOSITORY:-}|g" \
    -e "s|__TEST_CURL_TAG__|${TEST_CURL_TAG:-}|g" "$1"
}

# retry SECONDS CMD...: runs CMD once a second until it succeeds; the last
# attempt's output is shown when it never does.
retry() {
  local deadline=$((SECONDS + $1)) out
  shift
  until out=$("$@" 2>&1); do
    if ((SECONDS >= deadline)); then
      printf '%s\n' "$out" >&2
      return 1
    fi
    sleep 1
  done
  printf '%s\n' "$out"
}

# http_code METHOD URL [curl args...]: prints the status code, body to $body_file.
body_file=$(mktemp)
on_exit "rm -f '$body_file'"
http_code() {
  local method=$1 url=$2
  shift 2
  curl -sS -o "$body_file" -w '%{http_code}' --max-time 10 -X "$method" "$@" "$url"
}

# buy_and_list NAME BASE: POST BASE/buy for a new user, then waits until
# GET BASE/getAllUserBuys/<user> lists exactly that purchase: the request went
# cm-server -> Kafka -> cm-api's consumer -> MongoDB, and the look-up
# cm-server -> cm-api -> MongoDB. Prints the user.
buy_and_list() {
  local name=$1 base=$2 code user
  user="check-$(date +%s%N | tail -c 10)"
  code=$(http_code POST "$base/buy" -H 'Content-Type: application/json' \
    -d "{\"username\":\"Route Check\",\"userid\":\"$user\",\"price\":\"4.20\"}")
  [ "$code" = 202 ] || fail "$name: POST $base/buy answered $code: $(head -c 200 "$body_file")"
  _listed() {
    [ "$(http_code GET "$base/getAllUserBuys/$user")" = 200 ] &&
      python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["purchases"]; sys.exit(0 if len(p)==1 and p[0]["userid"]==sys.argv[2] else 1)' "$body_file" "$user"
  }
  retry 60 _listed >/dev/null || fail "$name: the buy of $user through $base was never listed: $(head -c 200 "$body_file")"
  echo "$user"
}

# dump_pods NAMESPACE [SELECTOR]: the pods, and the last log lines of each, for
# a failure message (pod logs go with the node when the run ends).
dump_pods() {
  local ns=$1 sel=${2:-} p
  kubectl -n "$ns" get pods -o wide ${sel:+-l "$sel"} >&2 || true
  for p in $(kubectl -n "$ns" get pods ${sel:+-l "$sel"} -o jsonpath='{.items[*].metadata.name}'); do
    echo "--- logs of $ns/$p" >&2
    kubectl -n "$ns" logs "$p" --all-containers --tail=15 >&2 || true
  done
}
