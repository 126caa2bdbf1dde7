/* errors.c — the Win32 error codes of the pipe functions in each situation, per-thread last
 * error, handle information and duplication (spec/conformance.md: test_CreateNamedPipe,
 * test_CreateNamedPipe_instances_must_match, test_DisconnectNamedPipe, test_ReadFile,
 * test_NamedPipeHandleState, test_GetNamedPipeInfo, test_TransactNamedPipe,
 * test_namedpipe_process_id, test_wait_pipe; §6 for ERROR_ALREADY_EXISTS). */
#include "../check.h"

static DWORD thread_saw;

static DWORD WINAPI last_error_thread(LPVOID arg)
{
    (void)arg;
    SetLastError(1234);
    thread_saw = GetLastError();
    return 77;
}

int main(void)
{
    const char *name = pipe_name("err"), *missing = pipe_name("missing");
    HANDLE server, server2, client, client2, dup, thread;
    DWORD n, state, inst, flags, outsz, insz, maxi, mode, code;
    ULONG pid;
    char buf[64];
    SECURITY_ATTRIBUTES sa;

    /* --- Names and parameters --- */
    CHECK_FAIL(WaitNamedPipeA(missing, 2000), ERROR_FILE_NOT_FOUND, "WaitNamedPipeA(nonexistent)");
    CHECK(CreateNamedPipeA("not a named pipe", PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, 1, 1024, 1024, 0, NULL) ==
                  INVALID_HANDLE_VALUE && GetLastError() == ERROR_INVALID_NAME,
          "CreateNamedPipeA(\"not a named pipe\") -> ERROR_INVALID_NAME (got %lu)", (unsigned long)GetLastError());
    CHECK(CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE | PIPE_READMODE_MESSAGE, 1, 1024, 1024, 0, NULL) ==
                  INVALID_HANDLE_VALUE && GetLastError() == ERROR_INVALID_PARAMETER,
          "CreateNamedPipeA(byte type, message read mode) -> ERROR_INVALID_PARAMETER (got %lu)", (unsigned long)GetLastError());
    CHECK(CreateNamedPipeA(NULL, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, 1, 1024, 1024, 0, NULL) == INVALID_HANDLE_VALUE &&
              GetLastError() == ERROR_PATH_NOT_FOUND,
          "CreateNamedPipeA(NULL) -> ERROR_PATH_NOT_FOUND (got %lu)", (unsigned long)GetLastError());
    CHECK(open_client(missing, 0) == INVALID_HANDLE_VALUE && GetLastError() == ERROR_FILE_NOT_FOUND,
          "CreateFileA(nonexistent pipe) -> ERROR_FILE_NOT_FOUND (got %lu)", (unsigned long)GetLastError());

    /* --- Listening instance --- */
    server = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT, 1, 1024,
                              1024, 0, NULL);
    CHECK(server != INVALID_HANDLE_VALUE, "CreateNamedPipeA(message, 1 instance, 1024/1024)");
    CHECK(is_signaled(server), "the new server handle is signalled");
    CHECK_FAIL(PeekNamedPipe(server, NULL, 0, NULL, &n, NULL), ERROR_BAD_PIPE, "PeekNamedPipe on a listening server");
    CHECK_FAIL(WriteFile(server, "x", 1, &n, NULL), ERROR_PIPE_LISTENING, "WriteFile on a listening server");
    CHECK_FAIL(ReadFile(server, buf, 1, &n, NULL), ERROR_PIPE_LISTENING, "ReadFile on a listening server");
    CHECK(WaitNamedPipeA(name, 2000), "WaitNamedPipeA with a listening instance -> TRUE");
    CHECK(CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE, 1, 1024, 1024, 0, NULL) == INVALID_HANDLE_VALUE &&
              GetLastError() == ERROR_PIPE_BUSY,
          "a second instance over nMaxInstances=1 -> ERROR_PIPE_BUSY (got %lu)", (unsigned long)GetLastError());

    /* --- Connected --- */
    client = open_client(name, 0);
    CHECK(client != INVALID_HANDLE_VALUE, "client CreateFileA");
    CHECK_FAIL(WaitNamedPipeA(name, 100), ERROR_SEM_TIMEOUT, "WaitNamedPipeA with no free instance");
    CHECK_FAIL(ConnectNamedPipe(server, NULL), ERROR_PIPE_CONNECTED, "ConnectNamedPipe after the client connected");
    CHECK_FAIL(ConnectNamedPipe(client, NULL), ERROR_INVALID_FUNCTION, "ConnectNamedPipe on a client handle");
    client2 = open_client(name, 0);
    CHECK(client2 == INVALID_HANDLE_VALUE && GetLastError() == ERROR_PIPE_BUSY,
          "a second client while the only instance is connected -> ERROR_PIPE_BUSY (got %lu)", (unsigned long)GetLastError());

    CHECK(WriteFile(client, "Bit Bucket", 11, &n, NULL) && n == 11, "client writes 11 bytes");
    n = 0;
    CHECK_FAIL(ReadFile(server, buf, 4, &n, NULL), ERROR_MORE_DATA, "synchronous ReadFile(4) of an 11-byte message");
    CHECK(n == 4, "the synchronous partial read reports 4 bytes (got %lu)", (unsigned long)n);
    CHECK(ReadFile(server, buf + 4, 32, &n, NULL) && n == 7, "the rest: 7 bytes");

    /* Handle state and info */
    state = inst = 0xdead;
    CHECK(GetNamedPipeHandleStateA(server, NULL, NULL, NULL, NULL, NULL, 0), "GetNamedPipeHandleStateA(all NULL) -> TRUE");
    CHECK(GetNamedPipeHandleStateA(server, &state, &inst, NULL, NULL, NULL, 0) && state == PIPE_READMODE_MESSAGE && inst == 1,
          "GetNamedPipeHandleStateA: state PIPE_READMODE_MESSAGE, 1 instance (got %lu, %lu)", (unsigned long)state,
          (unsigned long)inst);
    WINE_DEVIATION(2, "GetNamedPipeHandleState with collection count/timeout/user name on a local pipe")
    {
        DWORD cc, ct;
        char user[64];
        CHECK_FAIL(GetNamedPipeHandleStateA(server, &state, &inst, &cc, &ct, user, sizeof user), ERROR_INVALID_PARAMETER,
                   "GetNamedPipeHandleStateA(local pipe, collection count, timeout, user name)");
    }
    CHECK(GetNamedPipeInfo(server, &flags, &outsz, &insz, &maxi) && flags == (PIPE_SERVER_END | PIPE_TYPE_MESSAGE) &&
              outsz == 1024 && insz == 1024 && maxi == 1,
          "GetNamedPipeInfo(server): PIPE_SERVER_END|PIPE_TYPE_MESSAGE, 1024, 1024, 1");
    CHECK(GetNamedPipeInfo(client, &flags, NULL, NULL, NULL) && flags == (PIPE_CLIENT_END | PIPE_TYPE_MESSAGE),
          "GetNamedPipeInfo(client): PIPE_CLIENT_END|PIPE_TYPE_MESSAGE");

    /* TransactNamedPipe needs message read mode; the client starts in byte read mode. */
    CHECK_FAIL(TransactNamedPipe(client, "q", 2, buf, sizeof buf, &n, NULL), ERROR_BAD_PIPE,
               "TransactNamedPipe from a client in byte read mode");

    /* Process ids */
    pid = 0;
    CHECK(GetNamedPipeClientProcessId(server, &pid) && pid == GetCurrentProcessId(), "GetNamedPipeClientProcessId(server) = our pid");
    CHECK(GetNamedPipeServerProcessId(client, &pid) && pid == GetCurrentProcessId(), "GetNamedPipeServerProcessId(client) = our pid");
    WINE_DEVIATION(3, "Get*ProcessId with a NULL output pointer")
    {
        CHECK_FAIL(GetNamedPipeClientProcessId(server, NULL), ERROR_INSUFFICIENT_BUFFER, "GetNamedPipeClientProcessId(server, NULL)");
        CHECK_FAIL(GetNamedPipeServerProcessId(server, NULL), ERROR_INSUFFICIENT_BUFFER, "GetNamedPipeServerProcessId(server, NULL)");
    }

    /* The client's computer name: every npfs client is local (spec/api.md §2.12, the
       ERROR_PIPE_LOCAL callers expect; Windows' own result is undocumented). Wine 8.0 does
       not implement the function (it aborts), so this is npfs-only. */
    if (!under_wine()) {
        char cname[64];
        CHECK_FAIL(GetNamedPipeClientComputerNameA(server, cname, sizeof cname), ERROR_PIPE_LOCAL,
                   "GetNamedPipeClientComputerNameA(server of a local client)");
    }

    /* Session ids: this process's (conformance test_namedpipe_session_id). */
    DWORD sid = 0, mysid = 0, got = 0;
    CHECK(ProcessIdToSessionId(GetCurrentProcessId(), &mysid), "ProcessIdToSessionId(current)");
    CHECK(GetNamedPipeClientSessionId(server, &sid) && sid == mysid, "GetNamedPipeClientSessionId(server) = ours");
    CHECK(GetNamedPipeServerSessionId(server, &sid) && sid == mysid, "GetNamedPipeServerSessionId(server) = ours");
    CHECK(GetNamedPipeClientSessionId(client, &sid) && sid == mysid, "GetNamedPipeClientSessionId(client) = ours");
    CHECK(GetNamedPipeServerSessionId(client, &sid) && sid == mysid, "GetNamedPipeServerSessionId(client) = ours");
    WINE_DEVIATION(3, "GetNamedPipeServerSessionId with a NULL output pointer")
    {
        CHECK_FAIL(GetNamedPipeServerSessionId(server, NULL), ERROR_INSUFFICIENT_BUFFER, "GetNamedPipeServerSessionId(server, NULL)");
    }

    /* --- Disconnected --- */
    CHECK(WriteFile(client, "left over", 10, &n, NULL), "client writes 10 bytes nobody reads");
    CHECK(DisconnectNamedPipe(server), "DisconnectNamedPipe with unread data -> TRUE");
    CHECK_FAIL(WriteFile(client, "x", 1, &n, NULL), ERROR_PIPE_NOT_CONNECTED, "WriteFile(client) after disconnect");
    CHECK_FAIL(WriteFile(server, "x", 1, &n, NULL), ERROR_PIPE_NOT_CONNECTED, "WriteFile(server) after disconnect");
    CHECK_FAIL(ReadFile(client, buf, 1, &n, NULL), ERROR_PIPE_NOT_CONNECTED, "ReadFile(client) after disconnect");
    CHECK_FAIL(ReadFile(server, buf, 1, &n, NULL), ERROR_PIPE_NOT_CONNECTED, "ReadFile(server) after disconnect (data discarded)");
    CHECK_FAIL(DisconnectNamedPipe(server), ERROR_PIPE_NOT_CONNECTED, "a second DisconnectNamedPipe");
    CHECK(!is_signaled(client), "the disconnected client handle is not signalled");
    CHECK_FAIL(PeekNamedPipe(client, NULL, 0, NULL, &n, NULL), ERROR_PIPE_NOT_CONNECTED, "PeekNamedPipe(disconnected client)");
    CHECK_FAIL(PeekNamedPipe(server, NULL, 0, NULL, &n, NULL), ERROR_BAD_PIPE, "PeekNamedPipe(disconnected server)");
    client2 = open_client(name, 0);
    CHECK(client2 == INVALID_HANDLE_VALUE && GetLastError() == ERROR_PIPE_BUSY,
          "a client of a disconnected (not listening) instance -> ERROR_PIPE_BUSY (got %lu)", (unsigned long)GetLastError());
    CHECK(GetNamedPipeServerProcessId(server, &pid) && pid == GetCurrentProcessId(), "GetNamedPipeServerProcessId(disconnected server) still works");
    CHECK(GetNamedPipeServerSessionId(server, &got) && got == mysid, "GetNamedPipeServerSessionId(disconnected server) still works");
    WINE_DEVIATION(4, "session ids after DisconnectNamedPipe")
    {
        CHECK_FAIL(GetNamedPipeClientSessionId(server, &got), ERROR_NOT_FOUND, "GetNamedPipeClientSessionId(disconnected server)");
        CHECK_FAIL(GetNamedPipeClientSessionId(client, &got), ERROR_PIPE_NOT_CONNECTED, "GetNamedPipeClientSessionId(disconnected client)");
        CHECK_FAIL(GetNamedPipeServerSessionId(client, &got), ERROR_PIPE_NOT_CONNECTED, "GetNamedPipeServerSessionId(disconnected client)");
    }
    WINE_DEVIATION(4, "process ids after DisconnectNamedPipe")
    {
        CHECK_FAIL(GetNamedPipeClientProcessId(server, &pid), ERROR_NOT_FOUND, "GetNamedPipeClientProcessId(disconnected server)");
        CHECK_FAIL(GetNamedPipeClientProcessId(client, &pid), ERROR_PIPE_NOT_CONNECTED, "GetNamedPipeClientProcessId(disconnected client)");
        CHECK_FAIL(GetNamedPipeServerProcessId(client, &pid), ERROR_PIPE_NOT_CONNECTED, "GetNamedPipeServerProcessId(disconnected client)");
    }
    CloseHandle(client);
    CloseHandle(server);

    /* --- Peer closed: broken pipe for reads, no data for writes --- */
    server = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, 2, 1024, 1024, 0, NULL);
    client = open_client(name, 0);
    CHECK(server != INVALID_HANDLE_VALUE && client != INVALID_HANDLE_VALUE, "a new byte pipe, connected");
    CHECK(WriteFile(client, "bye", 3, &n, NULL), "client writes 3 bytes");
    CloseHandle(client);
    CHECK(ReadFile(server, buf, 10, &n, NULL) && n == 3, "data written before the close is still readable");
    CHECK_FAIL(ReadFile(server, buf, 10, &n, NULL), ERROR_BROKEN_PIPE, "then ReadFile -> ERROR_BROKEN_PIPE");
    CHECK_FAIL(WriteFile(server, "x", 1, &n, NULL), ERROR_NO_DATA, "WriteFile to a closed client -> ERROR_NO_DATA");
    CHECK_FAIL(ConnectNamedPipe(server, NULL), ERROR_NO_DATA, "ConnectNamedPipe before DisconnectNamedPipe (closing) -> ERROR_NO_DATA");
    mode = PIPE_READMODE_MESSAGE;
    CHECK_FAIL(SetNamedPipeHandleState(server, &mode, NULL, NULL), ERROR_INVALID_PARAMETER,
               "SetNamedPipeHandleState(byte server, PIPE_READMODE_MESSAGE)");

    /* Instance attributes: later instances are not compared with the first, except the direction.
     * (The last error after creating another instance, ERROR_ALREADY_EXISTS per conformance.md §6,
     * is not covered by Wine's tests and Wine 8 leaves it 0: not asserted here.) */
    server2 = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE, 3, 102, 24, 1234, NULL);
    CHECK(server2 != INVALID_HANDLE_VALUE, "a second instance with another type, max instances, sizes and timeout succeeds");
    CHECK(GetNamedPipeInfo(server2, &flags, NULL, NULL, &maxi) && maxi == 2,
          "the first instance's nMaxInstances governs (got %lu)", (unsigned long)maxi);
    CloseHandle(server2);
    CHECK(CreateNamedPipeA(name, PIPE_ACCESS_INBOUND, PIPE_TYPE_BYTE, 2, 1024, 1024, 0, NULL) == INVALID_HANDLE_VALUE &&
              GetLastError() == ERROR_ACCESS_DENIED,
          "an instance with another direction -> ERROR_ACCESS_DENIED (got %lu)", (unsigned long)GetLastError());
    CloseHandle(server);

    /* TransactNamedPipe on a byte pipe */
    server = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, 1, 1024, 1024, 0, NULL);
    client = open_client(name, 0);
    CHECK_FAIL(TransactNamedPipe(client, "q", 2, buf, sizeof buf, &n, NULL), ERROR_BAD_PIPE, "TransactNamedPipe on a byte pipe");

    /* --- Handles --- */
    CHECK_FAIL(CloseHandle((HANDLE)(ULONG_PTR)0xdeadbee0), ERROR_INVALID_HANDLE, "CloseHandle(bogus)");
    CHECK_FAIL(WriteFile((HANDLE)(ULONG_PTR)0xdeadbee0, "x", 1, &n, NULL), ERROR_INVALID_HANDLE, "WriteFile(bogus handle)");
    CHECK(GetHandleInformation(client, &flags) && flags == 0, "a client opened without inheritance: flags 0");
    CHECK(SetHandleInformation(client, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT) && GetHandleInformation(client, &flags) &&
              flags == HANDLE_FLAG_INHERIT,
          "SetHandleInformation(HANDLE_FLAG_INHERIT) sets it");
    CHECK(SetHandleInformation(client, HANDLE_FLAG_INHERIT, 0) && GetHandleInformation(client, &flags) && flags == 0,
          "and clears it");
    CloseHandle(client);
    CloseHandle(server);
    sa.nLength = sizeof sa;
    sa.lpSecurityDescriptor = NULL;
    sa.bInheritHandle = TRUE;
    server = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, 1, 1024, 1024, 0, &sa);
    CHECK(GetHandleInformation(server, &flags) && flags == HANDLE_FLAG_INHERIT,
          "CreateNamedPipeA with bInheritHandle=TRUE: HANDLE_FLAG_INHERIT");
    client = open_client(name, 0);
    CHECK(DuplicateHandle(GetCurrentProcess(), client, GetCurrentProcess(), &dup, 0, FALSE, DUPLICATE_SAME_ACCESS),
          "DuplicateHandle(client)");
    CHECK(dup != client, "the duplicate is another handle value");
    CloseHandle(client);
    CHECK(WriteFile(dup, "dup", 4, &n, NULL) && ReadFile(server, buf, 10, &n, NULL) && n == 4,
          "the duplicate still reaches the server after the original is closed");
    CHECK(DuplicateHandle(GetCurrentProcess(), dup, GetCurrentProcess(), &client, 0, FALSE,
                          DUPLICATE_SAME_ACCESS | DUPLICATE_CLOSE_SOURCE),
          "DuplicateHandle(DUPLICATE_CLOSE_SOURCE)");
    CHECK(WriteFile(client, "moved", 6, &n, NULL) && ReadFile(server, buf, 10, &n, NULL) && n == 6,
          "the moved handle reaches the server");
    CloseHandle(client);
    CloseHandle(server);

    /* --- The last error is per thread --- */
    SetLastError(42);
    thread = CreateThread(NULL, 0, last_error_thread, NULL, 0, NULL);
    CHECK(thread != NULL && WaitForSingleObject(thread, 5000) == WAIT_OBJECT_0, "a thread runs");
    CHECK(GetLastError() == 42 && thread_saw == 1234, "each thread has its own last error (main %lu, thread %lu)",
          (unsigned long)GetLastError(), (unsigned long)thread_saw);
    CHECK(GetExitCodeThread(thread, &code) && code == 77, "GetExitCodeThread = the thread's return value");
    CloseHandle(thread);

    /* INVALID_HANDLE_VALUE is the process pseudo-handle, not a pipe (conformance §4
       test_filepipeinfo: STATUS_OBJECT_TYPE_MISMATCH, which Win32 reports as
       ERROR_INVALID_HANDLE). */
    {
        DWORD st = 0;
        CHECK_FAIL(GetNamedPipeHandleStateA(INVALID_HANDLE_VALUE, &st, NULL, NULL, NULL, NULL, 0), ERROR_INVALID_HANDLE,
                   "GetNamedPipeHandleState(INVALID_HANDLE_VALUE)");
        st = PIPE_READMODE_BYTE;
        CHECK_FAIL(SetNamedPipeHandleState(INVALID_HANDLE_VALUE, &st, NULL, NULL), ERROR_INVALID_HANDLE,
                   "SetNamedPipeHandleState(INVALID_HANDLE_VALUE)");
    }
    done("errors");
    return 0;
}
