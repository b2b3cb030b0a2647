# shellcheck shell=bash
# History search: an in-memory OpenSearch/Elasticsearch-REST-compatible test server
# (PyPI osmem-server) in a virtualenv under $LS_TOOLS. It keeps nothing across a
# restart; docker-compose runs real Elasticsearch instead.

OSMEM_VERSION=0.1.6
SEARCH_PORT=9200
OSMEM_VENV=$LS_TOOLS/osmem-$OSMEM_VERSION

search_port() { printf '%s' "$SEARCH_PORT"; }

search_install() {
  [ -x "$OSMEM_VENV/bin/python" ] && "$OSMEM_VENV/bin/python" -c 'import osmem_server' 2>/dev/null &&
    return 0
  command -v python3 >/dev/null || apt_install python3 python3-venv
  say "installing osmem-server $OSMEM_VERSION into $OSMEM_VENV"
  python3 -m venv "$OSMEM_VENV" || { apt_install python3-venv && python3 -m venv "$OSMEM_VENV"; } ||
    die "could not create a Python virtualenv at $OSMEM_VENV"
  "$OSMEM_VENV/bin/pip" install --quiet --disable-pip-version-check "osmem-server==$OSMEM_VERSION" ||
    die "pip install osmem-server==$OSMEM_VERSION failed"
}

search_start() {
  local bin
  bin=$("$OSMEM_VENV/bin/python" -c 'import osmem_server; print(osmem_server.resolve_binary())' 2>/dev/null) ||
    die "osmem-server is not installed; run: infra/local/stack.sh install search"
  start_daemon search "$LS_HOME/search" "$bin" -addr "127.0.0.1:$SEARCH_PORT" -no-stdin-watch
}

search_healthy() { curl -fsS -m 1 -o /dev/null "http://127.0.0.1:$SEARCH_PORT/" 2>/dev/null; }
