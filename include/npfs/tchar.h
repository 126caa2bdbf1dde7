/*
 * tchar.h — npfs's generic-text mappings for Linux: _TCHAR, _T/_TEXT, _tmain, _tprintf and
 * friends, driven by _UNICODE as in the Microsoft C runtime. Written for npfs.
 *
 * Under _UNICODE (compile with -fshort-wchar; see windows.h):
 *  - _tprintf formats a WCHAR format string with the Microsoft wide conventions (%s is a
 *    WCHAR string) and writes UTF-8 to stdout (glibc's wprintf cannot take 16-bit strings).
 *  - _tmain is wmain. Linux starts programs at main, so this header supplies a weak main that
 *    converts argv from UTF-8 to UTF-16 and calls wmain(argc, argv). Define
 *    NPFS_NO_WMAIN_SHIM to leave it out.
 */
#ifndef NPFS_TCHAR_H
#define NPFS_TCHAR_H

#include "windows.h"
#include <stdio.h>
#include <string.h>

#if defined(_UNICODE) && (__SIZEOF_WCHAR_T__ != 2)
#error "_UNICODE builds against npfs's tchar.h need 16-bit wide characters: compile with -fshort-wchar"
#endif

#ifdef _UNICODE
#include "wformat.h"
#include <stdlib.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

#ifdef _UNICODE

typedef WCHAR _TCHAR;
typedef WCHAR _TSCHAR;
typedef WCHAR _TUCHAR;
typedef WCHAR _TXCHAR;
typedef int _TINT;
#define __T(x) L##x
#define _tmain wmain
#define _tprintf npfs_wprintf
#define _vtprintf npfs_vwprintf
#define _tcslen lstrlenW

#if !defined(NPFS_NO_WMAIN_SHIM)
#ifdef __cplusplus
/* C++: wmain(int, wchar_t **) has C linkage, as Visual C++ gives it (a definition after this
 * declaration keeps it); a wmain(void) is another function with its C++ (Itanium) name. */
int wmain(int argc, WCHAR **argv);
extern int npfs_tchar_wmain_void(void) __asm__("_Z5wmainv") __attribute__((weak));
#endif
/* The program's wmain, whatever its exact prototype (int wmain(void) is allowed too). */
extern int npfs_tchar_wmain_entry(int argc, WCHAR **argv) __asm__("wmain") __attribute__((weak));

__attribute__((weak)) int main(int argc, char **argv)
{
    WCHAR **wargv = (WCHAR **)calloc((size_t)argc + 1, sizeof(WCHAR *));
    int i;
#ifdef __cplusplus
    if (!npfs_tchar_wmain_entry && npfs_tchar_wmain_void)
        return npfs_tchar_wmain_void();
#endif
    if (!wargv || !npfs_tchar_wmain_entry)
        return 255;
    for (i = 0; i < argc; i++) {
        size_t n = strlen(argv[i]);
        size_t units = npfs_wf_to_utf16(argv[i], n, NULL, 0) + 1;
        wargv[i] = (WCHAR *)calloc(units, sizeof(WCHAR));
        if (!wargv[i])
            return 255;
        npfs_wf_to_utf16(argv[i], n, wargv[i], units);
    }
    return npfs_tchar_wmain_entry(argc, wargv);
}
#endif

#else /* !_UNICODE */

typedef char _TCHAR;
typedef signed char _TSCHAR;
typedef unsigned char _TUCHAR;
typedef char _TXCHAR;
typedef int _TINT;
#define __T(x) x
#define _tmain main
#define _tprintf printf
#define _vtprintf vprintf
#define _tcslen strlen

#endif

#define _T(x) __T(x)
#define _TEXT(x) __T(x)

#ifdef __cplusplus
}
#endif

#endif /* NPFS_TCHAR_H */
