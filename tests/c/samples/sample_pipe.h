/*
 * sample_pipe.h — the conventions the sample servers and clients in this folder share.
 *
 * The protocol: a client writes one message holding its request text (TCHARs, no terminator);
 * the server answers with one message "<server> #<serial> heard: <request>". A client accepts
 * the answer only if it ends with its own request, and then prints the line
 *     round trip ok: "<answer>"
 * which is what tests/c/common.sh looks for. Any failure makes a client exit nonzero.
 *
 * Both ends are built the same way (ANSI, or UNICODE with -DUNICODE -D_UNICODE), so TCHAR
 * means the same on both sides of a pairing.
 */
#ifndef NPFS_SAMPLE_PIPE_H
#define NPFS_SAMPLE_PIPE_H

#include <windows.h>
#include <tchar.h>
#include <strsafe.h>
#include <stdio.h>
#include <string.h>

/* The one pipe every sample uses. */
#define SAMPLE_PIPE TEXT("\\\\.\\pipe\\npfs-sample")

/* Longest message either side sends, in characters; buffers hold one more for a terminator. */
#define SAMPLE_TEXT_MAX 256
#define SAMPLE_TEXT_BYTES ((DWORD)(SAMPLE_TEXT_MAX * sizeof(TCHAR)))
/* Requests are kept shorter so that the server's prefix always fits in the answer. */
#define SAMPLE_REQUEST_MAX 200

/* Pipe quotas and the default time-out the servers ask for. */
#define SAMPLE_QUOTA 4096
#define SAMPLE_DEFAULT_TIMEOUT_MS 5000

#define SAMPLE_DEFAULT_REQUEST TEXT("is anybody listening on npfs-sample?")

/* Exit codes of the clients. */
#define SAMPLE_EXIT_API 1     /* a Win32 call failed */
#define SAMPLE_EXIT_ANSWER 2  /* the server's answer was not the expected one */
#define SAMPLE_EXIT_USAGE 3   /* the request given on the command line is unusable */

/* Prints "<what>: error <n>" for the calling thread's last error and returns that error. */
static inline DWORD sample_report(LPCTSTR what)
{
    DWORD err = GetLastError();
    _tprintf(TEXT("%s: error %u\n"), what, (unsigned)err);
    return err;
}

/* Output goes to log files when the samples are tested: keep it unbuffered so that nothing
   is lost when a server is killed. */
static inline void sample_unbuffered_output(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
}

/* Fills reply (SAMPLE_TEXT_MAX + 1 characters) with the answer to request, a terminated
   string, and returns the answer's size in bytes. An answer that would be too long is cut
   short, which the client then rejects. */
static inline DWORD sample_compose_reply(TCHAR *reply, LPCTSTR server, unsigned serial, LPCTSTR request)
{
    StringCchPrintf(reply, SAMPLE_TEXT_MAX + 1, TEXT("%s #%u heard: %s"), server, serial, request);
    return (DWORD)lstrlen(reply) * (DWORD)sizeof(TCHAR);
}

/* Turns the bytes a server received into a terminated string, in place. The buffer holds
   SAMPLE_TEXT_MAX + 1 characters and bytes is at most SAMPLE_TEXT_BYTES. */
static inline void sample_terminate(TCHAR *text, DWORD bytes)
{
    text[bytes / sizeof(TCHAR)] = 0;
}

/* The client's side: a request is usable if it fits the protocol's limit. */
static inline BOOL sample_request_ok(LPCTSTR request)
{
    int len = lstrlen(request);
    if (len > SAMPLE_REQUEST_MAX) {
        _tprintf(TEXT("the request is %d characters long; at most %d are allowed\n"), len,
                 SAMPLE_REQUEST_MAX);
        return FALSE;
    }
    return TRUE;
}

/* The client's check of an answer of `chars` characters: non-empty, and ending with the
   request that was sent, after the server's prefix. */
static inline BOOL sample_answer_ok(const TCHAR *answer, DWORD chars, LPCTSTR request)
{
    DWORD want = (DWORD)lstrlen(request);
    if (chars <= want)
        return FALSE;
    return memcmp(answer + (chars - want), request, want * sizeof(TCHAR)) == 0;
}

/* How long a client keeps trying while every instance of the pipe is busy. */
#define SAMPLE_BUSY_PATIENCE_MS 20000

/* TRUE while less than SAMPLE_BUSY_PATIENCE_MS have passed since `start` (a GetTickCount). */
static inline BOOL sample_still_patient(DWORD start)
{
    return GetTickCount() - start < SAMPLE_BUSY_PATIENCE_MS;
}

/*
 * Opens the client end of SAMPLE_PIPE for reading and writing, as CreateFile does for any
 * file. While every instance of the pipe is busy with other clients, waits for one to listen
 * again (WaitNamedPipe) and retries: another client may take that instance first, so this
 * goes on until SAMPLE_BUSY_PATIENCE_MS have passed. Returns INVALID_HANDLE_VALUE with the
 * last error set when the pipe cannot be opened (ERROR_FILE_NOT_FOUND: no server yet).
 */
static inline HANDLE sample_open_client(void)
{
    DWORD start = GetTickCount();
    BOOL told = FALSE;
    for (;;) {
        HANDLE end = CreateFile(SAMPLE_PIPE, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
        if (end != INVALID_HANDLE_VALUE || GetLastError() != ERROR_PIPE_BUSY)
            return end;
        if (!sample_still_patient(start))
            return INVALID_HANDLE_VALUE; /* still ERROR_PIPE_BUSY */
        if (!told) {
            _tprintf(TEXT("every instance of %s is busy; waiting for a free one\n"), SAMPLE_PIPE);
            told = TRUE;
        }
        if (!WaitNamedPipe(SAMPLE_PIPE, 5000) && GetLastError() != ERROR_SEM_TIMEOUT)
            return INVALID_HANDLE_VALUE;
    }
}

#endif /* NPFS_SAMPLE_PIPE_H */
