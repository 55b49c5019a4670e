#!/usr/bin/env bash
# Starts the servers the test suite uses, on 127.0.0.1, under /tmp/prism-test:
#   PostgreSQL  127.0.0.1:55432  superuser prism / prism-test
#   Redis       127.0.0.1:56379  password prism-test
#   NATS        127.0.0.1:54222  JetStream on, monitoring on 58222
#   MinIO (S3)  127.0.0.1:59000  root prism-test-root / prism-test-root-secret (test peer only; the
#               tests create their own least-privilege users). Skipped with a warning when the
#               `minio` binary is missing: GOBIN=/usr/local/bin go install github.com/minio/minio@<pin>
# Idempotent: a server already answering is left alone. `stop` stops them.
# Tests read the addresses from the PRISM_TEST_* variables printed by `env`.
set -euo pipefail
ROOT=${PRISM_TEST_ROOT:-/tmp/prism-test}
PG_PORT=55432 REDIS_PORT=56379 NATS_PORT=54222 NATS_MON=58222 S3_PORT=59000
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)

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

wait_for() { # name, command...
  local name=$1; shift
  for _ in $(seq 1 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "test-services: $name did not start" >&2; return 1
}

as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

start() {
  mkdir -p "$ROOT"
  # PostgreSQL refuses to run as root: it runs as the postgres user when we are root.
  if ! "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p $PG_PORT; then
    if [ ! -d "$ROOT/pg" ]; then
      mkdir -p "$ROOT/pg"; [ "$(id -u)" = 0 ] && chown postgres: "$ROOT/pg"
      printf 'prism-test\n' > "$ROOT/pgpass"; [ "$(id -u)" = 0 ] && chown postgres: "$ROOT/pgpass"
      as_postgres "$PG_BIN/initdb" -D "$ROOT/pg" -U prism --pwfile="$ROOT/pgpass" -A scram-sha-256 >/dev/null
    fi
    as_postgres "$PG_BIN/pg_ctl" -D "$ROOT/pg" -l "$ROOT/pg/server.log" -w \
      -o "-h 127.0.0.1 -p $PG_PORT -k /tmp -c wal_level=replica -c max_wal_senders=10 -c fsync=off" start >/dev/null
  fi
  if ! redis-cli -p $REDIS_PORT -a prism-test --no-auth-warning ping >/dev/null 2>&1; then
    redis-server --port $REDIS_PORT --bind 127.0.0.1 --requirepass prism-test --save '' --appendonly no \
      --daemonize yes --logfile "$ROOT/redis.log" --pidfile "$ROOT/redis.pid"
    wait_for redis redis-cli -p $REDIS_PORT -a prism-test --no-auth-warning ping
  fi
  if ! curl -fsS "http://127.0.0.1:$NATS_MON/healthz" >/dev/null 2>&1; then
    mkdir -p "$ROOT/nats"
    nohup nats-server -a 127.0.0.1 -p $NATS_PORT -m $NATS_MON -js -sd "$ROOT/nats" >"$ROOT/nats.log" 2>&1 &
    echo $! > "$ROOT/nats.pid"
    wait_for nats curl -fsS "http://127.0.0.1:$NATS_MON/healthz"
  fi
  if ! curl -fsS "http://127.0.0.1:$S3_PORT/minio/health/live" >/dev/null 2>&1; then
    if command -v minio >/dev/null 2>&1; then
      mkdir -p "$ROOT/minio"
      MINIO_ROOT_USER=prism-test-root MINIO_ROOT_PASSWORD=prism-test-root-secret MINIO_BROWSER=off \
        nohup minio server "$ROOT/minio/data" --address "127.0.0.1:$S3_PORT" --console-address "127.0.0.1:$((S3_PORT + 1))" \
        >"$ROOT/minio.log" 2>&1 &
      echo $! > "$ROOT/minio.pid"
      wait_for minio curl -fsS "http://127.0.0.1:$S3_PORT/minio/health/live"
    else
      echo "test-services: minio not found on PATH; the S3 tests will fail to connect" >&2
    fi
  fi
  env_lines
}

stop() {
  [ -d "$ROOT/pg" ] && as_postgres "$PG_BIN/pg_ctl" -D "$ROOT/pg" -m fast stop >/dev/null 2>&1 || true
  redis-cli -p $REDIS_PORT -a prism-test --no-auth-warning shutdown nosave >/dev/null 2>&1 || true
  [ -f "$ROOT/nats.pid" ] && kill "$(cat "$ROOT/nats.pid")" 2>/dev/null || true
  [ -f "$ROOT/minio.pid" ] && kill "$(cat "$ROOT/minio.pid")" 2>/dev/null || true
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  env) env_lines ;;
  *) echo "usage: $0 [start|stop|env]" >&2; exit 2 ;;
esac
