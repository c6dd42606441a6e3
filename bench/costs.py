#!/usr/bin/python3
"""What each entry point costs, as docs/design.md states it: instructions per
operation (callgrind, inside bench/ops.c's op_* functions: the call, the
operation and its free) on the same glibc master unpatched and with the
series, unset, refused (GLIBC_MALLOC_PROFILE=2, which the profiler turns
down), profiling at a mean so large that nothing is sampled (what
counting alone costs), and profiling at the default mean of 512 KiB and
at 4 KiB (what sampling adds); then the disassembly of each entry point
up to its first return, unpatched against the series, as a diff.  Writes
its section of bench/RESULTS.md.
Usage: bench/costs.py [--runs N]."""

import difflib
import os
import re
import subprocess

import probes
import sections
import variables as var

BEGIN = "<!-- bench/costs.py -->"
END = "<!-- end bench/costs.py -->"
# The rows of the table in docs/design.md, in its order.
OPS = ("malloc32", "calloc32", "malloc2000", "calloc2000", "malloc20000",
       "malloc100000", "malloc1M", "realloc", "memalign",
       "aligned_alloc", "posix_memalign", "valloc")
ENTRY_POINTS = ("__libc_malloc", "__libc_free", "__libc_calloc",
                "__libc_realloc", "__libc_memalign", "__posix_memalign",
                "__libc_valloc")


def fast_path(lib, symbol):
    """SYMBOL's instructions in LIB's libc.so.6 up to its first return,
    addresses and offsets taken out."""
    libc = os.path.join(lib, "libc.so.6")
    nm = subprocess.run(["nm", "-S", libc], capture_output=True, text=True,
                        check=True).stdout
    m = re.search(r"^([0-9a-f]+) ([0-9a-f]+) [Tt] " + re.escape(symbol)
                  + "$", nm, re.M)
    start, size = int(m[1], 16), int(m[2], 16)
    dis = subprocess.run(["objdump", "-d", "--no-show-raw-insn",
                          f"--start-address={start}",
                          f"--stop-address={start + size}", libc],
                         capture_output=True, text=True, check=True).stdout
    out = []
    for line in re.findall(r"^\s+[0-9a-f]+:\t(.*)$", dis, re.M):
        line = re.sub(r"\s+#.*", "", line)
        line = re.sub(r"0x[0-9a-f]+\(%rip\)", "X(%rip)", line)
        out.append(re.sub(r"[0-9a-f]+ <([^>+]*)(\+0x[0-9a-f]+)?>", r"<\1>",
                          line).strip())
        if out[-1].startswith("ret"):
            break
    return out


def main():
    opts = probes.options("the series")
    probes.build("ops")
    never = str(1 << 40)
    configs = [
        ("unpatched", probes.BASELINE, (), None),
        ("series, unset", probes.PATCHED, (), None),
        ("series, refused", probes.PATCHED, (),
         {var.ON: "2"}),
        ("series, counting only", probes.PATCHED, (),
         {var.ON: "1", var.MEAN: never}),
        ("series, 512 KiB", probes.PATCHED, (), {var.ON: "1"}),
        ("series, 4 KiB", probes.PATCHED, (),
         {var.ON: "1", var.MEAN: "4096"}),
    ]
    lines = [BEGIN, "## What each entry point costs (bench/costs.py)", ""]
    lines += probes.count_table("bench/costs.py", configs, opts.runs, OPS)
    lines += ["", "\"refused\": GLIBC_MALLOC_PROFILE=2, which the profiler "
              "turns down, as it does a process whose library is missing or "
              "whose memory is tagged.  \"counting only\": profiling at a "
              "mean of 2^40 bytes, so that no request is sampled: what "
              "counting costs.  The two means: what sampling adds, "
              "amortized over the operations.  `malloc1M` is mmapped; "
              "`realloc` grows and shrinks one block between 48 and 64 "
              "bytes in place.", "",
              "Each entry point up to its first return, unpatched (-) "
              "against the series (+), addresses left out:", ""]
    for symbol in ENTRY_POINTS:
        diff = list(difflib.unified_diff(
            fast_path(probes.BASELINE, symbol),
            fast_path(probes.PATCHED, symbol), lineterm="", n=1000))
        if diff:
            lines += [f"`{symbol}`:", "", "```diff", *diff[3:], "```", ""]
        else:
            lines += [f"`{symbol}`: the same instructions.", ""]
    lines.append(END)
    sections.replace(BEGIN, END, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
