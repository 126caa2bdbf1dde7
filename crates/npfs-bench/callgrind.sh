#!/usr/bin/env bash
# User-space instructions per 64-byte message (one WriteFile + one ReadFile, or one write(2) +
# one read(2)), counted by callgrind: repeatable where timings are not. Each transport runs
# examples/ops_loop.rs twice, with 1,000 and 11,000 messages; the difference of the two
# totals divided by 10,000 leaves set-up (broker connection, CreateNamedPipe, ...) out.
# Kernel work (the system calls of the socket anchors) is invisible to callgrind: these
# counts compare npfs's own path from one commit to the next, not npfs with sockets.
#
#   crates/npfs-bench/callgrind.sh        (needs valgrind: apt-get install valgrind)
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v valgrind >/dev/null || { echo "valgrind not installed (apt-get install valgrind)" >&2; exit 1; }
cargo build -q --release -p npfs-bench -p npfsd --examples --bins
export NPFS_BROKER="$PWD/target/release/npfsd"
NPFS_RUNTIME_DIR=$(mktemp -d "${TMPDIR:-/tmp}/npfs-callgrind.XXXXXX")
export NPFS_RUNTIME_DIR
trap 'kill "$(cat "$NPFS_RUNTIME_DIR/npfsd.pid" 2>/dev/null)" 2>/dev/null; rm -rf "$NPFS_RUNTIME_DIR"' EXIT

total() { # KIND N -> total instructions (Ir) of one run
    local out="$NPFS_RUNTIME_DIR/cg.out"
    valgrind --tool=callgrind --callgrind-out-file="$out" \
        target/release/examples/ops_loop "$1" "$2" >/dev/null 2>&1
    awk '/^summary:/ {print $2}' "$out"
}

printf '%-16s %s\n' transport "instructions per 64 B message (user space)"
for kind in npfs-byte npfs-msg unix-stream unix-seqpacket; do
    a=$(total "$kind" 1000)
    b=$(total "$kind" 11000)
    printf '%-16s %s\n' "$kind" $(((b - a) / 10000))
done
