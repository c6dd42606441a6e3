#!/usr/bin/python3
"""What moving the profiler into libc_malloc_prof.so changed, in
instructions (callgrind), against an install of the series before it
(--before DIR, an install/ tree): libc.so.6's size; a malloc+free pair of
bench/churn.c unset and at the default mean; one sample (churn at a mean
of 1 byte against unset, per pair: every pair is a sample); and a series
of 100 dumps whose memory maps change between dumps (bench/series.c at
GLIBC_MALLOC_PROFILE_INTERVAL of 1 MiB), in instructions and in bytes
written.  Rewrites the section of bench/RESULTS.md between its "split"
markers.

  bench/split.py --before DIR [--no-write]
"""

import argparse
import os
import re
import statistics
import subprocess
import tempfile

import bench
import sections
import variables as var

BEGIN, END = "<!-- split: bench/split.py -->", "<!-- /split -->"
PAIRS = 100000


def size(lib):
    """(text, data + bss) of LIB's libc.so.6."""
    out = subprocess.run(["size", os.path.join(lib, "libc.so.6")],
                         capture_output=True, text=True, check=True).stdout
    text, data, bss = map(int, out.splitlines()[1].split()[:3])
    return text, data, bss


def callgrind(inst, argv, env, only=None):
    """Instructions of ARGV run on INST, within ONLY if given; and the
    bytes of the distinct files the profile left."""
    lib = os.path.join(inst, "lib")
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    if only:
        cmd.append("--toggle-collect=" + only)
    cmd += [os.path.join(lib, "ld-linux-x86-64.so.2"), "--library-path", lib,
            *argv]
    e = bench.base_env()
    e.update(env)
    with tempfile.TemporaryDirectory(prefix="mprof-bench.") as out:
        e[var.OUT] = out
        err = subprocess.run(cmd, env=e, capture_output=True, text=True,
                             check=True).stderr
        seen, written, dumps = set(), 0, 0
        for root, dirs, files in os.walk(out):
            dumps += sum(1 for d in dirs if re.fullmatch(r"mprof\.\d+\.\d+", d))
            for f in files:
                st = os.lstat(os.path.join(root, f))
                if st.st_ino not in seen:
                    seen.add(st.st_ino)
                    written += st.st_size
    return int(re.search(r"Collected : (\d+)", err).group(1)), written, dumps


def churn(inst, env, seeds=5):
    values = []
    for seed in range(1, seeds + 1):
        e = dict(env, GLIBC_MALLOC_PROFILE_SEED=str(seed)) if env else env
        n, _, _ = callgrind(inst, [os.path.join(bench.BIN, "churn"),
                                   str(PAIRS), "0"], e, only="churn")
        values.append(n / PAIRS)
        if not env:
            break
    return statistics.median(values)


def measure(before, after):
    on = lambda mean: {var.ON: "1",
                       var.MEAN: str(mean)}
    rows = {}
    for name, inst in (("before", before), ("after", after)):
        r = rows[name] = {"size": size(os.path.join(inst, "lib"))}
        r["unset"] = churn(inst, {})
        r["512K"] = churn(inst, on(524288))
        r["sample"] = churn(inst, on(1)) - r["unset"]
        with tempfile.NamedTemporaryFile() as f:
            f.write(b"\0" * (256 * 4096))
            f.flush()
            argv = [os.path.join(bench.BIN, "series"), f.name]
            e = dict(on(4096), GLIBC_MALLOC_PROFILE_SEED="1")
            quiet, _, _ = callgrind(inst, argv, e)
            loud, written, dumps = callgrind(
                inst, argv, dict(e, GLIBC_MALLOC_PROFILE_INTERVAL=str(1 << 20)))
        r["dumps"] = (dumps, loud - quiet, written)
    rows["unpatched"] = {"size": size(os.path.join(bench.BASELINE, "lib")),
                         "unset": churn(bench.BASELINE, {})}
    return rows


def section(rows):
    u, b, a = rows["unpatched"], rows["before"], rows["after"]
    w = [BEGIN, "", "## The profiler in libc_malloc_prof.so (bench/split.py)", "",
         "Before: the series with the whole profiler in libc.so.6; after: "
         "libc.so.6 keeps the countdown, the counting entry points, the "
         "sampled blocks and the hook, and libc_malloc_prof.so, loaded "
         "only by a process that profiles, the rest. Instructions from "
         "callgrind; churn pairs counted inside its loop, profiled rows "
         "the median of 5 seeds.", "",
         "| | unpatched | before | after |", "|---|---:|---:|---:|"]
    for i, what in enumerate(("text", "data", "bss")):
        w.append("| libc.so.6 %s, bytes | %d | %d | %d |"
                 % (what, u["size"][i], b["size"][i], a["size"][i]))
    w.append("| malloc+free pair, unset | %.2f | %.2f | %.2f |"
             % (u["unset"], b["unset"], a["unset"]))
    w.append("| malloc+free pair, mean 512 KiB | | %.2f | %.2f |"
             % (b["512K"], a["512K"]))
    w.append("| one sample (mean 1 less unset, per pair) | | %.0f | %.0f |"
             % (b["sample"], a["sample"]))
    for name in ("before", "after"):
        assert rows[name]["dumps"][0] >= 90, rows[name]["dumps"]
    w.append("| %d and %d dumps of bench/series.c: instructions | | %d | %d |"
             % (b["dumps"][0], a["dumps"][0], b["dumps"][1], a["dumps"][1]))
    w.append("| the same dumps: bytes written | | %d | %d |"
             % (b["dumps"][2], a["dumps"][2]))
    w += ["", "The dumps of bench/series.c: the maps change before each, "
          "so each adds a snapshot to the process's maps file. Before, "
          "every dump copied the whole file, O(N^2) bytes for N dumps; "
          "after, it links it (a reader takes the snapshots up to its "
          "dump's), and the maps are read once per dump, not twice. One "
          "sample costs more after: libc reaches the slow path and the "
          "counters' bookkeeping through the hooks' mangled pointers, and "
          "the library reaches libc's functions through its PLT.", "", END]
    return "\n".join(w) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", required=True,
                    help="an install/ tree of the series before the split")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    subprocess.run(["gcc", "-O2", "-o", os.path.join(bench.BIN, "series"),
                    os.path.join(bench.HERE, "series.c")], check=True)
    text = section(measure(args.before, bench.PATCHED))
    print(text)
    if not args.no_write:
        sections.replace(BEGIN, END, text)


if __name__ == "__main__":
    main()
