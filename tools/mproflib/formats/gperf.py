"""gperftools' legacy heap profile text: google-pprof --text PROGRAM FILE.
Each line is in-use objects and bytes, then allocated ones in brackets."""

from collections import defaultdict

from ..profile import Totals
from .text import ordered


def counts(v):
    return (f"{round(v.inuse_objects):6d}: {round(v.inuse_space):8d} "
            f"[{round(v.alloc_objects):6d}: {round(v.alloc_space):8d}]")


def render(profile, sym, options):
    stacks = defaultdict(Totals)
    for s in profile.samples:
        stacks[sym.user_pcs(s)].add(s)
    out = [f"heap profile: {counts(profile.totals())} @ heapprofile"]
    for stack, v in ordered(stacks.items(), options.sample):
        out.append(f"{counts(v)} @ " + " ".join(f"{pc:#x}" for pc in stack))
    out += ["", "MAPPED_LIBRARIES:"]
    seen = set()
    for m in {id(s.mapping): s.mapping for s in profile.samples}.values():
        for start, end, offset, inode, path in m:
            # The file google-pprof reads names from: the one that ran, or
            # its debug file; none where that cannot be told, rather than
            # one that would give the wrong names.
            obj = path.startswith("/") and sym.usable(path, inode)[1]
            if not obj:
                continue
            line = (f"{start:x}-{end:x} r-xp {offset:08x} 00:00 {inode} "
                    f"{obj}")
            if line not in seen:
                seen.add(line)
                out.append(line)
    return "\n".join(out) + "\n"
