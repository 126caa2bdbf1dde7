/*
 * access.c — every pipe function checks the access its handle holds before anything else
 * (spec/api.md "Rights needed per API"; conformance.md test_CreateNamedPipe for the masks,
 * test_filepipeinfo for "the access check comes first"): ReadFile and PeekNamedPipe need
 * read access, WriteFile write access, TransactNamedPipe both, GetNamedPipeInfo and
 * GetNamedPipeHandleState FILE_READ_ATTRIBUTES (which CreateFile always adds),
 * SetNamedPipeHandleState FILE_WRITE_ATTRIBUTES. A handle without the right gets
 * ERROR_ACCESS_DENIED. Only the cases Wine agrees with are here; the Rust suite
 * (crates/npfs-tests/tests/access.rs) adds the documented ones Wine does not check.
 */
#include "../check.h"

int main(void)
{
    char buf[16];
    DWORD n, st, fl, avail;
    const char *name = pipe_name("access");

    /* An outbound server: it writes; its client reads. */
    HANDLE s = CreateNamedPipeA(name, PIPE_ACCESS_OUTBOUND,
                                PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE, 1, 512, 512, 0, NULL);
    CHECK(s != INVALID_HANDLE_VALUE, "outbound server created");
    HANDLE c = CreateFileA(name, GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL);
    CHECK(c != INVALID_HANDLE_VALUE, "read-only client opened");
    CHECK_FAIL(ReadFile(s, buf, 1, &n, NULL), ERROR_ACCESS_DENIED, "ReadFile(outbound server)");
    CHECK_FAIL(PeekNamedPipe(s, buf, 1, &n, &avail, NULL), ERROR_ACCESS_DENIED,
               "PeekNamedPipe(outbound server)");
    CHECK_FAIL(GetNamedPipeInfo(s, &fl, NULL, NULL, NULL), ERROR_ACCESS_DENIED,
               "GetNamedPipeInfo(outbound server: no FILE_READ_ATTRIBUTES)");
    CHECK_FAIL(GetNamedPipeHandleStateA(s, &st, NULL, NULL, NULL, NULL, 0), ERROR_ACCESS_DENIED,
               "GetNamedPipeHandleState(outbound server)");
    CHECK_FAIL(TransactNamedPipe(s, "x", 1, buf, sizeof buf, &n, NULL), ERROR_ACCESS_DENIED,
               "TransactNamedPipe(outbound server)");
    st = PIPE_READMODE_BYTE;
    CHECK(SetNamedPipeHandleState(s, &st, NULL, NULL),
          "SetNamedPipeHandleState(outbound server) -> TRUE (FILE_GENERIC_WRITE has the right)");
    CHECK_FAIL(WriteFile(c, "x", 1, &n, NULL), ERROR_ACCESS_DENIED, "WriteFile(read-only client)");
    CHECK_FAIL(TransactNamedPipe(c, "x", 1, buf, sizeof buf, &n, NULL), ERROR_ACCESS_DENIED,
               "TransactNamedPipe(read-only client)");
    CHECK(GetNamedPipeInfo(c, &fl, NULL, NULL, NULL) && fl == PIPE_TYPE_MESSAGE,
          "GetNamedPipeInfo(read-only client) -> TRUE, a message pipe's client end");
    CHECK(WriteFile(s, "y", 1, &n, NULL) && n == 1, "WriteFile(outbound server) -> TRUE, 1 byte");
    CHECK(ReadFile(c, buf, sizeof buf, &n, NULL) && n == 1 && buf[0] == 'y',
          "ReadFile(read-only client) gets it");
    CloseHandle(c);
    CloseHandle(s);

    /* An inbound server: it reads; its client writes. */
    s = CreateNamedPipeA(name, PIPE_ACCESS_INBOUND, PIPE_TYPE_BYTE, 1, 512, 512, 0, NULL);
    CHECK(s != INVALID_HANDLE_VALUE, "inbound server created");
    c = CreateFileA(name, GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
    CHECK(c != INVALID_HANDLE_VALUE, "write-only client opened");
    CHECK_FAIL(WriteFile(s, "x", 1, &n, NULL), ERROR_ACCESS_DENIED, "WriteFile(inbound server)");
    st = PIPE_NOWAIT;
    CHECK_FAIL(SetNamedPipeHandleState(s, &st, NULL, NULL), ERROR_ACCESS_DENIED,
               "SetNamedPipeHandleState(inbound server: no FILE_WRITE_ATTRIBUTES)");
    st = PIPE_READMODE_MESSAGE; /* invalid on a byte pipe: the access check comes first */
    CHECK_FAIL(SetNamedPipeHandleState(s, &st, NULL, NULL), ERROR_ACCESS_DENIED,
               "SetNamedPipeHandleState(inbound server, message mode on a byte pipe)");
    CHECK(GetNamedPipeInfo(s, &fl, NULL, NULL, NULL) && fl == PIPE_SERVER_END,
          "GetNamedPipeInfo(inbound server) -> TRUE");
    CHECK_FAIL(ReadFile(c, buf, 1, &n, NULL), ERROR_ACCESS_DENIED, "ReadFile(write-only client)");
    CHECK_FAIL(PeekNamedPipe(c, buf, 1, &n, &avail, NULL), ERROR_ACCESS_DENIED,
               "PeekNamedPipe(write-only client)");
    CHECK(GetNamedPipeHandleStateA(c, &st, NULL, NULL, NULL, NULL, 0) && st == 0,
          "GetNamedPipeHandleState(write-only client) -> TRUE (CreateFile adds "
          "FILE_READ_ATTRIBUTES)");
    st = PIPE_NOWAIT;
    CHECK(SetNamedPipeHandleState(c, &st, NULL, NULL),
          "SetNamedPipeHandleState(write-only client) -> TRUE");
    CHECK(WriteFile(c, "z", 1, &n, NULL) && n == 1, "WriteFile(write-only client) -> TRUE");
    CHECK(ReadFile(s, buf, sizeof buf, &n, NULL) && n == 1 && buf[0] == 'z',
          "ReadFile(inbound server) gets it");
    CloseHandle(c);
    CloseHandle(s);

    /* A client opened with access 0 may only ask about the pipe. */
    s = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, 1, 512, 512, 0, NULL);
    CHECK(s != INVALID_HANDLE_VALUE, "duplex server created");
    c = CreateFileA(name, 0, 0, NULL, OPEN_EXISTING, 0, NULL);
    CHECK(c != INVALID_HANDLE_VALUE, "client opened with access 0");
    CHECK(GetNamedPipeInfo(c, &fl, NULL, NULL, NULL) && fl == 0,
          "GetNamedPipeInfo(access 0) -> TRUE");
    CHECK_FAIL(ReadFile(c, buf, 1, &n, NULL), ERROR_ACCESS_DENIED, "ReadFile(access 0)");
    CHECK_FAIL(WriteFile(c, "z", 1, &n, NULL), ERROR_ACCESS_DENIED, "WriteFile(access 0)");
    CloseHandle(c);
    CloseHandle(s);

    /* CreatePipe: the read end may set its state (it holds FILE_WRITE_ATTRIBUTES), the write
       end cannot read. */
    HANDLE r, w;
    CHECK(CreatePipe(&r, &w, NULL, 0), "CreatePipe");
    st = PIPE_READMODE_BYTE | PIPE_NOWAIT;
    CHECK(SetNamedPipeHandleState(r, &st, NULL, NULL), "SetNamedPipeHandleState(read end) -> TRUE");
    CHECK_FAIL(ReadFile(w, buf, 1, &n, NULL), ERROR_ACCESS_DENIED, "ReadFile(write end)");
    CHECK_FAIL(WriteFile(r, "x", 1, &n, NULL), ERROR_ACCESS_DENIED, "WriteFile(read end)");
    CloseHandle(r);
    CloseHandle(w);

    /* DuplicateHandle without DUPLICATE_SAME_ACCESS: the copy holds dwDesiredAccess (generic
       rights mapped as for files), and every call checks the copy's access, not the source's. */
    {
        HANDLE ro, wo, ro2, none, so;
        s = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE, 1, 512, 512, 0,
                             NULL);
        CHECK(s != INVALID_HANDLE_VALUE, "duplex message server created");
        c = CreateFileA(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
        CHECK(c != INVALID_HANDLE_VALUE, "read-write client opened");
        st = PIPE_READMODE_MESSAGE;
        CHECK(SetNamedPipeHandleState(c, &st, NULL, NULL), "the client switches to message read mode");
        CHECK(DuplicateHandle(GetCurrentProcess(), c, GetCurrentProcess(), &ro, GENERIC_READ, FALSE, 0),
              "DuplicateHandle(client, GENERIC_READ, no DUPLICATE_SAME_ACCESS)");
        CHECK_FAIL(WriteFile(ro, "x", 1, &n, NULL), ERROR_ACCESS_DENIED, "WriteFile(the GENERIC_READ copy)");
        CHECK_FAIL(TransactNamedPipe(ro, "x", 1, buf, sizeof buf, &n, NULL), ERROR_ACCESS_DENIED,
                   "TransactNamedPipe(the GENERIC_READ copy)");
        CHECK(WriteFile(s, "y", 1, &n, NULL) && n == 1, "the server writes 1 byte");
        CHECK(PeekNamedPipe(ro, buf, 1, &n, &avail, NULL) && avail == 1, "PeekNamedPipe(the GENERIC_READ copy) -> TRUE");
        CHECK(ReadFile(ro, buf, sizeof buf, &n, NULL) && n == 1 && buf[0] == 'y',
              "ReadFile(the GENERIC_READ copy) gets it");
        CHECK(GetNamedPipeInfo(ro, &fl, NULL, NULL, NULL) && fl == PIPE_TYPE_MESSAGE,
              "GetNamedPipeInfo(the GENERIC_READ copy) -> TRUE (FILE_GENERIC_READ has FILE_READ_ATTRIBUTES)");
        CHECK(DuplicateHandle(GetCurrentProcess(), ro, GetCurrentProcess(), &ro2, 0, FALSE, DUPLICATE_SAME_ACCESS),
              "DuplicateHandle(the GENERIC_READ copy, DUPLICATE_SAME_ACCESS)");
        CHECK_FAIL(WriteFile(ro2, "x", 1, &n, NULL), ERROR_ACCESS_DENIED, "WriteFile(its copy): the same access");
        CHECK(DuplicateHandle(GetCurrentProcess(), c, GetCurrentProcess(), &wo, GENERIC_WRITE, FALSE, 0),
              "DuplicateHandle(client, GENERIC_WRITE)");
        CHECK_FAIL(ReadFile(wo, buf, 1, &n, NULL), ERROR_ACCESS_DENIED, "ReadFile(the GENERIC_WRITE copy)");
        CHECK_FAIL(PeekNamedPipe(wo, buf, 1, &n, &avail, NULL), ERROR_ACCESS_DENIED,
                   "PeekNamedPipe(the GENERIC_WRITE copy)");
        CHECK_FAIL(GetNamedPipeInfo(wo, &fl, NULL, NULL, NULL), ERROR_ACCESS_DENIED,
                   "GetNamedPipeInfo(the GENERIC_WRITE copy: no FILE_READ_ATTRIBUTES; only CreateFile adds it)");
        CHECK(WriteFile(wo, "z", 1, &n, NULL) && n == 1, "WriteFile(the GENERIC_WRITE copy) -> TRUE");
        CHECK(ReadFile(s, buf, sizeof buf, &n, NULL) && n == 1 && buf[0] == 'z', "the server reads it");
        CHECK(DuplicateHandle(GetCurrentProcess(), c, GetCurrentProcess(), &none, 0, FALSE, 0),
              "DuplicateHandle(client, access 0)");
        CHECK_FAIL(ReadFile(none, buf, 1, &n, NULL), ERROR_ACCESS_DENIED, "ReadFile(the access-0 copy)");
        CHECK_FAIL(WriteFile(none, "z", 1, &n, NULL), ERROR_ACCESS_DENIED, "WriteFile(the access-0 copy)");
        CHECK_FAIL(GetNamedPipeInfo(none, &fl, NULL, NULL, NULL), ERROR_ACCESS_DENIED, "GetNamedPipeInfo(the access-0 copy)");
        CHECK(DuplicateHandle(GetCurrentProcess(), s, GetCurrentProcess(), &so, GENERIC_READ, FALSE, 0),
              "DuplicateHandle(server, GENERIC_READ)");
        CHECK_FAIL(WriteFile(so, "w", 1, &n, NULL), ERROR_ACCESS_DENIED, "WriteFile(the server's GENERIC_READ copy)");
        CHECK(WriteFile(c, "q", 1, &n, NULL) && n == 1, "the source handle keeps its own access: WriteFile(client)");
        CHECK(ReadFile(so, buf, sizeof buf, &n, NULL) && n == 1 && buf[0] == 'q',
              "ReadFile(the server's GENERIC_READ copy) gets it");
        CloseHandle(so);
        CloseHandle(none);
        CloseHandle(wo);
        CloseHandle(ro2);
        CloseHandle(ro);
        CloseHandle(c);
        CloseHandle(s);
    }
    printf("all %d checks passed\n", check_count);
    return 0;
}
