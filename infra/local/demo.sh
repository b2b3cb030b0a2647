#!/usr/bin/env bash
# `make demo`: the whole pipeline on this machine. Brings the local stack up, builds
# ledgerstream, shows every service answering, and stops everything it started on
# Ctrl-C (or at once when not run from a terminal).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export LEDGERSTREAM_PROFILE=${LEDGERSTREAM_PROFILE:-release}
# shellcheck source=infra/local/lib.sh
. "$here/lib.sh"
cd "$LS_ROOT"

apt_install build-essential pkg-config libssl-dev zlib1g-dev curl python3 python3-venv
cargo build --quiet --profile "$LS_PROFILE" -p ledgerstream
bin=$(ledgerstream_bin)

record=$LS_HOME/started-by-demo
rm -f "$record"
stop() { "$here/stack.sh" down --recorded "$record"; }
trap stop EXIT
trap 'exit 130' INT TERM
"$here/stack.sh" up --record "$record"

printf '\n== services\n'
"$bin" services
printf '\n== stack\n'
"$here/stack.sh" status || true

cat <<NEXT

Where to look next:
  Prometheus   http://127.0.0.1:9090/targets  (what it scrapes)
  ClickHouse   clickhouse-client --port 9000   (read models)
  Grafana      through docker-compose: docker compose up, then http://localhost:3000
  Logs         $LS_LOGS/
NEXT

if [ -t 0 ]; then
  printf '\nThe stack keeps running; press Ctrl-C to stop what the demo started.\n'
  while sleep 3600; do :; done
fi
