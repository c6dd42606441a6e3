"""gzipped profile.proto: go tool pprof, speedscope, Pyroscope, Parca."""

import gzip
import time

from .. import memory
from ..profile import BUCKETS, SAMPLE_TYPES, probability
from .lifetimes import bucket_bounds

# tcmalloc's lifetime profile (ProfileType::kLifetimes), as its
# profile_builder.cc writes it: these sample types, a period type of
# space in bytes, deallocated_space shown by default.
LIFETIME_TYPES = (("allocated_objects", "count"), ("allocated_space", "bytes"),
                  ("deallocated_objects", "count"),
                  ("deallocated_space", "bytes"),
                  ("censored_allocated_objects", "count"),
                  ("censored_allocated_space", "bytes"))


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


def heap_rows(profile):
    """(sample, values, labels) of a heap profile: each key's estimates,
    and the mean age of its blocks still allocated."""
    for smp in profile.samples:
        labels = [("bytes", smp.size, "")]
        # Not in a difference of two dumps, which has no ages.
        if smp.live > 0 and smp.age:
            labels.append(("age", round(smp.age), "nanoseconds"))
        yield smp, [round(getattr(smp, n)) for n in SAMPLE_TYPES], labels


def lifetime_rows(profile):
    """(sample, values, labels) of a lifetime profile, as tcmalloc writes
    one: for each key, lifetime bucket and whether the thread that freed
    the blocks made them, an allocation and a deallocation of the same
    callstack-pair-id, with the bucket's bounds for min_lifetime and
    max_lifetime and its geometric middle for avg_lifetime; and for the
    blocks still allocated, a censored allocation whose avg_lifetime is
    their mean age.  tcmalloc's deallocation has the stack of the free,
    which is not recorded here: it has that of the allocation."""
    pair = 0
    for smp in profile.samples:
        w = 1 / probability(smp.size, smp.thread.mean)
        base = [("bytes", smp.size, "bytes"), ("request", smp.size, "bytes")]
        for side, active in ((0, "same"), (1, "different")):
            for b in range(BUCKETS):
                n = smp.freed[side][b]
                if not n:
                    continue
                pair += 1
                low, high = bucket_bounds(b)
                high = high or 2 * low
                labels = base + [
                    ("callstack-pair-id", pair, "count"),
                    ("avg_lifetime", round((max(low, 1) * high) ** 0.5),
                     "nanoseconds"),
                    ("min_lifetime", low, "nanoseconds"),
                    ("max_lifetime", high, "nanoseconds"),
                    ("active thread", active, None)]
                objects, space = round(n * w), round(n * w * smp.size)
                yield smp, [objects, space, 0, 0, 0, 0], labels
                yield smp, [0, 0, objects, space, 0, 0], labels
        if smp.live:
            pair += 1
            yield smp, [0, 0, 0, 0, round(smp.inuse_objects),
                        round(smp.inuse_space)], base + [
                ("callstack-pair-id", pair, "count"),
                ("avg_lifetime", round(smp.age), "nanoseconds"),
                ("active thread", "none", None)]


def render(profile, sym, options):
    strings = {"": 0}

    def s(text):
        return strings.setdefault(text, len(strings))

    prof = Proto()
    lifetimes = options.lifetimes
    types = (LIFETIME_TYPES if lifetimes else
             [(name, "bytes" if name.endswith("_space") else "count")
              for name in SAMPLE_TYPES])
    for name, unit in types:
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

    rows = lifetime_rows(profile) if lifetimes else heap_rows(profile)
    for smp, values, labels in rows:
        lids = [location_id(pc, smp) for pc in sym.user_pcs(smp)]
        sample = Proto().packed(1, lids).packed(2, values)
        for key, value, unit in labels:
            if unit is None:
                sample.msg(3, Proto().int(1, s(key)).int(2, s(value)))
            else:
                sample.msg(3, Proto().int(1, s(key)).int(3, value)
                           .int(4, s(unit) if unit else 0))
        sample.msg(3, Proto().int(1, s("thread")).int(3, smp.thread.tid))
        sample.msg(3, Proto().int(1, s("pid")).int(3, smp.thread.pid))
        if smp.thread.exe:
            sample.msg(3, Proto().int(1, s("executable"))
                       .int(2, s(smp.thread.exe)))
        for key, value in options.labels.items():
            sample.msg(3, Proto().int(1, s(key)).int(2, s(value)))
        prof.msg(2, sample)
    # The rest of the resident memory, as Go's proposed memory_space
    # profile shows it: in use, one stack of one pseudo-frame per part.
    pseudo = {}
    for pid, b in sorted(() if lifetimes else memory.parts(profile).items()):
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
    if lifetimes:
        prof.int(14, s("deallocated_space"))
    else:
        prof.int(12, profile.means[0] if len(profile.means) == 1 else 0)
        # What pprof opens by default, as for Go's heap profiles.
        prof.int(14, s(options.sample))
    for text in strings:
        prof.bytes(6, text.encode())
    return gzip.compress(bytes(prof.buf))
