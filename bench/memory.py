#!/usr/bin/python3
"""What the resident-memory breakdown of a dump costs, and how far one
read from outside a busy process can be trusted.  Rewrites the section
of bench/RESULTS.md between its "memory" markers.

- In-process (the dump at exit of bench/frag.c, a heap of holes): the
  instructions of libc's walk (__malloc_prof_memory, under callgrind),
  and its mincore calls (strace -c).
- From outside (mprof dump of the same heap at its pause): how long the
  dump takes, against a dump of the tables alone.
- A busy process (tests/busy.c: 8 threads allocating and freeing in
  their arenas): mprof dump every 0.2 s; how many arenas were walked
  whole, and how far the parts add up from the resident size.

  bench/memory.py [--runs N] [--no-write]
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import sections
import variables as var

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(TOP, "bench")
BIN = os.path.join(TOP, "build", "bench")
LIB = os.path.join(TOP, "install", "lib")
LOADER = os.path.join(LIB, "ld-linux-x86-64.so.2")
sys.path.insert(0, os.path.join(TOP, "tools"))
from mproflib import live, memory  # noqa: E402
from mproflib.profile import MEMORY_NAME, read_memory  # noqa: E402

BEGIN, END = "<!-- memory: bench/memory.py -->", "<!-- /memory -->"
HEAPS = (20000, 200000)


def env(out):
    e = {k: v for k, v in os.environ.items()
         if not k.startswith(var.PREFIX)}
    e.update(GLIBC_MALLOC_PROFILE="1", GLIBC_MALLOC_PROFILE_OUT=out)
    return e


def frag_at_exit(blocks, wrapper):
    """The output of WRAPPER around bench/frag.c, BLOCKS blocks, run to its
    exit dump."""
    with tempfile.TemporaryDirectory() as out:
        p = subprocess.run(wrapper + [LOADER, "--library-path", LIB,
                                      os.path.join(BIN, "frag"), str(blocks)],
                           input="\n", env=env(out), capture_output=True,
                           text=True, check=True)
        return p.stderr


def in_process(blocks):
    """(instructions of the walk, its mincore calls)."""
    with tempfile.TemporaryDirectory() as tmp:
        cg = os.path.join(tmp, "cg.out")
        frag_at_exit(blocks, ["valgrind", "--tool=callgrind",
                              f"--callgrind-out-file={cg}",
                              "--toggle-collect=__malloc_prof_memory"])
        with open(cg) as f:
            instructions = int(re.search(r"^summary: (\d+)", f.read(),
                                         re.M)[1])
    err = frag_at_exit(blocks, ["strace", "-f", "-c", "-e",
                                "trace=mincore"])
    m = re.search(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?"
                  r"mincore$", err, re.M)
    return instructions, int(m[1])


def outside(blocks, runs):
    """(seconds of mprof dump, of a snapshot of the tables alone), medians
    of RUNS dumps of bench/frag.c at its pause."""
    with tempfile.TemporaryDirectory() as out:
        p = subprocess.Popen([LOADER, "--library-path", LIB,
                              os.path.join(BIN, "frag"), str(blocks)],
                             env=env(out), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
        p.stdout.readline()
        dump, tables = [], []
        for i in range(runs):
            t = time.monotonic()
            live.snapshot(p.pid)
            tables.append(time.monotonic() - t)
            t = time.monotonic()
            live.dump(p.pid, os.path.join(out, f"d{i}"))
            dump.append(time.monotonic() - t)
        p.communicate("\n")
        return statistics.median(dump), statistics.median(tables)


def busy(dumps):
    """Of DUMPS mprof dumps of tests/busy.c, 0.2 s apart, while it writes
    its own every 64 MiB allocated: [(arenas walked whole, arenas, the
    relative difference of the bytes in chunks in use, the tcaches'
    included, and of the RSS, from the dump the process wrote nearest in
    time; how far apart they are and how long the dump took, in
    seconds)]."""
    rows = []
    with tempfile.TemporaryDirectory() as out:
        e = env(out)
        e[var.INTERVAL] = str(64 << 20)
        p = subprocess.Popen([LOADER, "--library-path", LIB,
                              os.path.join(BIN, "busy"), "-"],
                             env=e, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
        p.stdout.readline()
        ours = []
        for i in range(dumps):
            time.sleep(0.2)
            t = time.monotonic()
            where = live.dump(p.pid, os.path.join(out, f"d{i}"))
            ours.append((read_memory(os.path.join(where, MEMORY_NAME)),
                         time.monotonic() - t))
        p.communicate("")
        theirs = [read_memory(os.path.join(out, d, MEMORY_NAME))
                  for d in os.listdir(out) if d.startswith("mprof.")
                  and os.path.isdir(os.path.join(out, d))]
        theirs.sort(key=lambda x: x["time"])
        used = [memory.breakdown(x) for x in theirs]
        used = [x["malloc_in_use"] + x["tcache"] for x in used]
        # How much the process changes between two of its own dumps.
        churn = statistics.median(abs(a - b) / b for a, b in zip(used[1:],
                                                                   used))
        gap = statistics.median(b["time"] - a["time"]
                                for a, b in zip(theirs, theirs[1:]))
        for m, took in ours:
            near = min(theirs, key=lambda x: abs(x["time"] - m["time"]))
            a, b = memory.breakdown(m), memory.breakdown(near)
            used = [x["malloc_in_use"] + x["tcache"] for x in (a, b)]
            rows.append((len(a["arenas"]) - a["approximate_arenas"]
                         - sum(x["busy"] for x in a["arenas"]),
                         len(a["arenas"]), abs(used[0] - used[1]) / used[1],
                         abs(a["rss"] - b["rss"]) / b["rss"],
                         abs(m["time"] - near["time"]), took))
    return rows, churn, gap


def section(heaps, busy, runs):
    busy_rows, churn, gap = busy
    out = [BEGIN, "", "## The resident-memory breakdown (bench/memory.py)",
           "", "bench/frag.c: blocks of 3000 bytes, every other one freed, "
           "a hole each.  In-process: the dump at exit, libc's walk of "
           "the arenas counted by callgrind, its mincore calls (of 512 "
           "pages each at most) by strace -c.  From outside: `mprof "
           "dump` at the pause, median of "
           f"{runs}, against reading the tables alone.", "",
           "| blocks | heap | walk, instructions | mincore calls | "
           "mprof dump | tables alone |",
           "|---:|---:|---:|---:|---:|---:|"]
    for blocks, (ins, calls), (dump, tables) in heaps:
        out.append(f"| {blocks:,} | {blocks * 3008 / 2**20:,.0f} MiB | "
                   f"{ins:,} | {calls:,} | {dump * 1000:,.0f} ms | "
                   f"{tables * 1000:,.1f} ms |")
    walked = sum(r[0] for r in busy_rows)
    arenas = sum(r[1] for r in busy_rows)
    med = [statistics.median(r[i] for r in busy_rows) for i in range(2, 6)]
    out += ["", f"A busy process (tests/busy.c: 8 threads allocating and "
            f"freeing, and short threads), {len(busy_rows)} `mprof dump`s "
            "0.2 s apart, read with no lock while it runs, each held "
            "against the dump the process wrote itself (every 64 MiB "
            "allocated) nearest in time: "
            f"{walked} of {arenas} arenas walked whole (an arena whose top "
            "moved during the walk is walked again, up to 5 times, and the "
            "last walk is taken as approximate, without the rest of a list "
            "it lost its way in); the bytes in chunks in "
            "use, the tcaches' included, differ by "
            f"{100 * med[0]:.1f}% and the RSS by {100 * med[1]:.1f}% "
            f"(medians), the two dumps {1000 * med[2]:.0f} ms apart; "
            f"two of the process's own dumps, {1000 * gap:.0f} ms apart, "
            f"differ by {100 * churn:.1f}%.  `mprof dump` took "
            f"{1000 * med[3]:,.0f} ms.", "", END]
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    os.makedirs(BIN, exist_ok=True)
    for name, src in (("frag", os.path.join(HERE, "frag.c")),
                      ("busy", os.path.join(TOP, "tests", "busy.c"))):
        subprocess.run(["gcc", "-O2", "-pthread", "-o",
                        os.path.join(BIN, name), src], check=True)
    heaps = [(n, in_process(n), outside(n, args.runs)) for n in HEAPS]
    text = section(heaps, busy(4 * args.runs), args.runs)
    print(text)
    if not args.no_write:
        sections.replace(BEGIN, END, text)


if __name__ == "__main__":
    main()
