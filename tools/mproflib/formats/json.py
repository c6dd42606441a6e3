"""The merged, symbolized samples with their estimates, for scripts."""

import json

from .. import memory
from . import lifetimes
from ..profile import LIFETIME_BOUNDS

JSON_VERSION = 2


def render(profile, sym, options):
    total = profile.totals()
    doc = {
        "format": "mprof-json", "version": JSON_VERSION,
        "means": profile.means,
        "estimated_objects": total.alloc_objects,
        "estimated_bytes": total.alloc_space,
        "estimated_inuse_objects": total.inuse_objects,
        "estimated_inuse_bytes": total.inuse_space,
        "threads": [{"pid": t.pid, "tid": t.tid, "name": t.name,
                     "exe": t.exe, "mean": t.mean,
                     "depth": t.depth, "unwind": t.unwind, "taken": t.taken,
                     "recorded": t.recorded, "dropped": t.dropped}
                    for t in profile.threads],
        "samples": [{"pid": s.thread.pid, "tid": s.thread.tid,
                     "count": s.count, "live": s.live, "size": s.size,
                     "estimated_objects": s.alloc_objects,
                     "estimated_bytes": s.alloc_space,
                     "estimated_inuse_objects": s.inuse_objects,
                     "estimated_inuse_bytes": s.inuse_space,
                     "mean_age_ns": s.age,
                     "functions": [f.function for f in sym.stack(s)],
                     "stack": [{"pc": f"{pc:#x}", "frames": [
                         {"function": f.function, "file": f.file,
                          "line": f.line, "module": f.module}
                         for f in sym.frames[(pc, id(s.mapping))]]}
                         for pc in sym.user_pcs(s)]}
                    for s in profile.samples],
    }
    # How long blocks lived, by call site.
    doc["lifetime_bounds_ns"] = list(LIFETIME_BOUNDS)
    doc["lifetimes"] = [lifetimes.as_json(site, v) for site, v in
                        lifetimes.sites(profile, sym).items()]
    # Where the resident memory is: of the one process read, or summed
    # over the processes, each also by pid.
    parts = {pid: memory.breakdown(m) for pid, m in profile.memory.items()}
    if parts:
        doc["memory"] = memory.total(list(parts.values()))
        doc["memory_by_pid"] = {str(pid): b for pid, b in parts.items()}
    return json.dumps(doc, indent=1) + "\n"
