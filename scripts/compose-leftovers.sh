# shellcheck shell=bash
# Sourced by scripts/compose-run.sh: what `down` must leave behind is nothing of the lane's. Before the project is
# removed, leftovers_record writes what it holds on the host (container IDs, their root filesystem and network
# namespace mounts, their published host ports); after, leftovers_check fails, naming each, if any of it is still
# there, or any container, network or volume labelled with the project, or any process of the engine the lane
# started (its command line names the state directory) or of a recorded container (conmon, a shim).
# The engine's own CLI answers after the lane's API socket is gone: podman in source mode, docker in download mode.

# leftovers_record <file>: needs the engine answering at DOCKER_HOST.
leftovers_record() {
  local file=$1 ids
  : >"$file"
  ids=$(docker ps -aq --no-trunc --filter "label=com.docker.compose.project=$(project)") || return 0
  [ -n "$ids" ] || return 0
  # shellcheck disable=SC2086 # one argument per ID
  docker inspect --format '{{.Id}} {{index .GraphDriver.Data "MergedDir"}} {{.NetworkSettings.SandboxKey}}
{{- range $p, $b := .HostConfig.PortBindings}}{{range $b}} port={{.HostIp}}:{{.HostPort}}{{end}}{{end}}' $ids |
    while read -r id rest; do
      echo "container $id"
      for r in $rest; do
        case $r in
          port=*) echo "port ${r#port=}" ;;
          /*) echo "mount $r" ;;
        esac
      done
    done >>"$file"
}

# leftovers_check <file> <state dir>: prints each leftover; non-zero when there is one.
leftovers_check() {
  local file=$1 state=$2 cli=docker label left=() kind what ip port
  [ "$PRISM_TOOLCHAIN" = download ] || cli=podman
  label="label=com.docker.compose.project=$(project)"
  for kind in container network volume; do
    case $kind in
      container) what=$($cli ps -a --filter "$label" --format '{{.Names}}') ;;
      *) what=$($cli "$kind" ls -q --filter "$label") ;;
    esac || { left+=("${kind}s: $cli cannot list them"); continue; }
    for w in $what; do left+=("$kind $w"); done
  done
  # Patterns naming what was the lane's: its state directory and each recorded container's ID.
  local pats=(-e "$state/") id
  while read -r id; do pats+=(-e "$id"); done < <([ ! -f "$file" ] || sed -n 's/^container //p' "$file")
  # Processes: the engine started in the state directory (podman's service, the API shim), or one holding a
  # container (conmon, a shim).
  local c procs self=" " p=$BASHPID
  # This check and what runs it are not the lane's, whatever their command lines say.
  while [ "$p" -gt 1 ]; do self+="$p " p=$(sed 's/.*) //' "/proc/$p/stat" | cut -d' ' -f2); done
  procs=$(command_lines) # read first: the grep below would match itself
  while read -r p c; do
    [[ $self == *" $p "* ]] || left+=("process $p ${c:0:200}")
  done < <(grep -F "${pats[@]}" <<<"$procs" || true)
  # Mounts: a recorded mount point (root filesystem, network namespace), or any naming an ID or the state directory.
  local mounts owner
  mounts=$(awk '{ print $5 }' /proc/self/mountinfo)
  while read -r m; do left+=("mount $m"); done < <(grep -F "${pats[@]}" <<<"$mounts" || true)
  # Ports: a published one still listening (on its address or every address), with what holds it.
  while read -r kind what; do
    case $kind in
      mount) grep -qxF "$what" <<<"$mounts" && left+=("mount $what") ;;
      port)
        ip=${what%:*} port=${what##*:}
        owner=$(ss -Hltnp "sport = :$port" | awk -v a="${ip:-0.0.0.0}:$port" '$4 == a || $4 ~ /^(\*|0\.0\.0\.0|\[::\]):/ { print $6 }')
        [ -z "$owner" ] || left+=("listening port $what $owner")
        ;;
    esac
  done < <([ ! -f "$file" ] || cat "$file")
  [ ${#left[@]} -gt 0 ] || return 0
  printf 'compose-run: left after down: %s\n' "${left[@]}" >&2
  return 1
}

# leftovers_reap <file>: podman 4.3 keeps the conmon of each `exec` session (deploy/backup's `docker compose exec`)
# for --exit-delay 300 s after it ends, even once its container is removed: those of a recorded container are
# stopped, by PID, so that down leaves no process. Nothing else is touched.
leftovers_reap() {
  local file=$1 pids=() id pid cmd procs
  [ -f "$file" ] || return 0
  procs=$(command_lines)
  while read -r id; do
    while read -r pid cmd; do
      [[ $cmd == "/usr/bin/conmon "*" -c $id "* ]] && pids+=("$pid")
    done <<<"$procs"
  done < <(sed -n 's/^container //p' "$file")
  [ ${#pids[@]} -gt 0 ] || return 0
  kill "${pids[@]}" 2>/dev/null || true
  local alive
  for _ in $(seq 50); do
    alive=no
    for pid in "${pids[@]}"; do [ ! -d "/proc/$pid" ] || alive=yes; done
    [ $alive = yes ] || break
    sleep 0.1
  done
  echo "compose-run: stopped ${#pids[@]} conmon process(es) of exec sessions of removed containers"
}

# "PID command line" of every process but this one, a fork of its caller (those that end meanwhile are skipped).
command_lines() {
  local p c
  for p in /proc/[0-9]*; do
    [ "${p#/proc/}" != "$BASHPID" ] || continue
    c=$({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null) && [ -n "$c" ] && echo "${p#/proc/} $c"
  done
  return 0
}
