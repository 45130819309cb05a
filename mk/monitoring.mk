##@ Test

.PHONY: test-alerts

test-alerts: ## promtool check and unit tests of the charts' PrometheusRules (every alert fires on its condition, stays silent otherwise)
	hack/test-alerts.sh
