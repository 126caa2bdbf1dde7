/* environ.c — pipe calls never touch the process environment (a C program's threads may call
 * getenv at any time, and setenv under a concurrent getenv is undefined behaviour in glibc).
 * One thread reads the environment in a loop while the main thread creates, duplicates,
 * re-flags and closes inheritable pipe handles; the `environ` array, its entries and what
 * getenv returns must stay exactly as they were (no NPFS_HANDLES appears: what a child
 * inherits is built when CreateProcess starts it). */
#include "../check.h"

#ifdef _WIN32
#define ENVIRON _environ
#else
extern char **environ;
#define ENVIRON environ
#endif

#define ROUNDS 200
#define MAX_SEEN 512

static char **env0;
static char *seen[MAX_SEEN];
static size_t n_seen;
static const char *path0;
static volatile LONG stop;
static volatile LONG changes;
static volatile LONG reads;

static int environment_unchanged(void)
{
    size_t i;
    if (ENVIRON != env0 || getenv("PATH") != path0 || getenv("NPFS_HANDLES") != NULL)
        return 0;
    for (i = 0; i < n_seen; i++)
        if (env0[i] != seen[i])
            return 0;
    return env0[n_seen] == NULL || n_seen == MAX_SEEN;
}

static DWORD WINAPI reader(LPVOID arg)
{
    (void)arg;
    while (!stop) {
        if (!environment_unchanged())
            changes++;
        reads++;
    }
    return 0;
}

int main(void)
{
    const char *name = pipe_name("environ");
    SECURITY_ATTRIBUTES sa;
    HANDLE thread, server, client, dup, r, w;
    DWORD flags;
    int i, ok = 1;

    env0 = ENVIRON;
    for (n_seen = 0; n_seen < MAX_SEEN && env0[n_seen]; n_seen++)
        seen[n_seen] = env0[n_seen];
    path0 = getenv("PATH");
    CHECK(getenv("NPFS_HANDLES") == NULL, "no NPFS_HANDLES in the environment at start (%u entries)", (unsigned)n_seen);

    sa.nLength = sizeof sa;
    sa.lpSecurityDescriptor = NULL;
    sa.bInheritHandle = TRUE;
    thread = CreateThread(NULL, 0, reader, NULL, 0, NULL);
    CHECK(thread != NULL, "a thread reads the environment (getenv) in a loop");

    for (i = 0; i < ROUNDS && ok; i++) {
        server = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, 1, 1024, 1024, 0, &sa);
        client = CreateFileA(name, GENERIC_READ | GENERIC_WRITE, 0, &sa, OPEN_EXISTING, 0, NULL);
        ok &= server != INVALID_HANDLE_VALUE && client != INVALID_HANDLE_VALUE;
        ok &= ConnectNamedPipe(server, NULL) || GetLastError() == ERROR_PIPE_CONNECTED;
        ok &= DuplicateHandle(GetCurrentProcess(), client, GetCurrentProcess(), &dup, 0, TRUE, DUPLICATE_SAME_ACCESS);
        ok &= SetHandleInformation(dup, HANDLE_FLAG_INHERIT, 0);
        ok &= SetHandleInformation(server, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
        ok &= GetHandleInformation(server, &flags) && (flags & HANDLE_FLAG_INHERIT);
        ok &= CreatePipe(&r, &w, &sa, 0);
        if (i == ROUNDS / 2) /* inheritable handles are alive right now */
            ok &= getenv("NPFS_HANDLES") == NULL && environment_unchanged();
        ok &= CloseHandle(r) && CloseHandle(w) && CloseHandle(dup) && CloseHandle(client) && CloseHandle(server);
    }
    CHECK(ok, "%d rounds of CreateNamedPipeA, CreateFileA, ConnectNamedPipe, DuplicateHandle, SetHandleInformation, "
              "CreatePipe, CloseHandle (all inheritable) succeeded, NPFS_HANDLES absent while they lived",
          i);
    stop = 1;
    CHECK(WaitForSingleObject(thread, 10000) == WAIT_OBJECT_0, "the reader thread ends");
    CloseHandle(thread);
    CHECK(reads > 0 && changes == 0, "the reader saw the same environ, entries and getenv results throughout (%ld reads)",
          (long)reads);
    CHECK(ENVIRON == env0, "environ is the same array as at start");
    CHECK(environment_unchanged(), "its %u entries are the same strings; getenv(\"PATH\") the same pointer", (unsigned)n_seen);
    CHECK(getenv("NPFS_HANDLES") == NULL, "still no NPFS_HANDLES");
    done("environ");
    return 0;
}
