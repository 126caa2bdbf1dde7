#!/usr/bin/python3
"""A throwaway named_pipe_auth (NPA) listener for tests/smb/client.sh: smbd hands every SMB
open of IPC$ pipe NAME to the Unix socket NP_DIR/NAME; this answers smbd's handshake (echoing
its level) and then echoes. Pipes:
  npfsmsg   message mode (file_type 2): each message (u16 LE length + bytes) comes back
  npfsbyte  byte mode (file_type 1): bytes come back as they arrive
Usage: npa_echo.py NP_DIR READY_FILE [NAME:TYPE ...] (other pipes instead, TYPE 1 or 2).
Writes READY_FILE once every socket listens."""
import os
import socket
import struct
import sys
import threading

PIPES = {"npfsmsg": 2, "npfsbyte": 1}


def read_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def handshake(conn, file_type):
    (length,) = struct.unpack(">I", read_exact(conn, 4))
    if length > 0x00FFFFFF:
        raise EOFError
    body = read_exact(conn, length)
    if body[:4] != b"NPAM":
        raise EOFError
    (level,) = struct.unpack("<I", body[4:8])
    rep = b"NPAM" + struct.pack("<IIHHIQI", level, level, file_type, 0x05FF, 0, 4096, 0)
    conn.sendall(struct.pack(">I", len(rep)) + rep)


def serve(conn, file_type):
    try:
        handshake(conn, file_type)
        while True:
            if file_type == 2:
                (n,) = struct.unpack("<H", read_exact(conn, 2))
                msg = read_exact(conn, n)
                conn.sendall(struct.pack("<H", len(msg)) + msg)
            else:
                data = conn.recv(65536)
                if not data:
                    return
                conn.sendall(data)
    except (EOFError, OSError):
        pass
    finally:
        conn.close()


def listen(path, file_type):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    os.chmod(path, 0o600)
    s.listen(64)
    return s


def accept_loop(s, file_type):
    while True:
        conn, _ = s.accept()
        threading.Thread(target=serve, args=(conn, file_type), daemon=True).start()


def main():
    np_dir, ready = sys.argv[1], sys.argv[2]
    pipes = PIPES
    if len(sys.argv) > 3:
        pipes = {a.split(":")[0]: int(a.split(":")[1]) for a in sys.argv[3:]}
    os.makedirs(np_dir, mode=0o700, exist_ok=True)
    socks = [(listen(os.path.join(np_dir, n), t), t) for n, t in pipes.items()]
    for s, t in socks[1:]:
        threading.Thread(target=accept_loop, args=(s, t), daemon=True).start()
    with open(ready, "w") as f:
        f.write("ready\n")
    accept_loop(*socks[0])


if __name__ == "__main__":
    main()
