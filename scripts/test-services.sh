#!/usr/bin/env bash
# The servers the test suite uses, on 127.0.0.1, each on a port free when started, with every file
# (data, logs, pids, sockets) in one directory, so test runs of several checkouts never collide:
#   bash scripts/test-services.sh start [DIR]  start the servers of DIR (default: a new /tmp/prism-test-XXXXXX), or reuse
#                                              those already answering; prints PRISM_TEST_* lines (also kept in DIR/env)
#   bash scripts/test-services.sh stop DIR     stop the servers of DIR and remove DIR
#   bash scripts/test-services.sh env DIR      print DIR's PRISM_TEST_* lines
# Servers: PostgreSQL (superuser prism / prism-test; run as the postgres user when we are root), Redis
# (password prism-test), NATS with JetStream, MinIO (root prism-test-root / prism-test-root-secret, the
# test peer only: tests create their own least-privilege users; skipped with a warning when `minio` is missing).
# vitest's global setup (test/support/global-setup.ts) starts them in a per-run directory and stops them at
# the end, unless PRISM_TEST_PG_URL is set: then it uses servers started outside, for example by
#   set -a; eval "$(bash scripts/test-services.sh start /tmp/my-test-servers)"; set +a
set -euo pipefail
cmd=${1:-start}
ROOT=${2:-${PRISM_TEST_ROOT:-}}
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)

die() { echo "test-services: $*" >&2; exit 1; }

wait_for() { # name, command...
  local name=$1; shift
  for _ in $(seq 1 150); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "test-services: $name did not start (see $ROOT)" >&2; return 1
}

as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# Six ports free right now (held together, so they differ), printed on one line.
free_ports() {
  node -e '
    const net = require("node:net");
    const s = Array.from({ length: 6 }, () => net.createServer());
    Promise.all(s.map((x) => new Promise((r) => x.listen(0, "127.0.0.1", () => r(x.address().port)))))
      .then((p) => { console.log(p.join(" ")); s.forEach((x) => x.close()); });'
}

env_lines() {
  cat <<ENV
PRISM_TEST_PG_URL=postgres://prism:prism-test@127.0.0.1:${PG_PORT}/postgres
PRISM_TEST_REDIS_ADDRESS=127.0.0.1:${REDIS_PORT}
PRISM_TEST_REDIS_PASSWORD=prism-test
PRISM_TEST_NATS_URL=nats://127.0.0.1:${NATS_PORT}
PRISM_TEST_PG_BIN=${PG_BIN}
PRISM_TEST_MINIO_ENDPOINT=http://127.0.0.1:${S3_PORT}
PRISM_TEST_MINIO_ROOT_USER=prism-test-root
PRISM_TEST_MINIO_ROOT_PASSWORD=prism-test-root-secret
ENV
}

# The ports of DIR: chosen once, kept in DIR/ports, so a restart reuses them.
load_ports() {
  if [ ! -f "$ROOT/ports" ]; then free_ports > "$ROOT/ports"; fi
  read -r PG_PORT REDIS_PORT NATS_PORT NATS_MON S3_PORT S3_CONSOLE < "$ROOT/ports"
}

start() {
  [ -n "$PG_BIN" ] || die "PostgreSQL is not installed (/usr/lib/postgresql/<major>/bin): run scripts/install-prerequisites.sh"
  if [ -z "$ROOT" ]; then ROOT=$(mktemp -d /tmp/prism-test-XXXXXX); fi
  mkdir -p "$ROOT"
  chmod 755 "$ROOT" # the postgres user reaches its data directory inside
  ROOT=$(cd "$ROOT" && pwd)
  load_ports
  if ! "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then
    if [ ! -d "$ROOT/pg" ]; then
      mkdir -p "$ROOT/pg"; [ "$(id -u)" = 0 ] && chown postgres: "$ROOT/pg"
      printf 'prism-test\n' > "$ROOT/pgpass"; [ "$(id -u)" = 0 ] && chown postgres: "$ROOT/pgpass"
      as_postgres "$PG_BIN/initdb" -D "$ROOT/pg" -U prism --pwfile="$ROOT/pgpass" -A scram-sha-256 >/dev/null
    fi
    as_postgres "$PG_BIN/pg_ctl" -D "$ROOT/pg" -l "$ROOT/pg/server.log" -w \
      -o "-h 127.0.0.1 -p $PG_PORT -k $ROOT/pg -c wal_level=replica -c max_wal_senders=10 -c fsync=off" start >/dev/null
  fi
  if ! redis-cli -p "$REDIS_PORT" -a prism-test --no-auth-warning ping >/dev/null 2>&1; then
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --requirepass prism-test --save '' --appendonly no \
      --daemonize yes --logfile "$ROOT/redis.log" --pidfile "$ROOT/redis.pid"
    wait_for redis redis-cli -p "$REDIS_PORT" -a prism-test --no-auth-warning ping
  fi
  if ! curl -fsS "http://127.0.0.1:$NATS_MON/healthz" >/dev/null 2>&1; then
    mkdir -p "$ROOT/nats"
    nohup nats-server -a 127.0.0.1 -p "$NATS_PORT" -m "$NATS_MON" -js -sd "$ROOT/nats" >"$ROOT/nats.log" 2>&1 &
    echo $! > "$ROOT/nats.pid"
    wait_for nats curl -fsS "http://127.0.0.1:$NATS_MON/healthz"
  fi
  if ! curl -fsS "http://127.0.0.1:$S3_PORT/minio/health/live" >/dev/null 2>&1; then
    if command -v minio >/dev/null 2>&1; then
      mkdir -p "$ROOT/minio"
      MINIO_ROOT_USER=prism-test-root MINIO_ROOT_PASSWORD=prism-test-root-secret MINIO_BROWSER=off \
        nohup minio server "$ROOT/minio/data" --address "127.0.0.1:$S3_PORT" --console-address "127.0.0.1:$S3_CONSOLE" \
        >"$ROOT/minio.log" 2>&1 &
      echo $! > "$ROOT/minio.pid"
      wait_for minio curl -fsS "http://127.0.0.1:$S3_PORT/minio/health/live"
    else
      echo "test-services: minio not found on PATH; the S3 tests will fail to connect (scripts/install-prerequisites.sh installs it)" >&2
    fi
  fi
  env_lines > "$ROOT/env"
  echo "PRISM_TEST_ROOT=$ROOT"
  env_lines
}

# Stops a process we started (its pid file), waiting until it is gone.
stop_pid() {
  local f=$1 pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

stop() {
  [ -n "$ROOT" ] || die "usage: $0 stop DIR"
  # Only a directory this script made (it holds the ports file) is stopped and removed.
  [ -f "$ROOT/ports" ] || die "$ROOT holds no test servers (no ports file); nothing stopped"
  if [ -d "$ROOT/pg" ] && [ -f "$ROOT/pg/postmaster.pid" ]; then
    as_postgres "$PG_BIN/pg_ctl" -D "$ROOT/pg" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  stop_pid "$ROOT/redis.pid" & stop_pid "$ROOT/nats.pid" & stop_pid "$ROOT/minio.pid" &
  wait
  rm -rf "$ROOT"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  env) [ -f "${ROOT:-/nonexistent}/env" ] || die "usage: $0 env DIR (a directory of started servers)"; cat "$ROOT/env" ;;
  *) echo "usage: $0 start [DIR] | stop DIR | env DIR" >&2; exit 2 ;;
esac
