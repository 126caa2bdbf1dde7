/* inherit.c — child processes and the handles they inherit (spec/conformance.md:
 * test_namedpipe_process_id cross-process, create_overlapped_pipe's inheritable client,
 * test_overlapped_transport's child). The parent starts itself again as a child with
 * CreateProcess, passing handle values on the command line as Windows programs do:
 * an inheritable handle is valid in the child at the same value (bInheritHandles = TRUE), a
 * non-inheritable one is not, and bInheritHandles = FALSE gives the child nothing. Also the
 * process handle (waits, GetExitCodeProcess, GetProcessId), the command line's splitting,
 * lpEnvironment (ANSI and CREATE_UNICODE_ENVIRONMENT), lpCurrentDirectory and the program
 * search. Linux only: the npfs helper for children started with posix_spawn. */
#include "../check.h"

#ifdef _WIN32
#include <direct.h>
#define ENVIRON _environ
#define ROOT_DIR "C:\\"
#define MISSING_DIR "C:\\npfs\\no\\such\\directory"
#define get_cwd _getcwd
#else
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
extern char **environ;
#define ENVIRON environ
#define ROOT_DIR "/"
#define MISSING_DIR "/npfs/no/such/directory"
#define get_cwd getcwd
#endif

static char self[MAX_PATH];

/* The pieces of the "args" command line and what the child's argv must hold for each. */
static const char *const arg_pieces = "a\\\\\\\"b \"c d\" e\\\\\\\\\"f g\" h\\i \"\" \"x\"\"y\" \\\"q\\\" j\tk";
static const char *const arg_expect[] = {"a\\\"b", "c d", "e\\\\f g", "h\\i", "", "x\"y", "\"q\"", "j", "k"};
#define N_ARGS (sizeof arg_expect / sizeof arg_expect[0])

static BOOL start(const char *app, const char *cmdline, BOOL inherit, DWORD flags, void *env, const char *dir,
                  PROCESS_INFORMATION *pi)
{
    static char cmd[4096];
    STARTUPINFOA si;
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    snprintf(cmd, sizeof cmd, "%s", cmdline); /* CreateProcess may write to the command line */
    memset(pi, 0, sizeof *pi);
    return CreateProcessA(app, cmd, NULL, NULL, inherit, flags, env, dir, &si, pi);
}

/* Start this program again: `"self" ARGS`. */
static BOOL start_self(const char *args, BOOL inherit, PROCESS_INFORMATION *pi)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "\"%s\" %s", self, args);
    return start(self, cmd, inherit, 0, NULL, NULL, pi);
}

/* Wait for the child and return its exit code (closing its handles); -1 on a timeout. */
static long finish(PROCESS_INFORMATION *pi)
{
    DWORD code = 255;
    if (WaitForSingleObject(pi->hProcess, 30000) != WAIT_OBJECT_0)
        return -1;
    if (!GetExitCodeProcess(pi->hProcess, &code))
        return -2;
    CloseHandle(pi->hThread);
    CloseHandle(pi->hProcess);
    return (long)code;
}

static HANDLE value_of(const char *s)
{
    return (HANDLE)(ULONG_PTR)strtoull(s, NULL, 10);
}

/* The child: argv[1] is the mode. */
static int child(int argc, char **argv)
{
    HANDLE h, h2;
    ULONG pid;
    DWORD n, parent, flags;
    char buf[512], msg[64];
    const char *mode = argv[1];

    if (strcmp(mode, "inherited") == 0 && argc == 6) { /* H H2 PARENT NAME */
        h = value_of(argv[2]);
        h2 = value_of(argv[3]);
        parent = (DWORD)strtoul(argv[4], NULL, 10);
        flags = 0;
        CHECK(GetHandleInformation(h, &flags) && (flags & HANDLE_FLAG_INHERIT),
              "child: the inherited handle value is valid here, HANDLE_FLAG_INHERIT set");
        CHECK_FAIL(GetHandleInformation(h2, &flags), ERROR_INVALID_HANDLE,
                   "child: the parent's non-inheritable handle value names nothing here");
        CHECK_FAIL(WriteFile(h2, "x", 1, &n, NULL), ERROR_INVALID_HANDLE, "child: WriteFile on it");
        snprintf(msg, sizeof msg, "hello from %lu", (unsigned long)GetCurrentProcessId());
        CHECK(WriteFile(h, msg, (DWORD)strlen(msg) + 1, &n, NULL), "child: WriteFile through the inherited client end");
        CHECK(ReadFile(h, buf, sizeof buf, &n, NULL) && n == 6 && strcmp(buf, "reply") == 0, "child: reads the parent's reply");
        CHECK(GetNamedPipeServerProcessId(h, &pid) && pid == parent, "child: GetNamedPipeServerProcessId = parent pid");
        CloseHandle(h);
        return 0;
    }
    if (strcmp(mode, "readonly") == 0 && argc == 3) { /* H: an inherited GENERIC_READ duplicate */
        h = value_of(argv[2]);
        CHECK_FAIL(WriteFile(h, "x", 1, &n, NULL), ERROR_ACCESS_DENIED,
                   "child: WriteFile through the inherited GENERIC_READ duplicate");
        CHECK(ReadFile(h, buf, sizeof buf, &n, NULL) && n == 3 && strcmp(buf, "ro") == 0,
              "child: ReadFile through it gets the parent's message");
        CloseHandle(h);
        return 0;
    }
    if (strcmp(mode, "none") == 0 && argc == 3) { /* H: started with bInheritHandles = FALSE */
        h = value_of(argv[2]);
        CHECK_FAIL(GetHandleInformation(h, &flags), ERROR_INVALID_HANDLE,
                   "child (bInheritHandles FALSE): the parent's inheritable handle value names nothing here");
        CHECK(getenv("NPFS_HANDLES") == NULL, "child (bInheritHandles FALSE): no NPFS_HANDLES in its environment");
        return 0;
    }
    if (strcmp(mode, "open") == 0 && argc == 4) { /* PARENT NAME */
        parent = (DWORD)strtoul(argv[2], NULL, 10);
        h = open_client(argv[3], 0);
        CHECK(h != INVALID_HANDLE_VALUE, "child: opens the pipe by name");
        CHECK(GetNamedPipeClientProcessId(h, &pid) && pid == GetCurrentProcessId(), "child: ClientProcessId = its own pid");
        CHECK(GetNamedPipeServerProcessId(h, &pid) && pid == parent, "child: ServerProcessId = parent pid");
        CHECK(WriteFile(h, "x", 1, &n, NULL), "child: writes 1 byte");
        CHECK(ReadFile(h, buf, 1, &n, NULL) && n == 1, "child: waits for the parent's byte");
        CloseHandle(h);
        return 0;
    }
    if (strcmp(mode, "exit") == 0 && argc == 4) { /* CODE NAME: exit with CODE once told to */
        h = open_client(argv[3], 0);
        if (h == INVALID_HANDLE_VALUE || !ReadFile(h, buf, 1, &n, NULL))
            return 3;
        CloseHandle(h);
        return atoi(argv[2]);
    }
    if (strcmp(mode, "args") == 0) {
        size_t i;
        CHECK(argc == (int)(2 + N_ARGS), "child: the command line split into %d arguments (got %d)", (int)(2 + N_ARGS), argc);
        for (i = 0; i < N_ARGS; i++)
            CHECK(strcmp(argv[2 + i], arg_expect[i]) == 0, "child: argument %d is [%s] (got [%s])", (int)i + 1, arg_expect[i],
                  argv[2 + i]);
        return 0;
    }
    if (strcmp(mode, "env") == 0 && argc == 4) { /* NAME VALUE */
        const char *v = getenv(argv[2]);
        CHECK(v && strcmp(v, argv[3]) == 0, "child: %s=%s from lpEnvironment (got %s)", argv[2], argv[3], v ? v : "(none)");
        return 0;
    }
    if (strcmp(mode, "cwd") == 0 && argc == 3) {
        CHECK(get_cwd(buf, sizeof buf) && strcmp(buf, argv[2]) == 0, "child: runs in lpCurrentDirectory %s (got %s)", argv[2], buf);
        return 0;
    }
    if (strcmp(mode, "named") == 0 && argc == 2)
        return 0;
#ifndef _WIN32
    if (strcmp(mode, "forged") == 0 && argc == 3) { /* H: NPFS_HANDLES names H with the wrong files */
        CHECK_FAIL(GetHandleInformation(value_of(argv[2]), &flags), ERROR_INVALID_HANDLE,
                   "child: an NPFS_HANDLES entry whose descriptors are not the files it describes is not adopted");
        CHECK(fflush(stdout) == 0 && write(1, "", 0) == 0, "child: stdout (named by the forged entry) is still open");
        return 0;
    }
#endif
    return 2;
}

/* An environment block: this process's environment (minus NAME) and NAME=VALUE. */
static char *ansi_block(const char *name, const char *value)
{
    static char block[65536];
    size_t at = 0, len, nl = strlen(name);
    char **e;
    for (e = ENVIRON; *e; e++) {
        if (strncmp(*e, name, nl) == 0 && (*e)[nl] == '=')
            continue;
        len = strlen(*e) + 1;
        if (at + len + 256 > sizeof block)
            break;
        memcpy(block + at, *e, len);
        at += len;
    }
    at += (size_t)snprintf(block + at, 256, "%s=%s", name, value) + 1;
    block[at] = '\0';
    return block;
}

/* The same as UTF-16 (entries with non-ASCII bytes are left out). */
static WCHAR *wide_block(const char *name, const char *value)
{
    static WCHAR block[65536];
    const char *a = ansi_block(name, value);
    size_t at = 0;
    while (*a) {
        size_t len = strlen(a), i, ascii = 1;
        for (i = 0; i < len; i++)
            ascii &= (unsigned char)a[i] < 0x80;
        if (ascii)
            for (i = 0; i <= len; i++)
                block[at++] = (WCHAR)(unsigned char)a[i];
        a += len + 1;
    }
    block[at] = 0;
    return block;
}

static void widen(const char *s, WCHAR *w)
{
    while ((*w++ = (WCHAR)(unsigned char)*s++) != 0)
        ;
}

int main(int argc, char **argv)
{
    const char *name = pipe_name("inherit");
    const char *name2 = pipe_name("inherit_exit");
    const char *base;
    SECURITY_ATTRIBUTES sa;
    PROCESS_INFORMATION pi;
    HANDLE server, server2, client, client2, ev, both[2];
    DWORD n, flags, code;
    ULONG pid;
    char buf[512], expect[64], args[1024];
    WCHAR wapp[MAX_PATH], wcmd[1024];
    STARTUPINFOW wsi;

    if (argc > 1)
        return child(argc, argv);

    n = GetModuleFileNameA(NULL, self, sizeof self);
    CHECK(n > 0 && n < sizeof self && strlen(self) == n, "GetModuleFileNameA(NULL): the program's path (%s)", self);
    base = strrchr(self, '/');
    if (strrchr(self, '\\') > base)
        base = strrchr(self, '\\');
    base = base ? base + 1 : self;
    sa.nLength = sizeof sa;
    sa.lpSecurityDescriptor = NULL;
    sa.bInheritHandle = TRUE;

    /* --- An inherited client end; a non-inheritable one stays behind --- */
    server = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE, 2, 1024, 1024, 0, NULL);
    CHECK(server != INVALID_HANDLE_VALUE, "parent: CreateNamedPipeA");
    client = CreateFileA(name, GENERIC_READ | GENERIC_WRITE, 0, &sa, OPEN_EXISTING, 0, NULL);
    CHECK(client != INVALID_HANDLE_VALUE, "parent: opens an inheritable client end");
    CHECK(GetHandleInformation(client, &flags) && flags == HANDLE_FLAG_INHERIT, "parent: HANDLE_FLAG_INHERIT is set");
    server2 = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE, 2, 1024, 1024, 0, NULL);
    CHECK(server2 != INVALID_HANDLE_VALUE, "parent: a second instance");
    client2 = CreateFileA(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
    CHECK(client2 != INVALID_HANDLE_VALUE, "parent: opens a non-inheritable client end");
    snprintf(args, sizeof args, "inherited %llu %llu %lu %s", (unsigned long long)(ULONG_PTR)client,
             (unsigned long long)(ULONG_PTR)client2, (unsigned long)GetCurrentProcessId(), name);
    CHECK(start_self(args, TRUE, &pi), "parent: CreateProcessA(bInheritHandles TRUE)");
    CHECK(pi.hProcess && pi.hThread && pi.dwProcessId != 0 && pi.dwProcessId != GetCurrentProcessId(),
          "parent: PROCESS_INFORMATION filled (pid %lu)", (unsigned long)pi.dwProcessId);
    CloseHandle(client); /* the child's copy keeps the client end open */
    CloseHandle(client2);
    CHECK_FAIL(ReadFile(server2, buf, sizeof buf, &n, NULL), ERROR_BROKEN_PIPE,
               "parent: closing the non-inheritable end broke its instance at once (the child holds none)");
    CHECK(ReadFile(server, buf, sizeof buf, &n, NULL), "parent: reads the child's message");
    snprintf(expect, sizeof expect, "hello from %lu", (unsigned long)pi.dwProcessId);
    CHECK(strcmp(buf, expect) == 0, "parent: it is \"%s\" (got \"%s\")", expect, buf);
    CHECK(WriteFile(server, "reply", 6, &n, NULL), "parent: replies");
    CHECK(finish(&pi) == 0, "parent: the child passed its checks and exited 0");
    CHECK_FAIL(ReadFile(server, buf, sizeof buf, &n, NULL), ERROR_BROKEN_PIPE,
               "parent: the child closed the last handle of the client end");
    CloseHandle(server);
    CloseHandle(server2);

    /* --- An inherited DuplicateHandle copy holds what the copy held (GENERIC_READ) --- */
    {
        HANDLE ro;
        server = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, 1, 1024, 1024, 0, NULL);
        client = CreateFileA(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
        CHECK(server != INVALID_HANDLE_VALUE && client != INVALID_HANDLE_VALUE, "parent: a read-write client end");
        CHECK(DuplicateHandle(GetCurrentProcess(), client, GetCurrentProcess(), &ro, GENERIC_READ, TRUE, 0),
              "parent: an inheritable GENERIC_READ duplicate of it");
        CloseHandle(client);
        CHECK(WriteFile(server, "ro", 3, &n, NULL), "parent: the server writes a message");
        snprintf(args, sizeof args, "readonly %llu", (unsigned long long)(ULONG_PTR)ro);
        CHECK(start_self(args, TRUE, &pi), "parent: CreateProcessA(bInheritHandles TRUE)");
        CloseHandle(ro);
        CHECK(finish(&pi) == 0, "parent: the child could read but not write through it, and exited 0");
        CHECK_FAIL(ReadFile(server, buf, sizeof buf, &n, NULL), ERROR_BROKEN_PIPE,
                   "parent: nothing was written; the child closed the last handle");
        CloseHandle(server);
    }

    /* --- bInheritHandles = FALSE: nothing is inherited --- */
    server = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, 1, 1024, 1024, 0, NULL);
    client = CreateFileA(name, GENERIC_READ | GENERIC_WRITE, 0, &sa, OPEN_EXISTING, 0, NULL);
    CHECK(server != INVALID_HANDLE_VALUE && client != INVALID_HANDLE_VALUE, "parent: another inheritable client end");
    snprintf(args, sizeof args, "none %llu", (unsigned long long)(ULONG_PTR)client);
    CHECK(start_self(args, FALSE, &pi), "parent: CreateProcessA(bInheritHandles FALSE)");
    CloseHandle(client);
    CHECK_FAIL(ReadFile(server, buf, sizeof buf, &n, NULL), ERROR_BROKEN_PIPE,
               "parent: closing it broke the pipe at once (the child did not inherit it)");
    CHECK(finish(&pi) == 0, "parent: the child passed its checks and exited 0");
    CloseHandle(server);

    /* --- A child that opens the pipe itself --- */
    server = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, 1, 1024, 1024, 0, NULL);
    CHECK(server != INVALID_HANDLE_VALUE, "parent: a new pipe");
    snprintf(args, sizeof args, "open %lu %s", (unsigned long)GetCurrentProcessId(), name);
    CHECK(start_self(args, FALSE, &pi), "parent: started the child");
    CHECK(ConnectNamedPipe(server, NULL) || GetLastError() == ERROR_PIPE_CONNECTED, "parent: the child connects");
    CHECK(ReadFile(server, buf, 1, &n, NULL) && n == 1, "parent: the child wrote 1 byte");
    CHECK(GetNamedPipeClientProcessId(server, &pid) && pid == pi.dwProcessId,
          "parent: GetNamedPipeClientProcessId = the child's pid (%lu, got %lu)", (unsigned long)pi.dwProcessId,
          (unsigned long)pid);
    CHECK(GetNamedPipeServerProcessId(server, &pid) && pid == GetCurrentProcessId(), "parent: GetNamedPipeServerProcessId = own pid");
    CHECK(WriteFile(server, "y", 1, &n, NULL), "parent: writes 1 byte");
    CHECK(finish(&pi) == 0, "parent: the child passed its checks and exited 0");
    CloseHandle(server);

    /* --- The process handle --- */
    server = CreateNamedPipeA(name2, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, 1, 1024, 1024, 0, NULL);
    CHECK(server != INVALID_HANDLE_VALUE, "parent: a pipe to tell the child when to exit");
    snprintf(args, sizeof args, "exit 42 %s", name2);
    CHECK(start_self(args, FALSE, &pi), "parent: started a child that exits with 42 when told");
    CHECK(ConnectNamedPipe(server, NULL) || GetLastError() == ERROR_PIPE_CONNECTED, "parent: the child connected");
    CHECK(WaitForSingleObject(pi.hProcess, 0) == WAIT_TIMEOUT, "WaitForSingleObject(hProcess, 0) while it runs: WAIT_TIMEOUT");
    CHECK(GetExitCodeProcess(pi.hProcess, &code) && code == STILL_ACTIVE, "GetExitCodeProcess while it runs: STILL_ACTIVE");
    CHECK(GetExitCodeThread(pi.hThread, &code) && code == STILL_ACTIVE, "GetExitCodeThread(hThread) while it runs: STILL_ACTIVE");
    CHECK(GetProcessId(pi.hProcess) == pi.dwProcessId, "GetProcessId(hProcess) = dwProcessId");
    ev = make_event(FALSE);
    both[0] = ev;
    both[1] = pi.hProcess;
    CHECK(WaitForMultipleObjects(2, both, FALSE, 100) == WAIT_TIMEOUT, "WaitForMultipleObjects(event, process, 100 ms): WAIT_TIMEOUT");
    CHECK(WriteFile(server, "q", 1, &n, NULL), "parent: tells the child to exit");
    CHECK(WaitForMultipleObjects(2, both, FALSE, 30000) == WAIT_OBJECT_0 + 1,
          "WaitForMultipleObjects(event, process): WAIT_OBJECT_0 + 1 when the child exits");
    CHECK(GetExitCodeProcess(pi.hProcess, &code) && code == 42, "GetExitCodeProcess: 42 (got %lu)", (unsigned long)code);
    CHECK(WaitForSingleObject(pi.hProcess, 0) == WAIT_OBJECT_0, "the process handle stays signalled");
    CHECK(WaitForSingleObject(pi.hThread, 5000) == WAIT_OBJECT_0, "the thread handle is signalled too");
    CHECK(GetExitCodeThread(pi.hThread, &code) && code == 42, "GetExitCodeThread(hThread): 42 (got %lu)", (unsigned long)code);
#ifndef _WIN32
    {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        CHECK(waitid(P_PID, (id_t)pi.dwProcessId, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == (pid_t)pi.dwProcessId,
              "npfs: while a handle names the exited child, its pid stays reserved (not reaped yet)");
    }
#endif
    CHECK(CloseHandle(pi.hThread) && CloseHandle(pi.hProcess), "CloseHandle on the thread and process handles");
#ifndef _WIN32
    {
        int st, i;
        for (i = 0; i < 200 && waitpid((pid_t)pi.dwProcessId, &st, WNOHANG) != -1; i++)
            Sleep(10);
        CHECK(i < 200, "npfs: closing the last handle reaped the child (no zombie left)");
    }
#endif
    CHECK_FAIL(GetExitCodeProcess(pi.hProcess, &code), ERROR_INVALID_HANDLE, "GetExitCodeProcess on the closed handle");
    CHECK(GetExitCodeProcess(GetCurrentProcess(), &code) && code == STILL_ACTIVE, "GetExitCodeProcess(GetCurrentProcess()): STILL_ACTIVE");
    CHECK(GetProcessId(GetCurrentProcess()) == GetCurrentProcessId(), "GetProcessId(GetCurrentProcess()) = GetCurrentProcessId()");
    CloseHandle(ev);
    CloseHandle(server);

    /* --- The command line, the program search, the directory, the environment --- */
    snprintf(args, sizeof args, "args %s", arg_pieces);
    CHECK(start_self(args, FALSE, &pi), "parent: a command line with quotes, backslashes and tabs");
    CHECK(finish(&pi) == 0, "parent: the child's argv is the command line split by the C runtime's rules");
    snprintf(args, sizeof args, "%s named", base);
    CHECK(start(NULL, args, FALSE, 0, NULL, NULL, &pi), "CreateProcessA(NULL, \"%s named\"): found in the program's directory", base);
    CHECK(finish(&pi) == 0, "parent: that child ran and exited 0");
    CHECK_FAIL(start(NULL, "npfs-no-such-program-4711 x", FALSE, 0, NULL, NULL, &pi), ERROR_FILE_NOT_FOUND,
               "CreateProcessA of a program that is nowhere");
    snprintf(args, sizeof args, "\"%s\" cwd %s", self, ROOT_DIR);
    CHECK(start(self, args, FALSE, 0, NULL, ROOT_DIR, &pi), "CreateProcessA(lpCurrentDirectory %s)", ROOT_DIR);
    CHECK(finish(&pi) == 0, "parent: the child ran there");
    CHECK_FAIL(start(self, args, FALSE, 0, NULL, MISSING_DIR, &pi), ERROR_DIRECTORY, "CreateProcessA(lpCurrentDirectory missing)");
    snprintf(args, sizeof args, "\"%s\" env NPFS_TEST_VAR from_the_block", self);
    CHECK(start(self, args, FALSE, 0, ansi_block("NPFS_TEST_VAR", "from_the_block"), NULL, &pi), "CreateProcessA(lpEnvironment)");
    CHECK(finish(&pi) == 0, "parent: the child saw the variable");

    snprintf(args, sizeof args, "\"%s\" env NPFS_TEST_WIDE wide_value", self);
    widen(self, wapp);
    widen(args, wcmd);
    memset(&wsi, 0, sizeof wsi);
    wsi.cb = sizeof wsi;
    CHECK(CreateProcessW(wapp, wcmd, NULL, NULL, FALSE, CREATE_UNICODE_ENVIRONMENT, wide_block("NPFS_TEST_WIDE", "wide_value"),
                         NULL, &wsi, &pi),
          "CreateProcessW(CREATE_UNICODE_ENVIRONMENT)");
    CHECK(finish(&pi) == 0, "parent: the child saw the variable");

#ifndef _WIN32
    {
        /* npfs only: what libnpfs does not support fails plainly. */
        STARTUPINFOA si;
        char cmd[64] = "true";
        memset(&si, 0, sizeof si);
        si.cb = sizeof si;
        si.dwFlags = STARTF_USESTDHANDLES;
        CHECK_FAIL(CreateProcessA(NULL, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi), ERROR_NOT_SUPPORTED,
                   "npfs: STARTF_USESTDHANDLES");
        CHECK_FAIL(start(NULL, "true", FALSE, CREATE_SUSPENDED, NULL, NULL, &pi), ERROR_NOT_SUPPORTED, "npfs: CREATE_SUSPENDED");
    }
    {
        /* npfs only: a child started with posix_spawn gets the handles through the helper's
         * entry in the envp it is given. */
        char hv[32], hv2[32], pp[32];
        char *cargv[7], *envp[1024], *entry;
        size_t k = 0;
        char **e;
        pid_t child_pid;
        int status;
        server = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE, 2, 1024, 1024, 0, NULL);
        client = CreateFileA(name, GENERIC_READ | GENERIC_WRITE, 0, &sa, OPEN_EXISTING, 0, NULL);
        server2 = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE, 2, 1024, 1024, 0, NULL);
        client2 = CreateFileA(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
        CHECK(server != INVALID_HANDLE_VALUE && client != INVALID_HANDLE_VALUE && server2 != INVALID_HANDLE_VALUE &&
                  client2 != INVALID_HANDLE_VALUE,
              "posix_spawn: an inheritable and a non-inheritable client end");
        entry = NpfsInheritanceEnvironment();
        CHECK(entry && strncmp(entry, "NPFS_HANDLES=", 13) == 0 && strlen(entry) > 13,
              "posix_spawn: NpfsInheritanceEnvironment() gives an NPFS_HANDLES entry");
        CHECK(getenv("NPFS_HANDLES") == NULL, "posix_spawn: ... without putting it in this process's environment");
        for (e = environ; *e && k < 1020; e++)
            if (strncmp(*e, "NPFS_HANDLES=", 13) != 0)
                envp[k++] = *e;
        envp[k++] = entry;
        envp[k] = NULL;
        snprintf(hv, sizeof hv, "%llu", (unsigned long long)(ULONG_PTR)client);
        snprintf(hv2, sizeof hv2, "%llu", (unsigned long long)(ULONG_PTR)client2);
        snprintf(pp, sizeof pp, "%lu", (unsigned long)GetCurrentProcessId());
        cargv[0] = (char *)"inherit";
        cargv[1] = (char *)"inherited";
        cargv[2] = hv;
        cargv[3] = hv2;
        cargv[4] = pp;
        cargv[5] = (char *)name;
        cargv[6] = NULL;
        CHECK(posix_spawn(&child_pid, self, NULL, NULL, cargv, envp) == 0, "posix_spawn with the entry in envp");
        LocalFree(entry);
        CloseHandle(client);
        CloseHandle(client2);
        CHECK(ReadFile(server, buf, sizeof buf, &n, NULL), "posix_spawn: reads the child's message");
        snprintf(expect, sizeof expect, "hello from %lu", (unsigned long)child_pid);
        CHECK(strcmp(buf, expect) == 0, "posix_spawn: it is \"%s\" (got \"%s\")", expect, buf);
        CHECK(WriteFile(server, "reply", 6, &n, NULL), "posix_spawn: replies");
        CHECK(waitpid(child_pid, &status, 0) == child_pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "posix_spawn: the child passed its checks and exited 0");
        CHECK_FAIL(ReadFile(server, buf, sizeof buf, &n, NULL), ERROR_BROKEN_PIPE,
                   "posix_spawn: the child closed the last handle of the client end");
        CloseHandle(server);
        CloseHandle(server2);
    }
    {
        /* npfs only: a stale or forged NPFS_HANDLES (descriptors 0 to 3 described as other
         * files) is ignored, and the descriptors are left alone. */
        static const char tok[] = "snpfs3;c;1;2;0;3;10;1;3;1;4096;4096;50;1;1;3221225472;\\\\.\\pipe\\forged";
        char forged[512], *cargv[4], *envp[256];
        size_t i, at, n = 0;
        pid_t child_pid;
        int status;
        at = (size_t)snprintf(forged, sizeof forged, "NPFS_HANDLES=100=");
        for (i = 0; tok[i]; i++)
            at += (size_t)snprintf(forged + at, sizeof forged - at, "%02x", (unsigned char)tok[i]);
        snprintf(forged + at, sizeof forged - at, "/0:0/0:0/0:0/0:0");
        /* The rest of our environment goes along (LD_LIBRARY_PATH for an installed libnpfs,
         * the runtime directory): only NPFS_HANDLES is forged. */
        for (i = 0; environ[i] && n < 254; i++)
            if (strncmp(environ[i], "NPFS_HANDLES=", 13) != 0)
                envp[n++] = environ[i];
        envp[n++] = forged;
        envp[n] = NULL;
        cargv[0] = (char *)"inherit";
        cargv[1] = (char *)"forged";
        cargv[2] = (char *)"256";
        cargv[3] = NULL;
        fflush(stdout);
        CHECK(posix_spawn(&child_pid, self, NULL, NULL, cargv, envp) == 0 && waitpid(child_pid, &status, 0) == child_pid &&
                  WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "posix_spawn with a forged NPFS_HANDLES: the child adopted nothing and exited 0");
    }
#endif

    CHECK(getenv("NPFS_HANDLES") == NULL, "parent: its own environment never got NPFS_HANDLES");
    done("inherit");
    return 0;
}
