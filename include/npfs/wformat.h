/*
 * npfs/wformat.h — internal helper of npfs's <tchar.h> and <strsafe.h>: printf-style
 * formatting of UTF-16 (WCHAR) format strings with the Microsoft wide-function conventions,
 * because glibc's wprintf family expects a 32-bit wchar_t and cannot take WCHAR strings.
 *
 * Conventions (those of the Windows C runtime's wide functions):
 *   %s %c          a WCHAR string / WCHAR       %hs %S %hc %C   a char string / char
 *   %ls %ws %lc    a WCHAR string / WCHAR       %l (d,u,x,...)  32 bits, as LONG/DWORD
 *   %ll %I64       64 bits                       %I %z           pointer-sized
 * Output is UTF-8. Not part of the SDK; programs do not include this header directly.
 */
#ifndef NPFS_WFORMAT_H
#define NPFS_WFORMAT_H

#include "windows.h"
#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct npfs_wf_buf {
    char *p;
    size_t len, cap;
    int oom;
} npfs_wf_buf;

static inline void npfs_wf_put(npfs_wf_buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 128;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = (char *)realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static inline void npfs_wf_put_cp(npfs_wf_buf *b, unsigned long cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    npfs_wf_put(b, u, n);
}

/* Appends at most `max` UTF-16 units of s (stopping at NUL) as UTF-8; returns code points. */
static inline size_t npfs_wf_put_w(npfs_wf_buf *b, const WCHAR *s, size_t max)
{
    size_t i = 0, cps = 0;
    while (i < max && s[i]) {
        unsigned long c = s[i++];
        if (c >= 0xD800 && c < 0xDC00 && i < max && s[i] >= 0xDC00 && s[i] < 0xE000)
            c = 0x10000 + ((c - 0xD800) << 10) + (s[i++] - 0xDC00);
        else if (c >= 0xD800 && c < 0xE000)
            c = 0xFFFD;
        npfs_wf_put_cp(b, c);
        cps++;
    }
    return cps;
}

/* UTF-8 -> UTF-16. Writes at most cap-1 units plus a NUL when cap > 0 (never splitting a
 * surrogate pair); returns the number of units the whole string needs (without the NUL). */
static inline size_t npfs_wf_to_utf16(const char *s, size_t n, WCHAR *dst, size_t cap)
{
    size_t i = 0, need = 0, w = 0;
    int full = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        unsigned long cp;
        size_t k;
        if (c < 0x80) { cp = c; k = 1; }
        else if ((c & 0xE0) == 0xC0) { cp = c & 0x1F; k = 2; }
        else if ((c & 0xF0) == 0xE0) { cp = c & 0x0F; k = 3; }
        else if ((c & 0xF8) == 0xF0) { cp = c & 0x07; k = 4; }
        else { cp = 0xFFFD; k = 1; }
        if (k > 1) {
            size_t j;
            if (i + k > n) { cp = 0xFFFD; k = 1; }
            else {
                for (j = 1; j < k; j++) {
                    unsigned char d = (unsigned char)s[i + j];
                    if ((d & 0xC0) != 0x80) { cp = 0xFFFD; k = 1; break; }
                    cp = (cp << 6) | (d & 0x3F);
                }
            }
        }
        i += k;
        if (cp >= 0x10000) {
            need += 2;
            if (cap && !full && w + 2 < cap) {
                cp -= 0x10000;
                dst[w++] = (WCHAR)(0xD800 + (cp >> 10));
                dst[w++] = (WCHAR)(0xDC00 + (cp & 0x3FF));
            } else
                full = 1; /* stop writing (never half a pair), keep counting */
        } else {
            need += 1;
            if (cap && !full && w + 1 < cap)
                dst[w++] = (WCHAR)cp;
            else
                full = 1;
        }
    }
    if (cap)
        dst[w] = 0;
    return need;
}

static inline size_t npfs_wf_cplen(const char *s, size_t n)
{
    size_t i, cps = 0;
    for (i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            cps++;
    return cps;
}

static inline void npfs_wf_pad(npfs_wf_buf *b, long n)
{
    while (n-- > 0)
        npfs_wf_put(b, " ", 1);
}

/* Formats fmt with the wide conventions above, appending UTF-8 to b. */
static inline void npfs_wf_vformat(npfs_wf_buf *b, const WCHAR *fmt, va_list *ap)
{
    while (*fmt) {
        if (*fmt != '%') {
            const WCHAR *start = fmt;
            while (*fmt && *fmt != '%')
                fmt++;
            npfs_wf_put_w(b, start, (size_t)(fmt - start));
            continue;
        }
        const WCHAR *spec_start = fmt++;
        char flags[8];
        size_t nflags = 0;
        long width = -1, prec = -1;
        int left = 0;
        while (*fmt == '-' || *fmt == '+' || *fmt == ' ' || *fmt == '#' || *fmt == '0') {
            if (*fmt == '-')
                left = 1;
            if (nflags < sizeof flags - 1)
                flags[nflags++] = (char)*fmt;
            fmt++;
        }
        flags[nflags] = 0;
        if (*fmt == '*') {
            width = va_arg(*ap, int);
            if (width < 0) {
                left = 1;
                width = -width;
                if (nflags < sizeof flags - 1)
                    flags[nflags++] = '-', flags[nflags] = 0;
            }
            fmt++;
        } else if (*fmt >= '0' && *fmt <= '9') {
            width = 0;
            while (*fmt >= '0' && *fmt <= '9')
                width = width * 10 + (*fmt++ - '0');
        }
        if (*fmt == '.') {
            fmt++;
            prec = 0;
            if (*fmt == '*') {
                prec = va_arg(*ap, int);
                fmt++;
            } else
                while (*fmt >= '0' && *fmt <= '9')
                    prec = prec * 10 + (*fmt++ - '0');
        }
        /* length: 0 none, 1 hh, 2 h, 3 l (32-bit), 4 ll/I64, 5 size, 6 L, 7 w (wide) */
        int len = 0;
        if (fmt[0] == 'h' && fmt[1] == 'h') len = 1, fmt += 2;
        else if (fmt[0] == 'h') len = 2, fmt++;
        else if (fmt[0] == 'l' && fmt[1] == 'l') len = 4, fmt += 2;
        else if (fmt[0] == 'l') len = 3, fmt++;
        else if (fmt[0] == 'w') len = 7, fmt++;
        else if (fmt[0] == 'q') len = 4, fmt++;
        else if (fmt[0] == 'L') len = 6, fmt++;
        else if (fmt[0] == 'I' && fmt[1] == '6' && fmt[2] == '4') len = 4, fmt += 3;
        else if (fmt[0] == 'I' && fmt[1] == '3' && fmt[2] == '2') len = 3, fmt += 3;
        else if (fmt[0] == 'I' || fmt[0] == 'z' || fmt[0] == 't' || fmt[0] == 'j') len = 5, fmt++;
        WCHAR conv = *fmt;
        if (!conv)
            break;
        fmt++;
        char spec[96], tmp[1024];
        int n;
        switch (conv) {
        case '%':
            npfs_wf_put(b, "%", 1);
            break;
        case 'd':
        case 'i': {
            long long v;
            if (len == 4) v = va_arg(*ap, long long);
            else if (len == 5) v = (long long)va_arg(*ap, intptr_t);
            else {
                v = va_arg(*ap, int);
                if (len == 1) v = (signed char)v;
                else if (len == 2) v = (short)v;
            }
            if (width < 0 && prec < 0) snprintf(spec, sizeof spec, "%%%slld", flags);
            else if (prec < 0) snprintf(spec, sizeof spec, "%%%s%ldlld", flags, width);
            else if (width < 0) snprintf(spec, sizeof spec, "%%%s.%ldlld", flags, prec);
            else snprintf(spec, sizeof spec, "%%%s%ld.%ldlld", flags, width, prec);
            n = snprintf(tmp, sizeof tmp, spec, v);
            npfs_wf_put(b, tmp, n < (int)sizeof tmp ? (size_t)n : sizeof tmp - 1);
            break;
        }
        case 'u':
        case 'o':
        case 'x':
        case 'X': {
            unsigned long long v;
            if (len == 4) v = va_arg(*ap, unsigned long long);
            else if (len == 5) v = (unsigned long long)va_arg(*ap, uintptr_t);
            else {
                v = va_arg(*ap, unsigned int);
                if (len == 1) v = (unsigned char)v;
                else if (len == 2) v = (unsigned short)v;
            }
            if (width < 0 && prec < 0) snprintf(spec, sizeof spec, "%%%sll%c", flags, (char)conv);
            else if (prec < 0) snprintf(spec, sizeof spec, "%%%s%ldll%c", flags, width, (char)conv);
            else if (width < 0) snprintf(spec, sizeof spec, "%%%s.%ldll%c", flags, prec, (char)conv);
            else snprintf(spec, sizeof spec, "%%%s%ld.%ldll%c", flags, width, prec, (char)conv);
            n = snprintf(tmp, sizeof tmp, spec, v);
            npfs_wf_put(b, tmp, n < (int)sizeof tmp ? (size_t)n : sizeof tmp - 1);
            break;
        }
        case 'e': case 'E': case 'f': case 'F': case 'g': case 'G': case 'a': case 'A': {
            const char *lm = len == 6 ? "L" : "";
            if (width < 0 && prec < 0) snprintf(spec, sizeof spec, "%%%s%s%c", flags, lm, (char)conv);
            else if (prec < 0) snprintf(spec, sizeof spec, "%%%s%ld%s%c", flags, width, lm, (char)conv);
            else if (width < 0) snprintf(spec, sizeof spec, "%%%s.%ld%s%c", flags, prec, lm, (char)conv);
            else snprintf(spec, sizeof spec, "%%%s%ld.%ld%s%c", flags, width, prec, lm, (char)conv);
            if (len == 6) n = snprintf(tmp, sizeof tmp, spec, va_arg(*ap, long double));
            else n = snprintf(tmp, sizeof tmp, spec, va_arg(*ap, double));
            npfs_wf_put(b, tmp, n < (int)sizeof tmp ? (size_t)n : sizeof tmp - 1);
            break;
        }
        case 'p':
            n = snprintf(tmp, sizeof tmp, "%016llX", (unsigned long long)(uintptr_t)va_arg(*ap, void *));
            npfs_wf_pad(b, left ? 0 : width - n);
            npfs_wf_put(b, tmp, (size_t)n);
            npfs_wf_pad(b, left ? width - n : 0);
            break;
        case 'c':
        case 'C': {
            int narrow = (conv == 'C' && len != 3 && len != 7) || (conv == 'c' && len == 2);
            int v = va_arg(*ap, int);
            npfs_wf_pad(b, left ? 0 : width - 1);
            if (narrow) {
                char ch = (char)v;
                npfs_wf_put(b, &ch, 1);
            } else {
                WCHAR wc = (WCHAR)v;
                npfs_wf_put_w(b, &wc, 1);
            }
            npfs_wf_pad(b, left ? width - 1 : 0);
            break;
        }
        case 's':
        case 'S':
        case 'Z': {
            int narrow = (conv == 'S' && len != 3 && len != 7) || (conv == 's' && len == 2);
            npfs_wf_buf s = {0, 0, 0, 0};
            size_t cps;
            if (narrow) {
                const char *p = va_arg(*ap, const char *);
                if (!p) p = "(null)";
                size_t l = strlen(p);
                if (prec >= 0 && (size_t)prec < l) l = (size_t)prec;
                npfs_wf_put(&s, p, l);
                cps = npfs_wf_cplen(p, l);
            } else {
                const WCHAR *p = va_arg(*ap, const WCHAR *);
                static const WCHAR null_w[] = {'(', 'n', 'u', 'l', 'l', ')', 0};
                if (!p) p = null_w;
                cps = npfs_wf_put_w(&s, p, prec >= 0 ? (size_t)prec : (size_t)-1);
            }
            npfs_wf_pad(b, left ? 0 : width - (long)cps);
            if (s.p) npfs_wf_put(b, s.p, s.len);
            npfs_wf_pad(b, left ? width - (long)cps : 0);
            free(s.p);
            break;
        }
        case 'n':
            (void)va_arg(*ap, void *); /* %n is disabled, as in the Microsoft runtime */
            break;
        default:
            npfs_wf_put_w(b, spec_start, (size_t)(fmt - spec_start));
            break;
        }
    }
}

/* vwprintf with the conventions above, to stdout; returns UTF-16 units written or -1. */
static inline int npfs_vwprintf(const WCHAR *fmt, va_list ap)
{
    npfs_wf_buf b = {0, 0, 0, 0};
    va_list cp;
    int r;
    va_copy(cp, ap);
    npfs_wf_vformat(&b, fmt, &cp);
    va_end(cp);
    if (b.oom) {
        free(b.p);
        return -1;
    }
    r = (int)npfs_wf_to_utf16(b.p ? b.p : "", b.len, NULL, 0);
    if (b.len && fwrite(b.p, 1, b.len, stdout) != b.len)
        r = -1;
    free(b.p);
    return r;
}

static inline int npfs_wprintf(const WCHAR *fmt, ...)
{
    va_list ap;
    int r;
    va_start(ap, fmt);
    r = npfs_vwprintf(fmt, ap);
    va_end(ap);
    return r;
}

/* Formats into dst (cap units incl. NUL, cap > 0); returns units needed (w/o NUL) or -1. */
static inline long npfs_vswprintf(WCHAR *dst, size_t cap, const WCHAR *fmt, va_list ap)
{
    npfs_wf_buf b = {0, 0, 0, 0};
    va_list cp;
    long r;
    va_copy(cp, ap);
    npfs_wf_vformat(&b, fmt, &cp);
    va_end(cp);
    if (b.oom) {
        free(b.p);
        if (cap) dst[0] = 0;
        return -1;
    }
    r = (long)npfs_wf_to_utf16(b.p ? b.p : "", b.len, dst, cap);
    free(b.p);
    return r;
}

#ifdef __cplusplus
}
#endif

#endif /* NPFS_WFORMAT_H */
