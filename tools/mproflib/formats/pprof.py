"""gzipped profile.proto: go tool pprof, speedscope, Pyroscope, Parca."""

import gzip
import time

from .. import memory
from ..profile import SAMPLE_TYPES


class Proto:
    """Just enough protobuf: varints, length-delimited fields."""

    def __init__(self):
        self.buf = bytearray()

    @staticmethod
    def varint(v):
        out = bytearray()
        v &= (1 << 64) - 1
        while True:
            b = v & 0x7f
            v >>= 7
            if v:
                out.append(b | 0x80)
            else:
                out.append(b)
                return out

    def int(self, field, v):
        if v:
            self.buf += self.varint(field << 3) + self.varint(v)
        return self

    def bytes(self, field, data):
        self.buf += self.varint(field << 3 | 2) + self.varint(len(data)) + data
        return self

    def msg(self, field, m):
        return self.bytes(field, bytes(m.buf))

    def packed(self, field, values):
        data = b"".join(self.varint(v) for v in values)
        return self.bytes(field, data)


def render(profile, sym, args):
    strings = {"": 0}

    def s(text):
        return strings.setdefault(text, len(strings))

    prof = Proto()
    for name in SAMPLE_TYPES:
        unit = "bytes" if name.endswith("_space") else "count"
        prof.msg(1, Proto().int(1, s(name)).int(2, s(unit)))
    mappings, locations, functions = {}, {}, {}
    # Mappings whose frames are left for the reader to name by build ID:
    # those with a build ID in which no name was found.
    unnamed = set()
    anonymous = {}
    # The maps of each epoch the samples were recorded in, each once.
    maps = {id(smp.mapping): (smp.mapping, smp.thread.exe)
            for smp in profile.samples}
    for smp in profile.samples:
        for pc in smp.stack:
            for start, end, offset, inode, path in smp.mapping:
                if start <= pc < end:
                    named = sym.frames[(pc, id(smp.mapping))][0].named
                    key = (start, path)
                    anonymous[key] = anonymous.get(key, True) and not named
                    break
    for m, exe in maps.values():
        # pprof takes the first mapping for the main binary.
        for start, end, offset, inode, path in sorted(
                m, key=lambda m: m[4] != exe):
            if (start, path) not in mappings and path.startswith("/"):
                mid = len(mappings) + 1
                mappings[(start, path)] = mid
                # The file that ran (mprof run binds the built libc over
                # the system's path); the build ID lets pprof, Parca or
                # Pyroscope check a file, or fetch debug info, by it.
                obj = sym.file(path, inode) or path
                build_id = sym.build_id(path, inode) or ""
                named = int(not (build_id and anonymous.get((start, path))))
                if not named:
                    unnamed.add(mid)
                prof.msg(3, Proto().int(1, mid).int(2, start).int(3, end)
                         .int(4, offset).int(5, s(obj)).int(6, s(build_id))
                         .int(7, named).int(8, named).int(9, named)
                         .int(10, named))

    def mapping_id(pc, mapping):
        for start, end, offset, inode, path in mapping:
            if start <= pc < end:
                return mappings.get((start, path), 0)
        return 0

    def function_id(f):
        key = (f.function, f.file)
        if key not in functions:
            fid = len(functions) + 1
            functions[key] = fid
            prof.msg(5, Proto().int(1, fid).int(2, s(f.function))
                     .int(3, s(f.function)).int(4, s(f.file)))
        return functions[key]

    def location_id(pc, smp):
        key = (pc, id(smp.mapping))
        if key not in locations:
            lid = len(locations) + 1
            locations[key] = lid
            mid = mapping_id(pc, smp.mapping)
            loc = Proto().int(1, lid).int(2, mid)
            loc.int(3, pc)
            for f in ([] if mid in unnamed else sym.frames[key]):
                loc.msg(4, Proto().int(1, function_id(f)).int(2, f.line))
            prof.msg(4, loc)
        return locations[key]

    for smp in profile.samples:
        lids = [location_id(pc, smp) for pc in sym.user_pcs(smp)]
        sample = Proto().packed(1, lids).packed(
            2, [round(getattr(smp, name)) for name in SAMPLE_TYPES])
        sample.msg(3, Proto().int(1, s("bytes")).int(3, smp.size))
        sample.msg(3, Proto().int(1, s("thread")).int(3, smp.thread.tid))
        sample.msg(3, Proto().int(1, s("pid")).int(3, smp.thread.pid))
        if smp.thread.exe:
            sample.msg(3, Proto().int(1, s("executable"))
                       .int(2, s(smp.thread.exe)))
        for key, value in getattr(args, "labels", {}).items():
            sample.msg(3, Proto().int(1, s(key)).int(2, s(value)))
        prof.msg(2, sample)
    # The rest of the resident memory, as Go's proposed memory_space
    # profile shows it: in use, one stack of one pseudo-frame per part.
    pseudo = {}
    for pid, b in sorted(memory.parts(profile).items()):
        for part, name in memory.PSEUDO_FRAMES:
            if not b[part]:
                continue
            if name not in pseudo:
                lid = len(locations) + len(pseudo) + 1
                pseudo[name] = lid
                fid = len(functions) + len(pseudo)
                prof.msg(5, Proto().int(1, fid).int(2, s(name))
                         .int(3, s(name)))
                prof.msg(4, Proto().int(1, lid).msg(4, Proto().int(1, fid)))
            sample = Proto().packed(1, [pseudo[name]]).packed(
                2, [b[part] if n == "inuse_space" else 0
                    for n in SAMPLE_TYPES])
            sample.msg(3, Proto().int(1, s("pid")).int(3, pid))
            sample.msg(3, Proto().int(1, s("memory")).int(2, s(part)))
            prof.msg(2, sample)
    prof.int(9, int(time.time() * 1e9))
    prof.msg(11, Proto().int(1, s("space")).int(2, s("bytes")))
    prof.int(12, profile.means[0] if len(profile.means) == 1 else 0)
    # What pprof opens by default, as for Go's heap profiles.
    prof.int(14, s(args.sample))
    for text in strings:
        prof.bytes(6, text.encode())
    return gzip.compress(bytes(prof.buf))
