package app

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/scalable-shop/shop/contract"
)

// The full OpenAPI validation (kin-openapi) and the validation of real responses
// against the document run in the e2e module; these tests keep the document and
// the code from drifting apart without another dependency.

func TestOpenAPIDocumentIsWellFormed(t *testing.T) {
	if err := openAPI.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenAPIDocumentListsExactlyTheRoutes(t *testing.T) {
	srv := NewServer(slog.New(slog.DiscardHandler), nil, nil, prometheus.NewRegistry(), nil)
	if err := openAPI.MatchRoutes(srv.handler.(chi.Routes)); err != nil {
		t.Fatal(err)
	}
}

func TestOpenAPIDocumentIsServed(t *testing.T) {
	srv := NewServer(slog.New(slog.DiscardHandler), nil, nil, prometheus.NewRegistry(), nil)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	for path, want := range map[string][]byte{"/openapi.yaml": openAPIYAML, "/openapi.json": openAPI.JSON()} {
		res, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || string(body) != string(want) {
			t.Errorf("GET %s: %d, %d bytes; want 200 and the embedded document", path, res.StatusCode, len(body))
		}
	}
	var fromYAML, fromJSON any
	if err := yaml.Unmarshal(openAPIYAML, &fromYAML); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(openAPI.JSON(), &fromJSON); err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(fromYAML)
	b, _ := json.Marshal(fromJSON)
	if string(a) != string(b) {
		t.Error("/openapi.json says something else than /openapi.yaml")
	}
}

// TestOpenAPIDocumentStatesTheContractsLimits compares the numbers the document
// promises with the ones the code enforces.
func TestOpenAPIDocumentStatesTheContractsLimits(t *testing.T) {
	var doc struct {
		Components struct {
			Parameters map[string]schemaHolder `json:"parameters"`
			Schemas    map[string]schema       `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPI.JSON(), &doc); err != nil {
		t.Fatal(err)
	}
	s, p := doc.Components.Schemas, doc.Components.Parameters
	buy := s["BuyRequest"]
	checks := []struct {
		what      string
		got, want any
	}{
		{"UserID maxLength", s["UserID"].MaxLength, contract.MaxUserIDLen},
		{"UserID pattern", s["UserID"].Pattern, "^[A-Za-z0-9._-]{1,64}$"},
		{"Username maxLength", s["Username"].MaxLength, contract.MaxUsernameLen},
		{"Cursor maxLength", s["Cursor"].MaxLength, contract.MaxCursorLen},
		{"limit maximum", p["Limit"].Schema.Maximum, float64(contract.MaxPageLimit)},
		{"limit default", p["Limit"].Schema.Default, float64(contract.DefaultPageLimit)},
		{"Idempotency-Key maxLength", p["IdempotencyKey"].Schema.MaxLength, maxIdempotencyKeyLen},
		{"price maximum", buy.Properties["price"].OneOf[1].Maximum, float64(contract.MaxPriceCents / 100)},
		{"timestamp maxLength", buy.Properties["timestamp"].MaxLength, contract.MaxTimestampLen},
		{"additionalProperties", buy.AdditionalProperties, false},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: the document says %v, the code %v", c.what, c.got, c.want)
		}
	}
	codes := s["Error"].Properties["error"].Properties["code"].Enum
	for _, code := range []string{contract.EInvalid, contract.EUnauthorized, contract.EForbidden, contract.ENotFound,
		contract.EMethodNotAllowed, contract.ETooLarge, contract.EUnsupportedMedia, contract.ETooManyRequests,
		contract.EInternal, contract.EUpstream, contract.EUnavailable} {
		if !slices.Contains(codes, code) {
			t.Errorf("error code %s is not in the document's enum %v", code, codes)
		}
	}
	if len(codes) != 11 {
		t.Errorf("the document lists error codes the contract does not have: %v", codes)
	}
}

// TestOpenAPIPricePatternIsParsePrice checks the string pattern of price
// against the parser on the edge cases.
func TestOpenAPIPricePatternIsParsePrice(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]schema `json:"schemas"`
		} `json:"components"`
	}
	_ = json.Unmarshal(openAPI.JSON(), &doc)
	re := mustCompile(t, doc.Components.Schemas["BuyRequest"].Properties["price"].OneOf[0].Pattern)
	for _, s := range []string{"0", "0.0", "0.00", "0.01", "0.1", "0.10", "0.5", "1", "1.", ".5", "01", "1.5", "1.50", "1.505",
		"999999.99", "1000000", "1000000.0", "1000000.00", "1000000.01", "1000001", "12345678", "-1", "+1", "1e2", " 1", "1,00"} {
		_, problem := contract.ParsePrice(s)
		if re.MatchString(s) != (problem == "") {
			t.Errorf("price %q: pattern matches %v, ParsePrice says %q", s, re.MatchString(s), problem)
		}
	}
	name := mustCompile(t, doc.Components.Schemas["Username"].Pattern)
	for _, s := range []string{"Ada", "Ada Lovelace", "A", " Ada", "Ada ", "Ada\tL", "Ada\nL", "Ada\x7f", "Zoë", "李"} {
		if name.MatchString(s) && contract.CheckUsername(s) != "" {
			t.Errorf("username %q: the pattern allows what CheckUsername refuses (%s)", s, contract.CheckUsername(s))
		}
		if !name.MatchString(s) && contract.CheckUsername(s) == "" && !strings.ContainsAny(s, "\t\n") {
			t.Errorf("username %q: the pattern refuses what CheckUsername allows", s)
		}
	}
}

type schema struct {
	Type                 any               `json:"type"`
	Pattern              string            `json:"pattern"`
	MaxLength            int               `json:"maxLength"`
	Maximum              float64           `json:"maximum"`
	Default              any               `json:"default"`
	Enum                 []string          `json:"enum"`
	AdditionalProperties any               `json:"additionalProperties"`
	Properties           map[string]schema `json:"properties"`
	OneOf                []schema          `json:"oneOf"`
}

type schemaHolder struct {
	Schema schema `json:"schema"`
}

func mustCompile(t *testing.T, pattern string) *regexp.Regexp {
	t.Helper()
	re, err := regexp.Compile(pattern)
	if err != nil {
		t.Fatalf("pattern %q: %v", pattern, err)
	}
	return re
}
