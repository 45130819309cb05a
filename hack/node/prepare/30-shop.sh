#!/usr/bin/env bash
# Before the node starts (outside its network namespace, where the module proxy
# and Maven Central are reachable): everything the shop's steps (3x-5x) run.
#  - images of cm-server and cm-api from `make build`'s static binaries (same
#    entrypoint, user and ports as the Dockerfiles), tagged with the charts'
#    appVersion, so the charts' defaults name them;
#  - FerretDB (localstack/cmd/ferretdb), the MongoDB-wire server in a pod;
#  - the helm test image: Debian's curl and busybox's sh, date, sed, ... (the
#    charts' default curlimages/curl cannot be pulled here);
#  - the e2e suite as a test binary, the load tool, the Kafka jars and the
#    browser test's npm packages.
# Writes $WORKDIR/shop.env for the steps.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${WORKDIR:?prepare steps run from hack/node/test.sh, which sets WORKDIR}"
root=$(cd "$here/../.." && pwd)
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}
out=$WORKDIR/shop
mkdir -p "$out" "$WORKDIR/images"
cd "$root"

make -s build >/dev/null
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$out/ferretdb" ./localstack/cmd/ferretdb
(cd e2e && go test -c -o "$out/e2e.test" . && CGO_ENABLED=0 go build -o "$out/underload" ./cmd/underload)
kafka/local/kafka-local.sh fetch >/dev/null
# The browser test runs inside the node's namespace, which cannot reach npm.
(cd e2e/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --cache "${SCALABLE_SHOP_CACHE:-$HOME/.cache/scalable-shop}/npm" \
  --prefer-offline --no-audit --no-fund --loglevel=error >/dev/null)

app_version() { awk '/^appVersion:/ { gsub(/"/, "", $2); print $2 }' "$1/chart/Chart.yaml"; }
server_tag=$(app_version cm-server)
api_tag=$(app_version cm-api)
"$here/image.sh" "ghcr.io/scalable-shop/cm-server:$server_tag" bin/cm-server "$WORKDIR/images/cm-server.tar" --user 65532 --port 8080
"$here/image.sh" "ghcr.io/scalable-shop/cm-api:$api_tag" bin/cm-api "$WORKDIR/images/cm-api.tar" --user 65532 --port 8081
ferret_tag=$(sha256sum "$out/ferretdb" | cut -c1-12)
"$here/image.sh" "localhost/scalable-shop/ferretdb:$ferret_tag" "$out/ferretdb" "$WORKDIR/images/ferretdb.tar" --user 65532 --port 27017

# The helm test image: busybox dispatches on its name, so each tool is a copy.
busybox=/bin/busybox
[ -x "$busybox" ] && "$busybox" --list | grep -qx sh || { echo "prepare: $busybox is missing: apt-get install busybox-static" >&2; exit 1; }
files=()
for tool in sh cat cut date echo grep sed sleep test; do files+=(--file "$busybox:/bin/$tool"); done
files+=(--file /usr/bin/curl:/usr/bin/curl)
while read -r lib; do files+=(--file "$(readlink -f "$lib"):$lib"); done < <(
  ldd /usr/bin/curl | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u)
curl_tag=$(/usr/bin/curl --version | awk 'NR == 1 { print $2 }')
"$here/image.sh" "localhost/scalable-shop/test-curl:$curl_tag" "$busybox" "$WORKDIR/images/test-curl.tar" \
  --user 65532 --env PATH=/usr/bin:/bin "${files[@]}"

cat >"$WORKDIR/shop.env" <<ENV
SHOP_BIN=$out
SHOP_SERVER_IMAGE=ghcr.io/scalable-shop/cm-server:$server_tag
SHOP_API_IMAGE=ghcr.io/scalable-shop/cm-api:$api_tag
FERRETDB_IMAGE=localhost/scalable-shop/ferretdb:$ferret_tag
TEST_CURL_REPOSITORY=localhost/scalable-shop/test-curl
TEST_CURL_TAG=$curl_tag
ENV
echo "prepare: shop images in $WORKDIR/images (cm-server:$server_tag, cm-api:$api_tag, ferretdb:$ferret_tag, test-curl:$curl_tag)"
