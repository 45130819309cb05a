package apidoc

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"
)

// Check finds what would make the document wrong without a full OpenAPI
// validator (the e2e module runs kin-openapi's): an OpenAPI version other than
// 3.0.x, a $ref that points nowhere, an operation without an operationId or
// responses, a response without a description, a pattern Go cannot compile.
func (d *Doc) Check() error {
	var root map[string]any
	if err := json.Unmarshal(d.json, &root); err != nil {
		return err
	}
	var errs []error
	if v, _ := root["openapi"].(string); !strings.HasPrefix(v, "3.0.") {
		errs = append(errs, fmt.Errorf("openapi is %q, want 3.0.x", v))
	}
	walk(root, "#", func(at string, m map[string]any) {
		if ref, ok := m["$ref"].(string); ok {
			if _, err := resolve(root, ref); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", at, err))
			}
		}
		if p, ok := m["pattern"].(string); ok {
			if _, err := regexp.Compile(p); err != nil {
				errs = append(errs, fmt.Errorf("%s: pattern: %w", at, err))
			}
		}
	})
	paths, _ := root["paths"].(map[string]any)
	ids := map[string]string{}
	for path, item := range paths {
		ops, _ := item.(map[string]any)
		for method, op := range ops {
			if method == "parameters" || method == "summary" || method == "description" {
				continue
			}
			at := strings.ToUpper(method) + " " + path
			o, _ := op.(map[string]any)
			id, _ := o["operationId"].(string)
			switch {
			case id == "":
				errs = append(errs, fmt.Errorf("%s has no operationId", at))
			case ids[id] != "":
				errs = append(errs, fmt.Errorf("%s and %s share operationId %s", at, ids[id], id))
			}
			ids[id] = at
			responses, _ := o["responses"].(map[string]any)
			if len(responses) == 0 {
				errs = append(errs, fmt.Errorf("%s has no responses", at))
			}
			for status, r := range responses {
				resp, _ := r.(map[string]any)
				if ref, ok := resp["$ref"].(string); ok {
					v, err := resolve(root, ref)
					if err != nil {
						continue // reported above
					}
					resp, _ = v.(map[string]any)
				}
				if desc, _ := resp["description"].(string); desc == "" {
					errs = append(errs, fmt.Errorf("%s: response %s has no description", at, status))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// Operations returns every "METHOD /path" the document describes.
func (d *Doc) Operations() []string {
	var root struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	_ = json.Unmarshal(d.json, &root)
	var out []string
	for path, item := range root.Paths {
		for method := range item {
			switch method {
			case "get", "put", "post", "delete", "options", "head", "patch", "trace":
				out = append(out, strings.ToUpper(method)+" "+path)
			}
		}
	}
	slices.Sort(out)
	return out
}

// MatchRoutes reports every route of the router the document does not describe
// and every operation it describes that the router does not serve. A chi
// wildcard route /static/* matches a document path /static/{name}. OPTIONS
// operations (CORS preflights, answered by a middleware) need only their path
// to be routed.
func (d *Doc) MatchRoutes(routes chi.Routes) error {
	routed := map[string]bool{}
	paths := map[string]bool{}
	err := chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routed[method+" "+route] = true
		paths[route] = true
		return nil
	})
	if err != nil {
		return err
	}
	var errs []error
	documented := map[string]bool{}
	for _, op := range d.Operations() {
		method, path, _ := strings.Cut(op, " ")
		route := docPathToChi(path, paths)
		documented[method+" "+route] = true
		if method == http.MethodOptions {
			if !paths[route] {
				errs = append(errs, fmt.Errorf("the document describes %s, but no route serves %s", op, path))
			}
			continue
		}
		if !routed[method+" "+route] {
			errs = append(errs, fmt.Errorf("the document describes %s, but no route serves it", op))
		}
	}
	keys := make([]string, 0, len(routed))
	for k := range routed {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !documented[k] {
			errs = append(errs, fmt.Errorf("route %s is not in the OpenAPI document", k))
		}
	}
	return errors.Join(errs...)
}

var lastParam = regexp.MustCompile(`/\{[^/{}]+\}$`)

// docPathToChi maps /static/{asset} to the router's /static/* when that is
// what the router serves.
func docPathToChi(path string, routed map[string]bool) string {
	if routed[path] {
		return path
	}
	if w := lastParam.ReplaceAllString(path, "/*"); routed[w] {
		return w
	}
	return path
}

func walk(v any, at string, f func(at string, m map[string]any)) {
	switch t := v.(type) {
	case map[string]any:
		f(at, t)
		for k, e := range t {
			walk(e, at+"/"+k, f)
		}
	case []any:
		for i, e := range t {
			walk(e, fmt.Sprintf("%s/%d", at, i), f)
		}
	}
}

// resolve follows a local JSON pointer (#/components/...).
func resolve(root map[string]any, ref string) (any, error) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("$ref %s is not local", ref)
	}
	var cur any = root
	for _, part := range strings.Split(rest, "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %s points nowhere", ref)
		}
		if cur, ok = m[part]; !ok {
			return nil, fmt.Errorf("$ref %s points nowhere", ref)
		}
	}
	return cur, nil
}
