#!/usr/bin/env bash
# check-headers.sh — compares npfs's include/ with mingw-w64's Windows headers: every constant
# macro our headers define (value), and the size and member offsets of every structure.
# Builds one generated program twice — with gcc -I include (run natively) and with
# x86_64-w64-mingw32-gcc (run under Wine) — and diffs the outputs. Exit 0 = identical.
# Needs x86_64-w64-mingw32-gcc and wine; exits 77 (skipped) without them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
inc=$root/include/npfs
command -v x86_64-w64-mingw32-gcc >/dev/null || { echo "check-headers: no mingw-w64 (skipped)"; exit 77; }
wine=$(command -v wine64 || command -v wine || true)
[ -n "$wine" ] || { echo "check-headers: no wine (skipped)"; exit 77; }
export WINEPREFIX=${WINEPREFIX:-/tmp/npfs-wineprefix} WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Object-like macros with a value, minus the ones that are not constants.
skip='^(NPFS_.*|WINAPI|WINAPIV|APIENTRY|CALLBACK|NTAPI|WINBASEAPI|WINADVAPI|WINUSERAPI|STDAPI|DECLSPEC_NORETURN|FAR|NEAR|IN|OUT|OPTIONAL|CONST|VOID|NULL|DUMMY.*|STRSAFEAPI|SECURITY_DESCRIPTOR_MIN_LENGTH)$'
names=$(cat "$inc"/windows.h "$inc"/strsafe.h | sed -n 's/^#define \([A-Z_][A-Z0-9_]*\) [^ ].*/\1/p' \
  | grep -Ev "$skip" | grep -Ev '^(CreateNamedPipe|CreateFile)' | sort -u)
{
  echo '#include <windows.h>'
  echo '#include <strsafe.h>'
  echo '#include <aclapi.h>'
  echo '#include <stdio.h>'
  echo '#include <stddef.h>'
  echo '#define P(n) printf("%-40s %llx\n", #n, (unsigned long long)(long long)(n))'
  echo '#define S(t) printf("sizeof %-33s %u\n", #t, (unsigned)sizeof(t))'
  echo '#define O(t, m) printf("offsetof %-31s %u\n", #t "." #m, (unsigned)offsetof(t, m))'
  echo 'int main(void) {'
  for n in $names; do
    printf '#ifdef %s\n P(%s);\n#else\n printf("%%-40s undefined\\n", "%s");\n#endif\n' "$n" "$n" "$n"
  done
  for t in BOOL BOOLEAN BYTE WORD DWORD UINT INT LONG ULONG SHORT USHORT CHAR UCHAR WCHAR LONGLONG ULONGLONG \
           DWORD64 INT_PTR UINT_PTR LONG_PTR ULONG_PTR DWORD_PTR SIZE_T SSIZE_T HANDLE HRESULT LPVOID \
           ACCESS_MASK SECURITY_INFORMATION SECURITY_IMPERSONATION_LEVEL SE_OBJECT_TYPE \
           OVERLAPPED OVERLAPPED_ENTRY SECURITY_ATTRIBUTES LARGE_INTEGER ULARGE_INTEGER FILETIME \
           SID SID_IDENTIFIER_AUTHORITY ACL SECURITY_DESCRIPTOR STARTUPINFOA STARTUPINFOW PROCESS_INFORMATION; do
    echo " S($t);"
  done
  for m in OVERLAPPED.Internal OVERLAPPED.InternalHigh OVERLAPPED.Offset OVERLAPPED.OffsetHigh OVERLAPPED.Pointer \
           OVERLAPPED.hEvent OVERLAPPED_ENTRY.lpCompletionKey OVERLAPPED_ENTRY.lpOverlapped \
           OVERLAPPED_ENTRY.Internal OVERLAPPED_ENTRY.dwNumberOfBytesTransferred \
           SECURITY_ATTRIBUTES.nLength SECURITY_ATTRIBUTES.lpSecurityDescriptor SECURITY_ATTRIBUTES.bInheritHandle \
           LARGE_INTEGER.LowPart LARGE_INTEGER.HighPart LARGE_INTEGER.QuadPart FILETIME.dwHighDateTime \
           SID.Revision SID.SubAuthorityCount SID.IdentifierAuthority SID.SubAuthority \
           ACL.AclRevision ACL.Sbz1 ACL.AclSize ACL.AceCount ACL.Sbz2 \
           SECURITY_DESCRIPTOR.Revision SECURITY_DESCRIPTOR.Control SECURITY_DESCRIPTOR.Owner \
           SECURITY_DESCRIPTOR.Group SECURITY_DESCRIPTOR.Sacl SECURITY_DESCRIPTOR.Dacl \
           STARTUPINFOA.cb STARTUPINFOA.lpReserved STARTUPINFOA.lpDesktop STARTUPINFOA.lpTitle STARTUPINFOA.dwX \
           STARTUPINFOA.dwY STARTUPINFOA.dwXSize STARTUPINFOA.dwYSize STARTUPINFOA.dwXCountChars \
           STARTUPINFOA.dwYCountChars STARTUPINFOA.dwFillAttribute STARTUPINFOA.dwFlags STARTUPINFOA.wShowWindow \
           STARTUPINFOA.cbReserved2 STARTUPINFOA.lpReserved2 STARTUPINFOA.hStdInput STARTUPINFOA.hStdOutput \
           STARTUPINFOA.hStdError STARTUPINFOW.lpTitle STARTUPINFOW.dwFlags STARTUPINFOW.wShowWindow \
           STARTUPINFOW.lpReserved2 STARTUPINFOW.hStdError PROCESS_INFORMATION.hProcess PROCESS_INFORMATION.hThread \
           PROCESS_INFORMATION.dwProcessId PROCESS_INFORMATION.dwThreadId; do
    echo " O(${m%%.*}, ${m#*.});"
  done
  for e in SecurityAnonymous SecurityIdentification SecurityImpersonation SecurityDelegation \
           SE_UNKNOWN_OBJECT_TYPE SE_FILE_OBJECT SE_KERNEL_OBJECT SE_WINDOW_OBJECT SE_REGISTRY_WOW64_32KEY; do
    echo " P($e);"
  done
  # signedness of the integer types (LONG and HRESULT signed, DWORD unsigned, ...)
  for t in LONG HRESULT DWORD ULONG INT UINT BOOL WCHAR LONG_PTR ULONG_PTR SIZE_T SSIZE_T; do
    echo " printf(\"signed %-35s %d\\n\", \"$t\", (int)(($t)-1 < ($t)0));"
  done
  echo ' return 0; }'
} > "$work/consts.c"
gcc -std=gnu11 -I "$inc" -o "$work/linux" "$work/consts.c"
x86_64-w64-mingw32-gcc -o "$work/win.exe" "$work/consts.c"
"$work/linux" > "$work/linux.txt"
timeout 120 "$wine" "$work/win.exe" | tr -d '\r' > "$work/win.txt"
echo "check-headers: $(wc -l < "$work/linux.txt") values compared (npfs include/ vs mingw-w64)"
if diff -u "$work/win.txt" "$work/linux.txt" > "$work/diff.txt"; then
  echo "check-headers: identical"
else
  echo "check-headers: DIFFERENCES (- mingw-w64, + npfs):"
  grep '^[-+][^-+]' "$work/diff.txt"
  exit 1
fi
