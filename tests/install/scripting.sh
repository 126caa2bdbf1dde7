# tests/install/scripting.sh — sourced by run.sh (which defines as_user, check, ok, bad, $W,
# $U, $P, $LIMIT): the CLI as scripts drive it, from the install, with no NPFS_* variable.
#   serve in the background, then wait -p / call -p at once (no race with the pipe's creation);
#   serve --ready-fd telling the script when it is ready;
#   connect on a byte pipe ending by itself after stdin's end, with the whole reply;
#   connect saying so when the server dies mid-transfer;
#   a closed stdout ending a command quietly.

mkdir -m 700 -p "$U/xdg-script"
script_env() {
    env -i HOME="$U/home" PATH="$P/bin:/usr/bin:/bin" XDG_RUNTIME_DIR="$U/xdg-script" LANG=C.UTF-8 "$@"
}

script_env timeout "$LIMIT" npfs serve chat --message --echo > /dev/null 2>&1 &
chat=$!
out=$(script_env timeout "$LIMIT" npfs call -p chat hi --timeout 10000 2>&1)
check "serve & then call -p at once: the reply" test "$out" = hi
script_env timeout "$LIMIT" npfs wait -p chat --timeout 10000
check "wait -p: the pipe exists and an instance listens (status $?)" test $? -eq 0
script_env timeout 10 npfs wait -p nothing-here --timeout 300 > /dev/null 2>&1
check "wait -p on a pipe that never appears: status 5 (timed out)" test $? -eq 5
kill "$chat" 2>/dev/null
wait "$chat" 2>/dev/null

# --ready-fd: the script reads the line, then uses the pipe.
exec {ready}> >(cat > "$W/ready.txt")
script_env timeout "$LIMIT" npfs serve bytes --echo --ready-fd "$ready" > /dev/null 2>&1 &
bytes=$!
exec {ready}>&-
for _ in $(seq 1 200); do [ -s "$W/ready.txt" ] && break; sleep 0.05; done
check "serve --ready-fd wrote READY" grep -qx READY "$W/ready.txt"

# A byte pipe: connect ends by itself after stdin's end and a quiet grace time, with all of
# the reply (4 MiB here).
head -c 4194304 /dev/urandom > "$W/stream.in"
t0=$SECONDS
script_env timeout "$LIMIT" npfs connect bytes < "$W/stream.in" > "$W/stream.out" 2> "$W/stream.err"
rc=$?
check "connect on a byte pipe ends by itself (status $rc, $((SECONDS - t0)) s)" test $rc -eq 0
check "connect delivered the whole reply" cmp -s "$W/stream.in" "$W/stream.out"

# A closed stdout ends a command quietly (no panic).
script_env timeout "$LIMIT" npfs list --json 2> "$W/epipe.err" | head -c 1 > /dev/null
check "npfs list --json | head -c 1: no panic" bash -c "! grep -q panicked '$W/epipe.err'"
script_env timeout "$LIMIT" npfs completions bash 2> "$W/epipe2.err" | head -1 > /dev/null
check "npfs completions bash | head -1: no panic" bash -c "! grep -q panicked '$W/epipe2.err'"
kill "$bytes" 2>/dev/null
wait "$bytes" 2>/dev/null

# The server dies mid-transfer: connect says so and fails.
script_env timeout "$LIMIT" npfs serve sink -- sh -c 'head -c 1048576 > /dev/null; kill -9 $PPID' > /dev/null 2>&1 &
sink=$!
head -c 157286400 /dev/zero | script_env timeout "$LIMIT" npfs connect -p sink --wait 10000 > /dev/null 2> "$W/sink.err"
rc=$?
check "connect after the server died mid-transfer: status 1 (got $rc)" test $rc -eq 1
check "connect said the server went away before stdin was sent" grep -q "before all of stdin was sent" "$W/sink.err"
kill "$sink" 2>/dev/null
wait "$sink" 2>/dev/null
