#!/usr/bin/python3
"""What growing and shrinking one buffer by realloc costs: bench/grow.c
under every configuration of bench/bench.py (unpatched glibc, ours unset
and on at three means, jemalloc's and tcmalloc's samplers and their
unprofiled runs), one thread and four.  Rewrites the section of
bench/RESULTS.md between its "realloc" markers.  Run through
bench/run.sh (or after it, which builds the baseline).

  bench/realloc.py [--runs N] [--bytes N] [--no-write]
"""

import argparse
import os
import subprocess
import sys

import bench
import sections

BEGIN, END = "<!-- realloc: bench/realloc.py -->", "<!-- /realloc -->"
GIB = 1 << 30


def workloads(total):
    """(name, argv) of each pattern, one thread and four."""
    grow = os.path.join(bench.BIN, "grow")
    out = []
    for threads in (1, 4):
        for name, pattern, step in [("linear 4K", "linear", 4096),
                                    ("linear 64K", "linear", 65536),
                                    ("doubling", "double", 0),
                                    ("shrinking", "shrink", 65536)]:
            out.append(("%s, %d thread%s" % (name, threads,
                                             "s" if threads > 1 else ""),
                        [grow, pattern, str(step), str(total),
                         str(threads)]))
    return out


def section(results, runs, total):
    mib = total >> 20
    out = [BEGIN, "", "## Growing a buffer by realloc (bench/realloc.py)", "",
           "bench/grow.c grows one buffer per thread by realloc, writing the "
           "bytes each step adds, to %d MiB in all (each of four threads to "
           "a quarter), or shrinks one from there, 64 KiB at a time: the "
           "wall seconds of the whole, the median of %d rounds after a "
           "warm-up, and its ratio to the same round's unprofiled run, as "
           "above (ours against unpatched glibc, jemalloc and tcmalloc "
           "against themselves unprofiled).  At MiB sizes nearly every "
           "request is sampled at the default mean: a sampled block is "
           "resized as any other, its outer block grown in place or by "
           "mremap." % (mib, runs)
           + "  The 4 KiB rows are mostly the kernel's time: a page fault "
           "and an mremap per step, which moves the page tables of the "
           "whole buffer when its mapping cannot grow where it lies, and "
           "where it lies changes from run to run.  A/A is unpatched glibc "
           "run a second time in each round: the noise of a row.", "",
           "| pattern | unpatched | A/A | unset | 512K | 64K | 4K | jemalloc "
           "plain | 512K | 64K | 4K | tcmalloc plain | 512K | 64K | 4K |",
           "|---|" + "---:|" * 15]
    for name, rows in results:
        by = {(f, n): (m, r) for f, n, m, r, _, _ in rows}
        cells = []
        for fam, names in (("glibc", ("unpatched", "A/A", "unset", "512K",
                                      "64K", "4K")),
                           ("jemalloc", ("plain", "512K", "64K", "4K")),
                           ("tcmalloc", ("plain", "512K", "64K", "4K"))):
            for n in names:
                m, r = by[(fam, n)]
                cells.append("%.3f s" % m if n in ("unpatched", "plain")
                             else "%.3f s (%.2fx)" % (m, r))
        out.append("| %s | %s |" % (name, " | ".join(cells)))
    return "\n".join(out + ["", END]) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--bytes", type=int, default=GIB)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    os.makedirs(bench.BIN, exist_ok=True)
    subprocess.run(["gcc", "-O2", "-pthread", "-o",
                    os.path.join(bench.BIN, "grow"),
                    os.path.join(bench.HERE, "grow.c")], check=True)
    cfgs = [c for c in bench.configs() if c.name != "512K dwarf"]
    # Unpatched glibc a second time: the noise a row has.
    cfgs.insert(1, bench.Config("glibc", "A/A", bench.BASELINE))
    results = []
    for name, prog in workloads(args.bytes):
        rows = bench.ratio_rows(cfgs, bench.measure(cfgs, name, prog, float,
                                                    args.runs))
        results.append((name, rows))
        for fam, n, m, r, _, _ in rows:
            print("%-24s %-9s %-10s %8.3f s %8.2fx" % (name, fam, n, m, r),
                  file=sys.stderr)
    text = section(results, args.runs, args.bytes)
    print(text)
    if not args.no_write:
        sections.replace(BEGIN, END, text)


if __name__ == "__main__":
    main()
