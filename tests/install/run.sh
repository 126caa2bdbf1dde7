#!/usr/bin/env bash
# tests/install/run.sh — npfs as its users meet it: `make install` into a temporary prefix,
# then everything run from a folder outside the tree, with only that prefix on PATH,
# PKG_CONFIG_PATH and LD_LIBRARY_PATH, and no NPFS_* variable:
#   the installed layout (SONAME, pkg-config, man page, completions, units);
#   the demo; every tests/c program built with `pkg-config --cflags --libs npfs`;
#   a Rust program in its own cargo project using npfs::tokio;
#   the broker-not-found message; `npfs` alone standing in for the broker;
#   another Unix user trying to redirect that broker through /tmp;
#   socket activation (systemd-socket-activate) and `npfs daemon --system`;
#   the scripting sequences of the CLI (serve + wait -p / call -p, connect on a byte pipe
#   ending by itself with the whole reply, a server killed mid-transfer);
#   `make uninstall` leaving nothing.
# Needs root (it creates the user npfs-test-m for the cross-user part), gcc, pkg-config,
# systemd-socket-activate (Debian package systemd) and cargo. Exit 0: every check passed.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/tests/install
LIMIT=${TEST_STEP_TIMEOUT:-120}

W=$(mktemp -d "${TMPDIR:-/tmp}/npfs-install.XXXXXX")
chmod 755 "$W"
P=$W/prefix
U=$W/user            # the user's own folder, outside the tree
mkdir -p "$U/home" "$U/xdg"
chmod 700 "$U/xdg"
MALLORY=npfs-test-m
pass=0
fail=0

cleanup() {
    # Brokers this test started (each names its runtime directory under $W).
    pkill -f -- "--runtime-dir $W" 2>/dev/null
    pkill -f -- "$P/" 2>/dev/null
    [ -n "${activator:-}" ] && kill "$activator" 2>/dev/null
    rm -rf "$W"
    [ -n "${HIJACK_MARK:-}" ] && rm -f "$HIJACK_MARK"
    if [ -n "${hijack_dirs:-}" ]; then
        # shellcheck disable=SC2086
        rm -rf $hijack_dirs
    fi
}
trap cleanup EXIT

ok() { pass=$((pass + 1)); echo "ok - $*"; }
bad() { fail=$((fail + 1)); echo "FAIL - $*"; }
check() { # DESCRIPTION COMMAND...: the command succeeds
    local what=$1
    shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}

# The environment of someone using the install: nothing of npfs's but the prefix.
as_user() {
    env -i HOME="$U/home" PATH="$P/bin:/usr/bin:/bin" PKG_CONFIG_PATH="$P/lib/pkgconfig" \
        LD_LIBRARY_PATH="$P/lib" XDG_RUNTIME_DIR="$U/xdg" LANG=C.UTF-8 "$@"
}

echo "== make install PREFIX=$P"
if ! timeout 900 make -C "$root" -s install PREFIX="$P" > "$W/install.log" 2>&1; then
    cat "$W/install.log"
    echo "FAIL - make install"
    exit 1
fi
ok "make install"
cd "$U" || exit 1

echo "== the installed layout"
for f in bin/npfs libexec/npfs/npfsd lib/libnpfs.so.0.1.0 lib/libnpfs.a lib/pkgconfig/npfs.pc \
    include/npfs/windows.h include/npfs/tchar.h share/man/man1/npfs.1 \
    share/bash-completion/completions/npfs share/zsh/site-functions/_npfs \
    share/fish/vendor_completions.d/npfs.fish lib/systemd/system/npfsd.socket \
    lib/systemd/system/npfsd.service lib/systemd/user/npfsd.socket \
    lib/systemd/user/npfsd.service; do
    [ -e "$P/$f" ] || bad "installed: $f"
done
check "libnpfs.so -> libnpfs.so.0 -> libnpfs.so.0.1.0" \
    test "$(readlink "$P/lib/libnpfs.so")" = libnpfs.so.0 -a "$(readlink "$P/lib/libnpfs.so.0")" = libnpfs.so.0.1.0
check "SONAME is libnpfs.so.0" bash -c "readelf -d '$P/lib/libnpfs.so.0.1.0' | grep -q 'SONAME.*\[libnpfs.so.0\]'"
# shellcheck disable=SC2046 # word splitting squeezes pkg-config's spaces
check "pkg-config: -I$P/include/npfs -L$P/lib -lnpfs" \
    test "$(echo $(PKG_CONFIG_PATH=$P/lib/pkgconfig pkg-config --cflags --libs npfs))" = "-I$P/include/npfs -L$P/lib -lnpfs"
check "no windows.h at the top of INCLUDEDIR" test ! -e "$P/include/windows.h"
check "the units start the installed broker" grep -q "ExecStart=$P/libexec/npfs/npfsd --system --foreground" "$P/lib/systemd/system/npfsd.service"
check "the units name real documentation" bash -c "! grep -q example.invalid '$P'/lib/systemd/*/npfsd.*"
check "the man page is roff" grep -q '^\.TH' "$P/share/man/man1/npfs.1"
check "bash completion defines _npfs" grep -q '_npfs()' "$P/share/bash-completion/completions/npfs"

echo "== npfs demo, from $U with no NPFS_* variable"
if as_user timeout "$LIMIT" npfs demo > "$W/demo.log" 2>&1; then ok "npfs demo"; else
    cat "$W/demo.log"; bad "npfs demo"; fi
check "the demo's broker is the installed npfsd" grep -q "$P/libexec/npfs/npfsd" "$W/demo.log"

echo "== tests/c built with pkg-config against the install"
if as_user timeout 900 bash "$root/tests/c/run.sh" --installed > "$W/c.log" 2>&1; then
    ok "tests/c --installed ($(grep -c '^PASS' "$W/c.log") programs and pairings)"
else
    cat "$W/c.log"
    bad "tests/c --installed"
fi

echo "== a C program of the user's own, built and run outside the tree"
cflags_libs=$(as_user pkg-config --cflags --libs npfs)
# shellcheck disable=SC2086 # pkg-config's output is a list of words
as_user gcc -o "$U/roundtrip" "$here/c/roundtrip.c" $cflags_libs || bad "build roundtrip.c"
# shellcheck disable=SC2086
as_user gcc -o "$U/nobroker" "$here/c/nobroker.c" $cflags_libs || bad "build nobroker.c"
as_user timeout "$LIMIT" "$U/roundtrip" rt1 > "$W/rt1.log" 2>&1
check "own C program: roundtrip through the auto-started broker" grep -q "roundtrip ok" "$W/rt1.log"

echo "== a Rust program in its own cargo project (npfs::tokio)"
mkdir -p "$U/downstream/src"
sed "s|@ROOT@|$root|" "$here/downstream/Cargo.toml.in" > "$U/downstream/Cargo.toml"
cp "$here/downstream/src/main.rs" "$U/downstream/src/"
# The README's tokio example, exactly as written, as a second program of the project.
mkdir -p "$U/downstream/src/bin"
awk '/ports by changing the import:/ {want = 1} want && /^```rust$/ {inside = 1; next}
     inside && /^```$/ {exit} inside {print}' "$root/README.md" > "$U/downstream/src/bin/readme.rs"
cp "$root/Cargo.lock" "$U/downstream/Cargo.lock"
# Cargo itself needs the user's real HOME (its registry cache); the program does not.
if (cd "$U/downstream" && timeout 900 env CARGO_TARGET_DIR="$root/target/downstream" \
    cargo build -q 2> "$W/downstream-build.log"); then
    cp "$root/target/downstream/debug/npfs-downstream" "$U/downstream-prog"
    as_user timeout "$LIMIT" "$U/downstream-prog" server rust1 > "$W/ds-server.log" 2>&1 &
    ds=$!
    out=$(as_user timeout "$LIMIT" "$U/downstream-prog" client rust1 "hello from rust" 2>&1)
    wait "$ds"
    check "Rust tokio program: answer through the auto-started broker" test "$out" = "answer: HELLO FROM RUST"
    cp "$root/target/downstream/debug/readme" "$U/readme-example"
    as_user timeout "$LIMIT" "$U/readme-example" > "$W/readme.log" 2>&1
    check "the README's tokio example runs as written" test $? -eq 0
else
    cat "$W/downstream-build.log"
    bad "cargo build of the downstream project"
fi

echo "== no broker anywhere: the call fails with 1450 and says why, once"
mv "$P/libexec/npfs/npfsd" "$W/npfsd.aside"
env -i HOME="$U/home" PATH=/usr/bin:/bin LD_LIBRARY_PATH="$P/lib" XDG_RUNTIME_DIR="$U/xdg-none" \
    timeout "$LIMIT" "$U/nobroker" > "$W/nobroker.out" 2> "$W/nobroker.err"
check "both calls fail with ERROR_NO_SYSTEM_RESOURCES" test "$(grep -c '^GLE=1450$' "$W/nobroker.out")" = 2
check "stderr says it once" test "$(grep -c 'named pipes are unavailable' "$W/nobroker.err")" = 1
check "stderr names where it looked" grep -q "$P/libexec/npfs/npfsd" "$W/nobroker.err"
check "stderr names the fix" grep -q "make install" "$W/nobroker.err"
env -i HOME="$U/home" PATH=/usr/bin:/bin LD_LIBRARY_PATH="$P/lib" XDG_RUNTIME_DIR="$U/xdg-none" \
    timeout "$LIMIT" "$U/downstream-prog" client none x > /dev/null 2> "$W/ds-nobroker.err"
check "a Rust program says it too" grep -q "no npfs broker program" "$W/ds-nobroker.err"

echo "== only npfs installed: it is the broker, as 'npfs npfsd'"
mkdir -m 700 "$U/xdg-cli"
env -i HOME="$U/home" PATH="$P/bin:/usr/bin:/bin" LD_LIBRARY_PATH="$P/lib" XDG_RUNTIME_DIR="$U/xdg-cli" \
    timeout "$LIMIT" "$U/roundtrip" rt2 > "$W/rt2.log" 2>&1
check "C program with only npfs on PATH" grep -q "roundtrip ok" "$W/rt2.log"
bpid=$(cat "$U/xdg-cli/npfs/npfsd.pid" 2>/dev/null)
check "the broker is '$P/bin/npfs npfsd'" bash -c "tr '\\0' ' ' < /proc/$bpid/cmdline | grep -q '^$P/bin/npfs npfsd --runtime-dir'"

echo "== another user cannot redirect the built-in broker"
id -u "$MALLORY" > /dev/null 2>&1 || useradd -M -s /usr/sbin/nologin "$MALLORY"
HIJACK_MARK=/tmp/npfs-install-hijacked.$$
rm -f "$HIJACK_MARK"
# What the old CLI trusted: /tmp/npfs-cli-<pid>/npfsd. Mallory plants it for the next pids.
next=$(($(cat /proc/sys/kernel/ns_last_pid 2>/dev/null || echo $$) + 1))
hijack_dirs=""
evil=$W/evil.sh
printf '#!/bin/sh\ntouch %s\n' "$HIJACK_MARK" > "$evil"
chmod 755 "$evil"
for pid in $(seq "$next" $((next + 300))); do hijack_dirs="$hijack_dirs /tmp/npfs-cli-$pid"; done
# shellcheck disable=SC2086
setpriv --reuid="$MALLORY" --regid="$MALLORY" --clear-groups bash -c \
    "for d in $hijack_dirs; do mkdir -p \$d 2>/dev/null && ln -sf '$evil' \$d/npfsd; done; exit 0"
mkdir -m 700 "$U/xdg-hijack"
env -i HOME="$U/home" PATH="$P/bin:/usr/bin:/bin" XDG_RUNTIME_DIR="$U/xdg-hijack" \
    timeout "$LIMIT" npfs serve hijack --echo > "$W/hijack-serve.log" 2>&1 &
hs=$!
env -i HOME="$U/home" PATH="$P/bin:/usr/bin:/bin" LD_LIBRARY_PATH="$P/lib" XDG_RUNTIME_DIR="$U/xdg-hijack" \
    timeout "$LIMIT" "$U/roundtrip" rt3 > "$W/rt3.log" 2>&1
kill "$hs" 2>/dev/null
wait "$hs" 2>/dev/null
check "root's npfs works beside the planted links" grep -q "roundtrip ok" "$W/rt3.log"
check "the planted program never ran" test ! -e "$HIJACK_MARK"
bpid=$(cat "$U/xdg-hijack/npfs/npfsd.pid" 2>/dev/null)
check "the broker root started is npfs itself" bash -c "tr '\\0' ' ' < /proc/$bpid/cmdline | grep -q '^$P/bin/npfs npfsd'"
check "npfs made nothing in /tmp" bash -c "! find /tmp -maxdepth 1 -user root -name 'npfs-cli-*' | grep -q ."
mv "$W/npfsd.aside" "$P/libexec/npfs/npfsd"

echo "== a squatted /tmp runtime directory is refused in words"
# Another user (npfs-test-v) with no $XDG_RUNTIME_DIR and no /run/user/<uid>: its default
# runtime directory is /tmp/npfs-<uid>, which Mallory creates first.
VICTIM=npfs-test-v
id -u "$VICTIM" > /dev/null 2>&1 || useradd -M -s /usr/sbin/nologin "$VICTIM"
vuid=$(id -u "$VICTIM")
squat=/tmp/npfs-$vuid
rm -rf "$squat"
if [ ! -d "/run/user/$vuid" ]; then
    setpriv --reuid="$MALLORY" --regid="$MALLORY" --clear-groups mkdir -m 700 "$squat"
    setpriv --reuid="$VICTIM" --regid="$VICTIM" --clear-groups env -i HOME=/nonexistent \
        PATH="$P/bin:/usr/bin:/bin" timeout "$LIMIT" npfs list > "$W/squat.log" 2>&1
    rc=$?
    rm -rf "$squat"
    check "npfs list fails (status $rc) and says the directory belongs to another user" \
        bash -c "[ $rc -ne 0 ] && grep -q 'belongs to another user' '$W/squat.log'"
else
    echo "skip - /run/user/$vuid exists (a login session of $VICTIM)"
fi

echo "== socket activation (systemd-socket-activate, the LISTEN_FDS protocol)"
mkdir -m 700 -p "$U/xdg-act/npfs"
env -i PATH=/usr/bin:/bin systemd-socket-activate -l "$U/xdg-act/npfs/npfsd.sock" \
    -E RUST_LOG=info "$P/libexec/npfs/npfsd" --foreground > "$W/activate.log" 2>&1 &
activator=$!
for _ in $(seq 1 100); do [ -S "$U/xdg-act/npfs/npfsd.sock" ] && break; sleep 0.05; done
env -i HOME="$U/home" PATH="$P/bin:/usr/bin:/bin" LD_LIBRARY_PATH="$P/lib" XDG_RUNTIME_DIR="$U/xdg-act" \
    timeout "$LIMIT" "$U/roundtrip" rt4 > "$W/rt4.log" 2>&1
check "a client through the activated broker" grep -q "roundtrip ok" "$W/rt4.log"
check "the broker took the passed socket" grep -q "npfsd serving" "$W/activate.log"
check "nobody spawned a broker (no pid file of a daemonized one)" test ! -e "$U/xdg-act/npfs/npfsd.pid"
check "no colour codes in the log" bash -c "! grep -q $'\\e\\[' '$W/activate.log'"
kill "$activator" 2>/dev/null
wait "$activator" 2>/dev/null
activator=""

echo "== npfs daemon --system"
setpriv --reuid="$MALLORY" --regid="$MALLORY" --clear-groups env -i PATH="$P/bin:/usr/bin:/bin" \
    "$P/bin/npfs" daemon --system > "$W/sys-user.log" 2>&1
rc=$?
check "refused for a non-root user (status $rc), in words" \
    bash -c "[ $rc -eq 1 ] && grep -q 'must run as root' '$W/sys-user.log'"
mv "$P/libexec/npfs/npfsd" "$W/npfsd.aside"
env -i PATH="$P/bin:/usr/bin:/bin" timeout "$LIMIT" npfs daemon --system --foreground \
    --runtime-dir "$W/sysrun" > "$W/sys.log" 2>&1 &
sysd=$!
for _ in $(seq 1 100); do [ -S "$W/sysrun/npfsd.sock" ] && break; sleep 0.05; done
check "the built-in system broker serves a shared directory (0755, socket 0666)" \
    bash -c "[ \"\$(stat -c %a '$W/sysrun')\" = 755 ] && [ \"\$(stat -c %a '$W/sysrun/npfsd.sock')\" = 666 ]"
kill "$sysd" 2>/dev/null
wait "$sysd" 2>/dev/null
mv "$W/npfsd.aside" "$P/libexec/npfs/npfsd"

if [ -x "$here/scripting.sh" ]; then
    echo "== scripting sequences"
    # shellcheck source=/dev/null
    . "$here/scripting.sh"
fi

echo "== make uninstall"
pkill -f -- "$P/" 2>/dev/null
if timeout 300 make -C "$root" -s uninstall PREFIX="$P" > "$W/uninstall.log" 2>&1; then
    left=$(find "$P" -type f -o -type l)
    check "make uninstall leaves no file" test -z "$left"
    [ -z "$left" ] || echo "$left"
    check "nor npfs's own directories" test ! -e "$P/libexec/npfs" -a ! -e "$P/include/npfs" -a ! -e "$P/share/doc/npfs"
else
    cat "$W/uninstall.log"
    bad "make uninstall"
fi

echo
echo "install tests: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
