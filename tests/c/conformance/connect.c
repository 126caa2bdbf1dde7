/* connect.c — what ConnectNamedPipe returns in each state of the instance, and what it leaves
 * behind (spec/api.md §2.3's table; conformance.md test_overlapped, test_nowait,
 * serverThreadMain3/4):
 *  - PIPE_NOWAIT: an overlapped connect with no client fails with ERROR_PIPE_LISTENING and
 *    leaves nothing pending (a client arriving later sets no event and queues no packet);
 *  - the OVERLAPPED's event is reset on entry, also when the call fails at once
 *    (ERROR_PIPE_CONNECTED, ERROR_PIPE_LISTENING, ERROR_NO_DATA, ERROR_INVALID_FUNCTION);
 *  - a client that opened and closed (or whose process ended) before the server's
 *    ConnectNamedPipe: ERROR_NO_DATA, every time, overlapped or not;
 *  - an overlapped ConnectNamedPipe never returns TRUE: with clients waiting in WaitNamedPipe
 *    it is FALSE with ERROR_IO_PENDING (then completes) or ERROR_PIPE_CONNECTED. */
#include "../check.h"

#ifndef _WIN32
#include <unistd.h>
#endif

#define KEY 4242
#define NO_DATA_ROUNDS 50
#define EXIT_ROUNDS 20
#define WAITER_ROUNDS 150

static char self[MAX_PATH];

/* The child of the process-exit rounds: open the pipe, then end without closing it. */
static int child(const char *name)
{
    HANDLE h = CreateFileA(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
    fflush(stdout);
    exit(h == INVALID_HANDLE_VALUE ? 3 : 0); /* no CloseHandle: the process's end closes it */
}

static BOOL start_child(const char *name, PROCESS_INFORMATION *pi)
{
    static char cmd[1024];
    STARTUPINFOA si;
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    memset(pi, 0, sizeof *pi);
    snprintf(cmd, sizeof cmd, "\"%s\" open-and-exit %s", self, name);
    return CreateProcessA(self, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, pi);
}

/* --- the WaitNamedPipe client of the never-TRUE rounds --- */
static const char *waiter_name;

static DWORD WINAPI waiter(LPVOID arg)
{
    int rounds = 0;
    (void)arg;
    while (rounds < WAITER_ROUNDS) {
        HANDLE h;
        DWORD n;
        char c;
        if (!WaitNamedPipeA(waiter_name, NMPWAIT_WAIT_FOREVER))
            continue;
        h = CreateFileA(waiter_name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
        if (h == INVALID_HANDLE_VALUE)
            continue; /* ERROR_PIPE_BUSY: another round */
        ReadFile(h, &c, 1, &n, NULL); /* the server's byte, or its disconnect */
        CloseHandle(h);
        rounds++;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *name = pipe_name("connect");
    HANDLE server, client, port, ev = make_event(TRUE);
    OVERLAPPED ov, ov2, *pov;
    ULONG_PTR key;
    DWORD n;
    char buf[16];
    int i;

    if (argc >= 3 && strcmp(argv[1], "open-and-exit") == 0)
        return child(argv[2]);
    CHECK(GetModuleFileNameA(NULL, self, sizeof self) > 0, "GetModuleFileNameA(NULL)");

    /* --- PIPE_NOWAIT: nothing pends --- */
    server = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED, PIPE_TYPE_BYTE | PIPE_NOWAIT, 1, 1024,
                              1024, 0, NULL);
    CHECK(server != INVALID_HANDLE_VALUE, "CreateNamedPipeA(overlapped, PIPE_NOWAIT)");
    port = CreateIoCompletionPort(server, NULL, KEY, 1);
    CHECK(port != NULL, "CreateIoCompletionPort(server)");
    SetEvent(ev);
    garbage_ov(&ov, ev);
    CHECK_FAIL(ConnectNamedPipe(server, &ov), ERROR_PIPE_LISTENING, "PIPE_NOWAIT: overlapped ConnectNamedPipe, no client");
    CHECK(!is_signaled(ev), "ERROR_PIPE_LISTENING: the event, set before, was reset on entry");
    CHECK(ov.Internal == STATUS_PENDING, "ERROR_PIPE_LISTENING: Internal stays STATUS_PENDING, set on entry (0x%lx)",
          (unsigned long)ov.Internal);
    pov = (OVERLAPPED *)1;
    CHECK_FAIL(GetQueuedCompletionStatus(port, &n, &key, &pov, 0), WAIT_TIMEOUT,
               "ERROR_PIPE_LISTENING queues no packet");
    client = open_client(name, 0);
    CHECK(client != INVALID_HANDLE_VALUE, "a client opens the listening instance afterwards");
    CHECK(WaitForSingleObject(ev, 300) == WAIT_TIMEOUT, "the client's arrival sets no event: nothing was pending");
    CHECK_FAIL(GetQueuedCompletionStatus(port, &n, &key, &pov, 300), WAIT_TIMEOUT,
               "the client's arrival queues no completion packet");
    CHECK(ov.Internal == STATUS_PENDING, "Internal is still STATUS_PENDING: nothing completed it");
    SetEvent(ev);
    garbage_ov(&ov, ev);
    CHECK_FAIL(ConnectNamedPipe(server, &ov), ERROR_PIPE_CONNECTED, "PIPE_NOWAIT: connect with the client there");
    CHECK(!is_signaled(ev), "ERROR_PIPE_CONNECTED: the event, set before, was reset on entry");
    CHECK(WriteFile(client, "hi", 2, &n, NULL) && n == 2, "the client writes 2 bytes");
    memset(&ov2, 0, sizeof ov2);
    CHECK(ReadFile(server, buf, sizeof buf, &n, &ov2) && n == 2, "the server reads them: the connection is good");
    CHECK(GetQueuedCompletionStatus(port, &n, &key, &pov, 1000) && pov == &ov2 && n == 2,
          "the read's packet is the only one on the port");
    CHECK_FAIL(GetQueuedCompletionStatus(port, &n, &key, &pov, 0), WAIT_TIMEOUT, "and nothing else is queued");

    /* PIPE_NOWAIT after DisconnectNamedPipe: listening again, still nothing pends. */
    CHECK(DisconnectNamedPipe(server), "DisconnectNamedPipe");
    CloseHandle(client);
    SetEvent(ev);
    garbage_ov(&ov, ev);
    CHECK_FAIL(ConnectNamedPipe(server, &ov), ERROR_PIPE_LISTENING, "PIPE_NOWAIT: connect after DisconnectNamedPipe");
    CHECK(!is_signaled(ev), "the event was reset on entry");
    client = open_client(name, 0);
    CHECK(client != INVALID_HANDLE_VALUE, "a client opens the instance, listening again");
    CHECK(WaitForSingleObject(ev, 300) == WAIT_TIMEOUT, "its arrival sets no event");
    CHECK_FAIL(GetQueuedCompletionStatus(port, &n, &key, &pov, 300), WAIT_TIMEOUT, "and queues no packet");
    CHECK_FAIL(ConnectNamedPipe(server, &ov), ERROR_PIPE_CONNECTED, "connect with that client there");
    CloseHandle(client);
    CloseHandle(server);
    CloseHandle(port);

    /* --- The event is reset on entry by every immediate failure --- */
    server = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED, PIPE_TYPE_BYTE | PIPE_WAIT, 1, 1024,
                              1024, 0, NULL);
    CHECK(server != INVALID_HANDLE_VALUE, "CreateNamedPipeA(overlapped, PIPE_WAIT)");
    client = open_client(name, FILE_FLAG_OVERLAPPED);
    CHECK(client != INVALID_HANDLE_VALUE, "a client opens it before any ConnectNamedPipe");
    SetEvent(ev);
    garbage_ov(&ov, ev);
    CHECK_FAIL(ConnectNamedPipe(server, &ov), ERROR_PIPE_CONNECTED, "overlapped ConnectNamedPipe, client already there");
    CHECK(!is_signaled(ev), "ERROR_PIPE_CONNECTED: the event, set before, is not signalled after the call");
    CHECK(ov.Internal == STATUS_PENDING, "ERROR_PIPE_CONNECTED: Internal stays STATUS_PENDING");
    SetEvent(ev);
    garbage_ov(&ov, ev);
    CHECK_FAIL(ConnectNamedPipe(client, &ov), ERROR_INVALID_FUNCTION, "overlapped ConnectNamedPipe on the client end");
    CHECK(!is_signaled(ev), "ERROR_INVALID_FUNCTION: the event was reset on entry");
    CloseHandle(client);
    SetEvent(ev);
    garbage_ov(&ov, ev);
    CHECK_FAIL(ConnectNamedPipe(server, &ov), ERROR_NO_DATA, "overlapped ConnectNamedPipe after the client closed");
    CHECK(!is_signaled(ev), "ERROR_NO_DATA: the event was reset on entry");
    SetEvent(ev);
    garbage_ov(&ov, ev);
    CHECK_FAIL(ReadFile(server, buf, 1, &n, &ov), ERROR_BROKEN_PIPE, "overlapped ReadFile after the client closed");
    CHECK(!is_signaled(ev), "a ReadFile failing at once also resets the event on entry");
    SetEvent(ev);
    garbage_ov(&ov, ev);
    CHECK_FAIL(WriteFile(server, "x", 1, &n, &ov), ERROR_NO_DATA, "overlapped WriteFile after the client closed");
    CHECK(!is_signaled(ev), "a WriteFile failing at once also resets the event on entry");
    CloseHandle(server);

    /* --- A client that came and went before ConnectNamedPipe: ERROR_NO_DATA, every time --- */
    for (i = 0; i < NO_DATA_ROUNDS; i++) {
        BOOL r;
        DWORD e;
        server = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED, PIPE_TYPE_BYTE | PIPE_WAIT, 1, 1024,
                                  1024, 0, NULL);
        client = open_client(name, 0);
        if (server == INVALID_HANDLE_VALUE || client == INVALID_HANDLE_VALUE) {
            CHECK(0, "round %d: instance and client (%lu)", i, (unsigned long)GetLastError());
        }
        CloseHandle(client);
        garbage_ov(&ov, ev);
        r = ConnectNamedPipe(server, &ov);
        e = GetLastError();
        if (r || e != ERROR_NO_DATA) {
            CHECK(0, "round %d: overlapped ConnectNamedPipe after the client's CloseHandle -> FALSE, ERROR_NO_DATA (got %d, %lu)",
                  i, (int)r, (unsigned long)e);
        }
        if (WaitForSingleObject(ev, 0) != WAIT_TIMEOUT)
            CHECK(0, "round %d: ERROR_NO_DATA leaves nothing pending (the event stays reset)", i);
        CloseHandle(server);
    }
    CHECK(1, "%d rounds: a client's CloseHandle before the overlapped ConnectNamedPipe -> ERROR_NO_DATA each time",
          NO_DATA_ROUNDS);
    for (i = 0; i < NO_DATA_ROUNDS; i++) {
        BOOL r;
        DWORD e;
        server = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE | PIPE_WAIT, 1, 1024, 1024, 0, NULL);
        client = open_client(name, 0);
        if (server == INVALID_HANDLE_VALUE || client == INVALID_HANDLE_VALUE) {
            CHECK(0, "round %d: instance and client (%lu)", i, (unsigned long)GetLastError());
        }
        CloseHandle(client);
        r = ConnectNamedPipe(server, NULL);
        e = GetLastError();
        if (r || e != ERROR_NO_DATA) {
            CHECK(0, "round %d: blocking ConnectNamedPipe after the client's CloseHandle -> FALSE, ERROR_NO_DATA (got %d, %lu)",
                  i, (int)r, (unsigned long)e);
        }
        CloseHandle(server);
    }
    CHECK(1, "%d rounds: a client's CloseHandle before the blocking ConnectNamedPipe -> ERROR_NO_DATA each time",
          NO_DATA_ROUNDS);

    /* The same when the client's process ends without closing its handle. */
    for (i = 0; i < EXIT_ROUNDS; i++) {
        PROCESS_INFORMATION pi;
        DWORD code = 255;
        BOOL r, ovl = i % 2 == 0;
        DWORD e;
        server = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX | (ovl ? FILE_FLAG_OVERLAPPED : 0), PIPE_TYPE_BYTE | PIPE_WAIT,
                                  1, 1024, 1024, 0, NULL);
        CHECK(server != INVALID_HANDLE_VALUE, "round %d: an instance", i);
        CHECK(start_child(name, &pi), "round %d: a child that opens the pipe and exits without closing it", i);
        CHECK(WaitForSingleObject(pi.hProcess, 30000) == WAIT_OBJECT_0 && GetExitCodeProcess(pi.hProcess, &code) &&
                  code == 0,
              "round %d: the child opened the pipe and ended (exit code %lu)", i, (unsigned long)code);
        CloseHandle(pi.hThread);
        CloseHandle(pi.hProcess);
        garbage_ov(&ov, ev);
        r = ConnectNamedPipe(server, ovl ? &ov : NULL);
        e = GetLastError();
        CHECK(!r && e == ERROR_NO_DATA, "round %d: %s ConnectNamedPipe after the client's process ended -> FALSE, "
              "ERROR_NO_DATA (got %d, %lu)", i, ovl ? "overlapped" : "blocking", (int)r, (unsigned long)e);
        CHECK_FAIL(ReadFile(server, buf, 1, &n, ovl ? &ov : NULL), ERROR_BROKEN_PIPE, "and ReadFile: ERROR_BROKEN_PIPE");
        CloseHandle(server);
    }

    /* --- Overlapped ConnectNamedPipe never returns TRUE, even with clients waiting --- */
    {
        HANDLE th;
        int pending = 0, connected = 0;
        waiter_name = name;
        server = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED, PIPE_TYPE_BYTE | PIPE_WAIT, 1, 1024,
                                  1024, 0, NULL);
        CHECK(server != INVALID_HANDLE_VALUE, "an overlapped instance for the WaitNamedPipe client");
        th = CreateThread(NULL, 0, waiter, NULL, 0, NULL);
        CHECK(th != NULL, "a thread that waits (WaitNamedPipe), opens, reads a byte and closes, %d times",
              WAITER_ROUNDS);
        for (i = 0; i < WAITER_ROUNDS; i++) {
            BOOL r;
            DWORD e;
            garbage_ov(&ov, ev);
            SetLastError(0xdeadbeef);
            r = ConnectNamedPipe(server, &ov);
            e = GetLastError();
            if (r || (e != ERROR_IO_PENDING && e != ERROR_PIPE_CONNECTED)) {
                CHECK(0, "round %d: overlapped ConnectNamedPipe -> FALSE with ERROR_IO_PENDING or ERROR_PIPE_CONNECTED "
                      "(got %d, %lu)", i, (int)r, (unsigned long)e);
            }
            if (e == ERROR_IO_PENDING) {
                pending++;
                if (!GetOverlappedResult(server, &ov, &n, TRUE))
                    CHECK(0, "round %d: the pending connect completes (%lu)", i, (unsigned long)GetLastError());
            } else {
                connected++;
            }
            garbage_ov(&ov2, ev);
            r = WriteFile(server, "k", 1, &n, &ov2);
            if (!r && GetLastError() == ERROR_IO_PENDING)
                r = GetOverlappedResult(server, &ov2, &n, TRUE);
            if (!r)
                CHECK(0, "round %d: the server writes its byte (%lu)", i, (unsigned long)GetLastError());
            garbage_ov(&ov2, ev);
            r = ReadFile(server, buf, 1, &n, &ov2);
            if (!r && GetLastError() == ERROR_IO_PENDING)
                r = GetOverlappedResult(server, &ov2, &n, TRUE);
            if (r || GetLastError() != ERROR_BROKEN_PIPE)
                CHECK(0, "round %d: the client read the byte and closed (ReadFile -> ERROR_BROKEN_PIPE, got %d, %lu)", i,
                      (int)r, (unsigned long)GetLastError());
            if (!DisconnectNamedPipe(server))
                CHECK(0, "round %d: DisconnectNamedPipe (%lu)", i, (unsigned long)GetLastError());
        }
        CHECK(1, "%d overlapped connects with a client waiting in WaitNamedPipe: none returned TRUE (%d pending, %d "
              "ERROR_PIPE_CONNECTED)", WAITER_ROUNDS, pending, connected);
        CHECK(WaitForSingleObject(th, 30000) == WAIT_OBJECT_0, "the waiting client's thread ends");
        CloseHandle(th);
        CloseHandle(server);
    }

    CloseHandle(ev);
    done("connect");
    return 0;
}
