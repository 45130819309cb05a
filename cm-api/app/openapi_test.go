package app

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

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
	srv := NewServer(slog.New(slog.DiscardHandler), "token", nil, nil, prometheus.NewRegistry(), nil)
	if err := openAPI.MatchRoutes(srv.handler.(chi.Routes)); err != nil {
		t.Fatal(err)
	}
}

func TestOpenAPIDocumentIsServedWithoutTheToken(t *testing.T) {
	srv := NewServer(slog.New(slog.DiscardHandler), "token", nil, nil, prometheus.NewRegistry(), nil)
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
}

func TestOpenAPIDocumentStatesTheContractsLimits(t *testing.T) {
	type schema struct {
		Pattern   string  `json:"pattern"`
		MaxLength int     `json:"maxLength"`
		Maximum   float64 `json:"maximum"`
	}
	var doc struct {
		Security   []map[string]any `json:"security"`
		Components struct {
			Parameters map[string]struct {
				Schema schema `json:"schema"`
			} `json:"parameters"`
			Schemas         map[string]schema         `json:"schemas"`
			SecuritySchemes map[string]map[string]any `json:"securitySchemes"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPI.JSON(), &doc); err != nil {
		t.Fatal(err)
	}
	s, p := doc.Components.Schemas, doc.Components.Parameters
	checks := []struct {
		what      string
		got, want any
	}{
		{"UserID maxLength", s["UserID"].MaxLength, contract.MaxUserIDLen},
		{"UserID pattern", s["UserID"].Pattern, "^[A-Za-z0-9._-]{1,64}$"},
		{"Cursor maxLength", s["Cursor"].MaxLength, contract.MaxCursorLen},
		{"limit maximum", p["Limit"].Schema.Maximum, float64(contract.MaxPageLimit)},
		{"bearer scheme", doc.Components.SecuritySchemes["serviceToken"]["scheme"], "bearer"},
		{"global security", len(doc.Security), 1},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: the document says %v, the code %v", c.what, c.got, c.want)
		}
	}
}
