/*
 * security.c — descriptors through the Win32 ABI: SDDL conversions, a pipe created with
 * SECURITY_ATTRIBUTES' descriptor, GetSecurityInfo / SetSecurityInfo on pipe handles (one
 * descriptor shared by every instance), an additional instance that brings its own descriptor
 * (ERROR_ACCESS_DENIED on Windows; Wine creates it: conformance.md §5 item 12), and
 * GetNamedPipeHandleState's user name on the server end.
 */
#include "../check.h"
#include <aclapi.h>
#include <sddl.h>

int main(void)
{
    char name[128];
    PSECURITY_DESCRIPTOR sd = NULL, got = NULL;
    PACL dacl = NULL;
    ULONG size = 0;
    LPSTR text = NULL;
    SECURITY_ATTRIBUTES sa;
    HANDLE server, server2, client;
    char user[256];
    DWORD err;

    snprintf(name, sizeof name, "\\\\.\\pipe\\npfs_ctest_security_%lu", (unsigned long)GetCurrentProcessId());

    CHECK(ConvertStringSecurityDescriptorToSecurityDescriptorA("D:(A;;GA;;;WD)", SDDL_REVISION_1, &sd, &size) && sd && size > 20,
          "ConvertStringSecurityDescriptorToSecurityDescriptorA(\"D:(A;;GA;;;WD)\")");
    CHECK(ConvertSecurityDescriptorToStringSecurityDescriptorA(sd, SDDL_REVISION_1, DACL_SECURITY_INFORMATION, &text, NULL) &&
              strcmp(text, "D:(A;;GA;;;WD)") == 0,
          "and back to SDDL (got %s)", text ? text : "(null)");
    LocalFree(text);
    text = NULL;

    sa.nLength = sizeof sa;
    sa.lpSecurityDescriptor = sd;
    sa.bInheritHandle = FALSE;
    server = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX | WRITE_DAC, PIPE_TYPE_BYTE, 4, 1024, 1024, 0, &sa);
    CHECK(server != INVALID_HANDLE_VALUE, "CreateNamedPipeA with SECURITY_ATTRIBUTES' descriptor");

    err = GetSecurityInfo(server, SE_KERNEL_OBJECT, DACL_SECURITY_INFORMATION, NULL, NULL, &dacl, NULL, &got);
    CHECK(err == ERROR_SUCCESS && dacl != NULL && got != NULL, "GetSecurityInfo(DACL) on the server handle (got %lu)", (unsigned long)err);
    CHECK(dacl->AceCount == 1, "the DACL is the one given: 1 ACE (got %u)", (unsigned)dacl->AceCount);
    LocalFree(got);
    got = NULL;

    WINE_DEVIATION(12, "an additional instance with its own descriptor is created")
    {
        server2 = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, 4, 1024, 1024, 0, &sa);
        err = GetLastError();
        CHECK(server2 == INVALID_HANDLE_VALUE && err == ERROR_ACCESS_DENIED,
              "an additional instance bringing its own descriptor: ERROR_ACCESS_DENIED (got %lu)", (unsigned long)err);
    }
    server2 = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, 4, 1024, 1024, 0, NULL);
    CHECK(server2 != INVALID_HANDLE_VALUE, "an additional instance without a descriptor");

    /* One descriptor per pipe: changing it through one instance shows through the other. */
    LocalFree(sd);
    sd = NULL;
    CHECK(ConvertStringSecurityDescriptorToSecurityDescriptorA("D:(A;;GA;;;WD)(A;;GR;;;AN)", SDDL_REVISION_1, &sd, NULL), "a second DACL");
    {
        BOOL present = FALSE, defaulted = FALSE;
        PACL newdacl = NULL;
        CHECK(GetSecurityDescriptorDacl(sd, &present, &newdacl, &defaulted) && present && newdacl, "GetSecurityDescriptorDacl");
        err = SetSecurityInfo(server, SE_KERNEL_OBJECT, DACL_SECURITY_INFORMATION, NULL, NULL, newdacl, NULL);
        CHECK(err == ERROR_SUCCESS, "SetSecurityInfo(DACL) with WRITE_DAC (got %lu)", (unsigned long)err);
    }
    err = GetSecurityInfo(server2, SE_KERNEL_OBJECT, DACL_SECURITY_INFORMATION, NULL, NULL, &dacl, NULL, &got);
    CHECK(err == ERROR_SUCCESS && dacl && dacl->AceCount == 2, "the other instance sees the new DACL (2 ACEs)");
    LocalFree(got);
    LocalFree(sd);

    client = CreateFileA(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
    CHECK(client != INVALID_HANDLE_VALUE, "a client opens");
    CHECK(GetNamedPipeHandleStateA(server, NULL, NULL, NULL, NULL, user, sizeof user) && user[0] != 0,
          "GetNamedPipeHandleStateA's user name on the server end (got %s)", user);

    CloseHandle(client);
    CloseHandle(server2);
    CloseHandle(server);
    done("security");
    return 0;
}
