# Sourced by the CI scripts: the one switch between the two ways this package's CI gets its tools.
#   PRISM_TOOLCHAIN=download   the tools are downloaded the ordinary way and already on PATH (GitHub Actions:
#                              actions/setup-node, setup-go, pulumi/actions, helm/kind-action, docker buildx);
#                              nothing is built from source and no stand-in image is made
#   PRISM_TOOLCHAIN=source     the tools are built from the Go module proxy (scripts/control-plane-tools.sh) and
#                              the base images are stand-ins (scripts/image-base.sh): machines with none of
#                              those downloads, like the CI machine this package is developed on
# Unset, it is `download` on GitHub Actions (GITHUB_ACTIONS=true) and `source` anywhere else; the choice and
# its reason are printed once, so a log always says which path ran.
prism_toolchain() {
  local reason
  case ${PRISM_TOOLCHAIN:-} in
    download | source) reason="PRISM_TOOLCHAIN=$PRISM_TOOLCHAIN" ;;
    '')
      if [ "${GITHUB_ACTIONS:-}" = true ]; then
        PRISM_TOOLCHAIN=download reason='GITHUB_ACTIONS=true; set PRISM_TOOLCHAIN=source to build the tools'
      else
        PRISM_TOOLCHAIN=source reason='not on GitHub Actions; set PRISM_TOOLCHAIN=download to use the tools on PATH'
      fi
      ;;
    *)
      echo "toolchain: PRISM_TOOLCHAIN=$PRISM_TOOLCHAIN: expected download or source" >&2
      return 2
      ;;
  esac
  export PRISM_TOOLCHAIN
  if [ -z "${PRISM_TOOLCHAIN_LOGGED:-}" ]; then
    echo "toolchain: $PRISM_TOOLCHAIN ($reason)" >&2
    export PRISM_TOOLCHAIN_LOGGED=1
  fi
}

# require_on_path <command...>: fails naming every one missing (download mode installs nothing).
require_on_path() {
  local missing=() c
  for c in "$@"; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "toolchain: download mode: not on PATH: ${missing[*]} (install them, or set PRISM_TOOLCHAIN=source)" >&2
  return 1
}
