/*
 * client_call.c — the shortest client: CallNamedPipe does it all.
 *
 *     client_call [request]
 *
 * One CallNamedPipe call waits for an instance of SAMPLE_PIPE (up to CALL_WAIT_MS while all
 * are busy), opens it, switches to message read mode, writes the request, reads one answer
 * message and closes the pipe. The answer buffer must hold the whole message: what does not
 * fit is lost with the handle, and the call reports ERROR_MORE_DATA. CallNamedPipe waits for
 * a busy pipe only once: if another client takes the instance that freed up, it fails with
 * ERROR_PIPE_BUSY, and this client calls again (for SAMPLE_BUSY_PATIENCE_MS at most).
 * Exits 0 after printing "round trip ok", nonzero on any failure.
 */
#include "sample_pipe.h"

#define CALL_WAIT_MS 5000

int _tmain(int argc, TCHAR *argv[])
{
    LPCTSTR request = argc > 1 ? argv[1] : SAMPLE_DEFAULT_REQUEST;
    TCHAR answer[SAMPLE_TEXT_MAX + 1];
    DWORD got = 0, start = GetTickCount();
    unsigned calls = 0;
    BOOL answered;

    sample_unbuffered_output();
    if (!sample_request_ok(request))
        return SAMPLE_EXIT_USAGE;

    _tprintf(TEXT("calling %s with \"%s\"\n"), SAMPLE_PIPE, request);
    for (;;) {
        calls++;
        answered = CallNamedPipe(SAMPLE_PIPE, (LPVOID)request, (DWORD)lstrlen(request) * (DWORD)sizeof(TCHAR),
                                 answer, SAMPLE_TEXT_BYTES, &got, CALL_WAIT_MS);
        if (answered || GetLastError() != ERROR_PIPE_BUSY || !sample_still_patient(start))
            break;
    }
    if (calls > 1)
        _tprintf(TEXT("the pipe was busy: %u calls made\n"), calls);
    if (!answered) {
        DWORD err = sample_report(TEXT("CallNamedPipe"));
        if (err == ERROR_MORE_DATA)
            _tprintf(TEXT("(the answer was cut at %u bytes)\n"), (unsigned)got);
        return SAMPLE_EXIT_API;
    }

    sample_terminate(answer, got);
    if (!sample_answer_ok(answer, got / (DWORD)sizeof(TCHAR), request)) {
        _tprintf(TEXT("unexpected answer: \"%s\"\n"), answer);
        return SAMPLE_EXIT_ANSWER;
    }
    _tprintf(TEXT("round trip ok: \"%s\"\n"), answer);
    return 0;
}
