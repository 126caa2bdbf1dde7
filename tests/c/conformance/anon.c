/*
 * anon.c — CreatePipe (conformance.md §3 test_CreatePipe): the read end is the server end,
 * both report the requested size (4096 for 0) and one instance; data written before the write
 * end closes is still read, then ReadFile fails with ERROR_BROKEN_PIPE; a write that fits the
 * size completes at once.
 */
#include "../check.h"

static void check_info(HANDLE h, DWORD flags, DWORD size, const char *what)
{
    DWORD f = 99, out = 99, in = 99, max = 99;
    CHECK(GetNamedPipeInfo(h, &f, &out, &in, &max), "GetNamedPipeInfo(%s)", what);
    CHECK(f == flags && out == size && in == size && max == 1, "%s: flags %lu, out %lu, in %lu, max %lu", what,
          (unsigned long)f, (unsigned long)out, (unsigned long)in, (unsigned long)max);
}

int main(void)
{
    HANDLE r, w;
    DWORD n;
    char buf[64];
    static char big[32768], back[32768];

    CHECK(CreatePipe(&r, &w, NULL, 0), "CreatePipe(size 0)");
    check_info(r, PIPE_SERVER_END, 4096, "read end");
    check_info(w, PIPE_CLIENT_END, 4096, "write end");
    CHECK(WriteFile(w, "test", 4, &n, NULL) && n == 4, "WriteFile(write end) 4 bytes");
    CHECK(CloseHandle(w), "close the write end");
    CHECK(ReadFile(r, buf, sizeof buf, &n, NULL) && n == 4 && !memcmp(buf, "test", 4),
          "the data written before the close is still read");
    CHECK_FAIL(ReadFile(r, buf, sizeof buf, &n, NULL), ERROR_BROKEN_PIPE, "the next ReadFile");
    CloseHandle(r);

    CHECK(CreatePipe(&r, &w, NULL, 32768 + 24), "CreatePipe(size 32768+24)");
    for (int i = 0; i < (int)sizeof big; i++)
        big[i] = (char)(i * 7 + 3);
    CHECK(WriteFile(w, big, sizeof big, &n, NULL) && n == sizeof big, "one 32768-byte WriteFile completes at once");
    CloseHandle(w);
    DWORD got = 0;
    while (got < sizeof back && ReadFile(r, back + got, sizeof back - got, &n, NULL) && n > 0)
        got += n;
    CHECK(got == sizeof back && !memcmp(big, back, sizeof big), "all 32768 bytes read back intact");
    CHECK_FAIL(ReadFile(r, buf, sizeof buf, &n, NULL), ERROR_BROKEN_PIPE, "then ReadFile");
    CloseHandle(r);

    CHECK(CreatePipe(&r, &w, NULL, 1), "CreatePipe(size 1)");
    check_info(r, PIPE_SERVER_END, 1, "read end of a size-1 pipe");
    check_info(w, PIPE_CLIENT_END, 1, "write end of a size-1 pipe");
    CloseHandle(r);
    CloseHandle(w);
    done("anon");
    return 0;
}
