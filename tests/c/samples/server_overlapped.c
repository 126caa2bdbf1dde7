/*
 * server_overlapped.c — one thread serving several clients at once with overlapped I/O.
 *
 * SLOT_COUNT instances of SAMPLE_PIPE are opened with FILE_FLAG_OVERLAPPED. Each slot owns an
 * instance, an OVERLAPPED and a manual-reset event, and is always in one of three phases:
 * waiting for a client, waiting for a request, or waiting for its answer to be written. The
 * thread waits for any slot's event (WaitForMultipleObjects), collects that slot's result
 * (GetOverlappedResult) and moves it on to its next phase by issuing the next request.
 *
 * Every request is issued the same way: whether it completes at once or returns
 * ERROR_IO_PENDING, its completion signals the slot's event, so all results are collected
 * in one place. The one exception is ERROR_PIPE_CONNECTED (the client opened the instance
 * before ConnectNamedPipe): nothing will be signalled, so the slot goes straight on to read.
 *
 * When a client hangs up, or anything else fails for a slot, the slot disconnects its
 * instance and listens again. The server exits nonzero only if a slot cannot listen at all.
 */
#include "sample_pipe.h"

#define SLOT_COUNT 4

enum phase {
    AWAITING_CLIENT,
    AWAITING_REQUEST,
    AWAITING_WRITE,
};

struct slot {
    OVERLAPPED io; /* io.hEvent is this slot's event; also listed in events[] */
    HANDLE pipe;
    enum phase phase;
    unsigned index;
    TCHAR request[SAMPLE_TEXT_MAX + 1];
    TCHAR reply[SAMPLE_TEXT_MAX + 1];
    DWORD reply_bytes;
};

static struct slot slots[SLOT_COUNT];
static HANDLE events[SLOT_COUNT];
static unsigned requests_answered;

/* The issue_* functions start the request of a phase and return 0, or the error with which
   the request failed outright. */

static DWORD issue_read(struct slot *s)
{
    s->phase = AWAITING_REQUEST;
    if (ReadFile(s->pipe, s->request, SAMPLE_TEXT_BYTES, NULL, &s->io))
        return 0;
    return GetLastError() == ERROR_IO_PENDING ? 0 : GetLastError();
}

static DWORD issue_listen(struct slot *s)
{
    DWORD err;
    s->phase = AWAITING_CLIENT;
    if (ConnectNamedPipe(s->pipe, &s->io))
        return 0;
    err = GetLastError();
    if (err == ERROR_IO_PENDING)
        return 0;
    if (err == ERROR_PIPE_CONNECTED) {
        _tprintf(TEXT("slot %u: a client was already waiting\n"), s->index);
        return issue_read(s);
    }
    return err;
}

static DWORD issue_write(struct slot *s)
{
    s->phase = AWAITING_WRITE;
    s->reply_bytes = sample_compose_reply(s->reply, TEXT("overlapped server"), ++requests_answered, s->request);
    if (WriteFile(s->pipe, s->reply, s->reply_bytes, NULL, &s->io))
        return 0;
    return GetLastError() == ERROR_IO_PENDING ? 0 : GetLastError();
}

/* A slot's request has completed with `bytes` transferred: issue the next one. Returns 0,
   or the error that ends this client's session. */
static DWORD advance(struct slot *s, DWORD bytes)
{
    switch (s->phase) {
    case AWAITING_CLIENT:
        _tprintf(TEXT("slot %u: client connected\n"), s->index);
        return issue_read(s);
    case AWAITING_REQUEST:
        sample_terminate(s->request, bytes);
        _tprintf(TEXT("slot %u: request \"%s\"\n"), s->index, s->request);
        return issue_write(s);
    case AWAITING_WRITE:
        if (bytes != s->reply_bytes)
            return ERROR_BAD_LENGTH; /* a message is written whole or not at all */
        return issue_read(s);
    }
    return ERROR_INVALID_DATA;
}

/* Ends the slot's session (why: the error that ended it) and listens for the next client.
   Returns 0, or the error with which listening failed. */
static DWORD recycle(struct slot *s, DWORD why)
{
    if (why == ERROR_BROKEN_PIPE)
        _tprintf(TEXT("slot %u: client hung up\n"), s->index);
    else if (why == ERROR_MORE_DATA)
        _tprintf(TEXT("slot %u: request longer than %d characters, client dropped\n"), s->index, SAMPLE_TEXT_MAX);
    else
        _tprintf(TEXT("slot %u: session ended by error %u\n"), s->index, (unsigned)why);
    if (!DisconnectNamedPipe(s->pipe))
        sample_report(TEXT("DisconnectNamedPipe"));
    return issue_listen(s);
}

static BOOL open_slot(struct slot *s, unsigned index)
{
    DWORD err;
    s->index = index;
    s->io.hEvent = events[index] = CreateEvent(NULL, TRUE, FALSE, NULL);
    if (s->io.hEvent == NULL) {
        sample_report(TEXT("CreateEvent"));
        return FALSE;
    }
    s->pipe = CreateNamedPipe(SAMPLE_PIPE, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED,
                              PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT, SLOT_COUNT,
                              SAMPLE_QUOTA, SAMPLE_QUOTA, SAMPLE_DEFAULT_TIMEOUT_MS, NULL);
    if (s->pipe == INVALID_HANDLE_VALUE) {
        sample_report(TEXT("CreateNamedPipe"));
        return FALSE;
    }
    err = issue_listen(s);
    if (err != 0) {
        _tprintf(TEXT("slot %u: ConnectNamedPipe: error %u\n"), index, (unsigned)err);
        return FALSE;
    }
    return TRUE;
}

int _tmain(void)
{
    unsigned i;

    sample_unbuffered_output();
    for (i = 0; i < SLOT_COUNT; i++)
        if (!open_slot(&slots[i], i))
            return 1;
    _tprintf(TEXT("overlapped server: %d instances of %s listening\n"), SLOT_COUNT, SAMPLE_PIPE);

    for (;;) {
        struct slot *s;
        DWORD bytes = 0, err, woke = WaitForMultipleObjects(SLOT_COUNT, events, FALSE, INFINITE);

        if (woke >= WAIT_OBJECT_0 + SLOT_COUNT) {
            sample_report(TEXT("WaitForMultipleObjects"));
            return 1;
        }
        s = &slots[woke - WAIT_OBJECT_0];
        err = GetOverlappedResult(s->pipe, &s->io, &bytes, FALSE) ? advance(s, bytes) : GetLastError();
        /* A session that ended leaves the event signalled; listening again resets it, so a
           slot that cannot listen must stop the server rather than wake it forever. */
        if (err != 0 && (err = recycle(s, err)) != 0) {
            _tprintf(TEXT("slot %u: cannot listen again: error %u\n"), s->index, (unsigned)err);
            return 1;
        }
    }
}
