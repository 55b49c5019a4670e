# shellcheck shell=bash
# Stand-in images for the real-pods lane (sourced by scripts/cluster-run.sh). Nothing can be pulled here, so each
# image is a one-layer OCI archive written from local files and imported into containerd's k8s.io namespace under
# the name the manifests use. Layers are written deterministically (sorted, mtime 0, owner 0).

# oci_archive <ref> <rootfs-dir> <out.tar> <entrypoint JSON array> [user]
oci_archive() {
  local ref=$1 rootfs=$2 out=$3 entrypoint=$4 user=${5:-} work layer config manifest diff
  work=$(mktemp -d)
  mkdir -p "$work/blobs/sha256"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$rootfs" -cf "$work/layer.tar" .
  diff=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
  gzip -9n <"$work/layer.tar" >"$work/layer.tar.gz"
  layer=$(sha256sum "$work/layer.tar.gz" | cut -d' ' -f1)
  mv "$work/layer.tar.gz" "$work/blobs/sha256/$layer"
  printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":%s,"User":"%s","Env":["PATH=/bin"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$entrypoint" "$user" "$diff" >"$work/config.json"
  config=$(sha256sum "$work/config.json" | cut -d' ' -f1)
  mv "$work/config.json" "$work/blobs/sha256/$config"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%d}]}' \
    "$config" "$(stat -c %s "$work/blobs/sha256/$config")" "$layer" "$(stat -c %s "$work/blobs/sha256/$layer")" >"$work/manifest.json"
  manifest=$(sha256sum "$work/manifest.json" | cut -d' ' -f1)
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$manifest" "$(stat -c %s "$work/manifest.json")" "$ref" "${ref##*:}" >"$work/index.json"
  mv "$work/manifest.json" "$work/blobs/sha256/$manifest"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$work/oci-layout"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work" -cf "$out" oci-layout index.json blobs
  rm -rf "$work"
}

# import_image <ref> <rootfs-dir> <entrypoint JSON> [user]: into containerd (unpacked for the CRI's snapshotter).
import_image() {
  local archive
  archive=$(mktemp --suffix .tar)
  oci_archive "$1" "$2" "$archive" "$3" "${4:-}"
  ctr --address "$CONTAINERD_SOCK" -n k8s.io images import --no-unpack=false "$archive" >/dev/null
  rm -f "$archive"
}

# The images every run needs: the sandbox (pause), CoreDNS and a busybox for the probe and flow checks.
# Binaries come from the tools cache (CoreDNS), a Go build of scripts/cluster/pause.go and Debian's busybox-static.
stand_in_images() {
  local root=$STATE/images
  rm -rf "$root" && mkdir -p "$root/pause" "$root/coredns" "$root/busybox/bin"
  (cd "$ROOT/scripts/cluster" && CGO_ENABLED=0 GOFLAGS='' GO111MODULE=off nice -n 19 go build -ldflags "-s -w" -o "$root/pause/pause" pause.go)
  import_image "$PAUSE_IMAGE" "$root/pause" '["/pause"]' 65535
  cp "$(command -v coredns)" "$root/coredns/coredns"
  import_image "$COREDNS_IMAGE" "$root/coredns" '["/coredns"]'
  if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then # not there, or dynamically linked
    echo "cluster-run: a static busybox is missing: apt-get install busybox-static" >&2
    return 1
  fi
  cp /bin/busybox "$root/busybox/bin/busybox"
  local applet
  for applet in sh httpd nc nslookup sleep cat echo ls; do ln -s busybox "$root/busybox/bin/$applet"; done
  import_image "$BUSYBOX_IMAGE" "$root/busybox" '["/bin/sh"]'
  rm -rf "$root"
}
