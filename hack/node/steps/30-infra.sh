#!/usr/bin/env bash
# The shop's infrastructure on the node:
#  - Kafka: kafka/local's Apache Kafka 4.4 broker (KRaft, SASL/SCRAM-SHA-512,
#    least-privilege ACLs for cm-server, cm-api, cm-api-dlq, cm-api-rebuild) as a
#    process in the node's namespace, listening on NODE_IP, where the pods reach it;
#    Strimzi's images cannot be had here (kafka/chart stays an API-server test).
#  - MongoDB: FerretDB in a pod (shop/ferretdb.yaml), its data in WORKDIR/ferretdb-data.
#  - the shop's namespace, under the restricted Pod Security Standard.
. "$(dirname "$0")/../addons/common.sh"

for img in cm-server cm-api ferretdb test-curl; do
  "$NODE_BIN/ctr" --address "$CONTAINERD_SOCK" -n k8s.io images import --local "$WORKDIR/images/$img.tar" >/dev/null ||
    fail "importing $WORKDIR/images/$img.tar into containerd failed"
done
say "imported $SHOP_SERVER_IMAGE, $SHOP_API_IMAGE, $FERRETDB_IMAGE, $TEST_CURL_REPOSITORY:$TEST_CURL_TAG"

kafka_env="KAFKA_LOCAL_DIR='$WORKDIR/kafka' KAFKA_LOCAL_HOST='$NODE_IP' KAFKA_LOCAL_PORT='$KAFKA_PORT' KAFKA_LOCAL_PLAIN_PORT='$KAFKA_PLAIN_PORT' KAFKA_LOCAL_TEST_ACLS=0"
echo "env $kafka_env '$REPO/kafka/local/kafka-local.sh' stop >/dev/null" >>"$WORKDIR/teardown"
env KAFKA_LOCAL_DIR="$WORKDIR/kafka" KAFKA_LOCAL_HOST="$NODE_IP" KAFKA_LOCAL_PORT="$KAFKA_PORT" \
  KAFKA_LOCAL_PLAIN_PORT="$KAFKA_PLAIN_PORT" KAFKA_LOCAL_TEST_ACLS=0 \
  "$REPO/kafka/local/kafka-local.sh" start >"$WORKDIR/logs/kafka-start.log" 2>&1 ||
  { tail -20 "$WORKDIR/logs/kafka-start.log"; fail "kafka/local did not start on $NODE_IP:$KAFKA_PORT"; }
say "Kafka: $(tail -1 "$WORKDIR/logs/kafka-start.log")"

# FerretDB's files, owned by the pod's user (a hostPath volume keeps the node's owner).
install -d -o 65532 -g 65532 -m 0700 "$WORKDIR/ferretdb-data"
render "$HACK_NODE/shop/ferretdb.yaml" | kubectl apply -f - >/dev/null
printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n  labels:\n    pod-security.kubernetes.io/enforce: restricted\n' "$SHOP_NS" |
  kubectl apply -f - >/dev/null
kubectl -n "$MONGO_NS" rollout status deployment/ferretdb --timeout=120s >/dev/null ||
  fail "FerretDB did not become ready: $(kubectl -n "$MONGO_NS" get pods -o wide; kubectl -n "$MONGO_NS" logs deployment/ferretdb --tail=20)"
say "MongoDB: FerretDB ready in $MONGO_NS; namespaces $SHOP_NS and $MONGO_NS enforce the restricted Pod Security Standard"
