package app_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scalable-shop/shop/cm-server/app"
	"github.com/scalable-shop/shop/cm-server/web"
	"github.com/scalable-shop/shop/contract"
)

// browserAccept is what Chromium and Firefox send for a page.
const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"

// fakeProducer takes every event; embedding the interface keeps the fake
// compiling when methods are added that these tests do not call.
type fakeProducer struct {
	app.Producer
	mu     sync.Mutex
	events []contract.Event
}

func (p *fakeProducer) Produce(_ context.Context, e contract.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, e)
	return nil
}

func (p *fakeProducer) Ping(context.Context) error { return nil }

// fakeLookup answers every user with the events the producer took for them.
type fakeLookup struct {
	app.PurchaseLookup
	p *fakeProducer
}

func (l *fakeLookup) Purchases(_ context.Context, userID string, _ contract.Page) (contract.PurchasePage, error) {
	l.p.mu.Lock()
	defer l.p.mu.Unlock()
	page := contract.PurchasePage{UserID: userID, Purchases: []contract.PurchaseView{}}
	for _, e := range l.p.events {
		if e.UserID == userID {
			page.Purchases = append(page.Purchases, contract.PurchaseView{ID: e.ID, UserID: e.UserID, Username: e.Username})
		}
	}
	return page, nil
}

func (l *fakeLookup) Ping(context.Context) error { return nil }

// newShop serves cm-server's routes over fakes of Kafka and cm-api: these tests
// are about HTTP, not the flow behind it.
func newShop(t *testing.T) (*httptest.Server, *fakeProducer) {
	t.Helper()
	p := &fakeProducer{}
	srv := app.NewServer(slog.New(slog.NewTextHandler(io.Discard, nil)), p, &fakeLookup{p: p}, prometheus.NewRegistry(), nil)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts, p
}

func get(t *testing.T, rawURL string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(body)
}

func isHTML(res *http.Response) bool {
	return res.Header.Get("Content-Type") == "text/html; charset=utf-8"
}

func TestIndexNegotiatesHTMLForBrowsersAndJSONForAPIClients(t *testing.T) {
	ts, _ := newShop(t)
	cases := []struct {
		name, accept string
		html         bool
	}{
		{"no Accept (curl without -H)", "", false},
		{"curl's */*", "*/*", false},
		{"JSON", "application/json", false},
		{"JSON with charset", "application/json; charset=utf-8", false},
		{"Chromium/Firefox page load", browserAccept, true},
		{"Safari page load", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", true},
		{"HTML only", "text/html", true},
		{"HTML preferred by q", "application/json;q=0.5, text/html", true},
		{"JSON preferred by q", "text/html;q=0.5, application/json", false},
		{"a tie goes to JSON", "text/html, application/json", false},
		{"text/* over */*", "text/*, */*;q=0.1", true},
		{"HTML refused explicitly", "text/html;q=0, */*", false},
		{"specific range beats wildcard", "*/*;q=0.9, text/html;q=0.1", false},
		{"case and spaces", "  TEXT/HTML ; Q=1 ,application/json;q=0.2", true},
		{"malformed q is ignored", "text/html;q=high, application/json;q=0.1", false},
		{"garbage", "lorem ipsum", false},
		{"plain text client", "text/plain", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{}
			if tc.accept != "" {
				h["Accept"] = tc.accept
			}
			res, body := get(t, ts.URL+"/", h)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", res.StatusCode, body)
			}
			if !strings.Contains(res.Header.Get("Vary"), "Accept") {
				t.Errorf("Vary = %q, want it to name Accept", res.Header.Get("Vary"))
			}
			if got := isHTML(res); got != tc.html {
				t.Fatalf("Accept %q: got Content-Type %q, want HTML=%v", tc.accept, res.Header.Get("Content-Type"), tc.html)
			}
			if tc.html {
				if !strings.HasPrefix(body, "<!doctype html>") {
					t.Fatalf("page does not start with a doctype: %.80q", body)
				}
				return
			}
			var info struct {
				Service   string            `json:"service"`
				Endpoints map[string]string `json:"endpoints"`
			}
			if err := json.Unmarshal([]byte(body), &info); err != nil || info.Service != "cm-server" || info.Endpoints["POST /buy"] == "" {
				t.Fatalf("API info is not JSON naming the service (%v): %s", err, body)
			}
		})
	}
}

func TestPageCarriesSecurityAndCachingHeaders(t *testing.T) {
	ts, _ := newShop(t)
	res, _ := get(t, ts.URL+"/", map[string]string{"Accept": browserAccept})
	want := map[string]string{
		"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'self'; frame-ancestors 'none'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"X-Frame-Options":         "DENY",
		"Cache-Control":           "no-cache",
		"Content-Type":            "text/html; charset=utf-8",
	}
	for k, v := range want {
		if got := res.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if pp := res.Header.Get("Permissions-Policy"); !strings.Contains(pp, "camera=()") || !strings.Contains(pp, "geolocation=()") {
		t.Errorf("Permissions-Policy = %q, want camera and geolocation off", pp)
	}
	etag := res.Header.Get("ETag")
	if etag == "" {
		t.Fatal("page has no ETag")
	}
	again, body := get(t, ts.URL+"/", map[string]string{"Accept": browserAccept, "If-None-Match": etag})
	if again.StatusCode != http.StatusNotModified || body != "" {
		t.Fatalf("If-None-Match with the page's ETag: %d %q, want 304 without a body", again.StatusCode, body)
	}
	if !strings.Contains(again.Header.Get("Vary"), "Accept") {
		t.Error("304 lost Vary: Accept")
	}
}

var (
	attrURL     = regexp.MustCompile(`\s(?:src|href|action|formaction)="([^"]*)"`)
	inlineStyle = regexp.MustCompile(`(?i)<style|\sstyle=`)
	scriptTag   = regexp.MustCompile(`(?is)<script([^>]*)>(.*?)</script>`)
	inlineEvent = regexp.MustCompile(`(?i)\son[a-z]+=`)
	baseTag     = regexp.MustCompile(`<base href="[^"]*">`)
)

// pageAssets returns the URLs the page links to, failing on any that is not
// relative to the page (a leading slash or a host breaks the ingress prefix).
// The <base> a prefix sets is the one absolute path allowed.
func pageAssets(t *testing.T, page string) []string {
	t.Helper()
	page = baseTag.ReplaceAllString(page, "")
	var out []string
	for _, m := range attrURL.FindAllStringSubmatch(page, -1) {
		u := m[1]
		switch {
		case strings.HasPrefix(u, "#"):
			continue
		case u == "" || strings.HasPrefix(u, "/") || strings.Contains(u, ":"):
			t.Errorf("page links to %q: only page-relative URLs work under an ingress prefix", u)
			continue
		}
		out = append(out, u)
	}
	if len(out) < 3 {
		t.Fatalf("page links to %v, want at least its style sheet, script and icon", out)
	}
	return out
}

func TestPageHasNoInlineCodeAndOnlyRelativeURLs(t *testing.T) {
	ts, _ := newShop(t)
	_, page := get(t, ts.URL+"/", map[string]string{"Accept": browserAccept})
	if inlineStyle.MatchString(page) {
		t.Error("page has inline style; the CSP forbids it")
	}
	scripts := scriptTag.FindAllStringSubmatch(page, -1)
	if len(scripts) == 0 || strings.Count(strings.ToLower(page), "<script") != len(scripts) {
		t.Errorf("page has %d script elements, %d <script tags", len(scripts), strings.Count(strings.ToLower(page), "<script"))
	}
	for _, m := range scripts {
		if !strings.Contains(m[1], ` src="`) || strings.TrimSpace(m[2]) != "" {
			t.Errorf("inline script %q: the CSP forbids it", m[0])
		}
	}
	if inlineEvent.MatchString(page) {
		t.Error("page has an inline event handler; the CSP forbids it")
	}
	assets := pageAssets(t, page)
	for _, a := range assets {
		if !strings.HasPrefix(a, "static/") {
			t.Errorf("asset %q is not under static/", a)
		}
	}
	// The script must call the API with relative URLs too.
	_, js := get(t, ts.URL+"/static/app.js", nil)
	if !strings.Contains(js, `callAPI("buy"`) || !strings.Contains(js, `"getAllUserBuys/"`) {
		t.Error("app.js does not call buy and getAllUserBuys/ by relative URL")
	}
	if regexp.MustCompile(`fetch\(\s*["'/]|https?://|["']/(buy|getAllUserBuys)`).MatchString(js) {
		t.Error("app.js uses an absolute URL; it would break under an ingress prefix")
	}
}

func TestStaticAssetsHaveTypesAndCaching(t *testing.T) {
	ts, _ := newShop(t)
	_, page := get(t, ts.URL+"/", map[string]string{"Accept": browserAccept})
	types := map[string]string{".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
	seen := map[string]bool{}
	for _, a := range pageAssets(t, page) {
		if seen[a] {
			continue
		}
		seen[a] = true
		ext := a[strings.LastIndex(a, "."):]
		res, body := get(t, ts.URL+"/"+a, nil)
		if res.StatusCode != http.StatusOK || body == "" {
			t.Fatalf("GET %s: %d", a, res.StatusCode)
		}
		if got := res.Header.Get("Content-Type"); got != types[ext] {
			t.Errorf("%s: Content-Type %q, want %q", a, got, types[ext])
		}
		if got := res.Header.Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
			t.Errorf("%s (content-hashed): Cache-Control %q, want a year, immutable", a, got)
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no X-Content-Type-Options: nosniff", a)
		}
		etag := res.Header.Get("ETag")
		if etag == "" {
			t.Errorf("%s: no ETag", a)
			continue
		}
		if again, _ := get(t, ts.URL+"/"+a, map[string]string{"If-None-Match": etag}); again.StatusCode != http.StatusNotModified {
			t.Errorf("%s with If-None-Match: %d, want 304", a, again.StatusCode)
		}
		// The plain name serves the same bytes but revalidates.
		plain := regexp.MustCompile(`\.[0-9a-f]{12}\.`).ReplaceAllString(a, ".")
		pres, pbody := get(t, ts.URL+"/"+plain, nil)
		if pres.StatusCode != http.StatusOK || pbody != body || pres.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("%s: %d, same body %v, Cache-Control %q; want 200, same bytes, no-cache", plain, pres.StatusCode, pbody == body, pres.Header.Get("Cache-Control"))
		}
	}
	for _, missing := range []string{"/static/nope.js", "/static/", "/static/../index.html", "/static/index.html"} {
		res, body := get(t, ts.URL+missing, nil)
		if res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusMovedPermanently {
			t.Errorf("GET %s: %d %s, want 404", missing, res.StatusCode, body)
		}
	}
}

// TestPageWorksUnderAnIngressPrefix puts cm-server behind a reverse proxy that
// serves it at /shop/ and strips the prefix, as the ingress does, and follows
// every URL the page and its script use from the page's own address.
func TestPageWorksUnderAnIngressPrefix(t *testing.T) {
	ts, producer := newShop(t)
	backend, _ := url.Parse(ts.URL)
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(backend)
		r.Out.URL.Path = "/" + strings.TrimPrefix(strings.TrimPrefix(r.In.URL.Path, "/shop"), "/")
		r.Out.URL.RawPath = ""
		r.SetXForwarded()
		r.Out.Header.Set("X-Forwarded-Prefix", "/shop")
	}}
	ingress := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/shop": // what an ingress does for the bare prefix
			http.Redirect(w, r, "/shop/", http.StatusMovedPermanently)
		case strings.HasPrefix(r.URL.Path, "/shop/"):
			proxy.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(ingress.Close)

	pageURL, _ := url.Parse(ingress.URL + "/shop/")
	res, page := get(t, pageURL.String(), map[string]string{"Accept": browserAccept})
	if res.StatusCode != http.StatusOK || !isHTML(res) {
		t.Fatalf("GET /shop/: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	for _, a := range pageAssets(t, page) {
		ref, _ := url.Parse(a)
		u := pageURL.ResolveReference(ref)
		if !strings.HasPrefix(u.Path, "/shop/static/") {
			t.Errorf("%s resolves to %s, outside the prefix", a, u.Path)
		}
		if r, _ := get(t, u.String(), nil); r.StatusCode != http.StatusOK {
			t.Errorf("GET %s through the prefix: %d", u, r.StatusCode)
		}
	}
	if r, body := get(t, ingress.URL+"/shop/", map[string]string{"Accept": "application/json"}); r.StatusCode != http.StatusOK || !strings.Contains(body, `"cm-server"`) {
		t.Errorf("API info through the prefix: %d %s", r.StatusCode, body)
	}

	// The script's calls, resolved against the page address as fetch() does.
	buyURL := pageURL.ResolveReference(&url.URL{Path: "buy"})
	req, _ := http.NewRequest(http.MethodPost, buyURL.String(), strings.NewReader(`{"userid":"ada","username":"Ada","price":"12.50"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "web-prefix-test")
	bres, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var accepted contract.BuyAccepted
	_ = json.NewDecoder(bres.Body).Decode(&accepted)
	bres.Body.Close()
	if bres.StatusCode != http.StatusAccepted || accepted.ID == "" || buyURL.Path != "/shop/buy" {
		t.Fatalf("POST %s: %d %+v", buyURL.Path, bres.StatusCode, accepted)
	}
	listRef, _ := url.Parse("getAllUserBuys/ada?limit=20")
	listURL := pageURL.ResolveReference(listRef)
	lres, body := get(t, listURL.String(), nil)
	if lres.StatusCode != http.StatusOK || !strings.Contains(body, accepted.ID) || listURL.Path != "/shop/getAllUserBuys/ada" {
		t.Fatalf("GET %s: %d %s", listURL, lres.StatusCode, body)
	}
	producer.mu.Lock()
	defer producer.mu.Unlock()
	if len(producer.events) != 1 {
		t.Fatalf("producer got %d events, want 1", len(producer.events))
	}
}

// TestCSPConstantMatchesTheBrief pins the policy so a loosening is a reviewed change.
func TestCSPConstantMatchesTheBrief(t *testing.T) {
	for _, directive := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "base-uri 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(web.ContentSecurityPolicy, directive) {
			t.Errorf("CSP lacks %q", directive)
		}
	}
	if strings.Contains(web.ContentSecurityPolicy, "unsafe") {
		t.Error("CSP allows something unsafe")
	}
}

// TestPageWorksAtAPrefixWithoutTrailingSlash: the ingress forwards /shop and
// /shop/ both as "/" with X-Forwarded-Prefix; every URL the page uses must
// resolve under /shop/ from either address, as a browser resolves them.
func TestPageWorksAtAPrefixWithoutTrailingSlash(t *testing.T) {
	ts, _ := newShop(t)
	res, page := get(t, ts.URL+"/", map[string]string{"Accept": browserAccept, "X-Forwarded-Prefix": "/shop"})
	if !isHTML(res) || !strings.Contains(strings.Join(res.Header.Values("Vary"), ","), "X-Forwarded-Prefix") {
		t.Fatalf("page: %s, Vary %q", res.Header.Get("Content-Type"), res.Header.Values("Vary"))
	}
	m := regexp.MustCompile(`<base href="([^"]*)">`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("page behind a prefix has no <base>: at /shop (no slash) static/… resolves to /static/…")
	}
	for _, at := range []string{"https://shop.example/shop", "https://shop.example/shop/"} {
		doc, _ := url.Parse(at)
		base := doc.ResolveReference(&url.URL{Path: m[1]})
		for _, u := range append(pageAssets(t, page), "buy", "getAllUserBuys/ada") {
			ref, _ := url.Parse(u)
			if got := base.ResolveReference(ref); !strings.HasPrefix(got.Path, "/shop/") {
				t.Errorf("page at %s: %q resolves to %s, outside /shop/", at, u, got.Path)
			}
		}
	}
	// Without the header, or with one that could leave the origin, no <base>.
	for _, h := range []string{"", "//evil.example", `/x"><script>`} {
		_, page := get(t, ts.URL+"/", map[string]string{"Accept": browserAccept, "X-Forwarded-Prefix": h})
		if strings.Contains(page, "<base") {
			t.Errorf("X-Forwarded-Prefix %q gave the page a <base>", h)
		}
	}
}
