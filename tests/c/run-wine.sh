#!/usr/bin/env bash
# run-wine.sh — the same programs built with mingw-w64 and run under Wine: proof that the
# conformance programs assert Windows' behaviour (and that the samples work on Windows' API).
# Facts that spec/conformance.md marks as Wine deviations (todo_wine) are skipped through
# NPFS_UNDER_WINE=1 (see README.md). Also runs check-headers.sh (include/ vs mingw-w64).
# Exit: 0 all passed, 1 failures, 77 no mingw-w64/Wine.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/common.sh"
CC=x86_64-w64-mingw32-gcc
command -v "$CC" >/dev/null || { echo "run-wine.sh: $CC not installed (apt-get install gcc-mingw-w64-x86-64) — skipped"; exit 77; }
wine=$(command -v wine64 || command -v wine || true)
[ -n "$wine" ] || { echo "run-wine.sh: wine not installed (apt-get install wine64) — skipped"; exit 77; }
export WINEPREFIX=${WINEPREFIX:-/tmp/npfs-wineprefix} WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
export NPFS_UNDER_WINE=1
if [ ! -d "$WINEPREFIX" ]; then
  echo "run-wine.sh: creating a Wine prefix (first use only)..."
  timeout 300 "$wine" wineboot -i >/dev/null 2>&1 || true
fi
BUILD=${NPFS_C_BUILD:-$root/target/c-tests-wine}
EXE=.exe
RUN=$wine

echo "== header values and layouts vs mingw-w64"
"$here/check-headers.sh"
hc=$?

build_one() { # SRC OUT UNICODE; the samples' wide printf with Microsoft's %s meaning
  local uni=()
  [ "$3" = 1 ] && uni=(-municode -DUNICODE -D_UNICODE -D__USE_MINGW_ANSI_STDIO=0)
  $CC -O1 "${uni[@]}" -o "$2" "$1" 2>> "$BUILD/build.log" || { cat "$BUILD/build.log" >&2; return 1; }
}

echo "== build: x86_64-w64-mingw32-gcc"
build_all || exit 1
echo "== run under $("$wine" --version)"
run_all
rc=$?
[ $hc -eq 0 ] || { echo "check-headers failed"; rc=1; }
[ $rc -eq 0 ] && exit 0 || exit 1
