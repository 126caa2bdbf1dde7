/* Named pipe server using overlapped I/O, re-created from the description of Microsoft's
 * sample (spec/api.md §5.2): one thread, four instances, one manual-reset event per instance,
 * WaitForMultipleObjects and a connect -> read -> write state machine. Quirks kept: a HANDLE
 * printed with %d, an unsigned index tested with < 0, SetEvent after ERROR_PIPE_CONNECTED,
 * and reliance on the event staying signalled after an immediate completion. Runs until
 * killed. */
#include <windows.h>
#include <stdio.h>
#include <tchar.h>
#include <strsafe.h>

#define CONNECTING_STATE 0
#define READING_STATE 1
#define WRITING_STATE 2
#define INSTANCES 4
#define PIPE_TIMEOUT 5000
#define BUFSIZE 4096

typedef struct
{
    OVERLAPPED oOverlap;
    HANDLE hPipeInst;
    TCHAR chRequest[BUFSIZE];
    DWORD cbRead;
    TCHAR chReply[BUFSIZE];
    DWORD cbToWrite;
    DWORD dwState;
    BOOL fPendingIO;
} PIPEINST, *LPPIPEINST;

VOID DisconnectAndReconnect(DWORD);
BOOL ConnectToNewClient(HANDLE, LPOVERLAPPED);
VOID GetAnswerToRequest(LPPIPEINST);

PIPEINST Pipe[INSTANCES];
HANDLE hEvents[INSTANCES];

int _tmain(VOID)
{
    DWORD i, dwWait, cbRet, dwErr;
    BOOL fSuccess;
    LPTSTR lpszPipename = TEXT("\\\\.\\pipe\\mynamedpipe");

    // Create the instances, each with its own signalled manual-reset event,
    // and start an overlapped connect on each.
    for (i = 0; i < INSTANCES; i++)
    {
        hEvents[i] = CreateEvent(
            NULL,  // default security attribute
            TRUE,  // manual-reset event
            TRUE,  // initial state = signaled
            NULL); // unnamed event object

        if (hEvents[i] == NULL)
        {
            printf("CreateEvent failed with %d.\n", GetLastError());
            return 0;
        }

        Pipe[i].oOverlap.hEvent = hEvents[i];
        Pipe[i].oOverlap.Offset = 0;
        Pipe[i].oOverlap.OffsetHigh = 0;

        Pipe[i].hPipeInst = CreateNamedPipe(
            lpszPipename,                 // pipe name
            PIPE_ACCESS_DUPLEX |          // read/write access
            FILE_FLAG_OVERLAPPED,         // overlapped mode
            PIPE_TYPE_MESSAGE |           // message-type pipe
            PIPE_READMODE_MESSAGE |       // message-read mode
            PIPE_WAIT,                    // blocking mode
            INSTANCES,                    // number of instances
            BUFSIZE * sizeof(TCHAR),      // output buffer size
            BUFSIZE * sizeof(TCHAR),      // input buffer size
            PIPE_TIMEOUT,                 // client time-out
            NULL);                        // default security attributes

        if (Pipe[i].hPipeInst == INVALID_HANDLE_VALUE)
        {
            printf("CreateNamedPipe failed with %d.\n", GetLastError());
            return 0;
        }

        Pipe[i].fPendingIO = ConnectToNewClient(Pipe[i].hPipeInst, &Pipe[i].oOverlap);

        Pipe[i].dwState = Pipe[i].fPendingIO ?
            CONNECTING_STATE : // still connecting
            READING_STATE;     // ready to read
    }

    while (1)
    {
        // A signalled event: an operation completed, or an instance is ready for the next.
        dwWait = WaitForMultipleObjects(
            INSTANCES, // number of event objects
            hEvents,   // array of event objects
            FALSE,     // does not wait for all
            INFINITE); // waits indefinitely

        i = dwWait - WAIT_OBJECT_0; // which pipe
        if (i < 0 || i > (INSTANCES - 1))
        {
            printf("Index out of range.\n");
            return 0;
        }

        // The operation was pending: collect its result.
        if (Pipe[i].fPendingIO)
        {
            fSuccess = GetOverlappedResult(
                Pipe[i].hPipeInst, // handle to pipe
                &Pipe[i].oOverlap, // OVERLAPPED structure
                &cbRet,            // bytes transferred
                FALSE);            // do not wait

            switch (Pipe[i].dwState)
            {
            case CONNECTING_STATE:
                if (!fSuccess)
                {
                    printf("Error %d.\n", GetLastError());
                    return 0;
                }
                Pipe[i].dwState = READING_STATE;
                break;

            case READING_STATE:
                if (!fSuccess || cbRet == 0)
                {
                    DisconnectAndReconnect(i);
                    continue;
                }
                Pipe[i].cbRead = cbRet;
                Pipe[i].dwState = WRITING_STATE;
                break;

            case WRITING_STATE:
                if (!fSuccess || cbRet != Pipe[i].cbToWrite)
                {
                    DisconnectAndReconnect(i);
                    continue;
                }
                Pipe[i].dwState = READING_STATE;
                break;

            default:
            {
                printf("Invalid pipe state.\n");
                return 0;
            }
            }
        }

        // The next operation for this instance.
        switch (Pipe[i].dwState)
        {
        case READING_STATE:
            fSuccess = ReadFile(
                Pipe[i].hPipeInst,
                Pipe[i].chRequest,
                BUFSIZE * sizeof(TCHAR),
                &Pipe[i].cbRead,
                &Pipe[i].oOverlap);

            // Finished at once: the event stays signalled, so the loop comes back here.
            if (fSuccess && Pipe[i].cbRead != 0)
            {
                Pipe[i].fPendingIO = FALSE;
                Pipe[i].dwState = WRITING_STATE;
                continue;
            }

            dwErr = GetLastError();
            if (!fSuccess && (dwErr == ERROR_IO_PENDING))
            {
                Pipe[i].fPendingIO = TRUE;
                continue;
            }

            // Error, or the client closed: start over with a new client.
            DisconnectAndReconnect(i);
            break;

        case WRITING_STATE:
            GetAnswerToRequest(&Pipe[i]);

            fSuccess = WriteFile(
                Pipe[i].hPipeInst,
                Pipe[i].chReply,
                Pipe[i].cbToWrite,
                &cbRet,
                &Pipe[i].oOverlap);

            if (fSuccess && cbRet == Pipe[i].cbToWrite)
            {
                Pipe[i].fPendingIO = FALSE;
                Pipe[i].dwState = READING_STATE;
                continue;
            }

            dwErr = GetLastError();
            if (!fSuccess && (dwErr == ERROR_IO_PENDING))
            {
                Pipe[i].fPendingIO = TRUE;
                continue;
            }

            DisconnectAndReconnect(i);
            break;

        default:
        {
            printf("Invalid pipe state.\n");
            return 0;
        }
        }
    }

    return 0;
}

// Disconnects the client of instance i and waits for another one.
VOID DisconnectAndReconnect(DWORD i)
{
    if (!DisconnectNamedPipe(Pipe[i].hPipeInst))
    {
        printf("DisconnectNamedPipe failed with %d.\n", GetLastError());
    }

    Pipe[i].fPendingIO = ConnectToNewClient(Pipe[i].hPipeInst, &Pipe[i].oOverlap);

    Pipe[i].dwState = Pipe[i].fPendingIO ?
        CONNECTING_STATE : // still connecting
        READING_STATE;     // ready to read
}

// Starts an overlapped connect. TRUE: pending; FALSE: already connected.
BOOL ConnectToNewClient(HANDLE hPipe, LPOVERLAPPED lpo)
{
    BOOL fConnected, fPendingIO = FALSE;

    fConnected = ConnectNamedPipe(hPipe, lpo);

    // An overlapped ConnectNamedPipe returns FALSE.
    if (fConnected)
    {
        printf("ConnectNamedPipe failed with %d.\n", GetLastError());
        return 0;
    }

    switch (GetLastError())
    {
    case ERROR_IO_PENDING:
        fPendingIO = TRUE;
        break;

    // The client came first: signal the event ourselves.
    case ERROR_PIPE_CONNECTED:
        if (SetEvent(lpo->hEvent))
            break;

    default:
    {
        printf("ConnectNamedPipe failed with %d.\n", GetLastError());
        return 0;
    }
    }

    return fPendingIO;
}

VOID GetAnswerToRequest(LPPIPEINST pipe)
{
    _tprintf(TEXT("[%d] %s\n"), pipe->hPipeInst, pipe->chRequest);
    StringCchCopy(pipe->chReply, BUFSIZE, TEXT("Default answer from server"));
    pipe->cbToWrite = (lstrlen(pipe->chReply) + 1) * sizeof(TCHAR);
}
