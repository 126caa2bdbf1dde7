/*
 * server_routines.c — a single-threaded server driven by completion routines (APCs).
 *
 * One instance of SAMPLE_PIPE listens at a time, through an overlapped ConnectNamedPipe whose
 * event the main thread waits for in an alertable wait (WaitForSingleObjectEx(..., TRUE)).
 * When a client arrives, its instance becomes a session: ReadFileEx receives a request, and
 * the routine that runs when it completes answers with WriteFileEx, whose routine reads the
 * next request, and so on until the client hangs up. The routines run on the main thread,
 * inside the alertable wait (which then returns WAIT_IO_COMPLETION), so no locking is needed.
 * Meanwhile a new instance listens for the next client.
 *
 * A failure that concerns one session ends that session. A failure of the main loop itself
 * (creating or listening on an instance, the wait) is reported and the server exits with 1,
 * rather than retrying the same failing call forever.
 */
#include "sample_pipe.h"

/* One connected client. io must stay the first member: the completion routines receive the
   address of io and take it as the address of the session. */
struct session {
    OVERLAPPED io;
    HANDLE pipe;
    unsigned number;
    DWORD reply_bytes;
    TCHAR request[SAMPLE_TEXT_MAX + 1];
    TCHAR reply[SAMPLE_TEXT_MAX + 1];
};

static unsigned sessions_started;

static VOID CALLBACK request_arrived(DWORD err, DWORD bytes, LPOVERLAPPED io);
static VOID CALLBACK answer_written(DWORD err, DWORD bytes, LPOVERLAPPED io);

static void session_close(struct session *s, DWORD why)
{
    if (why == ERROR_BROKEN_PIPE)
        _tprintf(TEXT("session %u: client gone\n"), s->number);
    else if (why == ERROR_MORE_DATA)
        _tprintf(TEXT("session %u: request over %d characters, closing\n"), s->number, SAMPLE_TEXT_MAX);
    else
        _tprintf(TEXT("session %u: closing after error %u\n"), s->number, (unsigned)why);
    DisconnectNamedPipe(s->pipe);
    CloseHandle(s->pipe);
    HeapFree(GetProcessHeap(), 0, s);
}

/* Queues the read of the next request; its routine runs in a later alertable wait. */
static void session_listen(struct session *s)
{
    if (!ReadFileEx(s->pipe, s->request, SAMPLE_TEXT_BYTES, &s->io, request_arrived))
        session_close(s, GetLastError());
}

static VOID CALLBACK request_arrived(DWORD err, DWORD bytes, LPOVERLAPPED io)
{
    struct session *s = (struct session *)io;

    if (err != 0) {
        session_close(s, err);
        return;
    }
    sample_terminate(s->request, bytes);
    _tprintf(TEXT("session %u: got \"%s\"\n"), s->number, s->request);
    s->reply_bytes = sample_compose_reply(s->reply, TEXT("routines server"), s->number, s->request);
    if (!WriteFileEx(s->pipe, s->reply, s->reply_bytes, &s->io, answer_written))
        session_close(s, GetLastError());
}

static VOID CALLBACK answer_written(DWORD err, DWORD bytes, LPOVERLAPPED io)
{
    struct session *s = (struct session *)io;

    if (err == 0 && bytes != s->reply_bytes)
        err = ERROR_BAD_LENGTH;
    if (err != 0)
        session_close(s, err);
    else
        session_listen(s);
}

/* Turns a connected instance into a session. FALSE (last error set) if out of memory. */
static BOOL session_start(HANDLE pipe)
{
    struct session *s = (struct session *)HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, sizeof *s);
    if (s == NULL) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return FALSE;
    }
    s->pipe = pipe;
    s->number = ++sessions_started;
    _tprintf(TEXT("session %u: client connected\n"), s->number);
    session_listen(s);
    return TRUE;
}

/* Waits, alertably, until a client opens pipe. Returns 0 once one has, or the error. */
static DWORD await_client(HANDLE pipe, HANDLE arrived)
{
    OVERLAPPED connect_io;
    DWORD err, ignored, woke;

    ZeroMemory(&connect_io, sizeof connect_io);
    connect_io.hEvent = arrived;
    if (ConnectNamedPipe(pipe, &connect_io))
        return 0;
    err = GetLastError();
    if (err == ERROR_PIPE_CONNECTED) /* the client was quicker: no event will come */
        return 0;
    if (err != ERROR_IO_PENDING)
        return err;

    /* Sessions make progress only while we wait here: each completion routine that runs
       ends the wait with WAIT_IO_COMPLETION, and we simply wait again. */
    do
        woke = WaitForSingleObjectEx(arrived, INFINITE, TRUE);
    while (woke == WAIT_IO_COMPLETION);
    if (woke != WAIT_OBJECT_0) {
        err = woke == WAIT_FAILED ? GetLastError() : ERROR_GEN_FAILURE;
        /* connect_io lives on this stack frame: let the cancelled connect finish first */
        if (CancelIo(pipe))
            GetOverlappedResult(pipe, &connect_io, &ignored, TRUE);
        return err;
    }
    if (!GetOverlappedResult(pipe, &connect_io, &ignored, FALSE))
        return GetLastError();
    return 0;
}

int _tmain(void)
{
    HANDLE arrived = CreateEvent(NULL, TRUE, FALSE, NULL);
    HANDLE pipe = INVALID_HANDLE_VALUE; /* the instance listening for the next client */

    sample_unbuffered_output();
    if (arrived == NULL) {
        sample_report(TEXT("CreateEvent"));
        return 1;
    }
    _tprintf(TEXT("routines server: starting on %s\n"), SAMPLE_PIPE);
    for (;;) {
        DWORD err;
        if (pipe == INVALID_HANDLE_VALUE) {
            pipe = CreateNamedPipe(SAMPLE_PIPE, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED,
                                   PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT,
                                   PIPE_UNLIMITED_INSTANCES, SAMPLE_QUOTA, SAMPLE_QUOTA,
                                   SAMPLE_DEFAULT_TIMEOUT_MS, NULL);
            if (pipe == INVALID_HANDLE_VALUE) {
                sample_report(TEXT("CreateNamedPipe"));
                return 1;
            }
        }
        err = await_client(pipe, arrived);
        /* ERROR_NO_DATA: a client opened the instance and closed it again before we listened.
           Disconnecting makes the same instance ready to listen once more. */
        if (err == ERROR_NO_DATA && DisconnectNamedPipe(pipe))
            continue;
        if (err != 0) {
            _tprintf(TEXT("waiting for a client failed: error %u\n"), (unsigned)err);
            return 1;
        }
        if (!session_start(pipe)) {
            sample_report(TEXT("session_start"));
            return 1;
        }
        pipe = INVALID_HANDLE_VALUE; /* the session owns it now; the next round makes a new one */
    }
}
