"""tools/mproflib/elf.py on ELF files made here, of both classes and
byte orders: program headers, a build ID, symbols, and the
.gnu_debuglink by which a stripped file's debug file is found."""

import struct
import zlib

import pytest

from mproflib import elf
from mproflib.symbolize import Symbolizer


def make_elf(elf64, order, machine=62, build_id=b"\xab\xcd\xef\x01",
             symbols=(), debuglink=None):
    """An ELF file: one PT_LOAD at 0x400000 over the whole file, one
    PT_NOTE with BUILD_ID, and sections: .shstrtab, .strtab, .symtab with
    SYMBOLS ((name, value) functions in section 1), and .gnu_debuglink
    naming DEBUGLINK ((name, crc)) if given."""
    word = "Q" if elf64 else "I"
    ehsize, phentsize, shentsize = ((64, 56, 64) if elf64 else (52, 32, 40))
    note = struct.pack(order + "III", 4, len(build_id), 3) + b"GNU\0" \
        + build_id
    strtab = b"\0" + b"".join(n + b"\0" for n, _ in symbols)
    sym_fmt = order + ("IBBHQQ" if elf64 else "IIIBBH")
    syms, at = [bytes(struct.calcsize(sym_fmt))], 1
    for name, value in symbols:
        if elf64:
            syms.append(struct.pack(sym_fmt, at, 0x12, 0, 1, value, 16))
        else:
            syms.append(struct.pack(sym_fmt, at, value, 16, 0x12, 0, 1))
        at += len(name) + 1
    symtab = b"".join(syms)
    link = b""
    if debuglink:
        name = debuglink[0] + b"\0"
        name += bytes(-len(name) % 4)
        link = name + struct.pack(order + "I", debuglink[1])
    names = [b"", b".shstrtab", b".strtab", b".symtab", b".gnu_debuglink"]
    shstrtab = b"\0".join(names) + b"\0"
    offsets = [shstrtab.index(n + b"\0") if n else 0 for n in names]
    phoff = ehsize
    data_at = phoff + 2 * phentsize
    blobs = [note, shstrtab, strtab, symtab, link]
    places, at = [], data_at
    for b in blobs:
        places.append(at)
        at += len(b) + (-len(b) % 8)
    shoff = at
    sections = [(0, 0, 0, 0, 0, 0),
                (offsets[1], 3, places[1], len(shstrtab), 0, 0),
                (offsets[2], 3, places[2], len(strtab), 0, 0),
                # Stripped (SHT_NULL) when there is no symbol.
                (offsets[3], 2 if symbols else 0, places[3], len(symtab), 2,
                 struct.calcsize(sym_fmt)),
                (offsets[4], 1, places[4], len(link), 0, 0)]
    if not debuglink:
        sections.pop()
    size = shoff + len(sections) * shentsize
    head = b"\x7fELF" + bytes([2 if elf64 else 1, 1 if order == "<" else 2,
                               1]) + bytes(9)
    head += struct.pack(order + "HHI" + word + word + word + "IHHHHHH", 3,
                        machine, 1, 0, phoff, shoff, 0, ehsize, phentsize,
                        2, shentsize, len(sections), 1)
    ph_fmt = order + ("IIQQQQQQ" if elf64 else "IIIIIIII")
    if elf64:
        phs = [struct.pack(ph_fmt, 1, 5, 0, 0x400000, 0x400000, size, size,
                           0x1000),
               struct.pack(ph_fmt, 4, 4, places[0], 0x400000 + places[0],
                           0, len(note), len(note), 4)]
    else:
        phs = [struct.pack(ph_fmt, 1, 0, 0x400000, 0x400000, size, size, 5,
                           0x1000),
               struct.pack(ph_fmt, 4, places[0], 0x400000 + places[0], 0,
                           len(note), len(note), 4, 4)]
    out = bytearray(head + b"".join(phs))
    for b, at in zip(blobs, places):
        out += bytes(at - len(out)) + b
    out += bytes(shoff - len(out))
    sh_fmt = order + ("IIQQQQIIQQ" if elf64 else "IIIIIIIIII")
    for name, kind, off, length, lnk, entsize in sections:
        out += struct.pack(sh_fmt, name, kind, 0, 0, off, length, lnk, 0, 0,
                           entsize)
    return bytes(out)


KINDS = [(True, "<"), (False, "<"), (True, ">"), (False, ">")]


@pytest.mark.parametrize("elf64, order", KINDS)
def test_headers_build_id_and_symbols(tmp_path, elf64, order):
    f = tmp_path / "a.out"
    f.write_bytes(make_elf(elf64, order, machine=183,
                           symbols=[(b"main", 0x401000),
                                    (b"helper", 0x401100)]))
    assert elf.machine(str(f)) == 183
    assert elf.load_segments(str(f)) == [(0, 0x400000, f.stat().st_size)]
    assert elf.first_load(str(f)) == 0x400000
    assert elf.build_id(str(f)) == "abcdef01"
    assert elf.symbol(str(f), b"helper") == 0x401100
    assert elf.has_symtab(str(f))


@pytest.mark.parametrize("elf64, order", KINDS)
def test_debuglink_finds_the_debug_file_by_its_crc(tmp_path, elf64, order):
    debug = make_elf(elf64, order, symbols=[(b"main", 0x401000)])
    d = tmp_path / "usr" / "bin"
    d.mkdir(parents=True)
    prog = d / "prog"
    prog.write_bytes(make_elf(elf64, order, build_id=b"",
                              debuglink=(b"prog.debug", zlib.crc32(debug))))
    assert elf.debuglink(str(prog)) == ("prog.debug", zlib.crc32(debug))
    # Under a debug directory by the program's directory, as GDB looks.
    root = tmp_path / "debug"
    (root / str(d).lstrip("/")).mkdir(parents=True)
    wanted = root / str(d).lstrip("/") / "prog.debug"
    wanted.write_bytes(debug)
    assert elf.debuglink_file(str(prog), [str(root)]) == str(wanted)
    # A file of that name whose CRC does not match is not it.
    wanted.write_bytes(debug + b"x")
    assert elf.debuglink_file(str(prog), [str(root)]) is None
    # Beside the program, and taken by the symbolizer for a stripped one.
    (d / "prog.debug").write_bytes(debug)
    assert elf.debuglink_file(str(prog), []) == str(d / "prog.debug")
    assert Symbolizer().usable(str(prog), 0) == (str(prog),
                                                  str(d / "prog.debug"))


@pytest.mark.parametrize("data", [b"", b"\x7fELF", b"\x7fELF\x02\x01" +
                                  bytes(58) + b"\xff" * 64, b"#!/bin/sh\n"])
def test_what_is_not_elf_gives_empty_answers(tmp_path, data):
    f = tmp_path / "junk"
    f.write_bytes(data)
    assert not elf.machine(str(f))
    assert elf.load_segments(str(f)) == []
    assert elf.build_id(str(f)) is None
    assert list(elf.symbols(str(f))) == []
    assert elf.debuglink(str(f)) is None
