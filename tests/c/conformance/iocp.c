/* iocp.c — I/O completion ports with pipes (spec/conformance.md: serverThreadMain4,
 * test_completion): packets carry the key and the exact OVERLAPPED pointer, an immediate
 * success still queues a packet, an immediate failure queues none; Post/GetQueuedCompletionStatus(Ex). */
#include "../check.h"

#define KEY 12345

int main(void)
{
    const char *name = pipe_name("iocp");
    HANDLE server, client, port, ev = make_event(FALSE);
    OVERLAPPED ov_connect, ov_read, ov_write, *pov;
    OVERLAPPED_ENTRY entries[4];
    ULONG_PTR key;
    ULONG removed;
    DWORD n, i, rd, avail;
    char buf[64];
    BOOL ok;

    server = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED,
                              PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT, 1, 1024, 1024, 0, NULL);
    CHECK(server != INVALID_HANDLE_VALUE, "CreateNamedPipeA(overlapped)");
    port = CreateIoCompletionPort(server, NULL, KEY, 1);
    CHECK(port != NULL, "CreateIoCompletionPort(server, NULL, key 12345)");

    pov = (OVERLAPPED *)1;
    key = 1;
    CHECK_FAIL(GetQueuedCompletionStatus(port, &n, &key, &pov, 0), WAIT_TIMEOUT, "GetQueuedCompletionStatus(0 ms) on an empty port");
    CHECK(pov == NULL, "a timed-out GetQueuedCompletionStatus sets *lpOverlapped to NULL");

    /* Connect: a packet with the key and the OVERLAPPED pointer. */
    memset(&ov_connect, 0, sizeof ov_connect);
    CHECK_FAIL(ConnectNamedPipe(server, &ov_connect), ERROR_IO_PENDING, "overlapped ConnectNamedPipe");
    client = open_client(name, 0);
    CHECK(client != INVALID_HANDLE_VALUE, "a client opens");
    ok = GetQueuedCompletionStatus(port, &n, &key, &pov, 5000);
    CHECK(ok && key == KEY && pov == &ov_connect && n == 0,
          "the connect's packet: TRUE, key 12345, &ov_connect, 0 bytes (got %d, %lu, %p, %lu)", (int)ok,
          (unsigned long)key, (void *)pov, (unsigned long)n);
    {
        DWORD m = PIPE_READMODE_MESSAGE;
        CHECK(SetNamedPipeHandleState(client, &m, NULL, NULL), "client switches to message read mode");
    }

    /* An overlapped write that completes at once still queues a packet. */
    memset(&ov_write, 0, sizeof ov_write);
    CHECK(WriteFile(server, "testdata", 9, &n, &ov_write) && n == 9, "overlapped WriteFile completes at once -> TRUE, 9");
    ok = GetQueuedCompletionStatus(port, &n, &key, &pov, 5000);
    CHECK(ok && key == KEY && pov == &ov_write && n == 9, "the immediate success still queues a packet: key, &ov_write, 9");
    CHECK(ReadFile(client, buf, sizeof buf, &n, NULL) && n == 9, "the client reads the message");

    /* A pending read: its packet arrives when the data does. */
    memset(&ov_read, 0, sizeof ov_read);
    CHECK_FAIL(ReadFile(server, buf, sizeof buf, &n, &ov_read), ERROR_IO_PENDING, "overlapped ReadFile on an empty pipe");
    CHECK_FAIL(GetQueuedCompletionStatus(port, &n, &key, &pov, 0), WAIT_TIMEOUT, "no packet while the read is pending");
    CHECK(WriteFile(client, "ping", 5, &n, NULL), "client writes 5 bytes");
    ok = GetQueuedCompletionStatus(port, &n, &key, &pov, 5000);
    CHECK(ok && key == KEY && pov == &ov_read && n == 5, "the read's packet: key, &ov_read, 5 bytes");

    /* A partial message read completes with a warning: the packet says ERROR_MORE_DATA. */
    CHECK(WriteFile(client, "Bit Bucket", 11, &n, NULL), "client writes 11 bytes");
    memset(&ov_read, 0, sizeof ov_read);
    CHECK_FAIL(ReadFile(server, buf, 4, &n, &ov_read), ERROR_MORE_DATA, "overlapped ReadFile(4) of the 11-byte message");
    pov = NULL;
    n = 0;
    ok = GetQueuedCompletionStatus(port, &n, &key, &pov, 5000);
    CHECK(!ok && GetLastError() == ERROR_MORE_DATA && pov == &ov_read && n == 4,
          "its packet: FALSE, ERROR_MORE_DATA, &ov_read, 4 bytes (got %d, %lu, %p, %lu)", (int)ok,
          (unsigned long)GetLastError(), (void *)pov, (unsigned long)n);
    memset(&ov_read, 0, sizeof ov_read);
    CHECK(ReadFile(server, buf, sizeof buf, &n, &ov_read) && n == 7, "the rest: 7 bytes at once");
    CHECK(GetQueuedCompletionStatus(port, &n, &key, &pov, 5000) && pov == &ov_read && n == 7, "and its packet");

    /* Client gone: immediate failures queue no packet. */
    CloseHandle(client);
    for (i = 0; i < 200 && PeekNamedPipe(server, NULL, 0, &rd, &avail, NULL); i++)
        Sleep(10);
    CHECK(i < 200, "PeekNamedPipe(server) fails once the client has closed");
    memset(&ov_write, 0, sizeof ov_write);
    CHECK_FAIL(WriteFile(server, "x", 1, &n, &ov_write), ERROR_NO_DATA, "overlapped WriteFile after the client closed");
    pov = (OVERLAPPED *)1;
    CHECK_FAIL(GetQueuedCompletionStatus(port, &n, &key, &pov, 0), WAIT_TIMEOUT, "no packet for the failed write");
    CHECK(pov == NULL, "lpOverlapped is NULL");
    memset(&ov_read, 0, sizeof ov_read);
    CHECK_FAIL(ReadFile(server, buf, 1, &n, &ov_read), ERROR_BROKEN_PIPE, "overlapped ReadFile after the client closed");
    CHECK_FAIL(GetQueuedCompletionStatus(port, &n, &key, &pov, 0), WAIT_TIMEOUT, "no packet for the failed read");
    CHECK(FlushFileBuffers(server), "FlushFileBuffers on the broken server -> TRUE");
    CHECK(DisconnectNamedPipe(server), "DisconnectNamedPipe -> TRUE");

    /* PostQueuedCompletionStatus and GetQueuedCompletionStatusEx: FIFO, values as posted. */
    CHECK(PostQueuedCompletionStatus(port, 42, 7, (LPOVERLAPPED)(ULONG_PTR)0x1234), "PostQueuedCompletionStatus(42, 7, 0x1234)");
    ok = GetQueuedCompletionStatus(port, &n, &key, &pov, 0);
    CHECK(ok && n == 42 && key == 7 && pov == (LPOVERLAPPED)(ULONG_PTR)0x1234, "GetQueuedCompletionStatus returns the posted values");
    CHECK(PostQueuedCompletionStatus(port, 1, 100, NULL) && PostQueuedCompletionStatus(port, 2, 200, &ov_read) &&
              PostQueuedCompletionStatus(port, 3, 300, NULL),
          "three packets posted");
    removed = 0;
    ok = GetQueuedCompletionStatusEx(port, entries, 2, &removed, 0, FALSE);
    CHECK(ok && removed == 2, "GetQueuedCompletionStatusEx(count 2) removes 2 (got %lu)", (unsigned long)removed);
    CHECK(entries[0].dwNumberOfBytesTransferred == 1 && entries[0].lpCompletionKey == 100 && entries[0].lpOverlapped == NULL &&
              entries[1].dwNumberOfBytesTransferred == 2 && entries[1].lpCompletionKey == 200 &&
              entries[1].lpOverlapped == &ov_read,
          "the entries are the first two posts, in order");
    ok = GetQueuedCompletionStatusEx(port, entries, 4, &removed, 0, FALSE);
    CHECK(ok && removed == 1 && entries[0].lpCompletionKey == 300, "then the third");
    CHECK_FAIL(GetQueuedCompletionStatusEx(port, entries, 4, &removed, 0, FALSE), WAIT_TIMEOUT,
               "GetQueuedCompletionStatusEx on an empty port");

    CloseHandle(server);
    CloseHandle(port);
    CloseHandle(ev);
    done("iocp");
    return 0;
}
