"""ELF files, 32 or 64-bit, of either byte order: what mprof reads of
them, each an untrusted input that gives an empty answer rather than an
exception when it is not what it says.  The program headers, which place
a PC in the file; the symbols; the GNU build ID; and the .gnu_debuglink,
by which a separate debug file is found when it has no build ID."""

import os
import struct
import zlib
from collections import namedtuple

EM_386, EM_X86_64, EM_AARCH64 = 3, 62, 183
PT_LOAD, PT_NOTE = 1, 4
SHT_SYMTAB, SHT_DYNSYM = 2, 11
NT_GNU_BUILD_ID = 3

Header = namedtuple("Header", "elf64 order machine phoff phentsize phnum "
                    "shoff shentsize shnum shstrndx")


def header(head):
    """The Header of the ELF file that starts with the bytes HEAD (64 of
    them are enough), or None."""
    if len(head) < 52 or head[:4] != b"\x7fELF" or head[4] not in (1, 2) \
            or head[5] not in (1, 2):
        return None
    elf64 = head[4] == 2
    order = "<" if head[5] == 1 else ">"
    if elf64 and len(head) < 64:
        return None
    machine, = struct.unpack_from(order + "H", head, 18)
    word = order + ("Q" if elf64 else "I")
    phoff, = struct.unpack_from(word, head, 32 if elf64 else 28)
    shoff, = struct.unpack_from(word, head, 40 if elf64 else 32)
    phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(
        order + "HHHHH", head, 54 if elf64 else 42)
    return Header(elf64, order, machine, phoff, phentsize, phnum, shoff,
                  shentsize, shnum, shstrndx)


def machine(path):
    """The e_machine of the ELF file PATH, or None."""
    try:
        with open(path, "rb") as f:
            h = header(f.read(64))
    except OSError:
        return None
    return h and h.machine


def program_headers(f):
    """(p_type, p_offset, p_vaddr, p_filesz) of each program header of
    the ELF file open as F; none if it is not one."""
    f.seek(0)
    h = header(f.read(64))
    if not h or h.phentsize < (56 if h.elf64 else 32):
        return []
    f.seek(h.phoff)
    table = f.read(h.phentsize * h.phnum)
    fmt = h.order + ("IIQQQQ" if h.elf64 else "IIIII")
    out = []
    for i in range(min(h.phnum, len(table) // h.phentsize)):
        if h.elf64:
            p_type, _, p_offset, p_vaddr, _, p_filesz = struct.unpack_from(
                fmt, table, i * h.phentsize)
        else:
            p_type, p_offset, p_vaddr, _, p_filesz = struct.unpack_from(
                fmt, table, i * h.phentsize)
        out.append((p_type, p_offset, p_vaddr, p_filesz))
    return out


def load_segments(path):
    """PT_LOAD (p_offset, p_vaddr, p_filesz) of the ELF file PATH."""
    try:
        with open(path, "rb") as f:
            return [p[1:] for p in program_headers(f) if p[0] == PT_LOAD]
    except (OSError, struct.error):
        return []


def first_load(path):
    """The page-aligned address of the first PT_LOAD of the ELF file
    PATH, or 0."""
    return next(((vaddr & ~0xfff) for _, vaddr, _ in load_segments(path)),
                0)


def sections(data):
    """(name, sh_type, sh_offset, sh_size, sh_link, sh_entsize) of each
    section of the ELF file whose bytes are DATA, the name as bytes; none
    if it is not one."""
    h = header(data)
    if not h or h.shentsize < (64 if h.elf64 else 40):
        return []
    fmt = h.order + ("IIQQQQIIQQ" if h.elf64 else "IIIIIIIIII")
    table = []
    for i in range(h.shnum):
        at = h.shoff + i * h.shentsize
        if at + struct.calcsize(fmt) > len(data):
            break
        name, kind, _, _, off, size, link, _, _, entsize = struct.unpack_from(
            fmt, data, at)
        table.append((name, kind, off, size, link, entsize))
    names = table[h.shstrndx][2] if h.shstrndx < len(table) else None
    out = []
    for name, kind, off, size, link, entsize in table:
        label = b""
        if names is not None and names + name < len(data):
            end = data.find(b"\0", names + name)
            label = data[names + name:end if end >= 0 else len(data)]
        out.append((label, kind, off, size, link, entsize))
    return out


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def has_symtab(path):
    """Whether the ELF file PATH has a symbol table (SHT_SYMTAB), which
    strip removes."""
    try:
        return any(s[1] == SHT_SYMTAB for s in sections(read(path)))
    except struct.error:
        return False


def symbols(path):
    """(table, name, value, size, info, section) of each symbol of the
    ELF file PATH in its symbol table (SHT_SYMTAB) and its dynamic one
    (SHT_DYNSYM), the name as bytes; none if PATH is no such file."""
    data = read(path)
    try:
        h = header(data)
        table = sections(data)
        for _, kind, off, size, link, entsize in table:
            if kind not in (SHT_SYMTAB, SHT_DYNSYM) or not entsize \
                    or link >= len(table):
                continue
            strings = table[link][2]
            for at in range(off, min(off + size, len(data)) - entsize + 1,
                            entsize):
                if h.elf64:
                    name, info, _, shndx, value, sz = struct.unpack_from(
                        h.order + "IBBHQQ", data, at)
                else:
                    name, value, sz, info, _, shndx = struct.unpack_from(
                        h.order + "IIIBBH", data, at)
                start = strings + name
                yield (kind, data[start:data.index(b"\0", start)], value,
                       sz, info, shndx)
    except (IndexError, ValueError, struct.error):
        return


def symbol(path, name):
    """The value of the defined symbol NAME (bytes) of the ELF file PATH,
    or None."""
    return next((value for _, sym, value, _, _, section in symbols(path)
                 if sym == name and section), None)


def build_id(path):
    """The GNU build ID of the ELF file PATH as hex, or None: from its
    PT_NOTE segments, which stripping keeps."""
    try:
        with open(path, "rb") as f:
            h = header(f.read(64))
            for p_type, p_offset, _, p_filesz in program_headers(f):
                if p_type != PT_NOTE or p_filesz > 1 << 16:
                    continue
                f.seek(p_offset)
                notes, at = f.read(p_filesz), 0
                while at + 12 <= len(notes):
                    namesz, descsz, kind = struct.unpack_from(
                        h.order + "III", notes, at)
                    name = at + 12
                    desc = name + (namesz + 3) // 4 * 4
                    if kind == NT_GNU_BUILD_ID and \
                            notes[name:name + namesz] == b"GNU\0":
                        return notes[desc:desc + descsz].hex() or None
                    at = desc + (descsz + 3) // 4 * 4
    except (OSError, struct.error):
        return None
    return None


def debuglink(path):
    """(file name, CRC-32) of the .gnu_debuglink section of the ELF file
    PATH, or None."""
    data = read(path)
    try:
        for name, _, off, size, _, _ in sections(data):
            if name != b".gnu_debuglink":
                continue
            section = data[off:off + size]
            end = section.index(b"\0")
            at = (end + 4) // 4 * 4
            crc, = struct.unpack_from(header(data).order + "I", section, at)
            return os.fsdecode(section[:end]), crc
    except (ValueError, struct.error):
        return None
    return None


def debuglink_file(path, debug_dirs):
    """The separate debug file that the .gnu_debuglink of the ELF file
    PATH names, where GDB looks for it: beside PATH, in its .debug
    directory, and under each of DEBUG_DIRS by PATH's directory; the
    first whose CRC-32 matches, or None."""
    link = debuglink(path)
    if not link or "/" in link[0]:
        return None
    name, crc = link
    where = os.path.dirname(os.path.abspath(path))
    for d in [where, os.path.join(where, ".debug")] + [
            os.path.join(root, where.lstrip("/")) for root in debug_dirs]:
        f = os.path.join(d, name)
        if os.path.realpath(f) == os.path.realpath(path) \
                or not os.path.isfile(f):
            continue
        if zlib.crc32(read(f)) == crc:
            return f
    return None
