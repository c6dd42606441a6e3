"""mprof dump: the profile of a running process, read from outside.

The profiler keeps its tables in the process's memory and exports where
they are as the symbol __malloc_prof_root (malloc/malloc-prof.c, struct
mprof_root), from libc_malloc_prof.so, the library libc loads only in
a process that profiles.  The root begins with its magic, its version
and the number of entries of its layout, then the layout: the sizes and
offsets of the fields read here and the constants of the stores, so
that this reader has no copy of the structures.  This reads them
through /proc/PID/mem, which needs what a debugger needs (the same user
and a dumpable process, or root) and nothing from the process: no thread
is stopped, no signal sent, so it works as well on a process that is
busy, blocked in a system call, deadlocked or stopped.

Each thread's table changes only in its owner's slow path, which makes
the thread's sequence number odd while it does; the list of threads, the
table of exited threads and the peak change only with the root's
generation odd.  A copy is taken again until neither changed while it
was read, so that it is a consistent snapshot: no torn count, taken =
recorded + dropped, no key counted twice.
"""

import ctypes
import os
import re
import shutil
import struct
from itertools import compress
import time

from . import elf, memory
from .profile import (BUCKETS, FORMAT_VERSION, LIMIT, MAPS_VERSIONS,
                      MEMORY_NAME, BadInput, Busy, NotFound, list_dumps,
                      os_error, write_build_ids)

SYMBOL = b"__malloc_prof_root"
# What libc dlopens when it profiles, and exports SYMBOL.
PROF_SONAME = b"libc_malloc_prof.so.0"
MAGIC = b"malloc-profile\0\0"
ROOT_VERSION = 4
# The fields of the root, of struct mprof_thread (ENTRIES and FRAME_STORE
# its two stores) and of struct mprof_entry, whose offsets the layout
# gives.
ROOT_FIELDS = ("gen", "threads", "exited", "peak", "dir", "exe", "maps_name",
               "mean", "depth", "unwind", "enabled", "exiting", "pid",
               "dumps", "peak_time", "peak_bytes", "folds", "epoch",
               "malloc_layout", "peak_clock", "lifetime_bounds")
THREAD_FIELDS = ("next", "state", "seq", "tid", "entries", "frame_store",
                 "taken", "recorded", "dropped", "nfolds", "folded_at")
ENTRY_FIELDS = ("live", "count", "size", "frames", "nframes", "folded",
                "key_epoch", "born", "freed")
# Those of 32 bits; the others are of 64, or pointers.
NARROW = {"gen", "depth", "unwind", "enabled", "exiting", "pid", "state",
          "seq", "tid", "nframes", "key_epoch"}
# The names of the root's layout, in its order (MPROF_L_* in
# malloc-prof.c).
LAYOUT = (("pointer_size", "root_size") + ROOT_FIELDS
          + ("thread_size",) + THREAD_FIELDS
          + ("segments", "fill", "max_segments", "first_entries",
             "first_frames", "entry_size") + ENTRY_FIELDS
          + ("lifetime_buckets", "state_free", "state_live", "state_retired"))
# How long a copy is retried while the process changes its tables.
PATIENCE = 0.8
# An entry's counts of frees by lifetime bucket, both halves, and their
# indexes.
FREED = struct.Struct(f"<{2 * BUCKETS}Q")
NO_FREES = bytes(FREED.size)
BUCKET_INDEX = range(2 * BUCKETS)


class Changed(Exception):
    """The process changed what was being read: read it again."""


def read_maps(pid):
    """The lines of /proc/PID/maps, each file named as the process names
    it, from its own root."""
    try:
        with open(f"/proc/{pid}/maps") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        raise NotFound(f"no process {pid}")
    except OSError as e:
        raise os_error(e, f"cannot read the maps of process {pid}: "
                       f"{e.strerror}")
    # The kernel names a file from the reader's root.  One that the
    # reader cannot reach from there, such as a file mprof run binds
    # over the system's in a mount namespace made in a chroot, it names
    # by its whole path in the process's mount namespace, as it names the
    # process's root: the file's path from that root follows it.
    try:
        root = os.readlink(f"/proc/{pid}/root").rstrip("/")
    except OSError:
        root = ""
    if root:
        for i, line in enumerate(lines):
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].startswith(root + "/"):
                lines[i] = line[:len(line) - len(parts[5])] + \
                    parts[5][len(root):]
    return lines


_symbols = {}
_libcs = {}


def per_file(cache, path, compute, missing):
    """COMPUTE (PATH), once per file: mprof serve's listing looks in
    every process's libraries.  MISSING if PATH cannot be read."""
    try:
        st = os.stat(path)
    except OSError:
        return missing
    key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    if key not in cache:
        cache[key] = compute(path)
    return cache[key]


def cached_symbol(path, name=SYMBOL):
    """elf.symbol (PATH, NAME), once per file."""
    return per_file(_symbols.setdefault(name, {}), path,
                    lambda p: elf.symbol(p, name), None)


def file_starts(maps):
    """{path: address} where each file in MAPS is mapped from offset 0."""
    starts = {}
    for line in maps:
        parts = line.split(None, 5)
        if len(parts) == 6 and parts[5].startswith("/") \
                and int(parts[2], 16) == 0:
            starts.setdefault(parts[5], int(parts[0].split("-")[0], 16))
    return starts


def mapped_symbol(pid, paths, starts, name):
    """(path, address) of NAME in process PID, from the first of PATHS,
    files it maps at STARTS (file_starts), that exports it, or None."""
    for path in paths:
        where = f"/proc/{pid}/root{path}"
        value = cached_symbol(where, name)
        if value is not None:
            return path, starts[path] - elf.first_load(where) + value
    return None


def names_profiler(path):
    """Whether the file PATH holds the name of the profiler's library."""
    try:
        with open(path, "rb") as f:
            return PROF_SONAME in f.read()
    except OSError:
        return False


def profiler_libc(path):
    """Whether PATH is a libc of the profiler's build: one that names
    the profiler's library, to load it when asked to profile.  Once per
    file."""
    return per_file(_libcs, path, names_profiler, False)


def find_root(pid, maps):
    """The address of the profiler's root in process PID."""
    starts = file_starts(maps)
    # The tables' layout below is that of a 64-bit process.
    exe = f"/proc/{pid}/exe"
    try:
        with open(exe, "rb") as f:
            ident = f.read(5)
    except OSError:
        ident = b""
    if ident == b"\x7fELF\x01":
        raise BadInput(f"process {pid} is a 32-bit program: mprof dump reads "
                       "64-bit processes only (its dumps at exit and at "
                       "intervals are written as usual)")
    # The profiler's library first, but any object that exports the
    # symbol will do.
    found = mapped_symbol(pid, sorted(starts, key=lambda p:
                                      "/libc_malloc_prof.so" not in p),
                          starts, SYMBOL)
    if found:
        return found[1]
    # Our libc loads the profiler's library only when it profiles.
    if any(profiler_libc(f"/proc/{pid}/root{path}") for path in starts
           if "/libc.so" in path):
        raise BadInput(f"process {pid} does not profile: it was not started "
                       "with GLIBC_MALLOC_PROFILE=1 or attached with mprof "
                       f"attach, or could not load {PROF_SONAME.decode()}")
    raise BadInput(f"process {pid} does not run the profiler's libc (no "
                   f"{SYMBOL.decode()} in its libraries): start it with "
                   "mprof run, or under install/lib/ld-linux-x86-64.so.2")


class Memory:
    def __init__(self, pid):
        try:
            self.fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY)
        except OSError as e:
            raise os_error(e, f"cannot read the memory of process {pid}: "
                           f"{e.strerror} (mprof dump needs a debugger's "
                           "rights: the same user, or root)")

    def __del__(self):
        # mprof serve reads process after process.
        if getattr(self, "fd", None) is not None:
            os.close(self.fd)

    def read(self, addr, n):
        try:
            data = os.pread(self.fd, n, addr)
        except (OSError, OverflowError):
            # Unmapped since we read its address, or read torn.
            raise Changed
        if len(data) != n:
            raise Changed
        return data

    def u(self, addr, fmt):
        return struct.unpack(fmt, self.read(addr, struct.calcsize(fmt)))[0]

    def string(self, addr):
        if not addr:
            return ""
        data = self.read(addr, 4096)
        return data.split(b"\0", 1)[0].decode(errors="replace")


class Table:
    def __init__(self, addr, tid, state, taken, recorded, dropped, entries):
        self.addr, self.tid, self.state = addr, tid, state
        self.taken, self.recorded, self.dropped = taken, recorded, dropped
        # [[count, live, size, frames, address, folded, epoch, born,
        #   [frees by lifetime bucket, then by another thread]]]
        self.entries = entries


def read_store(mem, raw, offset, first, elem, L):
    """The segments of the store at OFFSET of the structure RAW, each
    read once as far as the store's FILL: [(address, bytes)].  FILL
    counts the elements published from the start of segment 0 on;
    segment I holds FIRST << I of them from element FIRST * (2^I - 1)
    on, and exists once FILL is past that."""
    n = L["max_segments"]
    seg = struct.unpack_from(f"<{n}Q", raw, offset + L["segments"])
    fill, = struct.unpack_from("<Q", raw, offset + L["fill"])
    if fill > first * ((1 << n) - 1):
        raise Changed
    out = []
    for i in range(n):
        start = first * ((1 << i) - 1)
        if start >= fill:
            break
        if not seg[i]:
            # FILL copied after the segment's pointer was: a torn copy.
            raise Changed
        end = min(fill, start + (first << i))
        out.append((seg[i], mem.read(seg[i], (end - start) * elem)))
    return out


def field_width(L, f):
    """The bytes of field F of an entry."""
    return (4 if f in NARROW else 16 * L["lifetime_buckets"] if f == "freed"
            else 8)


def entry_format(L):
    """A struct format for one entry: count, live, size, frames,
    nframes, folded, epoch, born and freed (2 * lifetime_buckets
    counts, as bytes, unpacked only where not all zero), at their
    offsets; and where each is in an unpacked entry."""
    names = ("count", "live", "size", "frames", "nframes", "folded",
             "key_epoch", "born", "freed")
    fields = sorted((L[f], f) for f in names)
    fmt, at, index, n = "<", 0, {}, 0
    for off, f in fields:
        width = field_width(L, f)
        fmt += "x" * (off - at) + ("I" if width == 4 else "Q" if width == 8
                                   else f"{width}s")
        at = off + width
        index[f] = n
        n += 1
    fmt += "x" * (L["entry_size"] - at)
    return struct.Struct(fmt), [index[f] for f in names]


def add_freed(a, b):
    """The sums of the counts of frees A and B, as an entry holds them."""
    return FREED.pack(*((x + y) % LIMIT for x, y in
                        zip(FREED.unpack(a), FREED.unpack(b))))


def parse_table(mem, addr, raw, segments, frames, L):
    fmt, (ci, li, si, fi, ni, xi, ei, bi, di) = entry_format(L)
    entries = []
    for seg, data in segments:
        for k, e in enumerate(fmt.iter_unpack(data)):
            where, n = e[fi], e[ni]
            if n > 1024:
                raise Changed
            lifetimes = [e[bi], e[di]]
            if not frames:
                # A retired thread's: its keys are in the exited table.
                entries.append([e[ci], e[li], e[si], (), seg + k * fmt.size,
                                e[xi], e[ei]] + lifetimes)
                continue
            for start, block in frames:
                if start <= where and where + 8 * n <= start + len(block):
                    pcs = struct.unpack_from(f"<{n}Q", block, where - start)
                    break
            else:
                # Made after the store was read.
                pcs = struct.unpack(f"<{n}Q", mem.read(where, 8 * n))
            # And where it is, and for a retired thread, where its key
            # is in the exited table.
            entries.append([e[ci], e[li], e[si], pcs, seg + k * fmt.size,
                            e[xi], e[ei]] + lifetimes)
    t = Table(addr, *(struct.unpack_from("<i", raw, L[f])[0]
                      for f in ("tid", "state")),
              *(struct.unpack_from("<Q", raw, L[f])[0]
                for f in ("taken", "recorded", "dropped")),
              entries)
    t.next, t.nfolds, t.folded_at = (struct.unpack_from("<Q", raw, L[f])[0]
                                     for f in ("next", "nfolds", "folded_at"))
    return t


def read_table(mem, addr, L):
    """A copy of the table at ADDR, read again while its owner's
    sequence number changes under it.  A thread that samples all the
    time (at a mean of a few bytes) may never hold still for that: its
    last copy has each count as it was at some moment of the copy,
    recorded their sum and taken that and dropped, as the profiler
    itself writes such a thread."""
    for tries in range(20):
        raw = mem.read(addr, L["thread_size"])
        seq, = struct.unpack_from("<I", raw, L["seq"])
        if seq & 1 and tries < 19:
            time.sleep(0.0001)
            continue
        segments = read_store(mem, raw, L["entries"], L["first_entries"],
                              L["entry_size"], L)
        frames = read_store(mem, raw, L["frame_store"], L["first_frames"],
                            8, L)
        if not seq & 1 and mem.u(addr + L["seq"], "<I") == seq:
            return parse_table(mem, addr, raw, segments, frames, L)
    t = parse_table(mem, addr, raw, segments, frames, L)
    t.recorded = sum(e[0] for e in t.entries)
    t.taken = t.recorded + t.dropped
    return t


def check_layout(L, pid):
    """Refuse a layout that this reader cannot follow: the process's
    memory is untrusted, and a field outside its structure, or a size
    no profiler has, would have it read garbage or gigabytes."""
    if L["pointer_size"] != 8:
        raise BadInput(f"process {pid}: its profiler's root has "
                       f"{L['pointer_size']}-byte pointers; mprof dump reads "
                       "64-bit processes only")
    store = max(L["segments"] + 8 * L["max_segments"], L["fill"] + 8)
    width = dict.fromkeys(NARROW, 4)
    width.update(entries=store, frame_store=store,
                 freed=16 * L["lifetime_buckets"])
    fit = all(0 < L[size] <= 1 << 16
              and all(L[f] + width.get(f, 8) <= L[size] for f in fields)
              for size, fields in (("root_size", ROOT_FIELDS),
                                   ("thread_size", THREAD_FIELDS),
                                   ("entry_size", ENTRY_FIELDS)))
    if not (L["lifetime_buckets"] == BUCKETS and fit
            and L["root_size"] >= 24 + 4 * len(LAYOUT)
            and 0 < L["max_segments"] <= 48
            and 0 < L["first_entries"] <= 1 << 20
            and 0 < L["first_frames"] <= 1 << 20
            # Fields that overlap make a format of another size.
            and entry_format(L)[0].size == L["entry_size"]):
        raise BadInput(f"process {pid}: its profiler's root has a layout "
                       "that this mprof cannot read")


def read_root(mem, addr, pid):
    """The root's fields, by name, and its layout as LAYOUT: magic,
    version and layout first, the rest where the layout says."""
    try:
        magic, version, n = struct.unpack("<16sII", mem.read(addr, 24))
        if magic != MAGIC:
            raise BadInput(f"process {pid}: profiler root of an unknown "
                           "version (not its magic); this mprof reads "
                           f"version {ROOT_VERSION}")
        if version != ROOT_VERSION:
            raise BadInput(f"process {pid}: its profiler's root is of "
                           f"version {version}; this mprof reads version "
                           f"{ROOT_VERSION}")
        if n != len(LAYOUT):
            raise BadInput(f"process {pid}: its profiler's root has a layout "
                           f"of {n} entries; this mprof reads one of "
                           f"{len(LAYOUT)}")
        L = dict(zip(LAYOUT, struct.unpack(f"<{n}I",
                                           mem.read(addr + 24, 4 * n))))
        check_layout(L, pid)
        raw = mem.read(addr, L["root_size"])
    except Changed:
        raise BadInput(f"cannot read the profiler's root in process {pid}")
    root = {f: struct.unpack_from("<I" if f in NARROW else "<Q", raw,
                                  L[f])[0] for f in ROOT_FIELDS}
    root["layout"] = L
    if not root["enabled"]:
        raise BadInput(f"process {pid} does not profile: it was not started "
                       "with GLIBC_MALLOC_PROFILE=1, or has not allocated yet")
    if root["exiting"]:
        raise BadInput(f"process {pid} is exiting: its last dump is the one "
                       "it writes at exit")
    return root


def check_profiling(pid):
    """Raise BadInput unless process PID profiles and may be read."""
    maps = read_maps(pid)
    addr = find_root(pid, maps)
    read_root(Memory(pid), addr, pid)


def snapshot(pid):
    """Everything a dump holds, read consistently.  The running threads'
    tables are copied first, then the exited table with the peak, while
    no thread folds into it (the root's generation is even and stays
    so); then each thread's fold count is read again: a table folded
    since it was copied is dropped if its fold is in the copy of the
    exited table, and kept if it is not, so that no count is in both or
    in neither."""
    maps = read_maps(pid)
    addr = find_root(pid, maps)
    mem = Memory(pid)
    deadline = time.monotonic() + PATIENCE
    while True:
        try:
            return snapshot_once(mem, addr, pid)
        except Changed:
            if time.monotonic() > deadline:
                raise Busy(f"process {pid} changed its tables for "
                               f"{PATIENCE} s on end: try again")


def snapshot_once(mem, addr, pid):
    root = read_root(mem, addr, pid)
    L = root["layout"]
    # The epoch is ld.so's count of the objects it unmapped, which it
    # raises before it unmaps one: maps read while it stays put map the
    # samples of that epoch.
    epoch = mem.u(root["epoch"], "<I")
    maps = read_maps(pid)
    running, structs, at = [], [], root["threads"]
    while at and len(structs) < 1 << 20:
        structs.append(at)
        raw = mem.read(at, L["thread_size"])
        state, = struct.unpack_from("<i", raw, L["state"])
        if state == L["state_live"]:
            running.append(read_table(mem, at, L))
        at, = struct.unpack_from("<Q", raw, L["next"])
    for _ in range(1000):
        gen = mem.u(addr + L["gen"], "<I")
        if gen & 1:
            continue
        exited = read_table(mem, root["exited"], L)
        root = read_root(mem, addr, pid)
        peak = (read_table(mem, root["peak"], L) if root["peak_time"]
                else None)
        if mem.u(addr + L["gen"], "<I") == gen:
            break
    else:
        raise Changed
    folds = root["folds"]
    kept = []
    for t in running:
        raw = mem.read(t.addr, L["thread_size"])
        nfolds, folded_at = (struct.unpack_from("<Q", raw, L[f])[0]
                             for f in ("nfolds", "folded_at"))
        if nfolds == t.nfolds or (nfolds == t.nfolds + 1
                                  and folded_at > folds):
            kept.append(t)
        elif folded_at > folds:
            # Folded more than once since: which fold held these counts
            # is unknown.
            raise Changed
    # The in-use count of the exited threads' keys is kept by the
    # entries of those that left blocks behind and were folded into
    # this copy of the exited table, and so are the births of those
    # blocks and the frees not yet moved to the exited table.
    live = {}
    for at in structs:
        raw = mem.read(at, L["thread_size"])
        state, = struct.unpack_from("<i", raw, L["state"])
        folded_at, = struct.unpack_from("<Q", raw, L["folded_at"])
        if state != L["state_retired"] or folded_at > folds:
            continue
        for e in read_table(mem, at, L).entries:
            n, born, freed = live.get(e[5], (0, 0, None))
            live[e[5]] = (n + e[1], born + e[7],
                          e[8] if freed is None else add_freed(freed, e[8]))
    for e in exited.entries:
        n, born, freed = live.get(e[4], (0, 0, None))
        e[1], e[7] = n, born
        if freed is not None:
            e[8] = add_freed(e[8], freed)
    bounds = struct.unpack(f"<{BUCKETS - 1}Q", mem.read(
        root["lifetime_bounds"], 8 * (BUCKETS - 1)))

    if mem.u(root["epoch"], "<I") != epoch:
        raise Changed

    def exiting():
        """Whether it began its exit dump since, or is gone."""
        try:
            return mem.u(addr + L["exiting"], "<I") != 0
        except Changed:
            return True
    return dict(dir=mem.string(root["dir"]), exe=mem.string(root["exe"]),
                maps_name=mem.string(root["maps_name"]), pid=root["pid"],
                mean=root["mean"], depth=root["depth"],
                unwind="dwarf" if root["unwind"] == 1 else "fp",
                dumps=root["dumps"], peak_time=root["peak_time"],
                peak_bytes=root["peak_bytes"], epoch=epoch,
                peak_clock=root["peak_clock"], clock=time.monotonic_ns(),
                bounds=bounds,
                malloc_layout=root["malloc_layout"], mem=mem,
                maps=maps, threads=kept,
                exited=exited, peak=peak, exiting=exiting)


def file_lines(maps):
    """The lines of a maps file the profiler keeps: those of files and
    the vDSO."""
    return [line for line in maps if "/" in line or line.endswith("[vdso]")]


def write_heap(path, snap, t, kind, number, now, snapshot_no, maps_name):
    pid = snap["pid"]
    out = [f"malloc-profile {FORMAT_VERSION}", f"pid {pid}", f"tid {t.tid}",
           f"kind {kind}", f"dump {number}", "reason request",
           f"time {now:.9f}"]
    if kind == "peak":
        out += [f"peak-time {snap['peak_time'] / 1e9:.9f}",
                f"peak-bytes {snap['peak_bytes']}"]
    elif kind == "thread":
        try:
            with open(f"/proc/{pid}/task/{t.tid}/comm") as f:
                name = f.read().rstrip("\n")
        except OSError:
            name = ""
        try:
            exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
        except OSError:
            exe = ""
        # As the profiler does: not the name every thread starts with.
        if name and not exe.startswith(name):
            out.append("thread-name " + "".join(
                c if " " <= c != "\x7f" else "?" for c in name))
    if snap["exe"]:
        out.append(f"exe {snap['exe']}")
    out += [f"mean {snap['mean']}", f"depth {snap['depth']}",
            f"unwind {snap['unwind']}", f"maps {maps_name} {snapshot_no}",
            f"taken {t.taken}", f"recorded {t.recorded}",
            f"dropped {t.dropped}"]
    # The ages of the peak's blocks are those at the peak.
    clock = snap["peak_clock"] if kind == "peak" else snap["clock"]
    lines, epoch = [], 0
    for count, live, size, pcs, _, _, e, born, freed in t.entries:
        if not count:
            continue
        # As the profiler does: each epoch's entries after its line.
        if e != epoch:
            lines.append(f"epoch {e}")
            epoch = e
        lines.append(f"{count} {min(live, count)} {size} "
                     + " ".join(f"{pc:#x}" for pc in pcs))
        if live or freed != NO_FREES:
            # The sum of the ages is exact modulo 2^64 (mprof_mean_age).
            age = min(((live * clock - born) % LIMIT) // live if live else 0,
                      clock)
            n = FREED.unpack(freed)
            lines.append(f"lifetimes {age} " + " ".join(
                [f"{b}:{n[b]}" for b in compress(BUCKET_INDEX, n)]))
    keys = sum(line[:1].isdigit() for line in lines)
    out += [f"keys {keys}", "lifetime-bounds " + " ".join(
        map(str, snap["bounds"])), "# count live size frames...",
        "# lifetimes age bucket:freed..."] + lines
    out.append("end")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(out) + "\n")


def write_maps(path, snap, maps_name):
    """The process's maps file, as it wrote it, with a snapshot of its
    maps now appended; returns that snapshot's number."""
    pid = snap["pid"]
    old = ""
    if snap["dir"] and snap["maps_name"]:
        try:
            with open(os.path.join(snap["dir"], snap["maps_name"])) as f:
                old = f.read()
        except OSError:
            old = ""
    version = MAPS_VERSIONS[-1]
    if not old.startswith(f"malloc-profile-maps {version}\n"):
        old = f"malloc-profile-maps {version}\npid {pid}\n"
    number = sum(1 for line in old.split("\n")
                 if line.startswith("snapshot ")) + 1
    body = "\n".join(file_lines(snap["maps"]))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"{old}snapshot {number} epoch {snap['epoch']}\n{body}\n"
                "end\n")
    return number


def process_build_id(pid, path, inode):
    """The build ID of the file mapped at PATH in process PID, read from
    it as the process sees it (its mount namespace, its root), if it is
    still the inode that was mapped."""
    f = f"/proc/{pid}/root{path}"
    try:
        if os.stat(f).st_ino != inode:
            return None
    except OSError:
        return None
    return elf.build_id(f)


def rename_noreplace(src, dst):
    """rename(2) that fails with EEXIST rather than replace DST."""
    libc = ctypes.CDLL(None, use_errno=True)
    at_fdcwd = -100
    if libc.renameat2(at_fdcwd, src.encode(), at_fdcwd, dst.encode(), 1):
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), dst)


def dump(pid, out=None):
    """Write a dump of process PID: into its own profile directory as
    its next dump, or, given OUT, a directory that must not exist, into
    OUT.  Returns the dump's directory."""
    exists = BadInput(f"{out}: exists already; mprof dump -o wants a new "
                      "directory")
    if out and os.path.lexists(out):
        raise exists
    snap = snapshot(pid)
    pid = snap["pid"]
    top = out or snap["dir"]
    # The process's memory is untrusted: what it says its directory
    # and maps file are must be what its owner could have written.
    if not re.fullmatch(r"(mprof\.\d+(\.\d+)?\.maps)?", snap["maps_name"]):
        raise BadInput(f"process {pid}: a maps file name that the profiler "
                       f"does not make: {snap['maps_name'][:40]!r}")
    if not out and not top:
        raise BadInput(f"process {pid} writes no dumps of its own (mprof "
                       "serve attached it): give -o DIR")
    if not out:
        try:
            st = os.stat(top)
        except OSError as e:
            raise BadInput(f"process {pid}'s profile directory {top}: "
                           f"{e.strerror}; give -o DIR")
        if st.st_uid != os.geteuid():
            raise BadInput(f"process {pid}'s profile directory {top} belongs "
                           "to another user; give -o DIR")
    if out:
        try:
            os.mkdir(out, 0o700)
        except FileExistsError:
            raise exists
    now = time.time()
    tmp = os.path.join(top, f".mprof.{pid}.request.{os.getpid()}")
    os.mkdir(tmp, 0o700)
    maps_name = snap["maps_name"] or f"mprof.{pid}.maps"
    # None if the process exited meanwhile, or changed its arenas' list
    # under every read: then the dump has no memory file.
    figures = None
    for _ in range(3):
        try:
            figures = memory.outside(pid, snap["mem"], snap["malloc_layout"],
                                     snap["maps"], Changed)
            figures["pid"] = pid
            break
        except (Changed, OSError):
            continue
    number_of_maps = write_maps(os.path.join(tmp, maps_name), snap, maps_name)
    write_build_ids(tmp, lambda path, inode: process_build_id(pid, path,
                                                              inode))
    taken = [n for p, dumps in list_dumps(top).items() if p == pid
             for n in dumps]
    number = max(taken + [snap["dumps"]]) + 1
    tables = [(f"mprof.{pid}.{t.tid}.heap", t, "thread")
              for t in snap["threads"] if t.taken]
    if snap["exited"].taken:
        tables.append(("mprof.exited.heap", snap["exited"], "exited"))
    if snap["peak"]:
        tables.append(("mprof.peak.heap", snap["peak"], "peak"))
    while True:
        for name, t, kind in tables:
            path = os.path.join(tmp, name)
            if os.path.exists(path):
                os.unlink(path)
            write_heap(path, snap, t, kind, number, now, number_of_maps,
                       maps_name)
        path = os.path.join(tmp, MEMORY_NAME)
        if os.path.exists(path):
            os.unlink(path)
        if figures:
            memory.write(path, figures, number, now)
        final = os.path.join(top, f"mprof.{pid}.{number}")
        # The dump the process writes at exit is its last: none after it.
        if snap["exiting"]():
            shutil.rmtree(tmp)
            raise BadInput(f"process {pid} exited, or is exiting: its last "
                           "dump is the one it writes at exit")
        try:
            rename_noreplace(tmp, final)
            return final
        except FileExistsError:
            number += 1
