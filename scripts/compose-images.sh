#!/usr/bin/env bash
# The images the dev stack's Compose files name (infrastructure, services, Traefik), in podman's storage under
# exactly those names, for scripts/compose-run.sh on a machine that cannot pull them (PRISM_TOOLCHAIN=source).
# The names are read from the rendered Compose files the lane starts (scripts/compose-standin-refs.mjs), so they
# follow the pins of infra/model/images.ts; a stand-in cannot have the pinned digest, so it is tagged name:tag and
# scripts/compose-run.sh runs Compose with a generated override dropping the digests (the committed files keep them).
# What each stand-in runs: scripts/standin-images.sh, which makes them for the real-pods lane too. The four Prism
# images are built from services/Dockerfile as Compose would, under the Compose names.
# Usage: bash scripts/compose-images.sh [--rebuild]
set -euo pipefail
cd "$(dirname "$0")/.."
# The files scripts/compose-run.sh starts.
FILES=(deploy/docker-compose/docker-compose{,.infra,.observability}.yml deploy/traefik/docker-compose.traefik.yml)
mapfile -t images < <(node scripts/compose-standin-refs.mjs images "${FILES[@]}")
mapfile -t prism < <(node scripts/compose-standin-refs.mjs built "${FILES[@]}")
exec bash scripts/standin-images.sh "$@" "${images[@]}" "${prism[@]}"
