/*
 * pendfail.c — pending operations that end in an error other than cancellation
 * (conformance.md §3 helper semantics "overlapped_write_async", "test_overlapped_failure",
 * test_overlapped_transport; §4 test_blocking "pending NtReadFile when the writer end is
 * closed"): the event is signalled, GetOverlappedResult fails with the error and a count of 0,
 * the OVERLAPPED holds the NTSTATUS, a completion port gets a failed packet, and a completion
 * routine gets the Win32 error code.
 */
#include "../check.h"

#define STATUS_PIPE_BROKEN_VALUE 0xC000014Bu
#define STATUS_PIPE_DISCONNECTED_VALUE 0xC00000B0u

static DWORD routine_err = 12345, routine_n = 12345;
static int routine_calls;
static VOID WINAPI routine(DWORD err, DWORD n, LPOVERLAPPED ov)
{
    (void)ov;
    routine_err = err;
    routine_n = n;
    routine_calls++;
}

int main(void)
{
    HANDLE server, client, ev = make_event(FALSE), ev2 = make_event(FALSE);
    OVERLAPPED ov, ov2;
    char buf[64];
    static char big[3000];
    DWORD n = 777;

    /* A pending read whose writer closes. */
    make_pair(pipe_name("pendfail-r"), PIPE_TYPE_BYTE, 1024, 1024, 0, &server, &client);
    garbage_ov(&ov, ev);
    SetEvent(ev);
    n = 777;
    CHECK_FAIL(ReadFile(server, buf, sizeof buf, &n, &ov), ERROR_IO_PENDING, "overlapped ReadFile on an empty pipe");
    CHECK(n == 0 && !is_signaled(ev), "pending: *read = 0, event reset");
    CloseHandle(client);
    CHECK(WaitForSingleObject(ev, 5000) == WAIT_OBJECT_0, "the client closes: the event is signalled");
    CHECK(ov.Internal == STATUS_PIPE_BROKEN_VALUE && ov.InternalHigh == 0,
          "Internal = STATUS_PIPE_BROKEN, InternalHigh = 0 (got %#lx, %lu)", (unsigned long)ov.Internal,
          (unsigned long)ov.InternalHigh);
    n = 777;
    CHECK_FAIL(GetOverlappedResult(server, &ov, &n, FALSE), ERROR_BROKEN_PIPE, "GetOverlappedResult");
    CHECK(n == 0, "... with a count of 0 (got %lu)", (unsigned long)n);
    CloseHandle(server);

    /* A pending write whose reader closes. */
    make_pair(pipe_name("pendfail-w"), PIPE_TYPE_BYTE, 1024, 1024, 0, &server, &client);
    garbage_ov(&ov, ev);
    SetEvent(ev);
    n = 777;
    CHECK_FAIL(WriteFile(server, big, sizeof big, &n, &ov), ERROR_IO_PENDING, "a 3000-byte write into a 1024 quota");
    CHECK(n == 0 && !is_signaled(ev), "pending: *written = 0, event reset");
    CloseHandle(client);
    CHECK(WaitForSingleObject(ev, 5000) == WAIT_OBJECT_0, "the client closes: the event is signalled");
    n = 777;
    CHECK_FAIL(GetOverlappedResult(server, &ov, &n, FALSE), ERROR_BROKEN_PIPE, "GetOverlappedResult of the write");
    CHECK(n == 0, "... with a count of 0 (got %lu)", (unsigned long)n);
    CloseHandle(server);

    /* DisconnectNamedPipe under a pending read and a pending write of the client. */
    make_pair(pipe_name("pendfail-d"), PIPE_TYPE_BYTE, 1024, 1024, FILE_FLAG_OVERLAPPED, &server, &client);
    garbage_ov(&ov, ev);
    CHECK_FAIL(ReadFile(client, buf, sizeof buf, NULL, &ov), ERROR_IO_PENDING, "the client's overlapped read pends");
    garbage_ov(&ov2, ev2);
    CHECK_FAIL(WriteFile(client, big, sizeof big, NULL, &ov2), ERROR_IO_PENDING, "the client's 3000-byte write pends");
    Sleep(20);
    CHECK(!is_signaled(ev) && !is_signaled(ev2), "... (both still pending)");
    CHECK(DisconnectNamedPipe(server), "DisconnectNamedPipe");
    CHECK(WaitForSingleObject(ev2, 5000) == WAIT_OBJECT_0, "the write's event is signalled");
    CHECK_FAIL(GetOverlappedResult(client, &ov2, &n, FALSE), ERROR_PIPE_NOT_CONNECTED, "the client's write");
    CHECK(WaitForSingleObject(ev, 5000) == WAIT_OBJECT_0, "the read's event is signalled");
    CHECK_FAIL(GetOverlappedResult(client, &ov, &n, FALSE), ERROR_PIPE_NOT_CONNECTED, "the client's read");
    CHECK(ov.Internal == STATUS_PIPE_DISCONNECTED_VALUE, "Internal = STATUS_PIPE_DISCONNECTED (got %#lx)",
          (unsigned long)ov.Internal);
    CloseHandle(client);
    CloseHandle(server);

    /* Through a completion port: a failed packet. */
    make_pair(pipe_name("pendfail-port"), PIPE_TYPE_BYTE, 1024, 1024, 0, &server, &client);
    HANDLE port = CreateIoCompletionPort(server, NULL, 42, 0);
    CHECK(port != NULL, "CreateIoCompletionPort(server, key 42)");
    memset(&ov, 0, sizeof ov);
    CHECK_FAIL(ReadFile(server, buf, sizeof buf, NULL, &ov), ERROR_IO_PENDING, "overlapped read on the port's handle");
    CloseHandle(client);
    ULONG_PTR key = 0;
    LPOVERLAPPED got = NULL;
    n = 777;
    SetLastError(0);
    BOOL r = GetQueuedCompletionStatus(port, &n, &key, &got, 5000);
    DWORD e = GetLastError();
    CHECK(!r && e == ERROR_BROKEN_PIPE && got == &ov && key == 42 && n == 0,
          "GetQueuedCompletionStatus -> FALSE, ERROR_BROKEN_PIPE, our OVERLAPPED, key 42, 0 bytes (got %d, %lu, %p, %lu, %lu)",
          (int)r, (unsigned long)e, (void *)got, (unsigned long)key, (unsigned long)n);
    CloseHandle(server);
    CloseHandle(port);

    /* Through a completion routine: the Win32 error code. */
    make_pair(pipe_name("pendfail-apc"), PIPE_TYPE_BYTE, 1024, 1024, 0, &server, &client);
    memset(&ov, 0, sizeof ov);
    CHECK(ReadFileEx(server, buf, sizeof buf, &ov, routine), "ReadFileEx on an empty pipe -> TRUE (queued)");
    CloseHandle(client);
    Sleep(50);
    CHECK(routine_calls == 0, "the routine waits for an alertable wait");
    CHECK(SleepEx(1000, TRUE) == WAIT_IO_COMPLETION, "SleepEx(alertable) -> WAIT_IO_COMPLETION");
    CHECK(routine_calls == 1 && routine_err == ERROR_BROKEN_PIPE && routine_n == 0,
          "the routine ran once with ERROR_BROKEN_PIPE and 0 bytes (calls %d, err %lu, n %lu)", routine_calls,
          (unsigned long)routine_err, (unsigned long)routine_n);
    CloseHandle(server);
    CloseHandle(ev);
    CloseHandle(ev2);
    done("pendfail");
    return 0;
}
