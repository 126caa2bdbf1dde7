/*
 * fileobj.c — requests belong to the file object, not to the handle, and blocking calls on an
 * overlapped handle block (conformance.md §3 test_NamedPipe_2 serverThreadMain3,
 * test_overlapped, §4 test_cancelio ... test_blocking, test_transceive, test_completion):
 *  - ConnectNamedPipe(NULL), ReadFile(NULL) and FlushFileBuffers on a FILE_FLAG_OVERLAPPED
 *    handle wait for the other side;
 *  - CancelIo on the original handle cancels a read issued through a duplicate;
 *  - closing the handle a read was issued on does not cancel it while a duplicate lives, and
 *    CancelIo on the closed handle is ERROR_INVALID_HANDLE;
 *  - one CancelIoEx cancels every request that shares the OVERLAPPED;
 *  - an overlapped TransactNamedPipe pends until the reply comes;
 *  - ReadFileEx on a handle bound to a completion port is ERROR_INVALID_PARAMETER.
 */
#include "../check.h"

static HANDLE g_peer;
static const char *g_name;

static DWORD WINAPI open_later(LPVOID unused)
{
    (void)unused;
    Sleep(100);
    g_peer = open_client(g_name, 0);
    return 0;
}

static DWORD WINAPI write_later(LPVOID unused)
{
    DWORD n;
    (void)unused;
    Sleep(100);
    WriteFile(g_peer, "x", 1, &n, NULL);
    return 0;
}

static DWORD WINAPI read_later(LPVOID unused)
{
    char b[64];
    DWORD n;
    (void)unused;
    Sleep(100);
    ReadFile(g_peer, b, sizeof b, &n, NULL);
    return 0;
}

static int routine_calls;
static VOID WINAPI routine(DWORD err, DWORD n, LPOVERLAPPED ov)
{
    (void)err;
    (void)n;
    (void)ov;
    routine_calls++;
}

static void join(HANDLE t)
{
    CHECK(WaitForSingleObject(t, 10000) == WAIT_OBJECT_0, "helper thread finished");
    CloseHandle(t);
}

int main(void)
{
    HANDLE server, client, dup, t, ev = make_event(FALSE), ev2 = make_event(FALSE);
    OVERLAPPED ov, ov2;
    char buf[128], buf2[16];
    DWORD n, t0;
    BOOL r;

    /* Blocking calls on an overlapped server handle. */
    g_name = pipe_name("fileobj-block");
    server = CreateNamedPipeA(g_name, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED, PIPE_TYPE_BYTE, 1, 1024,
                              1024, 0, NULL);
    CHECK(server != INVALID_HANDLE_VALUE, "overlapped server created");
    t = CreateThread(NULL, 0, open_later, NULL, 0, NULL);
    r = ConnectNamedPipe(server, NULL);
    CHECK(r || GetLastError() == ERROR_PIPE_CONNECTED,
          "ConnectNamedPipe(overlapped handle, NULL) waits for the client -> TRUE (got %d, %lu)", (int)r,
          (unsigned long)GetLastError());
    join(t);
    CHECK(g_peer != INVALID_HANDLE_VALUE, "the client opened");
    t = CreateThread(NULL, 0, write_later, NULL, 0, NULL);
    CHECK(ReadFile(server, buf, sizeof buf, &n, NULL) && n == 1 && buf[0] == 'x',
          "ReadFile(overlapped handle, NULL) waits for data -> TRUE, 1 byte");
    join(t);
    CHECK(WriteFile(server, "hello", 5, &n, NULL) && n == 5, "WriteFile(overlapped handle, NULL) that fits -> TRUE");
    t = CreateThread(NULL, 0, read_later, NULL, 0, NULL);
    t0 = GetTickCount();
    CHECK(FlushFileBuffers(server), "FlushFileBuffers(overlapped handle) -> TRUE once the client read");
    CHECK(GetTickCount() - t0 >= 50, "... and it waited for the reader (%lu ms)", (unsigned long)(GetTickCount() - t0));
    join(t);
    CloseHandle(g_peer);
    CloseHandle(server);

    /* CancelIo through the original cancels a read issued through a duplicate. */
    make_pair(pipe_name("fileobj-dup"), PIPE_TYPE_BYTE, 1024, 1024, FILE_FLAG_OVERLAPPED, &server, &client);
    CHECK(DuplicateHandle(GetCurrentProcess(), client, GetCurrentProcess(), &dup, 0, FALSE, DUPLICATE_SAME_ACCESS),
          "DuplicateHandle(client)");
    garbage_ov(&ov, ev);
    CHECK_FAIL(ReadFile(dup, buf, sizeof buf, NULL, &ov), ERROR_IO_PENDING, "ReadFile(duplicate, overlapped)");
    CHECK(CancelIo(client), "CancelIo(original) -> TRUE");
    CHECK(WaitForSingleObject(ev, 5000) == WAIT_OBJECT_0, "the read through the duplicate completed");
    CHECK_FAIL(GetOverlappedResult(dup, &ov, &n, FALSE), ERROR_OPERATION_ABORTED, "... cancelled");

    /* Closing the handle a read was issued on does not cancel it while a duplicate lives. */
    garbage_ov(&ov, ev);
    CHECK_FAIL(ReadFile(dup, buf, sizeof buf, NULL, &ov), ERROR_IO_PENDING, "another read through the duplicate");
    CHECK(CloseHandle(dup), "CloseHandle(duplicate)");
    CHECK(WaitForSingleObject(ev, 100) == WAIT_TIMEOUT, "the read is still pending (event not signalled)");
    CHECK(ov.Internal == STATUS_PENDING, "... its Internal is still STATUS_PENDING");
    CHECK_FAIL(CancelIo(dup), ERROR_INVALID_HANDLE, "CancelIo(the closed duplicate)");
    CHECK(CancelIo(client), "CancelIo(original) -> TRUE");
    CHECK(WaitForSingleObject(ev, 5000) == WAIT_OBJECT_0, "the read completed");
    CHECK_FAIL(GetOverlappedResult(client, &ov, &n, FALSE), ERROR_OPERATION_ABORTED, "... cancelled");

    /* One CancelIoEx cancels both requests that share an OVERLAPPED. */
    garbage_ov(&ov, ev);
    CHECK_FAIL(ReadFile(client, buf, 4, NULL, &ov), ERROR_IO_PENDING, "first read on the shared OVERLAPPED");
    CHECK_FAIL(ReadFile(client, buf2, 4, NULL, &ov), ERROR_IO_PENDING, "second read on the same OVERLAPPED");
    CHECK(CancelIoEx(client, &ov), "CancelIoEx(client, &ov) -> TRUE");
    Sleep(50);
    CHECK(WriteFile(server, "abcd", 4, &n, NULL) && n == 4, "the server writes 4 bytes");
    Sleep(50);
    CHECK(PeekNamedPipe(client, NULL, 0, NULL, &n, NULL) && n == 4, "nobody took them: both reads were cancelled (avail %lu)",
          (unsigned long)n);
    CloseHandle(client);
    CloseHandle(server);

    /* Overlapped TransactNamedPipe. */
    make_pair(pipe_name("fileobj-tx"), PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE, 1024, 1024, FILE_FLAG_OVERLAPPED,
              &server, &client);
    garbage_ov(&ov, ev);
    SetEvent(ev);
    CHECK_FAIL(TransactNamedPipe(client, "test", 4, buf, sizeof buf, NULL, &ov), ERROR_IO_PENDING,
               "TransactNamedPipe(overlapped) before the reply");
    CHECK(!is_signaled(ev), "its event was reset");
    garbage_ov(&ov2, ev2);
    r = ReadFile(server, buf2, sizeof buf2, NULL, &ov2);
    CHECK(r || GetLastError() == ERROR_IO_PENDING, "the server reads the request");
    CHECK(GetOverlappedResult(server, &ov2, &n, TRUE) && n == 4 && !memcmp(buf2, "test", 4), "... \"test\"");
    CHECK(WriteFile(server, "ok", 2, &n, NULL) && n == 2, "the server replies 2 bytes");
    CHECK(WaitForSingleObject(ev, 5000) == WAIT_OBJECT_0, "the transaction's event is signalled");
    CHECK(GetOverlappedResult(client, &ov, &n, FALSE) && n == 2 && !memcmp(buf, "ok", 2),
          "GetOverlappedResult -> TRUE, the 2-byte reply");
    CloseHandle(client);
    CloseHandle(server);

    /* ReadFileEx on a handle bound to a completion port. */
    make_pair(pipe_name("fileobj-iocp"), PIPE_TYPE_BYTE, 1024, 1024, FILE_FLAG_OVERLAPPED, &server, &client);
    HANDLE port = CreateIoCompletionPort(client, NULL, 7, 0);
    CHECK(port != NULL, "CreateIoCompletionPort(client)");
    memset(&ov, 0, sizeof ov);
    CHECK_FAIL(ReadFileEx(client, buf, 1, &ov, routine), ERROR_INVALID_PARAMETER,
               "ReadFileEx on a handle bound to a completion port");
    SleepEx(0, TRUE);
    CHECK(routine_calls == 0, "no completion routine ran");
    CloseHandle(client);
    CloseHandle(server);
    CloseHandle(port);
    CloseHandle(ev);
    CloseHandle(ev2);
    done("fileobj");
    return 0;
}
