"""Where a process's resident memory is: what malloc holds, and in what
state, beside what is not malloc's.

Each dump holds a file mprof.memory.  The process writes it itself
(malloc/malloc-prof-memory.c walks the arenas under their locks, and
mincore says what is resident); mprof dump and mprof serve write it from
outside, walking the same structures through /proc/PID/mem, where libc's
layout (__malloc_prof_memory_layout) says they are, and reading what is
resident from /proc/PID/pagemap.  From outside no lock is taken: the
process runs on, an arena is walked again if its top or size changed
meanwhile, and a tcache is read as it is.
"""

import bisect
import os
import struct

from .profile import (MEMORY_FIELDS as ARENA_FIELDS,
                      MEMORY_VERSION as FORMAT_VERSION, BadInput, human)

# libc's layout (MALLOC_PROF_M_* in malloc/malloc-prof.h).
LAYOUT_VERSION = 1
LAYOUT = ("version", "nlayout", "main_arena", "mp", "flags", "top", "bins",
          "nbins", "next", "attached", "system_mem", "state_size",
          "trim_threshold", "mmap_threshold", "arena_max", "n_mmaps",
          "mmapped", "sbrk_base", "thp_pagesize", "tcache_count", "minsize",
          "alignment", "pagesize", "page_bin", "heap_max", "heap_prev",
          "heap_size", "heap_header", "tcache", "tcache_bins",
          "tcache_small_bins", "tcache_entries", "tcache_inactive",
          "tcache_disabled", "stack_used", "stack_user", "thread_list")
NONCONTIGUOUS = 2
# Bounds on what is walked in a process that may be changing, or lying.
MAX_ARENAS = 1 << 12
MAX_THREADS = 1 << 16
TRIES = 5


def breakdown(m):
    """The parts of the resident memory M describes, as mprof report
    --format json gives them."""
    arenas = m["arenas"]
    total = {f: sum(a[f] for a in arenas) for f in ARENA_FIELDS}
    tcache = m.get("tcache", 0)
    resident = total["resident"] + m["mmapped"]
    return {
        "rss": m["rss"],
        # Chunks in use, the tcaches' excepted, and mmapped chunks,
        # counted whole.
        "malloc_in_use": total["in_use"] - tcache + m["mmapped"],
        "tcache": tcache,
        # glibc's malloc lost its fastbins after 2.42.
        "fastbins": 0,
        "free_in_arenas": total["free"],
        "free_in_arenas_resident": total["free_resident"],
        "free_chunks": total["free_chunks"],
        "top": total["top"],
        "top_resident": total["top_resident"],
        "metadata": total["metadata"],
        "mmapped": m["mmapped"],
        "mmapped_chunks": m.get("mmapped_chunks", 0),
        "not_malloc": max(0, m["rss"] - resident),
        "profiler": m.get("profiler", 0),
        "trim_would_release": total["trim"],
        "mmap_threshold": m.get("mmap_threshold"),
        "trim_threshold": m.get("trim_threshold"),
        "arena_max": m.get("arena_max") or None,
        "tcache_unread": m.get("tcache_unread", "all"),
        # Arenas read from outside while they changed, on every try.
        "approximate_arenas": m.get("approximate", 0),
        "arenas": [dict(a, busy=False) for a in arenas]
        + [{"system": s, "busy": True} for s in m["busy"]],
    }


def total(parts):
    """The breakdowns PARTS of several processes, added up."""
    if len(parts) == 1:
        return parts[0]
    out = {}
    for b in parts:
        for k, v in b.items():
            if k == "arenas":
                out[k] = out.get(k, []) + v
            elif isinstance(v, int) and not k.endswith("threshold"):
                out[k] = out.get(k, 0) + v
    return out


def parts(profile):
    """{pid: {part: bytes}} of the parts of PSEUDO_FRAMES in PROFILE;
    of a growth, the later dump's less the earlier's."""
    if hasattr(profile, "before"):
        a, b = parts(profile.before), parts(profile.after)
        return {pid: {k: v - a.get(pid, {}).get(k, 0) for k, v in p.items()}
                for pid, p in b.items()}
    return {pid: {k: b[k] for k, _ in PSEUDO_FRAMES}
            for pid, b in ((pid, breakdown(m))
                           for pid, m in profile.memory.items())}


# The parts pprof shows as stacks of one pseudo-frame, with what the
# samples estimate in use, so that the whole resident memory is seen.
PSEUDO_FRAMES = (("tcache", "[malloc: in tcaches]"),
                 ("free_in_arenas_resident", "[malloc: free in arenas]"),
                 ("top_resident", "[malloc: top chunks]"),
                 ("metadata", "[malloc: arena headers]"),
                 ("not_malloc", "[not malloc: stacks, code, files, maps]"))


def advice(b):
    """What to do about what B shows, one line each, with the sizes."""
    out = []
    heap = b["malloc_in_use"] + b["tcache"] + b["free_in_arenas_resident"]
    if heap and b["free_in_arenas_resident"] > heap / 3:
        out.append(
            f"{human(b['free_in_arenas_resident'])} resident in free chunks, "
            f"{100 * b['free_in_arenas_resident'] / heap:.0f}% of the heap "
            f"({human(heap)}): fragmentation.  "
            f"malloc_trim (0) would give back {human(b['trim_would_release'])}"
            " now" + ("; fewer arenas (glibc.malloc.arena_max) would share "
                      "the holes." if len(b["arenas"]) > 1 else "."))
    arenas = len(b["arenas"])
    threads = sum(a.get("threads", 0) for a in b["arenas"])
    if arenas >= 8 and threads and arenas * 2 > threads:
        out.append(
            f"{arenas} arenas for {threads} threads, holding "
            f"{human(sum(a['system'] for a in b['arenas']))}: "
            "glibc.malloc.arena_max=2 (or MALLOC_ARENA_MAX) bounds them.")
    if b["top_resident"] > 64 << 20 and b["top_resident"] > heap / 4:
        out.append(
            f"{human(b['top_resident'])} resident in top chunks: a "
            "glibc.malloc.trim_threshold below "
            f"{human(b['trim_threshold'] or 0)} gives the top back sooner, "
            "or call malloc_trim (0).")
    if b["trim_would_release"] > max(16 << 20, b["rss"] / 10) and not any(
            "malloc_trim" in line for line in out):
        out.append(
            f"malloc_trim (0) would give back {human(b['trim_would_release'])}"
            f" of the {human(b['rss'])} resident now.")
    return out


def table(b, estimate=None):
    """The breakdown B as lines of the text report, with ESTIMATE, the
    sampled estimate of the bytes in use, beside malloc's count."""
    in_use = f"of which {human(b['mmapped'])} in {b['mmapped_chunks']} " \
        "mmapped chunks"
    if estimate is not None:
        in_use += f"; the samples estimate {human(estimate)}"
    rows = [("resident (RSS)", b["rss"], "", 2),
            ("malloc: in use", b["malloc_in_use"], in_use, 4),
            ("malloc: in tcaches", b["tcache"],
             "" if b["tcache_unread"] == 0 else "not every tcache read", 4),
            ("malloc: in fastbins", b["fastbins"], "none after glibc 2.42", 4),
            ("malloc: free in arenas", b["free_in_arenas_resident"],
             f"resident, of {human(b['free_in_arenas'])} in "
             f"{b['free_chunks']} chunks", 4),
            ("malloc: top chunks", b["top_resident"],
             f"resident, of {human(b['top'])}", 4),
            ("malloc: arena headers", b["metadata"], "", 4),
            ("not malloc's", b["not_malloc"],
             "stacks, code, files, other maps" + (
                 f"; {human(b['profiler'])} the profiler's"
                 if b["profiler"] else ""), 4),
            ("malloc_trim (0) would give back", b["trim_would_release"], "",
             2)]
    out = [f"{'':<{indent}}{name:<{36 - indent}} {human(v):>11}  {note}"
           .rstrip() for name, v, note, indent in rows]
    n = len(b["arenas"])
    out.append(f"  {n} arena{'s' if n != 1 else ''} (arena_max "
               f"{b['arena_max'] or 'default'}), mmap threshold "
               f"{human(b['mmap_threshold'] or 0)}, trim threshold "
               f"{human(b['trim_threshold'] or 0)}")
    if b["approximate_arenas"]:
        out.append(f"  {b['approximate_arenas']} of them read from outside "
                   "while they changed: approximate")
    out.append(f"  {'arena':>6} {'system':>11} {'in use':>11} {'free':>11} "
               f"{'resident':>11} {'top':>11} {'trim gives':>11} threads")
    for i, a in enumerate(b["arenas"]):
        if a["busy"]:
            out.append(f"  {i:>6} {human(a['system']):>11}  (busy: not read)")
            continue
        out.append(f"  {i:>6} {human(a['system']):>11} "
                   f"{human(a['in_use']):>11} {human(a['free']):>11} "
                   f"{human(a['free_resident']):>11} {human(a['top']):>11} "
                   f"{human(a['trim']):>11} {a['threads']:>7}")
    out += ["  advice: " + line for line in advice(b)]
    return out


# Reading a running process.

class Pages:
    """Which pages of process PID are resident, from its pagemap."""

    WINDOW = 512

    def __init__(self, pid, pagesize):
        self.fd = os.open(f"/proc/{pid}/pagemap", os.O_RDONLY)
        self.ps = pagesize
        self.base, self.present = None, ()

    def close(self):
        os.close(self.fd)

    def is_resident(self, page):
        if self.base is None or not 0 <= page - self.base < len(
                self.present):
            try:
                data = os.pread(self.fd, 8 * self.WINDOW, 8 * page)
            except (OSError, OverflowError):
                data = b""
            self.base = page
            self.present = [e >> 63 for e in struct.unpack(
                f"<{len(data) // 8}Q", data)] or [0]
        return self.present[page - self.base]

    def resident(self, start, end):
        """The bytes of [START, END) on resident pages."""
        ps, total = self.ps, 0
        while start < end:
            page = start // ps
            following = (page + 1) * ps
            if following > end:
                following = end
            at = page - self.base if self.base is not None else -1
            if (self.present[at] if 0 <= at < len(self.present)
                    else self.is_resident(page)):
                total += following - start
            start = following
        return total

    def runs(self, start, end):
        """The runs of resident pages in [START, END), as [a, b)."""
        ps, run = self.ps, None
        last = -(-end // ps)
        for page in range(start // ps, last):
            if self.is_resident(page):
                run = page if run is None else run
            elif run is not None:
                yield run * ps, page * ps
                run = None
        if run is not None:
            yield run * ps, last * ps


def read_layout(mem, addr, pid):
    head = struct.unpack("<2Q", mem.read(addr, 16))
    if head != (LAYOUT_VERSION, len(LAYOUT)):
        raise BadInput(f"process {pid}: its libc's malloc layout is of "
                       f"version {head[0]} with {head[1]} entries; this mprof"
                       f" reads version {LAYOUT_VERSION} with {len(LAYOUT)}")
    L = dict(zip(LAYOUT, struct.unpack(f"<{len(LAYOUT)}Q",
                                       mem.read(addr, 8 * len(LAYOUT)))))
    if L["tcache"] >= 1 << 63:
        L["tcache"] -= 1 << 64
    if not (L["pagesize"] and L["heap_max"] and 0 < L["nbins"] <= 1024
            and L["tcache_bins"] <= 1024):
        raise BadInput(f"process {pid}: its libc's malloc layout makes no "
                       "sense")
    return L


def heap_end(maps):
    """The end of the [heap] mapping in MAPS, lines of /proc/PID/maps, or
    None."""
    return next((int(line.split()[0].split("-")[1], 16) for line in maps
                 if line.rstrip().endswith("[heap]")), None)


class Copy:
    """The memory MEM (live.Memory) reads, with the resident pages of
    regions copied, a run of them a read, so that a walk of them sees the
    process nearly at one moment.  Pages not resident are not read: the
    read would map them.  A region that would take the copy past LIMIT
    bytes is read where the walk asks, a chunk at a time, which is
    faster where free chunks are few among many pages."""

    LIMIT = 32 << 20

    def __init__(self, mem, pages, changed):
        self.mem, self.pages, self.changed = mem, pages, changed
        self.starts, self.data, self.size = [], [], 0

    def copy(self, start, end):
        if end - start > self.LIMIT - self.size:
            return
        for a, b in self.pages.runs(start, end):
            try:
                data = self.mem.read(a, b - a)
            except self.changed:
                continue
            i = bisect.bisect(self.starts, a)
            self.starts.insert(i, a)
            self.data.insert(i, data)
            self.size += b - a

    def read(self, addr, n):
        if not self.starts:
            return self.mem.read(addr, n)
        i = bisect.bisect(self.starts, addr) - 1
        if i >= 0 and addr + n <= self.starts[i] + len(self.data[i]):
            at = addr - self.starts[i]
            return self.data[i][at:at + n]
        return self.mem.read(addr, n)

    def u(self, addr, fmt):
        return struct.unpack(fmt, self.read(addr, struct.calcsize(fmt)))[0]


def walk_arena(mem, pages, L, av, brk, changed, strict):
    """One arena's figures, as the process writes them, walked from
    outside; raises CHANGED if it changed under the walk, if STRICT, or
    if it changed so that the walk lost its way."""
    live = mem
    ps = L["pagesize"]
    raw = live.read(av, L["state_size"])
    top, = struct.unpack_from("<Q", raw, L["top"])
    system, = struct.unpack_from("<Q", raw, L["system_mem"])
    flags, = struct.unpack_from("<i", raw, L["flags"])
    a = dict.fromkeys(ARENA_FIELDS, 0)
    a["threads"], = struct.unpack_from("<Q", raw, L["attached"])
    a["system"] = system
    topsize = live.u(top + 8, "<Q") & ~7
    main = av == L["main_arena"]
    mp = L["mp"]
    # The arena's memory: its heaps, or the main arena's one region,
    # copied before it is walked.
    heaps = []
    sbrk = live.u(mp + L["sbrk_base"], "<Q")
    if main and not flags & NONCONTIGUOUS and sbrk:
        heaps.append((sbrk, top + topsize))
    elif not main:
        h = top & ~(L["heap_max"] - 1)
        for _ in range(MAX_ARENAS):
            if not h:
                break
            heaps.append((h, h + live.u(h + L["heap_size"], "<Q")))
            h = live.u(h + L["heap_prev"], "<Q")
    mem = Copy(live, pages, changed)
    for lo, hi in heaps:
        if not 0 < hi - lo <= (1 << 47 if main else L["heap_max"]):
            raise changed
        mem.copy(lo, hi)
    # Its bins as they are now: a thread's arena is in the copy of its
    # first heap, the main arena just after it.
    raw = mem.read(av, L["state_size"])
    if strict and struct.unpack_from("<Q", raw, L["top"])[0] != top:
        raise changed
    q = lambda a: mem.u(a, "<Q")

    def region(p):
        for lo, hi in heaps:
            if lo <= p < hi:
                return lo, hi
        # A chunk of a main arena in pieces, or one the walk lost.
        if heaps:
            raise changed
        return p, p + (q(p + 8) & ~7)

    def resident(p, start, end):
        lo, hi = region(p)
        return pages.resident(max(start, lo), min(end, hi))

    for lo, hi in heaps:
        a["resident"] += pages.resident(lo, hi)
        if not main:
            start = lo + L["heap_header"]
            if q(lo) == lo + L["heap_header"]:
                start = -(-(q(lo) + L["state_size"] + 16) // L["alignment"]) \
                    * L["alignment"] - 16
            a["metadata"] += start - lo
    if main and not heaps:
        a["resident"] = resident(top, top, top + topsize)
    a["top"] = topsize
    a["top_resident"] = resident(top, top, top + topsize)
    # No more free chunks than fit in the arena.
    chunks = system // L["minsize"] + 1
    for i in range(1, L["nbins"]):
        bin_ = av + L["bins"] + 16 * (i - 1) - 16
        p, = struct.unpack_from("<Q", raw, L["bins"] + 16 * (i - 1) + 8)
        after = bin_
        while p != bin_:
            chunks -= 1
            try:
                _, size, fd, bk = struct.unpack("<4Q", mem.read(p, 32))
                size &= ~7
                lo, hi = region(p)
                # Each chunk links back to the one walked before it.
                if chunks < 0 or fd != after or heaps and p + size > hi:
                    raise changed
            except changed:
                # Lost in a list that changed: on the last try, the rest
                # of the list is left out.
                if strict:
                    raise
                break
            a["free"] += size
            a["free_chunks"] += 1
            a["free_resident"] += pages.resident(max(p, lo),
                                                 min(p + size, hi))
            if (i == 1 or i >= L["page_bin"]) and size > ps - 1 + 32:
                aligned = -(-(p + 32) // ps) * ps
                rest = size - (aligned - p)
                if rest > ps - 1:
                    a["trim"] += pages.resident(
                        max(aligned, lo),
                        min(aligned + (rest & ~(ps - 1)), hi))
            after, p = p, bk
    if main and topsize > L["minsize"] + 1:
        unit = q(mp + L["thp_pagesize"]) or ps
        extra = (topsize - L["minsize"] - 1) // unit * unit
        end = top + topsize
        if extra and brk == -(-end // ps) * ps:
            a["trim"] += resident(top, end - extra, end)
    a["in_use"] = max(0, system - a["top"] - a["free"] - a["metadata"])
    # Walked while its top stayed the same, unless it is the last try.
    if strict and (live.u(av + L["top"], "<Q"),
                   live.u(av + L["system_mem"], "<Q"),
                   live.u(top + 8, "<Q") & ~7) != (top, system, topsize):
        raise changed
    return a


def tcaches(mem, L, m, changed):
    """Add the chunks of every thread's tcache to M."""
    q = lambda a: mem.u(a, "<Q")
    count = q(L["mp"] + L["tcache_count"])
    nbins, small = L["tcache_bins"], L["tcache_small_bins"]
    m["tcache"] = m["tcache_chunks"] = m["tcache_unread"] = 0
    for head in (L["stack_used"], L["stack_user"]):
        node, before = q(head), head
        for _ in range(MAX_THREADS):
            if node == head:
                break
            try:
                pd = node - L["thread_list"]
                tc = q(pd + L["tcache"])
                # A thread that left the list meanwhile ends the walk.
                if q(node + 8) != before:
                    raise changed
                node, before = q(node), node
            except changed:
                m["tcache_unread"] += 1
                break
            if tc in (L["tcache_inactive"], L["tcache_disabled"]) or not tc:
                continue
            try:
                slots = struct.unpack(f"<{nbins}H", mem.read(tc, 2 * nbins))
                entries = struct.unpack(f"<{nbins}Q", mem.read(
                    tc + L["tcache_entries"], 8 * nbins))
                for i in range(nbins):
                    n = count - min(slots[i], count)
                    m["tcache_chunks"] += n
                    if i < small:
                        m["tcache"] += n * (L["minsize"] + i * L["alignment"])
                        continue
                    e = entries[i]
                    while n > 0 and e:
                        m["tcache"] += q(e - 8) & ~7
                        e = (e >> 12) ^ q(e)
                        n -= 1
            except changed:
                m["tcache_unread"] += 1


def rollup(pid):
    """Rss and Anonymous of process PID, in bytes."""
    out = {"rss": 0, "anonymous": 0}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("Rss", "Anonymous"):
                out[key.lower()] = int(rest.split()[0]) * 1024
    return out


def outside(pid, mem, layout_addr, maps, changed):
    """The figures of mprof.memory for process PID, read from outside
    through MEM (live.Memory), whose reads raise CHANGED where the
    memory is no longer mapped; MAPS are the lines of its maps."""
    L = read_layout(mem, layout_addr, pid)
    q = lambda a: mem.u(a, "<Q")
    m = {"arenas": [], "busy": [], "approximate": 0}
    m.update(rollup(pid))
    pages = Pages(pid, L["pagesize"])
    try:
        brk = heap_end(maps)
        av = L["main_arena"]
        for _ in range(MAX_ARENAS):
            for tries in range(TRIES, 0, -1):
                try:
                    m["arenas"].append(walk_arena(mem, pages, L, av, brk,
                                                  changed, tries > 1))
                    m["approximate"] += tries == 1
                    break
                except changed:
                    pages.base = None
            else:
                m["busy"].append(q(av + L["system_mem"]))
            av = q(av + L["next"])
            if av == L["main_arena"]:
                break
    finally:
        pages.close()
    mp = L["mp"]
    m["mmapped"] = q(mp + L["mmapped"])
    m["mmapped_chunks"] = mem.u(mp + L["n_mmaps"], "<i")
    m["mmap_threshold"] = q(mp + L["mmap_threshold"])
    m["trim_threshold"] = q(mp + L["trim_threshold"])
    m["arena_max"] = q(mp + L["arena_max"])
    if L["tcache_bins"]:
        tcaches(mem, L, m, changed)
    return m


def write(path, m, number, now):
    """Write M as the memory file of dump NUMBER, as the process does."""
    out = [f"malloc-memory {FORMAT_VERSION}", f"pid {m['pid']}",
           f"dump {number}", f"time {now:.9f}", f"rss {m['rss']}",
           f"anonymous {m['anonymous']}",
           "# " + " ".join(f.replace("_", "-") for f in ARENA_FIELDS)]
    out += ["arena " + " ".join(str(a[f]) for f in ARENA_FIELDS)
            for a in m["arenas"]]
    out += [f"arena-busy {s}" for s in m["busy"]]
    for key in ("approximate", "mmapped", "mmapped_chunks",
                "mmap_threshold", "trim_threshold", "arena_max", "tcache",
                "tcache_chunks", "tcache_unread", "profiler"):
        if key in m:
            out.append(f"{key.replace('_', '-')} {m[key]}")
    out.append("end")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(out) + "\n")
