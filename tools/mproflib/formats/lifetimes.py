"""How long sampled blocks live, by call site: mprof report --lifetimes,
and the lifetimes of the json and pprof reports.

Each sampled block is stamped when it is made; when it is freed, its
lifetime is counted in its key's bucket (profile.LIFETIME_BOUNDS), apart
for blocks freed by another thread than the one that made them.  A
sample of a request of X bytes stands for 1 / p(X) requests, so the
shares and quantiles of a site weigh each sample so: a site's keys of
different sizes count as the requests they estimate.  The blocks still
allocated are censored: their mean age is known, not their lifetime.
"""

import math
import textwrap
from collections import defaultdict

from .text import CALLERS, site_lines
from ..profile import BUCKETS, LIFETIME_BOUNDS, probability

# A block freed within this is temporary (heaptrack's word); it is a
# bucket bound.
TEMPORARY_NS = 1000000
TEMPORARY_BUCKETS = LIFETIME_BOUNDS.index(TEMPORARY_NS) + 1


class Site:
    """The lifetimes of one call site's samples."""

    def __init__(self):
        # Sampled frees by bucket, by the thread that made the block [0]
        # or another [1], and the requests they stand for.
        self.frees = [[0] * BUCKETS for _ in range(2)]
        self.weighted = [[0.0] * BUCKETS for _ in range(2)]
        self.freed_space = 0.0
        self.live = 0
        self.inuse_objects = 0.0
        self.inuse_space = 0.0
        self.age_sum = 0.0

    def add(self, s):
        w = 1 / probability(s.size, s.thread.mean)
        for side in (0, 1):
            for b, n in enumerate(s.freed[side]):
                self.frees[side][b] += n
                self.weighted[side][b] += n * w
                self.freed_space += n * w * s.size
        self.live += s.live
        self.inuse_objects += s.inuse_objects
        self.inuse_space += s.inuse_space
        self.age_sum += s.live * s.age

    @property
    def sampled_frees(self):
        return sum(map(sum, self.frees))

    @property
    def freed_objects(self):
        return sum(map(sum, self.weighted))

    @property
    def other_thread(self):
        return sum(self.frees[1])

    @property
    def mean_age(self):
        return self.age_sum / self.live if self.live else 0

    def quantile(self, q):
        """The bucket that holds quantile Q of the lifetimes, or None."""
        total = self.freed_objects
        if not total:
            return None
        seen = 0.0
        for b in range(BUCKETS):
            seen += self.weighted[0][b] + self.weighted[1][b]
            if seen >= q * total * (1 - 1e-12):
                return b
        return BUCKETS - 1

    def temporary(self):
        """The share of the frees within TEMPORARY_NS, and its standard
        error from the sampled frees (binomial)."""
        total = self.freed_objects
        if not total:
            return None, None
        share = sum(self.weighted[side][b] for side in (0, 1)
                    for b in range(TEMPORARY_BUCKETS)) / total
        return share, math.sqrt(share * (1 - share) / self.sampled_frees)


def sites(profile, sym):
    """{call site: Site}, for the sites with a sampled free or a sampled
    block still allocated; a call site is a whole symbolized stack, as
    in the text report."""
    found = defaultdict(Site)
    labels = {}
    for s in profile.samples:
        if not (s.live or any(map(any, s.freed))):
            continue
        k = (s.stack, id(s.mapping))
        if k not in labels:
            labels[k] = tuple(f.label() for f in sym.stack(s))
        found[labels[k]].add(s)
    return found


def duration(ns):
    """NS nanoseconds, short."""
    for unit, size in (("h", 3600e9), ("min", 60e9), ("s", 1e9),
                       ("ms", 1e6), ("us", 1e3)):
        if ns >= size:
            v = ns / size
            return f"{v:.3g}{unit}" if v < 100 else f"{v:.0f}{unit}"
    return f"{ns:.0f}ns"


def bucket_range(b):
    """Bucket B as "LOW-HIGH"."""
    if b is None:
        return "-"
    if b == 0:
        return f"<{duration(LIFETIME_BOUNDS[0])}"
    if b == BUCKETS - 1:
        return f">={duration(LIFETIME_BOUNDS[-1])}"
    return f"{duration(LIFETIME_BOUNDS[b - 1])}-{duration(LIFETIME_BOUNDS[b])}"


def bucket_bounds(b):
    """Bucket B's bounds in ns; the last has none above."""
    low = LIFETIME_BOUNDS[b - 1] if b else 0
    return low, LIFETIME_BOUNDS[b] if b < BUCKETS - 1 else None


def as_json(site, v):
    share, sd = v.temporary()
    return {"functions": list(site), "sampled_frees": v.sampled_frees,
            "estimated_frees": v.freed_objects,
            "estimated_freed_bytes": v.freed_space,
            "median_bucket": bucket_bounds(v.quantile(0.5))
            if v.sampled_frees else None,
            "p90_bucket": bucket_bounds(v.quantile(0.9))
            if v.sampled_frees else None,
            "temporary_share": share, "temporary_share_sd": sd,
            "other_thread_frees": v.other_thread,
            "frees_by_bucket": [a + b for a, b in zip(*v.frees)],
            "other_thread_frees_by_bucket": v.frees[1],
            "live": v.live, "estimated_inuse_objects": v.inuse_objects,
            "estimated_inuse_bytes": v.inuse_space,
            "mean_age_ns": v.mean_age}


COLUMNS = (f"{'frees':>7} {'median':>13} {'p90':>13} {'<1ms':>5} "
           f"{'other':>6} {'live':>6} {'mean age':>9}")


def render(profile, sym, options):
    found = list(sites(profile, sym).items())
    means = ", ".join(map(str, profile.means))
    if not found:
        return ("no lifetimes: no sampled block was freed or still allocated"
                f" (sampling mean {means} bytes; dumps before format 5 "
                "have none)\n")
    # The sites that freed the most bytes first, then those holding most.
    found.sort(key=lambda kv: (-kv[1].freed_space, -kv[1].inuse_space,
                               kv[0]))
    shown = found[:options.top]
    frees = sum(v.sampled_frees for _, v in found)
    other = sum(v.other_thread for _, v in found)
    everything = Site()
    for _, v in found:
        for side in (0, 1):
            for b in range(BUCKETS):
                everything.frees[side][b] += v.frees[side][b]
                everything.weighted[side][b] += v.weighted[side][b]
    share, sd = everything.temporary()
    out = textwrap.wrap(
        f"lifetimes of sampled blocks at {len(found)} call site(s): "
        f"{frees} sampled frees"
        + (f", {100 * share:.1f}% (+-{100 * sd:.1f}) of the estimated "
           f"frees within 1 ms, {other} by another thread than the "
           "allocating one" if frees else ""), 79)
    out += ["", f"{COLUMNS}  call site"]
    for site, v in shown:
        share, _ = v.temporary()
        sampled = v.sampled_frees
        out += site_lines(
            f"{sampled:7d} {bucket_range(v.quantile(0.5)):>13} "
            f"{bucket_range(v.quantile(0.9)):>13} "
            + (f"{100 * share:4.0f}% {100 * v.other_thread / sampled:5.0f}%"
               if sampled else f"{'-':>5} {'-':>6}")
            + f" {v.live:6d} "
            + (f"{duration(v.mean_age):>9}" if v.live else f"{'-':>9}"),
            site, len(COLUMNS))
    if len(shown) < len(found):
        out.append(f"... {len(found) - len(shown)} more call site(s)")
    out += [""] + textwrap.wrap(
        "frees: sampled blocks freed; median, p90: the bucket of the "
        "lifetime that half, nine tenths of the (estimated) frees are "
        "within; <1ms: the share freed within 1 ms (temporary); other: "
        "the share freed by another thread than the allocating one; live: "
        "sampled blocks still allocated (censored), and their mean age.  "
        f"Sampling mean {means} bytes; at most {CALLERS} callers shown.",
        79)
    return "\n".join(out) + "\n"
