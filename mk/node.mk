##@ Test

.PHONY: test-k8s node-build

test-k8s: ## One real Kubernetes node (containerd, kubelet, kube-proxy, CoreDNS) in its own network namespace, steps in hack/node/steps (root; builds once)
	hack/node/test.sh

node-build: ## Build the real node's binaries (kubelet, kube-proxy, containerd, CoreDNS, ...) into ~/.cache/scalable-shop
	hack/node/build.sh
