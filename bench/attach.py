#!/usr/bin/python3
"""What mprof attach costs: instructions per operation of each entry point
(callgrind, inside bench/ops.c's op_* functions, malloc and free
included) in a process that was never attached, before and after the
change that brought attach, in one that profiles from its start, and in
one attached (bench/ops.c attaches itself, as mprof attach does from
outside), each at the default mean of 512 KiB; then how long mprof attach
and mprof detach take on a process that allocates.  Writes its section
of bench/RESULTS.md.
Usage: bench/attach.py [--runs N] [--before LIB]."""

import os
import statistics
import subprocess
import time

import probes
import sections
import variables as var

BEGIN = "<!-- bench/attach.py -->"
END = "<!-- end bench/attach.py -->"
MPROF = os.path.join(probes.TOP, "tools", "mprof")


def tool_times(runs):
    """Median seconds of mprof attach and of mprof detach, each a Python
    start included, on bench/ops.c allocating 2000-byte blocks."""
    attach, detach = [], []
    for _ in range(runs):
        p = subprocess.Popen([os.path.join(probes.PATCHED,
                                           "ld-linux-x86-64.so.2"),
                              "--library-path", probes.PATCHED,
                              os.path.join(probes.BIN, "ops"), "malloc2000",
                              str(1 << 40)], env=probes.env({}))
        try:
            time.sleep(0.3)
            for argv, times in ((["attach", str(p.pid), "--out", "/tmp"],
                                 attach), (["detach", str(p.pid)], detach)):
                t = time.monotonic()
                subprocess.run(["/usr/bin/python3", MPROF, *argv],
                               check=True, capture_output=True)
                times.append(time.monotonic() - t)
        finally:
            p.kill()
            p.wait()
    return statistics.median(attach), statistics.median(detach)


def main():
    opts = probes.options("attach")
    probes.build("ops")
    configs = [("unpatched", probes.BASELINE, (), None)]
    if opts.before:
        configs.append(("before, unset", opts.before, (), None))
    configs += [("series, unset", probes.PATCHED, (), None),
                ("series, profiling", probes.PATCHED, (),
                 {var.ON: "1"}),
                ("series, profiling, a thread before", probes.PATCHED,
                 ("thread",), {var.ON: "1"}),
                ("series, attached", probes.PATCHED, ("attach",), None)]
    lines = [BEGIN, "## mprof attach (bench/attach.py)", ""] + \
        probes.count_table("bench/attach.py", configs, opts.runs)
    attach, detach = tool_times(opts.runs)
    lines += ["", "\"before\": the series at the commit before attach, "
              "built the same way in a checkout of its own.  \"profiling\": "
              "GLIBC_MALLOC_PROFILE=1 at the default mean; \"a thread "
              "before\": the same, a thread created and joined before the "
              "operations, after which glibc takes its paths for a process "
              "with threads.  \"attached\": started plainly, then attached "
              "before the operations, at the same mean, by a thread libc "
              "creates, and the heap trimmed (`bench/ops.c`).", "",
              f"On `bench/ops.c` allocating 2000-byte blocks, median of "
              f"{opts.runs} runs: `mprof attach` returns in "
              f"{attach * 1000:.0f} ms, `mprof detach` in "
              f"{detach * 1000:.0f} ms, Python's start included.", END]
    sections.replace(BEGIN, END, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
