#!/usr/bin/python3
"""What dumps and short threads cost: thread create+join with profiling
on against unpatched glibc; how long a dump takes and how long it stops
the threads of the process it reads, against the size of its tables.
Rewrites the section of bench/RESULTS.md between its "dumps" markers.
Run through bench/run.sh (or after it, which builds the baseline).

  bench/dumps.py [--runs N] [--no-write]
"""

import argparse
import os
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
sys.path.insert(0, os.path.join(TOP, "tools"))
from mproflib import live  # noqa: E402

PATCHED = os.path.join(TOP, "install", "lib")
BASELINE = os.path.join(TOP, "build", "baseline", "install", "lib")
BEGIN, END = "<!-- dumps: bench/dumps.py -->", "<!-- /dumps -->"


def cmd(lib, prog, *args):
    return [os.path.join(lib, "ld-linux-x86-64.so.2"), "--library-path", lib,
            os.path.join(BIN, prog), *map(str, args)]


def env(profile, out, **extra):
    e = {k: v for k, v in os.environ.items()
         if not k.startswith(var.PREFIX)}
    if profile:
        e.update(GLIBC_MALLOC_PROFILE="1", GLIBC_MALLOC_PROFILE_OUT=out,
                 **{f"GLIBC_MALLOC_PROFILE_{k}": str(v)
                    for k, v in extra.items()})
    return e


def threads(runs):
    """Seconds to start and join 20,000 threads one at a time, and 8 at
    a time, each making one 64-byte request: unpatched, unset, on."""
    rows = []
    for batch in (1, 8):
        times = {"unpatched": [], "unset": [], "on": []}
        for _ in range(runs + 1):
            for name in times:
                with tempfile.TemporaryDirectory() as out:
                    lib = BASELINE if name == "unpatched" else PATCHED
                    p = subprocess.run(cmd(lib, "threads", 20000, batch),
                                       env=env(name == "on", out),
                                       capture_output=True, text=True,
                                       check=True)
                    times[name].append(float(p.stdout))
                    files = sum(len(f) for _, _, f in os.walk(out))
                if name == "on":
                    last_files = files
        med = {k: statistics.median(v[1:]) for k, v in times.items()}
        rows.append((batch, med, last_files))
    return rows


def stall(keys, seconds, interval=None, dumps_every=None, nthreads=1):
    """(longest turn of the stall workload in us, dump times in s)."""
    with tempfile.TemporaryDirectory() as out:
        extra = {"BYTES": 4096}
        if interval:
            extra["INTERVAL"] = interval
        p = subprocess.Popen(cmd(PATCHED, "stall", keys, seconds, nthreads),
                             env=env(True, out, **extra),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        p.stderr.readline()
        took = []
        if dumps_every:
            start = time.monotonic()
            time.sleep(dumps_every)
            while time.monotonic() - start < seconds - dumps_every:
                t = time.monotonic()
                live.dump(p.pid, os.path.join(out, f"x{len(took)}"))
                took.append(time.monotonic() - t)
                time.sleep(dumps_every)
        stdout, _ = p.communicate()
        return float(stdout.split()[0]), took


def dumps(runs):
    rows = []
    for keys in (1000, 10000, 100000):
        quiet = statistics.median(stall(keys, 2)[0] for _ in range(runs))
        ext = [stall(keys, 2, dumps_every=0.2) for _ in range(runs)]
        inproc = statistics.median(stall(keys, 2, interval=1 << 30)[0]
                                   for _ in range(runs))
        rows.append((keys, quiet,
                     statistics.median(s for s, _ in ext),
                     statistics.median(t for _, ts in ext for t in ts),
                     inproc))
    return rows


def section(thread_rows, dump_rows, runs):
    out = [BEGIN, "", "## Short threads and dumps (bench/dumps.py)", "",
           f"Medians of {runs} runs.  Thread create+join: bench/threads.c "
           "starts and joins 20,000 threads, each making one 64-byte "
           "request, one at a time and 8 at a time; profiling on at the "
           "default mean.", "",
           "| threads at once | unpatched | unset | on | on / unpatched | "
           "files left |", "|---:|---:|---:|---:|---:|---:|"]
    for batch, med, files in thread_rows:
        out.append(f"| {batch} | {med['unpatched']:.3f} s | "
                   f"{med['unset']:.3f} s | {med['on']:.3f} s | "
                   f"{med['on'] / med['unpatched']:.3f} | {files} |")
    out += ["", "Dumps of bench/stall.c, which holds KEYS keys in its main "
            "thread's table and times 2 s of malloc (32) and free turns at "
            "a mean of 4 KiB: the longest turn with no dump, with `mprof "
            "dump` every 0.2 s (read from outside: no thread is stopped), "
            "and with a dump written by the process itself every GiB "
            "allocated (`GLIBC_MALLOC_PROFILE_INTERVAL`), which the thread "
            "that passes the mark writes; and how long `mprof dump` takes.",
            "", "| keys | longest turn, no dump | with mprof dump | "
            "mprof dump takes | with interval dumps |",
            "|---:|---:|---:|---:|---:|"]
    for keys, quiet, ext, took, inproc in dump_rows:
        out.append(f"| {keys:,} | {quiet:,.0f} us | {ext:,.0f} us | "
                   f"{took * 1000:,.0f} ms | {inproc:,.0f} us |")
    return "\n".join(out + ["", END]) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    for name in ("threads", "stall"):
        subprocess.run(["gcc", "-O2", "-pthread", "-o",
                        os.path.join(BIN, name),
                        os.path.join(HERE, name + ".c")], check=True)
    text = section(threads(args.runs), dumps(args.runs), args.runs)
    print(text)
    if args.no_write:
        return
    sections.replace(BEGIN, END, text)


if __name__ == "__main__":
    main()
