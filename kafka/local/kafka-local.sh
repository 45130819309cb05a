#!/usr/bin/env bash
# kafka-local.sh: a real Apache Kafka 4.x broker (KRaft, combined broker+controller,
# one node) on 127.0.0.1, run from the Maven Central jars with the machine's Java 17.
#
#   kafka/local/kafka-local.sh start          fetch jars (once), format (once), start, wait,
#                                             create topics, SCRAM users and ACLs; on a
#                                             running broker only the latter, if changed
#   kafka/local/kafka-local.sh stop           stop the broker (SIGTERM, then SIGKILL); keeps data
#   kafka/local/kafka-local.sh status         running or not (exit 0 / 3), ports, data, log
#   kafka/local/kafka-local.sh env            export lines for tests and the services
#   kafka/local/kafka-local.sh stop-broker    same as stop (for fault tests)
#   kafka/local/kafka-local.sh start-broker   start on the existing data, wait until it serves;
#                                             no Maven, no format, no topic/user/ACL setup
#   kafka/local/kafka-local.sh kill-broker    SIGKILL (a crash), keeps data
#   kafka/local/kafka-local.sh restart        stop-broker + start-broker
#   kafka/local/kafka-local.sh reset          stop and delete the data (next start formats anew)
#   kafka/local/kafka-local.sh fetch          only fetch the jars into the cache
#   kafka/local/kafka-local.sh tool CLASS ... run a Kafka CLI class on the broker's class path,
#                                             e.g. tool org.apache.kafka.tools.TopicCommand
#                                             --bootstrap-server 127.0.0.1:19093 --list
#   kafka/local/kafka-local.sh logs           print the path of the broker log
#
# Environment (defaults in brackets):
#   SCALABLE_SHOP_CACHE          cache root [~/.cache/scalable-shop]
#   KAFKA_LOCAL_VERSION          Kafka version from Maven Central [4.4.0]
#   KAFKA_LOCAL_DIR              state: config, data, log, PID [$SCALABLE_SHOP_CACHE/kafka-local]
#   KAFKA_LOCAL_HOST             listen/advertised host [127.0.0.1]
#   KAFKA_LOCAL_PORT             SASL_PLAINTEXT listener, SCRAM-SHA-512 [19092]
#   KAFKA_LOCAL_PLAIN_PORT       PLAINTEXT listener, no auth, super user [19093]
#   KAFKA_LOCAL_CONTROLLER_PORT  KRaft controller listener [19094]
#   KAFKA_LOCAL_PARTITIONS       partitions of "purchases" [6]
#   KAFKA_LOCAL_DLQ_PARTITIONS   partitions of "purchases.dlq" [1]
#   KAFKA_LOCAL_ADMIN_USER / _PASSWORD          super user [admin / admin-secret]
#   KAFKA_LOCAL_CM_SERVER_USER / _PASSWORD      [cm-server / cm-server-secret]
#   KAFKA_LOCAL_CM_API_USER / _PASSWORD         [cm-api / cm-api-secret]
#   KAFKA_LOCAL_CM_API_DLQ_USER / _PASSWORD     user of `cm-api dlq` [cm-api-dlq / cm-api-dlq-secret]
#   KAFKA_LOCAL_REBUILD_USER / _PASSWORD        user of `cm-api users rebuild`
#                                [cm-api-rebuild / cm-api-rebuild-secret]
#   KAFKA_LOCAL_CM_API_GROUP     consumer group cm-api may use [cm-api]
#   KAFKA_LOCAL_TEST_ACLS        1: also grant the service users PREFIXED ACLs on the
#                                per-test names of localstack/testenv (see below); 0: only
#                                the literal ACLs of the chart [1]
#   KAFKA_LOCAL_HEAP             broker -Xmx [512m]
#   KAFKA_LOCAL_JAVA_OPTS        extra broker JVM options []
#   KAFKA_LOCAL_CDS              0: no class-data archive for the broker (the first clean
#                                stop writes one, ~55 MB, 5-20 s; later starts are faster) [1]
#   KAFKA_LOCAL_MVN_ARGS         extra Maven arguments, e.g. -Dmaven.repo.local=DIR []
#   KAFKA_LOCAL_START_TIMEOUT    seconds to wait until it serves [120]
#   KAFKA_LOCAL_STOP_TIMEOUT     seconds between SIGTERM and SIGKILL [30]
#   JAVA, MVN                    the java and mvn to use [java, mvn from PATH]
#
# Authorization: StandardAuthorizer with least-privilege ACLs for the SASL users;
#   cm-server: Write, Describe on topic purchases
#   cm-api:    Read, Describe on topic purchases; Read on group cm-api;
#              Write, Describe on topic purchases.dlq
#   cm-api-dlq: Read, Describe on topic purchases.dlq; Write, Describe on topic
#              purchases (`cm-api dlq list/replay`; it commits nothing, so no group)
#   cm-api-rebuild (`cm-api users rebuild`): Write, Describe on topic purchases;
#              Describe on group cm-api (it waits for the group's lag)
#   admin and everything on the PLAINTEXT/controller listeners (User:ANONYMOUS) are
#   super users: those ports are for the broker itself and for test tooling, on loopback.
# Per-test names (KAFKA_LOCAL_TEST_ACLS=1): tests on this broker use topics
#   "purchases-<id>" and "purchases.dlq-<id>" and group "cm-api-<id>", so the same
#   grants are added for the PREFIXED patterns "purchases-", "purchases.dlq-" and
#   "cm-api-". The dash keeps them apart: "purchases-" does not match "purchases.dlq",
#   so cm-server still cannot write to any DLQ and cm-api cannot read one.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

cache=${SCALABLE_SHOP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scalable-shop}
version=${KAFKA_LOCAL_VERSION:-4.4.0}
home_dir=$cache/kafka-$version
libs=$home_dir/libs
dir=${KAFKA_LOCAL_DIR:-$cache/kafka-local}
host=${KAFKA_LOCAL_HOST:-127.0.0.1}
port=${KAFKA_LOCAL_PORT:-19092}
plain_port=${KAFKA_LOCAL_PLAIN_PORT:-19093}
ctrl_port=${KAFKA_LOCAL_CONTROLLER_PORT:-19094}
partitions=${KAFKA_LOCAL_PARTITIONS:-6}
dlq_partitions=${KAFKA_LOCAL_DLQ_PARTITIONS:-1}
admin_user=${KAFKA_LOCAL_ADMIN_USER:-admin}
admin_pass=${KAFKA_LOCAL_ADMIN_PASSWORD:-admin-secret}
server_user=${KAFKA_LOCAL_CM_SERVER_USER:-cm-server}
server_pass=${KAFKA_LOCAL_CM_SERVER_PASSWORD:-cm-server-secret}
api_user=${KAFKA_LOCAL_CM_API_USER:-cm-api}
api_pass=${KAFKA_LOCAL_CM_API_PASSWORD:-cm-api-secret}
api_group=${KAFKA_LOCAL_CM_API_GROUP:-cm-api}
dlq_user=${KAFKA_LOCAL_CM_API_DLQ_USER:-cm-api-dlq}
dlq_pass=${KAFKA_LOCAL_CM_API_DLQ_PASSWORD:-cm-api-dlq-secret}
rebuild_user=${KAFKA_LOCAL_REBUILD_USER:-cm-api-rebuild}
rebuild_pass=${KAFKA_LOCAL_REBUILD_PASSWORD:-cm-api-rebuild-secret}
test_acls=${KAFKA_LOCAL_TEST_ACLS:-1}
heap=${KAFKA_LOCAL_HEAP:-512m}
start_timeout=${KAFKA_LOCAL_START_TIMEOUT:-120}
stop_timeout=${KAFKA_LOCAL_STOP_TIMEOUT:-30}
java=${JAVA:-java}
mvn=${MVN:-mvn}

topic=purchases
dlq_topic=purchases.dlq

conf=$dir/config
data=$dir/data
log_file=$dir/kafka.log
pid_file=$dir/kafka.pid
stamp=$data/.kafka-local-setup

log() { printf 'kafka-local [%2ds]: %s\n' "$SECONDS" "$*" >&2; }
die() { printf 'kafka-local: error: %s\n' "$*" >&2; exit 1; }

check_inputs() {
  local v
  for v in "$port" "$plain_port" "$ctrl_port" "$partitions" "$dlq_partitions" "$start_timeout" "$stop_timeout"; do
    [[ $v =~ ^[0-9]+$ ]] || die "not a number: '$v' (check the KAFKA_LOCAL_* variables)"
  done
  # Values end up inside JAAS strings and the [name=..,password=..] syntax of the tools.
  for v in "$admin_user" "$admin_pass" "$server_user" "$server_pass" "$api_user" "$api_pass" "$api_group" "$dlq_user" "$dlq_pass" \
    "$rebuild_user" "$rebuild_pass"; do
    [[ $v =~ ^[A-Za-z0-9._~@:+-]+$ ]] ||
      die "user, password or group '$v' may only use letters, digits and . _ ~ @ : + -"
  done
  [[ $test_acls == [01] ]] || die "KAFKA_LOCAL_TEST_ACLS=$test_acls: use 1 or 0"
  [[ $version =~ ^4\. ]] || die "KAFKA_LOCAL_VERSION=$version: this script is written for Kafka 4.x"
}

# ---------------------------------------------------------------- jars

have_libs() { [[ -f $libs/kafka_2.13-$version.jar && -f $home_dir/.complete ]]; }

fetch() {
  have_libs && return 0
  command -v "$java" >/dev/null || die "java not found (Java 17 or newer is needed)"
  command -v "$mvn" >/dev/null || die "mvn not found (Maven fetches the Kafka jars from Maven Central)"
  log "fetching Apache Kafka $version and its dependencies from Maven Central into $libs"
  mkdir -p "$home_dir"
  local tmp
  tmp=$(mktemp -d "$home_dir/libs.tmp.XXXXXX")
  # No settings file is needed: Maven's defaults reach Maven Central; a user's
  # ~/.m2/settings.xml (mirror, proxy) is honoured as usual.
  # shellcheck disable=SC2086 # KAFKA_LOCAL_MVN_ARGS is a list of extra arguments
  if ! "$mvn" -B -q -Dstyle.color=never -f "$here/pom.xml" -Dkafka.version="$version" \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" \
      ${KAFKA_LOCAL_MVN_ARGS:-} >"$home_dir/mvn.log" 2>&1; then
    tail -n 40 "$home_dir/mvn.log" >&2
    rm -rf "$tmp"
    die "mvn could not fetch org.apache.kafka:kafka_2.13:$version (full output: $home_dir/mvn.log)"
  fi
  rm -rf "$libs" "$home_dir"/*.jsa*
  mv "$tmp" "$libs"
  touch "$home_dir/.complete"
  log "fetched $(find "$libs" -name "*.jar" | wc -l) jars"
}

# ---------------------------------------------------------------- config

write_config() {
  mkdir -p "$conf" "$data"
  chmod 700 "$dir" "$conf"
  cat >"$conf/server.properties" <<EOF
# Written by kafka/local/kafka-local.sh on every start; edits are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$host:$ctrl_port
controller.listener.names=CONTROLLER
listeners=SASL_PLAINTEXT://$host:$port,PLAINTEXT://$host:$plain_port,CONTROLLER://$host:$ctrl_port
advertised.listeners=SASL_PLAINTEXT://$host:$port,PLAINTEXT://$host:$plain_port
listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;

authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:$admin_user;User:ANONYMOUS

log.dirs=$data
metadata.log.dir=$data
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
log.retention.hours=24
log.segment.bytes=67108864
EOF
  cat >"$conf/log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = INFO
EOF
  cat >"$conf/tools-log4j2.properties" <<'EOF'
status = error
appender.err.type = Console
appender.err.name = ERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = ERR
EOF
  cat >"$conf/admin-sasl.properties" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$admin_user" password="$admin_pass";
EOF
  chmod 600 "$conf"/*.properties
}

# Runs a Kafka command-line class with a quick-starting JVM. The first run records a
# class-data-sharing archive of the loaded classes; later runs start about twice as fast.
tool() {
  have_libs || die "Kafka jars are not fetched yet: run '$0 start' (or '$0 fetch')"
  local jsa=$home_dir/tools.jsa cds rc=0
  if [[ -s $jsa ]]; then
    cds=(-XX:SharedArchiveFile="$jsa")
  elif [[ $1 == org.apache.kafka.tools.TopicCommand ]]; then # loads the admin client
    cds=(-XX:ArchiveClassesAtExit="$jsa.$BASHPID")
  else
    cds=()
  fi
  "$java" -Xms64m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto \
    "${cds[@]}" -Xlog:cds=off -Xlog:cds+dynamic=off \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$conf/tools-log4j2.properties" \
    -cp "$libs/*" "$@" || rc=$?
  if [[ -f $jsa.$BASHPID ]]; then
    mv -f "$jsa.$BASHPID" "$jsa" 2>/dev/null || rm -f "$jsa.$BASHPID"
  fi
  return "$rc"
}

formatted() { [[ -f $data/meta.properties ]]; }

format() {
  formatted && return 0
  local cid
  # A Kafka Uuid: 16 random bytes, URL-safe base64 without padding, not starting with '-'.
  while :; do
    cid=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    [[ $cid != -* ]] && break
  done
  log "formatting $data (cluster id $cid) with SCRAM-SHA-512 users $admin_user, $server_user, $api_user, $dlq_user, $rebuild_user"
  tool kafka.tools.StorageTool format --config "$conf/server.properties" --cluster-id "$cid" \
    --add-scram "SCRAM-SHA-512=[name=$admin_user,password=$admin_pass]" \
    --add-scram "SCRAM-SHA-512=[name=$server_user,password=$server_pass]" \
    --add-scram "SCRAM-SHA-512=[name=$api_user,password=$api_pass]" \
    --add-scram "SCRAM-SHA-512=[name=$dlq_user,password=$dlq_pass]" \
    --add-scram "SCRAM-SHA-512=[name=$rebuild_user,password=$rebuild_pass]" >"$dir/format.log" 2>&1 || {
    cat "$dir/format.log" >&2
    die "formatting $data failed"
  }
  just_formatted=1
}
just_formatted=""


# ---------------------------------------------------------------- process

# The PID in the PID file, if that process is alive and is our broker.
running_pid() {
  [[ -f $pid_file ]] || return 1
  local pid
  pid=$(<"$pid_file")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "kafka.Kafka $conf/server.properties" || return 1
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/$host/$1") 2>/dev/null; }

check_ports() {
  local p
  for p in "$port" "$plain_port" "$ctrl_port"; do
    if port_open "$p"; then
      die "$host:$p is already in use by another process (another kafka-local with a different KAFKA_LOCAL_DIR?); set KAFKA_LOCAL_PORT, KAFKA_LOCAL_PLAIN_PORT, KAFKA_LOCAL_CONTROLLER_PORT"
    fi
  done
}

start_process() {
  [[ -f $log_file ]] && mv -f "$log_file" "$log_file.1"
  # Class-data sharing: the first broker run records the classes it loaded when it
  # exits cleanly (stop keeps the archive then); later starts take ~40% less time.
  local jsa=$home_dir/broker.jsa cds=()
  if [[ ${KAFKA_LOCAL_CDS:-1} == 0 ]]; then
    :
  elif [[ -s $jsa ]]; then
    cds=(-XX:SharedArchiveFile="$jsa")
  else
    rm -f "$jsa.new"
    cds=(-XX:ArchiveClassesAtExit="$jsa.new")
  fi
  log "starting Kafka $version: SASL_PLAINTEXT $host:$port, PLAINTEXT $host:$plain_port, controller $host:$ctrl_port (log: $log_file)"
  # setsid: the broker keeps running when the calling shell or make is interrupted.
  # shellcheck disable=SC2086 # KAFKA_LOCAL_JAVA_OPTS is a list of extra JVM options
  setsid "$java" -Xms256m -Xmx"$heap" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    "${cds[@]}" -Xlog:cds=off -Xlog:cds+dynamic=off \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$conf/log4j2.properties" \
    -Dkafka.logs.dir="$dir" ${KAFKA_LOCAL_JAVA_OPTS:-} \
    -cp "$libs/*" kafka.Kafka "$conf/server.properties" \
    </dev/null >"$log_file" 2>&1 9>&- &
  echo $! >"$pid_file"
  disown $! # no "Killed" job notices from this shell
}

wait_ready() {
  local pid=$1 deadline=$((SECONDS + start_timeout))
  # 1. The broker says it started (it is unfenced and caught up with the metadata log).
  until grep -q 'Kafka Server started' "$log_file" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$pid_file"
      tail -n 30 "$log_file" >&2 || true
      die "Kafka exited during startup; full log: $log_file"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 30 "$log_file" >&2 || true
      cmd_stop KILL
      die "Kafka did not start within ${start_timeout}s (KAFKA_LOCAL_START_TIMEOUT), stopped it; log: $log_file"
    fi
    sleep 0.2
  done
  # 2. A real client request succeeds (setup checks the SASL listener too).
  local out
  until out=$(tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$host:$plain_port" \
      --list 2>&1); do
    if ((SECONDS >= deadline)); then
      printf '%s\n' "$out" >&2
      cmd_stop KILL
      die "Kafka ran but listing topics failed for ${start_timeout}s (KAFKA_LOCAL_START_TIMEOUT), stopped it; log: $log_file"
    fi
    kill -0 "$pid" 2>/dev/null || die "Kafka exited during startup; log: $log_file"
    sleep 1
  done
}

# Topics, SCRAM users and ACLs; skipped when nothing changed since the last run.
setup() {
  local want
  want=$(printf '%s\n' "$partitions" "$dlq_partitions" "$admin_user" "$admin_pass" \
    "$server_user" "$server_pass" "$api_user" "$api_pass" "$api_group" "$dlq_user" "$dlq_pass" "$rebuild_user" "$rebuild_pass" "test-acls=$test_acls" "summaries-group=1" |
    sha256sum | cut -c1-32)
  if [[ -f $stamp && $(<"$stamp") == "$want" ]]; then
    return 0
  fi
  local bs=(--bootstrap-server "$host:$plain_port") u p
  log "creating topics $topic ($partitions partitions) and $dlq_topic ($dlq_partitions), SCRAM users and ACLs"
  # Each command is a JVM of its own: run them two at a time (ACL and topic
  # creation are independent; adding an ACL or topic that exists is a no-op).
  run_all \
    "tool org.apache.kafka.tools.TopicCommand ${bs[*]} --create --if-not-exists --topic $topic --partitions $partitions --replication-factor 1" \
    "tool org.apache.kafka.tools.TopicCommand ${bs[*]} --create --if-not-exists --topic $dlq_topic --partitions $dlq_partitions --replication-factor 1" \
    "tool org.apache.kafka.tools.AclCommand ${bs[*]} --add --allow-principal User:$server_user --operation Write --operation Describe --topic $topic" \
    "tool org.apache.kafka.tools.AclCommand ${bs[*]} --add --allow-principal User:$api_user --operation Read --operation Describe --topic $topic" \
    "tool org.apache.kafka.tools.AclCommand ${bs[*]} --add --allow-principal User:$api_user --operation Read --group $api_group" \
    "tool org.apache.kafka.tools.AclCommand ${bs[*]} --add --allow-principal User:$api_user --operation Read --group $api_group-summaries" \
    "tool org.apache.kafka.tools.AclCommand ${bs[*]} --add --allow-principal User:$api_user --operation Write --operation Describe --topic $dlq_topic" \
    "tool org.apache.kafka.tools.AclCommand ${bs[*]} --add --allow-principal User:$dlq_user --operation Read --operation Describe --topic $dlq_topic" \
    "tool org.apache.kafka.tools.AclCommand ${bs[*]} --add --allow-principal User:$dlq_user --operation Write --operation Describe --topic $topic" \
    "tool org.apache.kafka.tools.AclCommand ${bs[*]} --add --allow-principal User:$rebuild_user --operation Write --operation Describe --topic $topic" \
    "tool org.apache.kafka.tools.AclCommand ${bs[*]} --add --allow-principal User:$rebuild_user --operation Describe --group $api_group" \
    "tool org.apache.kafka.tools.AclCommand ${bs[*]} --add --allow-principal User:$rebuild_user --operation Describe --group $api_group-summaries"
  # The per-test names of localstack/testenv: the same grants on prefixes (see the header).
  local acl=(tool org.apache.kafka.tools.AclCommand "${bs[@]}" --resource-pattern-type prefixed)
  if [[ $test_acls == 1 ]]; then
    run_all \
      "${acl[*]} --add --allow-principal User:$server_user --operation Write --operation Describe --topic $topic-" \
      "${acl[*]} --add --allow-principal User:$api_user --operation Read --operation Describe --topic $topic-" \
      "${acl[*]} --add --allow-principal User:$api_user --operation Read --group $api_group-" \
      "${acl[*]} --add --allow-principal User:$api_user --operation Write --operation Describe --topic $dlq_topic-" \
      "${acl[*]} --add --allow-principal User:$dlq_user --operation Read --operation Describe --topic $dlq_topic-" \
      "${acl[*]} --add --allow-principal User:$dlq_user --operation Write --operation Describe --topic $topic-" \
      "${acl[*]} --add --allow-principal User:$rebuild_user --operation Write --operation Describe --topic $topic-" \
      "${acl[*]} --add --allow-principal User:$rebuild_user --operation Describe --group $api_group-"
  else
    run_all \
      "${acl[*]} --remove --force --topic $topic-" \
      "${acl[*]} --remove --force --group $api_group-" \
      "${acl[*]} --remove --force --topic $dlq_topic-"
  fi
  # The users were added when the storage was formatted; on later starts this keeps
  # them in step with changed passwords.
  if [[ -z $just_formatted ]]; then
    local cmds=()
    for u in "$admin_user:$admin_pass" "$server_user:$server_pass" "$api_user:$api_pass" "$dlq_user:$dlq_pass" "$rebuild_user:$rebuild_pass"; do
      p=${u#*:} u=${u%%:*}
      cmds+=("tool org.apache.kafka.tools.ConfigCommand ${bs[*]} --alter --entity-type users --entity-name $u --add-config SCRAM-SHA-512=[iterations=4096,password=$p]")
    done
    run_all "${cmds[@]}"
  fi
  # The admin's SCRAM login over the SASL listener works.
  tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$host:$port" \
    --command-config "$conf/admin-sasl.properties" --describe --topic "$topic" >/dev/null ||
    die "SASL/SCRAM-SHA-512 login as $admin_user on $host:$port failed; log: $log_file"
  echo "$want" >"$stamp"
}

# run_all CMD...: runs the commands (word-split; the inputs are checked to be plain
# words), two at a time, output to a log; fails with that log if any failed.
run_all() {
  local out=$dir/setup.log c pids=() failed=0 pid i=0
  : >"$out"
  for c in "$@"; do
    # shellcheck disable=SC2086
    { $c >>"$out" 2>&1 || { echo "FAILED: ${c%% --add-config*}" >>"$out"; exit 1; }; } &
    pids+=($!)
    if (( ++i % 2 == 0 )); then
      for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
      pids=()
    fi
  done
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  if ((failed)); then
    cat "$out" >&2
    die "setting up topics, users or ACLs failed (log: $out; broker log: $log_file)"
  fi
}

cmd_start() { # [--no-setup]
  local pid t0=$SECONDS
  if pid=$(running_pid); then
    log "already running (PID $pid) on $host:$port"
    # Topics, users and ACLs as this script wants them now (a no-op if unchanged).
    if [[ ${1:-} != --no-setup ]]; then
      check_inputs
      write_config
      setup
    fi
    return 0
  fi
  check_inputs
  check_ports
  fetch
  write_config
  format
  start_process
  pid=$(<"$pid_file")
  wait_ready "$pid"
  [[ ${1:-} == --no-setup ]] || setup
  log "ready in $((SECONDS - t0))s: PID $pid, SASL/SCRAM-SHA-512 on $host:$port, PLAINTEXT on $host:$plain_port"
}

cmd_start_broker() {
  local pid
  if pid=$(running_pid); then
    log "already running (PID $pid) on $host:$port"
    return 0
  fi
  have_libs || die "no Kafka jars in $libs: run '$0 start' first"
  formatted || die "no formatted data in $data: run '$0 start' first"
  cmd_start --no-setup
}

cmd_stop() { # [signal]
  local sig=${1:-TERM} pid deadline killed=""
  if ! pid=$(running_pid); then
    rm -f "$pid_file"
    log "not running"
    return 0
  fi
  log "stopping PID $pid (SIG$sig)"
  kill -s "$sig" "$pid" 2>/dev/null || true
  deadline=$((SECONDS + stop_timeout))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      log "still running after ${stop_timeout}s: SIGKILL"
      kill -s KILL "$pid" 2>/dev/null || true
      killed=1
      deadline=$((SECONDS + 10))
    fi
    sleep 0.1
  done
  rm -f "$pid_file"
  # Keep a class-data archive only from a clean exit (a killed JVM may leave half a file).
  if [[ -s $home_dir/broker.jsa.new ]]; then
    if [[ $sig == TERM && -z $killed ]]; then
      mv -f "$home_dir/broker.jsa.new" "$home_dir/broker.jsa"
    else
      rm -f "$home_dir/broker.jsa.new"
    fi
  fi
  log "stopped"
}

cmd_status() {
  local pid
  if pid=$(running_pid); then
    echo "kafka-local: running, PID $pid, Kafka $version"
    echo "  SASL_PLAINTEXT (SCRAM-SHA-512): $host:$port"
    echo "  PLAINTEXT (no auth, super user): $host:$plain_port"
    echo "  controller: $host:$ctrl_port"
    echo "  data: $data"
    echo "  log:  $log_file"
    return 0
  fi
  echo "kafka-local: not running (data: $data$(formatted || echo ', not formatted'))"
  return 3
}

cmd_env() {
  cat <<EOF
export KAFKA_BROKERS=$host:$port
export KAFKA_SASL_MECHANISM=scram-sha-512
export KAFKA_SASL_USERNAME=$admin_user
export KAFKA_SASL_PASSWORD=$admin_pass
export KAFKA_PLAINTEXT_BROKERS=$host:$plain_port
export KAFKA_TOPIC=$topic
export KAFKA_DLQ_TOPIC=$dlq_topic
export KAFKA_PARTITIONS=$partitions
export KAFKA_CM_SERVER_USERNAME=$server_user
export KAFKA_CM_SERVER_PASSWORD=$server_pass
export KAFKA_CM_API_USERNAME=$api_user
export KAFKA_CM_API_PASSWORD=$api_pass
export KAFKA_CM_API_GROUP=$api_group
export KAFKA_REBUILD_USERNAME=$rebuild_user
export KAFKA_REBUILD_PASSWORD=$rebuild_pass
export KAFKA_CM_API_DLQ_USERNAME=$dlq_user
export KAFKA_CM_API_DLQ_PASSWORD=$dlq_pass
export CM_SERVER_KAFKA_BROKERS=$host:$port
export CM_SERVER_KAFKA_SASL_MECHANISM=scram-sha-512
export CM_SERVER_KAFKA_SASL_USERNAME=$server_user
export CM_SERVER_KAFKA_SASL_PASSWORD=$server_pass
export CM_API_KAFKA_BROKERS=$host:$port
export CM_API_KAFKA_SASL_MECHANISM=scram-sha-512
export CM_API_KAFKA_SASL_USERNAME=$api_user
export CM_API_KAFKA_SASL_PASSWORD=$api_pass
export CM_API_KAFKA_GROUP=$api_group
EOF
}

cmd_reset() {
  cmd_stop
  log "deleting $data"
  rm -rf "$data" "$log_file" "$log_file.1"
}

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
}

# One start/stop at a time per state directory.
lock() {
  mkdir -p "$dir"
  exec 9>"$dir/.lock"
  flock -w 300 9 || die "another kafka-local.sh holds $dir/.lock"
}
case ${1:-} in start | stop | stop-broker | kill-broker | start-broker | restart | reset) lock ;; esac

case ${1:-} in
  start) cmd_start ;;
  stop | stop-broker) cmd_stop TERM ;;
  kill-broker) cmd_stop KILL ;;
  start-broker) cmd_start_broker ;;
  restart) cmd_stop TERM && cmd_start_broker ;;
  status) cmd_status ;;
  env) cmd_env ;;
  reset) cmd_reset ;;
  fetch) check_inputs && fetch && echo "$libs" ;;
  tool) shift && tool "$@" ;;
  logs) echo "$log_file" ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
