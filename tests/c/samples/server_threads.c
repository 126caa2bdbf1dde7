/*
 * server_threads.c — a named-pipe server that gives every client a thread of its own.
 *
 * The main thread keeps one blocking instance of SAMPLE_PIPE listening. As soon as a client
 * is on it, the main thread creates the next instance and hands the connected one to a new
 * thread, then listens on the new instance. A client's thread answers each request message until the client closes its end,
 * then flushes, disconnects and closes the instance. Runs until it is killed; exits nonzero
 * if the pipe cannot be created or listened on, or a thread cannot be started.
 */
#include "sample_pipe.h"

/* What the main thread hands to a client's thread (which frees it). */
struct client_job {
    HANDLE pipe;
    unsigned number;
};

/* The body of a client's thread: answer request after request. Returns the number of
   requests answered. */
static DWORD WINAPI client_thread(LPVOID arg)
{
    struct client_job *job = (struct client_job *)arg;
    HANDLE pipe = job->pipe;
    unsigned number = job->number;
    TCHAR request[SAMPLE_TEXT_MAX + 1];
    TCHAR reply[SAMPLE_TEXT_MAX + 1];
    DWORD answered = 0;

    HeapFree(GetProcessHeap(), 0, job);
    _tprintf(TEXT("client %u: served by thread %u\n"), number, (unsigned)GetCurrentThreadId());
    for (;;) {
        DWORD got = 0, sent = 0, size;

        if (!ReadFile(pipe, request, SAMPLE_TEXT_BYTES, &got, NULL)) {
            DWORD err = GetLastError();
            if (err == ERROR_BROKEN_PIPE)
                _tprintf(TEXT("client %u: closed its end after %u request(s)\n"), number, (unsigned)answered);
            else if (err == ERROR_MORE_DATA)
                _tprintf(TEXT("client %u: sent more than %d characters; dropping it\n"), number, SAMPLE_TEXT_MAX);
            else
                _tprintf(TEXT("client %u: ReadFile: error %u\n"), number, (unsigned)err);
            break;
        }
        sample_terminate(request, got);
        _tprintf(TEXT("client %u: asks \"%s\"\n"), number, request);

        size = sample_compose_reply(reply, TEXT("threads server"), number, request);
        if (!WriteFile(pipe, reply, size, &sent, NULL) || sent != size) {
            _tprintf(TEXT("client %u: WriteFile sent %u of %u bytes, error %u\n"), number, (unsigned)sent,
                     (unsigned)size, (unsigned)GetLastError());
            break;
        }
        answered++;
    }

    /* Let the client read what is still queued before the instance is torn down. */
    FlushFileBuffers(pipe);
    DisconnectNamedPipe(pipe);
    CloseHandle(pipe);
    return answered;
}

/* Starts a thread for the client on pipe. FALSE (last error set) if there is no thread. */
static BOOL hand_over(HANDLE pipe, unsigned number)
{
    struct client_job *job = (struct client_job *)HeapAlloc(GetProcessHeap(), 0, sizeof *job);
    HANDLE thread;

    if (job == NULL) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return FALSE;
    }
    job->pipe = pipe;
    job->number = number;
    thread = CreateThread(NULL, 0, client_thread, job, 0, NULL);
    if (thread == NULL) {
        HeapFree(GetProcessHeap(), 0, job);
        return FALSE;
    }
    CloseHandle(thread); /* the thread runs on; we never wait for it */
    return TRUE;
}

/* A new blocking message-mode instance of SAMPLE_PIPE; INVALID_HANDLE_VALUE on failure. */
static HANDLE new_instance(void)
{
    HANDLE pipe = CreateNamedPipe(SAMPLE_PIPE, PIPE_ACCESS_DUPLEX,
                                  PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT,
                                  PIPE_UNLIMITED_INSTANCES, SAMPLE_QUOTA, SAMPLE_QUOTA,
                                  SAMPLE_DEFAULT_TIMEOUT_MS, NULL);
    if (pipe == INVALID_HANDLE_VALUE)
        sample_report(TEXT("CreateNamedPipe"));
    return pipe;
}

int _tmain(void)
{
    unsigned clients = 0;
    HANDLE listening;

    sample_unbuffered_output();
    listening = new_instance();
    if (listening == INVALID_HANDLE_VALUE)
        return 1;
    _tprintf(TEXT("threads server: listening on %s\n"), SAMPLE_PIPE);

    for (;;) {
        HANDLE next;

        /* Blocks until a client opens this instance. A client that got there between
           CreateNamedPipe and here is reported as ERROR_PIPE_CONNECTED: connected all the same. */
        if (!ConnectNamedPipe(listening, NULL) && GetLastError() != ERROR_PIPE_CONNECTED) {
            DWORD err = sample_report(TEXT("ConnectNamedPipe"));
            if (err == ERROR_NO_DATA && DisconnectNamedPipe(listening))
                continue; /* that client has closed already: listen again on the same instance */
            return 1;
        }

        /* The next instance exists before the connected one is handed over: however quickly
           that client's thread finishes and closes its instance, the pipe's name never
           disappears, and newcomers see ERROR_PIPE_BUSY (and wait) instead of
           ERROR_FILE_NOT_FOUND. */
        next = new_instance();
        if (next == INVALID_HANDLE_VALUE)
            return 1;
        if (!hand_over(listening, ++clients)) {
            sample_report(TEXT("CreateThread"));
            return 1;
        }
        listening = next;
    }
}
