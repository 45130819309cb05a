# shellcheck shell=bash
# A real single-node Kubernetes cluster inside a network namespace of its own:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, containerd,
# kubelet, kube-proxy and CoreDNS (a Deployment), with real pods.
#
# Source this file (as root), then:
#   node_up WORKDIR          build (once, cached) and start everything, state and
#                            logs under WORKDIR; exports and writes to WORKDIR/env:
#                            KUBECONFIG NODE_NETNS NODE_IP CONTAINERD_SOCK NODE_BIN
#                            POD_CIDR SERVICE_CIDR (plus NODE_NAME, NODE_DNS_IP)
#   node_exec CMD...         run CMD inside the node's network namespace
#   node_import_image TAR    import an OCI archive into containerd (namespace k8s.io)
#   node_down                stop everything by PID and remove what node_up made:
#                            containers, mounts, cgroups, the namespace (and with it
#                            every interface and iptables rule of the node)
#   node_leftovers WORKDIR   print what a run left behind; fails if anything
# Call node_down from an EXIT trap so a failure never leaves anything behind.
#
# Every address the node uses belongs to its own namespace: the API server,
# kubelet and kube-proxy listen on NODE_IP (a veth inside it), pods
# sit on a bridge in there, and CoreDNS has no forwarder, so nothing outside
# 127.0.0.0/8 and the node's namespaces is ever addressed. Processes enter only
# the network namespace (nsenter --net), so the mounts kubelet and containerd
# make are in the host's mount table, all under WORKDIR, where node_down finds
# them. Cgroups live under one root per run (/node-<id> in every hierarchy).

NODE_HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NODE_PIDS=()
NODE_NAMES=()
NODE_DIR=""
NODE_ID=""

# Addresses inside the node's namespace only (see node_up).
NODE_IP_DEFAULT=10.200.0.1
POD_CIDR_DEFAULT=10.244.0.0/24
SERVICE_CIDR_DEFAULT=10.96.0.0/16

nlog() { printf '%s [node] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

node_exec() {
  nsenter --net="/run/netns/$NODE_NETNS" -- "$@"
}

# node_start NAME CMD ARGS...: runs CMD in the node's namespace in the
# background, logging to DIR/logs/NAME.log. nsenter execs CMD, so the PID is CMD's.
node_start() {
  local name=$1; shift
  nsenter --net="/run/netns/$NODE_NETNS" -- "$@" >"$NODE_DIR/logs/$name.log" 2>&1 </dev/null 3>&- 4>&- 9>&- &
  NODE_PIDS+=("$!")
  NODE_NAMES+=("$name")
  echo "$name $!" >>"$NODE_DIR/pids"
}

# node_wait_for WHAT SECONDS CMD...: retries CMD every 0.2 s until it succeeds,
# failing early when a process node_up started has exited.
node_wait_for() {
  local what=$1 timeout=$2; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      nlog "timed out after ${timeout}s waiting for $what"
      return 1
    fi
    node_check_alive || return 1
    sleep 0.2
  done
}

node_check_alive() {
  local i
  for i in "${!NODE_PIDS[@]}"; do
    if ! kill -0 "${NODE_PIDS[$i]}" 2>/dev/null; then
      nlog "${NODE_NAMES[$i]} (pid ${NODE_PIDS[$i]}) exited; last lines of $NODE_DIR/logs/${NODE_NAMES[$i]}.log:"
      tail -n 30 "$NODE_DIR/logs/${NODE_NAMES[$i]}.log" >&2
      return 1
    fi
  done
}

node_kubectl() { node_exec "$NODE_BIN/kubectl" --kubeconfig="$KUBECONFIG" "$@"; }

node_import_image() {
  local archive=$1
  [ -f "$archive" ] || { nlog "image archive $archive does not exist: build it with hack/node/image.sh"; return 1; }
  "$NODE_BIN/ctr" --address "$CONTAINERD_SOCK" -n k8s.io images import --local "$archive" >/dev/null ||
    { nlog "importing $archive into containerd failed (is it an OCI archive from hack/node/image.sh?)"; return 1; }
}

# node_cgroup_mounts prints every cgroup (v1 or v2) mount point.
node_cgroup_mounts() {
  awk '$3 == "cgroup" || $3 == "cgroup2" { print $2 }' /proc/self/mounts
}

node_up() {
  if [ "$(id -u)" != 0 ]; then
    nlog "a real node needs root (network namespace, mounts, cgroups): run as root"
    return 1
  fi
  NODE_DIR=$1
  mkdir -p "$NODE_DIR/logs"
  NODE_DIR=$(cd "$NODE_DIR" && pwd)
  : >"$NODE_DIR/pids"
  local start=$SECONDS d=$NODE_DIR

  NODE_BIN=$("$NODE_HACK_DIR/build.sh") || return 1
  local images; images="$(dirname "$NODE_BIN")/images"

  NODE_ID=$(openssl rand -hex 4)
  NODE_NETNS="ssnode-$NODE_ID"
  NODE_NAME="node-$NODE_ID"
  NODE_IP=$NODE_IP_DEFAULT
  POD_CIDR=$POD_CIDR_DEFAULT
  SERVICE_CIDR=$SERVICE_CIDR_DEFAULT
  NODE_DNS_IP=10.96.0.10
  local cgroot="/ssnode-$NODE_ID" pod_gw=10.244.0.1 bridge=ssbr0
  CONTAINERD_SOCK="$d/containerd/containerd.sock"
  KUBECONFIG="$d/kubeconfig"
  export NODE_NETNS NODE_IP NODE_NAME POD_CIDR SERVICE_CIDR NODE_DNS_IP CONTAINERD_SOCK KUBECONFIG NODE_BIN
  # What node_down needs even from another shell (hack/node/down.sh).
  cat >"$d/node-state" <<EOF
NODE_ID=$NODE_ID
NODE_NETNS=$NODE_NETNS
NODE_CGROUP_ROOT=$cgroot
EOF
  # kubelet's device-plugin socket has a fixed path; remember whether the
  # folder was there before, so node_down only removes what a node made.
  NODE_DP_PREEXISTING=0
  [ -e /var/lib/kubelet/device-plugins ] && NODE_DP_PREEXISTING=1

  nlog "network namespace $NODE_NETNS: $NODE_IP, pods $POD_CIDR, services $SERVICE_CIDR"
  ip netns add "$NODE_NETNS" || return 1
  node_exec ip link set lo up || return 1
  # NODE_IP sits on one end of a veth pair whose both ends stay in the
  # namespace (the kernel here has no dummy device).
  node_exec ip link add node0 type veth peer name node0p || return 1
  node_exec ip addr add "$NODE_IP/24" dev node0 || return 1
  node_exec ip link set node0p up || return 1
  node_exec ip link set node0 up || return 1
  # Service IPs are translated in OUTPUT, after routing: they need a route to
  # exist. There is no default route, so any other address is unreachable.
  node_exec ip route add "$SERVICE_CIDR" dev node0 || return 1
  node_exec sysctl -qw net.ipv4.ip_forward=1 || return 1
  node_exec sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || true

  # One cgroup root per run in every hierarchy, so node_down removes exactly ours.
  local m
  while read -r m; do
    mkdir -p "$m$cgroot" || return 1
    if [ -f "$m/cpuset.cpus" ]; then
      cat "$m/cpuset.cpus" >"$m$cgroot/cpuset.cpus"
      cat "$m/cpuset.mems" >"$m$cgroot/cpuset.mems"
    fi
  done < <(node_cgroup_mounts)

  # Credentials: static tokens (admin in system:masters, the node, kube-proxy)
  # and a service-account key pair.
  local admin_token node_token proxy_token
  admin_token=$(openssl rand -hex 24); node_token=$(openssl rand -hex 24); proxy_token=$(openssl rand -hex 24)
  cat >"$d/tokens.csv" <<EOF
$admin_token,admin,admin,system:masters
$node_token,system:node:$NODE_NAME,node,system:nodes
$proxy_token,system:kube-proxy,kube-proxy
EOF
  chmod 600 "$d/tokens.csv"
  openssl genrsa -out "$d/sa.key" 2048 2>/dev/null || return 1
  openssl rsa -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null || return 1

  nlog "starting etcd"
  node_start etcd "$NODE_BIN/etcd" \
    --name=node --data-dir="$d/etcd" \
    --listen-client-urls=http://127.0.0.1:2379 --advertise-client-urls=http://127.0.0.1:2379 \
    --listen-peer-urls=http://127.0.0.1:2380 --initial-advertise-peer-urls=http://127.0.0.1:2380 \
    --initial-cluster=node=http://127.0.0.1:2380 \
    --listen-metrics-urls=http://127.0.0.1:2381 \
    --unsafe-no-fsync --log-level=warn
  node_wait_for etcd 30 node_exec curl -fsS http://127.0.0.1:2379/health || return 1

  # The self-signed serving certificate covers the advertise address (NODE_IP)
  # and the first Service IP (what pods reach as kubernetes.default).
  nlog "starting kube-apiserver on https://$NODE_IP:6443"
  node_start kube-apiserver "$NODE_BIN/kube-apiserver" \
    --etcd-servers=http://127.0.0.1:2379 \
    --bind-address="$NODE_IP" --advertise-address="$NODE_IP" --secure-port=6443 \
    --cert-dir="$d/certs" \
    --token-auth-file="$d/tokens.csv" \
    --authorization-mode=Node,RBAC \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$d/sa.pub" \
    --service-account-signing-key-file="$d/sa.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --endpoint-reconciler-type=lease \
    --kubelet-preferred-address-types=InternalIP \
    --allow-privileged=true \
    --profiling=false
  node_wait_for kube-apiserver 90 node_exec curl -fsSk -H "Authorization: Bearer $admin_token" \
    "https://$NODE_IP:6443/readyz" || return 1

  node_kubeconfig "$KUBECONFIG" "$admin_token"
  node_kubeconfig "$d/kubelet.kubeconfig" "$node_token"
  node_kubeconfig "$d/kube-proxy.kubeconfig" "$proxy_token"

  nlog "starting kube-controller-manager and kube-scheduler"
  node_start kube-controller-manager "$NODE_BIN/kube-controller-manager" \
    --kubeconfig="$KUBECONFIG" \
    --authentication-kubeconfig="$KUBECONFIG" --authorization-kubeconfig="$KUBECONFIG" \
    --authentication-skip-lookup \
    --bind-address=127.0.0.1 --secure-port=10257 \
    --leader-elect=false \
    --service-account-private-key-file="$d/sa.key" \
    --root-ca-file="$d/certs/apiserver.crt" \
    --use-service-account-credentials=true \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --controllers='*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller' \
    --profiling=false
  node_start kube-scheduler "$NODE_BIN/kube-scheduler" \
    --kubeconfig="$KUBECONFIG" \
    --authentication-kubeconfig="$KUBECONFIG" --authorization-kubeconfig="$KUBECONFIG" \
    --authentication-skip-lookup \
    --bind-address=127.0.0.1 --secure-port=10259 \
    --leader-elect=false --profiling=false

  node_containerd_config "$d" "$bridge" "$pod_gw" || return 1
  nlog "starting containerd"
  node_start containerd env TMPDIR="$d/tmp" "$NODE_BIN/containerd" --config="$d/containerd/config.toml"
  node_wait_for containerd 60 "$NODE_BIN/ctr" --address "$CONTAINERD_SOCK" version || return 1
  node_import_image "$images/pause.tar" || return 1
  node_import_image "$images/coredns.tar" || return 1

  node_kubelet_config "$d" "$cgroot"
  nlog "starting kubelet ($NODE_NAME)"
  node_start kubelet "$NODE_BIN/kubelet" \
    --config="$d/kubelet/config.yaml" \
    --kubeconfig="$d/kubelet.kubeconfig" \
    --node-ip="$NODE_IP" --hostname-override="$NODE_NAME" \
    --root-dir="$d/kubelet/root" --cert-dir="$d/kubelet/pki" \
    --container-runtime-endpoint="unix://$CONTAINERD_SOCK" \
    --v=1

  cat >"$d/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clusterCIDR: $POD_CIDR
bindAddress: $NODE_IP
nodePortAddresses: ["$NODE_IP/32"]
hostnameOverride: $NODE_NAME
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
clientConnection:
  kubeconfig: $d/kube-proxy.kubeconfig
conntrack:
  maxPerCore: 0
iptables:
  localhostNodePorts: false
EOF
  nlog "starting kube-proxy"
  node_start kube-proxy "$NODE_BIN/kube-proxy" --config="$d/kube-proxy.yaml"

  node_wait_for "node $NODE_NAME Ready" 120 \
    node_kubectl wait --for=condition=Ready "node/$NODE_NAME" --timeout=2s || return 1
  nlog "node $NODE_NAME Ready after $((SECONDS - start))s"

  node_coredns "$images" || return 1
  node_wait_for "CoreDNS Ready" 120 \
    node_kubectl -n kube-system rollout status deployment/coredns --timeout=2s || return 1
  node_wait_for "the default ServiceAccount" 60 node_kubectl get serviceaccount default -n default || return 1

  cat >"$d/env" <<EOF
export KUBECONFIG=$KUBECONFIG
export NODE_NETNS=$NODE_NETNS
export NODE_IP=$NODE_IP
export NODE_NAME=$NODE_NAME
export NODE_DNS_IP=$NODE_DNS_IP
export CONTAINERD_SOCK=$CONTAINERD_SOCK
export NODE_BIN=$NODE_BIN
export POD_CIDR=$POD_CIDR
export SERVICE_CIDR=$SERVICE_CIDR
EOF
  nlog "node and CoreDNS ready in $((SECONDS - start))s (env: $d/env)"
}

# node_kubeconfig FILE TOKEN writes a kubeconfig for the API server on NODE_IP.
node_kubeconfig() {
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: node
  cluster:
    server: https://$NODE_IP:6443
    certificate-authority: $NODE_DIR/certs/apiserver.crt
users:
- name: user
  user:
    token: $2
contexts:
- name: node
  context: {cluster: node, user: user, namespace: default}
current-context: node
EOF
  chmod 600 "$1"
}

# node_containerd_config DIR BRIDGE GATEWAY writes containerd's config and the
# CNI network: its own root, state, socket and runc root under DIR, so it never
# touches a system containerd.
node_containerd_config() {
  local d=$1 bridge=$2 gw=$3 c=$1/containerd
  mkdir -p "$c" "$d/cni/conf" "$d/cni/ipam" "$d/tmp"
  # restrict_oom_score_adj: root here lacks CAP_SYS_RESOURCE, and runc fails
  # every sandbox when asked to lower an OOM score.
  cat >"$c/config.toml" <<EOF
version = 3
root = "$c/root"
state = "$c/state"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.nri.v1.nri", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"

[plugins."io.containerd.cri.v1.runtime"]
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_cdi = false
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        SystemdCgroup = false
        Root = "$c/runc"
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["/usr/lib/cni"]
    conf_dir = "$d/cni/conf"
    max_conf_num = 1

[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "localhost/scalable-shop/pause:node"

[plugins."io.containerd.grpc.v1.cri"]
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
EOF
  # The network's name is per run: libcni caches results under
  # /var/lib/cni/results/<name>-..., which node_down clears by that name.
  cat >"$d/cni/conf/10-node.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "ssnode-$NODE_ID",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$bridge",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$d/cni/ipam",
        "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$gw"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
}

# node_kubelet_config DIR CGROUP_ROOT writes the KubeletConfiguration.
node_kubelet_config() {
  local d=$1 cgroot=$2
  mkdir -p "$d/kubelet/root" "$d/kubelet/pod-logs"
  # cgroup v1 here: failCgroupV1 false. resolvConf "": pods never get the
  # machine's resolver, only CoreDNS. Anonymous + AlwaysAllow on the kubelet
  # API only because the whole node is private to one run. Eviction thresholds
  # are low because the disk is shared with everything else on the machine.
  cat >"$d/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
cgroupRoot: $cgroot
failCgroupV1: false
failSwapOn: false
resolvConf: ""
clusterDNS: [$NODE_DNS_IP]
clusterDomain: cluster.local
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
podLogsDir: $d/kubelet/pod-logs
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  nodefs.available: "1%"
  imagefs.available: "1%"
  nodefs.inodesFree: "1%"
  memory.available: "100Mi"
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization:
  mode: AlwaysAllow
EOF
}

# node_coredns IMAGES deploys CoreDNS (image built here, no forward plugin).
node_coredns() {
  node_kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: ServiceAccount
metadata: {name: coredns, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:coredns"}
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:coredns"}
subjects:
- {kind: ServiceAccount, name: coredns, namespace: kube-system}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system}
data:
  Corefile: |
    .:1053 {
        errors
        health :8080
        ready :8181
        kubernetes cluster.local in-addr.arpa ip6.arpa {
            pods insecure
            fallthrough in-addr.arpa ip6.arpa
        }
        cache 30
    }
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: coredns
  namespace: kube-system
  labels: {k8s-app: kube-dns}
spec:
  replicas: 1
  selector:
    matchLabels: {k8s-app: kube-dns}
  template:
    metadata:
      labels: {k8s-app: kube-dns}
    spec:
      serviceAccountName: coredns
      priorityClassName: system-cluster-critical
      dnsPolicy: Default
      securityContext:
        runAsNonRoot: true
        seccompProfile: {type: RuntimeDefault}
      containers:
      - name: coredns
        image: localhost/scalable-shop/coredns:v1.14.7
        imagePullPolicy: Never
        args: ["-conf", "/etc/coredns/Corefile"]
        ports:
        - {name: dns, containerPort: 1053, protocol: UDP}
        - {name: dns-tcp, containerPort: 1053, protocol: TCP}
        resources:
          requests: {cpu: 50m, memory: 32Mi}
          limits: {memory: 128Mi}
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities: {drop: [ALL]}
        livenessProbe:
          httpGet: {path: /health, port: 8080}
          periodSeconds: 10
        readinessProbe:
          httpGet: {path: /ready, port: 8181}
          periodSeconds: 2
        volumeMounts:
        - {name: config, mountPath: /etc/coredns, readOnly: true}
      volumes:
      - name: config
        configMap: {name: coredns}
---
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: {k8s-app: kube-dns}
spec:
  selector: {k8s-app: kube-dns}
  clusterIP: $NODE_DNS_IP
  ports:
  - {name: dns, port: 53, targetPort: 1053, protocol: UDP}
  - {name: dns-tcp, port: 53, targetPort: 1053, protocol: TCP}
EOF
}

# node_stop_pid PID NAME: SIGTERM, then SIGKILL after 10 s.
node_stop_pid() {
  local pid=$1 name=$2 n=0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  while kill -0 "$pid" 2>/dev/null && ((n < 50)); do sleep 0.2; n=$((n + 1)); done
  if kill -0 "$pid" 2>/dev/null; then
    nlog "$name (pid $pid) ignored SIGTERM; killing it"
    kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
}

# node_own_pids prints the PIDs of processes this run owns that are not in
# NODE_PIDS: everything in the run's cgroups (containers) and every shim
# started for the run's containerd (found by its socket in the command line).
node_own_pids() {
  local m f p
  [ -n "$NODE_ID" ] || return 0
  while read -r m; do
    [ -d "$m/ssnode-$NODE_ID" ] || continue
    find "$m/ssnode-$NODE_ID" -name cgroup.procs -exec cat {} + 2>/dev/null
  done < <(node_cgroup_mounts)
  for f in /proc/[0-9]*/cmdline; do
    p=${f#/proc/}; p=${p%/cmdline}
    { tr '\0' ' ' <"$f" | grep -qF -- "-address $CONTAINERD_SOCK "; } 2>/dev/null && echo "$p"
  done
}

node_down() {
  [ -n "$NODE_DIR" ] || return 0
  local i pid name n=${#NODE_PIDS[@]}
  # Newest first. Containers go once kubelet is gone (it would restart them)
  # and before containerd (which removes their tasks, mounts and shims).
  for ((i = n - 1; i >= 0; i--)); do
    pid=${NODE_PIDS[$i]} name=${NODE_NAMES[$i]}
    if [ "$name" = containerd ] && kill -0 "$pid" 2>/dev/null; then
      node_remove_containers
    fi
    node_stop_pid "$pid" "$name"
  done
  # Whatever is still running of ours (a shim, a container whose shim died).
  local left=() p
  mapfile -t left < <(node_own_pids | sort -un)
  for p in "${left[@]}"; do [ "$p" != $$ ] && kill -KILL "$p" 2>/dev/null; done
  ((${#left[@]})) && sleep 0.5
  node_unmount "$NODE_DIR"
  node_remove_cgroups
  [ -n "$NODE_NETNS" ] && ip netns del "$NODE_NETNS" 2>/dev/null
  [ -n "$NODE_ID" ] && rm -f /var/lib/cni/results/"ssnode-$NODE_ID"-* 2>/dev/null
  node_remove_log_links "$NODE_DIR"
  node_remove_fixed_path_files "$NODE_DIR"
  # Fixed paths kubelet, libcni and the shims create when missing: removed only
  # when empty, so another node's files keep them.
  rmdir /var/lib/cni/results /var/lib/cni /var/log/containers /run/containerd/s /run/containerd 2>/dev/null
  ((n)) && nlog "stopped $n processes; removed namespace $NODE_NETNS, mounts and cgroups of the run"
  NODE_PIDS=() NODE_NAMES=()
  NODE_DIR_DONE=$NODE_DIR
  NODE_DIR=""
}

# node_remove_containers stops and deletes every pod sandbox and container
# through containerd, so shims exit and unmount the rootfs themselves.
node_remove_containers() {
  local ctr=("$NODE_BIN/ctr" --address "$CONTAINERD_SOCK" -n k8s.io) ids t
  mapfile -t ids < <("${ctr[@]}" tasks ls -q 2>/dev/null)
  for t in "${ids[@]}"; do "${ctr[@]}" tasks kill -a -s SIGKILL "$t" >/dev/null 2>&1; done
  for t in "${ids[@]}"; do
    timeout 10 "${ctr[@]}" tasks rm -f "$t" >/dev/null 2>&1
  done
  mapfile -t ids < <("${ctr[@]}" containers ls -q 2>/dev/null)
  for t in "${ids[@]}"; do "${ctr[@]}" containers rm "$t" >/dev/null 2>&1; done
}

# node_unmount DIR unmounts everything mounted under DIR, deepest first
# (kubelet's volumes, containerd's rootfs overlays, sandbox shm, netns files).
node_unmount() {
  local dir=$1 m tries
  for tries in 1 2 3; do
    local mounts=()
    mapfile -t mounts < <(awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | awk '{ print length, $0 }' | sort -rn | cut -d' ' -f2-)
    ((${#mounts[@]})) || return 0
    for m in "${mounts[@]}"; do
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
    done
  done
}

node_remove_cgroups() {
  local m
  [ -n "$NODE_ID" ] || return 0
  while read -r m; do
    [ -d "$m/ssnode-$NODE_ID" ] || continue
    find "$m/ssnode-$NODE_ID" -depth -type d -exec rmdir {} + 2>/dev/null
  done < <(node_cgroup_mounts)
}

# node_remove_fixed_path_files DIR removes what containerd and kubelet write
# outside DIR for this run's containers: the shims' sockets
# (/run/containerd/s/<sha256 of "<socket>/k8s.io/<id>">) and the loopback
# network's CNI cache (/var/lib/cni/results/cni-loopback-<id>-lo), found by
# the container and sandbox ids in containerd's own folders.
node_remove_fixed_path_files() {
  local id
  while read -r id; do
    rm -f "/run/containerd/s/$(printf '%s' "$1/containerd/containerd.sock/k8s.io/$id" | sha256sum | cut -d' ' -f1)" \
      "/var/lib/cni/results/cni-loopback-$id-lo"
  done < <(node_container_ids "$1")
  # The device-plugin socket is shared by every kubelet on the machine: ours
  # to remove only if the folder was not there before and no other node runs.
  if [ "${NODE_DP_PREEXISTING:-1}" = 0 ] && ! ip netns list | grep -q '^ssnode-'; then
    rm -f /var/lib/kubelet/device-plugins/kubelet.sock
    rmdir /var/lib/kubelet/device-plugins /var/lib/kubelet 2>/dev/null
  fi
}

# node_container_ids DIR prints every container and sandbox id containerd
# kept under DIR.
node_container_ids() {
  local c=$1/containerd
  ls "$c/state/io.containerd.runtime.v2.task/k8s.io" "$c/root/io.containerd.grpc.v1.cri/sandboxes" \
    "$c/root/io.containerd.grpc.v1.cri/containers" 2>/dev/null | grep -E '^[0-9a-f]{64}$' | sort -u
}

# kubelet keeps symlinks to each container's log in /var/log/containers (a
# fixed path); ours point into DIR.
node_remove_log_links() {
  local l
  for l in /var/log/containers/*.log; do
    [ -L "$l" ] || continue
    case $(readlink "$l") in "$1"/*) rm -f "$l" ;; esac
  done
}

# node_leftovers DIR [ID] prints what the run with state in DIR left on the
# machine and fails if it left anything.
node_leftovers() {
  local dir=$1 id=${2:-$NODE_ID} bad=0 m
  [ -n "$id" ] || { nlog "node_leftovers: no run id"; return 1; }
  if ip netns list | grep -qw "ssnode-$id"; then echo "leftover: network namespace ssnode-$id"; bad=1; fi
  if awk -v d="$dir/" 'index($2, d) == 1' /proc/self/mounts | grep -q .; then
    echo "leftover: mounts under $dir:"; awk -v d="$dir/" 'index($2, d) == 1 { print "  " $2 }' /proc/self/mounts; bad=1
  fi
  while read -r m; do
    if [ -d "$m/ssnode-$id" ]; then echo "leftover: cgroup $m/ssnode-$id"; bad=1; fi
  done < <(node_cgroup_mounts)
  local f p
  for f in /proc/[0-9]*/cmdline; do
    p=${f#/proc/}; p=${p%/cmdline}
    { tr '\0' ' ' <"$f" | grep -qF -- "$dir/"; } 2>/dev/null || continue
    echo "leftover: process $p: $(tr '\0' ' ' <"$f" 2>/dev/null | cut -c1-150)"; bad=1
  done
  local cid
  while read -r cid; do
    [ -e "/var/lib/cni/results/cni-loopback-$cid-lo" ] && { echo "leftover: /var/lib/cni/results/cni-loopback-$cid-lo"; bad=1; }
    f=/run/containerd/s/$(printf '%s' "$dir/containerd/containerd.sock/k8s.io/$cid" | sha256sum | cut -d' ' -f1)
    [ -e "$f" ] && { echo "leftover: shim socket $f"; bad=1; }
  done < <(node_container_ids "$dir")
  if [ -S /var/lib/kubelet/device-plugins/kubelet.sock ] && ! ip netns list | grep -q '^ssnode-'; then
    echo "leftover: /var/lib/kubelet/device-plugins/kubelet.sock with no node running"; bad=1
  fi
  if ls /var/lib/cni/results/"ssnode-$id"-* >/dev/null 2>&1; then echo "leftover: CNI cache /var/lib/cni/results/ssnode-$id-*"; bad=1; fi
  for f in /var/log/containers/*.log; do
    [ -L "$f" ] && case $(readlink "$f") in "$dir"/*) echo "leftover: log link $f"; bad=1 ;; esac
  done
  if iptables-save 2>/dev/null | grep -qE 'KUBE-|CNI-|ssbr0|ssnode'; then
    echo "leftover: iptables rules of a node in the host namespace"; bad=1
  fi
  if ip link show ssbr0 >/dev/null 2>&1; then echo "leftover: bridge ssbr0 in the host namespace"; bad=1; fi
  ((bad)) && return 1
  echo "clean: no process, network namespace, mount, cgroup, CNI cache, log link or iptables rule of run $id is left"
}
