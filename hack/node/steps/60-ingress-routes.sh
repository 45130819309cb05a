#!/usr/bin/env bash
# The chart's Ingress (class nginx) and HTTPRoute route real requests to
# cm-server through Traefik, and the HTTPRoute also under the prefix /shop (a
# copy rendered from the chart with pathPrefix=/shop: its URLRewrite filters).
# The Ingress under a prefix is not checked: it relies on ingress-nginx's
# rewrite-target, which Traefik's ingress-nginx provider reads but does not
# apply (v3.6 and v3.7), so with Traefik a prefix goes through the HTTPRoute.
# For each front door:
#  - GET  openapi.json   is cm-server's OpenAPI document (info.title cm-server);
#  - GET  healthz        is NOT published (Traefik's plain 404, not cm-server's JSON);
#  - POST buy → 202, then GET getAllUserBuys/<id> lists that purchase, i.e. the
#    request went cm-server → Kafka → cm-api → MongoDB and back.
. "$(dirname "$0")/../addons/common.sh"
# shellcheck disable=SC1091
. "$WORKDIR/ingress.env"
NS=$SHOP_NS
helm=$("$REPO/hack/tools.sh" helm)

ing=$(kubectl -n "$NS" get ingress -l app.kubernetes.io/name=cm-server -o jsonpath='{.items[0].metadata.name}')
[ -n "$ing" ] || fail "no Ingress of cm-server in namespace $NS: install the chart first (steps 3x)"
release=$(kubectl -n "$NS" get ingress "$ing" -o jsonpath='{.metadata.labels.app\.kubernetes\.io/instance}')
class=$(kubectl -n "$NS" get ingress "$ing" -o jsonpath='{.spec.ingressClassName}')
[ "$class" = nginx ] || fail "Ingress $NS/$ing has class '$class', the chart's default is nginx"

# The prefix copy (and an HTTPRoute when the release has none: HTTPRoutes only,
# as helm refuses --show-only of a template that renders nothing), rendered from
# the chart with the release's own values, renamed so it sits beside it.
vals=$(mktemp)
on_exit "rm -f '$vals'"
"$helm" -n "$NS" get values "$release" -o yaml >"$vals"
render_copy() { # suffix helm-args...
  local suffix=$1
  shift
  "$helm" template "$release" "$REPO/cm-server/chart" -n "$NS" -f "$vals" "$@" \
    --set httpRoute.enabled=true \
    --set-json 'httpRoute.parentRefs=[{"name":"shop-gateway","namespace":"ingress","sectionName":"http"}]' \
    --show-only templates/httproute.yaml |
    sed -e "0,/^  name: $release\$/s//  name: $release-$suffix/" \
      -e "/^kind: HTTPRoute/,\$s/^  name: $release\$/  name: $release-$suffix/"
}
copies=$(mktemp)
on_exit "kubectl delete --ignore-not-found -f '$copies' >/dev/null; rm -f '$copies'"
render_copy prefix-check --set pathPrefix=/shop --set ingress.enabled=false >"$copies"
if ! kubectl -n "$NS" get httproute "$release" >/dev/null 2>&1; then
  say "release $release has no HTTPRoute (httpRoute.enabled=false): checking a copy rendered from the chart"
  echo --- >>"$copies"
  render_copy route-check --set pathPrefix= --set ingress.enabled=false >>"$copies"
  route=$release-route-check
else
  route=$release
fi
kubectl -n "$NS" apply -f "$copies" >/dev/null

# Each HTTPRoute must be accepted by shop-gateway before it routes.
for r in "$route" "$release-prefix-check"; do
  kubectl -n "$NS" wait --for=jsonpath='{.status.parents[0].conditions[?(@.type=="Accepted")].status}'=True \
    --timeout=60s "httproute/$r" >/dev/null || fail "HTTPRoute $NS/$r not accepted by ingress/shop-gateway: $(kubectl -n "$NS" get httproute "$r" -o jsonpath='{.status}')"
done

is_cm_server_openapi() {
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d.get("openapi") and d["info"]["title"]=="cm-server" else 1)' "$body_file"
}
check_front_door() { # name base-url
  local name=$1 base=$2 code user
  code=$(retry 60 bash -c "c=\$(curl -sS -o '$body_file' -w '%{http_code}' --max-time 10 '$base/openapi.json'); [ \"\$c\" = 200 ] && echo \$c") ||
    fail "$name: GET $base/openapi.json never answered 200 (last: $(head -c 200 "$body_file"))"
  is_cm_server_openapi || fail "$name: $base/openapi.json is not cm-server's OpenAPI document: $(head -c 200 "$body_file")"

  code=$(http_code GET "$base/healthz")
  { [ "$code" = 404 ] && ! grep -q '^{' "$body_file"; } ||
    fail "$name: $base/healthz answered $code $(head -c 100 "$body_file"); it must not be published"

  user=$(buy_and_list "$name" "$base")
  say "ok  $name $base: openapi.json is cm-server's, /healthz unpublished, buy of $user 202 and listed through it"
}

check_front_door "Ingress $NS/$ing (class nginx)" "$INGRESS_URL"
check_front_door "HTTPRoute $NS/$route (shop-gateway)" "$GATEWAY_URL"
check_front_door "HTTPRoute $NS/$release-prefix-check (pathPrefix /shop: URLRewrite)" "$GATEWAY_URL/shop"

# The customer page, as a browser asks for it.
for url in "$INGRESS_URL/" "$GATEWAY_URL/" "$GATEWAY_URL/shop/"; do
  code=$(http_code GET "$url" -H "Accept: text/html")
  { [ "$code" = 200 ] && grep -qi '<html' "$body_file"; } || fail "GET $url answered $code, want cm-server's page"
done
say "ok  the customer page answers at $INGRESS_URL/, $GATEWAY_URL/ and $GATEWAY_URL/shop/"
