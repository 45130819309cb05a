package app

import (
	_ "embed"

	"github.com/scalable-shop/shop/platform/apidoc"
)

// openAPIYAML is cm-api's OpenAPI document: every route, every response. The
// service serves it at GET /openapi.yaml and /openapi.json; the e2e tests
// validate every response they receive against it, and `make test-fuzz` has
// schemathesis check the running service against it.
//
//go:embed openapi.yaml
var openAPIYAML []byte

// openAPI is the document ready to serve; openapi_test.go checks that it parses
// and lists exactly the routes of routes.go.
var openAPI = apidoc.MustNew(openAPIYAML)
