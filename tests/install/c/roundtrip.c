/* roundtrip.c: the smallest whole use of an installed npfs from C. `roundtrip NAME` creates
 * a message pipe, opens it as a client in the same process, sends one message each way and
 * prints "roundtrip ok" (exit 0), or the failing call and its GetLastError code (exit 1). */
#include <windows.h>
#include <stdio.h>
#include <string.h>

static int fail(const char *what)
{
    printf("%s failed, GLE=%lu\n", what, (unsigned long)GetLastError());
    return 1;
}

int main(int argc, char **argv)
{
    char name[256], got[64];
    DWORD n = 0;
    HANDLE server, client;
    snprintf(name, sizeof name, "\\\\.\\pipe\\%s", argc > 1 ? argv[1] : "npfs-install-roundtrip");
    server = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE,
                              1, 512, 512, 0, NULL);
    if (server == INVALID_HANDLE_VALUE)
        return fail("CreateNamedPipe");
    client = CreateFileA(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
    if (client == INVALID_HANDLE_VALUE)
        return fail("CreateFile");
    if (!WriteFile(client, "ping", 4, &n, NULL) || n != 4)
        return fail("WriteFile (client)");
    if (!ReadFile(server, got, sizeof got, &n, NULL) || n != 4 || memcmp(got, "ping", 4) != 0)
        return fail("ReadFile (server)");
    if (!WriteFile(server, "pong", 4, &n, NULL))
        return fail("WriteFile (server)");
    if (!ReadFile(client, got, sizeof got, &n, NULL) || n != 4 || memcmp(got, "pong", 4) != 0)
        return fail("ReadFile (client)");
    CloseHandle(client);
    CloseHandle(server);
    printf("roundtrip ok\n");
    return 0;
}
