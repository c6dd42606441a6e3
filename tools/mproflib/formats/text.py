"""The text report: totals, the top call sites, threads, sizes."""

import time
from collections import defaultdict

from .. import memory
from ..profile import DESCRIBE, Totals, human

# Callers shown under each call site.
CALLERS = 12
TOP = 10
# The other table of a text report: bytes and objects of the same kind.
COUNTERPART = {"inuse_space": "inuse_objects", "inuse_objects": "inuse_space",
               "alloc_space": "alloc_objects", "alloc_objects": "alloc_space"}
COLUMNS = (f"{'in use':>12} {'allocated':>12} {'share':>6} "
           f"{'in-use objs':>14} {'alloc objs':>14}")


def signed(n):
    return ("+" if n >= 0 else "") + human(n)


def row(v, share):
    return (f"{human(v.inuse_space):>12} {human(v.alloc_space):>12} "
            f"{share:5.1f}% {v.inuse_objects:14,.0f} {v.alloc_objects:14,.0f}")


def ordered(items, sample):
    """(key, Totals) pairs, largest SAMPLE first; ties (nothing in use,
    say) by allocated bytes, so that the order says something."""
    return sorted(items, key=lambda kv: (-getattr(kv[1], sample),
                                         -kv[1].alloc_space, kv[0]))


def sites(profile, sym):
    """{call site: Totals}, a call site being a whole symbolized stack,
    innermost first, as frame labels."""
    found = defaultdict(Totals)
    labels = {}
    for s in profile.samples:
        k = (s.stack, id(s.mapping))
        if k not in labels:
            labels[k] = tuple(f.label() for f in sym.stack(s))
        found[labels[k]].add(s)
    return found


def site_lines(prefix, site, indent):
    """PREFIX and SITE's first frame, then its callers, indented."""
    out = [f"{prefix}  {site[0]}"]
    out += [f"{'':>{indent}}  <- {caller}" for caller in site[1:CALLERS + 1]]
    if len(site) > CALLERS + 1:
        out.append(f"{'':>{indent}}  <- ... {len(site) - CALLERS - 1} more")
    return out


def share(v, total, sample):
    whole = getattr(total, sample)
    return 100 * getattr(v, sample) / whole if whole else 0


def header(profile):
    threads = profile.threads
    total = profile.totals()

    def listed(values):
        return ", ".join(map(str, sorted(set(values))))

    pids = {t.pid for t in threads}
    if hasattr(profile, "before"):
        when = [max((t.time for t in p.threads), default=0)
                for p in (profile.before, profile.after)]
        return [
            f"growth from dump {profile.before.threads[0].dump} to dump "
            f"{profile.after.threads[0].dump} ({when[1] - when[0]:.3f} s "
            f"later) of {len(pids)} process(es) {listed(pids)}",
            f"sampling mean: {listed(profile.means)} bytes",
            f"estimated in use: {signed(total.inuse_space)} in "
            f"{total.inuse_objects:+,.0f} objects",
            f"estimated allocated: {signed(total.alloc_space)} in "
            f"{total.alloc_objects:+,.0f} objects",
            ""]
    dumps = sorted({(t.pid, t.dump, t.time) for t in threads})
    return [
        f"malloc profile: {len(pids)} process(es) {listed(pids)}, "
        f"{len(threads)} thread(s)",
        f"sampling mean: {listed(profile.means)} bytes; "
        f"samples: {sum(t.taken for t in threads)} taken, "
        f"{sum(t.recorded for t in threads)} recorded, "
        f"{sum(t.dropped for t in threads)} dropped, "
        f"{total.live} still allocated",
        f"stacks: up to {listed(t.depth for t in threads)} frames, walked "
        f"with {listed(t.unwind for t in threads)}",
        f"estimated in use: {human(total.inuse_space)} in "
        f"{total.inuse_objects:,.0f} objects, when the profiles were written",
        f"estimated allocated: {human(total.alloc_space)} in "
        f"{total.alloc_objects:,.0f} objects"] + [
        f"process {pid}: dump {n}, written "
        + time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when))
        for pid, n, when in dumps if n] + [""]


def memory_lines(profile):
    """Of each process whose dump holds its memory: where its resident
    memory is."""
    inuse = {}
    for s in profile.samples:
        inuse[s.thread.pid] = inuse.get(s.thread.pid, 0) + s.inuse_space
    out = []
    for pid, m in sorted(profile.memory.items()):
        out.append(f"where the resident memory of process {pid} is:")
        out += memory.table(memory.breakdown(m), inuse.get(pid, 0)) + [""]
    return out


def table(found, total, sample, top):
    out = [f"top {top} call sites by estimated {DESCRIBE[sample]}:",
           f"{COLUMNS}  call site"]
    for site, v in ordered(found.items(), sample)[:top]:
        out += site_lines(row(v, share(v, total, sample)), site, len(COLUMNS))
    return out + [""]


def summary(profile, sym, sample, top=TOP):
    """The header and the first table: what `mprof run` prints."""
    return "\n".join(header(profile) + table(sites(profile, sym),
                                             profile.totals(), sample, top))


def render(profile, sym, options):
    top = options.top or TOP
    total = profile.totals()
    found = sites(profile, sym)
    out = header(profile) + memory_lines(profile)
    for sample in (options.sample, COUNTERPART[options.sample]):
        out += table(found, total, sample, top)
    if options.by_process:
        per = {}
        for t in profile.threads:
            per.setdefault((t.pid, t.exe), Totals())
        for s in profile.samples:
            per[(s.thread.pid, s.thread.exe)].add(s)
        out += ["by process:", f"{COLUMNS}  process"]
        for (pid, exe), v in ordered(per.items(), options.sample):
            out.append(f"{row(v, share(v, total, options.sample))}  pid {pid} "
                       f"{exe}")
        out.append("")
    if options.by_thread:
        per = {}
        for t in profile.threads:
            per.setdefault((t.pid, t.tid, t.name), Totals())
        for s in profile.samples:
            per[(s.thread.pid, s.thread.tid, s.thread.name)].add(s)
        out += ["by thread:", f"{COLUMNS}  thread"]
        for (pid, tid, name), v in ordered(per.items(), options.sample):
            out.append(f"{row(v, share(v, total, options.sample))}  pid {pid} "
                       f"tid {tid}" + (f" ({name})" if name else ""))
        out.append("")
    out += ["sizes (power-of-two buckets):", f"{'size':>22} {COLUMNS}"]
    hist = defaultdict(Totals)
    for s in profile.samples:
        hist[0 if s.size == 0 else 1 << (s.size.bit_length() - 1)].add(s)
    for b in sorted(hist):
        label = "0" if b == 0 else f"{human(b)} - {human(2 * b - 1)}"
        v = hist[b]
        out.append(f"{label:>22} {row(v, share(v, total, options.sample))}")
    return "\n".join(out) + "\n"
