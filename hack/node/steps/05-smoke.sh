#!/usr/bin/env bash
# The node itself: a 2-replica Deployment of a test image built here answers on
# both pod IPs and, balanced, on its ClusterIP; a second pod reaches the
# Service by its DNS name through CoreDNS; a restricted pod (runAsNonRoot,
# seccomp RuntimeDefault, read-only root, all capabilities dropped) runs with
# its memory limit applied. Runs inside the node's namespace (hack/node/test.sh).
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$HACK_NODE/lib.sh"

ns=smoke
pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; exit 1; }

"$NODE_BIN/ociimage" --name probe:smoke --binary "$NODE_BIN/probe" --out "$WORKDIR/probe.tar" --port 8080
node_import_image "$WORKDIR/probe.tar"
pass "probe image built and imported"

kubectl create namespace "$ns" >/dev/null
kubectl label namespace "$ns" pod-security.kubernetes.io/enforce=restricted >/dev/null
kubectl -n "$ns" apply -f - >/dev/null <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: web
        image: probe:smoke
        imagePullPolicy: Never
        args: [serve, ":8080"]
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
        securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
YAML
kubectl -n "$ns" rollout status deployment/web --timeout=120s >/dev/null
pass "2-replica Deployment Ready"

mapfile -t pods < <(kubectl -n "$ns" get pods -l app=web -o jsonpath='{range .items[*]}{.metadata.name} {.status.podIP}{"\n"}{end}')
((${#pods[@]} == 2)) || fail "want 2 web pods, got ${#pods[@]}"
for p in "${pods[@]}"; do
  name=${p% *} ip=${p#* }
  got=$(curl -fsS --max-time 5 "http://$ip:8080/")
  [ "$got" = "$name" ] || fail "pod $name at $ip answered '$got'"
  pass "pod $name answers on its IP $ip"
done

cip=$(kubectl -n "$ns" get service web -o jsonpath='{.spec.clusterIP}')
# kube-proxy programs the Service a moment after its endpoints are ready.
for _ in $(seq 1 60); do
  curl -fsS --max-time 5 -o /dev/null "http://$cip/" 2>/dev/null && break
  sleep 0.5
done
# kube-proxy may program the second endpoint a sync after the first, so the
# ClusterIP can answer from one pod for a while after both are Ready: keep
# asking (for about a minute) until both have answered.
declare -A seen=()
for _ in $(seq 1 120); do
  got=$(curl -fsS --max-time 5 "http://$cip/") || fail "ClusterIP $cip did not answer"
  seen[$got]=1
  ((${#seen[@]} == 2)) && break
  sleep 0.5
done
((${#seen[@]} == 2)) || fail "ClusterIP $cip reached only ${!seen[*]} in 120 requests over a minute"
pass "ClusterIP $cip balances across both pods"

# A second pod resolves the Service through CoreDNS (its resolv.conf points at
# the cluster DNS only) and fetches from it; also restricted like the rest.
kubectl -n "$ns" apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  restartPolicy: Never
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: client
    image: probe:smoke
    imagePullPolicy: Never
    args: [get, "http://web.smoke.svc.cluster.local/", "20"]
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
YAML
phase=""
for _ in $(seq 1 120); do
  phase=$(kubectl -n "$ns" get pod client -o jsonpath='{.status.phase}')
  case $phase in Succeeded | Failed) break ;; esac
  sleep 0.5
done
out=$(kubectl -n "$ns" logs client)
[ "$phase" = Succeeded ] || fail "client pod $phase: $out"
case " ${!seen[*]} " in *" $out "*) ;; *) fail "client got '$out', not a web pod's name" ;; esac
pass "a second pod reached web.smoke.svc.cluster.local by DNS (answered by $out)"

# The restricted pod: Guaranteed, 32 MiB, read-only root, no capabilities.
kubectl -n "$ns" apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: restricted}
spec:
  securityContext: {runAsNonRoot: true, runAsUser: 65532, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: probe
    image: probe:smoke
    imagePullPolicy: Never
    args: [serve, ":8080"]
    resources:
      requests: {cpu: 50m, memory: 32Mi}
      limits: {cpu: 50m, memory: 32Mi}
    securityContext:
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      capabilities: {drop: [ALL]}
YAML
kubectl -n "$ns" wait --for=condition=Ready pod/restricted --timeout=120s >/dev/null
report=$(kubectl -n "$ns" exec restricted -- /usr/local/bin/probe report)
echo "restricted pod reports: $report"
python3 - "$report" <<'PY' || fail "restricted pod is not restricted as asked"
import json, sys
r = json.loads(sys.argv[1])
want = {"UID": 65532, "CapEff": "0000000000000000", "Seccomp": 2, "NoNewPrivs": 1,
        "RootReadOnly": True, "MemoryLimit": 32 * 1024 * 1024}
bad = {k: (r.get(k), v) for k, v in want.items() if r.get(k) != v}
if bad:
    print("got/want:", bad)
    sys.exit(1)
PY
qos=$(kubectl -n "$ns" get pod restricted -o jsonpath='{.status.qosClass}')
[ "$qos" = Guaranteed ] || fail "restricted pod QoS $qos, want Guaranteed"
pass "restricted pod runs as 65532, no capabilities, seccomp filter, read-only root, 32 MiB limit (QoS $qos)"

kubectl delete namespace "$ns" --wait=false >/dev/null
