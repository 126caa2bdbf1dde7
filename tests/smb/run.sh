#!/usr/bin/env bash
# tests/smb/run.sh — npfs pipes served to SMB clients through Samba, on loopback only:
# smbd with a throwaway smb.conf (every directory in a temp folder, a free port,
# `rpc start on demand helpers = no`, root as the test user via smbpasswd), the system broker
# with --samba-np-dir (its own runtime directory: never /run/npfs), `npfs serve` pipes, and
# impacket (tests/smb/client.py) as the SMB client: write+read, TRANSCEIVE, a name in
# another case, two clients at once, a byte pipe, anonymous refused by a DACL, a
# reject-remote pipe not found, hostile handshakes, the socket gone after its server stops.
# `--bench` also measures (docs/PERFORMANCE.md, "Remote pipes through Samba").
#
# Needs root, smbd (Debian: samba), python3-impacket and the built `npfs` and `npfsd`
# (cargo build -p npfs-cli -p npfsd). Without root or smbd it skips (exit 0), unless
# NPFS_SMB_REQUIRED=1 (CI), when that is a failure. Exit 0: every check passed.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/tests/smb
LIMIT=${TEST_STEP_TIMEOUT:-30}
BIN=${NPFS_BIN_DIR:-${CARGO_TARGET_DIR:-$root/target}/debug}
PY=/usr/bin/python3 # Debian's, which python3-impacket is installed for
bench=0
[ "${1:-}" = --bench ] && bench=1

skip() {
    if [ "${NPFS_SMB_REQUIRED:-0}" = 1 ]; then
        echo "FAIL - $* (NPFS_SMB_REQUIRED=1)"
        exit 1
    fi
    echo "skip - $*"
    exit 0
}
[ "$(id -u)" = 0 ] || skip "not root (smbd and the system broker need it)"
command -v smbd > /dev/null || skip "no smbd (apt-get install samba)"
command -v smbpasswd > /dev/null || skip "no smbpasswd (apt-get install samba)"
$PY -c 'import impacket' 2> /dev/null || skip "no impacket (apt-get install python3-impacket)"
for b in npfs npfsd; do
    [ -x "$BIN/$b" ] || { echo "FAIL - $BIN/$b not built"; exit 1; }
done

# Short: <dir>/ncalrpc/np/<name> must fit sun_path (108 bytes).
D=$(mktemp -d "${TMPDIR:-/tmp}/npfs-smb.XXXXXX")
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2> /dev/null; done
    [ -n "${smbd_pid:-}" ] && kill "$smbd_pid" 2> /dev/null
    [ -n "${broker_pid:-}" ] && kill "$broker_pid" 2> /dev/null
    wait 2> /dev/null
    rm -rf "$D"
}
trap cleanup EXIT

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
bad() { fail=$((fail + 1)); echo "FAIL - $*"; }
check() { # DESCRIPTION COMMAND...: the command succeeds
    local what=$1
    shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}
show_logs() {
    echo "--- broker log"; tail -n 30 "$D/broker.log"
    echo "--- smbd log"; tail -n 30 "$D"/log/log.* 2> /dev/null
}

mkdir -p "$D/run"
PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
PASSWORD=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
. "$here/smbd-conf.sh"
smb_conf "$D" "$PORT"
printf '%s\n%s\n' "$PASSWORD" "$PASSWORD" |
    timeout "$LIMIT" smbpasswd -c "$D/smb.conf" -a -s root > /dev/null ||
    { echo "FAIL - smbpasswd"; exit 1; }

echo "== smbd on 127.0.0.1:$PORT"
# -F without --no-process-group: smbd takes its own process group, so its SIGTERM handling
# never reaches this script.
smbd -s "$D/smb.conf" -l "$D/log" -F > "$D/smbd.out" 2>&1 < /dev/null &
smbd_pid=$!
if ! timeout 10 bash -c "until (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2> /dev/null; do sleep 0.05; done"; then
    echo "FAIL - smbd did not open its port"; cat "$D/smbd.out"; exit 1
fi
ok "smbd listens"

echo "== the system broker with --samba-np-dir (runtime directory $D/run)"
NP=$D/ncalrpc/np
# `npfs daemon` execs the npfsd beside it. --runtime-dir keeps it off the machine's
# /run/npfs; RUST_LOG=debug puts each remote connection in its log.
env RUST_LOG=npfsd=debug "$BIN/npfs" daemon --system --foreground --runtime-dir "$D/run" \
    --samba-np-dir "$NP" > "$D/broker.log" 2>&1 < /dev/null &
broker_pid=$!
if ! timeout 10 bash -c "until [ -S '$D/run/npfsd.sock' ]; do sleep 0.02; done"; then
    echo "FAIL - broker did not start"; cat "$D/broker.log"; exit 1
fi
check "np/ was created root-owned 0700" test "$(stat -c '%U %a' "$NP")" = "root 700"
[ -e /run/npfs/npfsd.sock ] && [ ! -e "$D/run/npfsd.sock" ] && bad "the machine's /run/npfs was used"

export NPFS_RUNTIME_DIR=$D/run
n=0
serve() { # NAME ARGS...: start `npfs serve` and wait until it listens
    local fifo=$D/ready.$n
    n=$((n + 1))
    mkfifo "$fifo"
    "$BIN/npfs" serve --ready-fd 3 "$@" 3> "$fifo" > "$D/serve.$1.log" 2>&1 < /dev/null &
    pids+=($!)
    last_pid=$!
    if ! timeout "$LIMIT" bash -c "read -r _ < '$fifo'"; then
        bad "npfs serve $* did not get ready"
        return 1
    fi
}
serve EchoM --message --echo
serve echob --echo
serve authonly --message --echo --sddl 'D:(A;;GA;;;SY)(A;;GA;;;OW)(A;;GA;;;AU)'
serve openall --message --echo --sddl 'D:(A;;GA;;;WD)'
serve hidden --message --echo --reject-remote
serve oneshot -- echo bye
# shellcheck disable=SC2016 # expanded by the served shell
serve whoami -- sh -c 'echo "$NPFS_CLIENT_COMPUTER $NPFS_CLIENT_PID"'
# The sockets follow the namespace asynchronously: wait for the last one to appear.
timeout 10 bash -c "until [ -S '$NP/whoami' ]; do sleep 0.02; done"
check "a socket for each pipe accepting remote clients" \
    test -S "$NP/echom" -a -S "$NP/echob" -a -S "$NP/authonly" -a -S "$NP/openall"
check "the sockets are root-only" test "$(stat -c '%U %a' "$NP/echom")" = "root 600"

echo "== impacket through smbd"
NPFS_TEST_BROKER_PID=$broker_pid timeout 60 $PY "$here/client.py" "$PORT" "$PASSWORD" "$NP" suite \
    > "$D/suite.out" 2>&1
suite_rc=$?
cat "$D/suite.out"
pass=$((pass + $(grep -c '^ok - ' "$D/suite.out")))
fail=$((fail + $(grep -c '^FAIL - ' "$D/suite.out")))
[ $suite_rc -ne 0 ] && ! grep -q '^FAIL - ' "$D/suite.out" && bad "client.py suite exited $suite_rc"
check "the broker logged remote clients with their address" \
    grep -q 'remote client connected.*addr="127.0.0.1"' "$D/broker.log"

echo "== npfs's own SMB client through smbd to npfs pipes"
# The credential convention of the client side: NPFS_SMB_USER / NPFS_SMB_PASSWORD /
# NPFS_SMB_PORT, or NPFS_SMB_CREDENTIALS (smbclient's authentication file).
remote() {
    NPFS_SMB_USER=root NPFS_SMB_PASSWORD=$PASSWORD NPFS_SMB_PORT=$PORT \
        timeout "$LIMIT" "$BIN/npfs" "$@"
}
out=$(remote call '\\127.0.0.1\pipe\EchoM' 'hello remote' 2> "$D/rcall.err")
check "npfs call reaches an npfs message pipe through smbd (user, password, port)" \
    test "$out" = "hello remote"
printf 'username = root\npassword = %s\n' "$PASSWORD" > "$D/smbcred"
out=$(NPFS_SMB_CREDENTIALS=$D/smbcred NPFS_SMB_PORT=$PORT timeout "$LIMIT" \
    "$BIN/npfs" call '\\127.0.0.1\pipe\echom' 'from a credentials file' 2>> "$D/rcall.err")
check "npfs call with NPFS_SMB_CREDENTIALS, the name in another case" \
    test "$out" = "from a credentials file"
out=$(printf 'bytes over smb\n' | remote connect '\\127.0.0.1\pipe\echob' 2>> "$D/rcall.err")
check "npfs connect echoes through a byte pipe" test "$out" = "bytes over smb"
remote call '\\127.0.0.1\pipe\hidden' 'x' > /dev/null 2>> "$D/rcall.err"
rc=$?
check "a reject-remote pipe is missing for npfs call too (exit 3, got $rc)" test $rc = 3
NPFS_SMB_USER=root NPFS_SMB_PASSWORD=wrong NPFS_SMB_PORT=$PORT timeout "$LIMIT" \
    "$BIN/npfs" call '\\127.0.0.1\pipe\EchoM' 'x' > /dev/null 2> "$D/rbad.err"
check "a wrong password names ERROR_LOGON_FAILURE (1326)" grep -q 1326 "$D/rbad.err"
[ $fail -gt 0 ] && { echo "--- npfs client stderr"; cat "$D/rcall.err"; }

if [ $bench = 1 ]; then
    echo "== measurements"
    timeout 300 $PY "$here/client.py" "$PORT" "$PASSWORD" "$NP" bench || bad "bench"
fi

echo "== a server stops: its socket goes"
pid_of_echob=${pids[1]}
kill "$pid_of_echob"
wait "$pid_of_echob" 2> /dev/null
check "the socket is gone once the last server instance closed" \
    timeout 10 bash -c "while [ -e '$NP/echob' ]; do sleep 0.02; done"
timeout 30 $PY "$here/client.py" "$PORT" "$PASSWORD" "$NP" absent echob > "$D/absent.out" 2>&1
cat "$D/absent.out"
if grep -q '^ok - ' "$D/absent.out"; then pass=$((pass + 1)); else fail=$((fail + 1)); fi

echo "== the broker stops: every socket goes"
# The servers first: a server outliving its broker would start a broker of its own there.
for p in "${pids[@]}"; do kill "$p" 2> /dev/null; done
for p in "${pids[@]}"; do wait "$p" 2> /dev/null; done
pids=()
kill "$broker_pid"
wait "$broker_pid" 2> /dev/null
broker_pid=
check "np/ holds no socket of ours after the broker exited" \
    bash -c "[ -z \"\$(ls -A '$NP')\" ]"

[ $fail -gt 0 ] && show_logs
echo "== $pass passed, $fail failed"
[ $fail -eq 0 ]
