// Package charts checks the Helm charts of Scalable Shop without a cluster: it
// renders them with helm, decodes every object strictly into its Kubernetes API
// type (or validates it against its CustomResourceDefinition's schema, as the API
// server would), and asserts what matters for running the shop safely.
//
// It is its own module, outside go.work, so that the Kubernetes libraries it needs
// stay out of the services' dependency graphs. Run it with `make test-charts`, or:
//
//	cd e2e/charts && GOWORK=off go test ./...
//
// Environment:
//
//	HELM            helm binary (default: the output of hack/tools.sh helm)
//	SHOP_CRDS_DIR   CustomResourceDefinitions to validate custom resources against
//	                (default: <repo>/../shared/crds)
package charts
