#!/usr/bin/env bash
# `make test-fuzz`, API part: schemathesis generates requests from the OpenAPI
# document each service serves and sends them to the whole shop running on the
# embedded infrastructure (localstack: kfake broker, FerretDB). It fails on any
# 5xx and on any response that breaks the document (status, content type,
# headers, body), and unless both services together answered at least
# FUZZ_MIN_REQUESTS requests (counted by the services' own request metrics).
#
# Settings (environment):
#   FUZZ_EXAMPLES       examples per operation of cm-server (default 200)
#   FUZZ_API_EXAMPLES   examples per operation of cm-api (default 100)
#   FUZZ_SEED           hypothesis seed (default 20261125): the same seed gives the same run
#   FUZZ_MIN_REQUESTS   least number of requests to count as a run (default 1000)
#   FUZZ_TIMEOUT        seconds each schemathesis run may take (default 600)
#   FUZZ_REPORT_DIR     JUnit reports (default $SCALABLE_SHOP_CACHE/fuzz-report)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${SCALABLE_SHOP_CACHE:-$HOME/.cache/scalable-shop}
VENV=$CACHE/venv
REQUIREMENTS=$ROOT/hack/fuzz/requirements.txt
EXAMPLES=${FUZZ_EXAMPLES:-200}
API_EXAMPLES=${FUZZ_API_EXAMPLES:-100}
SEED=${FUZZ_SEED:-20261125}
MIN_REQUESTS=${FUZZ_MIN_REQUESTS:-1000}
TIMEOUT=${FUZZ_TIMEOUT:-600}
REPORT_DIR=${FUZZ_REPORT_DIR:-$CACHE/fuzz-report}
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance
TOKEN=local-dev-token # localstack's service token

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# --- schemathesis, pinned, in a venv outside the repo -------------------------
want=$(sed -n 's/^schemathesis==//p' "$REQUIREMENTS")
stamp=$VENV/.requirements.sha256
sum=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)
if [ ! -x "$VENV/bin/schemathesis" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
  log "installing schemathesis $want into $VENV (first run only)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
  echo "$sum" > "$stamp"
fi
"$VENV/bin/schemathesis" --version

# --- the shop on free ports, stopped on exit ------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/shop-fuzz.XXXXXX")
PID=""
# shellcheck disable=SC2317 # called by the trap
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    kill -TERM "$PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building the local stack"
(cd "$ROOT" && go build -o "$WORK/localstack" ./localstack/cmd/localstack)

read -r SERVER_PORT API_PORT KAFKA_PORT MONGO_PORT < <(python3 - <<'EOF'
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
for s in socks:
    s.close()
EOF
)
SERVER=http://127.0.0.1:$SERVER_PORT
API=http://127.0.0.1:$API_PORT
log "starting the shop: cm-server $SERVER, cm-api $API (logs: warnings and errors only)"
"$WORK/localstack" -data "$WORK/data" -log-level warn \
  -server-addr "127.0.0.1:$SERVER_PORT" -api-addr "127.0.0.1:$API_PORT" \
  -kafka-addr "127.0.0.1:$KAFKA_PORT" -mongo-addr "127.0.0.1:$MONGO_PORT" \
  > "$WORK/shop.log" 2>&1 &
PID=$!
for i in $(seq 240); do
  if curl -fsS -o /dev/null "$SERVER/readyz" 2>/dev/null && curl -fsS -o /dev/null "$API/readyz" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$PID" 2>/dev/null || [ "$i" = 240 ]; then
    echo "the shop did not get ready:" >&2
    tail -50 "$WORK/shop.log" >&2
    exit 1
  fi
  sleep 0.5
done

# requests answered by a service so far, in total and with a 5xx status
counts() { # base-url metric-prefix
  curl -fsS "$1/metrics" | awk -v m="$2_http_requests_total" '
    index($0, m "{") == 1 { n += $NF; if ($0 ~ /status="5/) e += $NF }
    END { printf "%d %d\n", n, e }'
}
# Counted from here: cm-api's /readyz answers 503 until its consumer has joined.
read -r server_before server_5xx_before < <(counts "$SERVER" cm_server)
read -r api_before api_5xx_before < <(counts "$API" cm_api)

mkdir -p "$REPORT_DIR"
status=0
run() { # name, schemathesis arguments...
  local name=$1
  shift
  log "schemathesis: $name"
  # Hypothesis keeps no example database and writes nothing into the repo.
  (cd "$WORK" && timeout --signal=INT "$TIMEOUT" "$VENV/bin/schemathesis" run \
    --checks "$CHECKS" --seed "$SEED" --workers 1 --generation-database none \
    --no-color --report junit --report-junit-path "$REPORT_DIR/$name.xml" "$@") || status=1
}

# cm-server, from the document it serves. The stack runs without CORS, so the
# preflight operations can only answer 405: a few examples of them suffice.
run cm-server "$SERVER/openapi.yaml" --url "$SERVER" --max-examples "$EXAMPLES" --exclude-method OPTIONS
run cm-server-preflight "$SERVER/openapi.yaml" --url "$SERVER" --max-examples 5 --include-method OPTIONS
# cm-api with the service token (and without: schemathesis also sends requests
# without it, which must get the documented 401).
run cm-api "$API/openapi.yaml" --url "$API" --max-examples "$API_EXAMPLES" -H "Authorization: Bearer $TOKEN"

read -r server_after server_5xx < <(counts "$SERVER" cm_server)
read -r api_after api_5xx < <(counts "$API" cm_api)
server_n=$((server_after - server_before))
api_n=$((api_after - api_before))
server_5xx=$((server_5xx - server_5xx_before))
api_5xx=$((api_5xx - api_5xx_before))
total=$((server_n + api_n))
echo
echo "requests answered: cm-server $server_n, cm-api $api_n (cm-api includes cm-server's look-ups), total $total"
echo "5xx answers:       cm-server $server_5xx, cm-api $api_5xx"
echo "JUnit reports:     $REPORT_DIR"
if [ "$server_5xx" != 0 ] || [ "$api_5xx" != 0 ]; then
  echo "FAIL: the services answered with 5xx; their logs:" >&2
  grep -E '"level":"(ERROR|WARN)"' "$WORK/shop.log" | tail -30 >&2 || true
  status=1
fi
if [ "$server_n" -lt "$MIN_REQUESTS" ]; then
  echo "FAIL: only $server_n requests reached cm-server, want at least $MIN_REQUESTS" >&2
  status=1
fi
if [ "$status" = 0 ]; then
  echo "PASS: no 5xx, no response that breaks the documents"
fi
exit "$status"
