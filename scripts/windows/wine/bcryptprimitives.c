/*
 * Stand-in for bcryptprimitives.dll, which wine 8.0 lacks. Every Rust >= 1.78 Windows exe
 * imports ProcessPrng from it; without it the exe exits 53 under wine and prints nothing.
 * Real Windows 10+/Server 2016+ ships the real DLL: this file is for tests under wine only.
 *
 * ProcessPrng(pbData, cbData) fills the buffer with random bytes and always returns TRUE.
 * We use advapi32's SystemFunction036 (RtlGenRandom), which wine implements.
 * Built by scripts/wine-prefix.sh with x86_64-w64-mingw32-gcc.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length); /* RtlGenRandom */

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x40000000u ? 0x40000000u : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, LPVOID reserved)
{
    (void)inst;
    (void)reason;
    (void)reserved;
    return TRUE;
}
