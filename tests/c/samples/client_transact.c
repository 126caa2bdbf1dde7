/*
 * client_transact.c — a client that sends its request and receives the answer in one call,
 * TransactNamedPipe, and then collects whatever of the answer did not fit.
 *
 *     client_transact [request]
 *
 * TransactNamedPipe needs the client end in message read mode. Its output buffer here is
 * only FIRST_CHARS characters, so for a normal answer it fails with ERROR_MORE_DATA, having
 * filled the buffer; the rest of the same message is then read with ReadFile, straight after
 * the first part, for as long as ReadFile too reports ERROR_MORE_DATA.
 * Exits 0 after printing "round trip ok", nonzero on any failure.
 */
#include "sample_pipe.h"

#define FIRST_CHARS 16

static int give_up(HANDLE pipe, LPCTSTR what)
{
    sample_report(what);
    CloseHandle(pipe);
    return SAMPLE_EXIT_API;
}

int _tmain(int argc, TCHAR *argv[])
{
    LPCTSTR request = argc > 1 ? argv[1] : SAMPLE_DEFAULT_REQUEST;
    TCHAR answer[SAMPLE_TEXT_MAX + 1];
    DWORD have = 0, mode = PIPE_READMODE_MESSAGE;
    BOOL whole;
    HANDLE pipe;

    sample_unbuffered_output();
    if (!sample_request_ok(request))
        return SAMPLE_EXIT_USAGE;

    pipe = sample_open_client();
    if (pipe == INVALID_HANDLE_VALUE) {
        sample_report(TEXT("opening the pipe"));
        return SAMPLE_EXIT_API;
    }
    if (!SetNamedPipeHandleState(pipe, &mode, NULL, NULL))
        return give_up(pipe, TEXT("SetNamedPipeHandleState"));

    _tprintf(TEXT("transacting \"%s\"\n"), request);
    whole = TransactNamedPipe(pipe, (LPVOID)request, (DWORD)lstrlen(request) * (DWORD)sizeof(TCHAR), answer,
                              FIRST_CHARS * (DWORD)sizeof(TCHAR), &have, NULL);
    if (!whole && GetLastError() != ERROR_MORE_DATA)
        return give_up(pipe, TEXT("TransactNamedPipe"));
    _tprintf(TEXT("TransactNamedPipe returned %u bytes%s\n"), (unsigned)have,
             whole ? TEXT(", the whole answer") : TEXT(", more to come"));

    while (!whole) {
        DWORD got = 0;
        if (have >= SAMPLE_TEXT_BYTES) {
            _tprintf(TEXT("the answer is longer than %d characters\n"), SAMPLE_TEXT_MAX);
            CloseHandle(pipe);
            return SAMPLE_EXIT_ANSWER;
        }
        whole = ReadFile(pipe, (BYTE *)answer + have, SAMPLE_TEXT_BYTES - have, &got, NULL);
        if (!whole && GetLastError() != ERROR_MORE_DATA)
            return give_up(pipe, TEXT("ReadFile"));
        _tprintf(TEXT("ReadFile added %u bytes\n"), (unsigned)got);
        have += got;
    }
    CloseHandle(pipe);

    sample_terminate(answer, have);
    if (!sample_answer_ok(answer, have / (DWORD)sizeof(TCHAR), request)) {
        _tprintf(TEXT("unexpected answer: \"%s\"\n"), answer);
        return SAMPLE_EXIT_ANSWER;
    }
    _tprintf(TEXT("round trip ok: \"%s\"\n"), answer);
    return 0;
}
