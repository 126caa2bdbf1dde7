/*
 * strsafe.h — npfs's safe string functions for Linux. Written for npfs.
 * As in the SDK, these are inline functions in the header (no library code): StringCchCopy,
 * StringCchCat, StringCchLength and StringCchPrintf, A and W forms, with the SDK's results:
 * S_OK; STRSAFE_E_INSUFFICIENT_BUFFER with the destination truncated and NUL-terminated;
 * STRSAFE_E_INVALID_PARAMETER for a zero or too-large size. The W printf form uses the
 * Microsoft wide conventions (%s is a WCHAR string; see npfs/wformat.h).
 */
#ifndef NPFS_STRSAFE_H
#define NPFS_STRSAFE_H

#include "windows.h"
#include "wformat.h"
#include <stdio.h>
#include <stdarg.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define STRSAFE_MAX_CCH 2147483647
#define STRSAFE_E_INSUFFICIENT_BUFFER ((HRESULT)0x8007007AL)
#define STRSAFE_E_INVALID_PARAMETER ((HRESULT)0x80070057L)
#define STRSAFE_E_END_OF_FILE ((HRESULT)0x80070026L)

#define STRSAFEAPI static inline HRESULT

typedef char *STRSAFE_LPSTR;
typedef const char *STRSAFE_LPCSTR;
typedef WCHAR *STRSAFE_LPWSTR;
typedef const WCHAR *STRSAFE_LPCWSTR;

STRSAFEAPI StringCchCopyA(STRSAFE_LPSTR pszDest, size_t cchDest, STRSAFE_LPCSTR pszSrc)
{
    size_t i;
    if (cchDest == 0 || cchDest > STRSAFE_MAX_CCH)
        return STRSAFE_E_INVALID_PARAMETER;
    for (i = 0; i + 1 < cchDest && pszSrc[i]; i++)
        pszDest[i] = pszSrc[i];
    pszDest[i] = 0;
    return pszSrc[i] ? STRSAFE_E_INSUFFICIENT_BUFFER : S_OK;
}

STRSAFEAPI StringCchCopyW(STRSAFE_LPWSTR pszDest, size_t cchDest, STRSAFE_LPCWSTR pszSrc)
{
    size_t i;
    if (cchDest == 0 || cchDest > STRSAFE_MAX_CCH)
        return STRSAFE_E_INVALID_PARAMETER;
    for (i = 0; i + 1 < cchDest && pszSrc[i]; i++)
        pszDest[i] = pszSrc[i];
    pszDest[i] = 0;
    return pszSrc[i] ? STRSAFE_E_INSUFFICIENT_BUFFER : S_OK;
}

STRSAFEAPI StringCchLengthA(STRSAFE_LPCSTR psz, size_t cchMax, size_t *pcchLength)
{
    size_t i = 0;
    if (!psz || cchMax > STRSAFE_MAX_CCH) {
        if (pcchLength) *pcchLength = 0;
        return STRSAFE_E_INVALID_PARAMETER;
    }
    while (i < cchMax && psz[i])
        i++;
    if (i == cchMax) {
        if (pcchLength) *pcchLength = 0;
        return STRSAFE_E_INVALID_PARAMETER;
    }
    if (pcchLength) *pcchLength = i;
    return S_OK;
}

STRSAFEAPI StringCchLengthW(STRSAFE_LPCWSTR psz, size_t cchMax, size_t *pcchLength)
{
    size_t i = 0;
    if (!psz || cchMax > STRSAFE_MAX_CCH) {
        if (pcchLength) *pcchLength = 0;
        return STRSAFE_E_INVALID_PARAMETER;
    }
    while (i < cchMax && psz[i])
        i++;
    if (i == cchMax) {
        if (pcchLength) *pcchLength = 0;
        return STRSAFE_E_INVALID_PARAMETER;
    }
    if (pcchLength) *pcchLength = i;
    return S_OK;
}

STRSAFEAPI StringCchCatA(STRSAFE_LPSTR pszDest, size_t cchDest, STRSAFE_LPCSTR pszSrc)
{
    size_t len;
    if (FAILED(StringCchLengthA(pszDest, cchDest, &len)))
        return STRSAFE_E_INVALID_PARAMETER;
    return StringCchCopyA(pszDest + len, cchDest - len, pszSrc);
}

STRSAFEAPI StringCchCatW(STRSAFE_LPWSTR pszDest, size_t cchDest, STRSAFE_LPCWSTR pszSrc)
{
    size_t len;
    if (FAILED(StringCchLengthW(pszDest, cchDest, &len)))
        return STRSAFE_E_INVALID_PARAMETER;
    return StringCchCopyW(pszDest + len, cchDest - len, pszSrc);
}

STRSAFEAPI StringCchVPrintfA(STRSAFE_LPSTR pszDest, size_t cchDest, STRSAFE_LPCSTR pszFormat, va_list argList)
{
    int n;
    if (cchDest == 0 || cchDest > STRSAFE_MAX_CCH)
        return STRSAFE_E_INVALID_PARAMETER;
    n = vsnprintf(pszDest, cchDest, pszFormat, argList);
    if (n < 0) {
        pszDest[0] = 0;
        return STRSAFE_E_INVALID_PARAMETER;
    }
    return (size_t)n >= cchDest ? STRSAFE_E_INSUFFICIENT_BUFFER : S_OK;
}

STRSAFEAPI StringCchVPrintfW(STRSAFE_LPWSTR pszDest, size_t cchDest, STRSAFE_LPCWSTR pszFormat, va_list argList)
{
    long n;
    if (cchDest == 0 || cchDest > STRSAFE_MAX_CCH)
        return STRSAFE_E_INVALID_PARAMETER;
    n = npfs_vswprintf(pszDest, cchDest, pszFormat, argList);
    if (n < 0)
        return STRSAFE_E_INVALID_PARAMETER;
    return (size_t)n >= cchDest ? STRSAFE_E_INSUFFICIENT_BUFFER : S_OK;
}

static inline HRESULT StringCchPrintfA(STRSAFE_LPSTR pszDest, size_t cchDest, STRSAFE_LPCSTR pszFormat, ...)
{
    va_list ap;
    HRESULT hr;
    va_start(ap, pszFormat);
    hr = StringCchVPrintfA(pszDest, cchDest, pszFormat, ap);
    va_end(ap);
    return hr;
}

static inline HRESULT StringCchPrintfW(STRSAFE_LPWSTR pszDest, size_t cchDest, STRSAFE_LPCWSTR pszFormat, ...)
{
    va_list ap;
    HRESULT hr;
    va_start(ap, pszFormat);
    hr = StringCchVPrintfW(pszDest, cchDest, pszFormat, ap);
    va_end(ap);
    return hr;
}

#ifdef UNICODE
#define StringCchCopy StringCchCopyW
#define StringCchCat StringCchCatW
#define StringCchLength StringCchLengthW
#define StringCchPrintf StringCchPrintfW
#define StringCchVPrintf StringCchVPrintfW
#else
#define StringCchCopy StringCchCopyA
#define StringCchCat StringCchCatA
#define StringCchLength StringCchLengthA
#define StringCchPrintf StringCchPrintfA
#define StringCchVPrintf StringCchVPrintfA
#endif

#ifdef __cplusplus
}
#endif

#endif /* NPFS_STRSAFE_H */
