// Package monitoring holds the checks of the shop's alerts and dashboard that
// need Prometheus itself. It is a module of its own, outside go.work, so that
// Prometheus's dependencies never reach a service's build:
//
//   - alerts/*_test.yaml: promtool unit tests of the charts' PrometheusRules
//     (hack/test-alerts.sh, make test-alerts);
//   - metrics_test.go: every query of the dashboard and the rules is parsed with
//     Prometheus's own PromQL parser and the metric names it selects must be
//     exactly those in metrics.txt; the e2e suite (e2e/monitored_test.go) checks
//     metrics.txt against a scrape of the running services.
package monitoring
