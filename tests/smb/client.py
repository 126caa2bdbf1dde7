#!/usr/bin/python3
"""SMB client side of tests/smb/run.sh: impacket against smbd on loopback.

  client.py PORT PASSWORD NPDIR suite   the functional checks (prints ok/FAIL lines)
  client.py PORT PASSWORD NPDIR absent NAME   NAME must give STATUS_OBJECT_NAME_NOT_FOUND
  client.py PORT PASSWORD NPDIR bench   64 B round trips and 64 KiB throughput

The user is root (smbpasswd'd by run.sh); an empty user is a null (anonymous) session.
Exit status 0 only when every check passed. Every SMB call has impacket's own timeout
(set below) and run.sh runs this under timeout(1).
"""

import os
import socket
import statistics
import sys
import time

from impacket import smb3structs
from impacket.smbconnection import SMBConnection, SessionError

STATUS_OBJECT_NAME_NOT_FOUND = 0xC0000034
STATUS_PIPE_DISCONNECTED = 0xC00000B0
TIMEOUT = 10

PORT = int(sys.argv[1])
PASSWORD = sys.argv[2]
NPDIR = sys.argv[3]
failures = 0


def ok(what):
    print("ok - " + what, flush=True)


def bad(what):
    global failures
    failures += 1
    print("FAIL - " + what, flush=True)


def check(what, cond):
    (ok if cond else bad)(what)


def session(user="root", dialect=None):
    c = SMBConnection("127.0.0.1", "127.0.0.1", sess_port=PORT, timeout=TIMEOUT,
                      preferredDialect=dialect)
    if user:
        c.login(user, PASSWORD)
    else:
        c.login("", "")
    return c, c.connectTree("IPC$")


def open_pipe(c, t, name):
    return c.openFile(t, name, desiredAccess=0x0012019F, shareMode=3)


def status_of(fn):
    """The NTSTATUS an SMB call failed with, or 0."""
    try:
        fn()
        return 0
    except SessionError as e:
        return e.getErrorCode() & 0xFFFFFFFF


def transact(c, t, f, data):
    return c.getSMBServer().TransactNamedPipe(t, f, data)


def suite():
    c, t = session()
    f = open_pipe(c, t, "echom")
    c.writeFile(t, f, b"hello")
    check("message pipe: write + read echoes", c.readFile(t, f, 0, 100) == b"hello")
    check("message pipe: TRANSCEIVE echoes", transact(c, t, f, b"ping") == b"ping")
    # A message longer than the read: the rest comes with the next read (smbd keeps it).
    c.writeFile(t, f, b"ECHO:world!")
    first = c.readFile(t, f, 0, 3)
    rest = c.readFile(t, f, 0, 100)
    check("a short read of a message: the rest comes next", (first, rest) == (b"ECH", b"O:world!"))
    big = os.urandom(65535)
    c.writeFile(t, f, big)
    got = b""
    while len(got) < len(big):
        part = c.readFile(t, f, 0, 65535)
        if not part:
            break
        got += part
    check("a 65535-byte message echoes", got == big)
    c.closeFile(t, f)

    f = open_pipe(c, t, "EchoM")
    check("a name in another case reaches the pipe", transact(c, t, f, b"case") == b"case")

    # Two clients at once (two sessions), interleaved.
    c2, t2 = session()
    g = open_pipe(c2, t2, "echom")
    c.writeFile(t, f, b"one")
    c2.writeFile(t2, g, b"two")
    r2 = c2.readFile(t2, g, 0, 100)
    r1 = c.readFile(t, f, 0, 100)
    check("two clients at once each get their own echo", (r1, r2) == (b"one", b"two"))
    c.closeFile(t, f)
    c2.closeFile(t2, g)

    # Byte pipe: raw bytes, echoes may come joined.
    f = open_pipe(c, t, "echob")
    c.writeFile(t, f, b"abc")
    c.writeFile(t, f, b"def")
    got = b""
    while len(got) < 6:
        part = c.readFile(t, f, 0, 100)
        if not part:
            break
        got += part
    check("byte pipe: bytes echo", got == b"abcdef")
    c.closeFile(t, f)

    # Security: the pipe "authonly" allows Authenticated Users only; "openall" Everyone.
    f = open_pipe(c, t, "authonly")
    check("an authenticated session opens an AU-only pipe", transact(c, t, f, b"au") == b"au")
    c.closeFile(t, f)
    a, at = session(user="")
    st = status_of(lambda: open_pipe(a, at, "authonly"))
    check("an anonymous session is refused an AU-only pipe (status 0x%08x)" % st, st != 0)
    f = open_pipe(a, at, "openall")
    check("an anonymous session opens an Everyone pipe", transact(a, at, f, b"anon") == b"anon")
    a.closeFile(at, f)

    # PIPE_REJECT_REMOTE_CLIENTS: no socket, not found.
    st = status_of(lambda: open_pipe(c, t, "hidden"))
    check("a reject-remote pipe is not found (status 0x%08x)" % st,
          st == STATUS_OBJECT_NAME_NOT_FOUND)
    check("a reject-remote pipe has no socket", not os.path.exists(os.path.join(NPDIR, "hidden")))

    # Hostile input on the socket itself: a garbage handshake is dropped, a silent
    # connection blocks nothing.
    silent = socket.socket(socket.AF_UNIX)
    silent.settimeout(TIMEOUT)
    silent.connect(os.path.join(NPDIR, "echom"))
    junk = socket.socket(socket.AF_UNIX)
    junk.settimeout(TIMEOUT)
    junk.connect(os.path.join(NPDIR, "echom"))
    junk.sendall(b"\x00\x00\x00\x20NPAM" + b"\x07\x00\x00\x00" * 2 + b"\xff" * 20)
    check("a malformed handshake is dropped", junk.recv(100) == b"")
    junk.close()
    f = open_pipe(c, t, "echom")
    check("the pipe serves on beside a silent connection", transact(c, t, f, b"still") == b"still")
    c.closeFile(t, f)
    silent.close()

    # The server ending the connection: the client sees the pipe disconnected.
    f = open_pipe(c, t, "oneshot")
    data = c.readFile(t, f, 0, 100)
    st = status_of(lambda: c.readFile(t, f, 0, 100))
    check("a server that writes and closes: data, then PIPE_DISCONNECTED (0x%08x)" % st,
          data == b"bye\n" and st == STATUS_PIPE_DISCONNECTED)
    server_view()


def server_view():
    """What the server sees of a remote client: GetNamedPipeClientComputerName (smbd's
    client address) and GetNamedPipeClientProcessId (the broker, which holds the end)."""
    c, t = session()
    f = open_pipe(c, t, "whoami")
    got = b""
    while not got.endswith(b"\n"):
        part = c.readFile(t, f, 0, 100)
        if not part:
            break
        got += part
    words = got.decode().split()
    check("the server sees the client's address as its computer name (%r)" % got,
          len(words) == 2 and words[0] == "127.0.0.1")
    check("the server sees the broker's pid as the client process id (%r)" % got,
          len(words) == 2 and words[1] == os.environ.get("NPFS_TEST_BROKER_PID"))


def absent(name):
    c, t = session()
    st = status_of(lambda: open_pipe(c, t, name))
    check("%s is not found once its server stopped (status 0x%08x)" % (name, st),
          st == STATUS_OBJECT_NAME_NOT_FOUND)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def bench():
    n = int(os.environ.get("SMB_BENCH_N", "2000"))
    for label, dialect in (("SMB 3.0", None), ("SMB 2.1", smb3structs.SMB2_DIALECT_21)):
        c, t = session(dialect=dialect)
        f = open_pipe(c, t, "echom")
        msg = b"x" * 64
        for _ in range(50):
            transact(c, t, f, msg)
        rt = []
        for _ in range(n):
            t0 = time.perf_counter()
            c.writeFile(t, f, msg)
            c.readFile(t, f, 0, 64)
            rt.append(time.perf_counter() - t0)
        tr = []
        for _ in range(n):
            t0 = time.perf_counter()
            transact(c, t, f, msg)
            tr.append(time.perf_counter() - t0)
        big = b"y" * 65535
        rounds = max(50, n // 10)
        t0 = time.perf_counter()
        for _ in range(rounds):
            c.writeFile(t, f, big)
            c.readFile(t, f, 0, 65535)
        dt = time.perf_counter() - t0
        print("bench %s: 64 B write+read round trip p50 %.3f ms p99 %.3f ms (n=%d)"
              % (label, statistics.median(rt) * 1e3, pct(rt, 0.99) * 1e3, n))
        print("bench %s: 64 B TRANSCEIVE round trip p50 %.3f ms p99 %.3f ms (n=%d)"
              % (label, statistics.median(tr) * 1e3, pct(tr, 0.99) * 1e3, n))
        print("bench %s: 65535 B write+read echo: %.1f MB/s each way (%d rounds)"
              % (label, rounds * 65535 / dt / 1e6, rounds))
        c.closeFile(t, f)


def main():
    cmd = sys.argv[4]
    try:
        if cmd == "suite":
            suite()
        elif cmd == "absent":
            absent(sys.argv[5])
        elif cmd == "bench":
            bench()
        else:
            bad("unknown command " + cmd)
    except Exception as e:  # an unexpected error is a failed check, with its story
        bad("unexpected %s: %s" % (type(e).__name__, e))
    sys.exit(1 if failures else 0)


main()
