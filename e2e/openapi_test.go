package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Every response these tests receive is checked against the OpenAPI document of
// the service that sent it: http.DefaultTransport (which `client`, `status` and
// every other client here use) is replaced by one that validates each response
// (status, headers, body) with kin-openapi before handing it on. A response that
// breaks the document turns into an error from the client, naming the rule it
// broke, and is also printed, so a test that tolerates failed calls (an outage)
// cannot hide it.
//
// Which document: the transport asks each host once for GET /openapi.yaml (or,
// through an ingress, which publishes only /openapi.json, for that) and
// reads the title of what it serves (cm-server or cm-api); it then validates
// against the document in this repository (cm-server/app/openapi.yaml,
// cm-api/app/openapi.yaml). A host that serves neither (a fake collector, say)
// is not checked. TestServicesServeTheirDocuments proves both services are
// recognised, so a missing route cannot switch the checks off unnoticed.

// apiDocs are the documents of both services, loaded and validated once.
var apiDocs = sync.OnceValues(func() (map[string]*apiDoc, error) {
	docs := map[string]*apiDoc{}
	for _, name := range []string{"cm-server", "cm-api"} {
		d, err := loadAPIDoc(filepath.Join("..", name, "app", "openapi.yaml"))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if d.doc.Info.Title != name {
			return nil, fmt.Errorf("%s: the document's title is %q", name, d.doc.Info.Title)
		}
		docs[name] = d
	}
	return docs, nil
})

// apiDoc is one service's document with its router.
type apiDoc struct {
	raw    []byte
	doc    *openapi3.T
	router routers.Router
}

func loadAPIDoc(path string) (*apiDoc, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseAPIDoc(raw)
}

func parseAPIDoc(raw []byte) (*apiDoc, error) {
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		return nil, fmt.Errorf("loading the OpenAPI document: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("the OpenAPI document is invalid: %w", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &apiDoc{raw: raw, doc: doc, router: router}, nil
}

func init() {
	// The customer page and its assets: bodies are text, checked by media type only.
	for _, ct := range []string{"text/html", "text/css", "text/javascript", "image/svg+xml"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
	}
	if os.Getenv("SHOP_CONTRACT_CHECK") == "off" { // to tell a contract problem from another one
		return
	}
	http.DefaultTransport = &contractTransport{next: http.DefaultTransport, hosts: map[string]string{}}
}

// contractTransport validates every response against its service's document.
type contractTransport struct {
	next http.RoundTripper

	mu    sync.Mutex
	hosts map[string]string // host:port -> service name, "" for a host that is no service of ours
}

// checked counts the responses validated against a document.
var checked atomic.Int64

// violations lists the responses that broke a document, over the whole run.
var violations struct {
	sync.Mutex
	list []string
}

func (t *contractTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := t.next.RoundTrip(req)
	if err != nil || req.Header.Get("X-Skip-Contract") != "" {
		return res, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	service := t.service(req, false)
	if service == "" {
		return res, nil
	}
	checked.Add(1)
	verr := validateResponse(service, req, res, body)
	if verr != nil {
		// The port may now belong to the other service: ask once more.
		if again := t.service(req, true); again != service && again != "" {
			service, verr = again, validateResponse(again, req, res, body)
		}
	}
	if verr != nil {
		msg := fmt.Sprintf("%s %s -> %d breaks %s's OpenAPI document: %v\nbody: %s",
			req.Method, req.URL, res.StatusCode, service, verr, clip(body, 2048))
		violations.Lock()
		violations.list = append(violations.list, msg)
		violations.Unlock()
		fmt.Fprintln(os.Stderr, "CONTRACT VIOLATION:", msg)
		return nil, errors.New(msg)
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	return res, nil
}

// service tells which of our services answers at req's host.
func (t *contractTransport) service(req *http.Request, refresh bool) string {
	host := req.URL.Host
	t.mu.Lock()
	name, known := t.hosts[host]
	t.mu.Unlock()
	if known && !refresh {
		return name
	}
	name = t.identify(req)
	t.mu.Lock()
	t.hosts[host] = name
	t.mu.Unlock()
	return name
}

// identify asks a host for its OpenAPI document and returns its title when it
// is one of ours.
func (t *contractTransport) identify(orig *http.Request) string {
	docs, err := apiDocs()
	if err != nil {
		return ""
	}
	if raw := t.fetch(orig, "/openapi.yaml"); raw != nil {
		for name, d := range docs {
			if bytes.Equal(raw, d.raw) || bytes.Contains(raw, []byte("\n  title: "+name+"\n")) {
				return name
			}
		}
		return ""
	}
	// An ingress publishes only the JSON document (the chart's publicPaths).
	var doc struct {
		Info struct{ Title string } `json:"info"`
	}
	if raw := t.fetch(orig, "/openapi.json"); raw != nil && json.Unmarshal(raw, &doc) == nil {
		if _, ours := docs[doc.Info.Title]; ours {
			return doc.Info.Title
		}
	}
	return ""
}

// fetch GETs path from orig's host, bypassing the checks; nil unless 200.
func (t *contractTransport) fetch(orig *http.Request, path string) []byte {
	u := *orig.URL
	u.Path, u.RawPath, u.RawQuery = path, "", ""
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	res, err := t.next.RoundTrip(req)
	if err != nil {
		return nil
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil || res.StatusCode != http.StatusOK {
		return nil
	}
	return raw
}

// validateResponse checks one response against the named service's document:
// the operation must exist, and its status, headers and body must be what the
// document says. A request for a route that does not exist must get the JSON
// 404 or 405.
func validateResponse(service string, req *http.Request, res *http.Response, body []byte) error {
	docs, err := apiDocs()
	if err != nil {
		return err
	}
	d := docs[service]
	return d.validate(req, res, body)
}

func (d *apiDoc) validate(req *http.Request, res *http.Response, body []byte) error {
	// The router matches the path and the method only; drop the host so that the
	// document's relative server (/) matches whatever address the test uses.
	r := req.Clone(context.Background())
	r.URL.Scheme, r.URL.Host, r.Host = "", "", ""
	if req.Method == http.MethodHead {
		r.Method = http.MethodGet // HEAD is answered like GET, without the body
	}
	route, params, err := d.router.FindRoute(r)
	switch {
	case errors.Is(err, routers.ErrPathNotFound), errors.Is(err, routers.ErrMethodNotAllowed):
		return d.validateUnrouted(req, res, body, err)
	case err != nil:
		return err
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route,
		},
		Status: res.StatusCode,
		Header: res.Header,
		Body:   io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true, // a status the document does not list is an error
			MultiError:            true,
		},
	}
	if req.Method == http.MethodHead {
		// kin-openapi skips HEAD; the status must still be one GET may answer.
		if route.Operation.Responses.Status(res.StatusCode) == nil {
			return fmt.Errorf("HEAD %s -> %d: GET does not document that status", req.URL.Path, res.StatusCode)
		}
		return nil
	}
	return openapi3filter.ValidateResponse(context.Background(), in)
}

// validateUnrouted checks the answer to a request outside the document: the
// JSON not_found (404) for an unknown path, method_not_allowed (405) for a known
// path asked with another method.
func (d *apiDoc) validateUnrouted(req *http.Request, res *http.Response, body []byte, routeErr error) error {
	want, code := http.StatusNotFound, "not_found"
	if errors.Is(routeErr, routers.ErrMethodNotAllowed) {
		want, code = http.StatusMethodNotAllowed, "method_not_allowed"
	}
	if res.StatusCode != want {
		return fmt.Errorf("%s %s is not in the document (%v), so the answer must be %d, not %d", req.Method, req.URL.Path, routeErr, want, res.StatusCode)
	}
	schema := d.doc.Components.Schemas["Error"]
	if schema == nil {
		return errors.New("the document has no Error schema")
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("a %d must be JSON, not %q", want, ct)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("a %d must be a JSON error: %w", want, err)
	}
	if err := schema.Value.VisitJSON(v, openapi3.MultiErrors(), openapi3.VisitAsResponse()); err != nil {
		return fmt.Errorf("a %d must match the Error schema: %w", want, err)
	}
	if got, _ := v.(map[string]any)["error"].(map[string]any)["code"].(string); got != code {
		return fmt.Errorf("a %d must carry code %s, not %q", want, code, got)
	}
	return nil
}

func clip(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// TestOpenAPIDocumentsAreValid loads both documents with kin-openapi and
// validates them against the OpenAPI 3 specification.
func TestOpenAPIDocumentsAreValid(t *testing.T) {
	docs, err := apiDocs()
	if err != nil {
		t.Fatal(err)
	}
	for name, d := range docs {
		ops := 0
		for _, item := range d.doc.Paths.Map() {
			ops += len(item.Operations())
		}
		t.Logf("%s: OpenAPI %s, %d paths, %d operations", name, d.doc.OpenAPI, d.doc.Paths.Len(), ops)
	}
}

// TestTheValidatorCatchesResponsesThatBreakTheDocument feeds the validator
// answers that each break one rule of the document: it must refuse every one
// and accept the correct ones, or the checks of every other test prove nothing.
func TestTheValidatorCatchesResponsesThatBreakTheDocument(t *testing.T) {
	docs, err := apiDocs()
	if err != nil {
		t.Fatal(err)
	}
	const id = "01a21452-703b-75a8-b160-1d3c6be5a2f3"
	jsonH := func(kv ...string) http.Header {
		h := http.Header{"Content-Type": {"application/json"}}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	purchase := `{"id":"` + id + `","userid":"ada","username":"Ada","price":"12.50","timestamp":"2026-11-25T10:00:00Z","received_at":"2026-11-25T10:00:00.123Z"}`
	cases := []struct {
		name          string
		service       string
		method, path  string
		status        int
		header        http.Header
		body          string
		wantViolation bool
	}{
		{"202 ok", "cm-server", "POST", "/buy", 202, jsonH(), `{"id":"` + id + `","status":"accepted"}`, false},
		{"202 with an upper-case id", "cm-server", "POST", "/buy", 202, jsonH(), `{"id":"` + strings.ToUpper(id) + `","status":"accepted"}`, true},
		{"202 with an extra field", "cm-server", "POST", "/buy", 202, jsonH(), `{"id":"` + id + `","status":"accepted","x":1}`, true},
		{"201 is not documented", "cm-server", "POST", "/buy", 201, jsonH(), `{"id":"` + id + `","status":"accepted"}`, true},
		{"503 with Retry-After", "cm-server", "POST", "/buy", 503, jsonH("Retry-After", "1"), `{"error":{"code":"unavailable","message":"retry later"}}`, false},
		{"503 without Retry-After", "cm-server", "POST", "/buy", 503, jsonH(), `{"error":{"code":"unavailable","message":"retry later"}}`, true},
		{"429 without Retry-After", "cm-server", "POST", "/buy", 429, jsonH(), `{"error":{"code":"too_many_requests","message":"slow down"}}`, true},
		{"400 with the wrong code", "cm-server", "POST", "/buy", 400, jsonH(), `{"error":{"code":"internal","message":"x"}}`, true},
		{"400 with an unknown code", "cm-server", "POST", "/buy", 400, jsonH(), `{"error":{"code":"oops","message":"x"}}`, true},
		{"400 with fields", "cm-server", "POST", "/buy", 400, jsonH(), `{"error":{"code":"invalid_request","message":"x","fields":[{"field":"price","problem":"bad"}]}}`, false},
		{"400 with a malformed field", "cm-server", "POST", "/buy", 400, jsonH(), `{"error":{"code":"invalid_request","message":"x","fields":[{"field":"price"}]}}`, true},
		{"400 as text", "cm-server", "POST", "/buy", 400, http.Header{"Content-Type": {"text/plain"}}, `bad request`, true},
		{"401 without WWW-Authenticate", "cm-server", "POST", "/buy", 401, jsonH(), `{"error":{"code":"unauthorized","message":"x"}}`, true},
		{"page ok", "cm-server", "GET", "/getAllUserBuys/ada", 200, jsonH(), `{"userid":"ada","purchases":[` + purchase + `],"next_cursor":"abc.def"}`, false},
		{"page with a float price", "cm-server", "GET", "/getAllUserBuys/ada", 200, jsonH(), `{"userid":"ada","purchases":[` + strings.Replace(purchase, `"12.50"`, `12.5`, 1) + `]}`, true},
		{"page without purchases", "cm-server", "GET", "/getAllUserBuys/ada", 200, jsonH(), `{"userid":"ada"}`, true},
		{"page with a bad timestamp", "cm-server", "GET", "/getAllUserBuys/ada", 200, jsonH(), `{"userid":"ada","purchases":[` + strings.Replace(purchase, `2026-11-25T10:00:00Z`, `yesterday`, 1) + `]}`, true},
		{"summary with count 0", "cm-server", "GET", "/users/ada", 200, jsonH(), `{"userid":"ada","username":"Ada","purchase_count":0,"total_spent":"0.00","first_purchase":"2026-11-25T10:00:00Z","last_purchase":"2026-11-25T10:00:00Z"}`, true},
		{"readyz degraded", "cm-server", "GET", "/readyz", 200, jsonH(), `{"status":"degraded","checks":{"kafka":"down","cmapi":"ok"}}`, false},
		{"readyz 503 shutting down", "cm-server", "GET", "/readyz", 503, jsonH("Retry-After", "1"), `{"status":"shutting down","checks":{}}`, false},
		{"readyz with an unknown status", "cm-server", "GET", "/readyz", 200, jsonH(), `{"status":"unavailable","checks":{"kafka":"down","cmapi":"ok"}}`, true},
		{"readyz with a check of cm-api", "cm-server", "GET", "/readyz", 200, jsonH(), `{"status":"ok","checks":{"mongodb":"ok"}}`, true},
		{"index as HTML", "cm-server", "GET", "/", 200, http.Header{"Content-Type": {"text/html; charset=utf-8"}}, `<!doctype html>`, false},
		{"index as XML", "cm-server", "GET", "/", 200, http.Header{"Content-Type": {"application/xml"}}, `<x/>`, true},
		{"metrics", "cm-server", "GET", "/metrics", 200, http.Header{"Content-Type": {"text/plain; version=0.0.4; charset=utf-8"}}, "up 1\n", false},
		{"unknown route 404", "cm-server", "GET", "/nope", 404, jsonH(), `{"error":{"code":"not_found","message":"no route /nope"}}`, false},
		{"unknown route 200", "cm-server", "GET", "/nope", 200, jsonH(), `{}`, true},
		{"wrong method 405", "cm-server", "DELETE", "/buy", 405, jsonH(), `{"error":{"code":"method_not_allowed","message":"no"}}`, false},
		{"wrong method 404", "cm-server", "DELETE", "/buy", 404, jsonH(), `{"error":{"code":"not_found","message":"no"}}`, true},
		{"cm-api 401 ok", "cm-api", "GET", "/buyList/ada", 401, jsonH("WWW-Authenticate", `Bearer realm="cm-api"`), `{"error":{"code":"unauthorized","message":"x"}}`, false},
		{"cm-api 401 with Basic", "cm-api", "GET", "/buyList/ada", 401, jsonH("WWW-Authenticate", `Basic realm="cm-api"`), `{"error":{"code":"unauthorized","message":"x"}}`, true},
		{"cm-api 502 is not documented", "cm-api", "GET", "/buyList/ada", 502, jsonH(), `{"error":{"code":"bad_gateway","message":"x"}}`, true},
		{"cm-api has no /buy", "cm-api", "POST", "/buy", 202, jsonH(), `{"id":"` + id + `","status":"accepted"}`, true},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, "http://127.0.0.1:1"+c.path, nil)
		res := &http.Response{StatusCode: c.status, Header: c.header, Request: req}
		err := docs[c.service].validate(req, res, []byte(c.body))
		if (err != nil) != c.wantViolation {
			t.Errorf("%s: violation %v, want %v (%v)", c.name, err != nil, c.wantViolation, err)
		}
	}
}

// TestServicesServeTheirDocuments runs both services and checks that each
// serves exactly the document of this repository (so the transport recognises
// them), and that the transport turns a response that breaks a document into
// an error.
func TestServicesServeTheirDocuments(t *testing.T) {
	if os.Getenv("SHOP_URL") != "" {
		t.Skip("needs the services as local processes")
	}
	s := startShop(t)
	for name, base := range map[string]string{"cm-server": s.server.URL(), "cm-api": s.api.URL()} {
		res, err := client.Get(base + "/openapi.yaml")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		docs, _ := apiDocs()
		if !bytes.Equal(raw, docs[name].raw) {
			t.Errorf("%s serves another document than %s/app/openapi.yaml", name, name)
		}
		res, err = client.Get(base + "/openapi.json")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		req, _ := http.NewRequest(http.MethodGet, base+"/healthz", nil)
		if got := http.DefaultTransport.(*contractTransport).service(req, true); got != name {
			t.Errorf("the transport takes %s for %q", base, got)
		}
	}
	// cm-server's answer checked against cm-api's document must fail: POST /buy
	// is not an operation of cm-api, so a 202 there breaks it.
	req, _ := http.NewRequest(http.MethodPost, s.server.URL()+"/buy", strings.NewReader(`{"username":"Ada","userid":"openapi-`+fmt.Sprint(time.Now().UnixNano())+`","price":"1.00"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Skip-Contract", "1")
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("buy: %d %s", res.StatusCode, body)
	}
	if err := validateResponse("cm-api", req, res, body); err == nil {
		t.Error("a 202 of POST /buy passed cm-api's document")
	}
	if err := validateResponse("cm-server", req, res, body); err != nil {
		t.Errorf("a real 202 of POST /buy breaks cm-server's document: %v", err)
	}
	if checked.Load() == 0 && os.Getenv("SHOP_CONTRACT_CHECK") != "off" {
		t.Error("the transport validated no response")
	}
	if n := contractViolations(); n > 0 {
		t.Errorf("%d responses of the tests so far broke the OpenAPI documents (printed above)", n)
	}
	t.Logf("%d responses validated against the documents so far", checked.Load())
}

// contractViolations returns how many responses broke a document during the
// run, printing them again, so that TestMain can fail a run in which a test
// tolerated the client error a violation turns into (an outage test counts
// failed calls, for instance):
//
//	code := m.Run()
//	if code == 0 && contractViolations() > 0 {
//		code = 1
//	}
func contractViolations() int {
	violations.Lock()
	defer violations.Unlock()
	for _, v := range violations.list {
		fmt.Fprintln(os.Stderr, "CONTRACT VIOLATION:", v)
	}
	return len(violations.list)
}

// TestTheShopIsRecognisedByTheContractCheck guards the checks themselves where
// the shop is reached through an ingress (make test-k8s), which publishes only
// /openapi.json: if the transport could not tell cm-server there, every other
// test would pass unchecked.
func TestTheShopIsRecognisedByTheContractCheck(t *testing.T) {
	s := startShop(t)
	req, _ := http.NewRequest(http.MethodGet, s.URL()+"/", nil)
	if got := http.DefaultTransport.(*contractTransport).service(req, true); got != "cm-server" {
		t.Fatalf("the contract transport takes %s for %q, want cm-server", s.URL(), got)
	}
	before := checked.Load()
	if status(s.URL()+"/getAllUserBuys/"+uid("contract")) != http.StatusOK {
		t.Fatal("GET /getAllUserBuys of a new user did not answer 200")
	}
	if checked.Load() == before {
		t.Error("the look-up's answer was not validated against cm-server's document")
	}
	t.Logf("%d responses validated against the documents so far", checked.Load())
}
