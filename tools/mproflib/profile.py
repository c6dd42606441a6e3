"""The data model every report reads: heap and maps files, and the
estimates made from their samples.

A request of X bytes is sampled with probability p(X) = 1 - exp(-X / mean);
one of 0 bytes never is.  Every sample of
a key (stack, size) had the same p, so the unbiased estimates are taken
per key, count / p and count * size / p, and only then summed; the same
for the samples of a key still allocated (live).
"""

import errno
import math
import os
import re

FORMAT_VERSION = 5
# Version 2 files (one directory per run, no dumps) read as one dump;
# before version 4, samples have no epoch; before 5, no lifetimes.
READ_VERSIONS = ("2", "3", "4", "5")
DUMP_DIR = re.compile(r"mprof\.(\d+)\.(\d+)$")
# Version 2 tags each snapshot with its epoch.
MAPS_VERSIONS = ("1", "2")
# pprof's sample types, in the order pprof output lists them.
SAMPLE_TYPES = ("alloc_objects", "alloc_space", "inuse_objects",
                "inuse_space")
DESCRIBE = {"alloc_objects": "allocated objects",
            "alloc_space": "allocated bytes",
            "inuse_objects": "in-use objects", "inuse_space": "in-use bytes"}
# The lifetime buckets' upper bounds but the last, in ns, as the C side
# counts them: half decades from 1 us to 1000 s, then an hour.
LIFETIME_BOUNDS = (1000, 3162, 10000, 31623, 100000, 316228, 1000000,
                   3162278, 10000000, 31622777, 100000000, 316227766,
                   1000000000, 3162277660, 10000000000, 31622776602,
                   100000000000, 316227766017, 1000000000000, 3600000000000)
BUCKETS = len(LIFETIME_BOUNDS) + 1
# What the C side writes is at most 64 bits wide; bounding what we read
# keeps every estimate a finite float.
LIMIT = 1 << 64


# The memory file of a dump (memory.py): its version, its name, the
# fields of its "arena" lines in their order, and its other fields.
MEMORY_VERSION = 1
MEMORY_NAME = "mprof.memory"
MEMORY_FIELDS = ("system", "resident", "in_use", "metadata", "free",
                 "free_resident", "free_chunks", "top", "top_resident",
                 "trim", "threads")
MEMORY_SCALARS = {"pid", "dump", "rss", "anonymous", "approximate",
                  "mmapped", "mmapped-chunks", "mmap-threshold",
                  "trim-threshold", "arena-max", "tcache", "tcache-chunks",
                  "tcache-unread", "profiler"}


class BadInput(Exception):
    """A problem with the user's input: reported in one line."""


class NotFound(BadInput):
    """What was asked for is not there: no such process, or one that
    does not profile."""


class Refused(BadInput):
    """What was asked for is not allowed: another user's process, a
    secure or non-dumpable one."""


class Busy(BadInput):
    """What was asked for cannot be done now, and may be later."""


def os_error(e, message):
    """BadInput of the kind of the OSError E, with MESSAGE."""
    return (Refused if e.errno in (errno.EPERM, errno.EACCES) else
            NotFound if e.errno in (errno.ENOENT, errno.ESRCH) else
            BadInput)(message)


def human(n):
    """N bytes, in the largest binary unit below it."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n:.0f} B"
        n /= 1024


def probability(size, mean):
    """The chance that one request of SIZE bytes is sampled."""
    return -math.expm1(-size / mean)


class Thread:
    def __init__(self, path, header, samples):
        self.path = path
        self.pid = int(header["pid"])
        self.tid = int(header["tid"])
        self.name = header.get("thread-name", "")
        self.exe = header.get("exe", "")
        self.mean = int(header["mean"])
        self.taken = int(header["taken"])
        self.recorded = int(header["recorded"])
        self.dropped = int(header["dropped"])
        self.maps = header.get("maps")
        self.depth = int(header.get("depth", 1))
        self.unwind = header.get("unwind", "fp")
        # "thread": a running thread; "exited": every thread that had
        # exited when the dump was written; "peak": the in-use profile
        # at the highest estimated heap.
        self.kind = header.get("kind", "thread")
        self.dump = int(header.get("dump", 0))
        self.time = float(header.get("time", 0))
        self.peak_time = float(header.get("peak-time", 0))
        if self.kind == "exited":
            self.name = "threads that exited"
        # [(count, live, size, (pc, ...), epoch, lifetimes)], stacks leaf
        # first; lifetimes is None or (mean age of the live samples in ns,
        # {bucket: frees}), buckets from BUCKETS on freed by another
        # thread than the one that made them.
        self.samples = samples
        # The upper bounds of the lifetime buckets but the last, in ns.
        self.bounds = header.get("lifetime-bounds", ())


class Totals:
    """Sums of estimates; a Sample has the same fields.  The names are
    pprof's sample types: alloc_* count every allocation, inuse_* those
    still allocated when the profile was written."""

    def __init__(self):
        self.alloc_objects = self.alloc_space = 0.0
        self.inuse_objects = self.inuse_space = 0.0
        self.live = 0

    def add(self, s):
        self.alloc_objects += s.alloc_objects
        self.alloc_space += s.alloc_space
        self.inuse_objects += s.inuse_objects
        self.inuse_space += s.inuse_space
        self.live += s.live
        return self


class Sample:
    """Estimates for one (stack, size, thread) key; its PCs are those of
    MAPPING, the snapshot of the process's maps of its epoch, or, failing
    that, of the older snapshots in HISTORY."""

    def __init__(self, thread, count, live, size, stack, epoch, history,
                 lifetimes=None):
        p = probability(size, thread.mean)
        # The mean age of the live samples, in ns, and the sampled frees
        # by lifetime bucket: [same thread, other thread][bucket].
        self.age, freed = lifetimes or (0, {})
        self.freed = [[freed.get(side * BUCKETS + b, 0)
                       for b in range(BUCKETS)] for side in (0, 1)]
        self.thread = thread
        self.epoch = epoch
        self.history = history
        self.mapping = history[0] if history else []
        self.count = count
        self.live = live
        self.size = size
        self.stack = stack
        self.alloc_objects = count / p
        self.alloc_space = count * size / p
        self.inuse_objects = live / p
        self.inuse_space = live * size / p


def parse_int(text, what):
    try:
        return int(text)
    except ValueError:
        raise BadInput(f"{what}: not a number: {text[:40]!r}")


def check_version(path, line):
    first = line.split(" ")
    if first[0] != "malloc-profile" or len(first) != 2:
        raise BadInput(f"{path}: not a malloc profile")
    version = first[1][:20]
    if version == "1":
        raise BadInput(f"{path}: format version 1 (written by an older "
                       "profiler, without in-use data); this mprof reads "
                       "versions 2 to 5")
    if version not in READ_VERSIONS:
        raise BadInput(f"{path}: format version {version!r} (unknown); this "
                       "mprof reads versions 2 to 5")


def parse_lifetimes(path, n, value):
    """A "lifetimes AGE BUCKET:FREES..." line's (age, {bucket: frees})."""
    fields = value.split()
    try:
        age = int(fields[0])
        freed = {int(b): int(c) for b, c in
                 (f.split(":") for f in fields[1:])}
    except (IndexError, ValueError):
        raise BadInput(f"{path}:{n}: corrupt lifetimes line")
    if not (0 <= age < LIMIT and all(0 <= b < 2 * BUCKETS and 0 < c < LIMIT
                                     for b, c in freed.items())):
        raise BadInput(f"{path}:{n}: corrupt lifetimes line")
    return age, freed


def parse_sample(path, n, line):
    fields = line.split()
    if len(fields) < 4:
        raise BadInput(f"{path}:{n}: sample line with no frames")
    try:
        count, live, size = (int(x) for x in fields[:3])
        stack = tuple(int(x, 16) for x in fields[3:])
    except ValueError:
        raise BadInput(f"{path}:{n}: corrupt sample line")
    if not (1 <= count < LIMIT and 0 < size < LIMIT
            and all(0 <= pc < LIMIT for pc in stack)):
        raise BadInput(f"{path}:{n}: corrupt sample line")
    if not 0 <= live <= count:
        raise BadInput(f"{path}:{n}: {live} live of {count} sampled: live "
                       "must be from 0 to the count")
    return count, live, size, stack


def read_heap(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise BadInput(f"{path}: {e.strerror}")
    lines = data.decode("utf-8", errors="replace").split("\n")
    check_version(path, lines[0])
    if "end" not in lines:
        raise BadInput(f"{path}: truncated: no 'end' line")
    header, samples, epoch = {}, [], 0
    for n, line in enumerate(lines[1:lines.index("end")], 2):
        if not line or line.startswith("#"):
            continue
        name, _, value = line.partition(" ")
        if name[:1].isdigit():
            samples.append(parse_sample(path, n, line) + (epoch, None))
        elif name == "lifetimes":
            # Of the sample before it.
            if not samples or samples[-1][5] is not None:
                raise BadInput(f"{path}:{n}: lifetimes line with no sample")
            samples[-1] = samples[-1][:5] + (parse_lifetimes(path, n, value),)
        elif name == "epoch":
            # The samples that follow were recorded in that epoch.
            epoch = parse_int(value, f"{path}:{n}: epoch")
        else:
            header[name] = value
    for field in ("pid", "tid", "mean", "taken", "recorded", "dropped"):
        if field not in header:
            raise BadInput(f"{path}: header has no '{field}'")
        parse_int(header[field], f"{path}: {field}")
    if not 0 < int(header["mean"]) < LIMIT:
        raise BadInput(f"{path}: mean must be from 1 to 2^64-1")
    if "depth" in header and parse_int(header["depth"], f"{path}: depth") <= 0:
        raise BadInput(f"{path}: depth must be positive")
    if header.get("kind", "thread") not in ("thread", "exited", "peak"):
        raise BadInput(f"{path}: unknown kind {header['kind'][:20]!r}")
    parse_int(header.get("dump", "0"), f"{path}: dump")
    if "lifetime-bounds" in header:
        bounds = tuple(parse_int(b, f"{path}: lifetime-bounds")
                       for b in header["lifetime-bounds"].split())
        if bounds != LIFETIME_BOUNDS:
            raise BadInput(f"{path}: lifetime-bounds are not the "
                           f"{BUCKETS} buckets this mprof reads")
        header["lifetime-bounds"] = bounds
    for field in ("time", "peak-time"):
        try:
            if not 0 <= float(header.get(field, 0)) < 1e12:
                raise ValueError
        except ValueError:
            raise BadInput(f"{path}: {field}: not a time: "
                           f"{header[field][:40]!r}")
    return Thread(path, header, samples)


def read_maps(path, pid):
    """{snapshot: (epoch, [(start, end, offset, inode, file)])} of a maps
    file; the epoch is None in files of version 1."""
    if "\0" in path:
        raise BadInput(f"{path!r}: not a file name")
    try:
        with open(path, errors="replace") as f:
            lines = f.read().split("\n")
    except OSError as e:
        raise BadInput(f"{path}: {e.strerror}")
    if lines[0] not in [f"malloc-profile-maps {v}" for v in MAPS_VERSIONS]:
        raise BadInput(f"{path}: not a maps file of format version "
                       f"{' or '.join(MAPS_VERSIONS)}")
    if len(lines) < 2 or lines[1] != f"pid {pid}":
        raise BadInput(f"{path}: maps of another process (expected pid {pid})")
    snapshots, current = {}, None
    for line in lines[2:]:
        parts = line.split(None, 5)
        if not parts:
            continue
        if parts[0] == "snapshot" and len(parts) in (2, 4):
            epoch = None
            if len(parts) == 4:
                if parts[2] != "epoch":
                    raise BadInput(f"{path}: corrupt snapshot line: "
                                   f"{line[:60]!r}")
                epoch = parse_int(parts[3], path)
            current = []
            snapshots[parse_int(parts[1], path)] = (epoch, current)
        elif parts[0] == "end":
            current = None
        elif current is not None:
            try:
                start, end = (int(x, 16) for x in parts[0].split("-"))
                current.append((start, end, int(parts[2], 16), int(parts[4]),
                                parts[5] if len(parts) == 6 else ""))
            except (ValueError, IndexError):
                raise BadInput(f"{path}: corrupt map line: {line[:60]!r}")
    return snapshots


BUILD_IDS = "build-ids"
BUILD_ID = re.compile(r"[0-9a-f]{2,128}")


def read_build_ids(path):
    """{(file, inode): build ID} of a build-ids file, {} if there is none:
    the build IDs of the objects a dump's maps name, recorded by mprof
    when it could still read them."""
    try:
        with open(path, errors="replace") as f:
            lines = f.read().split("\n")
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise BadInput(f"{path}: {e.strerror}")
    if lines[0] != "malloc-profile-build-ids 1":
        raise BadInput(f"{path}: not a build-ids file of format version 1")
    ids = {}
    for line in lines[1:]:
        if not line:
            continue
        parts = line.split(" ", 2)
        if len(parts) != 3 or not parts[0].isdigit() or \
                not BUILD_ID.fullmatch(parts[1]) or \
                not parts[2].startswith("/"):
            raise BadInput(f"{path}: corrupt line: {line[:60]!r}")
        ids[(parts[2], int(parts[0]))] = parts[1]
    return ids


def write_build_ids(directory, build_id):
    """Record in DIRECTORY, a dump, the build ID of each object its maps
    file names, as build_id(path, inode) reads it (None: unknown), unless
    it is recorded already."""
    out = os.path.join(directory, BUILD_IDS)
    if os.path.exists(out):
        return
    objects = set()
    for name in os.listdir(directory):
        m = re.fullmatch(r"mprof\.(\d+)(\.\d+)?\.maps", name)
        if m:
            for _, snap in read_maps(os.path.join(directory, name),
                                     int(m[1])).values():
                objects |= {(path, inode) for _, _, _, inode, path in snap
                            if path.startswith("/") and inode}
    lines = [f"{inode} {bid} {path}" for path, inode in sorted(objects)
             for bid in [build_id(path, inode)] if bid and "\n" not in path]
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(["malloc-profile-build-ids 1"] + lines) + "\n")


def read_memory(path):
    """The figures of the memory file PATH: {field: value}, with
    "arenas" a list of {field: value}, and "busy" those whose lock was
    held too long to walk them."""
    m = {"arenas": [], "busy": []}
    with open(path, errors="replace") as f:
        lines = f.read().split("\n")
    if not lines[0].startswith("malloc-memory "):
        raise BadInput(f"{path}: not a memory file")
    version = parse_int(lines[0].split(" ", 1)[1], f"{path}: version")
    if version != MEMORY_VERSION:
        raise BadInput(f"{path}: memory file version {version}; this mprof "
                       f"reads version {MEMORY_VERSION}")
    if "end" not in lines:
        raise BadInput(f"{path}: cut short (no end line)")
    for n, line in enumerate(lines[1:lines.index("end")], 2):
        name, _, rest = line.partition(" ")
        if name == "time":
            ns = parse_int(rest.replace(".", "", 1), f"{path}:{n}")
            m["time"] = ns / 1e9
        elif name == "arena":
            values = [parse_int(v, f"{path}:{n}") for v in rest.split()]
            if len(values) != len(MEMORY_FIELDS):
                raise BadInput(f"{path}:{n}: an arena line of {len(values)} "
                               f"fields, not {len(MEMORY_FIELDS)}")
            m["arenas"].append(dict(zip(MEMORY_FIELDS, values)))
        elif name == "arena-busy":
            m["busy"].append(parse_int(rest, f"{path}:{n}"))
        elif name in MEMORY_SCALARS:
            m[name.replace("-", "_")] = parse_int(rest, f"{path}:{n}")
    for need in ("rss", "mmapped"):
        if need not in m:
            raise BadInput(f"{path}: no {need} line")
    return m


def list_dumps(top):
    """{pid: {n: directory}} of the dumps in the profile directory TOP."""
    found = {}
    for name in os.listdir(top):
        m = DUMP_DIR.match(name)
        if m and os.path.isdir(os.path.join(top, name)):
            found.setdefault(int(m[1]), {})[int(m[2])] = os.path.join(top,
                                                                      name)
    return found


def pick_dumps(arg, dump):
    """The dump directories of ARG to read: of each process, dump DUMP,
    or the latest.  ARG itself if it is a dump, holding profiles or the
    memory of a process that took no sample."""
    if any(n.endswith(".heap") or n == MEMORY_NAME for n in os.listdir(arg)):
        return [arg]
    found = list_dumps(arg)
    if not found:
        raise BadInput(f"{arg}: no profiles (*.heap) or dumps (mprof.PID.N) "
                       "in it")
    if dump is None:
        return [found[pid][max(found[pid])] for pid in sorted(found)]
    picked = [found[pid][dump] for pid in sorted(found) if dump in found[pid]]
    if not picked:
        have = sorted({n for dumps in found.values() for n in dumps})
        raise BadInput(f"{arg}: no dump {dump}; there are "
                       f"{', '.join(map(str, have))}")
    return picked


class Profile:
    """Every sample of the processes read, merged: of each, dump DUMP (by
    default the latest), its running threads and those that exited, or,
    if PEAK, its peak profile instead."""

    def __init__(self, inputs, dump=None, peak=False):
        paths = []
        # {pid: the figures of its dump's memory file}.
        self.memory = {}
        for arg in inputs:
            if os.path.isdir(arg):
                # A process that took no sample leaves a dump of its maps
                # alone, and of its memory.
                dirs = pick_dumps(arg, dump)
                found = [os.path.join(d, n) for d in dirs
                         for n in sorted(os.listdir(d)) if n.endswith(".heap")]
                for d in dirs:
                    if (not peak and os.path.exists(os.path.join(
                            d, MEMORY_NAME))):
                        m = read_memory(os.path.join(d, MEMORY_NAME))
                        self.memory[m.get("pid", 0)] = m
                if not found and self.memory:
                    continue
                if not found:
                    raise BadInput(f"{arg}: no profiles (*.heap) in it: no "
                                   "sample was taken")
                paths += found
            elif os.path.exists(arg):
                paths.append(arg)
            else:
                raise BadInput(f"{arg}: no such file or directory")
        if not paths and not self.memory:
            raise BadInput(f"{' '.join(inputs)}: no profiles")
        threads = [read_heap(p) for p in paths]
        self.threads = [t for t in threads if (t.kind == "peak") == peak]
        if peak and not self.threads:
            raise BadInput(f"{' '.join(inputs)}: no peak profile (run with "
                           "GLIBC_MALLOC_PROFILE_PEAK=1 or mprof run --peak)")
        self.maps = {}          # (dir, maps name) -> snapshots
        self.build_ids = {}     # (file, inode) -> build ID
        self.samples = []
        for t in self.threads:
            histories = {}
            for count, live, size, stack, epoch, lifetimes in t.samples:
                if epoch not in histories:
                    histories[epoch] = self.mapping_of(t, epoch)
                self.samples.append(Sample(t, count, live, size, stack,
                                           epoch, histories[epoch],
                                           lifetimes))
            t.history = self.mapping_of(t, None)
            t.mapping = t.history[0] if t.history else []
        self.means = sorted({t.mean for t in self.threads})

    def mapping_of(self, t, epoch):
        """The snapshots of T's maps that hold the PCs of its samples of
        EPOCH (None: of the latest), newest first.  The snapshot written
        last in that epoch, up to the one T names, has every object
        mapped then; the older ones of the epoch are asked if it lacks a
        PC.  A dlclose that unloads an object begins a new epoch, so that
        a PC in it is never taken for one in whatever was loaded in its
        place.  Maps files without epochs (before version 2) have the
        snapshot T names, then every older one."""
        if not t.maps:
            return []
        name, _, snap = t.maps.partition(" ")
        path = os.path.join(os.path.dirname(t.path), name)
        if path not in self.maps:
            self.maps[path] = read_maps(path, t.pid)
            self.build_ids.update(read_build_ids(os.path.join(
                os.path.dirname(path), BUILD_IDS)))
        snap = parse_int(snap, f"{t.path}: maps snapshot")
        snapshots = self.maps[path]
        if snap not in snapshots:
            raise BadInput(f"{t.path}: refers to snapshot {snap} of {path},"
                           " which is not there")
        older = [n for n in sorted(snapshots, reverse=True) if n <= snap]
        last = snapshots[snap][0]
        if epoch is None or last is None:
            return [snapshots[n][1] for n in older]
        if epoch > last:
            raise BadInput(f"{t.path}: samples of epoch {epoch}, after its "
                           f"maps' last ({last})")
        ours = [n for n in older if snapshots[n][0] <= epoch]
        return [snapshots[n][1] for n in ours
                if snapshots[n][0] == snapshots[ours[0]][0]]

    def totals(self):
        total = Totals()
        for s in self.samples:
            total.add(s)
        return total


class DiffProfile:
    """The growth from dump A to dump B of the same processes: per key
    (process, stack, size), B's counts less A's, so that every estimate
    is B's less A's; negative where the key shrank."""

    def __init__(self, inputs, a, b):
        self.before = Profile(inputs, dump=a)
        self.after = Profile(inputs, dump=b)
        self.threads = self.after.threads
        self.maps = self.after.maps
        # The text and json reports give no growth of the resident
        # memory; pprof does (memory.parts).
        self.memory = {}
        self.build_ids = {**self.before.build_ids, **self.after.build_ids}
        self.means = sorted(set(self.before.means + self.after.means))
        counts, owner = {}, {}
        for sign, profile in ((-1, self.before), (1, self.after)):
            for s in profile.samples:
                key = (s.thread.pid, s.size, s.stack, s.epoch)
                count, live = counts.get(key, (0, 0))
                counts[key] = (count + sign * s.count, live + sign * s.live)
                owner[key] = s
        self.samples = [Sample(owner[k].thread, count, live, k[1], k[2], k[3],
                               owner[k].history)
                        for k, (count, live) in counts.items()
                        if count or live]

    totals = Profile.totals


class Series:
    """Every dump of one process in a profile directory, oldest first:
    [(time, Profile)], and all their samples, to symbolize at once."""

    def __init__(self, top, pid=None):
        if not os.path.isdir(top):
            raise BadInput(f"{top}: not a directory")
        found = list_dumps(top)
        if not found:
            raise BadInput(f"{top}: no dumps (mprof.PID.N) in it")
        if pid is None:
            pid = max(found, key=lambda p: (len(found[p]), p))
        elif pid not in found:
            raise BadInput(f"{top}: no dumps of process {pid}; there are "
                           f"dumps of {', '.join(map(str, sorted(found)))}")
        self.pid = pid
        self.dumps = []
        for n in sorted(found[pid]):
            profile = Profile([found[pid][n]])
            when = max((t.time for t in profile.threads), default=0)
            self.dumps.append((when, n, profile))
        self.dumps.sort(key=lambda d: (d[0], d[1]))
        self.samples = [s for _, _, p in self.dumps for s in p.samples]
        self.build_ids = {k: v for _, _, p in self.dumps
                          for k, v in p.build_ids.items()}
