package apidoc_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/scalable-shop/shop/platform/apidoc"
)

const doc = `openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /x:
    get:
      responses:
        200: {description: ok}
`

func TestServesYAMLAndJSON(t *testing.T) {
	d, err := apidoc.New([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	r.Group(d.Routes)
	ts := httptest.NewServer(r)
	defer ts.Close()

	for path, ct := range map[string]string{"/openapi.yaml": "application/yaml", "/openapi.json": "application/json"} {
		res, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != ct {
			t.Errorf("%s: %d %s", path, res.StatusCode, res.Header.Get("Content-Type"))
		}
		if path == "/openapi.yaml" && string(body) != doc {
			t.Errorf("%s is not the document as written:\n%s", path, body)
		}
		if path == "/openapi.json" {
			var v struct {
				OpenAPI string                                          `json:"openapi"`
				Paths   map[string]map[string]map[string]map[string]any `json:"paths"`
			}
			if err := json.Unmarshal(body, &v); err != nil {
				t.Fatalf("%s: %v\n%s", path, err, body)
			}
			if v.OpenAPI != "3.0.3" || v.Paths["/x"]["get"]["responses"]["200"] == nil {
				t.Errorf("%s lost content (a bare 200 key must become \"200\"):\n%s", path, body)
			}
		}
	}
}

func TestRefusesWhatIsNotADocument(t *testing.T) {
	for _, bad := range []string{"{", "just a string", "openapi: 3.0.3\n"} {
		if _, err := apidoc.New([]byte(bad)); err == nil {
			t.Errorf("New(%q) accepted it", bad)
		}
	}
}

func TestCheckFindsBrokenDocuments(t *testing.T) {
	for name, bad := range map[string]string{
		"version":     "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\n",
		"ref":         doc + "      parameters: [{$ref: '#/components/parameters/Nope'}]\n      operationId: x\n",
		"operationId": doc,
		"pattern":     doc + "      operationId: x\n      parameters: [{name: a, in: query, schema: {type: string, pattern: '(?!x)'}}]\n",
	} {
		d, err := apidoc.New([]byte(bad))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := d.Check(); err == nil {
			t.Errorf("%s: Check found nothing wrong", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	good, _ := apidoc.New([]byte(doc + "      operationId: x\n"))
	if err := good.Check(); err != nil {
		t.Errorf("a good document: %v", err)
	}
}

func TestMatchRoutes(t *testing.T) {
	d, _ := apidoc.New([]byte(`openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /x: {get: {operationId: a, responses: {"200": {description: ok}}}, options: {operationId: b, responses: {"204": {description: ok}}}}
  /static/{name}: {get: {operationId: c, responses: {"200": {description: ok}}}}
  /gone: {get: {operationId: d, responses: {"200": {description: ok}}}}
`))
	r := chi.NewRouter()
	h := func(http.ResponseWriter, *http.Request) {}
	r.Get("/x", h)
	r.Get("/static/*", h)
	r.Post("/undocumented", h)
	err := d.MatchRoutes(r)
	if err == nil || !strings.Contains(err.Error(), "GET /gone") || !strings.Contains(err.Error(), "POST /undocumented") ||
		strings.Contains(err.Error(), "/x") || strings.Contains(err.Error(), "static") {
		t.Errorf("MatchRoutes: %v", err)
	}
}
