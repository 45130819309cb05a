# Kubernetes: images, the kind workflow, chart checks. Included by the root Makefile.
#
# Everything that talks to a cluster names the kind context explicitly
# (kind-$(KIND_CLUSTER)), so a target never touches whatever cluster kubectl
# happens to point at.

KIND ?= kind
KUBECTL ?= kubectl
DOCKER ?= docker
KIND_CLUSTER ?= scalable-shop
KIND_CONTEXT := kind-$(KIND_CLUSTER)
# Host ports of kind/cluster.yaml.
KIND_HTTP_PORT := 8080
KIND_KAFKA_PORT := 30092
IMAGE_REPO ?= ghcr.io/scalable-shop
# The charts' appVersion, which is also the image tag the charts default to, so
# that `make images kind-load deploy` runs what was just built without --set.
IMAGE_TAG ?= $(shell sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$$/\1/p' cm-server/chart/Chart.yaml)
# An unchanged tag with pullPolicy IfNotPresent never rolls the pods after a
# rebuild: make deploy stamps the pods with the image's ID, so a new build rolls
# them and an unchanged one does not.
image_id = $(shell $(DOCKER) image inspect -f '{{.Id}}' $(IMAGE_REPO)/$(1):$(IMAGE_TAG) 2>/dev/null | cut -c8-19)

# Operator and controller charts (their CRDs are the ones in ../shared/crds).
STRIMZI_CHART ?= oci://quay.io/strimzi-helm/strimzi-kafka-operator
STRIMZI_VERSION ?= 1.2.0
MONGODB_OPERATOR_REPO ?= https://mongodb.github.io/helm-charts
MONGODB_OPERATOR_VERSION ?= 1.10.0
INGRESS_NGINX_REPO ?= https://kubernetes.github.io/ingress-nginx
INGRESS_NGINX_VERSION ?= 4.14.1

KIND_SECRETS = $(SCALABLE_SHOP_CACHE)/kind/$(KIND_CLUSTER)/secrets
DEPLOY_HELM = $(shell hack/tools.sh helm)
KCTL = $(KUBECTL) --context $(KIND_CONTEXT)

##@ Deploy

.PHONY: kind-up images kind-load deploy undeploy kind-down kind-secrets deploy-tools

kind-up: deploy-tools ## Create the kind cluster (ingress on localhost:8080, Kafka on localhost:30092)
	@if $(KIND) get clusters 2>/dev/null | grep -qx '$(KIND_CLUSTER)'; then \
		echo "kind cluster $(KIND_CLUSTER) already exists"; \
	else \
		$(KIND) create cluster --name $(KIND_CLUSTER) --config kind/cluster.yaml --wait 120s; \
	fi
	$(KCTL) cluster-info

images: ## Build the cm-server and cm-api images (needs Docker; tag IMAGE_TAG, default the charts' appVersion)
	@command -v $(DOCKER) >/dev/null || { echo "images: $(DOCKER) not found (make images needs Docker)"; exit 1; }
	$(DOCKER) build -f cm-server/Dockerfile -t $(IMAGE_REPO)/cm-server:$(IMAGE_TAG) --build-arg VERSION=$(VERSION) .
	$(DOCKER) build -f cm-api/Dockerfile -t $(IMAGE_REPO)/cm-api:$(IMAGE_TAG) --build-arg VERSION=$(VERSION) .

kind-load: deploy-tools ## Load the images into the kind cluster
	$(KIND) load docker-image --name $(KIND_CLUSTER) $(IMAGE_REPO)/cm-server:$(IMAGE_TAG) $(IMAGE_REPO)/cm-api:$(IMAGE_TAG)

deploy: deploy-tools ## Install or upgrade everything on kind, in order: operators, ingress, Kafka, MongoDB, cm-api, cm-server
	@helm=$(DEPLOY_HELM); set -x; \
	$$helm upgrade --install strimzi-cluster-operator $(STRIMZI_CHART) --version $(STRIMZI_VERSION) \
		--kube-context $(KIND_CONTEXT) -n kafka --create-namespace --wait --timeout 5m; \
	$$helm upgrade --install mongodb-kubernetes mongodb-kubernetes --repo $(MONGODB_OPERATOR_REPO) --version $(MONGODB_OPERATOR_VERSION) \
		--kube-context $(KIND_CONTEXT) -n mongodb --create-namespace --wait --timeout 5m; \
	$$helm upgrade --install ingress-nginx ingress-nginx --repo $(INGRESS_NGINX_REPO) --version $(INGRESS_NGINX_VERSION) \
		--kube-context $(KIND_CONTEXT) -n ingress-nginx --create-namespace -f ingress-nginx/values-kind.yaml --wait --timeout 5m
	@$(MAKE) --no-print-directory kind-secrets
	@helm=$(DEPLOY_HELM); set -x; \
	$$helm upgrade --install kafka kafka/chart --kube-context $(KIND_CONTEXT) -n kafka \
		-f kind/kafka-values.yaml --wait --timeout 5m; \
	$(KCTL) -n kafka wait kafka/shop --for=condition=Ready --timeout=15m; \
	$(KCTL) -n kafka wait kafkatopic,kafkauser -l app.kubernetes.io/instance=kafka --for=condition=Ready --timeout=5m; \
	$$helm upgrade --install mongodb mongodb/chart --kube-context $(KIND_CONTEXT) -n mongodb \
		-f kind/mongodb-values.yaml --wait --timeout 5m; \
	$(KCTL) -n mongodb wait mdbc/shop-mongodb --for=jsonpath='{.status.phase}'=Running --timeout=15m; \
	$$helm upgrade --install cm-api cm-api/chart --kube-context $(KIND_CONTEXT) -n shop --create-namespace \
		-f kind/cm-api-values.yaml --set image.repository=$(IMAGE_REPO)/cm-api --set image.tag=$(IMAGE_TAG) \
		--set-string podAnnotations.scalable-shop/image-id=$(call image_id,cm-api) --wait --timeout 5m; \
	$$helm upgrade --install cm-server cm-server/chart --kube-context $(KIND_CONTEXT) -n shop \
		-f kind/cm-server-values.yaml --set image.repository=$(IMAGE_REPO)/cm-server --set image.tag=$(IMAGE_TAG) \
		--set-string podAnnotations.scalable-shop/image-id=$(call image_id,cm-server) --wait --timeout 5m
	@echo; echo "The shop runs behind the ingress:"; \
	echo "  curl -s -X POST http://localhost:$(KIND_HTTP_PORT)/buy -H 'Content-Type: application/json' -d '{\"username\":\"Ada\",\"userid\":\"ada-1\",\"price\":\"12.50\"}'"; \
	echo "  curl -s http://localhost:$(KIND_HTTP_PORT)/getAllUserBuys/ada-1"; \
	echo "  open http://localhost:$(KIND_HTTP_PORT)/ in a browser"

# Generated once per cluster into the cache (never into the repository) and
# applied as Secrets: Kafka user passwords (kafka), the cm-api MongoDB password
# (mongodb), and each service's copy of what it needs (shop).
kind-secrets:
	@mkdir -p $(KIND_SECRETS) && chmod 700 $(KIND_SECRETS)
	@for f in cmapi-token cursor-key kafka-cm-server kafka-cm-api mongo-cm-api; do \
		[ -s $(KIND_SECRETS)/$$f ] || (umask 077; openssl rand -hex 24 | tr -d '\n' > $(KIND_SECRETS)/$$f); \
	done
	@for ns in kafka mongodb shop; do \
		$(KCTL) create namespace $$ns --dry-run=client -o yaml | $(KCTL) apply -f - >/dev/null; \
	done
	@s=$(KIND_SECRETS); apply() { $(KCTL) "$$@" --dry-run=client -o yaml | $(KCTL) apply -f -; }; \
	apply -n kafka create secret generic shop-kafka-passwords \
		--from-file=cm-server=$$s/kafka-cm-server --from-file=cm-api=$$s/kafka-cm-api; \
	apply -n mongodb create secret generic shop-mongodb-cm-api --from-file=password=$$s/mongo-cm-api; \
	apply -n shop create secret generic cm-server-secrets \
		--from-file=cmapi-token=$$s/cmapi-token --from-file=kafka-password=$$s/kafka-cm-server; \
	apply -n shop create secret generic cm-api-secrets \
		--from-file=auth-token=$$s/cmapi-token --from-file=kafka-password=$$s/kafka-cm-api \
		--from-file=mongo-password=$$s/mongo-cm-api --from-file=cursor-key=$$s/cursor-key

# KafkaTopics and KafkaUsers carry the Topic/User Operator's finalizer: deleted
# after the operator (or together with the Kafka cluster it runs in) they hang
# for ever. So they go first, while the operator still runs; a leftover one (no
# operator any more) has its finalizer removed.
undeploy: deploy-tools ## Uninstall everything make deploy installed from kind (keeps the cluster)
	-@helm=$(DEPLOY_HELM); for r in shop/cm-server shop/cm-api; do \
		$$helm uninstall $${r#*/} --kube-context $(KIND_CONTEXT) -n $${r%/*} --wait --ignore-not-found; \
	done; \
	if ! $(KCTL) -n kafka delete kafkatopic,kafkauser -l app.kubernetes.io/instance=kafka --ignore-not-found --wait --timeout=2m; then \
		echo "undeploy: KafkaTopics/KafkaUsers still there after 2m (no Topic/User Operator?): removing their finalizers"; \
		for o in $$($(KCTL) -n kafka get kafkatopic,kafkauser -l app.kubernetes.io/instance=kafka -o name); do \
			$(KCTL) -n kafka patch $$o --type=merge -p '{"metadata":{"finalizers":null}}'; \
		done; \
	fi; \
	for r in mongodb/mongodb kafka/kafka; do \
		$$helm uninstall $${r#*/} --kube-context $(KIND_CONTEXT) -n $${r%/*} --wait --ignore-not-found; \
	done; \
	$(KCTL) -n mongodb delete secret shop-mongodb-cm-api-password --ignore-not-found; \
	for r in ingress-nginx/ingress-nginx mongodb/mongodb-kubernetes kafka/strimzi-cluster-operator; do \
		$$helm uninstall $${r#*/} --kube-context $(KIND_CONTEXT) -n $${r%/*} --wait --ignore-not-found; \
	done; \
	$(KCTL) delete namespace shop kafka mongodb ingress-nginx --ignore-not-found --wait=true

kind-down: deploy-tools ## Delete the kind cluster and its generated secrets
	$(KIND) delete cluster --name $(KIND_CLUSTER)
	rm -rf $(SCALABLE_SHOP_CACHE)/kind/$(KIND_CLUSTER)

deploy-tools:
	@missing=; for t in $(KIND) $(KUBECTL) $(DOCKER) openssl; do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
		echo "missing:$$missing. The kind workflow needs Docker, kind and kubectl;"; \
		echo "kind: go install sigs.k8s.io/kind@latest (or see https://kind.sigs.k8s.io)"; exit 1; \
	fi

##@ Test

.PHONY: test-charts e2e-kind

test-charts: ## Check every chart without a cluster: helm lint --strict, strict decoding of every rendered object, schema refusals
	@helm=$$(hack/tools.sh helm); cd e2e/charts && \
		GOWORK=off go vet ./... && \
		HELM=$$helm GOWORK=off go test -count=1 ./...

e2e-kind: deploy-tools ## Run every helm test and the black-box suite against the shop deployed on kind
	@helm=$(DEPLOY_HELM); set -e; \
	for r in kafka/kafka mongodb/mongodb shop/cm-api shop/cm-server; do \
		$$helm test $${r#*/} --kube-context $(KIND_CONTEXT) -n $${r%/*} --logs --timeout 5m; \
	done
	@# The suite in deployed mode talks to the shop's public URL only (SHOP_URL):
	@# no port-forward, no broker or database credentials (no test reads them).
	@set -e; \
	export SHOP_URL=http://localhost:$(KIND_HTTP_PORT); \
	curl -fsS -o /dev/null -w 'GET %{url} -> %{http_code}\n' -H 'Accept: application/json' $$SHOP_URL/; \
	go test -count=1 -timeout 20m ./e2e/...
