#!/usr/bin/env bash
# bench.sh: `make bench`. Starts a private Apache Kafka broker (kafka/local, SASL on,
# ACLs on, on ports of its own, wiped at each run) and a private PostgreSQL cluster
# (Debian's postgresql, fresh at each run) for FerretDB, builds cm-server, cm-api
# and the bench driver (e2e/cmd/bench), runs the benchmark and stops everything it
# started. The table is printed and written to out/bench/ (git-ignored).
#
# Environment (defaults in brackets):
#   BENCH_STACK        bench (FerretDB on PostgreSQL) | embedded (FerretDB on SQLite,
#                      make run's store; no PostgreSQL needed) [bench]
#   BENCH_SCALE        full | small (a smoke run of a few minutes) [full]
#   BENCH_STEP, BENCH_FIXED, BENCH_FRESH   durations overriding the scale's (e.g. 30s)
#   BENCH_BACKLOG      events waiting when cm-api starts [200000; small: 20000]
#   BENCH_RATES        rates (req/s) of the max-rate search, comma-separated
#   BENCH_LOG_LEVEL    log level of both services [info, as in production]
#   BENCH_PROFILE      1: run the services' app.Run inside bench with a pprof
#                      listener and save CPU/alloc/mutex/block profiles of the
#                      5,000 req/s run, and a CPU profile of FerretDB during
#                      ingest, under out/bench/profiles [0]
#   BENCH_KAFKA_PORT   first of three ports for the broker [29092]
#   BENCH_OUT          output folder [out/bench]
#   SCALABLE_SHOP_CACHE  cache root [~/.cache/scalable-shop]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache=${SCALABLE_SHOP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scalable-shop}
work=$cache/bench
out=${BENCH_OUT:-$root/out/bench}
kport=${BENCH_KAFKA_PORT:-29092}
mkdir -p "$work/bin" "$out"

log() { printf 'bench.sh [%3ds]: %s\n' "$SECONDS" "$*" >&2; }
die() { printf 'bench.sh: error: %s\n' "$*" >&2; exit 1; }

# ------------------------------------------------------------ PostgreSQL

pg_bindir() {
  local d
  if command -v pg_config >/dev/null && d=$(pg_config --bindir 2>/dev/null) && [[ -x $d/initdb ]]; then
    echo "$d"; return 0
  fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [[ -x $d/initdb && -x $d/pg_ctl ]] && { echo "$d"; return 0; }
  done
  return 1
}

stack=${BENCH_STACK:-bench}
[[ $stack == bench || $stack == embedded ]] || die "BENCH_STACK=$stack: use bench or embedded"
pgbin=$(pg_bindir || true)
if [[ $stack == embedded ]]; then
  : # FerretDB on SQLite in a folder of its own, below
elif [[ -z $pgbin ]]; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    log "installing Debian's postgresql (apt-get)"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    pgbin=$(pg_bindir) || die "postgresql installed but initdb not found"
  else
    die "PostgreSQL's initdb/pg_ctl not found: install Debian's postgresql (sudo apt-get install postgresql)"
  fi
fi

# PostgreSQL refuses to run as root. As root the cluster runs as the postgres
# user in a folder under /tmp (root's home is not readable by other users); as
# anyone else, as that user under the cache.
pg_as=()
if [[ $(id -u) == 0 ]]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
  pgdir=$(mktemp -d /tmp/scalable-shop-bench-pg.XXXXXX)
  chown postgres: "$pgdir"
  pg_as=(runuser -u postgres --)
else
  mkdir -p "$work"
  pgdir=$(mktemp -d "$work/pg.XXXXXX")
fi
pgport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 25432)

kafka_env=(KAFKA_LOCAL_DIR="$work/kafka" KAFKA_LOCAL_PORT="$kport" KAFKA_LOCAL_PLAIN_PORT=$((kport + 1))
  KAFKA_LOCAL_CONTROLLER_PORT=$((kport + 2)) KAFKA_LOCAL_TEST_ACLS=0)

cleanup() {
  local rc=$?
  set +e
  if [[ -f $pgdir/data/postmaster.pid ]]; then
    log "stopping PostgreSQL"
    "${pg_as[@]}" "$pgbin/pg_ctl" -D "$pgdir/data" -m fast -w stop >/dev/null 2>&1
  fi
  rm -rf "$pgdir"
  if [[ -f $work/kafka/kafka.pid ]]; then
    log "stopping Kafka"
    env "${kafka_env[@]}" KAFKA_LOCAL_CDS=0 "$root/kafka/local/kafka-local.sh" stop >/dev/null 2>&1
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ $stack == bench ]]; then
  log "PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pgport in $pgdir"
  "${pg_as[@]}" "$pgbin/initdb" -D "$pgdir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$pgdir/initdb.log" 2>&1 ||
    "${pg_as[@]}" "$pgbin/initdb" -D "$pgdir/data" -U postgres --auth=trust -E UTF8 --locale=C >"$pgdir/initdb.log" 2>&1 ||
    { cat "$pgdir/initdb.log" >&2; die "initdb failed"; }
  # Durable defaults (fsync, synchronous_commit) stay: the references pay them too.
  cat >>"$pgdir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $pgport
unix_socket_directories = '$pgdir'
max_connections = 200
shared_buffers = 256MB
logging_collector = off
EOF
  "${pg_as[@]}" "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/postgresql.log" -w -t 60 start >/dev/null ||
    { cat "$pgdir/postgresql.log" >&2; die "PostgreSQL did not start"; }
  "${pg_as[@]}" "$pgbin/psql" -q -h 127.0.0.1 -p "$pgport" -U postgres -c 'CREATE DATABASE ferretdb' >/dev/null
  # FerretDB binds the field name of a pushed-down filter as a parameter; only a
  # plan made with it known can use the GIN indexes bench adds (e2e/cmd/bench/pgindex.go).
  "${pg_as[@]}" "$pgbin/psql" -q -h 127.0.0.1 -p "$pgport" -U postgres -c 'ALTER DATABASE ferretdb SET plan_cache_mode = force_custom_plan' >/dev/null
else
  log "FerretDB on SQLite (make run's embedded store) in $pgdir/sqlite"
fi

# ------------------------------------------------------------ Kafka

log "Kafka (kafka/local, SASL/SCRAM, ACLs) on 127.0.0.1:$kport, fresh data in $work/kafka"
env "${kafka_env[@]}" "$root/kafka/local/kafka-local.sh" reset >/dev/null 2>&1 || true
env "${kafka_env[@]}" "$root/kafka/local/kafka-local.sh" start
eval "$(env "${kafka_env[@]}" "$root/kafka/local/kafka-local.sh" env)"

# ------------------------------------------------------------ build and run

log "building cm-server, cm-api (as make build does) and the bench driver"
cd "$root"
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$work/bin/cm-server" ./cm-server/cmd/cm-server
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$work/bin/cm-api" ./cm-api/cmd/cm-api
go build -trimpath -o "$work/bin/bench" ./e2e/cmd/bench

store=(-pg "postgres://postgres@127.0.0.1:$pgport/ferretdb")
if [[ $stack == embedded ]]; then
  mkdir -p "$pgdir/sqlite"
  store=(-sqlite "$pgdir/sqlite")
fi
log "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
BENCH_KAFKA_PID_FILE=$work/kafka/kafka.pid BENCH_PG_PID_FILE=$pgdir/data/postmaster.pid \
  "$work/bin/bench" run "${store[@]}" -bin "$work/bin" -out "$out"
