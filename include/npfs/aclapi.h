/*
 * aclapi.h — npfs's GetSecurityInfo / SetSecurityInfo declarations for Linux (with the
 * accctrl.h object-type enumeration). Written for npfs. The returned security descriptor is
 * freed with LocalFree, as on Windows.
 */
#ifndef NPFS_ACLAPI_H
#define NPFS_ACLAPI_H

#include "windows.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum _SE_OBJECT_TYPE {
    SE_UNKNOWN_OBJECT_TYPE = 0,
    SE_FILE_OBJECT,
    SE_SERVICE,
    SE_PRINTER,
    SE_REGISTRY_KEY,
    SE_LMSHARE,
    SE_KERNEL_OBJECT,
    SE_WINDOW_OBJECT,
    SE_DS_OBJECT,
    SE_DS_OBJECT_ALL,
    SE_PROVIDER_DEFINED_OBJECT,
    SE_WMIGUID_OBJECT,
    SE_REGISTRY_WOW64_32KEY,
    SE_REGISTRY_WOW64_64KEY
} SE_OBJECT_TYPE;

WINADVAPI DWORD WINAPI GetSecurityInfo(HANDLE handle, SE_OBJECT_TYPE ObjectType, SECURITY_INFORMATION SecurityInfo,
                                       PSID *ppsidOwner, PSID *ppsidGroup, PACL *ppDacl, PACL *ppSacl,
                                       PSECURITY_DESCRIPTOR *ppSecurityDescriptor);
WINADVAPI DWORD WINAPI SetSecurityInfo(HANDLE handle, SE_OBJECT_TYPE ObjectType, SECURITY_INFORMATION SecurityInfo,
                                       PSID psidOwner, PSID psidGroup, PACL pDacl, PACL pSacl);

#ifdef __cplusplus
}
#endif

#endif /* NPFS_ACLAPI_H */
