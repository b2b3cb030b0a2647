#!/usr/bin/env bash
# chDB (PyPI), current ClickHouse's SQL engine in-process: no server, nothing to start.
# The tests run the project's DDL and queries on it, since no current ClickHouse server
# installs on these machines. `install` makes a Python venv under $LS_TOOLS with the
# version infra/chdb/requirements.txt pins, once per machine (skipped when present);
# `python` prints that venv's interpreter.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=infra/local/lib.sh
. "$here/lib.sh"

CHDB_REQUIREMENTS=$LS_ROOT/infra/chdb/requirements.txt
CHDB_VERSION=$(sed -n 's/^chdb==\([^ ]*\).*/\1/p' "$CHDB_REQUIREMENTS")
[ -n "$CHDB_VERSION" ] || die "$CHDB_REQUIREMENTS pins no chdb==<version>"
CHDB_VENV=$LS_TOOLS/chdb-$CHDB_VERSION/venv

chdb_install() {
  # The marker holds the requirements it was made from: a changed pin installs again.
  if [ -f "$CHDB_VENV/.installed" ] && cmp -s "$CHDB_VENV/.installed" "$CHDB_REQUIREMENTS"; then
    return 0
  fi
  command -v python3 >/dev/null || apt_install python3
  python3 -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv
  say "installing chDB $CHDB_VERSION from PyPI into $CHDB_VENV (once per machine)"
  rm -rf "$CHDB_VENV"
  python3 -m venv "$CHDB_VENV" || die "python3 -m venv $CHDB_VENV failed; see the output above"
  "$CHDB_VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$CHDB_REQUIREMENTS" ||
    die "pip install chdb==$CHDB_VERSION failed; see the output above (is PyPI reachable?)"
  "$CHDB_VENV/bin/python" -c 'import chdb; print("chDB", chdb.__version__, "runs ClickHouse", chdb.query("SELECT version()", "TSV").bytes().decode().strip())' >&2 ||
    die "chDB $CHDB_VERSION installed but does not run; see the output above"
  cp "$CHDB_REQUIREMENTS" "$CHDB_VENV/.installed"
}

case "${1:-}" in
  install) chdb_install ;;
  python) printf '%s\n' "$CHDB_VENV/bin/python" ;;
  *)
    say "usage: infra/local/chdb.sh install|python"
    exit 2
    ;;
esac
