#!/usr/bin/env bash
# The local service stack, without Docker: install, start, stop and inspect the
# services ledgerstream runs against, all on 127.0.0.1 with data under .ledgerstream/.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=infra/local/lib.sh
. "$here/lib.sh"
for file in "$here"/services/*.sh; do
  # shellcheck disable=SC1090
  . "$file"
done

# Start order; `down` goes the other way. The registry keeps its schemas in the broker.
ALL_SERVICES=(broker clickhouse search prometheus registry)
READY_SECONDS=${LEDGERSTREAM_READY_SECONDS:-180}

usage() {
  cat <<USAGE
usage: infra/local/stack.sh COMMAND [SERVICE...]

Commands:
  install [SERVICE...]           install what is missing, skip what is there
  up [--record FILE] [SERVICE...]
                                 install, start and wait until ready; with --record,
                                 append the names of the services this call started
  down [--recorded FILE] [SERVICE...]
                                 stop services this stack started; with --recorded,
                                 only those named in FILE (then FILE is removed)
  status                         a table: service, port, healthy?, pid, log
  logs SERVICE                   follow a service's log

Services: ${ALL_SERVICES[*]} (default: all)
Data, logs and pids live under $LS_HOME (LEDGERSTREAM_HOME);
tools built here under $LS_TOOLS (LEDGERSTREAM_TOOLS).
USAGE
}

# Checks that every argument names a service; prints the list (default: all).
services_from() {
  [ $# -eq 0 ] && set -- "${ALL_SERVICES[@]}"
  local name known
  for name in "$@"; do
    known=no
    for svc in "${ALL_SERVICES[@]}"; do [ "$svc" = "$name" ] && known=yes; done
    [ $known = yes ] || die "unknown service '$name'; the services are: ${ALL_SERVICES[*]}"
    printf '%s\n' "$name"
  done
}

cmd_install() {
  local name
  for name in $(services_from "$@"); do "${name}_install"; done
}

# run_ready_hook NAME: runs NAME_ready, when the service defines one, once it answers.
run_ready_hook() {
  if declare -F "${1}_ready" >/dev/null; then "${1}_ready"; fi
}

# up_one NAME: 0 started, 2 already running (ours or not), 1 failed.
up_one() {
  local name=$1 port
  port=$("${name}_port")
  if [ "$name" = registry ] && ! registry_available; then
    say "registry: skipped, this build of ledgerstream has no 'registry' subcommand"
    return 2
  fi
  local owner
  if port_in_use "$port"; then
    # Whose it is, before how it answers: a service this stack did not start
    # may answer as well as its own would.
    read -r -a owner <<<"$(port_owner "$name" "$port")"
    case ${owner[0]} in
      ours | stack)
        if "${name}_healthy"; then
          if [ "${owner[0]}" = ours ]; then
            say "$name: already running on port $port (pid ${owner[1]})"
          else
            say "$name: already running on port $port, started by the ledgerstream stack in ${owner[2]} (pid ${owner[1]}); using it"
          fi
          run_ready_hook "$name"
          return 2
        fi
        if [ "${owner[0]}" = stack ]; then
          say "error: port $port, which $name needs, is held by an unhealthy $name that the ledgerstream stack in ${owner[2]} started (pid ${owner[1]})"
          say "stop it with: LEDGERSTREAM_HOME=${owner[2]} infra/local/stack.sh down $name, then run: infra/local/stack.sh up $name"
          return 1
        fi
        ;;
      *)
        port_taken_help "$name" "$port" "${owner[@]}"
        return 1
        ;;
    esac
  fi
  if running_pid "$name" >/dev/null; then
    say "$name: started earlier but not healthy; restarting it"
    stop_daemon "$name"
  fi
  "${name}_start"
  wait_ready "$name" "$READY_SECONDS" || return 1
  run_ready_hook "$name" || return 1
  say "$name: ready on port $port (log: $(log_file "$name"))"
}

cmd_up() {
  local record=""
  if [ "${1:-}" = --record ]; then
    record=${2:?--record needs a file}
    shift 2
  fi
  local names
  names=$(services_from "$@")
  # shellcheck disable=SC2086
  cmd_install $names
  local name status
  for name in $names; do
    status=0
    up_one "$name" || status=$?
    [ $status -eq 1 ] && exit 1
    [ $status -eq 0 ] && [ -n "$record" ] && printf '%s\n' "$name" >>"$record"
  done
  return 0
}

cmd_down() {
  local names
  if [ "${1:-}" = --recorded ]; then
    local file=${2:?--recorded needs a file}
    shift 2
    [ -f "$file" ] || return 0
    names=$(cat "$file")
    rm -f "$file"
  else
    names=$(services_from "$@")
  fi
  local i name ordered=()
  for ((i = ${#ALL_SERVICES[@]} - 1; i >= 0; i--)); do
    name=${ALL_SERVICES[$i]}
    grep -qx "$name" <<<"$names" && ordered+=("$name")
  done
  for name in "${ordered[@]}"; do
    if running_pid "$name" >/dev/null; then
      stop_daemon "$name"
      say "$name: stopped"
    fi
  done
}

cmd_status() {
  local name port healthy pid all_healthy=0 owner notes=()
  printf '%-11s %-6s %-8s %-8s %s\n' SERVICE PORT HEALTHY PID LOG
  for name in "${ALL_SERVICES[@]}"; do
    port=$("${name}_port")
    if "${name}_healthy"; then healthy=yes; else healthy=no; all_healthy=1; fi
    pid=$(running_pid "$name" || printf -- '-')
    # A port served by a process this stack did not start is marked, and said whose.
    if [ "$pid" = - ] && port_in_use "$port"; then
      read -r -a owner <<<"$(port_owner "$name" "$port")"
      case ${owner[0]} in
        stack)
          pid="${owner[1]}*"
          notes+=("* $name: started by the ledgerstream stack in ${owner[2]}")
          ;;
        other)
          pid="${owner[1]}!"
          notes+=("! $name: port $port is held by a process no ledgerstream stack started: $(describe_process "${owner[1]}")")
          ;;
        *)
          pid="?!"
          notes+=("! $name: port $port is held by another user's process (sudo ss -tlnp 'sport = :$port')")
          ;;
      esac
    fi
    printf '%-11s %-6s %-8s %-8s %s\n' "$name" "$port" "$healthy" "$pid" "$(log_file "$name")"
  done
  local note
  for note in "${notes[@]}"; do say "$note"; done
  return $all_healthy
}

cmd_logs() {
  local name
  name=$(services_from "${1:?logs needs a service}")
  exec tail -n 50 -F "$(log_file "$name")"
}

command=${1:-}
[ $# -gt 0 ] && shift
case "$command" in
  install) cmd_install "$@" ;;
  up) cmd_up "$@" ;;
  down) cmd_down "$@" ;;
  status) cmd_status ;;
  logs) cmd_logs "$@" ;;
  -h | --help | help) usage ;;
  *)
    usage >&2
    exit 2
    ;;
esac
