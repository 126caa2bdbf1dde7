# common.sh — shared by run.sh (Linux, libnpfs) and run-wine.sh (mingw-w64 + Wine).
# The caller sets: CC, BUILD (output dir), EXE (suffix), RUN (command prefix, may be empty),
# and the functions build_one SRC OUT [UNICODE:0|1] (returns nonzero on failure).
# Then calls run_all, which builds and runs every conformance program and every sample pairing
# and prints a summary; its exit status is the number of failures (0 = all passed).

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CONFORMANCE=(overlapped cancel iocp apc errors waits inherit environ security access fileobj anon pendfail connect notify manypending)
SERVERS=(server_threads server_overlapped server_routines)
CLIENTS=(client_message client_transact client_call)
# The builds of the samples that are paired (server$v with client$v): ANSI and UNICODE C.
# run.sh adds "-cxx-unicode" (the samples compiled as UNICODE C++) when g++ is there.
SAMPLE_VARIANTS=("" "-unicode")
# A client prints this line (and exits 0) only after checking the server's answer.
SAMPLE_OK='round trip ok: '
TIMEOUT=${NPFS_TEST_TIMEOUT:-60}
pass=0
fail=0
failed=()

note_pass() { pass=$((pass + 1)); echo "PASS $1"; }
note_fail() { fail=$((fail + 1)); failed+=("$1"); echo "FAIL $1"; }

build_all() {
  mkdir -p "$BUILD"
  local p s c
  for p in "${CONFORMANCE[@]}"; do
    build_one "$here/conformance/$p.c" "$BUILD/$p$EXE" 0 || { echo "build failed: $p"; return 1; }
  done
  for s in "${SERVERS[@]}" "${CLIENTS[@]}"; do
    build_one "$here/samples/$s.c" "$BUILD/$s$EXE" 0 || { echo "build failed: $s"; return 1; }
    build_one "$here/samples/$s.c" "$BUILD/$s-unicode$EXE" 1 || { echo "build failed: $s (UNICODE)"; return 1; }
  done
}

run_conformance() {
  local p out rc
  for p in "${CONFORMANCE[@]}"; do
    out=$BUILD/$p.log
    (cd "$BUILD" && timeout "$TIMEOUT" $RUN "./$p$EXE") > "$out" 2>&1
    rc=$?
    tr -d '\r' < "$out" | sed "s/^/  [$p] /"
    if [ $rc -eq 0 ] && grep -q "all .* checks passed" "$out"; then note_pass "conformance/$p"; else note_fail "conformance/$p (exit $rc)"; fi
  done
}

# One client against a running server: retried while the server is still starting (the
# client then fails to open the pipe and prints no success line). stdin gets a newline, so a
# client that waits for a key press does not hang.
run_client() {
  local client=$1 msg=$2 log=$3 i rc
  for i in $(seq 1 40); do
    printf '\n' | (cd "$BUILD" && timeout 30 $RUN "./$client$EXE" "$msg") > "$log" 2>&1
    # The client's status, not printf's (a client that never reads stdin can make printf
    # die of SIGPIPE, which pipefail would report as 141).
    rc=${PIPESTATUS[1]}
    if grep -q "$SAMPLE_OK" "$log"; then return $rc; fi
    sleep 0.25
  done
  return 1
}

run_samples() {
  local s c v sp rc log
  for v in "${SAMPLE_VARIANTS[@]}"; do
    for s in "${SERVERS[@]}"; do
      (cd "$BUILD" && exec timeout 300 $RUN "./$s$v$EXE") > "$BUILD/$s$v.log" 2>&1 < /dev/null &
      sp=$!
      for c in "${CLIENTS[@]}"; do
        log=$BUILD/$s$v--$c$v.log
        run_client "$c$v" "hello from $c" "$log"
        rc=$?
        tr -d '\r' < "$log" | grep -v '^$' | sed "s/^/  [$s$v <- $c$v] /"
        if [ $rc -eq 0 ] && grep -q "$SAMPLE_OK" "$log"; then
          note_pass "samples: $s$v <- $c$v"
        else
          note_fail "samples: $s$v <- $c$v (exit $rc)"
        fi
      done
      kill "$sp" 2>/dev/null
      wait "$sp" 2>/dev/null
    done
  done
}

run_all() {
  run_conformance
  run_samples
  echo
  echo "summary: $pass passed, $fail failed"
  local f
  for f in "${failed[@]}"; do echo "  failed: $f"; done
  return $fail
}
