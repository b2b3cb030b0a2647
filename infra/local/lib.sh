# shellcheck shell=bash
# Shared by infra/local/stack.sh and the service files under infra/local/services/.
#
# Layout on disk:
#   $LS_HOME  (default: <repo>/.ledgerstream, git-ignored)  data, logs and pid files
#   $LS_TOOLS (default: ~/.local/share/ledgerstream/tools)  tools built or installed
#             outside Debian's packages, shared by every clone on this machine so that
#             a second run (or a fresh clone) skips the installs.

LS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LS_HOME=${LEDGERSTREAM_HOME:-$LS_ROOT/.ledgerstream}
LS_TOOLS=${LEDGERSTREAM_TOOLS:-$HOME/.local/share/ledgerstream/tools}
LS_RUN=$LS_HOME/run
LS_LOGS=$LS_HOME/logs
# Cargo profile of the ledgerstream binary the stack runs (the registry): `release`
# for the demo, `dev` for `make test` so that it shares the tests' build.
LS_PROFILE=${LEDGERSTREAM_PROFILE:-release}

say() { printf '%s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The ledgerstream binary of $LS_PROFILE.
ledgerstream_bin() { profile_binary ledgerstream; }

# The ledgerstream-bench binary (benchmarks, load generator) of $LS_PROFILE.
ledgerstream_bench_bin() { profile_binary ledgerstream-bench; }

profile_binary() {
  local dir=$LS_PROFILE
  [ "$dir" = dev ] && dir=debug
  printf '%s/%s/%s' "${CARGO_TARGET_DIR:-$LS_ROOT/target}" "$dir" "$1"
}

# Installs the Debian packages among "$@" that are not installed yet.
apt_install() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  if [ ! -f "$LS_HOME/.apt-updated" ]; then
    $sudo apt-get update -qq || die "apt-get update failed; check the network and apt sources"
    mkdir -p "$LS_HOME" && touch "$LS_HOME/.apt-updated"
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
}

# A JDK and Maven, for the services run from Maven Central's jars (the broker,
# search); Debian's packages only when the commands are missing.
java_toolchain() {
  local missing=()
  command -v javac >/dev/null || missing+=(openjdk-17-jdk-headless)
  command -v mvn >/dev/null || missing+=(maven)
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
}

pid_file() { printf '%s/%s.pid' "$LS_RUN" "$1"; }
log_file() { printf '%s/%s.log' "$LS_LOGS" "$1"; }

# The pid of service $1 when this stack started it and it is still alive.
running_pid() {
  local file pid
  file=$(pid_file "$1")
  [ -f "$file" ] || return 1
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    printf '%s' "$pid"
    return 0
  fi
  rm -f "$file"
  return 1
}

# start_daemon NAME DIR CMD...: runs CMD in DIR, in a session of its own (so that
# stop_daemon ends it with every child), output to the service's log.
start_daemon() {
  local name=$1 dir=$2
  shift 2
  mkdir -p "$LS_RUN" "$LS_LOGS" "$dir"
  local log
  log=$(log_file "$name")
  printf '\n=== %s: %s\n' "$(date -u +%FT%TZ)" "$*" >>"$log"
  (cd "$dir" && exec setsid "$@" >>"$log" 2>&1 </dev/null) &
  printf '%s' "$!" >"$(pid_file "$name")"
}

# stop_daemon NAME: TERM to the service's process group, KILL after 20 s.
stop_daemon() {
  local name=$1 pid i
  pid=$(running_pid "$name") || return 0
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
  for i in $(seq 1 200); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "$name did not stop within 20 s of SIGTERM; killing it"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$(pid_file "$name")"
}

# port_in_use PORT: something listens on 127.0.0.1:PORT.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_ready NAME SECONDS: polls NAME_healthy until it passes; fails naming the
# service, its log and the fix when the time runs out or the process dies.
wait_ready() {
  local name=$1 seconds=$2 pid deadline
  deadline=$((SECONDS + seconds))
  while ! "${name}_healthy"; do
    pid=$(running_pid "$name") || {
      say "error: $name exited while starting; its log, $(log_file "$name"), ends with:"
      tail -n 20 "$(log_file "$name")" >&2
      say "fix what the log names, then run: infra/local/stack.sh up $name"
      return 1
    }
    if [ $SECONDS -ge $deadline ]; then
      say "error: $name (pid $pid) is not ready after ${seconds}s; its log, $(log_file "$name"), ends with:"
      tail -n 20 "$(log_file "$name")" >&2
      say "fix what the log names, then run: infra/local/stack.sh down $name && infra/local/stack.sh up $name"
      return 1
    fi
    sleep 0.3
  done
}
