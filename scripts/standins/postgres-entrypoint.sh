#!/usr/bin/env bash
# The postgres stand-in's entry point (scripts/standin-images.sh): what the official image's docker-entrypoint.sh
# does for the Compose files' use: arguments starting with "-" go to postgres; an empty $PGDATA is initialised
# with POSTGRES_USER, POSTGRES_PASSWORD (scram-sha-256) and POSTGRES_DB, as any uid (nss_wrapper supplies the
# passwd entry initdb needs), then the server runs as PID 1.
set -Eeuo pipefail
if [ "${1:0:1}" = '-' ]; then set -- postgres "$@"; fi
if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
  user=${POSTGRES_USER:-postgres} db=${POSTGRES_DB:-${POSTGRES_USER:-postgres}}
  mkdir -p "$PGDATA" && chmod 700 "$PGDATA"
  if ! getent passwd "$(id -u)" >/dev/null; then
    wrapper=$(mktemp -d /tmp/nss.XXXXXX)
    echo "postgres:x:$(id -u):$(id -g):PostgreSQL:$PGDATA:/bin/false" >"$wrapper/passwd"
    echo "postgres:x:$(id -g):" >"$wrapper/group"
    export LD_PRELOAD=libnss_wrapper.so NSS_WRAPPER_PASSWD=$wrapper/passwd NSS_WRAPPER_GROUP=$wrapper/group
  fi
  # shellcheck disable=SC2086
  initdb --username="$user" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") --auth-local=trust --auth-host=scram-sha-256 \
    ${POSTGRES_INITDB_ARGS:-} >/dev/null # split on purpose: several arguments, as the official image reads it
  unset LD_PRELOAD NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP
  # A temporary server on the socket only, to create the database (and run any init scripts).
  pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -p ${PGPORT:-5432}" start >/dev/null
  if [ "$db" != postgres ]; then
    psql -v ON_ERROR_STOP=1 --username "$user" --dbname postgres -q -c "CREATE DATABASE \"$db\""
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    # shellcheck disable=SC1090 # the init scripts a user mounts
    case $f in
      *.sh) . "$f" ;;
      *.sql) psql -v ON_ERROR_STOP=1 --username "$user" --dbname "$db" -q -f "$f" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo 'PostgreSQL init process complete; ready for start up.'
fi
exec "$@"
