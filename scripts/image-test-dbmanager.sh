# The DB manager image's real work, sourced by scripts/image-test.sh (its engine, options, scratch directory,
# cleanup and `bad`). Against a real PostgreSQL of the databases' major version (a container of PG_IMAGE: the
# stand-in here, postgres:16 with PRISM_TOOLCHAIN=download; initdb and postgres are started the same way in
# both) and a real MinIO on the host, the image, as uid 10001 on a read-only root with every capability
# dropped, runs the commands the deployments run:
#   migrate --all                      the two databases' schemas (the backup catalog among them)
#   backup auth full                   pg_basebackup, then pg_verifybackup on the staged copy (which runs
#                                      pg_waldump on its WAL: the program the images lacked), then upload
#   backup list auth                   the catalog knows it
#   verify-latest auth                 the scheduled check (Compose's scheduler, the CronJob): the newest backup
#                                      restored into scratch space, verified, replayed, removed
#   restore auth <name> --target-dir   a real restore into scratch space: files checked against the manifest,
#                                      pg_verifybackup, WAL replay on a private server until it promotes,
#                                      pg_dumpall reads every row
# and then the restored data directory is started (the image's own postgres) and must hold the rows written
# before the backup. Host ports are free ones; nothing is published (host network: the stores listen on
# 127.0.0.1 only).
# shellcheck shell=bash disable=SC2154 # PODMAN, RM, IMAGES, TAG, tmp, containers, bad: from image-test.sh

# A free TCP port on 127.0.0.1.
free_port() { node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'; }

dbmanager_work() {
  local image=$1 pg_image=$2 start pw pgport s3port s3console minio_pid="" name
  start=$(date +%s)
  pw=$(openssl rand -hex 16)
  pgport=$(free_port) s3port=$(free_port) s3console=$(free_port)
  local work="$tmp/dbmanager-work"
  mkdir -p "$work/minio" "$work/scratch"
  # The scratch volume of the deployments (/var/lib/prism/scratch), owned by the service user.
  chown 10001:10001 "$work/scratch" && chmod 0700 "$work/scratch"
  local NET_OPTS=("${BASE_OPTS[@]}" --network host)

  # PostgreSQL 16: initdb with a password (SCRAM), then the server on 127.0.0.1 only, its data on tmpfs.
  local pgc=prism-image-test-postgres
  containers+=("$pgc")
  "${PODMAN[@]}" run -d --name "$pgc" "${NET_OPTS[@]}" --user 999:999 --tmpfs /tmp:size=512m -e "PRISM_PW=$pw" \
    --entrypoint bash "$pg_image" -c 'set -e; printf "%s\n" "$PRISM_PW" >/tmp/pw
      initdb -D /tmp/data -U prism --pwfile=/tmp/pw -A scram-sha-256 --no-instructions >/tmp/initdb.log
      rm /tmp/pw; exec postgres -D /tmp/data -c listen_addresses=127.0.0.1 -c port='"$pgport"' -c unix_socket_directories=/tmp' >/dev/null
  local psql=("${PODMAN[@]}" exec -e "PGPASSWORD=$pw" "$pgc" psql -v ON_ERROR_STOP=1 -h 127.0.0.1 -U prism -qAt)
  for _ in $(seq 1 30); do "${psql[@]}" -p "$pgport" -d postgres -c 'SELECT 1' >/dev/null 2>&1 && break; sleep 1; done
  echo "dbmanager: PostgreSQL $("${psql[@]}" -p "$pgport" -d postgres -c 'SHOW server_version') on 127.0.0.1:$pgport (container of $pg_image)"
  "${psql[@]}" -p "$pgport" -d postgres -c 'CREATE DATABASE prism_auth' -c 'CREATE DATABASE prism_ops'
  # The rows the restore must bring back.
  "${psql[@]}" -p "$pgport" -d prism_auth -c 'CREATE TABLE image_test (id int PRIMARY KEY, note text NOT NULL)' \
    -c "INSERT INTO image_test SELECT i, md5(i::text) FROM generate_series(1, 5000) i"
  local rows_sql='SELECT count(*) || $$ $$ || md5(string_agg(note, $$,$$ ORDER BY id)) FROM image_test'
  local before
  before=$("${psql[@]}" -p "$pgport" -d prism_auth -c "$rows_sql")

  # MinIO on the host (as the tests start it) and the backup bucket.
  local s3user=prism-image-test s3key
  s3key=$(openssl rand -hex 16)
  MINIO_ROOT_USER=$s3user MINIO_ROOT_PASSWORD=$s3key MINIO_BROWSER=off \
    minio server "$work/minio" --address "127.0.0.1:$s3port" --console-address "127.0.0.1:$s3console" --quiet \
    >"$work/minio.log" 2>&1 &
  minio_pid=$!
  MINIO_PIDS+=("$minio_pid")
  for _ in $(seq 1 30); do curl -fsS "http://127.0.0.1:$s3port/minio/health/ready" >/dev/null 2>&1 && break; sleep 1; done
  MC_CONFIG_DIR="$work/mc" mc alias set -q it "http://127.0.0.1:$s3port" "$s3user" "$s3key" >/dev/null
  MC_CONFIG_DIR="$work/mc" mc mb -q it/prism-backups >/dev/null

  # The DB manager's environment, from a file: its passwords on no command line.
  local envfile="$work/dbmanager.env"
  {
    printf '%s\n' PRISM_ENVIRONMENT=image-test PRISM_NATS_URL=nats://127.0.0.1:1 PRISM_LOG_LEVEL=warn
    for db in AUTH OPS; do
      printf '%s\n' "PRISM_${db}_DB_HOST=127.0.0.1" "PRISM_${db}_DB_PORT=$pgport" "PRISM_${db}_DB_NAME=prism_${db,,}"
    done
    # Every role's password, as the migration Job holds them (infra/contract/postgres.ts): the superuser's is the
    # server's, the others fresh; the migration creates the roles, backups then run as the backup role.
    PRISM_PW=$pw node --import tsx --input-type=module -e '
      const { PG_LOGIN_ROLES, PG_ROLES, pgPasswordVar } = await import("#contract");
      const { randomBytes } = await import("node:crypto");
      const pw = Object.fromEntries(PG_LOGIN_ROLES.map((id) => [id, PG_ROLES[id].superuser ? process.env.PRISM_PW : randomBytes(16).toString("hex")]));
      for (const id of PG_LOGIN_ROLES) console.log(`${pgPasswordVar(id)}=${pw[id]}`);
      // The backup catalogue, as its role (the service model: PRISM_OPS_DB_USER/PASSWORD).
      console.log(`PRISM_OPS_DB_USER=${PG_ROLES.ops_catalog.name}`);
      console.log(`PRISM_OPS_DB_PASSWORD=${pw.ops_catalog}`);'
    printf '%s\n' "PRISM_S3_ENDPOINT=http://127.0.0.1:$s3port" PRISM_S3_BUCKET=prism-backups \
      "PRISM_S3_ACCESS_KEY=$s3user" "PRISM_S3_SECRET_KEY=$s3key"
  } >"$envfile"
  chmod 0600 "$envfile"
  local dbm=("${PODMAN[@]}" run --rm "${NET_OPTS[@]}" --tmpfs /tmp:size=256m -v "$work/scratch:/var/lib/prism/scratch" --env-file "$envfile" "$image")
  local step out t
  for step in 'migrate --all' 'backup auth full' 'backup list auth' 'verify-latest auth'; do
    t=$(date +%s)
    # shellcheck disable=SC2086 # the step's words
    if ! out=$("${dbm[@]}" $step 2>&1); then
      echo "$out" | tail -15
      bad "dbmanager: $step in the image"
      return
    fi
    echo "dbmanager: $step: $(($(date +%s) - t)) s"
    [ "$step" != 'backup auth full' ] || { echo "$out" | grep -E 'pg_verifybackup|^backup |stored|wal' | sed 's/^/  /'; }
    [ "$step" != 'backup list auth' ] || name=$(grep -oE '^auth-[^ ]+' <<<"$out" | head -1)
    [ "$step" != 'verify-latest auth' ] || grep -E '^== verification' <<<"$out" | sed 's/^/  /'
  done
  [ -n "$name" ] || { echo "$out"; bad "dbmanager: backup list names no backup of auth"; return; }

  t=$(date +%s)
  if ! out=$("${dbm[@]}" restore auth "$name" --target-dir /var/lib/prism/scratch/restored 2>&1); then
    echo "$out" | tail -15
    bad "dbmanager: restore auth $name in the image"
    return
  fi
  echo "dbmanager: restore auth $name: $(($(date +%s) - t)) s"
  grep -E 'verified|pg_verifybackup|replayedTo|databases|logicalRead' <<<"$out" | sed 's/^/  /'

  # The restored data directory, started by the image's own server: the rows written before the backup.
  local rport rc=prism-image-test-restored after
  rport=$(free_port)
  containers+=("$rc")
  "${PODMAN[@]}" run -d --name "$rc" "${NET_OPTS[@]}" --tmpfs /tmp:size=16m -v "$work/scratch:/var/lib/prism/scratch" \
    --entrypoint postgres "$image" -D /var/lib/prism/scratch/restored -c listen_addresses=127.0.0.1 -c "port=$rport" \
    -c unix_socket_directories=/tmp >/dev/null
  for _ in $(seq 1 30); do "${psql[@]}" -p "$rport" -d prism_auth -c 'SELECT 1' >/dev/null 2>&1 && break; sleep 1; done
  after=$("${psql[@]}" -p "$rport" -d prism_auth -c "$rows_sql" 2>&1) || true
  if [ "$after" = "$before" ]; then
    echo "dbmanager: the restored server holds the rows written before the backup ($after)"
  else
    $IMAGES logs "$rc" 2>&1 | tail -5
    bad "dbmanager: restored rows '$after', written '$before'"
  fi
  "${RM[@]}" "$rc" "$pgc" >/dev/null 2>&1 || true
  kill "$minio_pid" 2>/dev/null && wait "$minio_pid" 2>/dev/null || true
  echo "dbmanager: real work (PostgreSQL, MinIO, migrate, backup, list, verify-latest, restore, restored rows) in $(($(date +%s) - start)) s"
}
