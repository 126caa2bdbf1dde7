/* apc.c — completion routines of ReadFileEx / WriteFileEx run only in alertable waits, in
 * order, once; GetOverlappedResultEx's timeout and alertable facts (spec/conformance.md:
 * serverThreadMain5, test_readfileex_pending, read_pipe_test, test_GetOverlappedResultEx). */
#include "../check.h"

static int calls, order[16];
static DWORD last_err, last_bytes;
static LPOVERLAPPED last_ov;

static VOID WINAPI routine(DWORD err, DWORD bytes, LPOVERLAPPED ov)
{
    if (calls < 16)
        order[calls] = (int)(ULONG_PTR)ov->hEvent; /* ReadFileEx/WriteFileEx leave hEvent to the caller */
    calls++;
    last_err = err;
    last_bytes = bytes;
    last_ov = ov;
}

static int user_apc_sum, user_apc_order[4], user_apc_calls;
static VOID CALLBACK user_apc(ULONG_PTR data)
{
    if (user_apc_calls < 4)
        user_apc_order[user_apc_calls] = (int)data;
    user_apc_calls++;
    user_apc_sum += (int)data;
}

static const char *g_connect_name;
static DWORD WINAPI open_later(LPVOID out)
{
    Sleep(100);
    *(HANDLE *)out = open_client(g_connect_name, 0);
    return 0;
}

/* QueueUserAPC: user APCs wait for an alertable wait too, and never run inside synchronous
 * pipe calls (conformance.md serverThreadMain2: "a user APC queued before synchronous
 * ConnectNamedPipe must NOT run during it"; test_CreatePipe: "A user APC queued beforehand
 * does not run during anonymous-pipe I/O"). */
static void user_apcs(void)
{
    HANDLE r, w, server, client = INVALID_HANDLE_VALUE, t;
    DWORD n;
    char b[8];
    CHECK(QueueUserAPC(user_apc, GetCurrentThread(), 5) != 0, "QueueUserAPC(current thread, 5)");
    CHECK(CreatePipe(&r, &w, NULL, 0), "CreatePipe");
    CHECK(WriteFile(w, "ab", 2, &n, NULL) && ReadFile(r, b, sizeof b, &n, NULL) && n == 2,
          "anonymous-pipe WriteFile and ReadFile");
    CloseHandle(r);
    CloseHandle(w);
    CHECK(user_apc_calls == 0, "the user APC did not run during the anonymous-pipe I/O");
    g_connect_name = pipe_name("apc-user");
    server = CreateNamedPipeA(g_connect_name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, 2, 1024, 1024, 0, NULL);
    CHECK(server != INVALID_HANDLE_VALUE, "a server for a synchronous ConnectNamedPipe");
    t = CreateThread(NULL, 0, open_later, &client, 0, NULL);
    BOOL ok = ConnectNamedPipe(server, NULL);
    CHECK(ok || GetLastError() == ERROR_PIPE_CONNECTED, "the synchronous ConnectNamedPipe returns when a client opens");
    CHECK(user_apc_calls == 0, "the user APC did not run during it");
    CHECK(WaitForSingleObject(t, 5000) == WAIT_OBJECT_0, "the opening thread ended");
    CloseHandle(t);
    CHECK(QueueUserAPC(user_apc, GetCurrentThread(), 10) != 0, "a second APC");
    CHECK(SleepEx(0, TRUE) == WAIT_IO_COMPLETION, "SleepEx(0, TRUE) -> WAIT_IO_COMPLETION");
    CHECK(user_apc_calls == 2 && user_apc_order[0] == 5 && user_apc_order[1] == 10,
          "both APCs ran, in the order queued (calls %d)", user_apc_calls);
    CHECK(QueueUserAPC(user_apc, GetCurrentThread(), 100) != 0, "a third APC");
    HANDLE unset = make_event(FALSE);
    CHECK(WaitForSingleObjectEx(unset, 1000, TRUE) == WAIT_IO_COMPLETION && user_apc_sum == 115,
          "an alertable WaitForSingleObjectEx runs it and returns WAIT_IO_COMPLETION");
    CloseHandle(unset);
    CloseHandle(client);
    CloseHandle(server);
}

int main(void)
{
    const char *name = pipe_name("apc"), *name2 = pipe_name("apc2");
    HANDLE server, client, s2, c2;
    OVERLAPPED ov, ovs[3], ovw;
    DWORD n, r, i;
    static char buf[16384], big[1024];
    HANDLE ev;

    make_pair(name, PIPE_TYPE_BYTE | PIPE_READMODE_BYTE, 1024, 1024, 0, &server, &client);

    /* A pending ReadFileEx: the routine runs only in an alertable wait. */
    memset(&ov, 0, sizeof ov);
    calls = 0;
    CHECK(ReadFileEx(server, buf, 1024, &ov, routine), "ReadFileEx with no data -> TRUE (pending)");
    CHECK(calls == 0, "the routine is not called by ReadFileEx");
    CHECK(WriteFile(client, "test", 4, &n, NULL) && n == 4, "the client writes 4 bytes");
    CHECK(calls == 0, "nor during the client's WriteFile");
    Sleep(50);
    CHECK(calls == 0, "nor during a non-alertable Sleep");
    ev = make_event(FALSE);
    CHECK(WaitForSingleObjectEx(ev, 10, FALSE) == WAIT_TIMEOUT && calls == 0, "nor during a non-alertable WaitForSingleObjectEx");
    r = SleepEx(1000, TRUE);
    CHECK(r == WAIT_IO_COMPLETION, "SleepEx(alertable) returns WAIT_IO_COMPLETION (got %lu)", (unsigned long)r);
    CHECK(calls == 1 && last_err == 0 && last_bytes == 4 && last_ov == &ov,
          "the routine ran once with (0, 4, &ov) (calls %d, err %lu, bytes %lu)", calls, (unsigned long)last_err,
          (unsigned long)last_bytes);
    CHECK(memcmp(buf, "test", 4) == 0, "the data is there");
    CHECK(SleepEx(0, TRUE) == 0 && calls == 1, "it does not run again");

    /* Immediate completions still deliver their routines later, in issue order, all in one wait. */
    calls = 0;
    for (i = 0; i < 3; i++) {
        memset(&ovs[i], 0, sizeof ovs[i]);
        ovs[i].hEvent = (HANDLE)(ULONG_PTR)(i + 1);
        CHECK(WriteFileEx(server, "abc", 3, &ovs[i], routine), "WriteFileEx #%lu completes at once -> TRUE", (unsigned long)i + 1);
    }
    CHECK(calls == 0, "no routine has run yet");
    CHECK(WaitForSingleObjectEx(ev, INFINITE, TRUE) == WAIT_IO_COMPLETION, "an alertable WaitForSingleObjectEx returns WAIT_IO_COMPLETION");
    CHECK(calls == 3 && order[0] == 1 && order[1] == 2 && order[2] == 3,
          "all three routines ran in that one wait, in issue order (calls %d: %d %d %d)", calls, order[0], order[1], order[2]);
    CHECK(last_bytes == 3 && last_err == 0, "with (0, 3)");
    CHECK(ReadFile(client, buf, 9, &n, NULL) && n == 9, "the client reads the 9 bytes");

    /* WaitForMultipleObjectsEx is alertable too; an immediate ReadFileEx completion queues its routine. */
    CHECK(WriteFile(client, "xy", 2, &n, NULL), "the client writes 2 bytes");
    calls = 0;
    memset(&ov, 0, sizeof ov);
    CHECK(ReadFileEx(server, buf, 100, &ov, routine) && calls == 0, "ReadFileEx with data there -> TRUE, routine not yet run");
    r = WaitForMultipleObjectsEx(1, &ev, FALSE, INFINITE, TRUE);
    CHECK(r == WAIT_IO_COMPLETION && calls == 1 && last_bytes == 2, "WaitForMultipleObjectsEx(alertable) runs it: 2 bytes");

    /* WriteFileEx until the quota is full: the first that cannot complete stays pending. */
    memset(big, 'q', sizeof big);
    calls = 0;
    for (i = 0; i < 16; i++) {
        int before;
        memset(&ov, 0, sizeof ov);
        CHECK(WriteFileEx(server, big, sizeof big, &ov, routine), "WriteFileEx(1024) #%lu -> TRUE", (unsigned long)i + 1);
        before = calls;
        r = SleepEx(0, TRUE);
        if (r == 0 && calls == before)
            break; /* pending: no routine */
        CHECK(r == WAIT_IO_COMPLETION && calls == before + 1, "it completed: its routine runs in SleepEx(0, TRUE)");
    }
    CHECK(i < 16, "a write that does not fit the quota stays pending: SleepEx(0, TRUE) times out with no routine");
    {
        int before = calls;
        DWORD total = 0;
        while (calls == before && total < sizeof buf) {
            CHECK(ReadFile(client, buf, 1024, &n, NULL), "the client reads 1024");
            total += n;
            SleepEx(10, TRUE);
        }
        CHECK(calls == before + 1 && last_err == 0 && last_bytes == 1024, "once room is freed the pending write's routine runs once");
    }
    CloseHandle(client);
    CloseHandle(server);

    /* A read that fails at once queues no routine. */
    make_pair(name, PIPE_TYPE_BYTE | PIPE_READMODE_BYTE, 1024, 1024, 0, &server, &client);
    CloseHandle(client);
    calls = 0;
    memset(&ov, 0, sizeof ov);
    CHECK_FAIL(ReadFileEx(server, buf, 10, &ov, routine), ERROR_BROKEN_PIPE, "ReadFileEx after the writer closed");
    CHECK(SleepEx(0, TRUE) == 0 && calls == 0, "no routine is queued for the immediate failure");
    CloseHandle(server);

    /* Synchronous pipe I/O is not alertable: a queued routine does not run during it. */
    make_pair(name, PIPE_TYPE_BYTE | PIPE_READMODE_BYTE, 1024, 1024, 0, &server, &client);
    CHECK(WriteFile(client, "a", 1, &n, NULL), "the client writes 1 byte");
    calls = 0;
    memset(&ov, 0, sizeof ov);
    CHECK(ReadFileEx(server, buf, 1, &ov, routine), "ReadFileEx completes at once (routine queued)");
    CHECK(WriteFile(server, "b", 1, &n, NULL) && ReadFile(client, buf, 1, &n, NULL), "synchronous WriteFile and ReadFile");
    CHECK(calls == 0, "the queued routine did not run during synchronous pipe I/O");
    SleepEx(0, TRUE);
    CHECK(calls == 1, "it runs in the next alertable wait");

    /* GetOverlappedResultEx: a pending 8000-byte write on a 5000/6000 pipe, and a queued routine. */
    make_pair(name2, PIPE_TYPE_BYTE | PIPE_READMODE_BYTE, 5000, 6000, FILE_FLAG_OVERLAPPED, &s2, &c2);
    memset(&ovw, 0, sizeof ovw);
    ovw.hEvent = make_event(FALSE);
    CHECK_FAIL(WriteFile(c2, buf, 8000, &n, &ovw), ERROR_IO_PENDING, "client's 8000-byte overlapped write pends");
    CHECK(WriteFile(client, "c", 1, &n, NULL), "the first pipe's client writes 1 byte");
    calls = 0;
    memset(&ov, 0, sizeof ov);
    CHECK(ReadFileEx(server, buf, 1, &ov, routine), "ReadFileEx completes at once (routine queued)");
    n = 0xdeadbeef;
    CHECK_FAIL(GetOverlappedResultEx(c2, &ovw, &n, 0, FALSE), ERROR_IO_INCOMPLETE, "GetOverlappedResultEx(0 ms, not alertable)");
    WINE_DEVIATION(0, "ERROR_IO_INCOMPLETE leaves *lpNumberOfBytesTransferred as it was")
    CHECK(n == 0, "ERROR_IO_INCOMPLETE sets *lpNumberOfBytesTransferred to 0 (got 0x%lx)", (unsigned long)n);
    CHECK(calls == 0, "the routine did not run");
    CHECK_FAIL(GetOverlappedResultEx(c2, &ovw, &n, 0, TRUE), ERROR_IO_INCOMPLETE, "GetOverlappedResultEx(0 ms, alertable)");
    CHECK(calls == 0, "a zero timeout is no alertable wait: the routine did not run");
    CHECK_FAIL(GetOverlappedResultEx(c2, &ovw, &n, 10, FALSE), WAIT_TIMEOUT, "GetOverlappedResultEx(10 ms, not alertable)");
    CHECK(calls == 0, "the routine did not run");
    CHECK_FAIL(GetOverlappedResultEx(c2, &ovw, &n, 10, TRUE), WAIT_IO_COMPLETION, "GetOverlappedResultEx(10 ms, alertable)");
    CHECK(calls == 1, "the routine ran");
    {
        DWORD total = 0;
        while (total < 8000 && ReadFile(s2, buf, sizeof buf, &n, NULL))
            total += n;
    }
    CHECK(GetOverlappedResultEx(c2, &ovw, &n, 5000, FALSE) && n == 8000, "once read, GetOverlappedResultEx -> TRUE, 8000");

    CloseHandle(ovw.hEvent);
    CloseHandle(c2);
    CloseHandle(s2);
    CloseHandle(client);
    CloseHandle(server);
    CloseHandle(ev);
    user_apcs();
    done("apc");
    return 0;
}
