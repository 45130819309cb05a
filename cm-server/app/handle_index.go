package app

import (
	"net/http"
	"sync"

	"github.com/go-chi/chi/v5"

	"github.com/scalable-shop/shop/cm-server/web"
	"github.com/scalable-shop/shop/platform/httpjson"
)

// apiInfo is what GET / answers to API clients.
type apiInfo struct {
	Service   string            `json:"service"`
	Version   string            `json:"version"`
	Endpoints map[string]string `json:"endpoints"`
}

// site is the customer page, rendered once.
var site = sync.OnceValue(web.MustNew)

// handleIndex answers GET / with the customer page to a client that prefers
// text/html (a browser) and with the API info as JSON to everyone else.
func handleIndex() http.HandlerFunc {
	info := apiInfo{
		Service: "cm-server",
		Version: Version,
		Endpoints: map[string]string{
			"GET /":                        "this API info as JSON; the customer page for a browser (Accept: text/html)",
			"POST /buy":                    "buy: JSON {username, userid, price, timestamp?}; 202 with the purchase id",
			"GET /getAllUserBuys/{userid}": "a user's purchases, newest first; ?limit=1..100&cursor=",
			"GET /users/{userid}":          "a user's summary: purchase count, total spent, first and last purchase",
			"GET /openapi.yaml":            "the OpenAPI 3 document of this API (also /openapi.json)",
			"GET /healthz":                 "liveness",
			"GET /readyz":                  "readiness: 200 unless shutting down; Kafka and cm-api reported in the body",
			"GET /metrics":                 "Prometheus metrics",
		},
	}
	page := site()
	return func(w http.ResponseWriter, r *http.Request) {
		// Caches must keep the HTML and the JSON answer apart.
		w.Header().Add("Vary", "Accept")
		if web.PrefersHTML(r.Header.Get("Accept")) {
			page.ServePage(w, r)
			return
		}
		httpjson.Encode(w, http.StatusOK, info)
	}
}

// handleStatic serves the page's style sheet, script and icon under /static/.
func handleStatic() http.HandlerFunc {
	page := site()
	notFound := httpjson.NotFound()
	return func(w http.ResponseWriter, r *http.Request) {
		if !page.ServeAsset(w, r, chi.URLParam(r, "*")) {
			notFound(w, r)
		}
	}
}
