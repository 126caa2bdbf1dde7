/*
 * client_message.c — a client that opens SAMPLE_PIPE like a file and talks in messages.
 *
 *     client_message [request]
 *
 * Opens the pipe with CreateFile (waiting with WaitNamedPipe while all instances are busy),
 * switches its end to message read mode, writes the request as one message and reads the
 * answer back. The answer is read through a deliberately small buffer, so a typical answer
 * arrives in several pieces: every piece but the last is reported as ERROR_MORE_DATA.
 * Exits 0 after printing "round trip ok", nonzero on any failure.
 */
#include "sample_pipe.h"

/* Small on purpose: the answer has to be collected piece by piece. */
#define PIECE_CHARS 8

int _tmain(int argc, TCHAR *argv[])
{
    LPCTSTR request = argc > 1 ? argv[1] : SAMPLE_DEFAULT_REQUEST;
    TCHAR answer[SAMPLE_TEXT_MAX + 1];
    DWORD answer_bytes = 0, request_bytes, written = 0, mode = PIPE_READMODE_MESSAGE;
    unsigned pieces = 0;
    BOOL complete = FALSE;
    HANDLE pipe;

    sample_unbuffered_output();
    if (!sample_request_ok(request))
        return SAMPLE_EXIT_USAGE;

    pipe = sample_open_client();
    if (pipe == INVALID_HANDLE_VALUE) {
        sample_report(TEXT("opening the pipe"));
        return SAMPLE_EXIT_API;
    }
    /* A client end starts in byte read mode, whatever the server's mode is. */
    if (!SetNamedPipeHandleState(pipe, &mode, NULL, NULL)) {
        sample_report(TEXT("SetNamedPipeHandleState"));
        CloseHandle(pipe);
        return SAMPLE_EXIT_API;
    }

    request_bytes = (DWORD)lstrlen(request) * (DWORD)sizeof(TCHAR);
    _tprintf(TEXT("sending \"%s\" (%u bytes)\n"), request, (unsigned)request_bytes);
    if (!WriteFile(pipe, request, request_bytes, &written, NULL) || written != request_bytes) {
        sample_report(TEXT("WriteFile"));
        CloseHandle(pipe);
        return SAMPLE_EXIT_API;
    }

    while (!complete) {
        TCHAR piece[PIECE_CHARS];
        DWORD got = 0;

        complete = ReadFile(pipe, piece, sizeof piece, &got, NULL);
        if (!complete && GetLastError() != ERROR_MORE_DATA) {
            sample_report(TEXT("ReadFile"));
            CloseHandle(pipe);
            return SAMPLE_EXIT_API;
        }
        if (answer_bytes + got > SAMPLE_TEXT_BYTES) {
            _tprintf(TEXT("the answer is longer than %d characters\n"), SAMPLE_TEXT_MAX);
            CloseHandle(pipe);
            return SAMPLE_EXIT_ANSWER;
        }
        memcpy((BYTE *)answer + answer_bytes, piece, got);
        answer_bytes += got;
        pieces++;
    }
    CloseHandle(pipe);

    sample_terminate(answer, answer_bytes);
    _tprintf(TEXT("answer came in %u piece(s) of at most %u bytes\n"), pieces, (unsigned)sizeof(TCHAR[PIECE_CHARS]));
    if (!sample_answer_ok(answer, answer_bytes / (DWORD)sizeof(TCHAR), request)) {
        _tprintf(TEXT("unexpected answer: \"%s\"\n"), answer);
        return SAMPLE_EXIT_ANSWER;
    }
    _tprintf(TEXT("round trip ok: \"%s\"\n"), answer);
    return 0;
}
