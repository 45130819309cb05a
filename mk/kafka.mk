##@ Develop

.PHONY: kafka-local kafka-local-stop kafka-local-status kafka-local-restart kafka-local-reset kafka-local-env

KAFKA_LOCAL := kafka/local/kafka-local.sh

kafka-local: ## Start a real Apache Kafka 4.x broker (KRaft, SASL/SCRAM) on 127.0.0.1:19092 with topics, users and ACLs
	$(KAFKA_LOCAL) start

kafka-local-stop: ## Stop the local Kafka broker (keeps its data)
	$(KAFKA_LOCAL) stop

kafka-local-status: ## Show whether the local Kafka broker runs, its ports and log
	@$(KAFKA_LOCAL) status || true

kafka-local-restart: ## Restart the local Kafka broker on the same data
	$(KAFKA_LOCAL) restart

kafka-local-reset: ## Stop the local Kafka broker and delete its data (the next start formats anew)
	$(KAFKA_LOCAL) reset

kafka-local-env: ## Print the export lines (brokers, SASL users) for tests: eval "$$(make -s kafka-local-env)"
	@$(KAFKA_LOCAL) env
