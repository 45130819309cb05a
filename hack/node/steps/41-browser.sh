#!/usr/bin/env bash
# The customer page in Debian's headless Chromium through the real front doors:
# the whole browser suite at the Ingress's root, and its prefix test through the
# HTTPRoute under /shop (the Gateway strips the prefix; see 60-ingress-routes for
# why the Ingress is not used for a prefix with Traefik).
. "$(dirname "$0")/../addons/common.sh"
# shellcheck disable=SC1091
. "$WORKDIR/ingress.env"

prefix_copy=$(mktemp)
on_exit "kubectl delete --ignore-not-found -f '$prefix_copy' >/dev/null; rm -f '$prefix_copy'"
helm -n "$SHOP_NS" get values cm-server -o yaml >"$prefix_copy.values"
on_exit "rm -f '$prefix_copy.values'"
helm template cm-server "$REPO/cm-server/chart" -n "$SHOP_NS" -f "$prefix_copy.values" --set pathPrefix=/shop \
  --show-only templates/httproute.yaml | sed -e '0,/^  name: cm-server$/s//  name: cm-server-browser-prefix/' >"$prefix_copy"
kubectl -n "$SHOP_NS" apply -f "$prefix_copy" >/dev/null
kubectl -n "$SHOP_NS" wait --for=jsonpath='{.status.parents[0].conditions[?(@.type=="Accepted")].status}'=True \
  --timeout=60s httproute/cm-server-browser-prefix >/dev/null || fail "the /shop HTTPRoute was not accepted"
retry 30 curl -fsS -o /dev/null --max-time 5 "$GATEWAY_URL/shop" >/dev/null || fail "$GATEWAY_URL/shop never answered"

SHOP_URL=$INGRESS_URL SHOP_PREFIX_URL=$GATEWAY_URL/shop BROWSER_OUT=$WORKDIR/browser "$REPO/e2e/browser/run.sh" >"$WORKDIR/logs/browser.log" 2>&1 ||
  { tail -40 "$WORKDIR/logs/browser.log"; fail "the browser tests failed through $INGRESS_URL and $GATEWAY_URL/shop"; }
grep -q 'pass [1-9]' "$WORKDIR/logs/browser.log" && ! grep -qE '^# (fail|skipped) [1-9]|ℹ (fail|skipped) [1-9]' "$WORKDIR/logs/browser.log" ||
  { tail -20 "$WORKDIR/logs/browser.log"; fail "the browser suite did not report all tests passed"; }
say "ok  the customer page in Chromium at $INGRESS_URL/ and $GATEWAY_URL/shop: $(grep -oE 'ℹ pass [0-9]+' "$WORKDIR/logs/browser.log")"
