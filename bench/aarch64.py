#!/usr/bin/python3
"""What counting costs malloc on AArch64: the instructions counting
adds to malloc, from the disassembly, and the instructions executed
per malloc+free pair, counted by qemu-user (run one instruction per
translation block, each logged as it executes), with profiling unset and
on at the default mean.  Rewrites the section of bench/RESULTS.md between
its "aarch64" markers.  Needs ./build.sh aarch64.
"""

import os
import platform
import re
import subprocess
import sys
import tempfile

import sections
import variables as var

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(TOP, "bench")
LIB = os.path.join(TOP, "install-aarch64", "lib")
LOADER = os.path.join(LIB, "ld-linux-aarch64.so.1")
BEGIN, END = "<!-- aarch64: bench/aarch64.py -->", "<!-- /aarch64 -->"
CROSS = platform.machine() != "aarch64"
OBJDUMP = "aarch64-linux-gnu-objdump" if CROSS else "objdump"


def executed(prog, n, env, tmp):
    """Instructions executed by PROG N under qemu."""
    log = os.path.join(tmp, "trace")
    subprocess.run(["qemu-aarch64", "-singlestep", "-d", "exec,nochain",
                    "-D", log, LOADER, "--library-path", LIB, prog, str(n)],
                   env=env, check=True)
    with open(log, errors="replace") as f:
        return sum(line.startswith("Trace") for line in f)


def per_pair(prog, env, tmp):
    a, b = 2000, 6000
    return (executed(prog, b, env, tmp) - executed(prog, a, env, tmp)) / (b - a)


def disassembly():
    """malloc's counting, with the two instructions before and the one
    after it."""
    libc = os.path.join(LIB, "libc.so.6")
    out = subprocess.run([OBJDUMP, "-d", "--no-show-raw-insn",
                          "--disassemble=__libc_malloc", libc],
                         capture_output=True, text=True, check=True).stdout
    lines = [re.sub(r"^\s*[0-9a-f]+:\s*", "", s).split("//")[0].rstrip()
             for s in out.splitlines() if re.match(r"^\s+[0-9a-f]+:", s)]
    subs = next(i for i, s in enumerate(lines)
                if re.match(r"subs\s+x16, x16, x\d+$", s))
    return (["  ..."] + ["  " + s for s in lines[subs - 3:subs - 1]]
            + ["+ " + s for s in lines[subs - 1:subs + 3]]
            + ["  " + lines[subs + 3], "  ..."])


def main():
    if CROSS and not subprocess.run(["which", "qemu-aarch64"],
                                    capture_output=True).returncode == 0:
        sys.exit("bench/aarch64.py: needs qemu-aarch64 (apt-get install "
                 "qemu-user)")
    with tempfile.TemporaryDirectory() as tmp:
        prog = os.path.join(tmp, "pair")
        cc = "aarch64-linux-gnu-gcc" if CROSS else "gcc"
        subprocess.run([cc, "-O2", "-o", prog, os.path.join(HERE, "pair.c")],
                       check=True)
        base = {k: v for k, v in os.environ.items()
                if not k.startswith(var.PREFIX)}
        unset = per_pair(prog, base, tmp)
        on = per_pair(prog, dict(base, GLIBC_MALLOC_PROFILE="1",
                                 GLIBC_MALLOC_PROFILE_OUT=tmp), tmp)
    lines = disassembly()
    text = "\n".join([
        BEGIN, "", "## AArch64 (bench/aarch64.py)", "",
        "Counting in malloc, from `__libc_malloc` in install-aarch64's "
        "libc.so.6: a request past the tcache fast path's bound (every "
        "request, in a process that profiles) reaches the four "
        "instructions marked + (a load, a subtraction that sets the flags, "
        "a store and a branch on them, the least a load/store architecture "
        "allows), then the copy of the fast path.", "",
        "```"] + lines + ["```", "",
        "Instructions executed per malloc (64) + free pair "
        "(bench/pair.c), counted by qemu-user one instruction at a time, "
        "the difference of 6,000 and 2,000 pairs:", "",
        "| profiling | instructions per pair |", "|---|---:|",
        f"| unset | {unset:.1f} |",
        f"| on, default mean | {on:.1f} (+{on - unset:.1f}) |",
        "", END]) + "\n"
    print(text)
    sections.replace(BEGIN, END, text)


if __name__ == "__main__":
    main()
