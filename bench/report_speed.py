#!/usr/bin/python3
"""How long tools/mprof report takes on 100 profiles holding 100,000
distinct call sites in all (PCs spread over the built libc's code).

  bench/report_speed.py [--files N] [--pcs N] [--samples-per-key N]

Symbolization runs once per distinct PC, so the time should grow with
--pcs and hardly with --samples-per-key.
"""

import argparse
import os
import random
import struct
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIBC = os.path.join(TOP, "install", "lib", "libc.so.6")


def text_segment(path):
    with open(path, "rb") as f:
        ehdr = f.read(64)
        phoff, = struct.unpack_from("<Q", ehdr, 32)
        phentsize, phnum = struct.unpack_from("<HH", ehdr, 54)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    for i in range(phnum):
        p_type, flags, off, vaddr, _, filesz = struct.unpack_from(
            "<IIQQQQ", table, i * phentsize)
        if p_type == 1 and flags & 1:
            return off, vaddr, filesz
    sys.exit("no executable segment in " + path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=100)
    ap.add_argument("--pcs", type=int, default=100000)
    ap.add_argument("--samples-per-key", type=int, default=1)
    args = ap.parse_args()
    off, vaddr, size = text_segment(LIBC)
    base = 0x7f0000000000
    start = base + (off & ~0xfff)
    pcs = random.Random(1).sample(range(start + 16, start + size), args.pcs)
    inode = os.stat(LIBC).st_ino
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "mprof.1.maps"), "w") as f:
            f.write("malloc-profile-maps 1\npid 1\nsnapshot 1\n")
            f.write(f"{start:x}-{start + size + 0x1000:x} r-xp {off & ~0xfff:08x} "
                    f"00:00 {inode} {LIBC}\nend\n")
        per = args.pcs // args.files
        for i in range(args.files):
            keys = pcs[i * per:(i + 1) * per]
            with open(os.path.join(d, f"mprof.1.{i + 2}.heap"), "w") as f:
                n = len(keys) * args.samples_per_key
                f.write(f"malloc-profile 1\npid 1\ntid {i + 2}\nmean 524288\n"
                        f"maps mprof.1.maps 1\ntaken {n}\nrecorded {n}\n"
                        f"dropped 0\nkeys {len(keys)}\n")
                for pc in keys:
                    f.write(f"{args.samples_per_key} 4096 {pc:#x}\n")
                f.write("end\n")
        for fmt in ("text", "pprof"):
            t = time.time()
            subprocess.run(["/usr/bin/python3", os.path.join(TOP, "tools", "mprof"),
                            "report", d, "--format", fmt, "-o",
                            os.path.join(d, "out")], check=True)
            print(f"{args.files} files, {args.pcs} distinct PCs, "
                  f"{args.samples_per_key} sample(s) per key, --format {fmt}: "
                  f"{time.time() - t:.1f} s")


if __name__ == "__main__":
    main()
