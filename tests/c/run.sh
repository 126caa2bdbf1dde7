#!/usr/bin/env bash
# run.sh — the C side of npfs on Linux: every program in tests/c against include/ and libnpfs.
#  1. Header check (needs no library): each program compiles with gcc -fsyntax-only -I include,
#     the samples also with -DUNICODE -D_UNICODE -fshort-wchar, and as C++ (g++ -x c++, ANSI and
#     UNICODE with -fshort-wchar, as Visual Studio builds Microsoft's samples; skipped without
#     g++). Failure here exits 1.
#  2. Builds each program with gcc -I include ... -L target/release -lnpfs. Without libnpfs
#     (cargo build --release not run, or the C ABI not there yet) it says so and exits 77 (skipped).
#     Then checks that every function include/*.h declares (WINAPI) is exported by libnpfs.so.
#     With --installed, builds with `pkg-config --cflags --libs npfs` instead (an installed npfs:
#     PKG_CONFIG_PATH and LD_LIBRARY_PATH as the user sets them, the broker found by libnpfs).
#  3. Runs the conformance programs (each prints one line per checked fact) and pairs every
#     sample server with every sample client (ANSI and UNICODE C builds, and the UNICODE C++
#     build when g++ is there).
# Exit: 0 all passed, 1 failures, 77 skipped. Env: NPFS_TEST_TIMEOUT (s, per program, default 60).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/common.sh"
CC=${CC:-gcc}
CXX=${CXX:-g++}
HAVE_CXX=0
command -v "$CXX" >/dev/null && HAVE_CXX=1
INSTALLED=0
[ "${1:-}" = "--installed" ] && INSTALLED=1
LIBDIR=${NPFS_LIBDIR:-$root/target/release}
INC=$root/include/npfs
BUILD=${NPFS_C_BUILD:-$root/target/c-tests}
if [ $INSTALLED = 1 ]; then
  if ! pkg-config --exists npfs; then
    echo "run.sh --installed: pkg-config does not know npfs (set PKG_CONFIG_PATH to <prefix>/lib/pkgconfig)"
    exit 1
  fi
  INC=$(pkg-config --variable=includedir npfs)/npfs
  LIBDIR=$(pkg-config --variable=libdir npfs)
  BUILD=${NPFS_C_BUILD:-$(mktemp -d "${TMPDIR:-/tmp}/npfs-c-installed.XXXXXX")}
fi
EXE=""
RUN=""

echo "== header check: every program against include/ (gcc -fsyntax-only)"
hfail=0
for f in "$here"/conformance/*.c; do
  $CC -std=gnu11 -Wall -Wextra -Werror -fsyntax-only -I "$INC" "$f" || { echo "header check failed: $f"; hfail=1; }
done
for f in "$here"/samples/*.c; do
  $CC -std=gnu11 -fsyntax-only -I "$INC" "$f" || { echo "header check failed: $f"; hfail=1; }
  $CC -std=gnu11 -fsyntax-only -I "$INC" -DUNICODE -D_UNICODE -fshort-wchar "$f" ||
    { echo "header check failed: $f (UNICODE)"; hfail=1; }
  if [ $HAVE_CXX = 1 ]; then
    # C++: in UNICODE builds L"..." must convert to LPWSTR / LPTSTR (WCHAR is wchar_t there).
    $CXX -x c++ -Wall -Wextra -fsyntax-only -I "$INC" "$f" || { echo "header check failed: $f (C++)"; hfail=1; }
    $CXX -x c++ -Wall -Wextra -fsyntax-only -I "$INC" -DUNICODE -D_UNICODE -fshort-wchar "$f" ||
      { echo "header check failed: $f (C++, UNICODE)"; hfail=1; }
  fi
done
[ $HAVE_CXX = 1 ] || echo "header check: no $CXX, the samples' C++ builds are not checked (apt-get install g++)"
[ $hfail -eq 0 ] || exit 1
echo "header check: ok"

build_one() { # SRC OUT UNICODE
  local uni=()
  [ "$3" = 1 ] && uni=(-DUNICODE -D_UNICODE -fshort-wchar)
  if [ $INSTALLED = 1 ]; then
    # shellcheck disable=SC2046 # pkg-config's output is a list of words
    $CC -std=gnu11 -O1 -g "${uni[@]}" -o "$2" "$1" $(pkg-config --cflags --libs npfs)
  else
    $CC -std=gnu11 -O1 -g -I "$INC" "${uni[@]}" -o "$2" "$1" -L "$LIBDIR" -lnpfs -Wl,-rpath,"$BUILD/lib" -lpthread
  fi
}

build_cxx() { # SRC OUT: a sample as UNICODE C++
  local uni=(-x c++ -DUNICODE -D_UNICODE -fshort-wchar)
  if [ $INSTALLED = 1 ]; then
    # shellcheck disable=SC2046 # pkg-config's output is a list of words
    $CXX -O1 -g "${uni[@]}" -o "$2" "$1" $(pkg-config --cflags --libs npfs)
  else
    $CXX -O1 -g -I "$INC" "${uni[@]}" -o "$2" "$1" -L "$LIBDIR" -lnpfs -Wl,-rpath,"$BUILD/lib" -lpthread
  fi
}

if [ $INSTALLED = 0 ] && [ ! -e "$LIBDIR/libnpfs.so" ] && [ ! -e "$LIBDIR/libnpfs.a" ]; then
  echo "run.sh: no libnpfs in $LIBDIR (build it with: cargo build --release) — skipped"
  exit 77
fi
mkdir -p "$BUILD"
if [ $INSTALLED = 0 ]; then
  # libnpfs.so's SONAME is libnpfs.so.0, the name an install provides; in the tree there is
  # only target/release/libnpfs.so, so the programs find it through a link of that name.
  mkdir -p "$BUILD/lib"
  ln -sf "$LIBDIR/libnpfs.so" "$BUILD/lib/libnpfs.so.0"
fi
echo "== build: gcc -I include ... -L $LIBDIR -lnpfs"
if ! build_all 2> "$BUILD.build-errors.log"; then
  if grep -q "undefined reference" "$BUILD.build-errors.log"; then
    echo "run.sh: libnpfs does not export the Win32 C ABI yet (undefined references, see $BUILD.build-errors.log):"
    grep -o "undefined reference to \`[A-Za-z_0-9]*'" "$BUILD.build-errors.log" | sort -u | head -20
    echo "run.sh: skipped"
    exit 77
  fi
  cat "$BUILD.build-errors.log"
  exit 1
fi
if [ $HAVE_CXX = 1 ]; then
  echo "== build: the samples as UNICODE C++ ($CXX -x c++ -DUNICODE -D_UNICODE -fshort-wchar)"
  for s in "${SERVERS[@]}" "${CLIENTS[@]}"; do
    build_cxx "$here/samples/$s.c" "$BUILD/$s-cxx-unicode" || { echo "build failed: $s (C++, UNICODE)"; exit 1; }
  done
  SAMPLE_VARIANTS+=("-cxx-unicode")
fi
if [ -e "$LIBDIR/libnpfs.so" ]; then
  echo "== exports: every function include/ declares is in libnpfs.so"
  exported=$(nm -D --defined-only "$LIBDIR/libnpfs.so" | awk '{print $3}')
  missing=""
  for f in $(grep -ho 'WINAPI [A-Za-z_0-9]*(' "$INC"/*.h | sed 's/WINAPI //; s/(//' | sort -u); do
    grep -qx "$f" <<< "$exported" || missing="$missing $f"
  done
  if [ -n "$missing" ]; then
    echo "run.sh: declared in include/ but not exported by libnpfs:$missing"
    exit 1
  fi
  echo "exports: ok"
fi
echo "== run"
run_all
[ $? -eq 0 ] && exit 0 || exit 1
