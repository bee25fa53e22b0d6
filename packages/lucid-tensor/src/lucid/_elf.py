"""Just enough ELF to hand a shared library to the dynamic linker under another name.

The dynamic linker satisfies a library's ``NEEDED`` entry with any library already loaded
whose ``SONAME`` is that name, whether it was opened ``RTLD_LOCAL`` or ``RTLD_GLOBAL``.
Two tools build on that, both loading from memory (a memfd), never writing to disk:

- ``load_as(src, soname)``: a copy of ``src`` whose ``SONAME`` is rewritten (in place, so
  the new name must not be longer);
- ``load_alias(soname, target_soname, machine)``: a tiny library with no code, whose only
  content is its name ``soname`` and a ``NEEDED`` entry on ``target_soname``, already
  loaded. A library that needs ``soname`` then finds every symbol in ``target``.
"""

from __future__ import annotations

import ctypes
import os
import struct
import tempfile

PT_LOAD, PT_DYNAMIC, PT_GNU_STACK = 1, 2, 0x6474E551
DT_NULL, DT_NEEDED, DT_HASH, DT_STRTAB, DT_SYMTAB, DT_STRSZ, DT_SYMENT, DT_SONAME = (
    0, 1, 4, 5, 6, 10, 11, 14)


def dynamic(data: bytes) -> tuple[int | None, list[int]]:
    """File offsets of the ``SONAME`` and ``NEEDED`` strings of a 64-bit little-endian ELF."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError("not a 64-bit little-endian ELF file")
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    loads, dyn = [], None
    for i in range(phnum):
        ptype, _, offset, vaddr, _, filesz, _, _ = struct.unpack_from(
            "<IIQQQQQQ", data, phoff + i * phentsize)
        if ptype == PT_LOAD:
            loads.append((vaddr, offset, filesz))
        elif ptype == PT_DYNAMIC:
            dyn = offset
    if dyn is None:
        raise ValueError("no dynamic section")
    tags: dict[int, list[int]] = {}
    for pos in range(dyn, len(data), 16):
        tag, val = struct.unpack_from("<qQ", data, pos)
        if tag == DT_NULL:
            break
        tags.setdefault(tag, []).append(val)
    strtab = next(off + tags[DT_STRTAB][0] - va for va, off, size in loads
                  if va <= tags[DT_STRTAB][0] < va + size)
    soname = strtab + tags[DT_SONAME][0] if DT_SONAME in tags else None
    return soname, [strtab + v for v in tags.get(DT_NEEDED, [])]


def cstring(data: bytes, pos: int) -> str:
    return data[pos:data.index(b"\0", pos)].decode()


def read_names(path: str) -> tuple[str | None, list[str]]:
    """``(SONAME, [NEEDED, ...])`` of the library at ``path``."""
    with open(path, "rb") as f:
        data = f.read()
    at, needed = dynamic(data)
    return (cstring(data, at) if at is not None else None), [cstring(data, p) for p in needed]


def machine(path: str) -> int:
    """The ``e_machine`` field of an ELF file (62 for x86-64, 183 for AArch64)."""
    with open(path, "rb") as f:
        head = f.read(20)
    return struct.unpack_from("<H", head, 18)[0]


def open_image(data: bytes, name: str, mode: int = ctypes.RTLD_LOCAL) -> ctypes.CDLL:
    """dlopen an ELF image held in memory (a memfd), or via a temporary file.

    The memfd stays open for the life of the process: the dynamic linker knows a loaded
    library by the path it was opened with, and a closed descriptor's number, hence its
    ``/proc/self/fd/N`` path, would be reused by the next image and taken for this one.
    """
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create(name)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            return ctypes.CDLL(f"/proc/self/fd/{fd}", mode=mode)
        except OSError:
            os.close(fd)
    with tempfile.TemporaryDirectory(prefix="lucid-elf-") as folder:
        path = os.path.join(folder, name)
        with open(path, "wb") as f:
            f.write(data)
        return ctypes.CDLL(path, mode=mode)


def load_as(src: str, soname: str) -> None:
    """Load a copy of library ``src`` whose ``SONAME`` is rewritten to ``soname``."""
    with open(src, "rb") as f:
        data = bytearray(f.read())
    at, needed = dynamic(data)
    end = data.index(b"\0", at) if at is not None else -1
    if at is None or end - at < len(soname):
        raise ValueError(f"{src}: SONAME too short to rewrite")
    data[at:end] = soname.encode().ljust(end - at, b"\0")
    folder = os.path.dirname(src)
    for pos in needed:  # siblings it finds through RPATH $ORIGIN, e.g. libquadmath-<hash>.so
        sibling = os.path.join(folder, cstring(data, pos))
        if os.path.exists(sibling):
            ctypes.CDLL(sibling)
    open_image(bytes(data), soname)


def alias_image(soname: str, target_soname: str, e_machine: int) -> bytes:
    """A shared object with no code: ``SONAME`` ``soname``, ``NEEDED`` ``target_soname``.

    Layout, all in one read-write ``PT_LOAD`` at address 0: ELF header, three program
    headers (load, dynamic, non-executable stack), an empty symbol table with its hash
    table, the string table, the dynamic section.
    """
    strtab = b"\0" + target_soname.encode() + b"\0" + soname.encode() + b"\0"
    needed_at, soname_at = 1, 2 + len(target_soname)
    symtab_off = 64 + 3 * 56
    hash_off = symtab_off + 24  # one null symbol
    str_off = hash_off + 16  # nbucket = nchain = 1, both entries 0
    dyn_off = (str_off + len(strtab) + 7) & ~7
    entries = [(DT_NEEDED, needed_at), (DT_SONAME, soname_at), (DT_HASH, hash_off),
               (DT_STRTAB, str_off), (DT_SYMTAB, symtab_off), (DT_STRSZ, len(strtab)),
               (DT_SYMENT, 24), (DT_NULL, 0)]
    size = dyn_off + 16 * len(entries)
    out = bytearray(size)
    struct.pack_into("<4sBBBB8xHHIQQQIHHHHHH", out, 0, b"\x7fELF", 2, 1, 1, 0,
                     3, e_machine, 1, 0, 64, 0, 0, 64, 56, 3, 64, 0, 0)
    rw = 4 | 2
    struct.pack_into("<IIQQQQQQ", out, 64, PT_LOAD, rw, 0, 0, 0, size, size, 0x1000)
    struct.pack_into("<IIQQQQQQ", out, 120, PT_DYNAMIC, rw, dyn_off, dyn_off, dyn_off,
                     16 * len(entries), 16 * len(entries), 8)
    struct.pack_into("<IIQQQQQQ", out, 176, PT_GNU_STACK, rw, 0, 0, 0, 0, 0, 16)
    struct.pack_into("<IIII", out, hash_off, 1, 1, 0, 0)
    out[str_off:str_off + len(strtab)] = strtab
    for i, (tag, value) in enumerate(entries):
        struct.pack_into("<qQ", out, dyn_off + 16 * i, tag, value)
    return bytes(out)


def load_alias(soname: str, target_soname: str, e_machine: int) -> ctypes.CDLL:
    """Load ``alias_image(...)``; ``target_soname`` must already be loaded."""
    return open_image(alias_image(soname, target_soname, e_machine), soname)
