# shellcheck shell=bash
# The Schema Registry: ledgerstream's own, Confluent-compatible (`ledgerstream
# registry`), keeping its schemas in the broker's `_schemas` topic. Needs the broker.
# The port and the topic can be moved (LEDGERSTREAM_REGISTRY_PORT,
# LEDGERSTREAM_REGISTRY_TOPIC): a test can run a registry of its own beside the
# local stack's, on the same broker, with schemas of its own.

REGISTRY_PORT=${LEDGERSTREAM_REGISTRY_PORT:-8081}
REGISTRY_TOPIC=${LEDGERSTREAM_REGISTRY_TOPIC:-_schemas}

registry_port() { printf '%s' "$REGISTRY_PORT"; }

registry_install() {
  say "building ledgerstream ($LS_PROFILE profile)"
  (cd "$LS_ROOT" && cargo build --quiet --profile "$LS_PROFILE" -p ledgerstream) ||
    die "cargo build -p ledgerstream failed; see the output above"
}

# The registry arrives with the schemas capability; until the binary has the
# subcommand, the stack has no registry to start.
registry_available() { "$(ledgerstream_bin)" registry --help >/dev/null 2>&1; }

registry_start() {
  local bin
  bin=$(ledgerstream_bin)
  [ -x "$bin" ] || die "$bin is missing; run: infra/local/stack.sh install registry"
  start_daemon registry "$LS_HOME/registry" env \
    LEDGERSTREAM_BROKERS="127.0.0.1:$BROKER_PORT" \
    "$bin" registry --listen "127.0.0.1:$REGISTRY_PORT" --topic "$REGISTRY_TOPIC"
}

registry_healthy() { curl -fsS -m 1 -o /dev/null "http://127.0.0.1:$REGISTRY_PORT/subjects" 2>/dev/null; }
