#!/usr/bin/env bash
# Run every cargo-fuzz target of npfs for a bounded time: fuzz/run.sh [SECONDS per target]
# (default 45). Fails on the first crash. The seed corpora in fuzz/corpus/ are read, never
# written: new inputs go to a temporary directory. Needs cargo-fuzz (installed when missing)
# and a nightly toolchain, or the default one with RUSTC_BOOTSTRAP=1.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-45}

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "==> cargo install cargo-fuzz"
    cargo install cargo-fuzz --locked
fi
if cargo +nightly --version >/dev/null 2>&1; then
    tc=(+nightly)
else
    # cargo-fuzz passes -Z flags (sanitizer, coverage): unlock them on a stable toolchain.
    tc=()
    export RUSTC_BOOTSTRAP=1
fi

cargo "${tc[@]}" fuzz build
work=$(mktemp -d "${TMPDIR:-/tmp}/npfs-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
for target in $(cargo "${tc[@]}" fuzz list); do
    mkdir -p "$work/$target"
    echo "==> fuzz $target for ${secs} s"
    log="$work/$target.log"
    if ! cargo "${tc[@]}" fuzz run "$target" "$work/$target" "corpus/$target" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
        tail -n 60 "$log" >&2
        echo "fuzz/run.sh: $target crashed; see fuzz/artifacts/$target" >&2
        exit 1
    fi
    grep -E "^stat::(number_of_executed_units|new_units_added)" "$log" || true
done
echo "==> fuzzing: no crashes"
