/* notify.c — SetFileCompletionNotificationModes on pipe handles (spec/conformance.md
 * test_completion; Microsoft's documentation of the function):
 *  - FILE_SKIP_COMPLETION_PORT_ON_SUCCESS: an overlapped call that succeeds at once queues no
 *    packet to the handle's completion port (its event is still set); a partial message read
 *    is reported pending instead, with its packet (Windows 8 and later); calls that pend still
 *    queue theirs; DuplicateHandle copies share the file and its modes;
 *  - FILE_SKIP_SET_EVENT_ON_HANDLE: setting it leaves the handle unsignalled, and no
 *    completion signals the handle any more (the OVERLAPPED's event and the packet still come);
 *  - the modes add up; a handle that is not a file fails with ERROR_INVALID_HANDLE. */
#include "../check.h"

#define KEY 0xdeadbeef

int main(void)
{
    const char *name = pipe_name("notify");
    const char *name2 = pipe_name("notify2");
    HANDLE server, client, dup, port, ev = make_event(FALSE), other;
    OVERLAPPED ov, *pov;
    ULONG_PTR key;
    DWORD n;
    char buf[32];
    BOOL ok;

    make_pair(name, PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE, 4096, 4096, FILE_FLAG_OVERLAPPED, &server, &client);
    port = CreateIoCompletionPort(client, NULL, KEY, 0);
    CHECK(port != NULL, "CreateIoCompletionPort(client, key 0xdeadbeef)");

    /* Without the mode, an immediate success queues a packet. */
    memset(&ov, 0, sizeof ov);
    CHECK(WriteFile(client, "testdata", 9, &n, &ov) && n == 9, "overlapped WriteFile completes at once -> TRUE, 9");
    ok = GetQueuedCompletionStatus(port, &n, &key, &pov, 0);
    CHECK(ok && pov == &ov && n == 9 && key == KEY, "and queues its packet");
    CHECK(is_signaled(client), "a request without an event signals the client handle as it completes");

    CHECK_FAIL(SetFileCompletionNotificationModes(INVALID_HANDLE_VALUE, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS),
               ERROR_INVALID_HANDLE, "SetFileCompletionNotificationModes(INVALID_HANDLE_VALUE)");
    other = make_event(FALSE);
    CHECK_FAIL(SetFileCompletionNotificationModes(other, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS), ERROR_INVALID_HANDLE,
               "SetFileCompletionNotificationModes(an event handle)");
    CloseHandle(other);

    /* --- FILE_SKIP_COMPLETION_PORT_ON_SUCCESS --- */
    CHECK(SetFileCompletionNotificationModes(client, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS),
          "SetFileCompletionNotificationModes(client, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS)");
    CHECK(is_signaled(client), "the client handle is still signalled");
    memset(&ov, 0, sizeof ov);
    ov.hEvent = ev;
    CHECK(WriteFile(client, "testdata", 9, &n, &ov) && n == 9, "overlapped WriteFile completes at once -> TRUE, 9");
    CHECK(is_signaled(ev) && ov.Internal == 0 && ov.InternalHigh == 9,
          "its event is set and the OVERLAPPED written (0x%lx, %lu)", (unsigned long)ov.Internal,
          (unsigned long)ov.InternalHigh);
    CHECK(!is_signaled(client), "a request with an event leaves the handle itself unsignalled");
    CHECK_FAIL(GetQueuedCompletionStatus(port, &n, &key, &pov, 0), WAIT_TIMEOUT, "but no packet is queued");
    CHECK(DuplicateHandle(GetCurrentProcess(), client, GetCurrentProcess(), &dup, 0, FALSE, DUPLICATE_SAME_ACCESS),
          "DuplicateHandle(client)");
    memset(&ov, 0, sizeof ov);
    CHECK(WriteFile(dup, "testdata", 9, &n, &ov) && n == 9, "a write through the duplicate completes at once");
    CHECK_FAIL(GetQueuedCompletionStatus(port, &n, &key, &pov, 0), WAIT_TIMEOUT,
               "and queues no packet either: the duplicate shares the file and its modes");
    CloseHandle(dup);
    CHECK(ReadFile(server, buf, sizeof buf, &n, NULL) && n == 9, "the server reads message 1");
    CHECK(ReadFile(server, buf, sizeof buf, &n, NULL) && n == 9, "the server reads message 2");
    CHECK(ReadFile(server, buf, sizeof buf, &n, NULL) && n == 9, "the server reads message 3");

    /* A partial message read is a warning, not a plain success: reported pending, with a packet. */
    CHECK(WriteFile(server, "testdata", 9, &n, NULL) && n == 9, "the server writes a 9-byte message");
    memset(&ov, 0, sizeof ov);
    ov.hEvent = ev;
    n = 0xdeadbeef;
    ok = ReadFile(client, buf, 1, &n, &ov);
    if (under_wine()) {
        /* Wine does what Windows did before Windows 8 (conformance.md test_completion). */
        CHECK(!ok && GetLastError() == ERROR_MORE_DATA,
              "Wine, as Windows before 8: overlapped ReadFile(1) of the message -> FALSE, ERROR_MORE_DATA");
        CHECK_FAIL(GetQueuedCompletionStatus(port, &n, &key, &pov, 0), WAIT_TIMEOUT, "and no packet");
    }
    WINE_DEVIATION(0, "a partial message read under FILE_SKIP_COMPLETION_PORT_ON_SUCCESS: pending, with a packet")
    {
        CHECK(!ok && GetLastError() == ERROR_IO_PENDING,
              "overlapped ReadFile(1) of the message -> FALSE, ERROR_IO_PENDING (got %d, %lu)", (int)ok,
              (unsigned long)GetLastError());
        CHECK(n == 0, "the byte count is not filled (got %lu)", (unsigned long)n);
        ok = GetQueuedCompletionStatus(port, &n, &key, &pov, 1000);
        CHECK(!ok && GetLastError() == ERROR_MORE_DATA && pov == &ov && n == 1,
              "its packet: FALSE, ERROR_MORE_DATA, &ov, 1 byte (got %d, %lu, %p, %lu)", (int)ok,
              (unsigned long)GetLastError(), (void *)pov, (unsigned long)n);
    }
    CHECK(ov.Internal == STATUS_BUFFER_OVERFLOW && ov.InternalHigh == 1,
          "Internal = STATUS_BUFFER_OVERFLOW, InternalHigh = 1 (0x%lx, %lu)", (unsigned long)ov.Internal,
          (unsigned long)ov.InternalHigh);
    CHECK(is_signaled(ev), "its event is set");
    CHECK_FAIL(GetOverlappedResult(client, &ov, &n, FALSE), ERROR_MORE_DATA, "GetOverlappedResult -> ERROR_MORE_DATA");
    memset(&ov, 0, sizeof ov);
    CHECK(ReadFile(client, buf, sizeof buf, &n, &ov) && n == 8, "the rest, 8 bytes, is read at once -> TRUE");
    CHECK_FAIL(GetQueuedCompletionStatus(port, &n, &key, &pov, 0), WAIT_TIMEOUT, "with no packet");

    /* What pends still queues its packet. */
    memset(&ov, 0, sizeof ov);
    ov.hEvent = ev;
    CHECK_FAIL(ReadFile(client, buf, sizeof buf, &n, &ov), ERROR_IO_PENDING, "overlapped ReadFile on an empty pipe");
    CHECK(!is_signaled(ev), "its event is reset");
    CHECK_FAIL(GetQueuedCompletionStatus(port, &n, &key, &pov, 0), WAIT_TIMEOUT, "no packet while it pends");
    CHECK(WriteFile(server, "testdata", 9, &n, NULL), "the server writes 9 bytes");
    ok = GetQueuedCompletionStatus(port, &n, &key, &pov, 5000);
    CHECK(ok && pov == &ov && n == 9 && key == KEY, "the pending read's packet arrives: TRUE, &ov, 9 bytes");
    CHECK(is_signaled(ev), "and its event is set");
    CloseHandle(client);
    CloseHandle(server);
    CloseHandle(port);

    /* --- FILE_SKIP_SET_EVENT_ON_HANDLE --- */
    make_pair(name2, PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE, 4096, 4096, FILE_FLAG_OVERLAPPED, &server, &client);
    CHECK(is_signaled(client), "a new client handle is signalled");
    memset(&ov, 0, sizeof ov);
    CHECK_FAIL(ReadFile(client, buf, sizeof buf, &n, &ov), ERROR_IO_PENDING, "a read without an event pends");
    CHECK(!is_signaled(client), "the client handle is unsignalled meanwhile");
    CHECK(WriteFile(server, "testdata", 9, &n, NULL), "the server writes");
    CHECK(WaitForSingleObject(client, 5000) == WAIT_OBJECT_0 && ov.Internal == 0 && ov.InternalHigh == 9,
          "the completion signals the client handle (the read got 9 bytes)");
    port = CreateIoCompletionPort(client, NULL, KEY, 0);
    CHECK(port != NULL, "CreateIoCompletionPort(client)");
    CHECK(SetFileCompletionNotificationModes(client, FILE_SKIP_SET_EVENT_ON_HANDLE),
          "SetFileCompletionNotificationModes(client, FILE_SKIP_SET_EVENT_ON_HANDLE)");
    CHECK(!is_signaled(client), "setting it leaves the client handle unsignalled");
    memset(&ov, 0, sizeof ov);
    CHECK_FAIL(ReadFile(client, buf, sizeof buf, &n, &ov), ERROR_IO_PENDING, "a read without an event pends");
    CHECK(WriteFile(server, "testdata", 9, &n, NULL), "the server writes");
    ok = GetQueuedCompletionStatus(port, &n, &key, &pov, 5000);
    CHECK(ok && pov == &ov && n == 9, "the read completes: its packet arrives (&ov, 9 bytes)");
    CHECK(!is_signaled(client), "but the client handle is not signalled");
    CHECK(WriteFile(client, "x", 1, &n, NULL) && n == 1, "a synchronous WriteFile on the client");
    CHECK(!is_signaled(client), "does not signal it either");
    memset(&ov, 0, sizeof ov);
    ov.hEvent = ev;
    CHECK_FAIL(ReadFile(client, buf, sizeof buf, &n, &ov), ERROR_IO_PENDING, "a read with an event pends");
    CHECK(WriteFile(server, "testdata", 9, &n, NULL), "the server writes");
    CHECK(WaitForSingleObject(ev, 5000) == WAIT_OBJECT_0, "the OVERLAPPED's event is still set on completion");
    CHECK(GetQueuedCompletionStatus(port, &n, &key, &pov, 5000) && pov == &ov, "its packet comes");
    CHECK(!is_signaled(client), "the handle stays unsignalled");
    CHECK(SetFileCompletionNotificationModes(client, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS),
          "SetFileCompletionNotificationModes(client, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS) as well");
    CHECK(!is_signaled(client), "the modes add up: the handle is still never signalled");
    memset(&ov, 0, sizeof ov);
    CHECK(WriteFile(client, "testdata", 9, &n, &ov) && n == 9, "an overlapped write completes at once");
    CHECK_FAIL(GetQueuedCompletionStatus(port, &n, &key, &pov, 0), WAIT_TIMEOUT, "and queues no packet now");
    CHECK(!is_signaled(client), "nor signals the handle");
    CloseHandle(client);
    CloseHandle(server);
    CloseHandle(port);
    CloseHandle(ev);
    done("notify");
    return 0;
}
