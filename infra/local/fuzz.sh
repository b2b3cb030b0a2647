#!/usr/bin/env bash
# `make fuzz`: runs each libFuzzer target of fuzz/ for a bounded time (FUZZ_SECONDS,
# 60 by default) and stops at the first one that finds a crash, naming the input
# it left under fuzz/artifacts/. Not part of `make test`: a crash it finds is kept
# as a plain unit test beside the code it breaks.
#
#   FUZZ_SECONDS=300 make fuzz                 # longer runs
#   FUZZ_TARGETS="avro_decode" make fuzz       # some targets only
#
# cargo-fuzz is installed when missing (`cargo install --locked cargo-fuzz`). The
# targets build on the toolchain the workspace builds on, stable included:
# cargo-fuzz passes nightly-only -Z flags to cargo and rustc, which stable
# takes with RUSTC_BOOTSTRAP=1. Without a sanitizer (AddressSanitizer needs a
# nightly's instrumented std): the project's code forbids `unsafe`, so libFuzzer's
# coverage guidance and Rust's own checks (panics, overflow checks, debug
# assertions, kept on with -O by cargo-fuzz) are what finds bugs.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=infra/local/lib.sh
. "$here/lib.sh"
root=$LS_ROOT

seconds=${FUZZ_SECONDS:-60}
[[ $seconds =~ ^[1-9][0-9]*$ ]] || die "FUZZ_SECONDS is '$seconds'; give a number of seconds, e.g. FUZZ_SECONDS=60"
targets=${FUZZ_TARGETS:-avro_decode command_from_wire registry_request}
target_dir=${CARGO_TARGET_DIR:-$root/target}/fuzz

command -v cargo >/dev/null || die "cargo is needed; install Rust from rustup.rs"
if ! command -v cargo-fuzz >/dev/null; then
    say "installing cargo-fuzz"
    cargo install --locked cargo-fuzz
fi

export RUSTC_BOOTSTRAP=1

cd "$root/fuzz"
run_options=(-O --sanitizer none --target-dir "$target_dir")
if ! cargo fuzz build "${run_options[@]}"; then
    die "building the fuzz targets failed; they need a C++ compiler for libFuzzer \
(apt-get install build-essential) and a toolchain that takes -Z flags: stable with \
RUSTC_BOOTSTRAP=1 (set here) or nightly (rustup toolchain install nightly, then \
RUSTUP_TOOLCHAIN=nightly make fuzz)"
fi
for target in $targets; do
    corpus=$root/fuzz/corpus/$target
    mkdir -p "$corpus"
    say "fuzzing $target for ${seconds} s (corpus $corpus)"
    if ! cargo fuzz run "${run_options[@]}" "$target" "$corpus" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1; then
        die "$target found a crash: the input is under fuzz/artifacts/$target/; \
replay it with: RUSTC_BOOTSTRAP=1 cargo fuzz run -O --sanitizer none $target fuzz/artifacts/$target/<file>, \
fix it and keep the input as a unit test"
    fi
done
say "no crash in ${seconds} s of each of: $targets"
