# shellcheck shell=bash
# Prometheus: Debian's package, run from infra/prometheus/prometheus.yml with its
# TSDB under $LS_HOME. The port and the configuration can be moved
# (LEDGERSTREAM_PROMETHEUS_PORT, LEDGERSTREAM_PROMETHEUS_CONFIG): tests run a
# Prometheus of their own that scrapes their own processes.

PROMETHEUS_PORT=${LEDGERSTREAM_PROMETHEUS_PORT:-9090}
PROMETHEUS_CONFIG=${LEDGERSTREAM_PROMETHEUS_CONFIG:-$LS_ROOT/infra/prometheus/prometheus.yml}

prometheus_port() { printf '%s' "$PROMETHEUS_PORT"; }

prometheus_install() { apt_install prometheus; }

prometheus_start() {
  command -v prometheus >/dev/null ||
    die "prometheus is not installed; run: infra/local/stack.sh install prometheus"
  start_daemon prometheus "$LS_HOME/prometheus" prometheus \
    --config.file="$PROMETHEUS_CONFIG" \
    --storage.tsdb.path="$LS_HOME/prometheus/data" \
    --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
    --web.enable-lifecycle
}

prometheus_healthy() { curl -fsS -m 1 -o /dev/null "http://127.0.0.1:$PROMETHEUS_PORT/-/ready" 2>/dev/null; }
