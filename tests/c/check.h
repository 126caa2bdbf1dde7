/*
 * check.h — the tiny harness of the C conformance programs. Each program prints one line per
 * checked fact ("ok N - fact") and exits 1 at the first failure ("FAIL N - fact [where]").
 * Builds against npfs's include/ (Linux) and mingw-w64's headers (Windows / Wine).
 *
 * WINE_DEVIATION(item, "what") { ... } guards a check of Windows behaviour that Wine is known
 * not to match (spec/conformance.md §5 [todo_wine] item `item`; 0 for one found beyond that
 * list, described in tests/c/README.md); it is skipped when NPFS_UNDER_WINE=1.
 */
#ifndef NPFS_TESTS_CHECK_H
#define NPFS_TESTS_CHECK_H

#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef STATUS_BUFFER_OVERFLOW
#define STATUS_BUFFER_OVERFLOW 0x80000005 /* ntstatus.h; not in windows.h */
#endif
#define STATUS_SUCCESS_VALUE 0

#define CHECK_UNUSED __attribute__((unused))

static int check_count;

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (cond) {                                                                        \
            printf("ok %d - ", ++check_count);                                             \
            printf(__VA_ARGS__);                                                           \
            printf("\n");                                                                  \
            fflush(stdout);                                                                \
        } else {                                                                           \
            printf("FAIL %d - ", ++check_count);                                           \
            printf(__VA_ARGS__);                                                           \
            printf("  [%s:%d: %s]\n", __FILE__, __LINE__, #cond);                          \
            fflush(stdout);                                                                \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

/* A call that must fail (FALSE) with last error `err`; prints what it got otherwise. */
#define CHECK_FAIL(call, err, what)                                                        \
    do {                                                                                   \
        BOOL r_ = (call);                                                                  \
        DWORD e_ = GetLastError();                                                         \
        CHECK(!r_ && e_ == (DWORD)(err), "%s -> FALSE, %s (got %d, %lu)", what, #err,      \
              (int)r_, (unsigned long)e_);                                                 \
    } while (0)

CHECK_UNUSED static int under_wine(void)
{
    const char *e = getenv("NPFS_UNDER_WINE");
    return e && strcmp(e, "1") == 0;
}

#define WINE_DEVIATION(item, what)                                                         \
    if (under_wine()) {                                                                    \
        if (item)                                                                          \
            printf("skip - Wine deviation (conformance.md section 5 item %d): %s\n", item, what); \
        else                                                                               \
            printf("skip - Wine deviation (tests/c/README.md; not in conformance.md): %s\n", what); \
        fflush(stdout);                                                                    \
    } else

/* A pipe name unique to this process and tag. */
CHECK_UNUSED static const char *pipe_name(const char *tag)
{
    static char names[8][128];
    static int next;
    char *n = names[next++ % 8];
    snprintf(n, 128, "\\\\.\\pipe\\npfs_ctest_%s_%lu", tag, (unsigned long)GetCurrentProcessId());
    return n;
}

CHECK_UNUSED static int is_signaled(HANDLE h)
{
    return WaitForSingleObject(h, 0) == WAIT_OBJECT_0;
}

/* An OVERLAPPED full of garbage except hEvent, as real programs leave it. */
CHECK_UNUSED static void garbage_ov(OVERLAPPED *ov, HANDLE ev)
{
    memset(ov, 0xcc, sizeof *ov);
    ov->Internal = 0xdeadbeef;
    ov->InternalHigh = 0xdeadbeef;
    ov->hEvent = ev;
}

CHECK_UNUSED static HANDLE make_event(BOOL signaled)
{
    HANDLE ev = CreateEventA(NULL, TRUE, signaled, NULL);
    if (!ev) {
        printf("FAIL - CreateEventA: %lu\n", (unsigned long)GetLastError());
        exit(1);
    }
    return ev;
}

CHECK_UNUSED static HANDLE open_client(const char *name, DWORD flags)
{
    return CreateFileA(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, flags, NULL);
}

/* A connected pair: overlapped server (type/read mode from `mode`, 1 instance, out/in quota)
 * and a client opened with `cflags`, in message read mode when the server's mode asks. */
CHECK_UNUSED static void make_pair(const char *name, DWORD mode, DWORD out, DWORD in, DWORD cflags, HANDLE *server,
                      HANDLE *client)
{
    OVERLAPPED ov;
    DWORD n;
    HANDLE ev = make_event(FALSE);
    *server = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED, mode, 1, out, in, 0, NULL);
    if (*server == INVALID_HANDLE_VALUE) {
        printf("FAIL - make_pair CreateNamedPipeA(%s): %lu\n", name, (unsigned long)GetLastError());
        exit(1);
    }
    memset(&ov, 0, sizeof ov);
    ov.hEvent = ev;
    if (ConnectNamedPipe(*server, &ov) || GetLastError() != ERROR_IO_PENDING) {
        printf("FAIL - make_pair ConnectNamedPipe: %lu\n", (unsigned long)GetLastError());
        exit(1);
    }
    *client = open_client(name, cflags);
    if (*client == INVALID_HANDLE_VALUE || !GetOverlappedResult(*server, &ov, &n, TRUE)) {
        printf("FAIL - make_pair client: %lu\n", (unsigned long)GetLastError());
        exit(1);
    }
    if (mode & PIPE_READMODE_MESSAGE) {
        DWORD m = PIPE_READMODE_MESSAGE;
        if (!SetNamedPipeHandleState(*client, &m, NULL, NULL)) {
            printf("FAIL - make_pair SetNamedPipeHandleState: %lu\n", (unsigned long)GetLastError());
            exit(1);
        }
    }
    CloseHandle(ev);
}

CHECK_UNUSED static void done(const char *prog)
{
    printf("# %s: all %d checks passed\n", prog, check_count);
    fflush(stdout);
}

#endif /* NPFS_TESTS_CHECK_H */
