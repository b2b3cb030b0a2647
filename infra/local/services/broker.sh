# shellcheck shell=bash
# The Kafka-protocol broker: tansu from crates.io, persistent sqlite storage.
# Its deviations from Apache Kafka are listed in the README ("Tested against").

TANSU_VERSION=0.6.0
TANSU_FEATURES=libsql,dynostore
BROKER_PORT=9092
TANSU_BIN=$LS_TOOLS/bin/tansu

broker_port() { printf '%s' "$BROKER_PORT"; }

broker_install() {
  if [ -x "$TANSU_BIN" ] && "$TANSU_BIN" --version 2>/dev/null | grep -q "$TANSU_VERSION"; then
    return 0
  fi
  command -v cargo >/dev/null || die "cargo is needed to build tansu; install Rust from rustup.rs"
  say "building tansu $TANSU_VERSION into $LS_TOOLS (about 10 minutes on 2 cores, once per machine)"
  cargo install tansu --version "$TANSU_VERSION" --locked --features "$TANSU_FEATURES" \
    --root "$LS_TOOLS" --quiet || die "cargo install tansu $TANSU_VERSION failed; see the output above"
}

broker_start() {
  [ -x "$TANSU_BIN" ] || die "tansu is not installed; run: infra/local/stack.sh install broker"
  # tansu doubles an absolute sqlite path: give it one relative to its working folder.
  start_daemon broker "$LS_HOME/broker" "$TANSU_BIN" broker \
    --storage-engine "sqlite://tansu.db" \
    --listener-url "tcp://127.0.0.1:$BROKER_PORT" \
    --advertised-listener-url "tcp://127.0.0.1:$BROKER_PORT"
}

# broker_ready: indexes tansu's header table (see tansu_index.py); without it consumers
# stall once the broker holds a few tens of thousands of record headers.
broker_ready() {
  local db="$LS_HOME/broker/tansu.db"
  [ -f "$db" ] || return 0
  python3 "$LS_ROOT/infra/local/tansu_index.py" "$db" ||
    die "could not index $db; stop the broker (infra/local/stack.sh down broker) and retry"
}

broker_healthy() { python3 "$LS_ROOT/infra/local/kafka_ping.py" "127.0.0.1:$BROKER_PORT" 1 2>/dev/null; }
