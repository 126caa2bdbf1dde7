#!/usr/bin/env bash
# The npfs CLIENT side of remote pipes (issue 14), on loopback: a throwaway smbd (every
# directory in a temp folder, port 4455 or NPFS_TEST_SMB_PORT, no on-demand helpers, a test
# user) forwards IPC$ opens to tests/smb/npa_echo.py (a message and a byte echo pipe); then
# the npfs CLI (call, connect, wait) and the library's tests (crates/npfs/tests/remote_smb.rs)
# reach them as \\127.0.0.1\pipe\NAME. Needs root and smbd; skips (exit 0) without them.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [[ $(id -u) -ne 0 ]] || ! command -v smbd >/dev/null 2>&1; then
    echo "tests/smb/client.sh: skipped (needs root and smbd)"
    exit 0
fi

PORT=${NPFS_TEST_SMB_PORT:-4455}
PW=npfs-Test-pw1
D=$(mktemp -d /tmp/npsmb.XXXXXX) # short: the np/ socket paths must fit sun_path
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$D"
}
trap cleanup EXIT

. tests/smb/smbd-conf.sh
smb_conf "$D" "$PORT"
printf '%s\n%s\n' "$PW" "$PW" | timeout 20 smbpasswd -c "$D/smb.conf" -a -s root >/dev/null

# smbd -F takes its own process group (not --no-process-group: its SIGTERM would kill us).
smbd -s "$D/smb.conf" -l "$D/log" -F </dev/null >"$D/log/smbd.out" 2>&1 &
pids+=($!)
/usr/bin/python3 tests/smb/npa_echo.py "$D/ncalrpc/np" "$D/ready" &
pids+=($!)
for _ in $(seq 100); do
    if [[ -f $D/ready ]] && (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
    sleep 0.1
done
[[ -f $D/ready ]] || { echo "npa_echo.py did not start" >&2; exit 1; }
(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || { echo "smbd did not open port $PORT" >&2; cat "$D"/log/* >&2; exit 1; }

export CARGO_TERM_COLOR=never
# The same build and test commands as .ci/run's, so that in CI they find everything built
# (building one package alone can select other features and rebuild).
timeout 600 cargo build -q --workspace --all-targets
NPFS="${CARGO_TARGET_DIR:-target}/debug/npfs"
export NPFS_RUNTIME_DIR="$D/rt"
mkdir -p "$NPFS_RUNTIME_DIR" && chmod 700 "$NPFS_RUNTIME_DIR"

pass=0
fail=0
check() { # check NAME EXPECTED_STATUS EXPECTED_STDOUT_SUBSTRING COMMAND...
    local name=$1 want=$2 out=$3
    shift 3
    local got=0 o
    o=$(timeout 30 "$@" 2>"$D/err") || got=$?
    if [[ $got -eq $want && $o == *"$out"* ]] && { [[ -z $out ]] || [[ -n $o ]]; }; then
        echo "ok   $name"
        pass=$((pass + 1))
    else
        echo "FAIL $name: status $got (want $want), stdout [$o], stderr [$(cat "$D/err")]"
        fail=$((fail + 1))
    fi
}
check_err() { # check_err NAME PATTERN: the last command's stderr names PATTERN
    if grep -q -- "$2" "$D/err"; then
        echo "ok   $1"
        pass=$((pass + 1))
    else
        echo "FAIL $1: stderr [$(cat "$D/err")] lacks $2"
        fail=$((fail + 1))
    fi
}

U=(env NPFS_SMB_USER=root NPFS_SMB_PASSWORD=$PW NPFS_SMB_PORT=$PORT)
printf 'username = root\npassword = %s\n' "$PW" >"$D/auth"
chmod 600 "$D/auth"
F=(env NPFS_SMB_CREDENTIALS=$D/auth NPFS_SMB_PORT=$PORT)

check "call, user and password" 0 "hello remote" "${U[@]}" "$NPFS" call '\\127.0.0.1\pipe\npfsmsg' "hello remote"
check "call, credentials file" 0 "from file" "${F[@]}" "$NPFS" call '\\127.0.0.1\pipe\npfsmsg' "from file"
check "call, another case" 0 "case" "${U[@]}" "$NPFS" call '\\127.0.0.1\pipe\NpfsMsg' "case"
check "call, anonymous" 0 "anon" env NPFS_SMB_PORT=$PORT "$NPFS" call '\\127.0.0.1\pipe\npfsmsg' "anon"
check "call, reply cut short (exit 6)" 6 "0123" "${U[@]}" "$NPFS" call --reply-size 4 '\\127.0.0.1\pipe\npfsmsg' "0123456789"
check_err "  names ERROR_MORE_DATA" "ERROR_MORE_DATA (234)"
check "call, wrong password" 1 "" env NPFS_SMB_USER=root NPFS_SMB_PASSWORD=wrong NPFS_SMB_PORT=$PORT "$NPFS" call '\\127.0.0.1\pipe\npfsmsg' x
check_err "  names ERROR_LOGON_FAILURE" "ERROR_LOGON_FAILURE (1326)"
check "call, missing pipe (exit 3)" 3 "" "${U[@]}" "$NPFS" call '\\127.0.0.1\pipe\nosuchpipe' x
check_err "  names ERROR_FILE_NOT_FOUND" "ERROR_FILE_NOT_FOUND (2)"
check "call, nobody on the port" 1 "" env NPFS_SMB_PORT=1 "$NPFS" call '\\127.0.0.1\pipe\npfsmsg' x
check_err "  names ERROR_BAD_NETPATH" "ERROR_BAD_NETPATH (53)"
# -p: the pipe appears later (a second listener, started 1 s from now).
(sleep 1 && exec /usr/bin/python3 tests/smb/npa_echo.py "$D/ncalrpc/np" "$D/ready2" npfslate:2) &
pids+=($!)
check "call -p, a pipe that appears later" 0 "late" "${U[@]}" "$NPFS" call -p --timeout 10000 '\\127.0.0.1\pipe\npfslate' "late"
check "wait, present" 0 "" "${U[@]}" "$NPFS" wait '\\127.0.0.1\pipe\npfsmsg'
check "wait, missing pipe (exit 3)" 3 "" "${U[@]}" "$NPFS" wait '\\127.0.0.1\pipe\nosuchpipe'
check "connect, message pipe" 0 $'one\ntwo' "${U[@]}" "$NPFS" connect --message -t 0.3 '\\127.0.0.1\pipe\npfsmsg' <<<$'one\ntwo'
check "connect, byte pipe" 0 "bytes through smbd" "${U[@]}" "$NPFS" connect -t 0.3 '\\127.0.0.1\pipe\npfsbyte' <<<"bytes through smbd"

# The C ABI (libnpfs): tests/smb/remote_capi.c.
LIB="${CARGO_TARGET_DIR:-target}/debug"
mkdir -p "$D/lib" # the library's soname is libnpfs.so.0
ln -s "$(cd "$LIB" && pwd)/libnpfs.so" "$D/lib/libnpfs.so.0"
if gcc -std=gnu11 -I include/npfs -o "$D/remote_capi" tests/smb/remote_capi.c -L "$LIB" -lnpfs \
    -Wl,-rpath,"$D/lib" -lpthread; then
    check "C ABI on a remote pipe" 0 "checks passed" "${U[@]}" "$D/remote_capi"
else
    echo "FAIL building tests/smb/remote_capi.c"
    fail=$((fail + 1))
fi

# The library: TransactNamedPipe with ERROR_MORE_DATA then ReadFile, byte pipes, errors,
# and the figures (64 B round trip, 64 KiB throughput).
if NPFS_TEST_SMB=1 NPFS_SMB_USER=root NPFS_SMB_PASSWORD=$PW NPFS_SMB_PORT=$PORT \
    timeout 300 cargo test -q --workspace --test remote_smb -- --nocapture --test-threads 1; then
    pass=$((pass + 1))
else
    echo "FAIL cargo test -p npfs --test remote_smb"
    fail=$((fail + 1))
fi

echo "tests/smb/client.sh: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
