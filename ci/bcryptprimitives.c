/* A stand-in for bcryptprimitives.dll, which Wine 8.0 (Debian 12) lacks: Rust's std (1.78+)
 * imports ProcessPrng from it, and every test executable dies at load (exit status 53)
 * without it. RtlGenRandom (advapi32's SystemFunction036) fills the buffer instead.
 * ci/windows.sh builds it with mingw-w64 and copies it into the Wine prefix. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buf, ULONG len);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len) {
        /* RtlGenRandom takes a ULONG length. */
        ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, n)) return FALSE;
        data += n;
        len -= n;
    }
    return TRUE;
}
