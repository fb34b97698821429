/*
 * verinfo.c - test helper for scripts/windows/wine-tests.sh (built with x86_64-w64-mingw32-gcc,
 * run under wine). Prints what Windows' own APIs read from an executable's resources:
 *   FixedFileVersion=a.b.c.d, then Name=value for the VERSIONINFO strings, then Icons=N
 *   (icon groups, as Explorer counts them). Exit 0, or 1 when there is no version resource.
 * It only reads the file; it is not shipped.
 */
#include <windows.h>
#include <shellapi.h>
#include <stdio.h>
#include <stdlib.h>

int wmain(int argc, wchar_t **argv)
{
    static const wchar_t *names[] = {L"ProductName", L"FileDescription", L"CompanyName",
                                     L"FileVersion", L"ProductVersion", L"OriginalFilename",
                                     L"InternalName", L"LegalCopyright"};
    DWORD handle = 0, size;
    BYTE *buf;
    VS_FIXEDFILEINFO *ffi;
    struct { WORD lang, codepage; } *tr;
    UINT len = 0, i;

    if (argc != 2) {
        fprintf(stderr, "usage: verinfo FILE.exe\n");
        return 2;
    }
    size = GetFileVersionInfoSizeW(argv[1], &handle);
    if (size == 0) {
        fprintf(stderr, "no version resource (error %lu)\n", GetLastError());
        return 1;
    }
    buf = malloc(size);
    if (!buf || !GetFileVersionInfoW(argv[1], 0, size, buf)) {
        fprintf(stderr, "GetFileVersionInfoW failed (error %lu)\n", GetLastError());
        return 1;
    }
    if (VerQueryValueW(buf, L"\\", (void **)&ffi, &len) && len >= sizeof(*ffi))
        printf("FixedFileVersion=%u.%u.%u.%u\n", HIWORD(ffi->dwFileVersionMS),
               LOWORD(ffi->dwFileVersionMS), HIWORD(ffi->dwFileVersionLS),
               LOWORD(ffi->dwFileVersionLS));
    if (VerQueryValueW(buf, L"\\VarFileInfo\\Translation", (void **)&tr, &len) && len >= 4) {
        for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            wchar_t path[128];
            wchar_t *value;
            UINT vlen = 0;
            swprintf(path, 128, L"\\StringFileInfo\\%04x%04x\\%ls", tr->lang, tr->codepage,
                     names[i]);
            if (VerQueryValueW(buf, path, (void **)&value, &vlen) && vlen > 0)
                printf("%ls=%ls\n", names[i], value);
        }
    }
    printf("Icons=%u\n", ExtractIconExW(argv[1], -1, NULL, NULL, 0));
    free(buf);
    return 0;
}
