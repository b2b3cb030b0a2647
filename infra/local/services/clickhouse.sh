# shellcheck shell=bash
# ClickHouse: Debian's clickhouse-server (18.16), run from the project's own
# loopback-only config (infra/clickhouse/local/) with its data under $LS_HOME.

CLICKHOUSE_HTTP_PORT=8123
CLICKHOUSE_TCP_PORT=9000
CLICKHOUSE_INTERSERVER_PORT=9009

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
  start_daemon clickhouse "$dir" clickhouse-server --config-file="$dir/config.xml"
}

clickhouse_healthy() {
  [ "$(curl -fsS -m 1 "http://127.0.0.1:$CLICKHOUSE_HTTP_PORT/ping" 2>/dev/null)" = "Ok." ]
}
