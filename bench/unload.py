#!/usr/bin/python3
"""What one sample costs once an object was unloaded: bench/unload.c
with every request sampled, at three depths, before and after a dlclose
that unloads libm.  The instructions of 10,000 more pairs, from
callgrind, less those of 1,000 pairs, per pair.  Rewrites the section of
bench/RESULTS.md between its "unload" markers.

  bench/unload.py [--no-write]
"""

import argparse
import os
import re
import subprocess
import tempfile

import bench
import sections
import variables as var

BEGIN, END = "<!-- unload: bench/unload.py -->", "<!-- /unload -->"
PAIRS = (1000, 11000)


def instructions(depth, mode, pairs):
    lib = os.path.join(bench.PATCHED, "lib")
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
           os.path.join(lib, "ld-linux-x86-64.so.2"), "--library-path", lib,
           os.path.join(bench.BIN, "unload"), str(depth), mode, str(pairs)]
    e = bench.base_env()
    e.update(GLIBC_MALLOC_PROFILE="1", GLIBC_MALLOC_PROFILE_BYTES="1")
    with tempfile.TemporaryDirectory(prefix="mprof-bench.") as out_dir:
        e[var.OUT] = out_dir
        err = subprocess.run(cmd, env=e, capture_output=True, text=True,
                             check=True).stderr
    return int(re.search(r"Collected : (\d+)", err).group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    os.makedirs(bench.BIN, exist_ok=True)
    subprocess.run(["gcc", "-O2", "-fno-omit-frame-pointer", "-o",
                    os.path.join(bench.BIN, "unload"),
                    os.path.join(bench.HERE, "unload.c")], check=True)
    out = [BEGIN, "", "## One sample after an unload (bench/unload.py)", "",
           "A sample whose frames are all in objects loaded with the "
           "program keys on epoch 0 whatever the epoch, so that a plugin "
           "loaded and unloaded over and over does not split the keys of "
           "stacks that never pass through it.  The check costs nothing "
           "until an object is unloaded, then a lookup per frame (the "
           "object of the frame before first, else a binary search).  "
           "bench/unload.c, every request sampled, frame pointers; "
           "callgrind's instructions per malloc and free pair.", "",
           "| frames below main | no unload | after an unload | added |",
           "|---:|---:|---:|---:|"]
    for depth in (0, 20, 60):
        per = {}
        for mode in ("keep", "unload"):
            a, b = (instructions(depth, mode, n) for n in PAIRS)
            per[mode] = (b - a) / (PAIRS[1] - PAIRS[0])
        out.append("| %d | %.1f | %.1f | %+.1f |" % (
            depth, per["keep"], per["unload"], per["unload"] - per["keep"]))
    text = "\n".join(out + ["", END]) + "\n"
    print(text)
    if not args.no_write:
        sections.replace(BEGIN, END, text)


if __name__ == "__main__":
    main()
