#!/usr/bin/env bash
# tests/install/deb.sh — the Debian package as a Debian user meets it: `make deb`, `dpkg -i`,
# then `npfs demo` and a C program built with pkg-config from a folder outside the tree with
# no NPFS_* variable and nothing on LD_LIBRARY_PATH, then `dpkg -r` leaving nothing behind.
# Needs root and a machine where installing a package under /usr is fine (CI). Refuses to
# run when a package named npfs is installed already. Exit 0: every check passed.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
LIMIT=${TEST_STEP_TIMEOUT:-120}
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
bad() { fail=$((fail + 1)); echo "FAIL - $*"; }
check() {
    local what=$1
    shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}

if dpkg-query -W -f='${Status}' npfs 2>/dev/null | grep -q "install ok installed"; then
    echo "deb.sh: a package npfs is installed already; not touching it"
    exit 1
fi
W=$(mktemp -d "${TMPDIR:-/tmp}/npfs-deb.XXXXXX")
chmod 755 "$W"
installed=0
cleanup() {
    pkill -f -- "/usr/libexec/npfs/npfsd --runtime-dir $W" 2>/dev/null
    [ $installed = 1 ] && dpkg -r npfs > /dev/null 2>&1
    rm -rf "$W"
}
trap cleanup EXIT

echo "== make deb"
if ! timeout 900 make -C "$root" -s deb > "$W/deb.log" 2>&1; then
    cat "$W/deb.log"
    echo "FAIL - make deb"
    exit 1
fi
deb=$(ls "${CARGO_TARGET_DIR:-$root/target}"/deb/npfs_*.deb)
ok "make deb: $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB)"
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' | grep -v '/$' > "$W/files"

echo "== dpkg -i"
if dpkg -i "$deb" > "$W/dpkg-i.log" 2>&1; then installed=1; ok "dpkg -i"; else
    cat "$W/dpkg-i.log"; bad "dpkg -i"; fi
check "the headers are under /usr/include/npfs" test -f /usr/include/npfs/windows.h
check "pkg-config finds npfs with no PKG_CONFIG_PATH" pkg-config --exists npfs
check "the broker is /usr/libexec/npfs/npfsd" test -x /usr/libexec/npfs/npfsd
check "the system units are where systemd looks" test -f /usr/lib/systemd/system/npfsd.socket

mkdir -p "$W/user/xdg" && chmod 700 "$W/user/xdg"
cd "$W/user" || exit 1
if env -i HOME="$W/user" PATH=/usr/bin:/bin XDG_RUNTIME_DIR="$W/user/xdg" timeout "$LIMIT" \
    npfs demo > "$W/demo.log" 2>&1; then ok "npfs demo from the package"; else
    cat "$W/demo.log"; bad "npfs demo from the package"; fi
check "the demo used the packaged broker" grep -q "/usr/libexec/npfs/npfsd" "$W/demo.log"
# shellcheck disable=SC2046 # pkg-config's output is a list of words
if gcc -o "$W/user/roundtrip" "$root/tests/install/c/roundtrip.c" $(pkg-config --cflags --libs npfs); then
    env -i HOME="$W/user" PATH=/usr/bin:/bin XDG_RUNTIME_DIR="$W/user/xdg" timeout "$LIMIT" \
        "$W/user/roundtrip" deb1 > "$W/rt.log" 2>&1
    check "a C program built with pkg-config runs with no LD_LIBRARY_PATH" grep -q "roundtrip ok" "$W/rt.log"
else
    bad "gcc against the package"
fi

echo "== dpkg -r"
pkill -f -- "/usr/libexec/npfs/npfsd --runtime-dir $W" 2>/dev/null
if dpkg -r npfs > "$W/dpkg-r.log" 2>&1; then installed=0; ok "dpkg -r"; else
    cat "$W/dpkg-r.log"; bad "dpkg -r"; fi
left=""
while read -r f; do [ -e "$f" ] || [ -L "$f" ] && left="$left $f"; done < "$W/files"
check "dpkg -r leaves none of the package's $(wc -l < "$W/files") files" test -z "$left"
[ -z "$left" ] || echo "left:$left"
check "nor its directories" test ! -e /usr/include/npfs -a ! -e /usr/libexec/npfs -a ! -e /usr/share/doc/npfs

echo
echo "deb tests: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
