# shellcheck shell=bash
# Every image the rendered Kubernetes manifests of a stack name, in the real-pods lane's containerd (sourced by
# scripts/cluster-run.sh, or run on its own). Nothing can be pulled here: each is the stand-in in podman's storage
# (scripts/standin-images.sh builds those missing; the Prism images are built from services/Dockerfile), saved in
# one Docker archive and imported into containerd's k8s.io namespace under the name the manifests use, name:tag, and for a
# reference pinned by digest also as repository@digest, the name the CRI looks such a reference up by.
#   stack_images <containerd socket> [manifest dir, default dist/k8s/dev]
# Run: bash scripts/cluster/stack-images.sh <containerd socket> [manifest dir]

stack_images() {
  local sock=$1 dir=${2:-dist/k8s/dev} root work name id kept=0 start=$SECONDS
  local -a images names
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  [ -S "$sock" ] || { echo "stack-images: no containerd socket at $sock" >&2; return 1; }
  mapfile -t images < <(cd "$root" && node scripts/compose-standin-refs.mjs manifests "$dir")
  [ ${#images[@]} -gt 0 ] || { echo "stack-images: no image named in $dir (npm run synth renders it)" >&2; return 1; }
  (cd "$root" && bash scripts/standin-images.sh "${images[@]}") || return 1
  mapfile -t names < <(cd "$root" && bash scripts/standin-images.sh --names "${images[@]}")
  local -a missing=()
  for name in "${names[@]}"; do
    # Imported once per build: containerd's copy is labelled with podman's image ID, and one with the same is kept.
    id=$(podman image inspect --format '{{.Id}}' "$name") || return 1
    if ctr --address "$sock" -n k8s.io images ls "name==$name" | grep -q "org.prism.podman-id=$id"; then
      kept=$((kept + 1))
    else
      missing+=("$name")
    fi
  done
  if [ ${#missing[@]} -gt 0 ]; then
    # One uncompressed archive of them all: the layers they share (the base images) are written and imported once,
    # and nothing is gzipped (an OCI archive per image compressed every layer: about 100 s of the lane's 120).
    work=$(mktemp -d /var/tmp/prism-stack-images.XXXXXX)
    if ! podman save -q --multi-image-archive --format docker-archive -o "$work/images.tar" "${missing[@]}" ||
      ! ctr --address "$sock" -n k8s.io images import "$work/images.tar" >/dev/null; then
      echo "stack-images: ${missing[*]} could not be imported" >&2
      rm -rf "$work"
      return 1
    fi
    rm -rf "$work"
    for name in "${missing[@]}"; do
      id=$(podman image inspect --format '{{.Id}}' "$name") &&
        ctr --address "$sock" -n k8s.io images label "$name" "org.prism.podman-id=$id" >/dev/null || return 1
    done
    # A Docker archive also names each image by its ID (sha256:...): not a name any manifest uses.
    ctr --address "$sock" -n k8s.io images ls -q | grep '^sha256:' | xargs -r ctr --address "$sock" -n k8s.io images rm >/dev/null
  fi
  # A reference pinned by digest (name:tag@sha256:...) is resolved by the CRI as repository@digest, the tag dropped:
  # the stand-in gets that name too, so a digest-pinned pod finds it locally (with imagePullPolicy IfNotPresent; the
  # pinned digest is the registry's image, which the stand-in is not: this only names it so).
  local ref
  while read -r ref; do
    name=$(cd "$root" && bash scripts/standin-images.sh --names "$ref")
    names+=("${name%:*}@${ref#*@}")
    ctr --address "$sock" -n k8s.io images tag --force "$name" "${name%:*}@${ref#*@}" >/dev/null || return 1
  done < <(cd "$root" && node scripts/compose-standin-refs.mjs manifests "$dir" --pinned)
  # Each under exactly the name the kubelet resolves the manifest's reference to.
  for name in "${names[@]}"; do
    ctr --address "$sock" -n k8s.io images ls -q "name==$name" | grep -qxF "$name" ||
      { echo "stack-images: $name is not in containerd after the import" >&2; return 1; }
  done
  echo "stack-images: ${#images[@]} images in containerd ($kept already there; $((${#names[@]} - ${#images[@]})) digest names) in $((SECONDS - start)) s" >&2
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  [ $# -ge 1 ] || { echo "usage: bash scripts/cluster/stack-images.sh <containerd socket> [manifest dir]" >&2; exit 2; }
  cd "$(dirname "$0")/../.."
  stack_images "$@"
fi
