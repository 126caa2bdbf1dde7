/* TransactNamedPipe client, re-created from the description of Microsoft's sample
 * "Transactions on Named Pipes" (spec/api.md §5.5, program A): the open and mode setup of the
 * client, then one TransactNamedPipe; on ERROR_MORE_DATA the rest is read with ReadFile. */
#include <windows.h>
#include <stdio.h>
#include <conio.h>
#include <tchar.h>

#define BUFSIZE 512

int _tmain(int argc, TCHAR *argv[])
{
    HANDLE hPipe;
    LPTSTR lpszWrite = TEXT("Default message from client");
    TCHAR chReadBuf[BUFSIZE];
    BOOL fSuccess;
    DWORD cbRead, dwMode;
    LPTSTR lpszPipename = TEXT("\\\\.\\pipe\\mynamedpipe");

    if (argc > 1)
    {
        lpszWrite = argv[1];
    }

    // Open the pipe; wait for an instance while all are busy.
    while (1)
    {
        hPipe = CreateFile(
            lpszPipename,   // pipe name
            GENERIC_READ |  // read and write access
            GENERIC_WRITE,
            0,              // no sharing
            NULL,           // default security attributes
            OPEN_EXISTING,  // opens existing pipe
            0,              // default attributes
            NULL);          // no template file

        if (hPipe != INVALID_HANDLE_VALUE)
            break;

        if (GetLastError() != ERROR_PIPE_BUSY)
        {
            printf("Could not open pipe\n");
            return 0;
        }

        if (!WaitNamedPipe(lpszPipename, 20000))
        {
            printf("Could not open pipe\n");
            return 0;
        }
    }

    // Transactions need message-read mode.
    dwMode = PIPE_READMODE_MESSAGE;
    fSuccess = SetNamedPipeHandleState(
        hPipe,   // pipe handle
        &dwMode, // new pipe mode
        NULL,    // don't set maximum bytes
        NULL);   // don't set maximum time
    if (!fSuccess)
    {
        printf("SetNamedPipeHandleState failed.\n");
        return 0;
    }

    // Write the request and read the reply in one call.
    fSuccess = TransactNamedPipe(
        hPipe,                                     // pipe handle
        lpszWrite,                                 // message to server
        (lstrlen(lpszWrite) + 1) * sizeof(TCHAR),  // message length
        chReadBuf,                                 // buffer to receive reply
        BUFSIZE * sizeof(TCHAR),                   // size of read buffer
        &cbRead,                                   // bytes read
        NULL);                                     // not overlapped

    if (!fSuccess && (GetLastError() != ERROR_MORE_DATA))
    {
        printf("TransactNamedPipe failed.\n");
        return 0;
    }

    while (1)
    {
        _tprintf(TEXT("%s\n"), chReadBuf);

        // Done unless the reply was longer than the buffer.
        if (fSuccess)
            break;

        fSuccess = ReadFile(
            hPipe,                   // pipe handle
            chReadBuf,               // buffer to receive reply
            BUFSIZE * sizeof(TCHAR), // size of buffer
            &cbRead,                 // number of bytes read
            NULL);                   // not overlapped

        if (!fSuccess && (GetLastError() != ERROR_MORE_DATA))
            break;
    }

    _tprintf(TEXT("\n<End of message, press ENTER to terminate connection and exit>"));
    _getch();

    CloseHandle(hPipe);

    return 0;
}
