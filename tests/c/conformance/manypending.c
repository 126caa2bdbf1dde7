/* manypending.c — many overlapped operations pending at once in one process (the C ABI's
 * completion driver): PIPES pipe pairs with READS overlapped ReadFiles pending on each server
 * handle, all bound to one completion port.
 *  - every ReadFile pends (ERROR_IO_PENDING) and the OVERLAPPED reads STATUS_PENDING;
 *  - on Linux, the process runs on at most 16 threads while they pend (no thread per
 *    operation; /proc/self/status);
 *  - each client then writes READS messages; every read completes through the port with its
 *    own message, in the order the reads were issued (a pipe serves pending reads FIFO);
 *  - one more read per pipe: CancelIoEx on the even pipes, CloseHandle on the odd ones; each
 *    completes with ERROR_OPERATION_ABORTED and a packet, and CloseHandle returns promptly.
 * NPFS_PENDING_PIPES / NPFS_PENDING_READS change the counts (default 100 x 10 = 1,000). */
#include "../check.h"
#ifdef __linux__
#include <sys/resource.h>
#endif

#define MAXPIPES 4096

static HANDLE servers[MAXPIPES], clients[MAXPIPES];

static int env_int(const char *name, int dflt, int max)
{
    const char *v = getenv(name);
    int n = v ? atoi(v) : dflt;
    return n < 1 ? 1 : n > max ? max : n;
}

static int thread_count(void)
{
#ifdef __linux__
    char line[256];
    int n = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1)
            break;
    fclose(f);
    return n;
#else
    return -1;
#endif
}

int main(void)
{
    int pipes = env_int("NPFS_PENDING_PIPES", 100, MAXPIPES);
    int reads = env_int("NPFS_PENDING_READS", 10, 60);
    int total = pipes * reads, i, k, pending = 0, got = 0, in_order = 1, aborted = 0;
    OVERLAPPED *ovs = calloc((size_t)total + (size_t)pipes, sizeof *ovs);
    char (*bufs)[32] = calloc((size_t)total + (size_t)pipes, sizeof *bufs);
    HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    OVERLAPPED *pov;
    ULONG_PTR key;
    DWORD n, t0;
    char name[128];

#ifdef __linux__
    {
        /* Each pipe pair costs this process about ten descriptors. */
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)pipes * 12 + 64) {
            rl.rlim_cur = rl.rlim_max < (rlim_t)pipes * 12 + 64 ? rl.rlim_max : (rlim_t)pipes * 12 + 64;
            setrlimit(RLIMIT_NOFILE, &rl);
        }
    }
#endif
    CHECK(ovs && bufs && port, "%d pipes x %d reads: buffers and a completion port", pipes, reads);
    for (i = 0; i < pipes; i++) {
        snprintf(name, sizeof name, "\\\\.\\pipe\\npfs_ctest_many_%lu_%d", (unsigned long)GetCurrentProcessId(), i);
        make_pair(name, PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE, 4096, 4096, 0, &servers[i], &clients[i]);
        if (CreateIoCompletionPort(servers[i], port, (ULONG_PTR)i, 0) != port) {
            printf("FAIL - CreateIoCompletionPort(server %d): %lu\n", i, (unsigned long)GetLastError());
            return 1;
        }
    }
    CHECK(1, "%d connected pairs, every server handle bound to the port", pipes);

    for (i = 0; i < pipes; i++)
        for (k = 0; k < reads; k++) {
            OVERLAPPED *ov = &ovs[i * reads + k];
            if (!ReadFile(servers[i], bufs[i * reads + k], sizeof bufs[0], NULL, ov) &&
                GetLastError() == ERROR_IO_PENDING && ov->Internal == STATUS_PENDING)
                pending++;
        }
    CHECK(pending == total, "all %d overlapped ReadFiles pend (ERROR_IO_PENDING, STATUS_PENDING): %d", total,
          pending);
#ifdef __linux__
    CHECK(thread_count() > 0 && thread_count() <= 16, "with %d reads pending the process runs on %d threads (<= 16)",
          total, thread_count());
#endif

    for (i = 0; i < pipes; i++)
        for (k = 0; k < reads; k++) {
            char msg[32];
            int len = snprintf(msg, sizeof msg, "pipe %d message %d", i, k);
            if (!WriteFile(clients[i], msg, (DWORD)len, &n, NULL) || n != (DWORD)len) {
                printf("FAIL - WriteFile(client %d): %lu\n", i, (unsigned long)GetLastError());
                return 1;
            }
        }
    for (got = 0; got < total; got++) {
        char want[32];
        int idx, pipe_i, msg_k;
        if (!GetQueuedCompletionStatus(port, &n, &key, &pov, 10000))
            break;
        idx = (int)(pov - ovs);
        pipe_i = idx / reads;
        msg_k = idx % reads;
        snprintf(want, sizeof want, "pipe %d message %d", pipe_i, msg_k);
        if (idx < 0 || idx >= total || key != (ULONG_PTR)pipe_i || n != strlen(want) ||
            memcmp(bufs[idx], want, n) != 0 || pov->Internal != 0) {
            if (in_order)
                printf("# first mismatch: read %d (key %lu) got %lu bytes \"%.*s\", status 0x%lx; wanted \"%s\"\n", idx,
                       (unsigned long)key, (unsigned long)n, (int)(n < 32 ? n : 32), bufs[idx],
                       (unsigned long)pov->Internal, want);
            in_order = 0;
        }
    }
    CHECK(got == total, "%d completion packets arrive (got %d)", total, got);
    CHECK(in_order, "each read got its own message, in the order the reads were issued, with its key");

    for (i = 0; i < pipes; i++) {
        OVERLAPPED *ov = &ovs[total + i];
        if (!ReadFile(servers[i], bufs[total + i], sizeof bufs[0], NULL, ov) && GetLastError() == ERROR_IO_PENDING)
            pending++;
    }
    CHECK(pending == total + pipes, "one more read pends on each of the %d pipes", pipes);
    t0 = GetTickCount();
    for (i = 0; i < pipes; i++) {
        if (i % 2 == 0)
            CancelIoEx(servers[i], &ovs[total + i]);
        else
            CloseHandle(servers[i]);
    }
    n = GetTickCount() - t0;
    CHECK(n < 5000, "CancelIoEx on half, CloseHandle on the other half: done in %lu ms", (unsigned long)n);
    for (got = 0; got < pipes; got++) {
        if (!GetQueuedCompletionStatus(port, &n, &key, &pov, 10000)) {
            if (GetLastError() == ERROR_OPERATION_ABORTED && pov >= &ovs[total] && pov < &ovs[total + pipes])
                aborted++;
            else
                break;
        }
    }
    CHECK(aborted == pipes, "each completes with ERROR_OPERATION_ABORTED and a packet (%d of %d)", aborted, pipes);
    for (i = 0; i < pipes; i++) {
        if (i % 2 == 0)
            CloseHandle(servers[i]);
        CloseHandle(clients[i]);
    }
    CloseHandle(port);
    done("manypending");
    return 0;
}
