#!/usr/bin/env python3
"""Print the MESSAGETABLE resource of a PE executable, one "ID<TAB>text" line per message.

Reads the file itself (PE headers, the resource directory, RT_MESSAGETABLE = 11), independent of
the build script that wrote the table, so wine-tests.sh can check that eas-connector.exe carries
a message for every event ID the service uses. Exit 1 with a message when there is no table.
Usage: pe-messagetable.py FILE.exe
"""
import struct
import sys

RT_MESSAGETABLE = 11


def fail(msg):
    print(f"pe-messagetable: {msg}", file=sys.stderr)
    sys.exit(1)


def main(path):
    data = open(path, "rb").read()
    if data[:2] != b"MZ":
        fail(f"{path} is not a PE file")
    pe = struct.unpack_from("<I", data, 0x3C)[0]
    if data[pe:pe + 4] != b"PE\0\0":
        fail(f"{path}: no PE signature")
    nsections, = struct.unpack_from("<H", data, pe + 6)
    opt_size, = struct.unpack_from("<H", data, pe + 20)
    opt = pe + 24
    magic, = struct.unpack_from("<H", data, opt)
    dirs = opt + (112 if magic == 0x20B else 96)
    rsrc_rva, _ = struct.unpack_from("<II", data, dirs + 2 * 8)
    sections = []
    for i in range(nsections):
        off = opt + opt_size + 40 * i
        vsize, va, rawsize, rawptr = struct.unpack_from("<IIII", data, off + 8)
        sections.append((va, max(vsize, rawsize), rawptr))

    def at(rva):
        for va, size, raw in sections:
            if va <= rva < va + size:
                return raw + rva - va
        fail(f"RVA {rva:#x} is in no section")

    base = at(rsrc_rva)

    def entries(off):
        named, ids = struct.unpack_from("<HH", data, base + off + 12)
        for i in range(named + ids):
            name, target = struct.unpack_from("<II", data, base + off + 16 + 8 * i)
            yield name, target

    for name, target in entries(0):
        if name == RT_MESSAGETABLE and target & 0x80000000:
            _, t2 = next(entries(target & 0x7FFFFFFF))
            _, t3 = next(entries(t2 & 0x7FFFFFFF))
            rva, size = struct.unpack_from("<II", data, base + t3)
            table = data[at(rva):at(rva) + size]
            break
    else:
        fail(f"{path} has no MESSAGETABLE resource")

    nblocks, = struct.unpack_from("<I", table, 0)
    for b in range(nblocks):
        low, high, off = struct.unpack_from("<III", table, 4 + 12 * b)
        for msg_id in range(low, high + 1):
            length, flags = struct.unpack_from("<HH", table, off)
            raw = table[off + 4:off + length]
            text = raw.decode("utf-16-le" if flags & 1 else "latin-1").split("\0")[0]
            print(f"{msg_id}\t{text}")
            off += length


if __name__ == "__main__":
    if len(sys.argv) != 2:
        fail("usage: pe-messagetable.py FILE.exe")
    main(sys.argv[1])
