##@ Test

.PHONY: test-browser

test-browser: ## The customer page in headless Chromium (Debian's chromium + playwright-core) against make run's stack; screenshots in out/browser/
	e2e/browser/run.sh
