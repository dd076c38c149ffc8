#!/usr/bin/env python3
"""Flash and static RAM footprint of a firmware ELF, from its section headers.

    footprint.py ELF [ELF ...]

Flash: the sections stored in the image (code and constants run from flash, plus the load images
of the RAM code and initialised data). Static RAM: RAM code, initialised and zeroed data. The
linker's `.stack` section is the RAM left over for the stack, reported apart: GNU size's text/bss
columns would count it (and the address-space placeholders) as if it were used.
"""
import struct
import sys

SHF_ALLOC = 0x2
SHT_NOBITS = 8

# Sections copied from flash into RAM at start-up: they take both.
LOADED_INTO_RAM = (".trap", ".rwtext", ".data", ".rtc_fast.text", ".rtc_fast.data")
# Zero-initialised or uninitialised RAM.
RAM_ONLY = (".bss", ".noinit", ".rtc_fast.bss", ".rtc_fast.persistent")
# Run from flash (through the cache).
FLASH_ONLY = (".flash.appdesc", ".rodata", ".text")


def sections(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 1 or data[5] != 1:
        raise SystemExit(f"{path}: not a 32-bit little-endian ELF")
    shoff, = struct.unpack_from("<I", data, 0x20)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x2E)
    headers = [struct.unpack_from("<IIIIIIIIII", data, shoff + i * shentsize) for i in range(shnum)]
    names_offset = headers[shstrndx][4]

    def name(offset):
        end = data.index(b"\0", names_offset + offset)
        return data[names_offset + offset:end].decode()

    for h in headers:
        sh_name, sh_type, sh_flags, _addr, _offset, sh_size = h[:6]
        if sh_flags & SHF_ALLOC and sh_size:
            yield name(sh_name), sh_type, sh_size


def matches(name, prefixes):
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def footprint(path):
    flash = ram = stack = 0
    for name, kind, size in sections(path):
        if name == ".stack":
            stack += size
        elif matches(name, LOADED_INTO_RAM) and kind != SHT_NOBITS:
            flash += size
            ram += size
        elif matches(name, RAM_ONLY):
            ram += size
        elif matches(name, FLASH_ONLY) and kind != SHT_NOBITS:
            flash += size
    return flash, ram, stack


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    width = max(len("image"), *(len(path) for path in sys.argv[1:]))
    print(f"{'image':<{width}} {'flash':>9} {'static RAM':>11} {'left for stack':>15}")
    for path in sys.argv[1:]:
        flash, ram, stack = footprint(path)
        print(f"{path:<{width}} {flash:>9} {ram:>11} {stack:>15}")


if __name__ == "__main__":
    main()
