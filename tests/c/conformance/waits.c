/* waits.c — events, waits and the small helpers (spec/api.md §2.21 and §3; spec/conformance.md
 * read_pipe_test / test_completion signalling rules): manual and auto-reset events, wait-any
 * and wait-all, WAIT_TIMEOUT, WAIT_FAILED, pipe handles as waitable objects, threads, memory
 * and string helpers. */
#include "../check.h"

static HANDLE g_writer, g_reader;
static int g_reader_signalled = -1, g_writer_signalled = -1;
static DWORD WINAPI write_later(LPVOID arg)
{
    DWORD n;
    (void)arg;
    Sleep(100);
    /* The reader is blocked in ReadFile now. */
    g_reader_signalled = is_signaled(g_reader);
    g_writer_signalled = is_signaled(g_writer);
    WriteFile(g_writer, "w", 1, &n, NULL);
    return 0;
}

static int apc_calls;
static VOID WINAPI apc_routine(DWORD err, DWORD n, LPOVERLAPPED ov)
{
    (void)err;
    (void)n;
    (void)ov;
    apc_calls++;
}

static DWORD WINAPI exiting_thread(LPVOID arg)
{
    *(DWORD *)arg = GetCurrentThreadId();
    ExitThread(5);
}

int main(void)
{
    const char *name = pipe_name("waits");
    HANDLE manual, autoev, hs[2], server, client, thread;
    OVERLAPPED ov;
    DWORD r, n, tid = 0, code, t0;
    char buf[16], *p;
    WCHAR wide[] = {'p', 'i', 'p', 'e', 0};
    int i, zero;

    manual = CreateEventA(NULL, TRUE, FALSE, NULL);
    autoev = CreateEventW(NULL, FALSE, FALSE, NULL);
    CHECK(manual && autoev, "CreateEventA (manual) and CreateEventW (auto-reset)");
    CHECK(WaitForSingleObject(manual, 0) == WAIT_TIMEOUT, "a non-signalled event: WAIT_TIMEOUT");
    CHECK(SetEvent(manual) && WaitForSingleObject(manual, 0) == WAIT_OBJECT_0 && WaitForSingleObject(manual, 0) == WAIT_OBJECT_0,
          "a set manual-reset event stays signalled across waits");
    CHECK(ResetEvent(manual) && WaitForSingleObject(manual, 0) == WAIT_TIMEOUT, "ResetEvent clears it");
    CHECK(SetEvent(autoev) && WaitForSingleObject(autoev, 0) == WAIT_OBJECT_0 && WaitForSingleObject(autoev, 0) == WAIT_TIMEOUT,
          "an auto-reset event satisfies one wait and resets");
    hs[0] = manual;
    hs[1] = autoev;
    SetEvent(autoev);
    r = WaitForMultipleObjects(2, hs, FALSE, 0);
    CHECK(r == WAIT_OBJECT_0 + 1, "wait-any returns the signalled one's index (got %lu)", (unsigned long)r);
    SetEvent(autoev);
    CHECK(WaitForMultipleObjects(2, hs, TRUE, 0) == WAIT_TIMEOUT, "wait-all with one signalled: WAIT_TIMEOUT");
    CHECK(WaitForSingleObject(autoev, 0) == WAIT_OBJECT_0, "the failed wait-all did not consume the auto-reset event");
    SetEvent(manual);
    SetEvent(autoev);
    CHECK(WaitForMultipleObjectsEx(2, hs, TRUE, 0, FALSE) == WAIT_OBJECT_0, "wait-all with both signalled: WAIT_OBJECT_0");
    CHECK(WaitForSingleObject(autoev, 0) == WAIT_TIMEOUT, "the wait-all consumed the auto-reset event");
    r = WaitForMultipleObjects(2, hs, FALSE, 0);
    CHECK(r == WAIT_OBJECT_0, "wait-any prefers the lowest index");
    t0 = GetTickCount();
    CHECK(WaitForSingleObject(autoev, 100) == WAIT_TIMEOUT && GetTickCount() - t0 >= 80, "a 100 ms wait times out after ~100 ms");
    r = WaitForSingleObject((HANDLE)(ULONG_PTR)0xdeadbee0, 0);
    CHECK(r == WAIT_FAILED && GetLastError() == ERROR_INVALID_HANDLE, "waiting on a bogus handle: WAIT_FAILED, ERROR_INVALID_HANDLE");
    CHECK(SleepEx(10, FALSE) == 0, "SleepEx(10, FALSE) returns 0");
    CHECK(SleepEx(0, TRUE) == 0, "SleepEx(0, TRUE) with nothing queued returns 0");

    /* Pipe handles are waitable: signalled when idle, not while an operation without an event is pending. */
    make_pair(name, PIPE_TYPE_BYTE | PIPE_READMODE_BYTE, 1024, 1024, FILE_FLAG_OVERLAPPED, &server, &client);
    CHECK(is_signaled(client), "an idle overlapped client handle is signalled");
    memset(&ov, 0, sizeof ov); /* no event: completion signals the handle */
    CHECK_FAIL(ReadFile(client, buf, 1, &n, &ov), ERROR_IO_PENDING, "overlapped ReadFile without an event");
    CHECK(!is_signaled(client), "the client handle is not signalled while it is pending");
    CHECK(WriteFile(server, "s", 1, &n, NULL), "the server writes 1 byte");
    CHECK(WaitForSingleObject(client, 5000) == WAIT_OBJECT_0, "the completion signals the client handle");
    CHECK(GetOverlappedResult(client, &ov, &n, FALSE) && n == 1, "GetOverlappedResult -> 1 byte");
    memset(&ov, 0, sizeof ov);
    ov.hEvent = manual;
    ResetEvent(manual);
    CHECK_FAIL(ReadFile(client, buf, 1, &n, &ov), ERROR_IO_PENDING, "overlapped ReadFile with an event");
    CHECK(WriteFile(server, "t", 1, &n, NULL), "the server writes 1 byte");
    CHECK(WaitForSingleObject(manual, 5000) == WAIT_OBJECT_0, "the completion signals the event");
    CHECK(!is_signaled(client), "and not the client handle (an event was given)");
    /* ReadFileEx (a routine, no event): the completion signals the handle (conformance §4
       test_completion "APC, no event: handle signaled on completion"). */
    memset(&ov, 0, sizeof ov);
    CHECK(ReadFileEx(client, buf, 1, &ov, apc_routine), "ReadFileEx on an empty pipe -> TRUE");
    CHECK(!is_signaled(client), "the client handle is not signalled while the ReadFileEx pends");
    CHECK(WriteFile(server, "u", 1, &n, NULL), "the server writes 1 byte");
    CHECK(WaitForSingleObject(client, 5000) == WAIT_OBJECT_0, "the completion signals the client handle");
    CHECK(SleepEx(0, TRUE) == WAIT_IO_COMPLETION && apc_calls == 1, "the routine runs in the alertable wait");
    CloseHandle(client);
    CloseHandle(server);

    /* Fresh inbound and outbound servers are signalled (conformance §3 test_CreateNamedPipe). */
    server = CreateNamedPipeA(name, PIPE_ACCESS_INBOUND, PIPE_TYPE_BYTE, 1, 1024, 1024, 0, NULL);
    CHECK(server != INVALID_HANDLE_VALUE && is_signaled(server), "a new PIPE_ACCESS_INBOUND server is signalled");
    CloseHandle(server);
    server = CreateNamedPipeA(name, PIPE_ACCESS_OUTBOUND, PIPE_TYPE_BYTE, 1, 1024, 1024, 0, NULL);
    CHECK(server != INVALID_HANDLE_VALUE && is_signaled(server), "a new PIPE_ACCESS_OUTBOUND server is signalled");
    CloseHandle(server);

    /* A synchronous ReadFile that waits leaves its handle unsignalled and signals it when it
       returns (conformance §4 test_blocking). */
    make_pair(name, PIPE_TYPE_BYTE | PIPE_READMODE_BYTE, 1024, 1024, 0, &server, &client);
    g_writer = server;
    g_reader = client;
    thread = CreateThread(NULL, 0, write_later, NULL, 0, NULL);
    CHECK(thread != NULL, "a thread that writes 1 byte after 100 ms");
    CHECK(ReadFile(client, buf, sizeof buf, &n, NULL) && n == 1, "the synchronous ReadFile returns its byte");
    CHECK(g_reader_signalled == 0, "while it waited the client handle was not signalled");
    CHECK(g_writer_signalled == 0,
          "(the server handle was not either: its overlapped connect had an event, so its "
          "completion left the handle unsignalled)");
    CHECK(is_signaled(client), "the client handle is signalled afterwards");
    CHECK(WaitForSingleObject(thread, 5000) == WAIT_OBJECT_0, "the writer thread ended");
    CloseHandle(thread);
    CloseHandle(client);
    CloseHandle(server);

    /* Threads */
    thread = CreateThread(NULL, 0, exiting_thread, &tid, 0, NULL);
    CHECK(thread != NULL, "CreateThread");
    CHECK(GetExitCodeThread(thread, &code), "GetExitCodeThread while running or done");
    CHECK(WaitForSingleObject(thread, 5000) == WAIT_OBJECT_0, "a thread handle is signalled when the thread ends");
    CHECK(GetExitCodeThread(thread, &code) && code == 5, "ExitThread(5): exit code 5 (got %lu)", (unsigned long)code);
    CHECK(tid != 0 && tid != GetCurrentThreadId(), "GetCurrentThreadId differs between threads");
    CloseHandle(thread);
    thread = CreateThread(NULL, 0, exiting_thread, &tid, CREATE_SUSPENDED, NULL);
    CHECK(thread != NULL && GetExitCodeThread(thread, &code) && code == STILL_ACTIVE, "a suspended thread's exit code is STILL_ACTIVE");
    CloseHandle(thread);

    /* Memory and strings */
    p = (char *)HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, 100);
    for (zero = 1, i = 0; p && i < 100; i++)
        zero &= p[i] == 0;
    CHECK(p && zero, "HeapAlloc(HEAP_ZERO_MEMORY) returns zeroed memory");
    CHECK(HeapFree(GetProcessHeap(), 0, p), "HeapFree");
    p = (char *)GlobalAlloc(GPTR, 100);
    for (zero = 1, i = 0; p && i < 100; i++)
        zero &= p[i] == 0;
    CHECK(p && zero, "GlobalAlloc(GPTR) returns zeroed fixed memory");
    CHECK(GlobalFree(p) == NULL, "GlobalFree returns NULL on success");
    CHECK(lstrlenA("named pipe") == 10 && lstrlenA(NULL) == 0, "lstrlenA (and NULL -> 0)");
    CHECK(lstrlenW(wide) == 4, "lstrlenW counts UTF-16 units");
    CHECK(GetCurrentProcessId() != 0, "GetCurrentProcessId");

    CloseHandle(manual);
    CloseHandle(autoev);
    done("waits");
    return 0;
}
