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
  # The mark tells this stack's daemons from services it did not start (port_owner).
  (cd "$dir" && LEDGERSTREAM_STACK_HOME=$LS_HOME exec setsid "$@" >>"$log" 2>&1 </dev/null) &
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

# A healthy answer on a service's port does not prove that this stack started the
# service: on a fresh Debian machine `apt-get install prometheus` (or
# clickhouse-server) starts the system's own on the same port. So the process
# that listens is checked: it must run in the session the stack started for the
# service (a daemon leads a session of its own), and that session must be marked
# as a ledgerstream stack's (LEDGERSTREAM_STACK_HOME in its environment, or, for
# daemons started before the mark, a working folder under a stack home whose pid
# file names it).

# listener_pid PORT: the pid listening on TCP PORT, when this user may see it
# (`ss` shows other users' processes to root only); empty when none is seen.
listener_pid() {
  command -v ss >/dev/null ||
    die "ss is missing (it tells whose service listens on a port); install it: sudo apt-get install -y iproute2"
  ss -Htlnp "sport = :$1" 2>/dev/null | sed -n 's/.*pid=\([0-9][0-9]*\).*/\1/p' | head -n 1
}

# stack_home_of LEADER: the home of the ledgerstream stack that started the
# session LEADER leads; fails when none did.
stack_home_of() {
  local leader=$1 home cwd
  home=$(tr '\0' '\n' <"/proc/$leader/environ" 2>/dev/null | sed -n 's/^LEDGERSTREAM_STACK_HOME=//p' | head -n 1)
  if [ -z "$home" ]; then
    cwd=$(readlink "/proc/$leader/cwd" 2>/dev/null) || return 1
    home=$(dirname "$cwd")
  fi
  grep -qsx "$leader" "$home"/run/*.pid || return 1
  printf '%s' "$home"
}

# port_owner NAME PORT: who serves NAME's port, one line:
#   ours PID          the daemon this stack started for NAME
#   stack PID HOME    a daemon another ledgerstream stack (data in HOME) started
#   other PID         a process no ledgerstream stack started (a system service ...)
#   unseen            nobody this user can see (another user's process, or none)
port_owner() {
  local name=$1 port=$2 pid leader ours home
  pid=$(listener_pid "$port")
  [ -n "$pid" ] || { echo unseen; return 0; }
  leader=$(ps -o sid= -p "$pid" 2>/dev/null | tr -d ' ')
  if ours=$(running_pid "$name") && [ "$leader" = "$ours" ]; then
    echo "ours $pid"
  elif [ -n "$leader" ] && home=$(stack_home_of "$leader"); then
    echo "stack $pid $home"
  else
    echo "other $pid"
  fi
}

# describe_process PID: its command line, shortened, and its systemd unit if any.
describe_process() {
  local pid=$1 cmd unit
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-120)
  unit=$(sed -n 's|.*/\([^/]*\.service\)$|\1|p' "/proc/$pid/cgroup" 2>/dev/null | head -n 1)
  printf 'pid %s: %s' "$pid" "${cmd:-?}"
  [ -n "$unit" ] && printf ' (systemd unit %s)' "$unit"
  return 0
}

# port_taken_help NAME PORT OWNER...: says what holds NAME's port and what to do.
port_taken_help() {
  local name=$1 port=$2 kind=$3 pid=${4:-} unit=""
  case $kind in
    other)
      say "error: port $port, which $name needs, is held by a process this stack did not start: $(describe_process "$pid")"
      unit=$(sed -n 's|.*/\([^/]*\.service\)$|\1|p' "/proc/$pid/cgroup" 2>/dev/null | head -n 1)
      ;;
    *)
      say "error: port $port, which $name needs, is held by a process this stack did not start (another user's: run 'sudo ss -tlnp sport = :$port' to see it)"
      ;;
  esac
  if [ -n "$unit" ]; then
    say "it is the system's own service: stop it and keep it from starting at boot with: sudo systemctl disable --now $unit"
  else
    say "stop that program (find it with: ss -tlnp 'sport = :$port')"
  fi
  say "then run: infra/local/stack.sh up $name"
}

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
