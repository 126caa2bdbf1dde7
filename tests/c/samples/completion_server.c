/* Named pipe server using completion routines, re-created from the description of
 * Microsoft's sample (spec/api.md §5.3): one pending overlapped connect at a time, an
 * alertable WaitForSingleObjectEx, and a ReadFileEx -> WriteFileEx chain per client driven by
 * completion routines. Quirks kept: the connect OVERLAPPED is a stack variable with only
 * hEvent set (the rest is garbage), `case 0` for WAIT_OBJECT_0, the program calls a
 * completion routine itself with (0, 0, ptr), and the OVERLAPPED is the first member of the
 * per-client block. Runs until killed. */
#include <windows.h>
#include <stdio.h>
#include <tchar.h>
#include <strsafe.h>

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
} PIPEINST, *LPPIPEINST;

VOID DisconnectAndClose(LPPIPEINST);
BOOL CreateAndConnectInstance(LPOVERLAPPED);
BOOL ConnectToNewClient(HANDLE, LPOVERLAPPED);
VOID GetAnswerToRequest(LPPIPEINST);

VOID WINAPI CompletedWriteRoutine(DWORD, DWORD, LPOVERLAPPED);
VOID WINAPI CompletedReadRoutine(DWORD, DWORD, LPOVERLAPPED);

HANDLE hPipe;

int _tmain(VOID)
{
    HANDLE hConnectEvent;
    OVERLAPPED oConnect;
    LPPIPEINST lpPipeInst;
    DWORD dwWait, cbRet;
    BOOL fSuccess, fPendingIO;

    // The event of the connect operations: manual reset, initially signalled.
    hConnectEvent = CreateEvent(
        NULL,  // default security attribute
        TRUE,  // manual reset event
        TRUE,  // initial state = signaled
        NULL); // unnamed event object

    if (hConnectEvent == NULL)
    {
        printf("CreateEvent failed with %d.\n", GetLastError());
        return 0;
    }

    oConnect.hEvent = hConnectEvent;

    // The first instance and its connect.
    fPendingIO = CreateAndConnectInstance(&oConnect);

    while (1)
    {
        // Alertable: completion routines of reads and writes run in here.
        dwWait = WaitForSingleObjectEx(
            hConnectEvent, // event object to wait for
            INFINITE,      // waits indefinitely
            TRUE);         // alertable wait enabled

        switch (dwWait)
        {
        // A client connected.
        case 0:
            // The connect was pending: get its result.
            if (fPendingIO)
            {
                fSuccess = GetOverlappedResult(
                    hPipe,     // pipe handle
                    &oConnect, // OVERLAPPED structure
                    &cbRet,    // bytes transferred
                    FALSE);    // does not wait
                if (!fSuccess)
                {
                    printf("ConnectNamedPipe (%d)\n", GetLastError());
                    return 0;
                }
            }

            // Per-client block; GPTR memory is zeroed.
            lpPipeInst = (LPPIPEINST)GlobalAlloc(GPTR, sizeof(PIPEINST));
            if (lpPipeInst == NULL)
            {
                printf("GlobalAlloc failed (%d)\n", GetLastError());
                return 0;
            }

            lpPipeInst->hPipeInst = hPipe;

            // Start the chain: the write routine, called directly, issues the first read.
            lpPipeInst->cbToWrite = 0;
            CompletedWriteRoutine(0, 0, (LPOVERLAPPED)lpPipeInst);

            // Another instance for the next client.
            fPendingIO = CreateAndConnectInstance(&oConnect);
            break;

        // A completion routine ran.
        case WAIT_IO_COMPLETION:
            break;

        default:
        {
            printf("WaitForSingleObjectEx (%d)\n", GetLastError());
            return 0;
        }
        }
    }
    return 0;
}

// Runs when a write completes (and once directly at the start): issues the next read.
VOID WINAPI CompletedWriteRoutine(DWORD dwErr, DWORD cbWritten, LPOVERLAPPED lpOverLap)
{
    LPPIPEINST lpPipeInst;
    BOOL fRead = FALSE;

    lpPipeInst = (LPPIPEINST)lpOverLap;

    if ((dwErr == 0) && (cbWritten == lpPipeInst->cbToWrite))
        fRead = ReadFileEx(
            lpPipeInst->hPipeInst,
            lpPipeInst->chRequest,
            BUFSIZE * sizeof(TCHAR),
            (LPOVERLAPPED)lpPipeInst,
            (LPOVERLAPPED_COMPLETION_ROUTINE)CompletedReadRoutine);

    if (!fRead)
        DisconnectAndClose(lpPipeInst);
}

// Runs when a read completes: writes the answer.
VOID WINAPI CompletedReadRoutine(DWORD dwErr, DWORD cbBytesRead, LPOVERLAPPED lpOverLap)
{
    LPPIPEINST lpPipeInst;
    BOOL fWrite = FALSE;

    lpPipeInst = (LPPIPEINST)lpOverLap;

    if ((dwErr == 0) && (cbBytesRead != 0))
    {
        GetAnswerToRequest(lpPipeInst);

        fWrite = WriteFileEx(
            lpPipeInst->hPipeInst,
            lpPipeInst->chReply,
            lpPipeInst->cbToWrite,
            (LPOVERLAPPED)lpPipeInst,
            (LPOVERLAPPED_COMPLETION_ROUTINE)CompletedWriteRoutine);
    }

    if (!fWrite)
        DisconnectAndClose(lpPipeInst);
}

// Error or client gone: disconnect, close the instance and free its block.
VOID DisconnectAndClose(LPPIPEINST lpPipeInst)
{
    if (!DisconnectNamedPipe(lpPipeInst->hPipeInst))
    {
        printf("DisconnectNamedPipe failed with %d.\n", GetLastError());
    }

    CloseHandle(lpPipeInst->hPipeInst);

    if (lpPipeInst != NULL)
        GlobalFree(lpPipeInst);
}

// Creates an instance and starts an overlapped connect. TRUE: the connect is pending.
BOOL CreateAndConnectInstance(LPOVERLAPPED lpoOverlap)
{
    LPTSTR lpszPipename = TEXT("\\\\.\\pipe\\mynamedpipe");

    hPipe = CreateNamedPipe(
        lpszPipename,             // pipe name
        PIPE_ACCESS_DUPLEX |      // read/write access
        FILE_FLAG_OVERLAPPED,     // overlapped mode
        PIPE_TYPE_MESSAGE |       // message-type pipe
        PIPE_READMODE_MESSAGE |   // message read mode
        PIPE_WAIT,                // blocking mode
        PIPE_UNLIMITED_INSTANCES, // unlimited instances
        BUFSIZE * sizeof(TCHAR),  // output buffer size
        BUFSIZE * sizeof(TCHAR),  // input buffer size
        PIPE_TIMEOUT,             // client time-out
        NULL);                    // default security attributes
    if (hPipe == INVALID_HANDLE_VALUE)
    {
        printf("CreateNamedPipe failed with %d.\n", GetLastError());
        return 0;
    }

    return ConnectToNewClient(hPipe, lpoOverlap);
}

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
