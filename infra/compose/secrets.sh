#!/usr/bin/env bash
# Makes the passwords docker-compose.yml reads, once: random ones, in env files only
# their owner can read, ignored by git. Run it before the first `docker compose up`;
# run it again and it keeps the files that are there (delete one to make it anew).
#
#   infra/compose/secrets.sh [DIR]     (DIR defaults to infra/compose)
#
#   clickhouse.env  CLICKHOUSE_PASSWORD (the `default` user's, set by the image) and
#                   LEDGERSTREAM_CLICKHOUSE_PASSWORD (the same, for the projector)
#   grafana.env     GF_SECURITY_ADMIN_PASSWORD (Grafana's `admin` user)
set -euo pipefail

dir=${1:-$(cd "$(dirname "$0")" && pwd)}
mkdir -p "$dir"

password() { openssl rand -hex 24; }

# write FILE LINE...: the lines, readable by the owner only; an existing file is kept.
write() {
  local file=$dir/$1
  shift
  if [ -s "$file" ]; then
    echo "kept $file"
    return
  fi
  (umask 077 && printf '%s\n' "$@" >"$file")
  echo "wrote $file"
}

clickhouse=$(password)
write clickhouse.env "CLICKHOUSE_PASSWORD=$clickhouse" "LEDGERSTREAM_CLICKHOUSE_PASSWORD=$clickhouse"
write grafana.env "GF_SECURITY_ADMIN_PASSWORD=$(password)"
