##@ Test

.PHONY: test-alerts

test-alerts: ## promtool check and unit tests of the charts' PrometheusRules; the dashboard's and alerts' PromQL names only listed metrics
	hack/test-alerts.sh
