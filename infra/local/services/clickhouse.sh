# shellcheck shell=bash
# ClickHouse: Debian's clickhouse-server (18.16), run from the project's own
# loopback-only config (infra/clickhouse/local/) with its data under $LS_HOME.
#
# The ports can be moved (LEDGERSTREAM_CLICKHOUSE_{HTTP,TCP,INTERSERVER}_PORT): tests
# run a ClickHouse of their own beside the local stack's. With
# LEDGERSTREAM_CLICKHOUSE_HTTPS_PORT, LEDGERSTREAM_CLICKHOUSE_TLS_CERT and
# LEDGERSTREAM_CLICKHOUSE_TLS_KEY (PEM files) it also serves HTTPS on that port
# (config.d/https.xml).

CLICKHOUSE_HTTP_PORT=${LEDGERSTREAM_CLICKHOUSE_HTTP_PORT:-8123}
CLICKHOUSE_TCP_PORT=${LEDGERSTREAM_CLICKHOUSE_TCP_PORT:-9000}
CLICKHOUSE_INTERSERVER_PORT=${LEDGERSTREAM_CLICKHOUSE_INTERSERVER_PORT:-9009}
CLICKHOUSE_HTTPS_PORT=${LEDGERSTREAM_CLICKHOUSE_HTTPS_PORT:-}

clickhouse_port() { printf '%s' "$CLICKHOUSE_HTTP_PORT"; }

clickhouse_install() { apt_install clickhouse-server clickhouse-client; }

clickhouse_start() {
  command -v clickhouse-server >/dev/null ||
    die "clickhouse-server is not installed; run: infra/local/stack.sh install clickhouse"
  local dir=$LS_HOME/clickhouse
  mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/format_schemas"
  sed -e "s|@DATA@|$dir|g" -e "s|@CONFIG_DIR@|$dir|g" \
    -e "s|@HTTP_PORT@|$CLICKHOUSE_HTTP_PORT|g" -e "s|@TCP_PORT@|$CLICKHOUSE_TCP_PORT|g" \
    -e "s|@INTERSERVER_PORT@|$CLICKHOUSE_INTERSERVER_PORT|g" \
    "$LS_ROOT/infra/clickhouse/local/config.xml.in" >"$dir/config.xml"
  cp "$LS_ROOT/infra/clickhouse/local/users.xml" "$dir/users.xml"
  mkdir -p "$dir/config.d"
  rm -f "$dir/config.d/https.xml"
  if [ -n "$CLICKHOUSE_HTTPS_PORT" ]; then
    local cert=${LEDGERSTREAM_CLICKHOUSE_TLS_CERT:?HTTPS needs LEDGERSTREAM_CLICKHOUSE_TLS_CERT}
    local key=${LEDGERSTREAM_CLICKHOUSE_TLS_KEY:?HTTPS needs LEDGERSTREAM_CLICKHOUSE_TLS_KEY}
    [ -r "$cert" ] && [ -r "$key" ] || die "cannot read $cert or $key"
    sed -e "s|@HTTPS_PORT@|$CLICKHOUSE_HTTPS_PORT|g" -e "s|@CERT@|$cert|g" -e "s|@KEY@|$key|g" \
      "$LS_ROOT/infra/clickhouse/local/https.xml.in" >"$dir/config.d/https.xml"
  fi
  start_daemon clickhouse "$dir" clickhouse-server --config-file="$dir/config.xml"
}

clickhouse_healthy() {
  [ "$(curl -fsS -m 1 "http://127.0.0.1:$CLICKHOUSE_HTTP_PORT/ping" 2>/dev/null)" = "Ok." ]
}
