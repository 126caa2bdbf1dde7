/* nobroker.c: what a Win32 program meets when no npfs broker can be found or started.
 * Two calls in a row both fail with the documented ERROR_NO_SYSTEM_RESOURCES (1450); the
 * library explains why on stderr, once. Prints "GLE=<code>" per call. */
#include <windows.h>
#include <stdio.h>

int main(void)
{
    int i;
    for (i = 0; i < 2; i++) {
        HANDLE pipe = CreateNamedPipeA("\\\\.\\pipe\\npfs-install-nobroker", PIPE_ACCESS_DUPLEX,
                                       PIPE_TYPE_BYTE, 1, 4096, 4096, 0, NULL);
        if (pipe != INVALID_HANDLE_VALUE) {
            printf("created: a broker was found after all\n");
            return 1;
        }
        printf("GLE=%lu\n", (unsigned long)GetLastError());
        fflush(stdout);
    }
    return 0;
}
