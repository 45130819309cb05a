#!/usr/bin/env bash
# make test-browser: the customer page in Debian's headless Chromium, driven by
# playwright-core (which never downloads a browser), against `make run`'s stack
# started here on free ports with a throw-away data folder.
#
#   e2e/browser/run.sh                       all tests
#   BROWSER_TESTS='paging' e2e/browser/run.sh only tests whose name matches
#
#   SHOP_URL=http://… e2e/browser/run.sh    against a deployed shop (make test-k8s:
#                                            the Ingress); SHOP_PREFIX_URL=http://…/shop
#                                            runs the prefix test through a real
#                                            ingress instead of the test's own proxy
#
# Screenshots of each step and the stack's log go to out/browser/ (git-ignored).
# Needs Go, Node 20+ and /usr/bin/chromium (installed here with apt-get when run
# as root in CI; elsewhere install Debian's chromium package yourself).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
CACHE="${SCALABLE_SHOP_CACHE:-$HOME/.cache/scalable-shop}"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
OUT="${BROWSER_OUT:-$ROOT/out/browser}"
DEPLOYED_URL="${SHOP_URL:-}"
t0=$(date +%s)

say() { printf 'test-browser: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
elapsed() { echo "$(( $(date +%s) - t0 ))s"; }

# --- prerequisites ----------------------------------------------------------
command -v go >/dev/null || die "go is missing; install Go 1.26"
command -v node >/dev/null && command -v npm >/dev/null || die "node and npm are missing; install Node.js 20 or newer (apt-get install -y nodejs npm)"
node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' ||
  die "node $(node --version) is too old; install Node.js 20 or newer"
if [ ! -x "$CHROMIUM" ]; then
  if [ "$(id -u)" = 0 ] && [ -n "${CI:-}" ]; then
    say "installing Debian's chromium package"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    [ -x "$CHROMIUM" ] || die "apt-get installed chromium but $CHROMIUM is still missing"
  else
    die "$CHROMIUM is missing: install Debian's chromium package (sudo apt-get install -y chromium), or set CHROMIUM=/path/to/chromium"
  fi
fi

# --- node packages: playwright-core only, pinned by package-lock.json ----------
say "npm ci (cache $CACHE/npm)"
# A deployed run may be where npm's registry is out of reach (make test-k8s's
# node): the packages come from the cache its prepare step filled.
offline=--prefer-offline
[ -z "$DEPLOYED_URL" ] || offline=--offline
(cd e2e/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --cache "$CACHE/npm" "$offline" \
  --no-audit --no-fund --loglevel=error >/dev/null) || die "npm ci failed in e2e/browser"

run_tests() {
  local args=(--test --test-reporter=spec) rc t1
  [ -n "${BROWSER_TESTS:-}" ] && args+=(--test-name-pattern="$BROWSER_TESTS")
  t1=$(date +%s)
  set +e
  (cd e2e/browser && SHOP_URL="$SHOP_URL" SCREENSHOT_DIR="$OUT" CHROMIUM="$CHROMIUM" \
    node "${args[@]}" test/*.test.mjs)
  rc=$?
  set -e
  say "tests took $(( $(date +%s) - t1 ))s, $(elapsed) in all; screenshots in ${OUT#"$ROOT"/}/"
  return "$rc"
}

mkdir -p "$OUT"
rm -f "$OUT"/*.png "$OUT"/stack.log
if [ -n "$DEPLOYED_URL" ]; then
  SHOP_URL=${DEPLOYED_URL%/}
  say "against the deployed shop at $SHOP_URL${SHOP_PREFIX_URL:+ (prefix test through $SHOP_PREFIX_URL)}"
  export SHOP_PREFIX_URL
  run_tests
  exit
fi

# --- the stack ---------------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/shop-browser.XXXXXX")
pid=""
cleanup() {
  local rc=$?
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.3; done
    if kill -0 "$pid" 2>/dev/null; then
      say "the stack did not stop within 30 s of SIGTERM; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "building the local stack"
go build -o "$tmp/localstack" ./localstack/cmd/localstack

# Four free loopback ports, chosen by the kernel.
read -r p_server p_api p_kafka p_mongo < <(node -e '
  const net = require("net");
  Promise.all([0, 1, 2, 3].map(() => new Promise((ok) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => ok(s));
  }))).then((ss) => {
    console.log(ss.map((s) => s.address().port).join(" "));
    ss.forEach((s) => s.close());
  });')
SHOP_URL="http://127.0.0.1:$p_server"
"$tmp/localstack" -data "$tmp/data" -server-addr "127.0.0.1:$p_server" -api-addr "127.0.0.1:$p_api" \
  -kafka-addr "127.0.0.1:$p_kafka" -mongo-addr "127.0.0.1:$p_mongo" -log-level warn >"$OUT/stack.log" 2>&1 &
pid=$!

say "waiting for $SHOP_URL/readyz and cm-api's /readyz"
ready=""
for _ in $(seq 1 240); do
  kill -0 "$pid" 2>/dev/null || { tail -n 30 "$OUT/stack.log" >&2; die "the stack exited at start (log: $OUT/stack.log)"; }
  if node -e 'Promise.all(process.argv.slice(1).map((u) => fetch(u).then((r) => r.ok)))
      .then((ok) => process.exit(ok.every(Boolean) ? 0 : 1), () => process.exit(1))' \
      "$SHOP_URL/readyz" "http://127.0.0.1:$p_api/readyz"; then
    ready=1
    break
  fi
  sleep 0.5
done
[ -n "$ready" ] || { tail -n 30 "$OUT/stack.log" >&2; die "the stack was not ready within 120 s (log: $OUT/stack.log)"; }
say "stack ready at $SHOP_URL after $(elapsed)"

# --- the tests ---------------------------------------------------------------
rc=0
run_tests || rc=$?
if [ "$rc" != 0 ]; then
  say "FAILED; the stack's log is $OUT/stack.log"
  tail -n 20 "$OUT/stack.log" >&2
fi
exit "$rc"
