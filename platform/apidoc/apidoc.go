// Package apidoc serves a service's OpenAPI document: as written (YAML) at
// GET /openapi.yaml and converted to JSON at GET /openapi.json. The document is
// embedded in the service, so what a running service serves is exactly what its
// tests validated responses against.
package apidoc

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"
	"go.yaml.in/yaml/v3"
)

// Doc is an OpenAPI document ready to serve in both forms.
type Doc struct {
	yaml []byte
	json []byte
}

// New parses a YAML OpenAPI document and renders its JSON form.
func New(yamlDoc []byte) (*Doc, error) {
	var v any
	if err := yaml.Unmarshal(yamlDoc, &v); err != nil {
		return nil, fmt.Errorf("apidoc: the OpenAPI document is not YAML: %w", err)
	}
	v, err := jsonable(v)
	if err != nil {
		return nil, fmt.Errorf("apidoc: %w", err)
	}
	m, ok := v.(map[string]any)
	if !ok || m["openapi"] == nil || m["paths"] == nil {
		return nil, fmt.Errorf("apidoc: the document has no openapi or paths")
	}
	j, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("apidoc: %w", err)
	}
	return &Doc{yaml: yamlDoc, json: append(j, '\n')}, nil
}

// MustNew is New for an embedded document, which the service's tests check.
func MustNew(yamlDoc []byte) *Doc {
	d, err := New(yamlDoc)
	if err != nil {
		panic(err)
	}
	return d
}

// YAML returns the document as written.
func (d *Doc) YAML() []byte { return d.yaml }

// JSON returns the document converted to JSON.
func (d *Doc) JSON() []byte { return d.json }

// Routes adds GET /openapi.yaml and GET /openapi.json; use it as
// r.Group(doc.Routes) so both routes run behind the router's middlewares.
func (d *Doc) Routes(r chi.Router) {
	r.Get("/openapi.yaml", serve("application/yaml", d.yaml))
	r.Get("/openapi.json", serve("application/json", d.json))
}

func serve(contentType string, body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", contentType)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	}
}

// jsonable turns what the YAML decoder made into values encoding/json can
// write: mappings with non-string keys (a bare 200) get string keys.
func jsonable(v any) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			c, err := jsonable(e)
			if err != nil {
				return nil, err
			}
			t[k] = c
		}
		return t, nil
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			c, err := jsonable(e)
			if err != nil {
				return nil, err
			}
			m[fmt.Sprint(k)] = c
		}
		return m, nil
	case []any:
		for i, e := range t {
			c, err := jsonable(e)
			if err != nil {
				return nil, err
			}
			t[i] = c
		}
		return t, nil
	default:
		return v, nil
	}
}
