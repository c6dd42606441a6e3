#!/usr/bin/python3
"""What the OpenTelemetry memory probes cost, in instructions per
operation of each entry point (callgrind, inside bench/ops.c's op_*
functions, malloc and free included): the same glibc unpatched, the
series with nothing attached, with the probes' semaphores raised as an
attach raises them (libc samples for them; callgrind cannot count the
uprobe's trap into the kernel, which bpftrace's own cost is), and
profiling to files, each at the default mean of 512 KiB.  Then how
soon threads start sampling once the semaphores are raised
(bench/switch.c), and the wall-clock cost of a bpftrace consumer
attached to bench/ops.c.  Writes its section of bench/RESULTS.md.
Usage: bench/probes.py [--runs N]."""

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import sections
import variables as var

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATCHED = os.path.join(TOP, "install", "lib")
BASELINE = os.path.join(TOP, "build", "baseline", "install", "lib")
BIN = os.path.join(TOP, "bench", "bin")
OPS = ("malloc32", "calloc32", "malloc2000", "malloc20000", "malloc100000",
       "malloc1M", "realloc", "memalign", "aligned_alloc", "posix_memalign",
       "valloc")
N = 200000
BEGIN = "<!-- bench/probes.py -->"
END = "<!-- end bench/probes.py -->"


def build(name, extra=()):
    exe = os.path.join(BIN, name)
    os.makedirs(BIN, exist_ok=True)
    subprocess.run(["gcc", "-O2", "-fno-builtin", "-fno-omit-frame-pointer",
                    "-pthread", "-o", exe,
                    os.path.join(TOP, "bench", name + ".c"), *extra],
                   check=True)
    return exe


def semaphores():
    """The offsets of the alloc and free semaphores in libc.so.6."""
    out = subprocess.run(["readelf", "-n", os.path.join(PATCHED,
                                                          "libc.so.6")],
                         capture_output=True, text=True, check=True).stdout
    found = dict(re.findall(r"Provider: otel_memory\s+Name: (\w+)\s+Location:"
                            r" \S+, Base: \S+, Semaphore: (0x[0-9a-f]+)",
                            out))
    return [found["alloc"], found["free"]]


def env(extra):
    e = {k: v for k, v in os.environ.items()
         if not k.startswith("GLIBC_")}
    e.update(extra)
    return e


def per_op(lib, op, args=(), extra=None):
    with tempfile.TemporaryDirectory() as out:
        cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
               "--toggle-collect=op_*", os.path.join(lib, os.path.basename(
                   [f for f in os.listdir(lib) if f.startswith("ld-linux")][0])),
               "--library-path", lib, os.path.join(BIN, "ops"), op, str(N),
               *args]
        err = subprocess.run(cmd, capture_output=True, text=True, check=True,
                             env=env(dict(extra or {},
                                          GLIBC_MALLOC_PROFILE_OUT=out))).stderr
    return int(re.search(r"Collected : (\d+)", err)[1]) / N


def options(change):
    """--runs, and --before: an install of the series before CHANGE."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--before", metavar="LIB",
                    help="the lib directory of an install of the series "
                         f"before {change} (a checkout of that commit, "
                         "./build.sh), for columns of its own")
    return ap.parse_args()


def main():
    opts = options("the probes")
    runs = opts.runs
    build("ops")
    build("switch")
    sems = semaphores()
    profiling = {var.ON: "1"}
    configs = [("unpatched", BASELINE, (), None)]
    if opts.before:
        configs.append(("before, unset", opts.before, (), None))
    configs.append(("series, unset", PATCHED, (), None))
    if opts.before:
        configs.append(("before, profiling", opts.before, (), profiling))
    configs += [("series, profiling", PATCHED, (), profiling),
                ("series, probes attached", PATCHED, sems, None)]
    lines = [BEGIN, "## The OpenTelemetry memory probes (bench/probes.py)",
             ""] + count_table("bench/probes.py", configs, runs)
    lines += ["", "\"before\": the series at the commit before the "
              "probes, built the same way (--enable-systemtap) in a "
              "checkout of its own.  \"profiling\": GLIBC_MALLOC_PROFILE=1 "
              "at the default mean.  \"probes attached\": no profiler "
              "loaded, the probes' semaphores raised as an attach raises "
              "them, so that libc samples for them."]
    lines += ["", "How soon threads sample once the semaphores are raised "
              "(`bench/switch.c`, every counted request a sample; a thread "
              "whose requests all hit its cache starts when another thread "
              "has switched, so its count is the other's time in its own "
              "requests, which depends on how the two are scheduled):", ""]
    for args, what in (([], "a thread whose requests miss the thread cache, "
                        "and one whose requests all hit it"),
                       (["alone"], "a process whose only thread's requests "
                        "all hit the thread cache")):
        r = subprocess.run([os.path.join(PATCHED, "ld-linux-x86-64.so.2"),
                            "--library-path", PATCHED,
                            os.path.join(BIN, "switch"), *sems, *args],
                           capture_output=True, text=True, timeout=600,
                           env=env({var.MEAN: "1"}))
        lines.append(f"- {what}: " + "; ".join(
            r.stdout.strip().replace("-1 requests", "none in the first "
                                     "10,000,000 requests").splitlines()))
    lines += ["", "Wall clock of `bench/ops.c` malloc2000, "
              f"{WALL_N:,} operations, median of {runs} runs: "
              + wall_clock(sems, runs), END]
    sections.replace(BEGIN, END, "\n".join(lines) + "\n")


def count_table(script, configs, runs, ops=OPS):
    """The lines of a table of instructions per operation of each entry
    point (OPS) in each of CONFIGS, (name, lib, ops.c's arguments,
    variables), those that sample the median of RUNS runs."""
    lines = [f"`{script}`: instructions per operation, counted by "
             "callgrind inside `bench/ops.c`'s `op_*` functions (the call, "
             f"the operation and the free), {N} operations, on one machine; "
             "the sampled columns the median of "
             f"{runs} runs, since where the samples fall varies.", "",
             "| operation | " + " | ".join(c[0] for c in configs) + " |",
             "|---|" + "---:|" * len(configs)]
    for op in ops:
        row = []
        for name, lib, args, extra in configs:
            n = runs if args or extra else 1
            row.append(statistics.median(per_op(lib, op, args, extra)
                                         for _ in range(n)))
        print(op, row, file=sys.stderr)
        lines.append(f"| {op} | " + " | ".join(f"{v:.1f}" for v in row)
                     + " |")
    return lines


WALL_N = 2000000


def wall_clock(sems, runs):
    """The cost of each probe fired into a bpftrace consumer, on top of
    sampling for it: ops while bpftrace is attached to every process on
    the built libc, against ops with the semaphores raised by itself."""
    loader = os.path.join(PATCHED, "ld-linux-x86-64.so.2")
    cmd = [loader, "--library-path", PATCHED, os.path.join(BIN, "ops"),
           "malloc2000", str(WALL_N)]
    libc = os.path.join(PATCHED, "libc.so.6")
    script = (f"usdt:{libc}:otel_memory:alloc {{ @n = count(); "
              f"@s[ustack] = sum(arg2); }} "
              f"usdt:{libc}:otel_memory:free {{ @f = count(); }} "
              "interval:ms:100 { if (@r == 0) { printf(\"ready\\n\"); "
              "@r = 1; } } END { clear(@s); }")

    def timed(argv):
        t = time.monotonic()
        subprocess.run(argv, capture_output=True, check=True, env=env({}))
        return time.monotonic() - t
    plain, raised, traced, fired = [], [], [], []
    for _ in range(runs):
        plain.append(timed(cmd))
        raised.append(timed(cmd + sems))
        bt = subprocess.Popen(["bpftrace", "-e", script],
                              stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
        while bt.stdout.readline() not in ("ready\n", ""):
            pass
        traced.append(timed(cmd))
        bt.send_signal(signal.SIGINT)
        out = bt.communicate()[0]
        fired.append(int(re.search(r"@n: (\d+)", out)[1]))
    p, r, t, n = (statistics.median(v) for v in (plain, raised, traced,
                                                  fired))
    return (f"{p * 1e9 / WALL_N:.1f} ns per operation unset, "
            f"{r * 1e9 / WALL_N:.1f} with the semaphores raised (libc "
            f"sampling for the probes), {t * 1e9 / WALL_N:.1f} with bpftrace "
            f"attached, counting {n:.0f} alloc probes and summing their "
            f"weights by stack: about {(t - r) * 1e6 / max(n, 1):.1f} us per "
            "probe fired, the uprobe's trap and bpftrace's program.")


if __name__ == "__main__":
    main()
