/* cancel.c — CancelIo, CancelIoEx and CancelSynchronousIo on pipes (spec/conformance.md:
 * test_overlapped, test_blocking_rw cancel_overlapped, test_wait_pipe, test_CancelSynchronousIo). */
#include "../check.h"

static HANDLE sync_server;
static DWORD connect_result, connect_error;

static DWORD WINAPI sync_connect_thread(LPVOID arg)
{
    (void)arg;
    connect_result = ConnectNamedPipe(sync_server, NULL);
    connect_error = GetLastError();
    return 0;
}

static HANDLE ov_server;
static OVERLAPPED thread_ov;
static DWORD ov_connect_error;

static DWORD WINAPI ov_connect_thread(LPVOID arg)
{
    ConnectNamedPipe(ov_server, &thread_ov);
    ov_connect_error = GetLastError();
    SetEvent((HANDLE)arg);
    Sleep(INFINITE);
    return 0;
}

int main(void)
{
    const char *name = pipe_name("cancel");
    HANDLE ev = make_event(FALSE), ev2 = make_event(FALSE), ev3 = make_event(FALSE);
    HANDLE server, client, thread;
    OVERLAPPED ov, ov2;
    DWORD n, i;
    char buf[8000];
    BOOL ok;

    /* --- CancelIo on a pending connect --- */
    server = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED, PIPE_TYPE_MESSAGE, 1, 0, 0, 100000, NULL);
    CHECK(server != INVALID_HANDLE_VALUE, "CreateNamedPipeA (buffer sizes of 0 are valid)");
    garbage_ov(&ov, ev);
    CHECK_FAIL(ConnectNamedPipe(server, &ov), ERROR_IO_PENDING, "overlapped ConnectNamedPipe");
    CHECK(CancelIo(server), "CancelIo(server) -> TRUE");
    CHECK(WaitForSingleObject(ev, 5000) == WAIT_OBJECT_0, "the cancelled connect signals its event");
    CHECK_FAIL(GetOverlappedResult(server, &ov, &n, FALSE), ERROR_OPERATION_ABORTED,
               "GetOverlappedResult of the cancelled connect");
    CloseHandle(server);

    /* --- Closing the server handle completes a pending connect --- */
    server = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED, PIPE_TYPE_BYTE, 1, 0, 0, 0, NULL);
    garbage_ov(&ov, ev);
    CHECK_FAIL(ConnectNamedPipe(server, &ov), ERROR_IO_PENDING, "overlapped ConnectNamedPipe");
    CloseHandle(server);
    CHECK(WaitForSingleObject(ev, 5000) == WAIT_OBJECT_0, "closing the server handle signals the pending connect's event");

    /* --- CancelIoEx on one of two pending reads; a second cancel finds nothing --- */
    make_pair(name, PIPE_TYPE_BYTE | PIPE_READMODE_BYTE, 5000, 6000, FILE_FLAG_OVERLAPPED, &server, &client);
    garbage_ov(&ov, ev);
    garbage_ov(&ov2, ev2);
    CHECK_FAIL(ReadFile(server, buf, 1, &n, &ov), ERROR_IO_PENDING, "first overlapped ReadFile(1)");
    CHECK_FAIL(ReadFile(server, buf + 1, 1, &n, &ov2), ERROR_IO_PENDING, "second overlapped ReadFile(1)");
    CHECK(CancelIoEx(server, &ov2), "CancelIoEx(server, second) -> TRUE");
    CHECK(WaitForSingleObject(ev2, 5000) == WAIT_OBJECT_0, "the cancelled read signals its event");
    n = 0xdeadbeef;
    CHECK_FAIL(GetOverlappedResult(server, &ov2, &n, FALSE), ERROR_OPERATION_ABORTED, "the cancelled read's result");
    CHECK(n == 0, "the cancelled read transferred 0 bytes (got %lu)", (unsigned long)n);
    CHECK_FAIL(GetOverlappedResult(server, &ov, &n, FALSE), ERROR_IO_INCOMPLETE, "the first read is still pending");
    CHECK_FAIL(CancelIoEx(server, &ov2), ERROR_NOT_FOUND, "CancelIoEx on the same, already cancelled OVERLAPPED");
    CHECK(WriteFile(client, "z", 1, &n, NULL), "client writes 1 byte");
    CHECK(GetOverlappedResult(server, &ov, &n, TRUE) && n == 1 && buf[0] == 'z', "the first read completes with it");

    /* --- Cancelling a pending write removes its data --- */
    memset(buf, 'w', sizeof buf);
    garbage_ov(&ov, ev);
    garbage_ov(&ov2, ev2);
    CHECK_FAIL(WriteFile(server, buf, 7000, &n, &ov), ERROR_IO_PENDING, "a 7000-byte write over a 5000-byte quota pends");
    CHECK_FAIL(WriteFile(server, "1", 1, &n, &ov2), ERROR_IO_PENDING, "a 1-byte write behind it pends");
    CHECK(CancelIoEx(server, &ov), "CancelIoEx(the 7000-byte write) -> TRUE");
    CHECK_FAIL(GetOverlappedResult(server, &ov, &n, TRUE), ERROR_OPERATION_ABORTED, "the cancelled write's result");
    {
        DWORD rd = 0, avail = 0;
        CHECK(PeekNamedPipe(client, NULL, 0, &rd, &avail, NULL) && avail == 1,
              "the cancelled write's data is gone: 1 byte available (got %lu)", (unsigned long)avail);
    }
    CHECK(ReadFile(client, buf, 10, &n, NULL) && n == 1 && buf[0] == '1', "the reader gets the 1-byte write");
    CHECK(GetOverlappedResult(server, &ov2, &n, TRUE) && n == 1, "the 1-byte write completes");
    CloseHandle(client);
    CloseHandle(server);

    /* --- CancelSynchronousIo --- */
    CHECK_FAIL(CancelSynchronousIo((HANDLE)(ULONG_PTR)0xdeadbeef), ERROR_INVALID_HANDLE, "CancelSynchronousIo(bogus handle)");
    CHECK_FAIL(CancelSynchronousIo(GetCurrentThread()), ERROR_NOT_FOUND, "CancelSynchronousIo(current thread, nothing pending)");

    sync_server = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE | PIPE_WAIT, 1, 1024, 1024, 0, NULL);
    CHECK(sync_server != INVALID_HANDLE_VALUE, "CreateNamedPipeA (synchronous server)");
    thread = CreateThread(NULL, 0, sync_connect_thread, NULL, 0, NULL);
    CHECK(thread != NULL, "CreateThread");
    for (i = 0; i < 500 && is_signaled(sync_server); i++)
        Sleep(10);
    CHECK(!is_signaled(sync_server), "the server handle is not signalled while the synchronous connect waits");
    SetLastError(0xcafe);
    ok = CancelSynchronousIo(thread);
    CHECK(ok, "CancelSynchronousIo(thread blocked in ConnectNamedPipe) -> TRUE");
    CHECK(GetLastError() == 0xcafe, "success leaves the last error untouched (got %lu)", (unsigned long)GetLastError());
    CHECK(WaitForSingleObject(thread, 5000) == WAIT_OBJECT_0, "the thread returns");
    CHECK(!connect_result && connect_error == ERROR_OPERATION_ABORTED,
          "the synchronous ConnectNamedPipe fails with ERROR_OPERATION_ABORTED (got %lu, %lu)",
          (unsigned long)connect_result, (unsigned long)connect_error);
    CloseHandle(thread);
    CloseHandle(sync_server);

    ov_server = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED, PIPE_TYPE_BYTE, 1, 1024, 1024, 0, NULL);
    garbage_ov(&thread_ov, ev);
    ResetEvent(ev3);
    thread = CreateThread(NULL, 0, ov_connect_thread, ev3, 0, NULL);
    CHECK(WaitForSingleObject(ev3, 5000) == WAIT_OBJECT_0 && ov_connect_error == ERROR_IO_PENDING,
          "a thread's overlapped ConnectNamedPipe is pending");
    CHECK_FAIL(CancelSynchronousIo(thread), ERROR_NOT_FOUND, "CancelSynchronousIo does not cancel overlapped I/O");
    client = open_client(name, 0);
    CHECK(client != INVALID_HANDLE_VALUE, "a client opens");
    CHECK(WaitForSingleObject(ev, 5000) == WAIT_OBJECT_0, "the overlapped connect completes");
    CHECK(GetOverlappedResult(ov_server, &thread_ov, &n, FALSE), "and succeeds");
    CloseHandle(client);
    CloseHandle(ov_server);
    CloseHandle(ev);
    CloseHandle(ev2);
    CloseHandle(ev3);
    done("cancel");
    exit(0); /* ends the helper thread too */
}
