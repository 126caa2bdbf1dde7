/* overlapped.c — what overlapped ReadFile, WriteFile and ConnectNamedPipe return, and what they
 * write to the OVERLAPPED, the byte count and the event (spec/conformance.md: test_ReadFile,
 * test_overlapped, test_overlapped_error, test_readfileex_pending, overlapped_read_sync/async,
 * create_overlapped_pipe). */
#include "../check.h"

int main(void)
{
    const char *name = pipe_name("ov");
    HANDLE ev = make_event(TRUE);
    HANDLE server, client;
    OVERLAPPED ov, ov2;
    DWORD n;
    char buf[64];

    /* --- Connect --- */
    server = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED,
                              PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT, 1, 1024, 1024, 0, NULL);
    CHECK(server != INVALID_HANDLE_VALUE, "CreateNamedPipeA(overlapped, message)");
    CHECK(is_signaled(server), "a new server instance is signalled");
    garbage_ov(&ov, ev);
    CHECK_FAIL(ConnectNamedPipe(server, &ov), ERROR_IO_PENDING, "overlapped ConnectNamedPipe with no client");
    CHECK(!is_signaled(ev), "the event, signalled before, is reset when the connect starts");
    CHECK(!is_signaled(server), "the server handle is not signalled while the connect is pending");
    CHECK(ov.Internal == STATUS_PENDING, "Internal is STATUS_PENDING while pending");
    CHECK(!HasOverlappedIoCompleted(&ov), "HasOverlappedIoCompleted is FALSE while pending");
    n = 0xdeadbeef;
    CHECK_FAIL(GetOverlappedResult(server, &ov, &n, FALSE), ERROR_IO_INCOMPLETE,
               "GetOverlappedResult(bWait=FALSE) on a pending connect");
    WINE_DEVIATION(0, "ERROR_IO_INCOMPLETE leaves *lpNumberOfBytesTransferred as it was")
    CHECK(n == 0, "ERROR_IO_INCOMPLETE sets *lpNumberOfBytesTransferred to 0 (got 0x%lx)", (unsigned long)n);
    client = open_client(name, FILE_FLAG_OVERLAPPED);
    CHECK(client != INVALID_HANDLE_VALUE, "client CreateFileA opens the listening instance");
    CHECK(WaitForSingleObject(ev, 5000) == WAIT_OBJECT_0, "the client's open completes the connect: event signalled");
    CHECK(GetOverlappedResult(server, &ov, &n, TRUE) && n == 0, "GetOverlappedResult -> TRUE, 0 bytes (got %lu)",
          (unsigned long)n);
    CHECK(ov.Internal == 0, "Internal = STATUS_SUCCESS after the connect");
    CHECK(HasOverlappedIoCompleted(&ov), "HasOverlappedIoCompleted is TRUE after completion");
    CHECK(is_signaled(client), "the client handle is signalled");

    /* ConnectNamedPipe when the client is already there: ERROR_PIPE_CONNECTED, OVERLAPPED not written. */
    SetEvent(ev);
    garbage_ov(&ov, ev);
    CHECK_FAIL(ConnectNamedPipe(server, &ov), ERROR_PIPE_CONNECTED, "overlapped ConnectNamedPipe on a connected instance");
    CHECK(ov.Internal == STATUS_PENDING, "ERROR_PIPE_CONNECTED: Internal stays STATUS_PENDING (0x%lx)",
          (unsigned long)ov.Internal);

    /* --- Immediate success --- */
    CHECK(WriteFile(client, "hello", 6, &n, NULL) && n == 6, "client writes a 6-byte message");
    ResetEvent(ev);
    garbage_ov(&ov, ev);
    n = 0xdeadbeef;
    CHECK(ReadFile(server, buf, sizeof buf, &n, &ov), "overlapped ReadFile with data there -> TRUE at once");
    CHECK(n == 6, "immediate success fills *lpNumberOfBytesRead (got %lu)", (unsigned long)n);
    CHECK(ov.Internal == 0 && ov.InternalHigh == 6, "immediate success writes Internal=0, InternalHigh=6 (0x%lx, %lu)",
          (unsigned long)ov.Internal, (unsigned long)ov.InternalHigh);
    CHECK(is_signaled(ev), "immediate success sets the event");
    CHECK(memcmp(buf, "hello", 6) == 0, "the data is the message");

    /* --- Partial message read --- */
    CHECK(WriteFile(client, "Bit Bucket", 11, &n, NULL) && n == 11, "client writes an 11-byte message");
    ResetEvent(ev);
    garbage_ov(&ov, ev);
    n = 0xdeadbeef;
    CHECK_FAIL(ReadFile(server, buf, 4, &n, &ov), ERROR_MORE_DATA, "overlapped ReadFile(4) of an 11-byte message");
    CHECK(n == 0, "partial message read: *lpNumberOfBytesRead is 0, not filled (got %lu)", (unsigned long)n);
    CHECK(ov.Internal == STATUS_BUFFER_OVERFLOW && ov.InternalHigh == 4,
          "partial message read: Internal=STATUS_BUFFER_OVERFLOW, InternalHigh=4 (0x%lx, %lu)",
          (unsigned long)ov.Internal, (unsigned long)ov.InternalHigh);
    CHECK(is_signaled(ev), "partial message read sets the event");
    n = 0;
    CHECK_FAIL(GetOverlappedResult(server, &ov, &n, FALSE), ERROR_MORE_DATA, "GetOverlappedResult of the partial read");
    CHECK(n == 4, "GetOverlappedResult reports the 4 bytes (got %lu)", (unsigned long)n);
    garbage_ov(&ov, ev);
    CHECK(ReadFile(server, buf + 4, sizeof buf - 4, &n, &ov) && n == 7, "the next read gets the remaining 7 bytes");
    CHECK(memcmp(buf, "Bit Bucket", 11) == 0, "the two reads together are the message");

    /* --- Pending read --- */
    SetEvent(ev);
    garbage_ov(&ov, ev);
    n = 0xdeadbeef;
    CHECK_FAIL(ReadFile(server, buf, sizeof buf, &n, &ov), ERROR_IO_PENDING, "overlapped ReadFile on an empty pipe");
    CHECK(n == 0, "pending read: *lpNumberOfBytesRead is 0 (got %lu)", (unsigned long)n);
    CHECK(ov.Internal == STATUS_PENDING && ov.InternalHigh == 0xdeadbeef,
          "pending read: Internal=STATUS_PENDING, InternalHigh untouched");
    CHECK(!is_signaled(ev), "pending read: the event is reset when the read starts");
    n = 0xdeadbeef;
    CHECK_FAIL(GetOverlappedResult(server, &ov, &n, FALSE), ERROR_IO_INCOMPLETE, "GetOverlappedResult(FALSE) while pending");
    WINE_DEVIATION(0, "ERROR_IO_INCOMPLETE leaves *lpNumberOfBytesTransferred as it was")
    CHECK(n == 0, "a pending read's ERROR_IO_INCOMPLETE: *lpNumberOfBytesTransferred = 0 (got 0x%lx)", (unsigned long)n);
    CHECK(WriteFile(client, "abc", 4, &n, NULL), "client writes 4 bytes");
    CHECK(WaitForSingleObject(ev, 5000) == WAIT_OBJECT_0, "the read completes: event signalled");
    CHECK(GetOverlappedResult(server, &ov, &n, TRUE) && n == 4, "GetOverlappedResult(TRUE) -> 4 bytes");
    CHECK(ov.Internal == 0 && ov.InternalHigh == 4, "completed read: Internal=0, InternalHigh=4");

    /* --- Zero-length read waits for data and consumes none --- */
    garbage_ov(&ov, ev);
    n = 0xdeadbeef;
    CHECK_FAIL(ReadFile(server, buf, 0, &n, &ov), ERROR_IO_PENDING, "overlapped ReadFile of 0 bytes on an empty pipe");
    CHECK(n == 0 && ov.Internal == STATUS_PENDING && ov.InternalHigh == 0xdeadbeef,
          "0-byte pending read: count 0, Internal=STATUS_PENDING, InternalHigh untouched");
    CHECK(WaitForSingleObject(ev, 100) == WAIT_TIMEOUT, "0-byte read still pending after 100 ms");
    CHECK(WriteFile(client, "x", 1, &n, NULL), "client writes 1 byte");
    CHECK(WaitForSingleObject(ev, 5000) == WAIT_OBJECT_0, "the 0-byte read completes when data arrives");
    CHECK(ov.Internal == STATUS_BUFFER_OVERFLOW && ov.InternalHigh == 0,
          "0-byte read in message read mode: Internal=STATUS_BUFFER_OVERFLOW, InternalHigh=0 (0x%lx, %lu)",
          (unsigned long)ov.Internal, (unsigned long)ov.InternalHigh);
    garbage_ov(&ov2, ev);
    CHECK(ReadFile(server, buf, 1, &n, &ov2) && n == 1 && buf[0] == 'x', "the byte is still there for the next read");

    /* --- Immediate failure: the OVERLAPPED is not written --- */
    CHECK(DisconnectNamedPipe(server), "DisconnectNamedPipe");
    SetEvent(ev);
    garbage_ov(&ov, ev);
    n = 0xdeadbeef;
    CHECK_FAIL(ReadFile(server, buf, 1, &n, &ov), ERROR_PIPE_NOT_CONNECTED, "overlapped ReadFile on a disconnected server");
    CHECK(n == 0, "immediate failure: count 0");
    CHECK(ov.Internal == STATUS_PENDING && ov.InternalHigh == 0xdeadbeef,
          "immediate failure: Internal left STATUS_PENDING, InternalHigh untouched (0x%lx, 0x%lx)",
          (unsigned long)ov.Internal, (unsigned long)ov.InternalHigh);
    garbage_ov(&ov, ev);
    CHECK_FAIL(WriteFile(server, "x", 1, &n, &ov), ERROR_PIPE_NOT_CONNECTED, "overlapped WriteFile on a disconnected server");
    CHECK(ov.Internal == STATUS_PENDING && ov.InternalHigh == 0xdeadbeef,
          "immediate write failure: Internal left STATUS_PENDING, InternalHigh untouched");

    /* --- Invalid handle --- */
    n = 0xdeadbeef;
    CHECK_FAIL(ReadFile(INVALID_HANDLE_VALUE, buf, 0, &n, NULL), ERROR_INVALID_HANDLE, "ReadFile(INVALID_HANDLE_VALUE)");
    CHECK(n == 0, "ReadFile(INVALID_HANDLE_VALUE) sets the count to 0");

    CloseHandle(client);
    CloseHandle(server);
    CloseHandle(ev);
    done("overlapped");
    return 0;
}
