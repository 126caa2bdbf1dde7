/* The C ABI on a remote pipe (\\127.0.0.1\pipe\npfsmsg through smbd to tests/smb/npa_echo.py):
 * CreateFileA, WriteFile, ReadFile, TransactNamedPipe (ERROR_MORE_DATA, then the rest with
 * ReadFile), CallNamedPipeA, WaitNamedPipeA, errors, overlapped ReadFile, WriteFile and
 * TransactNamedPipe with GetOverlappedResult, CancelIoEx, CloseHandle. Run by tests/smb/client.sh with NPFS_SMB_USER/PASSWORD/PORT set. */
#include <windows.h>
#include <stdio.h>
#include <string.h>

static int checks, failed;
#define CHECK(c)                                                                   \
    do {                                                                           \
        checks++;                                                                  \
        if (!(c)) {                                                                \
            failed++;                                                              \
            printf("FAILED line %d: %s (GetLastError %lu)\n", __LINE__, #c,        \
                   (unsigned long)GetLastError());                                 \
        }                                                                          \
    } while (0)

int main(void)
{
    const char *name = "\\\\127.0.0.1\\pipe\\npfsmsg";
    char buf[256];
    setvbuf(stdout, NULL, _IONBF, 0); /* what it got to, should a step hang */
    DWORD n = 0, mode = PIPE_READMODE_MESSAGE;

    HANDLE h = CreateFileA(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
    CHECK(h != INVALID_HANDLE_VALUE);
    CHECK(SetNamedPipeHandleState(h, &mode, NULL, NULL));
    CHECK(WriteFile(h, "hello", 5, &n, NULL) && n == 5);
    memset(buf, 0, sizeof buf);
    CHECK(ReadFile(h, buf, sizeof buf, &n, NULL) && n == 5 && memcmp(buf, "hello", 5) == 0);

    char req[100];
    for (int i = 0; i < 100; i++) req[i] = (char)i;
    SetLastError(0);
    BOOL ok = TransactNamedPipe(h, req, 100, buf, 30, &n, NULL);
    CHECK(!ok && GetLastError() == ERROR_MORE_DATA && n == 30 && memcmp(buf, req, 30) == 0);
    CHECK(ReadFile(h, buf, sizeof buf, &n, NULL) && n == 70 && memcmp(buf, req + 30, 70) == 0);
    CHECK(CloseHandle(h));

    CHECK(CallNamedPipeA(name, "call", 4, buf, sizeof buf, &n, 1000) && n == 4 &&
          memcmp(buf, "call", 4) == 0);
    CHECK(WaitNamedPipeA(name, 1000));

    h = CreateFileA("\\\\127.0.0.1\\pipe\\nosuchpipe", GENERIC_READ | GENERIC_WRITE, 0, NULL,
                    OPEN_EXISTING, 0, NULL);
    CHECK(h == INVALID_HANDLE_VALUE && GetLastError() == ERROR_FILE_NOT_FOUND);
    CHECK(!WaitNamedPipeA("\\\\127.0.0.1\\pipe\\nosuchpipe", 100) &&
          GetLastError() == ERROR_FILE_NOT_FOUND);

    /* Overlapped I/O on a remote handle: a ReadFile that pends until the echo comes
     * (ERROR_IO_PENDING, the event set at completion, GetOverlappedResult), an overlapped
     * WriteFile and TransactNamedPipe, a ReadFileEx with its completion routine, and a read
     * cancelled while it waits in smbd, whose data the next read still gets. */
    h = CreateFileA(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
                    FILE_FLAG_OVERLAPPED, NULL);
    CHECK(h != INVALID_HANDLE_VALUE);
    CHECK(SetNamedPipeHandleState(h, &mode, NULL, NULL));
    OVERLAPPED ov, wov;
    memset(&ov, 0, sizeof ov);
    memset(&wov, 0, sizeof wov);
    ov.hEvent = CreateEventA(NULL, TRUE, FALSE, NULL);
    wov.hEvent = CreateEventA(NULL, TRUE, FALSE, NULL);
    memset(buf, 0, sizeof buf);
    SetLastError(0);
    printf("overlapped read, write\n");
    ok = ReadFile(h, buf, sizeof buf, NULL, &ov);
    CHECK(!ok && GetLastError() == ERROR_IO_PENDING);
    CHECK(!GetOverlappedResult(h, &ov, &n, FALSE) && GetLastError() == ERROR_IO_INCOMPLETE);
    ok = WriteFile(h, "overlapped", 10, NULL, &wov);
    CHECK(ok || GetLastError() == ERROR_IO_PENDING);
    CHECK(GetOverlappedResult(h, &wov, &n, TRUE) && n == 10);
    CHECK(WaitForSingleObject(ov.hEvent, 10000) == WAIT_OBJECT_0);
    CHECK(GetOverlappedResult(h, &ov, &n, FALSE) && n == 10 && memcmp(buf, "overlapped", 10) == 0);

    printf("overlapped transact\n");
    ResetEvent(ov.hEvent);
    ok = TransactNamedPipe(h, req, 100, buf, 30, NULL, &ov);
    CHECK(!ok && GetLastError() == ERROR_IO_PENDING);
    SetLastError(0);
    CHECK(!GetOverlappedResult(h, &ov, &n, TRUE) && GetLastError() == ERROR_MORE_DATA &&
          n == 30 && memcmp(buf, req, 30) == 0);
    CHECK(ReadFile(h, buf, sizeof buf, NULL, &ov) || GetLastError() == ERROR_IO_PENDING);
    CHECK(GetOverlappedResult(h, &ov, &n, TRUE) && n == 70 && memcmp(buf, req + 30, 70) == 0);

    /* Cancelled while it waits: ERROR_OPERATION_ABORTED; the echo then comes to the next read. */
    printf("cancelled read\n");
    ok = ReadFile(h, buf, sizeof buf, NULL, &ov);
    CHECK(!ok && GetLastError() == ERROR_IO_PENDING);
    CHECK(CancelIoEx(h, &ov));
    CHECK(!GetOverlappedResult(h, &ov, &n, TRUE) && GetLastError() == ERROR_OPERATION_ABORTED);
    CHECK(WriteFile(h, "after", 5, NULL, &wov) || GetLastError() == ERROR_IO_PENDING);
    CHECK(GetOverlappedResult(h, &wov, &n, TRUE) && n == 5);
    memset(buf, 0, sizeof buf);
    CHECK(ReadFile(h, buf, sizeof buf, NULL, &ov) || GetLastError() == ERROR_IO_PENDING);
    CHECK(GetOverlappedResult(h, &ov, &n, TRUE) && n == 5 && memcmp(buf, "after", 5) == 0);

    /* CloseHandle with a READ pending in smbd: it returns, the read completes aborted, and
     * the SMB side is closed (a new handle works as before). */
    printf("close with a read pending\n");
    ResetEvent(ov.hEvent);
    ok = ReadFile(h, buf, sizeof buf, NULL, &ov);
    CHECK(!ok && GetLastError() == ERROR_IO_PENDING);
    CHECK(CloseHandle(h));
    CHECK(WaitForSingleObject(ov.hEvent, 10000) == WAIT_OBJECT_0);
    CHECK(ov.Internal == 0xC0000120); /* STATUS_CANCELLED */
    h = CreateFileA(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
                    FILE_FLAG_OVERLAPPED, NULL);
    CHECK(h != INVALID_HANDLE_VALUE);
    CHECK(SetNamedPipeHandleState(h, &mode, NULL, NULL));
    ok = TransactNamedPipe(h, "again", 5, buf, sizeof buf, NULL, &ov);
    CHECK(ok || GetLastError() == ERROR_IO_PENDING);
    CHECK(GetOverlappedResult(h, &ov, &n, TRUE) && n == 5 && memcmp(buf, "again", 5) == 0);

    CHECK(CloseHandle(wov.hEvent));
    CHECK(CloseHandle(ov.hEvent));
    CHECK(CloseHandle(h));

    if (failed) {
        printf("%d of %d checks failed\n", failed, checks);
        return 1;
    }
    printf("all %d checks passed\n", checks);
    return 0;
}
