#!/usr/bin/env bash
# `make demo`: the whole pipeline on this machine. Brings the local stack up, builds
# ledgerstream, starts the command processor, the projections, the lag exporter and the auditor,
# sends a minute of load, then prints a summary: commands/s, rejections by reason,
# lag per group, one account from ClickHouse and its history. Everything it started
# stops on Ctrl-C (or at once when not run from a terminal).
#
# DEMO_SECONDS (60) and DEMO_RATE (200 commands/s) change the load.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export LEDGERSTREAM_PROFILE=${LEDGERSTREAM_PROFILE:-release}
# shellcheck source=infra/local/lib.sh
. "$here/lib.sh"
cd "$LS_ROOT"

seconds=${DEMO_SECONDS:-60}
rate=${DEMO_RATE:-200}

apt_install build-essential pkg-config libssl-dev zlib1g-dev curl python3
say "building ledgerstream ($LS_PROFILE profile)"
cargo build --quiet --profile "$LS_PROFILE" -p ledgerstream -p ledgerstream-bench
bin=$(ledgerstream_bin)
bench_bin=$(ledgerstream_bench_bin)

record=$LS_HOME/started-by-demo
rm -f "$record"
children=()
stop() {
  local pid
  for pid in "${children[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${children[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  "$here/stack.sh" down --recorded "$record"
}
trap stop EXIT
trap 'exit 130' INT TERM
"$here/stack.sh" up --record "$record"

section() { printf '\n== %s\n' "$*"; }

section "topics and schemas"
"$bin" topics create
"$bin" schemas register

# start NAME PORT ARGS...: runs `ledgerstream ARGS` in the background, logging to
# $LS_LOGS/NAME.log, and waits until its /health answers 200.
start() {
  local name=$1 port=$2
  shift 2
  local log="$LS_LOGS/$name.log"
  if curl -fsS -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null; then
    say "$name: already running on port $port; using it"
    return 0
  fi
  if port_in_use "$port"; then
    die "port $port, which the $name needs, is taken by a program that is not a healthy $name; find it with: lsof -iTCP:$port -sTCP:LISTEN"
  fi
  "$bin" "$@" >>"$log" 2>&1 &
  children+=("$!")
  local waited=0
  until curl -fsS -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null; do
    if ! kill -0 "${children[-1]}" 2>/dev/null; then
      tail -n 20 "$log" >&2 || true
      die "$name stopped at start; its log: $log"
    fi
    if [ "$waited" -ge 120 ]; then
      die "$name is not ready after 120 s; its log: $log, its health: curl http://127.0.0.1:$port/health"
    fi
    sleep 1
    waited=$((waited + 1))
  done
  say "$name: ready on port $port (log: $log)"
}

section "pipeline"
start processor 9601 process --state-dir "$LS_HOME/state"
start projector 9602 project clickhouse history
# The pipeline's own groups: a broker shared with test runs holds many more.
groups=(--group ledgerstream-processor --group ledgerstream-projection-clickhouse
  --group ledgerstream-projection-history-v1)
start lag-exporter 9603 lag --serve "${groups[@]}"
# The continuous auditor: every account of the log once, then those the load
# changes, against both read models (docs/audit.md).
start auditor 9604 audit --serve --interval 2

section "load: $seconds s at $rate commands/s"
prefix="demo-$(date +%s)"
"$bench_bin" load --duration "$seconds" --rate "$rate" --accounts 200 --prefix "$prefix"

section "lag per consumer group"
# Give the projections a moment to write the last batch before reading them.
sleep 2
"$bin" lag --once "${groups[@]}" || true

section "consistency: the auditor's view of the read models"
# Two rounds after the load, so that the accounts it changed are checked.
sleep 5
curl -fsS http://127.0.0.1:9604/metrics 2>/dev/null | awk -F'[{}"]' '
  /^ledgerstream_audit_accounts_checked_total\{/ { checked[$3] = $NF + 0 }
  /^ledgerstream_audit_divergent_accounts\{/ { divergent[$3] = $NF + 0 }
  END {
    for (model in checked)
      printf "  %-10s %d accounts checked against the log, %d divergent: %s\n", model,
        checked[model], divergent[model],
        divergent[model] == 0 ? "consistent" : "DIVERGENT (ledgerstream audit " model " --all names them)"
  }' || say "the auditor did not answer on port 9604; its log: $LS_LOGS/auditor.log"

section "account $prefix-0 in ClickHouse (waiting for the projection if behind)"
"$bin" query account "$prefix-0" --events 5 --timeout 30 || true

section "its history in the search index"
"$bin" query history "$prefix-0" --page-size 10 || true

cat <<NEXT

Where to look next:
  Prometheus   http://127.0.0.1:9090/graph  (try: sum(rate(ledgerstream_processor_commands_total[1m])) by (outcome))
               http://127.0.0.1:9090/alerts (lag, stalled projection, dead letters)
  Metrics      http://127.0.0.1:9601/metrics (processor), :9602 (projections), :9603 (lag), :9604 (audit)
  Audit        $bin audit --all   (every read model against the log; --repair writes the divergent accounts again)
  ClickHouse   clickhouse-client --port 9000, then: SELECT * FROM account_balances FINAL LIMIT 10
  More load    $bench_bin load --rate 500 --duration 60
  Grafana      through docker-compose: docker compose up, then http://localhost:3000
  Logs         $LS_LOGS/
NEXT

if [ -t 0 ]; then
  printf '\nThe pipeline keeps running; press Ctrl-C to stop what the demo started.\n'
  while sleep 3600; do :; done
fi
