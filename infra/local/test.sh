#!/usr/bin/env bash
# `make test`: installs what the tests need (skipping what is there), brings the
# local stack up, runs every test of the workspace against it, and stops again
# exactly the services it started, whatever the outcome.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export LEDGERSTREAM_PROFILE=${LEDGERSTREAM_PROFILE:-dev}
# Services this run starts keep their data in a folder of their own, emptied first:
# the tests never depend on what an earlier run (or `make up`) left in a broker.
# Services already running (`make up`) are used as they are.
export LEDGERSTREAM_HOME=${LEDGERSTREAM_TEST_HOME:-$(cd "$here/../.." && pwd)/.ledgerstream/test}
# shellcheck source=infra/local/lib.sh
. "$here/lib.sh"
cd "$LS_ROOT"
# Whatever an interrupted earlier run left running from that folder goes first.
"$here/stack.sh" down >/dev/null 2>&1 || true
rm -rf "$LS_HOME"

command -v cargo >/dev/null || die "cargo is needed; install Rust from rustup.rs"
apt_install build-essential pkg-config libssl-dev zlib1g-dev curl python3

"$here/stack.sh" install
# Current ClickHouse's SQL engine (chDB), which the ClickHouse SQL check runs on.
"$here/chdb.sh" install
cargo fmt --all --check || die "the code is not formatted; run: cargo fmt --all"
cargo build --workspace --all-targets --locked
# The schema evolution gate, on the repo's schemas.
"$(ledgerstream_bin)" schemas check

record=$LS_HOME/started-by-test
rm -f "$record"
trap '"$here/stack.sh" down --recorded "$record"' EXIT
"$here/stack.sh" up --record "$record"

# ... and against what the registry holds.
"$(ledgerstream_bin)" schemas check --registry
cargo test --workspace --locked --no-fail-fast
