#!/usr/bin/python3
"""What recording lifetimes adds to a sample: the churn workload with
every allocation sampled (mean 1) against profiling unset, on the series
without lifetimes (BEFORE, an install directory) and with
it (install/), interleaved round by round; the difference per pair is a
sample's cost (its stack walk, its table, and making and freeing its
block, now with a clock read at each).  At the stack depths of
bench.py's per-sample table, frame pointers.  Then the clock on its own
(bench/clock.c).  Writes its section of bench/RESULTS.md.

Lifetimes were a patch of their own, the tenth, in the series of this
repository's commit a754177, before they were folded into patches 2 and
3: make BEFORE from its first nine patches (git show a754177:patches/...,
git am onto glibc-src's pristine tag in a worktree, built and installed
into BEFORE).
Usage: bench/lifetimes.py BEFORE [--runs N]."""

import argparse
import os
import statistics
import subprocess
import sys

import bench
import sections
import variables as var

BEGIN = "<!-- bench/lifetimes.py -->"
END = "<!-- end bench/lifetimes.py -->"
DEPTHS = (0, 16, 64)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("before")
    ap.add_argument("--runs", type=int, default=9)
    args = ap.parse_args()
    os.makedirs(bench.BIN, exist_ok=True)
    bench.sh(["gcc", "-O2", "-fno-omit-frame-pointer", "-o",
              os.path.join(bench.BIN, "churn"),
              os.path.join(bench.HERE, "churn.c")])
    builds = (("before", os.path.abspath(args.before)),
              ("after", bench.PATCHED))
    for _, inst in builds:
        if not os.path.exists(os.path.join(inst, "lib", "libc.so.6")):
            sys.exit(f"bench/lifetimes.py: no glibc installed in {inst}")
    every = {var.ON: "1", var.MEAN: "1",
             var.UNWIND: "fp"}
    rows = []
    for depth in DEPTHS:
        cfgs = []
        for name, inst in builds:
            cfgs.append(bench.Config(name, "unset", inst))
            cfgs.append(bench.Config(name, "sampled", inst, profiled=True,
                                     env=every))
        prog = [os.path.join(bench.BIN, "churn"), "200000", str(depth)]
        med = bench.medians(bench.measure(cfgs, f"depth {depth}", prog,
                                          float, args.runs))
        cost = {name: med[(name, "sampled")] - med[(name, "unset")]
                for name, _ in builds}
        rows.append((depth, cost["before"], cost["after"]))
    clock = os.path.join(bench.BIN, "clock")
    subprocess.run(["gcc", "-O2", "-o", clock,
                    os.path.join(bench.HERE, "clock.c")], check=True)
    reads = [subprocess.run([clock], capture_output=True, text=True,
                            check=True).stdout for _ in range(5)]
    mono = statistics.median(float(r.split()[1]) for r in reads)
    tsc = statistics.median(float(r.split()[4]) for r in reads)
    text = [BEGIN, "## Lifetimes", "",
            "What recording each sampled block's lifetime adds to a sample "
            "(`bench/lifetimes.py`): bench/churn.c with every "
            "allocation sampled (mean 1, frame pointers) against profiling "
            f"unset, medians of {args.runs} interleaved rounds, on the "
            "series without lifetimes and with them. The depth is that of "
            "churn's loop below main (0: four frames in all).", "",
            "| depth | ns per sample before | after | added |",
            "|---:|---:|---:|---:|"]
    for depth, before, after in rows:
        text.append(f"| {depth} | {before:.1f} | {after:.1f} | "
                    f"{after - before:+.1f} ({100 * (after / before - 1):+.0f}%)"
                    " |")
    short = rows[0][1]
    text += ["", f"A read of `CLOCK_MONOTONIC` through the vDSO costs "
             f"{mono:.1f} ns here (`bench/clock.c`, median of 5 runs), and a "
             "sample reads it twice, when its block is made and when it is "
             f"freed: {2 * mono:.0f} ns of what it adds. The rest is three "
             "more atomic additions (the birth time to the key's sum when "
             "the block is made, taken off again when it is freed, and the "
             "bucket's count), and the bucket (a table by the lifetime's "
             "power of two, and one comparison). The 5% more per sample "
             "that was asked for is out of reach of any clock: the time "
             f"stamp counter read directly costs {tsc:.1f} ns here; read "
             f"twice, {100 * 2 * tsc / short:.0f}% of a four-frame sample; "
             "and it would need its rate calibrated against "
             "`CLOCK_MONOTONIC` and a reader outside the process to "
             "convert its ticks.", END, ""]
    for line in text[3:]:
        print(line)
    sections.replace(BEGIN, END, "\n".join(text))


if __name__ == "__main__":
    main()
