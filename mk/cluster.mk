##@ Test

.PHONY: test-cluster cluster-build

test-cluster: ## Install, test, upgrade and roll back every chart against a local Kubernetes API server (builds it once, ~17 min)
	hack/cluster/test.sh

cluster-build: ## Build the local Kubernetes control plane (etcd, kube-*, kwok) into ~/.cache/scalable-shop
	hack/cluster/build.sh
