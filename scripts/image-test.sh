#!/usr/bin/env bash
# Builds the four service images from services/Dockerfile with buildah, checks what each really carries
# (its root filesystem, mounted, and its config: scripts/check-image.mjs; a planted violation must fail that
# check), measures it, and runs it with
# podman as uid 10001 on a read-only root with every capability dropped:
#   every service   started with no environment, it names the missing variables and exits 78 (the process
#                   is the service: node, its code and every module it imports statically load)
#   gateway         started with a minimal environment (stores unreachable), it answers /health/live (the
#                   others wait for their database before they serve health)
#   dbmanager       runs its scheduler: tini is PID 1 with node under it, and no volume is created (podman
#                   volume ls before and after); every program of its code's PG_PROGRAMS runs in the image
#                   (check-image.mjs), and that check fails on the image without pg_waldump or without a
#                   library pg_waldump loads
# and then does its real work:
#   config, auth,   beside a local platform (the stores, the CA), with the model's environment: /health/ready,
#   gateway         then config set+get over gRPC with the operator's mTLS certificate, auth register+login
#                   over HTTPS, a login through the gateway (proxied to auth) and a protected route with its
#                   token (scripts/image-test-services.ts)
#   dbmanager       against a PostgreSQL 16 container and MinIO: migrate, full backup (pg_verifybackup, hence
#                   pg_waldump), list, a real restore into scratch space (pg_verifybackup, WAL replay,
#                   pg_dumpall, hence pg_dump), and the restored directory holds the rows written before the
#                   backup (scripts/image-test-dbmanager.sh)
# The base images come from scripts/image-base.sh (stand-ins, built once). The DB manager's PostgreSQL
# programs, and the server it is tested against, come from the stand-in PostgreSQL 16 here (the model's
# postgres:16 is not obtainable): PG_IMAGE is passed for that, nothing else differs from the real build.
# Needs root, buildah, podman, runc. Usage: bash scripts/image-test.sh [service ...]   (default: all four)
# PRISM_IMAGE_TEST_KEEP=1 keeps the images (localhost/prism-<service>:image-test).
# With PRISM_TOOLCHAIN=download (scripts/toolchain.sh; the default on GitHub Actions) the same checks run with
# Docker instead: `docker buildx build --load` from the real base images (no stand-ins; the DB manager with the
# model's PostgreSQL 16, and tested against it), `docker run` with the same options; PRISM_BUILDX_CACHE (e.g. type=gha) adds a build
# cache, one scope per service.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/toolchain.sh
. scripts/toolchain.sh
prism_toolchain
TAG='image-test'
if [ "$PRISM_TOOLCHAIN" = source ]; then
  PODMAN=(podman --runtime runc) RM=(podman rm -f -t 0) IMAGES=podman
else
  require_on_path docker
  # Without the plugin `docker buildx build --load` fails per service with "unknown flag: --load"; say it once.
  docker buildx version >/dev/null 2>&1 ||
    { echo "image-test: download mode needs docker buildx (docker/setup-buildx-action), not found" >&2; exit 1; }
  docker info >/dev/null 2>&1 || { echo "image-test: download mode needs a running Docker engine (docker info fails)" >&2; exit 1; }
  PODMAN=(docker) RM=(docker rm -f) IMAGES=docker
fi
BASE_OPTS=(--read-only --user 10001:10001 --cap-drop ALL --security-opt no-new-privileges
  --ulimit nofile=20000:20000 --ulimit nproc=4096:4096)
RUN_OPTS=("${BASE_OPTS[@]}" --network none)
# shellcheck source=scripts/image-test-dbmanager.sh
. scripts/image-test-dbmanager.sh
# The PostgreSQL the DB manager is built with and tested against: the model's image, or its stand-in.
PG_IMAGE=$(sed -n 's/^ARG PG_IMAGE=//p' services/Dockerfile)
[ "$PRISM_TOOLCHAIN" = download ] || PG_IMAGE=localhost/prism-standin-postgres:16-bookworm
# The stand-ins are Debian 12 (bookworm) under their own names; the Dockerfile's defaults are Debian 13 pinned by
# digest, which no stand-in can match: the build is given the stand-ins, and bookworm's tini, which the image
# check then holds the image to.
STANDIN_TINI=0.19.0-1+b3
STANDIN_ARGS=(--build-arg NODE_IMAGE=docker.io/library/node:24-bookworm-slim
  --build-arg BASE_IMAGE=docker.io/library/debian:bookworm-slim --build-arg "TINI_VERSION=$STANDIN_TINI")
[ "$PRISM_TOOLCHAIN" = download ] || export PRISM_IMAGE_TINI_VERSION=$STANDIN_TINI
services=("$@")
[ ${#services[@]} -gt 0 ] || services=(gateway auth config dbmanager)

[ "$PRISM_TOOLCHAIN" = download ] || bash scripts/image-base.sh

# How Compose builds each service: the model's build arguments and target, as rendered.
declare -A TARGET
while read -r svc service target; do
  [ "$svc" = "$service" ] || { echo "image-test: $svc is built with SERVICE=$service" >&2; exit 1; }
  TARGET[$svc]=$target
done < <(node --input-type=module -e "
  import { readFileSync } from 'node:fs';
  import { parse } from 'yaml';
  const { services } = parse(readFileSync('deploy/docker-compose/docker-compose.yml', 'utf8'));
  for (const name of ['gateway', 'auth', 'config', 'dbmanager']) {
    const b = services[name].build;
    if (b.dockerfile !== 'services/Dockerfile') throw new Error(name + ': built from ' + b.dockerfile);
    console.log(name, b.args.SERVICE, b.target);
  }")

# On a machine behind a TLS-intercepting proxy, npm in the build trusts the host's CA bundle
# (NODE_EXTRA_CA_CERTS), mounted into the build steps only: no image keeps it.
BUILD_OPTS=(--isolation chroot --layers --force-rm -f services/Dockerfile)
[ "$PRISM_TOOLCHAIN" = source ] || BUILD_OPTS=(--load -f services/Dockerfile)
tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/prism-image-test.XXXXXX")
containers=() MINIO_PIDS=()
# buildah leaves a working container for a stage that is only copied from (FROM node AS node): ours go at the end.
[ "$PRISM_TOOLCHAIN" = download ] || buildah containers -q | sort >"$tmp/working-before"
cleanup() {
  for c in "${containers[@]}"; do "${RM[@]}" "$c" >/dev/null 2>&1 || true; done
  for p in "${MINIO_PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  if [ "$PRISM_TOOLCHAIN" = source ]; then
    for w in $(buildah containers -q | sort | comm -13 "$tmp/working-before" -); do buildah rm "$w" >/dev/null 2>&1 || true; done
    for s in "${services[@]}"; do podman image unmount "localhost/prism-$s:$TAG" >/dev/null 2>&1 || true; done
  fi
  chmod -R u+w "$tmp" 2>/dev/null || true # exported root filesystems have read-only directories
  rm -rf "$tmp"
}
# Engine-neutral steps. build <image> <args...>; rootfs <image> prints a directory with its root filesystem
# (podman: mounted; docker: exported); release <image> undoes that; processes <container> prints "PID ARGS"
# lines as the container sees its PIDs.
build() {
  local image=$1; shift
  if [ "$PRISM_TOOLCHAIN" = source ]; then
    buildah bud "${BUILD_OPTS[@]}" "$@" -t "$image" .
  else
    local cache=()
    [ -z "${PRISM_BUILDX_CACHE:-}" ] || cache=(--cache-from "$PRISM_BUILDX_CACHE,scope=$s" --cache-to "$PRISM_BUILDX_CACHE,mode=max,scope=$s")
    docker buildx build "${BUILD_OPTS[@]}" "${cache[@]}" "$@" -t "$image" .
  fi
}
rootfs() {
  if [ "$PRISM_TOOLCHAIN" = source ]; then podman image mount "$1"; return; fi
  local dir c
  dir=$(mktemp -d "$tmp/rootfs.XXXX") && c=$(docker create "$1")
  docker export "$c" | tar -x --no-same-owner -C "$dir" && docker rm "$c" >/dev/null
  echo "$dir"
}
release() { if [ "$PRISM_TOOLCHAIN" = source ]; then podman image unmount "$1" >/dev/null; fi; }
processes() {
  if [ "$PRISM_TOOLCHAIN" = source ]; then podman top "$1" pid args; return; fi
  # docker top shows the host's PIDs: read the container's own /proc instead.
  # shellcheck disable=SC2016 # expanded by the container's shell
  docker exec "$1" sh -c 'echo "PID COMMAND"; for p in /proc/[0-9]*; do printf "%5s %s\n" "${p#/proc/}" "$(tr "\0" " " <"$p/cmdline")"; done'
}
trap cleanup EXIT
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
  printf 'cafile=/etc/prism-build-ca.crt\n' >"$tmp/npmrc"
  BUILD_OPTS+=(-v "$NODE_EXTRA_CA_CERTS:/etc/prism-build-ca.crt:ro" -v "$tmp/npmrc:/usr/local/etc/npmrc:ro")
fi

fail=0
bad() { echo "FAIL $*"; fail=1; }

for s in "${services[@]}"; do
  image=localhost/prism-$s:$TAG
  args=(--build-arg "SERVICE=$s" --target "${TARGET[$s]}")
  if [ "$PRISM_TOOLCHAIN" = source ]; then
    args+=("${STANDIN_ARGS[@]}")
    [ "$s" != dbmanager ] || args+=(--build-arg "PG_IMAGE=$PG_IMAGE")
  fi
  start=$(date +%s)
  if ! build "$image" "${args[@]}" >"$tmp/build-$s.log" 2>&1; then
    tail -30 "$tmp/build-$s.log"
    bad "$s: build"
    continue
  fi
  echo "== $s: built in $(($(date +%s) - start)) s"

  # What the image carries: its files and its config.
  $IMAGES image inspect "$image" | node -e 'process.stdout.write(JSON.stringify(JSON.parse(require("fs").readFileSync(0, "utf8"))[0]))' >"$tmp/config-$s.json"
  mnt=$(rootfs "$image")
  # The DB manager's PostgreSQL programs (its code's list) are each run in a container of the image too.
  run_in=()
  [ "$s" != dbmanager ] || run_in=(--run "${PODMAN[*]} run --rm ${RUN_OPTS[*]}" "$image")
  node scripts/check-image.mjs "$s" "$mnt" "$tmp/config-$s.json" "${run_in[@]}" || bad "$s: image contents"
  release "$image"
  size=$($IMAGES image inspect --format '{{.Size}}' "$image")
  if [ "$PRISM_TOOLCHAIN" = source ]; then
    layers=$(podman history --format json "$image" | node -e 'console.log(JSON.parse(require("fs").readFileSync(0, "utf8")).reduce((n, l) => n + l.size, 0))')
    echo "$s: image size $size bytes (podman image inspect), layers $layers bytes uncompressed (podman history)"
  else
    echo "$s: image size $size bytes (docker image inspect), $(docker history -q "$image" | wc -l) history entries"
  fi

  # Started with no environment: the service's own start-up error, exit 78.
  set +e
  out=$("${PODMAN[@]}" run --rm "${RUN_OPTS[@]}" "$image" 2>&1)
  rc=$?
  set -e
  { [ $rc = 78 ] && grep -q 'PRISM_ENVIRONMENT' <<<"$out"; } || { echo "$out" | tail -5; bad "$s: no-environment start (exit $rc)"; }
  echo "$s: without environment, exit $rc: $(grep -m1 PRISM_ <<<"$out" | cut -c1-160)"
done

# Started far enough to answer /health/live, with the stores it needs unreachable: the gateway (auth and
# config connect to their database first). The URL is the contract's metrics port and liveness path.
LIVE_URL=$(npx tsx -e 'import { HEALTH_PATHS, PORTS } from "./infra/contract/index.ts"; console.log(`http://127.0.0.1:${PORTS.metrics}${HEALTH_PATHS.live}`);')
health() {
  local s=$1; shift
  local c="prism-image-test-$s"
  containers+=("$c")
  "${PODMAN[@]}" run -d --name "$c" "${RUN_OPTS[@]}" --tmpfs /tmp:size=16m "$@" "localhost/prism-$s:$TAG" >/dev/null
  for _ in $(seq 1 30); do
    if "${PODMAN[@]}" exec "$c" node -e 'fetch(process.argv[1]).then(r => { process.exitCode = r.ok ? 0 : 1 }, () => { process.exitCode = 1 })' "$LIVE_URL" 2>/dev/null; then
      echo "$s: $LIVE_URL answered 200 (read-only root, uid $("${PODMAN[@]}" exec "$c" id -u))"
      return
    fi
    sleep 1
  done
  $IMAGES logs "$c" 2>&1 | tail -5
  bad "$s: /health/live"
}
in_list() { local x=$1; shift; for y in "$@"; do [ "$x" = "$y" ] && return 0; done; return 1; }

COMMON=(-e PRISM_ENVIRONMENT=image-test -e PRISM_NATS_URL=nats://127.0.0.1:1 -e PRISM_LOG_LEVEL=warn)
if in_list gateway "${services[@]}" && [ $fail = 0 ]; then
  # gateway.yaml names the mesh CA file (for auth's JWKS and the upstreams): a throwaway one.
  cp deploy/gateway/gateway.yaml "$tmp/gateway.yaml"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=image-test \
    -keyout "$tmp/ca.key" -out "$tmp/ca.crt" 2>/dev/null
  chmod 0644 "$tmp/ca.crt" "$tmp/gateway.yaml"
  health gateway -v "$tmp/ca.crt:/etc/prism/mtls/ca.crt:ro" "${COMMON[@]}" -e PRISM_AUTH_GRPC_ADDRESS=127.0.0.1:2 -e PRISM_CONFIG_GRPC_ADDRESS=127.0.0.1:3 \
    -e PRISM_REDIS_ADDRESS=127.0.0.1:4 -e PRISM_REDIS_PASSWORD=image-test -e PRISM_GATEWAY_CACHE_KEY=image-test-cache-key -e PRISM_JWT_ISSUER=prism-auth -e PRISM_JWT_AUDIENCE=prism-api \
    -e PRISM_GATEWAY_CONFIG_FILE=/etc/prism/gateway/gateway.yaml -v "$tmp/gateway.yaml:/etc/prism/gateway/gateway.yaml:ro"
fi

# The check fails on a planted violation: the gateway's image with npm and the DB manager's AWS SDK added.
if in_list gateway "${services[@]}" && in_list dbmanager "${services[@]}" && [ $fail = 0 ]; then
  if [ "$PRISM_TOOLCHAIN" = source ]; then
    w=$(buildah from -q localhost/prism-gateway:$TAG)
    buildah copy -q --from docker.io/library/node:24-bookworm-slim "$w" /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm >/dev/null
    buildah copy -q --from localhost/prism-dbmanager:$TAG "$w" /app/node_modules/@aws-sdk /app/node_modules/@aws-sdk >/dev/null
    mnt=$(buildah mount "$w")
  else
    printf '%s\n' "FROM localhost/prism-gateway:$TAG" \
      "COPY --from=docker.io/library/node:24-bookworm-slim /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm" \
      "COPY --from=localhost/prism-dbmanager:$TAG /app/node_modules/@aws-sdk /app/node_modules/@aws-sdk" |
      docker buildx build --builder default --load -q -t localhost/prism-planted:$TAG - >/dev/null # the engine's own builder sees its images
    mnt=$(rootfs localhost/prism-planted:$TAG)
  fi
  set +e
  planted=$(node scripts/check-image.mjs gateway "$mnt")
  rc=$?
  set -e
  if [ "$PRISM_TOOLCHAIN" = source ]; then buildah rm "$w" >/dev/null; else docker rmi -f localhost/prism-planted:$TAG >/dev/null; fi
  if [ $rc = 1 ] && grep -q '^usr/local/lib/node_modules/npm: a package manager' <<<"$planted" && grep -q "^app/node_modules/@aws-sdk/client-s3: a package gateway's code does not use" <<<"$planted"; then
    echo "planted npm and @aws-sdk in the gateway's image: the check fails ($(tail -1 <<<"$planted"))"
  else
    echo "$planted"
    bad "the check passed a planted violation"
  fi
fi

# The DB manager: tini as PID 1, node under it; its PostgreSQL programs run; no anonymous volume.
if in_list dbmanager "${services[@]}" && [ $fail = 0 ]; then
  c=prism-image-test-dbmanager
  containers+=("$c")
  before=$($IMAGES volume ls -q | sort)
  "${PODMAN[@]}" run -d --name "$c" "${RUN_OPTS[@]}" localhost/prism-dbmanager:$TAG schedule --job 'probe|0 0 1 1 *|status' >/dev/null
  sleep 3
  ps=$(processes "$c")
  echo "$ps"
  grep -Eq '^ *1 +/usr/bin/tini -- node /app schedule' <<<"$ps" || bad "dbmanager: PID 1 is not tini"
  grep -Eq 'node /app schedule' <<<"$(grep -v '^ *1 ' <<<"$ps")" || bad "dbmanager: node does not run under tini"
  "${RM[@]}" "$c" >/dev/null
  after=$($IMAGES volume ls -q | sort)
  [ "$before" = "$after" ] || bad "dbmanager: volumes created: $(comm -13 <(echo "$before") <(echo "$after") | tr '\n' ' ')"
  echo "dbmanager: $IMAGES volume ls unchanged ($(echo "$after" | grep -c . || true) volumes before and after)"
fi

# The program check fails on the defect it guards against: the DB manager's image without pg_waldump, and
# with pg_waldump but without a library it loads (liblz4, which the ldd step must have copied).
if in_list dbmanager "${services[@]}" && [ $fail = 0 ]; then
  bin=$(sed -n 's/^ENV PATH=\(\/usr\/lib\/postgresql\/[^:]*\):.*/\1/p' services/Dockerfile | sed "s/\${PG_MAJOR}/$(sed -n 's/^ARG PG_MAJOR=//p' services/Dockerfile)/")
  for plant in "$bin/pg_waldump" "/usr/lib/x86_64-linux-gnu/liblz4.so.1"; do
    pimage=localhost/prism-planted-dbmanager:$TAG
    if [ "$PRISM_TOOLCHAIN" = source ]; then
      w=$(buildah from -q localhost/prism-dbmanager:$TAG)
      rm -f "$(buildah mount "$w")$plant"* && buildah commit -q "$w" "$pimage" >/dev/null && buildah rm "$w" >/dev/null
    else
      printf '%s\n' "FROM localhost/prism-dbmanager:$TAG" 'USER root' "RUN rm -f $plant*" 'USER 10001:10001' |
        docker buildx build --builder default --load -q -t "$pimage" - >/dev/null
    fi
    mnt=$(rootfs "$pimage")
    set +e
    planted=$(node scripts/check-image.mjs dbmanager "$mnt" --run "${PODMAN[*]} run --rm ${RUN_OPTS[*]}" "$pimage")
    rc=$?
    set -e
    release "$pimage"
    $IMAGES rmi -f "$pimage" >/dev/null
    if [ $rc = 1 ] && grep -q 'pg_waldump' <<<"$planted"; then
      echo "planted: $plant removed from the DB manager's image: the check fails ($(grep -m1 pg_waldump <<<"$planted" | cut -c1-150))"
    else
      echo "$planted"
      bad "the check passed a DB manager image without $plant"
    fi
  done
fi

# The services' real work beside a local platform: health and one real request each (image-test-services.ts).
real=()
for s in config auth gateway; do in_list "$s" "${services[@]}" && real+=("$s"); done
if [ ${#real[@]} -gt 0 ] && [ $fail = 0 ]; then
  t=$(date +%s)
  PRISM_IMAGE_TAG=$TAG PRISM_IMAGE_RUN_OPTS="${BASE_OPTS[*]}" node --import tsx scripts/image-test-services.ts "${PODMAN[@]}" -- "${real[@]}" ||
    bad "real work of ${real[*]}"
  echo "image-test: real work of ${real[*]} in $(($(date +%s) - t)) s"
fi

# The DB manager's real work: backup, verification and restore of a real PostgreSQL 16 (image-test-dbmanager.sh).
if in_list dbmanager "${services[@]}" && [ $fail = 0 ]; then
  dbmanager_work "localhost/prism-dbmanager:$TAG" "$PG_IMAGE"
fi

if [ -z "${PRISM_IMAGE_TEST_KEEP:-}" ]; then
  for s in "${services[@]}"; do $IMAGES rmi -f "localhost/prism-$s:$TAG" >/dev/null 2>&1 || true; done
fi
echo "image-test: the build layers stay cached for the next run; podman image prune -f removes them (the bases are kept)"
if [ $fail != 0 ]; then
  echo "image-test: FAILED"
  exit 1
fi
echo "image-test: all passed"
