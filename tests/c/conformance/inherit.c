/* inherit.c — handles across processes (spec/conformance.md: test_namedpipe_process_id
 * cross-process, create_overlapped_pipe's inheritable client, test_overlapped_transport's
 * child). The parent opens an inheritable client end and starts itself as a child that
 * inherits it; as Windows programs do, the handle value travels on the command line.
 * Windows: CreateProcess(bInheritHandles=TRUE). Linux: posix_spawn. */
#include "../check.h"

#ifdef _WIN32
static DWORD spawn_self(const char *mode, HANDLE h, const char *name, HANDLE *process)
{
    char path[MAX_PATH], cmd[1024];
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    GetModuleFileNameA(NULL, path, sizeof path);
    snprintf(cmd, sizeof cmd, "\"%s\" %s %llu %lu %s", path, mode, (unsigned long long)(ULONG_PTR)h,
             (unsigned long)GetCurrentProcessId(), name);
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    if (!CreateProcessA(path, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi))
        return 0;
    CloseHandle(pi.hThread);
    *process = pi.hProcess;
    return pi.dwProcessId;
}

static int wait_child(HANDLE process)
{
    DWORD code = 255;
    if (WaitForSingleObject(process, 30000) != WAIT_OBJECT_0)
        return -1;
    GetExitCodeProcess(process, &code);
    CloseHandle(process);
    return (int)code;
}
#else
#include <spawn.h>
#include <sys/wait.h>
extern char **environ;

static DWORD spawn_self(const char *mode, HANDLE h, const char *name, pid_t *process)
{
    char hv[32], pp[32];
    char *argv[6];
    snprintf(hv, sizeof hv, "%llu", (unsigned long long)(ULONG_PTR)h);
    snprintf(pp, sizeof pp, "%lu", (unsigned long)GetCurrentProcessId());
    argv[0] = (char *)"inherit";
    argv[1] = (char *)mode;
    argv[2] = hv;
    argv[3] = pp;
    argv[4] = (char *)name;
    argv[5] = NULL;
    if (posix_spawn(process, "/proc/self/exe", NULL, NULL, argv, environ) != 0)
        return 0;
    return (DWORD)*process;
}

static int wait_child(pid_t process)
{
    int status;
    if (waitpid(process, &status, 0) != process)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
#endif

/* The child: argv = mode, handle value, parent pid, pipe name. */
static int child(int argc, char **argv)
{
    HANDLE h;
    ULONG pid;
    DWORD n, parent;
    char buf[64], msg[64];
    if (argc < 5)
        return 2;
    h = (HANDLE)(ULONG_PTR)strtoull(argv[2], NULL, 10);
    parent = (DWORD)strtoul(argv[3], NULL, 10);
    if (strcmp(argv[1], "inherited") == 0) {
        DWORD flags = 0;
        CHECK(GetHandleInformation(h, &flags) && (flags & HANDLE_FLAG_INHERIT),
              "child: the inherited handle value is valid here, HANDLE_FLAG_INHERIT set");
        snprintf(msg, sizeof msg, "hello from %lu", (unsigned long)GetCurrentProcessId());
        CHECK(WriteFile(h, msg, (DWORD)strlen(msg) + 1, &n, NULL), "child: WriteFile through the inherited client end");
        CHECK(ReadFile(h, buf, sizeof buf, &n, NULL) && n == 6 && strcmp(buf, "reply") == 0, "child: reads the parent's reply");
        CHECK(GetNamedPipeServerProcessId(h, &pid) && pid == parent, "child: GetNamedPipeServerProcessId = parent pid");
        CloseHandle(h);
        return 0;
    }
    if (strcmp(argv[1], "open") == 0) {
        h = open_client(argv[4], 0);
        CHECK(h != INVALID_HANDLE_VALUE, "child: opens the pipe by name");
        CHECK(GetNamedPipeClientProcessId(h, &pid) && pid == GetCurrentProcessId(), "child: ClientProcessId = its own pid");
        CHECK(GetNamedPipeServerProcessId(h, &pid) && pid == parent, "child: ServerProcessId = parent pid");
        CHECK(WriteFile(h, "x", 1, &n, NULL), "child: writes 1 byte");
        CHECK(ReadFile(h, buf, 1, &n, NULL) && n == 1, "child: waits for the parent's byte");
        CloseHandle(h);
        return 0;
    }
    return 2;
}

int main(int argc, char **argv)
{
    const char *name = pipe_name("inherit");
    SECURITY_ATTRIBUTES sa;
    HANDLE server, client;
    DWORD n, flags, child_pid;
    ULONG pid;
    char buf[64], expect[64];
#ifdef _WIN32
    HANDLE process;
#else
    pid_t process;
#endif

    if (argc > 1)
        return child(argc, argv);

    /* --- An inherited client end --- */
    server = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE, 2, 1024, 1024, 0, NULL);
    CHECK(server != INVALID_HANDLE_VALUE, "parent: CreateNamedPipeA");
    sa.nLength = sizeof sa;
    sa.lpSecurityDescriptor = NULL;
    sa.bInheritHandle = TRUE;
    client = CreateFileA(name, GENERIC_READ | GENERIC_WRITE, 0, &sa, OPEN_EXISTING, 0, NULL);
    CHECK(client != INVALID_HANDLE_VALUE, "parent: opens an inheritable client end");
    CHECK(GetHandleInformation(client, &flags) && flags == HANDLE_FLAG_INHERIT, "parent: HANDLE_FLAG_INHERIT is set");
    child_pid = spawn_self("inherited", client, name, &process);
    CHECK(child_pid != 0, "parent: started the child");
    CloseHandle(client); /* the child's copy keeps the client end open */
    CHECK(ReadFile(server, buf, sizeof buf, &n, NULL), "parent: reads the child's message");
    snprintf(expect, sizeof expect, "hello from %lu", (unsigned long)child_pid);
    CHECK(strcmp(buf, expect) == 0, "parent: it is \"%s\" (got \"%s\")", expect, buf);
    CHECK(WriteFile(server, "reply", 6, &n, NULL), "parent: replies");
    CHECK(wait_child(process) == 0, "parent: the child passed its checks and exited 0");
    CHECK_FAIL(ReadFile(server, buf, sizeof buf, &n, NULL), ERROR_BROKEN_PIPE,
               "parent: the child closed the last handle of the client end");
    CHECK(DisconnectNamedPipe(server), "parent: DisconnectNamedPipe");
    CloseHandle(server);

    /* --- A child that opens the pipe itself --- */
    server = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, 1, 1024, 1024, 0, NULL);
    CHECK(server != INVALID_HANDLE_VALUE, "parent: a new pipe");
    child_pid = spawn_self("open", NULL, name, &process);
    CHECK(child_pid != 0, "parent: started the child");
    CHECK(ConnectNamedPipe(server, NULL) || GetLastError() == ERROR_PIPE_CONNECTED, "parent: the child connects");
    CHECK(ReadFile(server, buf, 1, &n, NULL) && n == 1, "parent: the child wrote 1 byte");
    CHECK(GetNamedPipeClientProcessId(server, &pid) && pid == child_pid,
          "parent: GetNamedPipeClientProcessId = the child's pid (%lu, got %lu)", (unsigned long)child_pid, (unsigned long)pid);
    CHECK(GetNamedPipeServerProcessId(server, &pid) && pid == GetCurrentProcessId(), "parent: GetNamedPipeServerProcessId = own pid");
    CHECK(WriteFile(server, "y", 1, &n, NULL), "parent: writes 1 byte");
    CHECK(wait_child(process) == 0, "parent: the child passed its checks and exited 0");
    CloseHandle(server);

    done("inherit");
    return 0;
}
