##@ Test

.PHONY: test-kafka test-faults

# kafka-local.sh of kafka/local: a real Apache Kafka 4.x broker (KRaft, SASL/SCRAM,
# ACLs) on 127.0.0.1. Both targets start it (on a running broker `start` only
# brings topics, users and ACLs up to date) and stop it again on exit, also on
# failure or Ctrl-C, unless it was running before.
FAULTS_KAFKA := kafka/local/kafka-local.sh
define with-real-kafka
	@started=""; $(FAULTS_KAFKA) status >/dev/null || started=1; \
	$(FAULTS_KAFKA) start; \
	trap 'if [ -n "$$started" ]; then $(FAULTS_KAFKA) stop; fi' EXIT; \
	eval "$$($(FAULTS_KAFKA) env)"; \
	echo "testing against Apache Kafka on $$KAFKA_BROKERS (SASL $$KAFKA_SASL_MECHANISM; services log in as $$KAFKA_CM_SERVER_USERNAME and $$KAFKA_CM_API_USERNAME)"; \
	$(1)
endef

test-kafka: ## Every Go test of `make test` against a real Apache Kafka 4.x broker (kafka/local, SASL/SCRAM, ACLs); starts and stops it
	$(call with-real-kafka,go test -count=1 -timeout 30m $(addprefix ./,$(addsuffix /...,$(GO_MODULES))))

test-faults: ## Fault test: 20,000 buys while cm-api is SIGKILLed, Kafka and MongoDB stop for 10 s and poison arrives; prints the counts
	$(call with-real-kafka,SHOP_FAULTS=1 go test -count=1 -timeout 20m -v -run 'TestFaults' ./e2e/faults/)
