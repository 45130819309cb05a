# shellcheck shell=bash
# A real Kubernetes control plane on loopback, without Docker:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok
# (which fakes one Node and makes its pods Running/Ready/Succeeded).
#
# Source this file, then:
#   cluster_up DIR     start everything with state and logs under DIR; exports
#                      KUBECONFIG, KUBECTL, CLUSTER_BIN
#   cluster_down       stop everything cluster_up started, by PID, newest first
# Call cluster_down from an EXIT trap so a failure never leaves processes behind.
#
# Needs: go (build.sh builds the binaries once), openssl, curl, python3 with
# PyYAML (Debian: python3-yaml).

CLUSTER_HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CLUSTER_PIDS=()
CLUSTER_NAMES=()
CLUSTER_DIR=""
CLUSTER_ADMIN_TOKEN=""

clog() { printf '%s [cluster] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# free_port prints a TCP port on 127.0.0.1 that is free right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start NAME CMD ARGS...: runs CMD in the background, logging to DIR/NAME.log.
cluster_start() {
  local name=$1; shift
  "$@" >"$CLUSTER_DIR/$name.log" 2>&1 </dev/null 3>&- 4>&- &
  CLUSTER_PIDS+=("$!")
  CLUSTER_NAMES+=("$name")
  echo "$name $!" >>"$CLUSTER_DIR/pids"
}

# wait_for WHAT SECONDS CMD...: retries CMD every 0.2 s until it succeeds.
cluster_wait_for() {
  local what=$1 timeout=$2; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      clog "timed out after ${timeout}s waiting for $what"
      return 1
    fi
    cluster_check_alive || return 1
    sleep 0.2
  done
}

# cluster_check_alive fails (and shows the log) if a started process has exited.
cluster_check_alive() {
  local i
  for i in "${!CLUSTER_PIDS[@]}"; do
    if ! kill -0 "${CLUSTER_PIDS[$i]}" 2>/dev/null; then
      clog "${CLUSTER_NAMES[$i]} (pid ${CLUSTER_PIDS[$i]}) exited; last lines of its log:"
      tail -n 30 "$CLUSTER_DIR/${CLUSTER_NAMES[$i]}.log" >&2
      return 1
    fi
  done
}

# cluster_prereqs fails with a list of what is missing on this machine.
cluster_prereqs() {
  local c missing=()
  for c in go openssl curl python3; do command -v "$c" >/dev/null || missing+=("$c"); done
  python3 -c 'import yaml' 2>/dev/null || missing+=("python3-yaml (PyYAML)")
  if ((${#missing[@]})); then
    clog "missing on this machine: ${missing[*]}"
    return 1
  fi
}

cluster_up() {
  cluster_prereqs || return 1
  CLUSTER_DIR=$1
  mkdir -p "$CLUSTER_DIR"
  : >"$CLUSTER_DIR/pids"
  local start=$SECONDS

  CLUSTER_BIN="$("$CLUSTER_HACK_DIR/build.sh")/bin" || return 1
  local stages; stages="$(dirname "$CLUSTER_BIN")/stages"
  export CLUSTER_BIN
  export KUBECTL="$CLUSTER_BIN/kubectl"

  local d=$CLUSTER_DIR
  local etcd_port etcd_peer api_port
  etcd_port=$(free_port); etcd_peer=$(free_port); api_port=$(free_port)

  # Credentials: a static admin token in system:masters, a service-account key pair.
  CLUSTER_ADMIN_TOKEN=$(openssl rand -hex 24)
  echo "$CLUSTER_ADMIN_TOKEN,admin,admin,system:masters" >"$d/tokens.csv"
  openssl genrsa -out "$d/sa.key" 2048 2>/dev/null || return 1
  openssl rsa -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null || return 1

  clog "starting etcd on 127.0.0.1:$etcd_port"
  cluster_start etcd "$CLUSTER_BIN/etcd" \
    --name=test --data-dir="$d/etcd" \
    --listen-client-urls="http://127.0.0.1:$etcd_port" \
    --advertise-client-urls="http://127.0.0.1:$etcd_port" \
    --listen-peer-urls="http://127.0.0.1:$etcd_peer" \
    --initial-advertise-peer-urls="http://127.0.0.1:$etcd_peer" \
    --initial-cluster="test=http://127.0.0.1:$etcd_peer" \
    --unsafe-no-fsync --log-level=warn
  cluster_wait_for etcd 30 curl -fsS "http://127.0.0.1:$etcd_port/health" || return 1

  clog "starting kube-apiserver on https://127.0.0.1:$api_port"
  cluster_start kube-apiserver "$CLUSTER_BIN/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$etcd_port" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$api_port" \
    --cert-dir="$d/certs" \
    --token-auth-file="$d/tokens.csv" \
    --authorization-mode=RBAC \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$d/sa.pub" \
    --service-account-signing-key-file="$d/sa.key" \
    --service-cluster-ip-range=10.96.0.0/16 \
    --endpoint-reconciler-type=none \
    --allow-privileged=true \
    --profiling=false
  cluster_wait_for kube-apiserver 60 curl -fsSk -H "Authorization: Bearer $CLUSTER_ADMIN_TOKEN" \
    "https://127.0.0.1:$api_port/readyz" || return 1

  # Serving cert and its CA live in cert-dir; the file holds the chain.
  export KUBECONFIG="$d/kubeconfig"
  cat >"$KUBECONFIG" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority: $d/certs/apiserver.crt
users:
- name: admin
  user:
    token: $CLUSTER_ADMIN_TOKEN
contexts:
- name: test
  context: {cluster: test, user: admin, namespace: default}
current-context: test
EOF
  chmod 600 "$KUBECONFIG"

  clog "starting kube-controller-manager and kube-scheduler"
  cluster_start kube-controller-manager "$CLUSTER_BIN/kube-controller-manager" \
    --kubeconfig="$KUBECONFIG" \
    --authentication-kubeconfig="$KUBECONFIG" --authorization-kubeconfig="$KUBECONFIG" \
    --authentication-skip-lookup \
    --bind-address=127.0.0.1 --secure-port="$(free_port)" \
    --leader-elect=false \
    --service-account-private-key-file="$d/sa.key" \
    --root-ca-file="$d/certs/apiserver.crt" \
    --use-service-account-credentials=false \
    --service-cluster-ip-range=10.96.0.0/16 \
    --controllers='*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller' \
    --concurrent-deployment-syncs=5 --profiling=false
  cluster_start kube-scheduler "$CLUSTER_BIN/kube-scheduler" \
    --kubeconfig="$KUBECONFIG" \
    --authentication-kubeconfig="$KUBECONFIG" --authorization-kubeconfig="$KUBECONFIG" \
    --authentication-skip-lookup \
    --bind-address=127.0.0.1 --secure-port="$(free_port)" \
    --leader-elect=false --profiling=false

  # kwok: manages Nodes annotated kwok.x-k8s.io/node=fake and their Pods,
  # driven by the stage files of its module plus ours (bare pods complete).
  local cfg="$d/kwok.yaml" f
  : >"$cfg"
  for f in "$stages"/node/fast/*.yaml "$stages"/node/heartbeat/*.yaml \
    "$stages"/pod/fast/*.yaml "$CLUSTER_HACK_DIR"/stages/*.yaml; do
    case $(basename "$f") in kustomization.yaml) continue ;; esac
    { cat "$f"; echo "---"; } >>"$cfg"
  done
  clog "starting kwok"
  cluster_start kwok "$CLUSTER_BIN/kwok" \
    --config="$cfg" \
    --kubeconfig="$KUBECONFIG" \
    --manage-all-nodes=false \
    --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --cidr=10.244.0.0/16 --node-ip=10.0.0.10 \
    --node-lease-duration-seconds=40

  # Fake nodes in as many zones, so topology spread and anti-affinity have room.
  local i zones=(a b c) nodes=()
  for ((i = 0; i < ${CLUSTER_NODES:-3}; i++)); do nodes+=("node/kwok-node-$i"); done
  for ((i = 0; i < ${CLUSTER_NODES:-3}; i++)); do
    cat <<EOF
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: kwok-node-$i
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    topology.kubernetes.io/zone: zone-${zones[$((i % 3))]}
    type: kwok
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110", ephemeral-storage: 100Gi}
  capacity: {cpu: "32", memory: 256Gi, pods: "110", ephemeral-storage: 100Gi}
---
EOF
  done | "$KUBECTL" apply -f - >/dev/null || return 1
  cluster_wait_for "${#nodes[@]} kwok nodes Ready" 60 \
    "$KUBECTL" wait --for=condition=Ready "${nodes[@]}" --timeout=1s || return 1
  cluster_wait_for "the default ServiceAccount" 60 \
    "$KUBECTL" get serviceaccount default -n default || return 1
  clog "control plane ready in $((SECONDS - start))s (KUBECONFIG=$KUBECONFIG)"
}

# cluster_down stops every process cluster_up started: SIGTERM, then SIGKILL
# after 10 s, newest first.
cluster_down() {
  local i pid name
  for ((i = ${#CLUSTER_PIDS[@]} - 1; i >= 0; i--)); do
    pid=${CLUSTER_PIDS[$i]} name=${CLUSTER_NAMES[$i]}
    kill -0 "$pid" 2>/dev/null || continue
    kill -TERM "$pid" 2>/dev/null
    local n=0
    while kill -0 "$pid" 2>/dev/null && ((n < 50)); do sleep 0.2; n=$((n + 1)); done
    if kill -0 "$pid" 2>/dev/null; then
      clog "$name (pid $pid) ignored SIGTERM; killing it"
      kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
  done
  ((${#CLUSTER_PIDS[@]})) && clog "stopped ${#CLUSTER_PIDS[@]} processes"
  CLUSTER_PIDS=() CLUSTER_NAMES=()
}
