#!/usr/bin/python3
"""Runs the profiler's tests against the build in install/, then those
marked @both against install-aarch64/ (under qemu-user) and install-i386/.

Each test runs programs under the built loader and checks the profiles
they leave against what the programs are known to have done.  Usage:
tests/run.py [--quick] [NAME...]; --quick skips glibc's own malloc test
suite, run three times, which takes about 28 minutes.  A NAME of another
architecture's pass is aarch64:NAME or i386:NAME.
"""

import argparse
from collections import defaultdict
import glob
import gzip
import html
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

import glibc_check
from protobuf import protobuf, varints

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The profiler's variables, as mprof names them.
sys.path.insert(0, os.path.join(TOP, "tools"))
from mproflib import variables as var  # noqa: E402

INSTALL = os.path.join(TOP, "install")
LIB = os.path.join(INSTALL, "lib")
LOADER = os.path.join(LIB, "ld-linux-x86-64.so.2")
# The same glibc commit built without the series (./build.sh baseline),
# what the fast paths are compared with.
UNPATCHED_LIBC = os.path.join(TOP, "build", "baseline", "install", "lib",
                              "libc.so.6")
BIN = os.path.join(TOP, "tests", "bin")
OBJ = os.path.join(TOP, "build", "glibc")
DEFAULT_MEAN = 524288
# The architecture the tests run for, its compilers and objdump, and what
# runs its programs here: nothing natively, qemu-user for another one.
ARCH = "x86_64"
CC, CXX, OBJDUMP, EMULATOR = "gcc", "g++", "objdump", []


# Each architecture's build, its loader and the directory its test
# programs are built into.
BUILDS = {"x86_64": ("install", "ld-linux-x86-64.so.2", "bin"),
          "aarch64": ("install-aarch64", "ld-linux-aarch64.so.1",
                      "bin-aarch64"),
          "i386": ("install-i386", "ld-linux.so.2", "bin-i386")}


def use(arch):
    """Point the tests at the build for ARCH (./build.sh, or ./build.sh
    aarch64 or i386): AArch64 programs are built with Debian's cross
    compiler and run under qemu-user, i386 ones with its i686 cross
    compiler, natively on x86-64."""
    global ARCH, INSTALL, LIB, LOADER, BIN, CC, CXX, OBJDUMP, EMULATOR
    install, loader, bin_dir = BUILDS[arch]
    ARCH = arch
    INSTALL = os.path.join(TOP, install)
    LIB = os.path.join(INSTALL, "lib")
    LOADER = os.path.join(LIB, loader)
    BIN = os.path.join(TOP, "tests", bin_dir)
    CC, CXX, OBJDUMP, EMULATOR = "gcc", "g++", "objdump", []
    if arch == "aarch64" and platform.machine() != "aarch64":
        CC, CXX = "aarch64-linux-gnu-gcc", "aarch64-linux-gnu-g++"
        OBJDUMP, EMULATOR = "aarch64-linux-gnu-objdump", ["qemu-aarch64"]
    elif arch == "i386" and platform.machine() == "x86_64":
        CC, CXX = "i686-linux-gnu-gcc", "i686-linux-gnu-g++"

# Statistical checks allow 4 standard deviations: a correct profiler
# fails one of them about once in 16,000 runs, a biased one (a fixed
# countdown, a wrong weight) misses by far more.
SIGMAS = 4

TESTS = []
# The tests that run for AArch64 and i386 too.
BOTH = set()


def test(fn):
    TESTS.append(fn)
    return fn


def both(fn):
    BOTH.add(fn)
    return fn


class Failure(Exception):
    pass


def check(cond, what, expected, actual):
    if not cond:
        raise Failure(f"{what}: expected {expected}, got {actual}")


# Programs and runs.

# The stack tests' programs, built with and without frame pointers (GCC's
# default at -O2 is without); no tail calls, so that every function of
# their call trees keeps a frame.
VARIANTS = {
    f"{src.split('.')[0]}-{fp}": (src, [flag, "-fno-optimize-sibling-calls"])
    for src in ("stacks.c", "stacks_cc.cc")
    for fp, flag in (("fp", "-fno-omit-frame-pointer"),
                     ("nofp", "-fomit-frame-pointer"))
}
VARIANTS["entry_points-fp"] = ("entry_points.c", ["-fno-omit-frame-pointer"])
# bench/ops.c: one operation of one entry point, over and over, each in
# a function of its own whose instructions callgrind counts.
VARIANTS["ops"] = (os.path.join("..", "bench", "ops.c"), [])
# bench/prodcons.c: threads that free the blocks others allocate.
VARIANTS["prodcons"] = (os.path.join("..", "bench", "prodcons.c"), [])
VARIANTS["threads_bench"] = (os.path.join("..", "bench", "threads.c"), [])
# The probes' consumers walk stacks by frame pointers.
VARIANTS["probes"] = ("probes.c", ["-fno-omit-frame-pointer"])
VARIANTS["probes-nofp"] = ("probes.c", ["-fomit-frame-pointer"])
# Deep stacks walked by frame pointers, so that most of a sample is in
# its walk.
VARIANTS["stuck"] = ("stuck.c", ["-fno-omit-frame-pointer"])
# Each site of its own frame, none folded into another.
VARIANTS["lifetimes"] = ("lifetimes.c", ["-fno-omit-frame-pointer",
                                         "-fno-optimize-sibling-calls"])
# A program whose malloc is its own, for mprof attach to refuse.
VARIANTS["attach-own"] = ("attach.c", ["-DOWN_MALLOC"])


def build_programs():
    os.makedirs(BIN, exist_ok=True)
    programs = {}
    for src in sorted(os.listdir(os.path.join(TOP, "tests"))):
        if src.endswith(".c") and src not in ("stacks.c", "newer.c"):
            programs[src[:-2]] = (src, [])
    programs.update(VARIANTS)
    for name, (src, extra) in programs.items():
        exe = os.path.join(BIN, name)
        path = os.path.join(TOP, "tests", src)
        if src.startswith("lib"):
            exe += ".so"
            extra = ["-shared", "-fPIC"]
        if os.path.exists(exe) and os.path.getmtime(exe) > os.path.getmtime(path):
            continue
        # -fno-builtin: GCC would otherwise drop a malloc whose block is
        # only freed.
        cc = CXX if src.endswith(".cc") else CC
        subprocess.run([cc, "-O2", "-g", "-fno-builtin", "-pthread",
                        "-o", exe, path, *extra], check=True)


def clean_env(extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(var.PREFIX)
           and k != "GLIBC_TUNABLES"}
    env.update(extra)
    return env


def run(prog, args=(), env=None, cwd=None, check_status=True):
    """Run PROG (a name in tests/bin or a path) under the built loader."""
    path = prog if "/" in prog else os.path.join(BIN, prog)
    cmd = [*EMULATOR, LOADER, "--library-path", LIB, path, *args]
    p = subprocess.run(cmd, env=clean_env(env or {}), cwd=cwd,
                       capture_output=True, text=True, timeout=300)
    if check_status and p.returncode != 0:
        raise Failure(f"{' '.join(cmd)} exited with {p.returncode}: "
                      f"{p.stderr.strip()}")
    return p


def profile(prog, out, args=(), mean=None, seed=None, env=None):
    e = {var.ON: "1", var.OUT: out}
    if mean is not None:
        e[var.MEAN] = str(mean)
    if seed is not None:
        e[var.SEED] = str(seed)
    e.update(env or {})
    return run(prog, args, e)


# Reading profiles.

def read_profile(path):
    """Parse one thread's profile: its header fields and its samples,
    (count, size, frames, live) each; live, written second in the file,
    comes last here so that s[0], s[1] and s[2] mean what they always
    did."""
    header, samples = {}, []
    with open(path) as f:
        lines = f.read().split("\n")
    check(lines[0] == "malloc-profile 5", path + " first line",
          "malloc-profile 5", lines[0])
    check("end" in lines, path, "an end line", "none")
    for line in lines[1:lines.index("end")]:
        # The epoch lines say which maps snapshots the samples after
        # them go with: the reports' business.
        if line.startswith(("#", "epoch ", "lifetimes ")):
            continue
        first, _, rest = line.partition(" ")
        if first.isdigit():
            count, live, size, *frames = line.split()
            samples.append((int(count), int(size),
                            tuple(int(x, 16) for x in frames), int(live)))
        else:
            header[first] = rest
    return header, samples


def dump_dirs(out):
    """{pid: {n: dump directory}} in the profile directory OUT."""
    found = {}
    for n in os.listdir(out):
        m = re.match(r"mprof\.(\d+)\.(\d+)$", n)
        if m and os.path.isdir(os.path.join(out, n)):
            found.setdefault(int(m[1]), {})[int(m[2])] = os.path.join(out, n)
    return found


def profiles(out, peak=False):
    """The profiles of the last dump of each process in OUT, as {path:
    (header, samples)}: its running threads' and its exited threads', or
    its peak's."""
    found = {}
    for dumps in dump_dirs(out).values():
        d = dumps[max(dumps)]
        for n in sorted(os.listdir(d)):
            path = os.path.join(d, n)
            if n.endswith(".heap") and not os.path.islink(path):
                header, samples = read_profile(path)
                if (header.get("kind") == "peak") == peak:
                    found[path] = (header, samples)
    return found


def sites(stdout, binary):
    """{name: (start, end)} of the functions a test program reports in
    lines 'site NAME ADDRESS ...', sized from the symbol table."""
    sizes = {}
    nm = subprocess.run(["nm", "-S", "--defined-only", binary],
                        capture_output=True, text=True, check=True).stdout
    for line in nm.splitlines():
        parts = line.split()
        if len(parts) == 4:
            sizes[parts[3]] = int(parts[1], 16)
    found = {}
    for line in stdout.splitlines():
        parts = line.split()
        if parts and parts[0] == "site":
            start = int(parts[2], 16)
            found[parts[1]] = (start, start + sizes[parts[1]], parts[3:])
    return found


# The sites that call reallocarray.  On i386 libc's reallocarray calls
# realloc through the PLT, which needs %ebx and so is no tail call: its
# samples' first frame is reallocarray, whose frame record (glibc builds
# it with frame pointers) gives the site as the second.
WRAPPED = {"site_reallocarray", "site_chain_grow"}


def site_frame(name):
    """Which frame of a sample is the site NAME's."""
    return 1 if ARCH == "i386" and name in WRAPPED else 0


def at(samples, rng, name=None):
    """The samples made at the site NAME, whose range is RNG."""
    k = site_frame(name)
    return [s for s in samples if len(s[2]) > k and rng[0] <= s[2][k] < rng[1]]


def probability(size, mean):
    """Chance that a request of SIZE bytes is sampled."""
    return -math.expm1(-size / mean)


def estimate(samples, mean):
    """Unbiased (requests, bytes) from (count, size, frames, live)
    samples."""
    n = sum(c / probability(s, mean) for c, s, _, _ in samples)
    b = sum(c * s / probability(s, mean) for c, s, _, _ in samples)
    return n, b


def in_use(samples, mean):
    """Unbiased (objects, bytes) still allocated, from the same."""
    n = sum(lv / probability(s, mean) for _, s, _, lv in samples)
    b = sum(lv * s / probability(s, mean) for _, s, _, lv in samples)
    return n, b


def bound(requests, size, mean):
    """SIGMAS standard deviations of the bytes estimated for REQUESTS
    requests of SIZE bytes: the sampled count is binomial."""
    p = probability(size, mean)
    return SIGMAS * size * math.sqrt(requests * (1 - p) / p)


# The tests.

@test
@both
def exited_threads_fold_into_one_table():
    """Threads that exit leave no file of their own: their samples are
    folded into the process's table of exited threads, written with the
    next dump, so a run of N joined threads leaves the main thread's
    profile and that table, every sample kept."""
    mean = 4096
    for n in (0, 1, 4, 16):
        with tempfile.TemporaryDirectory() as out:
            profile("threads", out, [str(n)], mean=mean)
            found = profiles(out)
            kinds = sorted(h["kind"] for h, _ in found.values())
            want = ["exited", "thread"] if n else ["thread"]
            check(kinds == want, f"profiles of {n} threads + main", want,
                  kinds)
            main = [h for h, _ in found.values() if h["kind"] == "thread"]
            check(main[0]["tid"] == main[0]["pid"], "the running thread",
                  "main", main[0]["tid"])
            maps = [f for f in os.listdir(out) if f.endswith(".maps")]
            check(len(maps) == 1, "maps files", 1, maps)
            samples = []
            for h, s in found.values():
                check(int(h["taken"]) == int(h["recorded"]) + int(h["dropped"]),
                      "taken = recorded + dropped", h["taken"], h)
                check(h["dropped"] == "0", "dropped", 0, h["dropped"])
                check(int(h["recorded"]) == sum(c for c, _, _, _ in s),
                      "recorded = sum of counts", h["recorded"], s)
                samples += s
            # Each thread makes 1000 requests of 1000 bytes.
            _, est = estimate(samples, mean)
            true = (n + 1) * 1000 * 1000
            b = bound((n + 1) * 1000, 1000, mean)
            check(abs(est - true) <= b, f"{n} threads: bytes (bound {b:.0f})",
                  true, round(est))


@test
@both
def threads_running_at_exit_are_written():
    with tempfile.TemporaryDirectory() as out:
        profile("exit_running", out, mean=4096)
        found = profiles(out)
        # 300 KB each at a mean of 4 KiB: about 73 samples per thread.
        workers = [h for h, _ in found.values()
                   if h["kind"] == "thread" and h["tid"] != h["pid"]]
        check(len(workers) == 3 and all(int(h["recorded"]) >= 20
                                        for h in workers),
              "samples of the running threads", "about 73 each",
              [h["recorded"] for h in workers])


@test
def unwritable_output_warns_once_and_program_runs_on():
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out")
        os.mkdir(out)
        p = profile("vanish", out, [out], mean=4096)
        check(p.stdout == "done\n", "program output", "done", p.stdout)
        lines = p.stderr.splitlines()
        check(len(lines) == 1 and "cannot write" in lines[0]
              and "No such file or directory" in lines[0],
              "stderr", "one line: cannot write ...", p.stderr)


@test
@both
def no_files_when_off():
    # An empty value is 0, as for every numeric tunable.
    for env in ({}, {var.ON: "0"},
                {var.ON: ""}):
        with tempfile.TemporaryDirectory() as out:
            env = dict(env, GLIBC_MALLOC_PROFILE_OUT=out)
            p = run("threads", ["2"], env, cwd=out)
            check(os.listdir(out) == [], f"files with {env}", [],
                  os.listdir(out))
            check(p.stderr == "", "stderr", "", p.stderr)


@test
@both
def dumps_go_to_the_working_directory_of_startup():
    # The program moves in a constructor of its own, which runs after
    # libc's, where the profiler fixes its directory (as the manual says).
    with tempfile.TemporaryDirectory() as start, \
            tempfile.TemporaryDirectory() as moved:
        for sub in ("out",):
            os.mkdir(os.path.join(start, sub))
            os.mkdir(os.path.join(moved, sub))
        for out, where in ((None, start), ("out", os.path.join(start, "out"))):
            env = {var.ON: "1",
                   var.MEAN: "1", "CHDIR_TO": moved}
            if out is not None:
                env[var.OUT] = out
            p = run("chdir", [], env, cwd=start)
            check(p.stderr == "", "stderr", "", p.stderr)
            check(len(dump_dirs(where)) == 1,
                  f"dumps in {where} (GLIBC_MALLOC_PROFILE_OUT={out})",
                  "one process's", os.listdir(where))
            for d in (moved, os.path.join(moved, "out")):
                check(dump_dirs(d) == {}, f"dumps in {d}, where it moved",
                      "none", os.listdir(d))


@test
def a_dump_waits_little_for_threads_stopped_in_a_sample():
    # Twelve threads, each stopped for good by a signal handler, most in
    # the middle of a sample (a walk of 60 frames is most of one): the
    # dump at exit yields to them 100 times in all, where it yielded 100
    # times to each, and writes every thread's profile, as it was.  Kept
    # under the 16 arenas of two cores, so that no stopped thread holds
    # the main thread's arena.  Some are stopped holding their arena's
    # lock (a sampled block of 1000 bytes is too large for the tcache):
    # the walk of malloc's memory yields to them 100 times in all more,
    # where it yielded 100 times to each arena.
    threads = 12
    with tempfile.TemporaryDirectory() as out:
        trace = os.path.join(out, "trace")
        p = subprocess.run(
            ["strace", "-f", "-qq", "-e", "trace=sched_yield", "-o", trace,
             LOADER, "--library-path", LIB, os.path.join(BIN, "stuck"),
             str(threads)],
            env=clean_env({var.ON: "1",
                           var.MEAN: "1",
                           var.OUT: out}),
            capture_output=True, text=True, timeout=120)
        check(p.returncode == 0, "stuck's status", 0, p.stderr)
        with open(trace) as f:
            yields = sum("sched_yield" in line for line in f)
        print(f"    sched_yield calls: {yields}")
        check(yields <= 200, "the dump's yields", "at most 200", yields)
        heaps = [n for n in profiles(out) if not n.endswith("exited.heap")]
        check(len(heaps) >= threads, "threads' profiles",
              f"at least {threads}", len(heaps))


@test
@both
def a_line_of_forks_does_not_pile_up_inherited_entries():
    # Each child frees the blocks it inherited, then samples 4000 keys of
    # its own and forks: what the forks before it kept for their
    # parents' blocks, about 250 KiB of entries a generation, is given
    # back, and the last child is the size of the second.
    with tempfile.TemporaryDirectory() as out:
        p = profile("forkchain", out, ["12"], mean=1)
        m = re.search(r"second (\d+) last (\d+)", p.stdout)
        check(m is not None, "forkchain's sizes", "two", p.stdout)
        grown = int(m[2]) - int(m[1])
        print(f"    VmSize: second generation {m[1]} KiB, twelfth {m[2]} KiB")
        check(grown < 512, "growth from the second generation to the "
              "twelfth", "under 512 KiB", f"{grown} KiB")


@test
@both
def a_thread_started_before_the_profiler_is_sampled():
    # Its first request, before libc's constructor loaded the profiler,
    # parked its countdown a MiB away: it would have missed its 100 KB.
    with tempfile.TemporaryDirectory() as out:
        profile("preinit", out, mean=1)
        n = sum(s[0] for _, samples in profiles(out).values()
                for s in samples if s[1] == 1000)
        check(n == 100, "samples of the early thread's 1000-byte blocks",
              100, n)


ENTRY_SIZES = {
    "site_malloc": 1001, "site_calloc": 1002, "site_realloc_null": 1003,
    "site_realloc_grow": 1004, "site_reallocarray": 1005,
    "site_memalign": 1006, "site_aligned_alloc": 1024, "site_valloc": 1008,
    "site_pvalloc": 5000, "site_posix_memalign": 1010,
}


@test
@both
def every_entry_point_attributes_to_its_caller():
    # At a mean of 1 byte a request of 1000 bytes escapes sampling with
    # probability e^-1001: never.
    with tempfile.TemporaryDirectory() as out:
        p = profile("entry_points", out, mean=1)
        found = sites(p.stdout, os.path.join(BIN, "entry_points"))
        check(set(found) == set(ENTRY_SIZES) | {"main"}, "sites",
              set(ENTRY_SIZES), set(found))
        del found["main"]
        (h, samples), = profiles(out).values()
        for name, size in ENTRY_SIZES.items():
            mine = [(c, s) for c, s, _, _ in at(samples, found[name], name)
                    if s == size]
            check(mine == [(3, size)], f"{name}: samples of {size} bytes",
                  [(3, size)], mine)
        inside = [s for s in samples
                  if not any(s in at(samples, r, n) for n, r in found.items())
                  and s[1] in ENTRY_SIZES.values()]
        check(inside == [], "samples of the test sizes outside the sites",
              [], inside)
    # Every entry point leaves the frame pointer to the frame walk: from
    # code built with frame pointers, each stack goes on into main.
    with tempfile.TemporaryDirectory() as out:
        prog = "entry_points-fp"
        p = profile(prog, out, mean=1)
        found = sites(p.stdout, os.path.join(BIN, prog))
        (h, samples), = profiles(out).values()
        for name, size in ENTRY_SIZES.items():
            k = site_frame(name) + 1
            for _, _, st, _ in at(samples, found[name], name):
                check(len(st) > k + 1
                      and found["main"][0] <= st[k] < found["main"][1],
                      f"{prog}: {name}: the second frame", "in main",
                      [hex(f) for f in st])


@test
@both
def estimates_within_statistical_bound():
    mean = 65536
    for seed in range(1, 6):
        with tempfile.TemporaryDirectory() as out:
            p = profile("estimate", out, mean=mean, seed=seed)
            found = sites(p.stdout, os.path.join(BIN, "estimate"))
            (h, samples), = profiles(out).values()
            check(h["mean"] == str(mean), "mean in header", mean, h["mean"])
            for name, (lo, hi, (n, size)) in found.items():
                n, size = int(n), int(size)
                _, est = estimate(at(samples, (lo, hi)), mean)
                true = n * size
                b = bound(n, size, mean)
                check(abs(est - true) <= max(b, 1e-9 * true),
                      f"seed {seed}: {name} bytes (bound {b:.0f})",
                      true, round(est))


def live_sites(p, out):
    """The sites tests/live reported, as {name: (range, requests, live,
    size)}, and the samples of each process, as {pid: samples}."""
    found = sites(p.stdout, os.path.join(BIN, "live"))
    del found["main"]
    by_pid = defaultdict(list)
    for h, samples in profiles(out).values():
        by_pid[int(h["pid"])] += samples
    return ({name: ((lo, hi), int(n), int(live), int(size))
             for name, (lo, hi, (n, live, size)) in found.items()}, by_pid)


@test
@both
def in_use_is_exact_when_every_block_is_sampled():
    """At a mean of 1 byte every request of 650 bytes or more is sampled
    (a miss has probability e^-650), so each site's live count must be
    the number of blocks it still holds, exactly, whichever route freed
    the others: free in the same or another thread, realloc that moves,
    grows or shrinks, realloc (p, 0), reallocarray; from every entry
    point, mmapped blocks, and blocks of a thread that had exited.  The
    forked child forgets the parent's samples and counts its own.  The
    program checks each block's alignment, usable size and contents."""
    with tempfile.TemporaryDirectory() as out:
        p = profile("live", out, ["fork"], mean=1)
        found, by_pid = live_sites(p, out)
        child = int(re.search(r"^child (\d+)$", p.stdout, re.M).group(1))
        (parent,) = set(by_pid) - {child}
        for name, (rng, n, live, size) in found.items():
            pid = child if name == "site_in_child" else parent
            got = [(c, s, lv) for c, s, _, lv in at(by_pid[pid], rng, name)]
            check(got == [(n, size, live)], f"{name}: (count, size, live)",
                  [(n, size, live)], got)
        inherited = at(by_pid[child], found["site_before_fork"][0])
        check(inherited == [], "the child's samples of the parent's site",
              [], inherited)
        # --leaks: exactly the sites that hold blocks, largest first.
        r = mprof("report", "--leaks", out)
        check(r.returncode == 0, "mprof report --leaks", 0, r.stderr)
        listed = re.findall(
            r"^\s*\S+ \S+\s+[\d,]+\s+\d+\s+\S+\s+(site_\w+)", r.stdout,
            re.M)
        want = sorted((n for n, v in found.items() if v[2]),
                      key=lambda n: -found[n][2] * found[n][3])
        check(listed == want, "sites --leaks lists", want, listed)
        check("sampled allocation(s) still live" in r.stdout,
              "--leaks says it shows estimates", "a line saying so",
              r.stdout[-300:])


def resize_sites(p, out):
    """The sites tests/resize reported, as {name: (samples, requests,
    live, size)}."""
    found = sites(p.stdout, os.path.join(BIN, "resize"))
    samples = [s for _, ss in profiles(out).values() for s in ss]
    return {name: (at(samples, (lo, hi)), int(n), int(live), int(size))
            for name, (lo, hi, (n, live, size)) in found.items()}


@test
@both
def sampled_blocks_resize_as_other_blocks():
    """tests/resize at a mean of 1 byte, where every request is sampled:
    realloc chains across the mmap threshold and back, a block at the
    top of the heap grown 64 times, one grown from 1 MiB by mremap, and
    aligned requests from 16 bytes to 2 MiB.  Every realloc is a request
    of its new size and the block's last size is the one live, exactly;
    the heap block keeps its address every time; growing by mremap takes
    no page fault for the bytes the block had (a copy would fault them
    all, at every step); an aligned block takes no more address space
    than its size, its alignment and a page, as unpatched glibc's (those
    of 256 KiB and more, which are mmapped, are checked).  At a
    mean of 8 KiB, where chains pass between sampled and unsampled
    sizes, contents survive and no site holds a block once all are
    freed.  The program checks alignment, usable size and contents."""
    with tempfile.TemporaryDirectory() as out:
        p = profile("resize", out, mean=1)
        for name, (got, n, live, size) in resize_sites(p, out).items():
            requests = sum(c for c, _, _, _ in got)
            held = [(s, lv) for _, s, _, lv in got if lv]
            check(requests == n, f"{name}: requests", n, requests)
            check(sum(lv for _, lv in held) == live, f"{name}: live",
                  live, held)
            if size and live:
                check({s for s, _ in held} == {size},
                      f"{name}: size of the live blocks", size, held)
        kept, n = map(int, re.search(r"^inplace (\d+) (\d+)$", p.stdout,
                                     re.M).groups())
        check(kept == n, "reallocs of the top block that kept its address",
              n, kept)
        took, added = map(int, re.search(r"^faults (\d+) (\d+)$",
                                         p.stdout, re.M).groups())
        # A copy at every step would fault about 48 times as many pages;
        # qemu-user takes some faults of its own.
        check(took < 2 * added, "page faults growing 1 MiB by 64 KiB "
              "steps", f"about the {added} pages added", took)
        page = os.sysconf("SC_PAGESIZE")
        for align, vm in re.findall(r"^aligned (\d+) (\d+)$", p.stdout,
                                    re.M):
            align, vm = int(align), int(vm)
            # Smaller ones come from the heap, which grows by more.
            if align < 256 * 1024:
                continue
            check(vm <= 2 * align + 2 * page,
                  f"address space of a block of {align} bytes aligned to "
                  f"{align}", f"at most {2 * align + 2 * page}", vm)
    with tempfile.TemporaryDirectory() as out:
        p = profile("resize", out, ["free"], mean=8192)
        for name, (got, _, _, _) in resize_sites(p, out).items():
            held = [(s, lv) for _, s, _, lv in got if lv]
            check(held == [], f"{name}: blocks held once all are freed",
                  [], held)


# (kind, realloc or free, profiled, glibc's message)
FORGERIES = [
    ("odd", "free", False, "munmap_chunk(): invalid pointer"),
    ("odd", "realloc", False, "mremap_chunk(): invalid pointer"),
    ("odd", "free", True, "free(): invalid sampled chunk"),
    ("odd", "realloc", True, "realloc(): invalid sampled chunk"),
] + [(kind, op, True, f"{op}(): invalid sampled chunk")
     for kind in ("key", "base", "size", "leaked")
     for op in ("free", "realloc")]


@test
@both
def forged_sampled_headers_abort_before_they_are_followed():
    """tests/forged forges the header free takes for a sampled block: an
    mmapped chunk header with an odd prev_size inside a large block, in
    a process that does not profile and in one that does, and a real
    sampled block's key, base or size changed, or its key changed and its
    check made anew from the secret its own check gives away, had the
    check been an invertible keyed mixing.  Each free and realloc of
    it aborts with glibc's message (the unprofiled process with the
    message unpatched glibc gives), and neither the decrement of the
    counter the header names nor the free of the block it names happens:
    both are in a canary page the program shares with its child."""
    for kind, op, profiled, message in FORGERIES:
        what = f"{kind} {op} {'profiled' if profiled else 'unprofiled'}"
        with tempfile.TemporaryDirectory() as out:
            env = ({var.ON: "1",
                    var.MEAN: "1",
                    var.OUT: out} if profiled else {})
            p = run("forged", [kind, op], env)
        status = int(re.search(r"^status (\d+)$", p.stdout, re.M).group(1))
        check(os.WIFSIGNALED(status)
              and os.WTERMSIG(status) == signal.SIGABRT,
              f"{what}: the child", "killed by SIGABRT",
              f"wait status {status}")
        check(message in p.stderr, f"{what}: message", message,
              p.stderr.strip())
        check("canary intact" in p.stdout, f"{what}: the canary",
              "intact", p.stdout.strip())


@test
@both
def in_use_estimates_within_statistical_bound():
    """At a mean of 16 KiB each site's in-use bytes, estimated from the
    live samples, are within SIGMAS standard deviations of the bytes it
    holds (the live samples are binomial), and exactly 0 where it holds
    none."""
    mean = 16384
    for seed in range(1, 6):
        with tempfile.TemporaryDirectory() as out:
            p = profile("live", out, mean=mean, seed=seed)
            found, by_pid = live_sites(p, out)
            (samples,) = by_pid.values()
            for name, (rng, n, live, size) in found.items():
                mine = at(samples, rng)
                _, est = in_use(mine, mean)
                true = live * size
                b = bound(live, size, mean)
                check(abs(est - true) <= max(b, 1e-9 * true),
                      f"seed {seed}: {name} in-use bytes (bound {b:.0f})",
                      true, round(est))
                if live == 0:
                    check(all(lv == 0 for _, _, _, lv in mine),
                          f"seed {seed}: {name} live samples", 0, mine)


@test
def phase_locked_pattern_gets_true_shares():
    # One turn of the loop is 8 requests of 4095 + 1 bytes: the mean.
    mean = 8 * 4096
    with tempfile.TemporaryDirectory() as out:
        p = profile("phase", out, mean=mean, seed=7)
        found = sites(p.stdout, os.path.join(BIN, "phase"))
        (h, samples), = profiles(out).values()
        for name, (lo, hi, (n, size)) in found.items():
            n, size = int(n), int(size)
            _, est = estimate(at(samples, (lo, hi)), mean)
            b = bound(n, size, mean)
            check(abs(est - n * size) <= b, f"{name} bytes (bound {b:.0f})",
                  n * size, round(est))


def fork_profiles(out, args=()):
    """Run tests/fork.c with ARGS: its sites, {"parent"|"child": pid} and
    {pid: samples}, checked to be one profile per process."""
    p = profile("fork", out, args, mean=1)
    found = sites(p.stdout, os.path.join(BIN, "fork"))
    pids = dict(line.split() for line in p.stdout.splitlines()
                if line.split()[0] in ("child", "parent"))
    by_pid = {}
    for path, (h, s) in profiles(out).items():
        by_pid.setdefault(h["pid"], []).extend(s)
    check(set(by_pid) == set(pids.values()), "pids with profiles",
          set(pids.values()), set(by_pid))
    maps = sorted(f for f in os.listdir(out) if f.endswith(".maps"))
    check(len(maps) == 2, "maps files", 2, maps)
    return found, pids, by_pid


@test
@both
def fork_child_writes_its_own_profile():
    with tempfile.TemporaryDirectory() as out:
        found, pids, by_pid = fork_profiles(out)
        for who, own, other in (("parent", "site_parent", "site_child"),
                                ("child", "site_child", "site_parent")):
            s = by_pid[pids[who]]
            check(sum(c for c, _, _, _ in at(s, found[own])) == 10,
                  f"{who}: samples at {own}", 10, at(s, found[own]))
            check(at(s, found[other]) == [], f"{who}: samples at {other}",
                  [], at(s, found[other]))


@test
@both
def fork_child_of__Fork_writes_its_own_profile():
    """_Fork runs no fork handler: the child still writes its profile as
    its own, under its own pid, with its own maps file."""
    with tempfile.TemporaryDirectory() as out:
        found, pids, by_pid = fork_profiles(out, ["_Fork"])
        s = by_pid[pids["child"]]
        check(sum(c for c, _, _, _ in at(s, found["site_child"])) == 10,
              "child: samples at site_child", 10, at(s, found["site_child"]))


@test
@both
def fork_child_counts_in_use_bytes_of_its_own():
    """A child frees the 100 blocks of 10000 bytes it inherited, then
    holds 50 of its own: the bytes in use it counts, and so its peak,
    are those 50 blocks, not 50 less than the parent's 100."""
    with tempfile.TemporaryDirectory() as out:
        p = profile("fork", out, ["inherit"], mean=1,
                    env={var.PEAK: "1"})
        found = sites(p.stdout, os.path.join(BIN, "fork"))
        child = [line.split()[1] for line in p.stdout.splitlines()
                 if line.startswith("child ")][0]
        peaks = {h["pid"]: (h, s) for h, s in profiles(out, peak=True).values()}
        check(child in peaks, "the child's peak profile", "written",
              sorted(peaks))
        h, s = peaks[child]
        live = sum(l for _, _, _, l in at(s, found["site_child"]))
        check(live == 50, "site_child live at the child's peak", 50, live)
        check(at(s, found["site_parent"]) == [], "site_parent at the "
              "child's peak", "nothing", at(s, found["site_parent"]))
        check(int(h["peak-bytes"]) == 500000, "the child's peak-bytes",
              500000, h["peak-bytes"])


@test
@both
def a_process_that_does_not_profile_maps_nothing_new():
    """The profiler is in libc_malloc_prof.so, which only a process that
    profiles maps."""
    for value, mapped in ((None, False), ("0", False), ("yes", False),
                          ("1", True)):
        env = {} if value is None else {var.ON: value}
        with tempfile.TemporaryDirectory() as out:
            env[var.OUT] = out
            p = run("maps", env=env)
        has = "/libc_malloc_prof.so" in p.stdout
        check(has == mapped, f"GLIBC_MALLOC_PROFILE={value}: "
              "libc_malloc_prof.so in /proc/self/maps", mapped, has)
        check("/libc.so.6" in p.stdout, "libc.so.6 in /proc/self/maps",
              True, False)


@test
@both
def a_program_with_its_own_malloc_is_not_profiled():
    """libc's constructor loads the profiler, which allocates, before the
    program's constructors run: it must not when malloc is not glibc's,
    here the program's own, which works only after its constructor."""
    with tempfile.TemporaryDirectory() as out:
        p = profile("own_malloc", out, mean=1)
        check(p.stdout == "ok\n", "output", "ok", p.stdout)
        check(p.stderr == "malloc profile: malloc is not glibc's; "
              "profiling stays off\n", "stderr", "one line: profiling "
              "stays off", p.stderr)
        check(os.listdir(out) == [], "files", [], os.listdir(out))


@test
def dwarf_unwinding_survives_libc_freeres():
    """__libc_freeres, which valgrind and mtrace call, unloads the
    libgcc_s libc loaded for itself and frees the loader's table of
    objects that libgcc's unwinder reads: the profiler, which holds
    libgcc_s on its own, walks frame pointers from then on.  Before it,
    whole stacks; after it, no crash and every sample."""
    with tempfile.TemporaryDirectory() as out:
        p = profile("freeres", out, mean=1,
                    env={var.UNWIND: "dwarf"})
        found = sites(p.stdout, os.path.join(BIN, "freeres"))
        main = found["main"]
        samples = [x for _, s in profiles(out).values() for x in s]
        for name in ("site_before", "site_after"):
            at_site = at(samples, found[name])
            check(sum(c for c, _, _, _ in at_site) == 100,
                  f"samples at {name}", 100, at_site)
        for _, _, frames, _ in at(samples, found["site_before"]):
            check(len(frames) >= 3 and main[0] <= frames[1] < main[1],
                  "a stack at site_before", "site_before, main, ...",
                  [hex(f) for f in frames])


@test
def profile_file_format():
    with tempfile.TemporaryDirectory() as out:
        profile("threads", out, ["1"], mean=4096)
        dumps = dump_dirs(out)
        for d in (d for by_n in dumps.values() for d in by_n.values()):
            mode = os.stat(d).st_mode & 0o777
            check(mode == 0o700, f"mode of {d}", "0700", oct(mode))
        for path, (h, s) in profiles(out).items():
            name = os.path.basename(path)
            want = (f"mprof.{h['pid']}.{h['tid']}.heap"
                    if h["kind"] == "thread" else "mprof.exited.heap")
            check(name == want, "file name", want, name)
            check(h["dump"] == "1" and h["reason"] == "exit", "dump, reason",
                  "1 exit", (h["dump"], h["reason"]))
            check(os.path.basename(os.path.dirname(path))
                  == f"mprof.{h['pid']}.1", "dump directory",
                  f"mprof.{h['pid']}.1", path)
            check(h["exe"] == os.path.join(BIN, "threads"), "exe",
                  os.path.join(BIN, "threads"), h["exe"])
            st = os.stat(path)
            check(st.st_mode & 0o777 == 0o600, f"mode of {name}", "0600",
                  oct(st.st_mode & 0o777))
            check(st.st_uid == os.getuid(), f"owner of {name}", os.getuid(),
                  st.st_uid)
            maps_name, snapshot = h["maps"].split()
            with open(os.path.join(os.path.dirname(path), maps_name)) as f:
                text = f.read()
            check(text.startswith(f"malloc-profile-maps 2\npid {h['pid']}\n"),
                  "maps header", "malloc-profile-maps 2", text[:40])
            check(f"snapshot {snapshot} epoch 0\n" in text, "snapshot",
                  snapshot, text[:80])
            check(os.path.join(BIN, "threads") in text, "exe in maps",
                  "present", "absent")


@test
def existing_names_and_symlinks_are_not_followed():
    # The shell plants, under the names its own pid will use once it
    # execs the program, symlinks where the first dump and the hidden
    # directory of the second would go, and a file as the maps; the
    # profiler must leave them alone and write under the next free names.
    with tempfile.TemporaryDirectory() as out:
        target = os.path.join(out, "target")
        os.mkdir(target)
        script = (f'ln -s {target} {out}/mprof.$$.1 && '
                  f'ln -s {target} {out}/.mprof.$$.2.tmp && '
                  f'echo planted > {out}/mprof.$$.maps && '
                  f'exec {LOADER} --library-path {LIB} {BIN}/threads 0')
        # A small mean, so that the program surely takes a sample and
        # its dump holds a profile.
        env = clean_env({var.ON: "1",
                         var.MEAN: "4096",
                         var.OUT: out})
        p = subprocess.run(["sh", "-c", script], env=env, timeout=60,
                           capture_output=True, text=True)
        check(p.returncode == 0, "exit status", 0, p.stderr)
        check(os.listdir(target) == [], "symlink target", "untouched",
              os.listdir(target))
        names = sorted(os.listdir(out))
        pid = int(names[0].split(".")[2])
        with open(os.path.join(out, f"mprof.{pid}.maps")) as f:
            check(f.read() == "planted\n", "planted file", "untouched",
                  "overwritten")
        expected = sorted([f".mprof.{pid}.2.tmp", f"mprof.{pid}.1",
                           f"mprof.{pid}.3", f"mprof.{pid}.maps",
                           f"mprof.{pid}.1.maps", "target"])
        check(names == expected, "files", expected, names)
        (h, _), = profiles(out).values()
        check(h["maps"] == f"mprof.{pid}.1.maps 1", "maps reference",
              f"mprof.{pid}.1.maps 1", h["maps"])
        check(h["dump"] == "3", "dump number", 3, h["dump"])


@test
def setuid_programs_ignore_and_erase_the_variables():
    if os.geteuid() != 0:
        raise Failure("needs root to make a setuid program")
    import pwd
    nobody = pwd.getpwnam("nobody")
    with tempfile.TemporaryDirectory() as tmp:
        # The program names the built loader as its interpreter, since a
        # setuid program cannot be started through it; both are copied
        # where the other user can read them, which the repository may
        # not be.
        os.chmod(tmp, 0o755)
        for name in ("ld-linux-x86-64.so.2", "libc.so.6"):
            shutil.copy(os.path.join(LIB, name), tmp)
        exe = os.path.join(tmp, "secure")
        subprocess.run(["gcc", "-O2", "-fno-builtin", "-o", exe,
                        os.path.join(TOP, "tests", "secure.c"),
                        f"-Wl,--dynamic-linker={tmp}/ld-linux-x86-64.so.2",
                        f"-Wl,-rpath={tmp}"], check=True)
        out = os.path.join(tmp, "out")
        os.mkdir(out)
        os.chmod(out, 0o777)
        env = clean_env({var.ON: "1",
                         var.MEAN: "1",
                         var.OUT: out,
                         var.SEED: "1",
                         "GLIBC_TUNABLES": "glibc.malloc.profile=1"})
        # Not setuid: it profiles, and sees its variables.
        p = subprocess.run([exe], env=env, capture_output=True, text=True,
                           timeout=60)
        check(p.returncode == 0 and "GLIBC_MALLOC_PROFILE=1\n" in p.stdout,
              "plain run", "profiled, variables seen", p.stdout + p.stderr)
        check(len(profiles(out)) == 1, "profiles of the plain run", 1,
              len(profiles(out)))
        for f in os.listdir(out):
            path = os.path.join(out, f)
            (shutil.rmtree if os.path.isdir(path) else os.unlink)(path)
        # Setuid to another user: AT_SECURE.
        os.chown(exe, nobody.pw_uid, nobody.pw_gid)
        os.chmod(exe, 0o4755)
        p = subprocess.run([exe], env=env, capture_output=True, text=True,
                           timeout=60)
        check(p.returncode == 0, "setuid run", "exit 0", p.stderr)
        check(os.listdir(out) == [], "files of the setuid run", [],
              os.listdir(out))
        # glibc drops unsafe tunables from GLIBC_TUNABLES itself.
        seen = [line for line in p.stdout.splitlines()
                if not line.endswith("=(unset)")
                and not (line.startswith("GLIBC_TUNABLES=")
                         and "profile" not in line)]
        check(seen == [], "variables left in the setuid program's "
              "environment", [], seen)
        check(p.stderr == "", "stderr", "", p.stderr)


@test
@both
def tunables_work_like_variables():
    with tempfile.TemporaryDirectory() as out:
        run("threads", ["1"], {"GLIBC_TUNABLES":
                               "glibc.malloc.profile=1:glibc.malloc.profile_bytes=4096:"
                               f"glibc.malloc.profile_out={out}"})
        found = profiles(out)
        check(len(found) == 2, "profiles", 2, len(found))
        for h, _ in found.values():
            check(h["mean"] == "4096", "mean", 4096, h["mean"])


# (variable, value, whether the loader refuses it as a number, what is
# done instead).  The numeric tunables read numbers as glibc's loader
# does: "" is 0, "-1" wraps around, too large a number is no number.
BAD_VALUES = [
    (var.ON, v, refused, "profiling stays off")
    for v, refused in (("yes", True), ("2", False), ("-1", False))
] + [
    (var.MEAN, v, refused, "using 524288")
    for v, refused in (("", False), ("abc", True), ("0", False),
                       ("-4096", False), ("12k", True),
                       (str(2**48 + 1), False), (str(2**64), True),
                       ("9" * 30, True))
] + [
    (var.OUT, v, False, "writing to the working directory")
    for v in ("", "/nonexistent/dir", "/etc/passwd", "/" + "x" * 5000)
] + [
    (var.SEED, v, True, "seeding at random")
    for v in ("abc", "1x", str(2**64))
] + [
    (var.DEPTH, v, refused, "using 64")
    for v, refused in (("", False), ("0", False), ("129", False),
                       ("-1", False), ("8x", True), (str(2**64), True))
] + [
    (var.UNWIND, v, False, "walking frame pointers")
    for v in ("", "FP", "libunwind", "dwarf ")
] + [
    (var.INTERVAL, v, refused, "no periodic dumps")
    for v, refused in (("-1", False), ("4M", True), (str(2**62 + 1), False))
] + [
    (var.PEAK, v, refused, "keeping no peak profile")
    for v, refused in (("yes", True), ("2", False))
]


@test
@both
def bad_values_warn_and_fall_back():
    for name, value, refused, instead in BAD_VALUES:
        with tempfile.TemporaryDirectory() as cwd:
            out = os.path.join(cwd, "out")
            os.mkdir(out)
            env = {var.ON: "1",
                   var.OUT: out, name: value}
            p = run("threads", ["1"], env, cwd=cwd)
            lines = p.stderr.splitlines()
            shown = repr(value[:20])
            tunable = "glibc.malloc." + name[len("GLIBC_MALLOC_"):].lower()
            # The loader reports a value that is no number, and leaves
            # profiling off if it is GLIBC_MALLOC_PROFILE's; the profiler
            # then says what it does instead, naming the variable.
            expected = []
            if refused:
                expected.append(("invalid GLIBC_TUNABLES value", tunable,
                                 "ignored"))
            if not (refused and name == var.ON):
                expected.append((name, tunable, instead))
            check(len(lines) == len(expected)
                  and all(all(w in line for w in words)
                          for line, words in zip(lines, expected)),
                  f"{name}={shown}: stderr",
                  " then ".join(f"a line with {words}" for words in expected),
                  p.stderr)
            where = cwd if name == var.OUT else out
            found = profiles(where)
            if name == var.ON:
                check(found == {}, f"{name}={shown}: profiles", 0, len(found))
                continue
            # At the default mean, the threads may take no sample, and
            # leave an empty dump.
            dumps = dump_dirs(where)
            check(len(dumps) == 1, f"{name}={shown}: dumps in {where}",
                  "one process's", dumps)
            if name == var.MEAN:
                for h, _ in found.values():
                    check(h["mean"] == str(DEFAULT_MEAN), "mean",
                          DEFAULT_MEAN, h["mean"])
    # With memory tagging, free retags a block by its chunk's size, which
    # a sampled block's header does not give: profiling stays off.
    with tempfile.TemporaryDirectory() as out:
        p = run("threads", ["1"], {var.ON: "1",
                                   var.OUT: out,
                                   "GLIBC_TUNABLES": "glibc.mem.tagging=1"})
        lines = p.stderr.splitlines()
        check(len(lines) == 1 and "glibc.mem.tagging" in lines[0]
              and "profiling stays off" in lines[0],
              "stderr with memory tagging", "one line: profiling stays off",
              p.stderr)
        check(profiles(out) == {}, "profiles with memory tagging", 0,
              len(profiles(out)))


@test
def system_programs_run_under_the_loader():
    # python3 needs libz and others from the system's directories.
    with tempfile.TemporaryDirectory() as out:
        p = profile("/usr/bin/python3", out, ["-c", "print(sum(range(10)))"],
                    mean=4096)
        check(p.stdout == "45\n", "python3 output", "45", p.stdout)
        check(len(profiles(out)) >= 1, "profiles", ">= 1", 0)


def symbol_range(lib, symbol):
    """(start, end) of SYMBOL in LIB, from its symbol table, or from its
    dynamic one for a stripped library."""
    for dynamic in ([], ["-D"]):
        nm = subprocess.run(["nm", "-S", *dynamic, lib], capture_output=True,
                            text=True).stdout
        m = re.search(r"^([0-9a-f]+) ([0-9a-f]+) [TtWi] "
                      + re.escape(symbol) + "$", nm, re.M)
        if m:
            start = int(m.group(1), 16)
            return start, start + int(m.group(2), 16)
    raise Failure(f"{symbol} not found in {lib}")


def fast_path(lib, symbol):
    """SYMBOL's instructions in LIB up to its first ret, with addresses
    and offsets taken out, so that two copies of a function compare
    equal; and the raw lines."""
    insns = disassemble_range(lib, *symbol_range(lib, symbol))
    end = next(i for i, (_, s) in enumerate(insns) if s.startswith("ret"))
    insns = insns[:end + 1]
    norm = [re.sub(r"0x[0-9a-f]+\(%rip\)", "X(%rip)",
                   re.sub(r"[0-9a-f]+ <[^>]*>", "T", s)) for _, s in insns]
    # A compare of two registers may come out either way round.
    norm = [re.sub(r"^cmp\s+(%\w+),(%\w+)$",
                   lambda m: "cmp " + ",".join(sorted(m.groups())), s)
            for s in norm]
    return norm, insns


def disassemble_range(lib, start, stop):
    """[(address, instruction)] of LIB from START to STOP."""
    dis = subprocess.run([OBJDUMP, "-d", "--no-show-raw-insn",
                          f"--start-address={start}",
                          f"--stop-address={stop}", lib],
                         capture_output=True, text=True, check=True).stdout
    comment = "//" if ARCH == "aarch64" else "#"
    return [(int(m.group(1), 16), m.group(2).split(comment)[0].strip())
            for m in re.finditer(r"^\s+([0-9a-f]+):\t(.*)$", dis, re.M)]


# What counting adds to malloc, per architecture: the instructions, in
# order (others may come between them), as patterns of objdump's lines in
# which {c} is the countdown's place and {r} the register it is loaded
# into; and the tail call the last one branches to.
COUNT = {
    "x86_64": ([r"sub\s+%\w+,(?P<c>%fs:0x[0-9a-f]+)$", r"jbe\s"],
               r"jmp\s+[0-9a-f]+ <malloc_prof_sampled_malloc>$"),
    "i386": ([r"sub\s+%\w+,(?P<c>%gs:0x[0-9a-f]+)$", r"jbe\s"],
             r"jmp\s+[0-9a-f]+ <malloc_prof_sampled_malloc>$"),
    # A load, a subtraction that sets the flags, a store and a branch on
    # them, the least a load/store architecture allows.
    "aarch64": ([r"ldu?r\s+(?P<r>x\d+), (?P<c>\[x\d+, #-\d+\])$",
                 r"subs\s+{r}, {r}, x\d+$",
                 r"stu?r\s+{r}, {c}$",
                 r"b\.ls\s"],
                r"b\s+[0-9a-f]+ <malloc_prof_sampled_malloc>$"),
}


def find_counting(insns, patterns):
    """The indices in INSNS of the first run of PATTERNS, in order, each
    after the last; [] if there is none."""
    for start, s in enumerate(insns):
        m = re.match(patterns[0], s)
        if not m:
            continue
        names = {k: re.escape(v) for k, v in m.groupdict().items()}
        found = [start]
        for p in patterns[1:]:
            p = p.format(**names)
            nxt = next((j for j in range(found[-1] + 1, len(insns))
                        if re.match(p, insns[j])), None)
            if nxt is None:
                break
            found.append(nxt)
        if len(found) == len(patterns):
            return found
    return []


@test
@both
def malloc_is_glibc_s_own_until_it_counts():
    """malloc's tcache fast path is unpatched glibc's: on x86-64 its
    instructions up to its first return are those of the same commit
    built without the series, operation by operation.  The test of its
    bound, which a process that profiles sets to 0, leads aside to
    COUNT, and from there a request that covers a mark to a tail call of
    the sampled allocation function."""
    libc = os.path.join(LIB, "libc.so.6")
    ours, raw = fast_path(libc, "__libc_malloc")
    if ARCH == "x86_64":
        unpatched, _ = fast_path(UNPATCHED_LIBC, "__libc_malloc")
        # Registers are allocated each build its own way.
        check(sorted(s.split()[0] for s in ours)
              == sorted(s.split()[0] for s in unpatched),
              "operations of malloc up to its first return", unpatched, ours)
    added, tail_call = COUNT[ARCH]
    whole = disassemble_range(libc, *symbol_range(libc, "__libc_malloc"))
    found = find_counting([s for _, s in whole], added)
    check(found, "the counting instructions", added, whole)
    # A branch of the fast path leads to the counting, at most a few
    # instructions before it.
    targets = {int(s.split()[-2], 16) for _, s in raw
               if re.match(r"(j[a-z]+|b\.\w+|cbz|cbnz|tbz|tbnz)\s", s)}
    check(any(whole[j][0] in targets
              for j in range(max(0, found[0] - 3), found[0] + 1)),
          "a branch of malloc's fast path", "to the counting", raw)
    countdown = re.match(added[0], whole[found[0]][1])["c"]
    touching = [s for s in ours if countdown in s]
    check(touching == [], "malloc's first return path using " + countdown,
          [], touching)
    # The branch leads, past the epilogue, to a jump to the sampled
    # function: a tail call, which leaves it the caller's frame.
    target = int(whole[found[-1]][1].split()[-2], 16)
    tail = disassemble_range(libc, target, target + 32)
    jumps = [s for _, s in tail
             if re.match(r"(jmp|call|ret|b|bl|br)\b", s)]
    check(jumps and re.match(tail_call, jumps[0]), "the slow branch",
          tail_call, tail)
    print("    " + "\n    ".join(
        ("+ " if j in found else "  ") + s
        for j, (_, s) in enumerate(whole)
        if found[0] - 3 <= j <= found[-1] + 1))


ALLOCATORS = {"malloc": 2000, "calloc": 1000, "realloc": 500,
              "memalign": 100, "aligned_alloc": 100, "posix_memalign": 100,
              "valloc": 50, "pvalloc": 50}


def documented_costs():
    """docs/design.md's table of what each operation of bench/ops.c costs:
    {operation: {column: instructions}}."""
    with open(os.path.join(TOP, "docs", "design.md")) as f:
        m = re.search(r"^\| operation \|(.*)\|\n\|[-|: ]+\|\n((?:\|.*\|\n)+)",
                      f.read(), re.M)
    check(m, "docs/design.md", "a table of what each operation costs", None)
    columns = [c.strip() for c in m[1].split("|")]
    table = {}
    for line in m[2].splitlines():
        cells = [c.strip(" `") for c in line.strip("|").split("|")]
        table[cells[0]] = dict(zip(columns, cells[1:]))
    return table


def ops_instructions(lib, op, env, n=200000):
    """Instructions per operation OP of bench/ops.c on LIB (callgrind,
    inside the op_* functions: the call, the operation and its free),
    exact: no two runs differ."""
    err = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         "--toggle-collect=op_*", os.path.join(lib, os.path.basename(LOADER)),
         "--library-path", lib, os.path.join(BIN, "ops"), op, str(n)],
        env=clean_env(env), capture_output=True, text=True,
        check=True).stderr
    return int(re.search(r"Collected : (\d+)", err)[1]) / n


@test
def every_entry_point_costs_what_the_docs_say():
    """callgrind's count of instructions per operation of bench/ops.c,
    exact, against unpatched glibc's, to within 0.15 of what docs/design.md's
    table says: in a process that does not profile ("unset"), in one
    whose profiling was asked for and refused (GLIBC_MALLOC_PROFILE=2,
    which costs what unset does: its fast paths are back), and in one
    that profiles at a mean so large that nothing is sampled ("counting
    only").  The tcache's fast paths cost nothing more unset: the table
    says +0 for them, and this fails if that changes.  And a block that
    realloc churns in place at the default mean, sampled now and then,
    costs within an instruction of what counting alone costs: once its
    size is not sampled again, it is an ordinary block, where it is."""
    table = documented_costs()
    check("malloc32" in table and table["malloc32"]["unset"] == "+0",
          "docs/design.md's row for malloc32", "+0 unset",
          table.get("malloc32"))
    with tempfile.TemporaryDirectory() as out:
        configs = {"unset": {}, "refused": {var.ON: "2"},
                   "counting only": {var.ON: "1",
                                     var.MEAN: str(1 << 40),
                                     var.OUT: out}}
        for op, row in table.items():
            base = ops_instructions(os.path.dirname(UNPATCHED_LIBC), op, {})
            for config, env in configs.items():
                said = float(row["unset" if config == "refused" else config])
                got = ops_instructions(LIB, op, env) - base
                check(abs(got - said) <= 0.15,
                      f"{op}: instructions {config} beyond unpatched",
                      said, round(got, 2))
        base = ops_instructions(os.path.dirname(UNPATCHED_LIBC), "realloc",
                                {})
        got = ops_instructions(LIB, "realloc", {
            var.ON: "1", var.OUT: out})
        said = float(table["realloc"]["counting only"])
        check(got - base <= said + 1,
              "realloc in place at the default mean, beyond unpatched",
              f"at most {said + 1}", round(got - base, 2))
        # At 4 KiB, 1.5% of its sizes are sampled, at some 700
        # instructions each: a sampled block that kept its form within
        # its usable size took the sampled path at every later realloc,
        # +150.
        got = ops_instructions(LIB, "realloc", {
            var.ON: "1", var.MEAN: "4096",
            var.OUT: out})
        check(got - base <= said + 20,
              "realloc in place at a mean of 4 KiB, beyond unpatched",
              f"at most {said + 20}", round(got - base, 2))


@test
def tools_attach_to_malloc_by_symbol():
    """The allocation functions are plain function symbols, not IFUNCs
    whose value is their resolver: a uprobe on libc.so.6:NAME, which is
    how bpftrace, bcc's memleak and perf probe attach, sees every call
    tests/calls makes, with profiling off and on, as it does on the same
    glibc unpatched, where realloc of a null pointer calls malloc too.  A
    few more come from the loader and libc, and from loading the
    profiler."""
    libc = os.path.join(LIB, "libc.so.6")
    syms = subprocess.run(["readelf", "--dyn-syms", "-W", libc],
                          capture_output=True, text=True,
                          check=True).stdout
    for name in ALLOCATORS:
        types = re.findall(r"^\s*\d+: [0-9a-f]+\s+\d+ (\w+) .* "
                           + name + "@@", syms, re.M)
        check(types == ["FUNC"], f"symbol type of {name}", ["FUNC"], types)
    script = " ".join(f"uprobe:{libc}:{name} /pid == cpid/ "
                      f"{{ @{name} = count(); }}" for name in ALLOCATORS)
    def seen(lib, env):
        p = subprocess.run(
            ["bpftrace", "-e", script.replace(LIB, lib), "-c",
             f"{lib}/{os.path.basename(LOADER)} --library-path {lib} "
             f"{BIN}/calls"],
            env=clean_env(env), capture_output=True, text=True, timeout=300)
        check(p.returncode == 0, "bpftrace", "exit 0", p.stderr)
        return {m[1]: int(m[2]) for m in
                re.finditer(r"^@(\w+): (\d+)$", p.stdout, re.M)}

    unpatched = seen(os.path.dirname(UNPATCHED_LIBC), {})
    with tempfile.TemporaryDirectory() as out:
        for env in ({}, {var.ON: "1",
                         var.OUT: out}):
            counted = seen(LIB, env)
            for name, n in ALLOCATORS.items():
                base, got = unpatched.get(name, 0), counted.get(name, 0)
                check(n <= base <= got <= base + 20,
                      f"{name} calls seen with {env}",
                      f"those seen on unpatched glibc, {base}, at least {n}",
                      got)


# Call stacks.

# Where every stack ends: the frames glibc and the executable put below
# main.
ROOTS = ["__libc_start_call_main", "__libc_start_main", "_start"]


def function(name):
    """NAME without parameters, symbol version or glibc's _impl."""
    name = name.split("(")[0].split("@")[0]
    return name[:-5] if name == "__libc_start_main_impl" else name


def stack_run(prog, unwind, depth=None):
    """Profile PROG (a stacks-* program) with UNWIND and DEPTH.  Returns
    the paths it printed, {size: [function, ...]}, innermost first, and
    the stacks of its samples as the reports show them, {size: [[function,
    ...], ...]}."""
    env = {var.UNWIND: unwind}
    if depth is not None:
        env[var.DEPTH] = str(depth)
    with tempfile.TemporaryDirectory() as out, \
            tempfile.TemporaryDirectory() as rep:
        p = profile(prog, out, mean=4096, env=env)
        check(p.stderr == "", f"{prog}: stderr", "empty", p.stderr)
        for path, (h, _) in complete_profiles(out).items():
            check((h.get("unwind"), h.get("depth")) ==
                  (unwind, str(depth or 64)), f"{path}: unwind and depth",
                  (unwind, str(depth or 64)), (h.get("unwind"), h.get("depth")))
        path = os.path.join(rep, "r.json")
        r = mprof("report", out, "--format", "json", "-o", path)
        check(r.returncode == 0, "report", "status 0", r.stderr)
        with open(path) as f:
            doc = json.load(f)
    chains = {int(line.split()[1]): line.split()[2:]
              for line in p.stdout.splitlines() if line.startswith("chain ")}
    stacks = defaultdict(list)
    for smp in doc["samples"]:
        if smp["size"] in chains:
            stacks[smp["size"]].append([function(f) for f in smp["functions"]])
    for size in chains:
        n = sum(smp["count"] for smp in doc["samples"] if smp["size"] == size)
        check(n >= 20, f"{prog}: samples of {size} bytes", ">= 20", n)
    return chains, stacks


def is_subsequence(part, whole):
    it = iter(whole)
    return all(x in it for x in part)


def whole(stack, chain):
    """STACK is CHAIN, then some of the frames below main."""
    return stack[:len(chain)] == chain and stack[len(chain):] == \
        ROOTS[:len(stack) - len(chain)]


def user(stack):
    """The frames of STACK outside the C++ library."""
    return [f for f in stack
            if not f.startswith("std::") and f != "operator new"]


@test
@both
def stacks_of_c_wrappers_in_both_modes():
    for unwind in ("fp", "dwarf"):
        for prog in ("stacks-fp", "stacks-nofp"):
            chains, stacks = stack_run(prog, unwind)
            for size, chain in chains.items():
                for st in stacks[size]:
                    what = f"{prog}, {unwind}: a stack of {size} bytes"
                    if unwind == "dwarf" or prog == "stacks-fp":
                        check(whole(st, chain), what, chain + ["..."], st)
                    else:
                        # Without frame pointers: short, never wrong.
                        check(st[0] == chain[0] and
                              is_subsequence(st, chain + ROOTS), what,
                              "a part of " + str(chain), st)


@test
@both
def stacks_of_cxx_new_vector_string_in_both_modes():
    for unwind in ("fp", "dwarf"):
        for prog in ("stacks_cc-fp", "stacks_cc-nofp"):
            chains, stacks = stack_run(prog, unwind)
            for size, chain in chains.items():
                for st in stacks[size]:
                    what = f"{prog}, {unwind}: a stack of {size} bytes"
                    # Unless nothing but operator new was found.
                    check(not st[0].startswith("operator new") or
                          st == ["operator new"],
                          what + " starts past operator new", "user code", st)
                    if unwind == "dwarf":
                        check(whole(user(st), chain), what, chain + ["..."],
                              st)
                    else:
                        check(is_subsequence(user(st), chain + ROOTS), what,
                              "a part of " + str(chain), st)
                    if unwind == "fp" and prog == "stacks_cc-fp" and \
                            size == 4000 and ARCH == "x86_64":
                        # operator new keeps no frame pointer: the walk
                        # goes from malloc's caller, operator new, to the
                        # frame of the function that called it, whose
                        # return address is its caller's.
                        check(whole(st, chain[1:]), what +
                              " (the caller of new is skipped)",
                              chain[1:] + ["..."], st)
                    elif unwind == "fp" and prog == "stacks_cc-fp" and \
                            ARCH == "aarch64":
                        # On AArch64 every function that calls another
                        # makes a frame record, Debian's libstdc++ too.
                        check(whole(user(st), chain), what, chain + ["..."],
                              st)


@test
@both
def depth_limits_the_stack():
    for unwind in ("fp", "dwarf"):
        for depth in (1, 3):
            chains, stacks = stack_run("stacks-fp", unwind, depth)
            for size, chain in chains.items():
                for st in stacks[size]:
                    check(st == chain[:depth], f"{unwind}, depth {depth}, "
                          f"{size} bytes", chain[:depth], st)


@test
def dwarf_unwinding_survives_dlopen_churn():
    """Samples while other threads dlopen and dlclose, which take the
    loader's locks, must not deadlock (run() times out at 300 s)."""
    lib = os.path.join(BIN, "libdlalloc.so")
    with tempfile.TemporaryDirectory() as out:
        for _ in range(3):
            profile("dlopen", out, [lib, "2000"], mean=64,
                    env={var.UNWIND: "dwarf"})
        found = complete_profiles(out)
        # Each run: the main thread and the exited table.
        check(len(found) == 6, "profiles", 6, len(found))
        deep = [st for h, smp in found.values() for _, _, st, _ in smp
                if len(st) > 2]
        check(deep, "samples with stacks deeper than 2", "some", 0)


# Stress: nothing lost, nothing hangs (each run has run()'s time limit).

def complete_profiles(out):
    """Every profile in OUT, each checked to be whole and consistent."""
    found = profiles(out)
    for path, (h, samples) in found.items():
        taken, recorded, dropped = (int(h[k]) for k in
                                    ("taken", "recorded", "dropped"))
        check(taken == recorded + dropped, f"{path}: taken = recorded + "
              "dropped", taken, (recorded, dropped))
        check(recorded == sum(c for c, _, _, _ in samples),
              f"{path}: recorded = sum of counts", recorded,
              sum(c for c, _, _, _ in samples))
        check(int(h["keys"]) == len(samples), f"{path}: keys", h["keys"],
              len(samples))
    return found


def stress(mode, out, mean):
    p = profile("stress", out, [mode], mean=mean)
    pids = {line.split()[1] for line in p.stdout.splitlines()
            if line.startswith("pid ")}
    found = complete_profiles(out)
    by_pid = {}
    for h, _ in found.values():
        by_pid.setdefault(h["pid"], []).append(h)
    check(set(by_pid) == pids, "processes with profiles", sorted(pids),
          sorted(by_pid))
    return by_pid


def stress_one_process(mode, out, mean, n_profiles):
    """Run a stress mode that stays in one process: its profiles, checked
    to number N_PROFILES and to have dropped nothing."""
    by_pid = stress(mode, out, mean)
    (hs,) = by_pid.values()
    check(len(hs) == n_profiles, "profiles", n_profiles, len(hs))
    no_drops(by_pid)
    return hs


def no_drops(by_pid):
    drops = [h["dropped"] for hs in by_pid.values() for h in hs
             if h["dropped"] != "0"]
    check(drops == [], "dropped samples", "none", drops)


@test
def stress_ten_thousand_short_lived_threads():
    with tempfile.TemporaryDirectory() as out:
        # The main thread and the exited table: no file per thread.
        stress_one_process("many", out, 1024, 2)
        # Thread stacks come and go; only file mappings make a snapshot.
        (maps,) = [f for f in os.listdir(out) if f.endswith(".maps")]
        with open(os.path.join(out, maps)) as f:
            snapshots = sum(line.startswith("snapshot ") for line in f)
        check(snapshots <= 3, "maps snapshots", "<= 3", snapshots)


@test
@both
def stress_thirty_two_threads_at_once():
    with tempfile.TemporaryDirectory() as out:
        stress_one_process("wide", out, 256, 2)


@test
def stress_fork_while_threads_allocate():
    with tempfile.TemporaryDirectory() as out:
        by_pid = stress("fork", out, 64)
        check(len(by_pid) == 41, "processes", "1 + 20 children + 20 "
              "grandchildren", len(by_pid))
        sizes = sorted(len(hs) for hs in by_pid.values())
        check(sizes == [1] * 40 + [2], "profiles per process",
              "1 per child, main and exited threads for the parent", sizes)
        no_drops(by_pid)


@test
def stress_signals_interrupt_allocation_and_writes():
    with tempfile.TemporaryDirectory() as out:
        stress_one_process("signal", out, 64, 2)


@test
def stress_sampled_blocks_freed_by_other_threads():
    """Two producer threads hand 300,000 blocks each to two consumers that
    free them (bench/prodcons.c), at a mean of 256 bytes, so
    that most blocks are sampled and freed by another thread while their
    neighbours in the heap come and go: the run ends cleanly (a sampled
    free that touched a header malloc owns would corrupt the heap), and
    at exit nothing the threads sampled is still live, though the
    producers exited before their last blocks were freed."""
    with tempfile.TemporaryDirectory() as out:
        profile("prodcons", out, ["300000", "2"], mean=256)
        by_pid = defaultdict(list)
        for h, samples in profiles(out).values():
            by_pid[h["pid"]].append(h)
            if h["tid"] != h["pid"]:
                live = sum(lv for _, _, _, lv in samples)
                check(live == 0, "live samples of the exited threads", 0,
                      live)
        # main, and the producers in the exited table.
        check(len(by_pid[h["pid"]]) == 2, "profiles", 2,
              len(by_pid[h["pid"]]))
        no_drops(by_pid)


# Dumps of a running process.

def start(prog, args, out, mean, env=None):
    """PROG (in tests/bin) started under the loader with profiling on,
    its input a pipe, once it printed "ready": (Popen, the lines before
    "ready").  Killed after 300 s."""
    e = {var.ON: "1", var.OUT: out,
         var.MEAN: str(mean), **(env or {})}
    p = subprocess.Popen([LOADER, "--library-path", LIB,
                          os.path.join(BIN, prog), *args], env=clean_env(e),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    timer = threading.Timer(300, p.kill)
    timer.daemon = True
    timer.start()
    return p, until_ready(p)


def until_ready(p):
    lines = []
    for line in p.stdout:
        if line == "ready\n":
            return "".join(lines)
        lines.append(line)
    raise Failure(f"exited before it was ready: {p.stderr.read()}")


def timed_dump(pid, out=None):
    """mprof dump of PID, through the package; (its directory, seconds)."""
    pkg = mprof_package()
    t = time.monotonic()
    where = pkg.live.dump(pid, out)
    return where, time.monotonic() - t


def dump_matches_truth(where, stdout, mean, what):
    """The dump in WHERE holds, per site tests/idle reported in STDOUT,
    the bytes in use within SIGMAS sd, exactly none where it freed all,
    and consistent counters.  Returns its profiles."""
    found = {}
    for d in (d for by_n in dump_dirs(where).values()
              for d in by_n.values()):
        for n in os.listdir(d):
            if n.endswith(".heap"):
                found[n] = read_profile(os.path.join(d, n))
    kinds = sorted(h["kind"] for h, _ in found.values())
    check(kinds == ["exited", "thread", "thread"], f"{what}: profiles",
          "main, the waiting thread, the exited threads", kinds)
    samples = []
    for name, (h, s) in found.items():
        check(h["reason"] == "request", f"{what}: {name}: reason", "request",
              h["reason"])
        check(int(h["taken"]) == int(h["recorded"]) + int(h["dropped"]),
              f"{what}: {name}: taken = recorded + dropped", h["taken"], h)
        check(int(h["recorded"]) == sum(c for c, _, _, _ in s),
              f"{what}: {name}: recorded = sum of counts", h["recorded"], s)
        samples += s
    for name, (lo, hi, (n, live, size)) in sites(
            stdout, os.path.join(BIN, "idle")).items():
        mine = at(samples, (lo, hi))
        _, est = in_use(mine, mean)
        true = int(live) * int(size)
        b = bound(int(live), int(size), mean)
        check(abs(est - true) <= b, f"{what}: {name} in-use bytes (bound "
              f"{b:.0f})", true, round(est))
        if live == "0":
            check(all(lv == 0 for _, _, _, lv in mine),
                  f"{what}: {name} live samples", 0, mine)
    return found


def dump_within_a_second(p, stdout, tmp, mean, what):
    """Dump tests/idle's process P into TMP/dump and check it as
    dump_matches_truth does, and that it took under a second."""
    where = os.path.join(tmp, "dump")
    _, seconds = timed_dump(p.pid, where)
    check(seconds < 1, f"{what}: time to dump", "under 1 s", seconds)
    dump_matches_truth(where, stdout, mean, what)
    return where


@test
def dump_of_a_process_idle_in_read():
    """mprof dump of a process blocked in read: in a new directory, every
    running thread's profile and the exited threads', in use within
    SIGMAS sd of what each site holds (exactly 0 where it freed all),
    within a second; the process then reads on and exits normally, and
    a second dump, into its own directory, is numbered after the first
    and before the one made at exit."""
    mean = 16384
    with tempfile.TemporaryDirectory() as out, \
            tempfile.TemporaryDirectory() as tmp:
        p, stdout = start("idle", ["read"], out, mean)
        try:
            where = dump_within_a_second(p, stdout, tmp, mean, "idle in read")
            r = mprof("report", where, "--format", "json")
            check(r.returncode == 0, "mprof report of the dump", 0, r.stderr)
            r = mprof("dump", str(p.pid))
            check(r.returncode == 0, "mprof dump PID", 0, r.stderr)
            rest, err = p.communicate("", timeout=60)
        finally:
            p.kill()
        check(p.returncode == 0 and rest == "done\n" and err == "",
              "the program after the dumps", "done, status 0",
              (p.returncode, rest, err))
        dumps = dump_dirs(out)[p.pid]
        reasons = {n: read_profile(os.path.join(d, f))[0]["reason"]
                   for n, d in dumps.items() for f in os.listdir(d)
                   if f.endswith(".heap")}
        check(reasons == {1: "request", 2: "exit"}, "dumps in the process's"
              " directory", {1: "request", 2: "exit"}, reasons)


@test
def dump_of_a_deadlocked_process():
    """The same of a process whose threads all wait for good on a mutex."""
    mean = 16384
    with tempfile.TemporaryDirectory() as out, \
            tempfile.TemporaryDirectory() as tmp:
        p, stdout = start("idle", ["mutex"], out, mean)
        try:
            dump_within_a_second(p, stdout, tmp, mean, "deadlocked")
            check(p.poll() is None, "the program", "still waiting",
                  p.returncode)
        finally:
            p.kill()
            p.wait()


@test
def dumps_while_threads_allocate_are_consistent():
    """Dumps of 8 threads allocating at a mean of 64 bytes while short
    threads come and go: in every file taken = recorded + dropped and
    recorded is the sum of its counts, no key twice, and from one dump
    to the next no key's count and no process total goes down, which a
    thread counted both as running and as exited would make it do."""
    with tempfile.TemporaryDirectory() as out, \
            tempfile.TemporaryDirectory() as tmp:
        p, _ = start("busy", ["-"], out, 64)
        totals = []
        try:
            for i in range(6):
                where = os.path.join(tmp, str(i))
                _, seconds = timed_dump(p.pid, where)
                check(seconds < 1, f"dump {i}: time", "under 1 s", seconds)
                keys, taken = defaultdict(int), 0
                for path, (h, s) in profiles(where).items():
                    check(int(h["taken"])
                          == int(h["recorded"]) + int(h["dropped"]),
                          f"dump {i}: {path}: taken = recorded + dropped",
                          h["taken"], h)
                    check(int(h["recorded"]) == sum(c for c, _, _, _ in s),
                          f"dump {i}: {path}: recorded = sum of counts",
                          h["recorded"], sum(c for c, _, _, _ in s))
                    mine = {(size, st) for _, size, st, _ in s}
                    check(len(mine) == len(s), f"dump {i}: {path}: keys",
                          "each once", len(s) - len(mine))
                    for c, size, st, _ in s:
                        keys[size, st] += c
                    taken += int(h["taken"])
                totals.append((taken, keys))
                time.sleep(0.3)
            p.stdin.close()
            p.wait(timeout=60)
        finally:
            p.kill()
        check(p.returncode == 0, "exit status", 0, p.stderr.read())
        final = complete_profiles(out)
        totals.append((sum(int(h["taken"]) for h, _ in final.values()),
                       defaultdict(int)))
        for h, s in final.values():
            for c, size, st, _ in s:
                totals[-1][1][size, st] += c
        for i in range(1, len(totals)):
            (t0, k0), (t1, k1) = totals[i - 1], totals[i]
            check(t0 <= t1, f"samples taken, dump {i - 1} to {i}",
                  "not fewer", (t0, t1))
            fewer = [k for k in k0 if k1.get(k, 0) < k0[k]]
            check(fewer == [], f"keys counted less in dump {i} than "
                  f"{i - 1}", [], fewer[:3])
        check(totals[-2][0] > 1000, "samples in the last dump", "> 1000",
              totals[-2][0])


@test
@both
def interval_and_peak_dumps():
    """GLIBC_MALLOC_PROFILE_INTERVAL of 4 MiB on a program that allocates
    40 MiB: about ten numbered dumps, then the one at exit; with
    GLIBC_MALLOC_PROFILE_PEAK, each holds the in-use profile of the
    peak, taken again whenever the heap grew by a tenth: the 32 MiB
    site_peak held (less at most a tenth), not what came after."""
    mean = 16384
    with tempfile.TemporaryDirectory() as out:
        p = profile("peak", out, mean=mean, env={
            var.INTERVAL: str(4 << 20),
            var.PEAK: "1"})
        found = sites(p.stdout, os.path.join(BIN, "peak"))
        (dumps,) = dump_dirs(out).values()
        numbers = sorted(dumps)
        check(numbers == list(range(1, len(numbers) + 1)), "dump numbers",
              "1, 2, ...", numbers)
        check(8 <= len(numbers) - 1 <= 12, "interval dumps", "about 10",
              len(numbers) - 1)
        heads = [read_profile(os.path.join(dumps[n], "mprof.peak.heap"))[0]
                 for n in numbers]
        reasons = [h["reason"] for h in heads]
        want = ["interval"] * (len(numbers) - 1) + ["exit"]
        check(reasons == want, "reasons", want, reasons)
        times = [float(h["time"]) for h in heads]
        check(times == sorted(times), "times", "in order", times)
        (h, samples), = profiles(out, peak=True).values()
        rng, (n, live, size) = found["site_peak"][:2], found["site_peak"][2]
        true, b = int(live) * int(size), bound(int(live), int(size), mean)
        _, est = in_use(at(samples, rng), mean)
        check(true / 1.1 - b <= est <= true + b, f"site_peak at the peak "
              f"(bound {b:.0f})", f"{true / 1.1:.0f} to {true}", round(est))
        after = at(samples, found["site_after"][:2])
        check(after == [], "site_after at the peak", "nothing", after)
        check(true / 1.1 - b <= int(h["peak-bytes"]) <= true + b,
              "peak-bytes", f"{true / 1.1:.0f} to {true}", h["peak-bytes"])
        r = mprof("report", "--peak", out)
        check(r.returncode == 0 and "site_peak" in r.stdout
              and "site_after" not in r.stdout, "mprof report --peak",
              "site_peak only", r.stdout[:600] + r.stderr)


@test
def hundred_thousand_short_threads_leave_bounded_files():
    """100,000 threads, 8 at a time, each making one 64-byte request, at
    a mean of 64 bytes: the profile directory holds the maps and one
    dump of two files, and every sample is kept: none dropped, and the
    requests estimated within SIGMAS sd of 100,000."""
    mean, n = 64, 100000
    with tempfile.TemporaryDirectory() as out:
        run(os.path.join(BIN, "threads_bench"), [str(n)], {
            var.ON: "1", var.OUT: out,
            var.MEAN: str(mean)})
        (pid, dumps), = dump_dirs(out).items()
        names = sorted(os.listdir(out))
        check(names == [f"mprof.{pid}.1", f"mprof.{pid}.maps"],
              "files in the profile directory", "one dump and the maps",
              names)
        inside = sorted(os.listdir(dumps[1]))
        check(len(inside) <= 4 and "mprof.memory" in inside,
              "files in the dump", "at most 3 and the memory", inside)
        found = complete_profiles(out)
        no_drops({pid: [h for h, _ in found.values()]})
        samples = [smp for h, s in found.values() for smp in s
                   if h["kind"] == "exited" and smp[1] == 64]
        est, _ = estimate(samples, mean)
        b = bound(n, 64, mean) / 64
        check(abs(est - n) <= b, f"64-byte requests (bound {b:.0f})", n,
              round(est))


@test
def diff_and_plot_of_a_series():
    """Three dumps of tests/idle, which adds 1000 blocks of 4 KiB at
    site_grow between them: --diff 1 3 shows site_grow grown by 8 MiB
    (within SIGMAS sd) and site_keep by exactly nothing, in text, json,
    folded and pprof (whose total is what go tool pprof -diff_base
    computes from the two dumps' own profiles); mprof plot draws the
    series with both sites in its legend."""
    mean = 16384
    with tempfile.TemporaryDirectory() as out, \
            tempfile.TemporaryDirectory() as tmp:
        p, stdout = start("idle", ["read"], out, mean)
        try:
            for i in range(3):
                timed_dump(p.pid)
                if i < 2:
                    p.stdin.write("more\n")
                    p.stdin.flush()
                    stdout = until_ready(p)
            p.stdin.close()
            p.wait(timeout=60)
        finally:
            p.kill()
        found = sites(stdout, os.path.join(BIN, "idle"))
        path = os.path.join(tmp, "d.json")
        r = mprof("report", out, "--diff", "1", "3", "--format", "json",
                  "-o", path)
        check(r.returncode == 0, "report --diff", 0, r.stderr)
        with open(path) as f:
            doc = json.load(f)
        grow = sum(s["estimated_inuse_bytes"] for s in doc["samples"]
                   if s["functions"][0] == "site_grow")
        b = bound(2000, 4096, mean)
        check(abs(grow - 2000 * 4096) <= b, f"site_grow growth (bound "
              f"{b:.0f})", 2000 * 4096, round(grow))
        keep = [s for s in doc["samples"]
                if s["functions"][0] in ("site_keep", "site_waiting")]
        check(keep == [], "keys of the sites that did not change", [],
              keep[:2])
        r = mprof("report", out, "--diff", "1", "3")
        check(r.returncode == 0 and "growth from dump 1 to dump 3"
              in r.stdout and "site_grow" in r.stdout, "text --diff",
              "growth from dump 1 to dump 3 ... site_grow", r.stdout[:400])
        r = mprof("report", out, "--diff", "1", "3", "--format", "folded")
        leaves = [line.split(";")[-1].split()[0]
                  for line in r.stdout.splitlines()]
        check("site_grow" in leaves and "site_keep" not in leaves,
              "folded --diff", "site_grow, not site_keep", r.stdout)
        pb = {}
        for name, extra in (("a", ["--dump", "1"]), ("b", ["--dump", "3"]),
                            ("d", ["--diff", "1", "3"])):
            pb[name] = os.path.join(tmp, name + ".pb.gz")
            r = mprof("report", out, *extra, "--format", "pprof", "-o",
                      pb[name])
            check(r.returncode == 0, f"pprof {extra}", 0, r.stderr)

        def total(*args):
            """What go tool pprof's nodes add up to: with -diff_base, the
            change (its "total" is the base's)."""
            r = subprocess.run(["go", "tool", "pprof", "-top",
                                "-nodefraction=0",
                                "-sample_index=inuse_space", *args],
                               capture_output=True, text=True)
            m = re.search(r"accounting for (-?[\d.]+)(\w*)", r.stdout)
            check(m, f"go tool pprof {args}", "a total", r.stdout + r.stderr)
            return m.groups()
        base = total("-diff_base", pb["a"], pb["b"])
        check(total(pb["d"]) == base, "pprof --diff total",
              f"as -diff_base: {base}", total(pb["d"]))
        svg = os.path.join(tmp, "heap.svg")
        r = mprof("plot", out, "-o", svg)
        check(r.returncode == 0, "mprof plot", 0, r.stderr)
        root = ET.parse(svg).getroot()
        ns = "{http://www.w3.org/2000/svg}"
        legend = [t.text for t in root.iter(ns + "text")]
        areas = list(root.iter(ns + "polygon"))
        check(any("site_grow" in (t or "") for t in legend)
              and any("site_keep" in (t or "") for t in legend),
              "plot legend", "site_grow and site_keep", legend)
        check(len(areas) >= 2, "plot areas", ">= 2", len(areas))
        r = subprocess.run(["rsvg-convert", svg, "-o",
                            os.path.join(tmp, "heap.png")],
                           capture_output=True, text=True)
        check(r.returncode == 0, "rsvg-convert of the plot", 0, r.stderr)


def busy_series(argv, out):
    """Runs ARGV, an mprof run --every of busy reading its standard input,
    until OUT holds four dumps, then ends that input, so that a loaded
    machine makes as many dumps as an idle one; returns (status, stderr)."""
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True,
                         env=clean_env({}))
    deadline = time.monotonic() + 300
    while (p.poll() is None and time.monotonic() < deadline
           and max(map(len, dump_dirs(out).values()), default=0) < 4):
        time.sleep(0.05)
    _, err = p.communicate(timeout=600)
    return p.returncode, err


@test
def mprof_run_every_makes_a_series():
    """mprof run --every dumps the running program at that period, each
    dump numbered after the last, the one written at exit last."""
    with tempfile.TemporaryDirectory() as out:
        status, err = busy_series(
            ["/usr/bin/python3", MPROF, "run", "--every", "0.25", "--mean",
             "4096", "--out", out, "--", os.path.join(BIN, "busy"), "-"],
            out)
        check(status == 0, "mprof run --every", 0, err)
        check_series(out)


def check_series(out):
    """The dumps of the one process in OUT, numbered from 1, those on
    request, then the one at exit; returns them, {n: directory}."""
    (dumps,) = dump_dirs(out).values()
    reasons = [read_profile(os.path.join(dumps[n], next(
        f for f in sorted(os.listdir(dumps[n])) if f.endswith(".heap")
    )))[0]["reason"] for n in sorted(dumps)]
    check(len(reasons) >= 4 and set(reasons[:-1]) == {"request"}
          and reasons[-1] == "exit", "dumps", "requests, then exit",
          reasons)
    check(sorted(dumps) == list(range(1, len(dumps) + 1)),
          "dump numbers", "1, 2, ...", sorted(dumps))
    return dumps


def probe_notes(lib):
    """{probe: (semaphore address, argument formats)} of the otel_memory
    probes in LIB's libc.so.6, from readelf -n."""
    r = subprocess.run(["readelf", "-n", os.path.join(lib, "libc.so.6")],
                       capture_output=True, text=True, check=True)
    found = {}
    for m in re.finditer(r"Provider: otel_memory\s+Name: (\w+)\s+Location: "
                         r"\S+, Base: \S+, Semaphore: (0x[0-9a-f]+)\s+"
                         r"Arguments: ([^\n]*)", r.stdout):
        found[m[1]] = (int(m[2], 16), m[3].strip())
    return found


def semaphores(pid):
    """The otel_memory semaphores of process PID, read from its memory."""
    base = min(int(line.split("-")[0], 16)
               for line in open(f"/proc/{pid}/maps")
               if line.rstrip().endswith("/libc.so.6"))
    values = {}
    with open(f"/proc/{pid}/mem", "rb") as mem:
        for name, (addr, _) in probe_notes(LIB).items():
            mem.seek(base + addr)
            values[name] = int.from_bytes(mem.read(2), "little")
    return values


@test
@both
def libc_has_the_otel_memory_probes():
    """libc.so.6 holds OpenTelemetry's memory probes, alloc (ptr, size,
    weight) and free (ptr), each with a semaphore, their arguments 64-bit
    values in the calling convention's first argument registers, where
    the OpenTelemetry profiler reads them."""
    regs = {"x86_64": ("%rdi", "%rsi", "%rdx"), "aarch64": ("x0", "x1", "x2"),
            "i386": None}[ARCH]
    notes = probe_notes(LIB)
    check(set(notes) == {"alloc", "free"}, "otel_memory probes",
          "alloc and free", notes)
    for name, n in (("alloc", 3), ("free", 1)):
        sem, args = notes[name]
        size = 4 if ARCH == "i386" else 8
        check(sem != 0, f"{name}'s semaphore", "an address", sem)
        want = (" ".join(f"{size}@{r}" for r in regs[:n]) if regs else None)
        check(len(args.split()) == n and (want is None or args == want)
              and all(a.startswith(f"{size}@") for a in args.split()),
              f"{name}'s arguments", want or f"{n} of {size} bytes", args)


def probe_sites(out):
    """{pid: {call site: (alloc bytes, in-use bytes)}} of a profile."""
    doc = json_report(out)
    found = defaultdict(lambda: defaultdict(lambda: [0.0, 0.0]))
    for smp in doc["samples"]:
        site = found[smp["pid"]][smp["functions"][0]]
        site[0] += smp["estimated_bytes"]
        site[1] += smp["estimated_inuse_bytes"]
    return found


def run_under_probes(prog, args, consumer, env=None):
    """Start PROG (in tests/bin) on the built libc with no variable but
    ENV, attach mprof probes to it (CONSUMER "pid") or to every process
    ("all"), let it allocate, detach; returns (the program's output, its
    status, mprof's stderr, the profile directory's {pid: sites})."""
    p = subprocess.Popen([LOADER, "--library-path", LIB,
                          os.path.join(BIN, prog), *args],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         env=clean_env(env or {}), text=True)
    with tempfile.TemporaryDirectory() as out:
        try:
            check(p.stdout.readline() == "ready\n", "the program", "ready",
                  "another line")
            before = semaphores(p.pid)
            who = [str(p.pid)] if consumer == "pid" else ["--all"]
            c = subprocess.Popen(["/usr/bin/python3", MPROF, "probes", *who,
                                  "--seconds", "20", "--out", out],
                                 stderr=subprocess.PIPE, text=True)
            line = c.stderr.readline()
            check("attached" in line, "mprof probes", "attached", line)
            during = semaphores(p.pid)
            p.stdin.write("go\n")
            p.stdin.flush()
            output = []
            while not output or output[-1] != "done\n":
                output.append(p.stdout.readline())
                check(output[-1], "the program's output", "done", output)
            c.send_signal(signal.SIGINT)
            err = c.stderr.read()
            check(c.wait(timeout=120) == 0, "mprof probes", "status 0", err)
            after = semaphores(p.pid)
            check(before == after == {"alloc": 0, "free": 0}
                  and during == {"alloc": 1, "free": 1},
                  "semaphores before, while and after attached",
                  "0, 1, 0", (before, during, after))
            output += p.communicate("exit\n", timeout=60)[0].splitlines(True)
            return "".join(output), p.returncode, err, probe_sites(out)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()


@test
def probes_profile_a_running_process():
    """A program started on the built libc with no variable is profiled
    through the memory probes once mprof probes attaches (bpftrace): the
    estimates of what its four threads allocate at each site, through
    each entry point, are within SIGMAS sd of what they did, those of
    what they still hold too (the free probe), and the program's output
    and status are those of a run with nothing attached; after the
    detach, the semaphores read 0.  The same with --all, across a fork:
    the child is profiled as well; and in a process that profiles to
    files, which fires the probes for its own samples."""
    def same(text):
        return re.sub(r"child \d+", "child", text)

    files = tempfile.mkdtemp()
    for consumer, args, env in (
            ("pid", [], {}), ("all", ["fork"], {}),
            ("pid", [], {var.ON: "1",
                         var.OUT: files})):
        if env:
            consumer = "pid, profiling to files"
        plain = subprocess.run([LOADER, "--library-path", LIB,
                                os.path.join(BIN, "probes"), *args],
                               input="go\nexit\n", capture_output=True,
                               text=True, env=clean_env({}), timeout=300)
        out, status, err, found = run_under_probes(
            "probes", args, consumer.split(",")[0], env)
        check((status, same("ready\n" + out)) == (plain.returncode,
                                                  same(plain.stdout)),
              f"{consumer}: the program's output and status",
              "those of a run with nothing attached", (status, out))
        truth = {}
        for line in out.splitlines():
            parts = line.split()
            if parts[:1] == ["child"]:
                truth[(int(parts[1]), parts[3])] = (int(parts[4]),
                                                    int(parts[5]))
            elif parts[:1] == ["site"]:
                truth[(None, parts[1])] = (int(parts[2]), int(parts[3]))
        check(status == 0 and out.endswith("done\nbye\n") and
              len(truth) == 5 + len(args), f"{consumer}: the program",
              "its sites, done, bye, status 0", (status, out))
        check("no frame pointers" not in err, f"{consumer}: mprof probes",
              "no warning", err)
        parent = [pid for pid in found if not any(
            pid == k[0] for k in truth)]
        check(len(parent) == 1, f"{consumer}: processes", "the program"
              + (" and its child" if args else ""), sorted(found))
        for (pid, name), (n, size) in truth.items():
            got = found[pid or parent[0]][name]
            b = bound(n, size, DEFAULT_MEAN)
            check(abs(got[0] - n * size) <= b,
                  f"{consumer}: {name}: bytes allocated (bound {b:.0f})",
                  n * size, round(got[0]))
            held = n * size if name == "site_keep" else 0
            check(abs(got[1] - held) <= b,
                  f"{consumer}: {name}: bytes in use at the detach",
                  held, round(got[1]))
    check(len(dump_dirs(files)) == 1, "the dumps of the process that "
          "profiled to files", 1, os.listdir(files))
    shutil.rmtree(files)


@test
def probes_say_when_stacks_lack_frame_pointers():
    """mprof probes says so when a program's stacks, walked by the kernel
    by frame pointers, stop short of its start."""
    _, status, err, _ = run_under_probes("probes-nofp", [], "pid")
    check(status == 0 and "no frame pointers" in err, "mprof probes",
          "a line saying the program has no frame pointers", err)


# mprof attach.

def start_plain(prog, args=(), lib=None):
    """PROG (in tests/bin, or a path) started under the loader without the
    profiler's variables, its input a pipe, once it printed "ready".
    Killed after 300 s."""
    path = prog if "/" in prog else os.path.join(BIN, prog)
    p = subprocess.Popen([*EMULATOR, LOADER, "--library-path", lib or LIB,
                          path, *args], env=clean_env({}),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    timer = threading.Timer(300, p.kill)
    timer.daemon = True
    timer.start()
    until_ready(p)
    return p


def tell(p, command, last):
    """Send tests/attach's process P COMMAND; its output up to the line
    LAST."""
    p.stdin.write(command + "\n")
    p.stdin.flush()
    lines = []
    for line in p.stdout:
        lines.append(line)
        if line == last + "\n":
            return "".join(lines)
    raise Failure(f"{command}: exited before {last!r}: {p.stderr.read()}")


def one_line(p, what, words):
    """mprof's result P succeeded, with one line on standard error that
    holds WORDS."""
    check(p.returncode == 0 and p.stderr.count("\n") == 1
          and words in p.stderr, what, f"status 0, one line with {words!r}",
          f"{p.returncode}: {p.stdout}{p.stderr}")


# The commands tests/attach is sent, with the line that ends the output
# of each, and where it is attached and detached.
ATTACH_SCRIPT = (("run 0", "ran 0"), "attach", ("free 0", "freed 0"),
                 ("run 1", "ran 1"), ("fork", "forked"), "detach",
                 ("run 2", "ran 2"), "attach", ("run 3", "ran 3"),
                 "dump", ("quit", "bye"))


def attached_sites_match_truth(by_pid, stdout, parent, mean, what):
    """The samples of tests/attach's process PARENT and of its child, as
    {pid: samples}, hold the sites of the phases run while attached (1
    and 3, and the child's) within SIGMAS sd, in use included, none in
    use where a site freed all, and nothing of the others."""
    found = sites(stdout, os.path.join(BIN, "attach"))
    children = [pid for pid in by_pid if pid != parent]
    check(len(children) == 1, f"{what}: processes", "the parent and its "
          "child", sorted(by_pid))
    for name, (lo, hi, (n, live, size)) in found.items():
        n, live, size = int(n), int(live), int(size)
        pid = children[0] if name == "site_child" else parent
        mine = at(by_pid[pid], (lo, hi))
        if name.startswith(("site_0_", "site_2_")):
            check(mine == [], f"{what}: {name}, run while not attached",
                  "no samples", mine)
            continue
        _, est = estimate(mine, mean)
        b = bound(n, size, mean)
        check(abs(est - n * size) <= b, f"{what}: {name} bytes (bound "
              f"{b:.0f})", n * size, round(est))
        _, est = in_use(mine, mean)
        b = bound(live, size, mean)
        check(abs(est - live * size) <= b, f"{what}: {name} in-use bytes "
              f"(bound {b:.0f})", live * size, round(est))
        if live == 0:
            check(all(lv == 0 for _, _, _, lv in mine),
                  f"{what}: {name} live samples", 0, mine)


def by_process(where):
    """{pid: samples} of the last dump of each process in WHERE."""
    found = defaultdict(list)
    for h, samples in profiles(where).values():
        found[int(h["pid"])] += samples
    return found


@test
@both
def attach_switches_the_profiler_on_and_off_in_a_running_process():
    """A program started without the profiler is attached, detached and
    attached again while its threads allocate; it forks while attached.
    What it allocated while attached is in its profile, within the
    statistical bound, and nothing else; its output and status are those
    of a run without mprof."""
    mean = 65536
    commands = [step for step in ATTACH_SCRIPT if isinstance(step, tuple)]
    plain = start_plain("attach")
    expected = "".join(tell(plain, *step) for step in commands)
    check(plain.wait() == 3, "status without mprof", 3, plain.returncode)
    hexes = re.compile(r"0x[0-9a-f]+")
    with tempfile.TemporaryDirectory() as out:
        p = start_plain("attach")
        stdout = ""
        for step in ATTACH_SCRIPT:
            if step == "attach":
                one_line(mprof("attach", str(p.pid), "--mean", str(mean),
                               "--out", out), "mprof attach",
                         f"process {p.pid} profiles")
            elif step == "detach":
                one_line(mprof("detach", str(p.pid)), "mprof detach",
                         "stopped counting")
            elif step == "dump":
                # Read from outside, where mprof dump can: a 64-bit
                # process, not under qemu-user.
                if ARCH == "x86_64":
                    where = os.path.join(out, "outside")
                    one_line(mprof("dump", str(p.pid), "-o", where),
                             "mprof dump", "dump of process")
                    dumped = by_process(where)
                    check(list(dumped) == [p.pid], "processes dumped",
                          [p.pid], list(dumped))
            else:
                stdout += tell(p, *step)
        check(p.wait() == 3, "status", 3, p.returncode)
        stderr = p.stderr.read()
        check(stderr == "", "standard error", "", stderr)
        check(hexes.sub("ADDR", stdout) == hexes.sub("ADDR", expected),
              "output", expected, stdout)
        by_pid = by_process(out)
        attached_sites_match_truth(by_pid, stdout, p.pid, mean, "exit dump")
        # The lifetimes of the blocks sampled while attached.
        r = mprof("report", "--lifetimes", "--format", "json", out)
        check(r.returncode == 0, "report --lifetimes", "status 0", r.stderr)
        lifetimes = json.loads(r.stdout)["lifetimes"]
        frees = sum(site["sampled_frees"] for site in lifetimes)
        ages = [site["mean_age_ns"] for site in lifetimes if site["live"]]
        check(frees > 0 and ages and all(ages), "lifetimes while attached",
              "sampled frees, and ages of the blocks still live",
              (frees, ages))
        if ARCH == "x86_64":
            # The child's samples are in its own exit dump only.
            child = next(pid for pid in by_pid if pid != p.pid)
            dumped[child] = by_pid[child]
            attached_sites_match_truth(dumped, stdout, p.pid, mean,
                                       "mprof dump while attached")


def refused(p, what, words):
    """mprof's result P failed with one line that holds WORDS."""
    check(p.returncode != 0 and p.stderr.count("\n") == 1
          and p.stderr.startswith("mprof: ") and words in p.stderr, what,
          f"failure, one line with {words!r}",
          f"{p.returncode}: {p.stdout}{p.stderr}")


def goes_on_unprofiled(p, what, readable=True):
    """tests/attach's process P has its tcache's fast paths back (if
    READABLE: mprof attach reads no AT_SECURE process), still works,
    does not profile, and exits as it would have."""
    if readable:
        area = mprof_package().attach.Area(p.pid)
        fast = area.word(area.head()[4])
        check(fast, f"{what}: tcache_fast_bytes", "the tcache's bound",
              fast)
    refused(mprof("dump", str(p.pid), "-o", "/nonexistent/dump"),
            f"{what}: mprof dump", "does not profile")
    tell(p, "run 1", "ran 1")
    tell(p, "quit", "bye")
    check(p.wait() == 3, f"{what}: status", 3, p.returncode)
    stderr = p.stderr.read()
    check(stderr == "", f"{what}: standard error", "", stderr)


@test
def attach_refuses_in_one_line_and_the_process_goes_on():
    """What mprof attach must not or cannot profile is refused with one
    line, and the process goes on as it was."""
    with tempfile.TemporaryDirectory() as tmp:
        refused(mprof("attach", "1", "--mean", "0"), "--mean 0",
                "--mean must be")
        # --rate, the name before, still sets the mean.
        refused(mprof("attach", "1", "--rate", "0"), "--rate 0",
                "--mean must be")
        gone = subprocess.Popen(["true"])
        gone.wait()
        refused(mprof("attach", str(gone.pid)), "no process",
                f"no process {gone.pid}")
        system = subprocess.Popen(["sleep", "60"])
        try:
            refused(mprof("attach", str(system.pid)), "the system's libc",
                    "does not run the profiler's libc")
        finally:
            system.kill()
            system.wait()
        # Started with the variables.
        p, _ = start("attach", [], tmp, 65536)
        refused(mprof("attach", str(p.pid), "--out", tmp), "profiling",
                "profiles already")
        tell(p, "quit", "bye")
        p.wait()
        cases = (("attach", ["nodump"], None, "it is not dumpable"),
                 ("attach-own", [], None, "malloc is not glibc's"),
                 ("attach", [], os.path.join(tmp, "lib"),
                  "goes on unprofiled: libc_malloc_prof.so.0 cannot be "
                  "loaded"),
                 ("attach", ["still"], None, "did not allocate within 1 s"))
        # A copy of the built glibc whose profiler's library, found
        # before the one installed, is broken.
        os.mkdir(os.path.join(tmp, "lib"))
        for name in ("ld-linux-x86-64.so.2", "libc.so.6"):
            shutil.copy(os.path.join(LIB, name), os.path.join(tmp, "lib"))
        with open(os.path.join(tmp, "lib", "libc_malloc_prof.so.0"), "w") as f:
            f.write("not an ELF file\n")
        for prog, args, lib, words in cases:
            p = start_plain(prog, args, lib)
            refused(mprof("attach", str(p.pid), "--out", tmp, "--timeout",
                          "1"), f"{prog} {args}", words)
            goes_on_unprofiled(p, f"{prog} {args}")
        # Setuid to another user: AT_SECURE.
        import pwd
        nobody = pwd.getpwnam("nobody")
        os.chmod(tmp, 0o755)
        exe = os.path.join(tmp, "secure")
        subprocess.run(["gcc", "-O2", "-fno-builtin", "-pthread", "-o", exe,
                        os.path.join(TOP, "tests", "attach.c"),
                        f"-Wl,--dynamic-linker={tmp}/lib/ld-linux-x86-64.so.2",
                        f"-Wl,-rpath={tmp}/lib"], check=True)
        os.chmod(os.path.join(tmp, "lib"), 0o755)
        os.chown(exe, nobody.pw_uid, nobody.pw_gid)
        os.chmod(exe, 0o4755)
        p = subprocess.Popen([exe], env=clean_env({}), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        until_ready(p)
        refused(mprof("attach", str(p.pid), "--out", tmp), "setuid",
                "setuid or otherwise secure (AT_SECURE)")
        goes_on_unprofiled(p, "setuid", readable=False)


def chroot_command(mount_point, tmp, args):
    """The command that runs mprof ARGS as root in a chroot made of this
    machine's directories on a tmpfs over TMP, in a mount namespace of its
    own: a build chroot's, whose root is a directory, or, if MOUNT_POINT, a
    mount point, as the chroot of a harness that bind-mounts its directory
    onto itself."""
    if os.geteuid() != 0:
        raise Failure("needs root to chroot")
    root = os.path.join(tmp, "root")
    script = ["set -e", f"mount -t tmpfs tmpfs {tmp}", f"mkdir {root}"]
    if mount_point:
        script.append(f"mount --bind {root} {root}")
    for d in sorted({"usr", "etc", "var", "proc", "dev", "tmp",
                     TOP.split("/")[1]}):
        script += [f"mkdir -p {root}/{d}", f"mount --rbind /{d} {root}/{d}"]
    for d in ("bin", "sbin", "lib", "lib64"):
        if os.path.islink(f"/{d}"):
            script.append(f"ln -s {os.readlink('/' + d)} {root}/{d}")
    script.append(f'exec chroot {root} /usr/bin/python3 {MPROF} "$@"')
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            "\n".join(script), "sh", *args]


@test
def mprof_run_in_a_chroot():
    """In a chroot whose root is a mount point, mprof run profiles the
    process tree and --every dumps it, the dumps read from the chroot's
    root, from which the files bound in the tree's namespace are out of
    reach; in one whose root is no mount point, it says in one line how
    to run it there and profiles the program alone."""
    with tempfile.TemporaryDirectory() as out, \
            tempfile.TemporaryDirectory() as tmp:
        status, err = busy_series(chroot_command(
            True, tmp, ["run", "--every", "0.25", "--mean", "4096", "--out",
                        out, "--", os.path.join(BIN, "busy"), "-"]), out)
        check(status == 0 and "warning" not in err and "alone" not in err,
              "mprof run --every in a chroot", "status 0, no warning", err)
        dumps = check_series(out)
        maps = "".join(open(os.path.join(dumps[1], f)).read()
                       for f in os.listdir(dumps[1]) if f.endswith(".maps"))
        check(" /usr/lib/x86_64-linux-gnu/libc.so.6\n" in maps
              and "/tmp/" not in maps.replace(out, ""),
              "the files of a dump's maps", "named from the chroot's root",
              maps[-1500:])
    with tempfile.TemporaryDirectory() as out, \
            tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run(chroot_command(
            False, tmp, ["run", "--mean", "4096", "--out", out, "--",
                         os.path.join(BIN, "estimate")]),
            capture_output=True, text=True, timeout=600, env=clean_env({}))
        said = [line for line in r.stderr.splitlines()
                if "not a mount point" in line]
        check(r.returncode == 0 and len(said) == 1
              and "mount --bind DIR DIR" in said[0] and "alone" in said[0],
              "mprof run where / is no mount point", "status 0 and one line "
              "saying how", r.stderr)
        check(len(dump_dirs(out)) == 1, "processes profiled alone", 1,
              dump_dirs(out))


@test
def mprof_dump_rejects_what_it_cannot_read():
    """One line and status 1 for a process that does not exist, one on
    the system's libc, one on ours that does not profile, and an output
    directory that exists."""
    with tempfile.TemporaryDirectory() as tmp:
        system = subprocess.Popen(["sleep", "30"])
        ours = subprocess.Popen([LOADER, "--library-path", LIB,
                                 os.path.join(BIN, "idle"), "read"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                env=clean_env({}), text=True)
        try:
            until_ready(ours)
            cases = [(["999999999"], "no process"),
                     ([str(system.pid)], "does not run the profiler's libc"),
                     ([str(ours.pid)], "does not profile"),
                     ([str(ours.pid), "-o", tmp], "exists already")]
            for args, words in cases:
                r = mprof("dump", *args)
                lines = r.stderr.splitlines()
                check(r.returncode == 1 and len(lines) == 1
                      and words in lines[0], f"mprof dump {args}",
                      f"one line saying '{words}', status 1",
                      (r.returncode, r.stderr))
        finally:
            system.kill()
            ours.kill()
            system.wait()
            ours.wait()


# Process trees.

def json_report(out):
    """mprof's json report of the profile directory OUT."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "r.json")
        r = mprof("report", out, "--format", "json", "-o", path)
        check(r.returncode == 0, "mprof report", 0, r.stderr)
        with open(path) as f:
            return json.load(f)


def per_process(out):
    """{pid: (exe, {call site: estimated bytes})} of a profile, from mprof's
    json report."""
    doc = json_report(out)
    found = {t["pid"]: (t["exe"], defaultdict(float)) for t in doc["threads"]}
    for smp in doc["samples"]:
        found[smp["pid"]][1][smp["functions"][0]] += smp["estimated_bytes"]
    return found


@test
def run_profiles_the_whole_process_tree():
    """mprof run profiles every dynamically linked program that its
    program starts: tests/estimate two shells down (tests/tree.sh),
    through posix_spawn and through system (tests/spawn), and from
    Debian's python3 through subprocess, each a process of its own in
    the profile, its call sites' bytes within SIGMAS sd."""
    mean = 65536
    est = os.path.join(BIN, "estimate")
    cases = {
        "shell": ([os.path.join(TOP, "tests", "tree.sh"), est], 1),
        "posix_spawn and system": ([os.path.join(BIN, "spawn"), est], 2),
        "python": (["/usr/bin/python3", "-c", "import subprocess; "
                    f"subprocess.run([{est!r}], check=True)"], 1),
    }
    for case, (cmd, runs) in cases.items():
        with tempfile.TemporaryDirectory() as out:
            r = mprof("run", "--mean", str(mean), "--out", out, "--", *cmd)
            check(r.returncode == 0, f"{case}: mprof run", 0, r.stderr)
            truth = {}
            for line in r.stdout.splitlines():
                parts = line.split()
                if parts and parts[0] == "site":
                    truth[parts[1]] = (int(parts[3]), int(parts[4]))
            found = per_process(out)
            mine = {pid: v for pid, (exe, v) in found.items() if exe == est}
            check(len(mine) == runs, f"{case}: processes of {est}", runs,
                  sorted(exe for exe, _ in found.values()))
            for pid, got in mine.items():
                for name, (n, size) in truth.items():
                    b = bound(n, size, mean)
                    check(abs(got[name] - n * size) <= b,
                          f"{case}: pid {pid}: {name} bytes (bound {b:.0f})",
                          n * size, round(got[name]))
            r = mprof("report", out, "--by-process")
            check(r.returncode == 0 and r.stdout.count(est) == runs,
                  f"{case}: --by-process", f"{runs} line(s) of {est}",
                  r.stdout[-800:])


@test
def run_leaves_setuid_and_static_programs_unprofiled():
    """In the tree mprof run starts, a setuid program (tests/estimate,
    setuid to nobody) runs on the built glibc with AT_SECURE, which
    ignores the profiler's variables, and a statically linked one, which
    has no loader to replace, runs on its own libc: both run, neither is
    in the profile, where tests/estimate, run after them, is."""
    if os.geteuid() != 0:
        raise Failure("needs root to make a setuid program")
    import pwd
    nobody = pwd.getpwnam("nobody")
    with tempfile.TemporaryDirectory() as tmp, \
            tempfile.TemporaryDirectory() as out:
        # The setuid program finds the built libc through its run path,
        # in a copy that nobody can read wherever this tree is (the
        # built loader looks only in install/, which may be under a
        # directory of mode 0700, such as /root).
        os.chmod(tmp, 0o755)
        shutil.copy(os.path.join(LIB, "libc.so.6"), tmp)
        suid, static = os.path.join(tmp, "suid"), os.path.join(tmp, "static")
        source = os.path.join(TOP, "tests", "estimate.c")
        subprocess.run(["gcc", "-O2", "-fno-builtin", "-o", suid, source,
                        f"-Wl,-rpath={tmp}"], check=True)
        os.chown(suid, nobody.pw_uid, nobody.pw_gid)
        os.chmod(suid, 0o4755)
        subprocess.run(["gcc", "-O2", "-static", "-fno-builtin", "-o", static,
                        source], check=True)
        est = os.path.join(BIN, "estimate")
        r = mprof("run", "--mean", "4096", "--out", out, "--", "/bin/sh",
                  "-c", f"{suid} && {static} && {est}")
        check(r.returncode == 0, "mprof run", 0, r.stderr)
        runs = sum(line.startswith("site ") for line in r.stdout.splitlines())
        check(runs > 0 and runs % 3 == 0, "the three programs' output",
              "each printed its sites", r.stdout)
        exes = {exe for exe, _ in per_process(out).values()}
        check(est in exes and suid not in exes and static not in exes,
              "profiled programs", f"{est}, not the setuid or the static "
              "one", exes)


@test
def programs_of_newer_glibc_run_profiled():
    """A program built against the headers of the glibc built here needs
    symbols of GLIBC_2.38 (strlcpy, and __isoc23_strtol, which strtol is
    in C23 mode): the system's glibc 2.36 refuses it, the built loader
    runs it, and at a mean of 1 byte its site holds every block it
    kept."""
    exe = os.path.join(BIN, "newer")
    subprocess.run([CC, "-std=gnu2x", "-O2", "-g",
                    "-fno-builtin", "-isystem", os.path.join(INSTALL,
                                                              "include"),
                    "-B", LIB + "/", "-L", LIB, "-o", exe,
                    os.path.join(TOP, "tests", "newer.c")], check=True)
    dyn = subprocess.run(["objdump", "-T", exe], capture_output=True,
                         text=True, check=True).stdout
    for sym in ("strlcpy", "__isoc23_strtol"):
        check(re.search(r"GLIBC_2\.38\)?\s+" + sym + "$", dyn, re.M),
              f"{sym}'s version", "GLIBC_2.38", dyn)
    p = subprocess.run([exe, "10"], capture_output=True, text=True)
    check(p.returncode != 0 and "GLIBC_2.38' not found" in p.stderr,
          "the system's loader", "refuses GLIBC_2.38", p.stderr)
    with tempfile.TemporaryDirectory() as out:
        p = profile(exe, out, ["300"], mean=1)
        (name, (lo, hi, _)), = sites(p.stdout, exe).items()
        samples = [s for _, ss in profiles(out).values() for s in ss]
        got = [(c, sz, lv) for c, sz, _, lv in at(samples, (lo, hi))]
        check(got == [(300, 4096, 300)], f"{name}: (count, size, live)",
              [(300, 4096, 300)], got)


@test
def static_tls_as_unpatched():
    """The profiler's per-thread state is in the thread descriptor, not
    in TLS variables of libc: libc's static TLS block is no larger than
    unpatched glibc's, built from the same source, and dlmopen opens as many
    namespaces (each one holds a copy of libc's TLS) as with it."""
    def tls_size(lib):
        out = subprocess.run(["readelf", "-lW", lib], capture_output=True,
                             text=True, check=True).stdout
        tls = [line.split() for line in out.splitlines()
               if line.split()[:1] == ["TLS"]]
        return int(tls[0][5], 16)
    ours = tls_size(os.path.join(LIB, "libc.so.6"))
    unpatched = tls_size(UNPATCHED_LIBC)
    check(ours == unpatched, "TLS size of libc.so.6", hex(unpatched),
          hex(ours))
    unpatched_lib = os.path.dirname(UNPATCHED_LIBC)
    expected = subprocess.run([os.path.join(unpatched_lib,
                                            os.path.basename(LOADER)),
                               "--library-path", unpatched_lib,
                               os.path.join(BIN, "dlmopen")],
                              capture_output=True, text=True,
                              check=True).stdout
    with tempfile.TemporaryDirectory() as out:
        for env in ({}, {var.ON: "1",
                         var.OUT: out}):
            got = run("dlmopen", env=env).stdout
            check(got == expected, f"namespaces opened with {env}",
                  expected.strip(), got.strip())


@test
def thread_without_memory_for_its_profile_stops_trying():
    """A thread whose profile cannot be mapped (its address space is
    full) goes unprofiled, and does not try again on each request."""
    failed = {}
    for on in (False, True):
        with tempfile.TemporaryDirectory() as out:
            log = os.path.join(out, "strace.log")
            env = {var.ON: "1",
                   var.OUT: out} if on else {}
            p = subprocess.run(
                ["strace", "-f", "-qq", "-e", "trace=mmap", "-o", log,
                 LOADER, "--library-path", LIB, os.path.join(BIN, "nomem")],
                env=clean_env(env), capture_output=True, text=True,
                timeout=120)
            check(p.returncode == 0, "exit status", 0, p.stderr)
            with open(log) as f:
                failed[on] = sum("ENOMEM" in line for line in f)
    # malloc itself tries to make the thread an arena on each request;
    # the profiler tries once to map the thread's table, and may fail
    # to map a buffer when it writes the dump at exit.
    extra = failed[True] - failed[False]
    check(1 <= extra <= 3, "failed mmap calls the profiler adds", "1 to 3",
          extra)


@test
def fork_in_a_signal_handler_that_interrupted_a_sample():
    """A timer's handler forks, 100 times, while the loop it interrupts
    is most likely recording a sample (at a mean of 1 byte every request
    is one); each child returns into that sample, allocates on and must
    exit normally, with a profile of its own."""
    with tempfile.TemporaryDirectory() as out:
        p = profile("sigfork", out, ["100"], mean=1)
        m = re.fullmatch(r"forks 100 bad 0 pid (\d+)\n", p.stdout)
        check(m is not None, "output", "forks 100 bad 0 pid N",
              p.stdout.strip())
        found = profiles(out)
        check(len(found) == 101, "processes with a profile", 101,
              len(found))
        for path, (h, _) in found.items():
            if h["pid"] == m[1]:
                continue
            # Its own 1,000 requests at least; none dropped as if the
            # sample the handler interrupted were still going on.
            check(int(h["recorded"]) >= 1000 and h["dropped"] == "0",
                  f"{path}: recorded, dropped", ">= 1000, 0",
                  (h["recorded"], h["dropped"]))


@test
@both
def requests_too_large_leave_sampling_alone():
    """Requests of more than PTRDIFF_MAX bytes, through every allocation
    function, fail without being counted: the countdown must not wrap
    into a huge positive value that ends the thread's sampling."""
    mean = 4096
    with tempfile.TemporaryDirectory() as out:
        p = profile("huge", out, mean=mean, seed=1)
        lo, hi, (n, size) = sites(p.stdout, os.path.join(BIN, "huge"))[
            "site_small"]
        (_, samples), = profiles(out).values()
        n, size = int(n), int(size)
        _, est = estimate([s for s in at(samples, (lo, hi))
                           if s[1] == size], mean)
        b = bound(n, size, mean)
        check(abs(est - n * size) <= b,
              f"bytes of site_small (bound {b:.0f})", n * size, round(est))
        largest = max(s[1] for s in samples)
        limit = 2 ** 31 if ARCH == "i386" else 2 ** 63
        check(largest < limit, "largest request sampled", f"< {limit}",
              largest)


@test
def exit_during_a_dump_leaves_no_partial_dump():
    """The main thread calls _exit while another thread writes dumps of
    5,000 keys one after the other: every dump a reader can see is
    whole, and mprof reports the last of them."""
    for usec in (20000, 40000, 60000, 80000):
        with tempfile.TemporaryDirectory() as out:
            profile("exit_dump", out, [str(usec)], mean=64,
                    env={var.INTERVAL: "1000000"})
            dumps, = dump_dirs(out).values()
            for d in dumps.values():
                for n in os.listdir(d):
                    if n.endswith(".heap"):
                        read_profile(os.path.join(d, n))
            p = subprocess.run([MPROF, "report", out], capture_output=True,
                               text=True)
            check(p.returncode == 0, f"{usec} us: mprof report", "exit 0",
                  p.stderr)


@test
def reentry_from_a_signal_handler_drops_the_sample():
    with tempfile.TemporaryDirectory() as out:
        by_pid = stress("reenter", out, 16)
        (hs,) = by_pid.values()
        dropped = sum(int(h["dropped"]) for h in hs)
        check(dropped > 0, "samples dropped on re-entry", "> 0", dropped)


@test
def unloaded_library_keeps_its_samples_and_mapping():
    lib = os.path.join(BIN, "libdlalloc.so")
    with tempfile.TemporaryDirectory() as out, \
            tempfile.TemporaryDirectory() as rep:
        profile("dlopen", out, [lib], mean=4096)
        found = complete_profiles(out)
        # The main thread and the exited threads.
        check(len(found) == 2, "profiles", 2, len(found))
        path = os.path.join(rep, "r.json")
        p = mprof("report", out, "--format", "json", "-o", path)
        check(p.returncode == 0, "report", "status 0", p.stderr)
        with open(path) as f:
            doc = json.load(f)
        frames = [fr for smp in doc["samples"] for fr in
                  smp["stack"][0]["frames"] if fr["function"] == "dl_alloc"]
        check(frames and all(fr["module"] == "libdlalloc.so" for fr in frames),
              "samples in the unloaded library's dl_alloc",
              "present, in libdlalloc.so", frames[:2])


@test
@both
def samples_of_a_destructor_are_of_the_epoch_its_library_was_mapped_in():
    """dlclose runs a library's destructors before it unmaps it: the
    samples they take are of the epoch whose maps still have the
    library, so that they are named from it."""
    lib = os.path.join(BIN, "libdtor.so")
    with tempfile.TemporaryDirectory() as out, \
            tempfile.TemporaryDirectory() as rep:
        profile("dtor", out, [lib], mean=1)
        path = os.path.join(rep, "r.json")
        p = mprof("report", out, "--format", "json", "-o", path)
        check(p.returncode == 0, "report", "status 0", p.stderr)
        with open(path) as f:
            doc = json.load(f)
        leaves = [(smp["stack"][0]["frames"][0]["function"],
                   smp["stack"][0]["frames"][0]["module"], smp["count"])
                  for smp in doc["samples"] if smp["size"] == 7002]
        check(sum(n for _, _, n in leaves) == 10 and
              all(leaf[:2] == ("dtor_alloc", "libdtor.so") for leaf in leaves),
              "the destructor's samples", "10, at dtor_alloc in libdtor.so",
              leaves)


@test
def unloaded_library_is_not_taken_for_the_one_loaded_in_its_place():
    """tests/reuse allocates through a library, unloads it, and loads
    another where it was: the same return address, in two epochs of the
    maps.  Each sample is attributed to the library it was taken in.
    (qemu-user does not map the second library where the first was.)"""
    with tempfile.TemporaryDirectory() as out, \
            tempfile.TemporaryDirectory() as rep:
        p = profile("reuse", out, [BIN], mean=1)
        check(p.stdout == "reused\n", "second library", "where the first was",
              p.stdout.strip())
        path = os.path.join(rep, "r.json")
        r = mprof("report", out, "--format", "json", "-o", path)
        check(r.returncode == 0, "report", "status 0", r.stderr)
        with open(path) as f:
            doc = json.load(f)
        for size, lib in ((1111, "a"), (2222, "b")):
            leaves = {(fr["function"], fr["module"])
                      for smp in doc["samples"] if smp["size"] == size
                      for fr in smp["stack"][0]["frames"]}
            want = {(f"reuse_{lib}", f"libreuse_{lib}.so")}
            check(leaves == want, f"where the {size}-byte blocks were made",
                  want, leaves)


@test
def a_library_mapped_where_another_was_unloaded_by_a_running_dlclose():
    """tests/reuse DIR race N: two threads take turns to load, allocate
    through and unload a library each; the one that loads has a
    real-time priority, waits for the loader's lock while the other
    unloads, and runs as soon as that dlclose releases it, before it
    returns, mapping its library where the other's was.  The epoch moves
    before ld.so unmaps (its count of unmapped objects), so no sample
    through the new library is named from the old one.  When it moved
    after dlclose returned, 2998 of 3000 samples were misnamed."""
    n = 3000
    with tempfile.TemporaryDirectory() as out:
        p = profile("reuse", out, [BIN, "race", str(n)], mean=1)
        check(int(p.stdout) > n, "loads where the other library was",
              f"> {n} of {2 * n}", p.stdout.strip())
        doc = json_report(out)
        for size, lib in ((1111, "a"), (2222, "b")):
            leaves = {}
            for smp in doc["samples"]:
                if smp["size"] == size:
                    fr = smp["stack"][0]["frames"][0]
                    k = (fr["function"], fr["module"])
                    leaves[k] = leaves.get(k, 0) + smp["count"]
            want = (f"reuse_{lib}", f"libreuse_{lib}.so")
            check(set(leaves) == {want},
                  f"where the {size}-byte blocks were made", want, leaves)


@test
@both
def a_library_loaded_over_and_over_splits_only_the_stacks_through_it():
    """tests/reuse DIR N loads and unloads a library N times, as a program
    does its plugins; each unload begins an epoch.  The blocks main
    allocates each time, through no unloadable object, are one key; those
    allocated through the library are a key per load, each named from
    the library."""
    n = 40
    with tempfile.TemporaryDirectory() as out, \
            tempfile.TemporaryDirectory() as rep:
        p = profile("reuse", out, [BIN, str(n)], mean=1)
        check(p.returncode == 0, "tests/reuse", "status 0", p.returncode)
        keys = {}
        for _, samples in profiles(out).values():
            for count, size, _, _ in samples:
                keys.setdefault(size, []).append(count)
        check(keys.get(3333) == [n], "main's 3,333-byte requests",
              f"one key of count {n}", keys.get(3333))
        check(sorted(keys.get(1111, [])) == [1] * n,
              "the library's 1,111-byte requests", f"{n} keys of count 1",
              keys.get(1111))
        path = os.path.join(rep, "r.json")
        r = mprof("report", out, "--format", "json", "-o", path)
        check(r.returncode == 0, "report", "status 0", r.stderr)
        with open(path) as f:
            doc = json.load(f)
        for size, want in ((1111, ("reuse_a", "libreuse_a.so")),
                           (3333, ("main", "reuse"))):
            leaves = {(fr["function"], fr["module"]) for smp in
                      doc["samples"] if smp["size"] == size
                      for fr in smp["stack"][0]["frames"][:1]}
            check(leaves == {want}, f"the {size}-byte requests' callers",
                  want, leaves)


@test
@both
def libc_s_own_unloads_keep_their_mapping():
    """glibc unloads an unused gconv module with __libc_dlclose, as it
    does NSS modules: the maps snapshot taken before, of the epoch
    before, still has the module; the one at exit, of a later epoch,
    does not."""
    with tempfile.TemporaryDirectory() as out:
        p = profile("gconv", out, mean=1)
        check(p.stdout == "done\n", "output", "done", p.stdout)
        (h, _), = [v for v in profiles(out).values()
                   if v[0]["kind"] == "thread"]
        with open(os.path.join(out, h["maps"].split()[0])) as f:
            snapshots = re.findall(r"^snapshot \d+ epoch (\d+)\n(.*?)^end$",
                                   f.read(), re.M | re.S)
        epochs = [(int(e), "/ISO8859-2.so" in body) for e, body in snapshots]
        check(len(epochs) >= 2 and epochs[0] == (0, True)
              and epochs[-1][0] >= 1 and not epochs[-1][1],
              "snapshots (epoch, with the module)",
              "(0, True) first, (>= 1, False) last", epochs)


@test
def mprof_reports_a_deleted_library_and_goes_on():
    with tempfile.TemporaryDirectory() as out, \
            tempfile.TemporaryDirectory() as tmp:
        lib = os.path.join(tmp, "libdlalloc.so")
        shutil.copy(os.path.join(BIN, "libdlalloc.so"), lib)
        profile("dlopen", out, [lib], mean=4096)
        os.unlink(lib)
        p = mprof("report", out)
        check(p.returncode == 0, "report", "status 0", p.stderr)
        check(f"{lib}: missing" in p.stderr, "warning", f"{lib}: missing",
              p.stderr)
        check("libdlalloc.so+0x" in p.stdout, "frames in it",
              "libdlalloc.so+0x...", p.stdout)


# Faults.

@test
def table_that_cannot_grow_drops_and_counts():
    with tempfile.TemporaryDirectory() as out:
        p = profile("keys", out, ["3000", "tight"], mean=1)
        check(p.stdout == "ok\n", "program output", "ok", p.stdout)
        ((h, samples),) = complete_profiles(out).values()
        check(int(h["dropped"]) > 0, "dropped samples", "> 0", h["dropped"])
        check(int(h["recorded"]) > 0, "recorded samples", "> 0",
              h["recorded"])
        # Keys the table holds are still counted when it is full.
        first = [c for c, size, _, _ in samples if size == 16]
        check(first == [101], "samples of the first size", [101], first)


@test
def read_only_directory_warns_once_and_program_runs_on():
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro", "tmpfs", tmp],
                           capture_output=True, text=True)
        check(r.returncode == 0, "mount a read-only tmpfs", "mounted",
              r.stderr.strip())
        try:
            p = profile("threads", tmp, ["4"], mean=1)
            lines = p.stderr.splitlines()
            check(len(lines) == 1 and "Read-only file system" in lines[0],
                  "stderr", "one line: ... Read-only file system", p.stderr)
        finally:
            subprocess.run(["umount", tmp])


@test
def full_disk_warns_once_and_program_runs_on():
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k",
                            "tmpfs", tmp], capture_output=True, text=True)
        check(r.returncode == 0, "mount a 16 KiB tmpfs", "mounted",
              r.stderr.strip())
        try:
            p = profile("keys", tmp, ["5000"], mean=1)
            check(p.stdout == "ok\n", "program output", "ok", p.stdout)
            lines = p.stderr.splitlines()
            check(len(lines) == 1 and "No space left on device" in lines[0],
                  "stderr", "one line: ... No space left on device", p.stderr)
        finally:
            subprocess.run(["umount", tmp])


# tools/mprof.

MPROF = os.path.join(TOP, "tools", "mprof")
PROTO_DIR = "/usr/share/gocode/src/github.com/google/pprof/proto"


def mprof(*args, input=None, env=None):
    return subprocess.run(["/usr/bin/python3", MPROF, *args], input=input,
                          capture_output=True, text=True, timeout=600,
                          env=clean_env(env or {}))


@test
def an_installed_mprof_runs_programs_on_the_recorded_build():
    """tools/install.sh puts mprof outside the checkout, recording it as
    where the glibc is: run from elsewhere, it profiles a program on that
    glibc, its report names the sites; --glibc elsewhere is refused in
    one line."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["sh", os.path.join(TOP, "tools", "install.sh"),
                        os.path.join(tmp, "prefix")], check=True,
                       capture_output=True)
        installed = os.path.join(tmp, "prefix", "bin", "mprof")
        out = os.path.join(tmp, "out")
        p = subprocess.run([installed, "run", "--mean", "65536", "--out",
                            out, "--", os.path.join(BIN, "estimate")],
                           cwd=tmp, capture_output=True, text=True,
                           timeout=300, env=clean_env({}))
        check(p.returncode == 0 and "site_small" in p.stderr,
              "installed mprof run", "status 0, site_small in its top",
              p.stderr[-500:])
        p = subprocess.run([installed, "--glibc", tmp, "run", "--",
                            "/bin/true"], cwd=tmp, capture_output=True,
                           text=True, timeout=60, env=clean_env({}))
        refused(p, "--glibc without a build", "holds no glibc")


@test
def mprof_run_passes_through_io_and_status():
    with tempfile.TemporaryDirectory() as out:
        p = mprof("run", "--mean", "4096", "--out", out, "--", "/bin/cat",
                  input="hello\n")
        check(p.returncode == 0 and p.stdout == "hello\n", "cat via run",
              "hello, status 0", (p.returncode, p.stdout, p.stderr))
        check(f"profile in {out}" in p.stderr, "where the profile is",
              f"profile in {out}", p.stderr)
    for script, status in (("exit 3", 3), ("kill -TERM $$", 128 + 15)):
        with tempfile.TemporaryDirectory() as out:
            p = mprof("run", "--out", out, "--", "/bin/sh", "-c", script)
            check(p.returncode == status, f"status of sh -c '{script}'",
                  status, p.returncode)
    with tempfile.TemporaryDirectory() as out:
        p = mprof("run", "--mean", "65536", "--out", out, "--",
                  os.path.join(BIN, "estimate"))
        check("site_small" in p.stdout, "program output", "site lines",
              p.stdout)
        top = p.stderr.split("top 10 call sites by estimated in-use bytes:")[-1]
        for name in ("site_small", "site_medium", "site_large"):
            check(name in top, f"{name} in the top 10", "present", p.stderr)


def estimate_run(out, seed=1, mean=65536):
    """Run tests/estimate through mprof run; its call sites' totals."""
    p = mprof("run", "--mean", str(mean), "--out", out, "--",
              os.path.join(BIN, "estimate"),
              env={var.SEED: str(seed)})
    check(p.returncode == 0, "mprof run estimate", "status 0", p.stderr)
    truth = {}
    for line in p.stdout.splitlines():
        parts = line.split()
        if parts and parts[0] == "site":
            truth[parts[1]] = (int(parts[3]), int(parts[4]))
    return truth


@test
@both
def mprof_report_formats_are_read_by_their_readers():
    """tests/estimate frees every block, so its reports show allocated
    bytes, which every format can carry."""
    mean = 65536
    with tempfile.TemporaryDirectory() as out, \
            tempfile.TemporaryDirectory() as rep:
        truth = estimate_run(out, mean=mean)
        f = {fmt: os.path.join(rep, "r." + fmt) for fmt in
             ("text", "folded", "flamegraph", "pprof", "gperf", "json")}
        for fmt, path in f.items():
            p = mprof("report", out, "--format", fmt, "--sample",
                      "alloc_space", "-o", path)
            check(p.returncode == 0, f"report --format {fmt}", "status 0",
                  p.stderr)
        # json: per function, within the statistical bound.
        with open(f["json"]) as fh:
            doc = json.load(fh)
        got = {}
        for smp in doc["samples"]:
            fn = smp["stack"][0]["frames"][0]["function"]
            got[fn] = got.get(fn, 0) + smp["estimated_bytes"]
        for name, (n, size) in truth.items():
            b = bound(n, size, mean)
            check(abs(got.get(name, 0) - n * size) <= max(b, 1e-6 * n * size),
                  f"json: {name} bytes (bound {b:.0f})", n * size,
                  got.get(name))
        total = doc["estimated_bytes"]
        with open(f["text"]) as fh:
            text = fh.read()
        for name in truth:
            check(name in text, f"text: {name}", "listed", text[:400])
        # folded: flamegraph.pl, speedscope and inferno read these lines.
        with open(f["folded"]) as fh:
            lines = fh.read().splitlines()
        folded = sum(int(line.rsplit(" ", 1)[1]) for line in lines)
        check(abs(folded - total) <= len(lines), "folded: sum of values",
              round(total), folded)
        with open(f["flamegraph"]) as fh:
            svg = fh.read()
        ET.fromstring(svg)
        for name in truth:
            check(name in svg, f"flamegraph: {name}", "in the SVG", "absent")
        # pprof, read by go tool pprof and by protoc with pprof's schema.
        p = subprocess.run(["go", "tool", "pprof", "-top",
                            "-sample_index=alloc_space", f["pprof"]],
                           capture_output=True, text=True, timeout=300,
                           env=dict(os.environ, HOME=rep))
        check(p.returncode == 0, "go tool pprof -top", "status 0", p.stderr)
        for name in truth:
            check(name in p.stdout, f"pprof: {name}", "listed", p.stdout)
        p = subprocess.run(["go", "tool", "pprof", "-raw", f["pprof"]],
                           capture_output=True, text=True, timeout=300,
                           env=dict(os.environ, HOME=rep))
        check(f"Period: {mean}" in p.stdout, "pprof -raw: period", mean,
              p.stdout[:300])
        # Each sample's values: allocated objects and bytes, in-use
        # objects and bytes.
        raw = sum(int(line.split()[1])
                  for line in p.stdout.splitlines()
                  if re.match(r"\s+\d+\s+\d+\s+0\s+0: ", line))
        check(abs(raw - total) <= len(doc["samples"]), "pprof: alloc_space",
              round(total), raw)
        with open(f["pprof"], "rb") as fh:
            data = gzip.decompress(fh.read())
        p = subprocess.run(["protoc", "--decode=perftools.profiles.Profile",
                            "-I", PROTO_DIR, "profile.proto"], input=data,
                           capture_output=True, timeout=60)
        check(p.returncode == 0 and b"period: 65536" in p.stdout,
              "protoc --decode", "a Profile with period 65536",
              p.stderr.decode()[:300])
        # gperftools' legacy text, read by Debian's google-pprof.
        p = subprocess.run(["google-pprof", "--text", "--alloc_space",
                            os.path.join(BIN, "estimate"), f["gperf"]],
                           capture_output=True, text=True, timeout=300)
        check(p.returncode == 0, "google-pprof --text", "status 0",
              p.stderr[:300])
        for name in truth:
            check(name in p.stdout, f"google-pprof: {name}", "listed",
                  p.stdout)


def readelf_build_id(path):
    """PATH's build ID as readelf shows it."""
    p = subprocess.run(["readelf", "-n", path], capture_output=True,
                       text=True, timeout=60)
    m = re.search(r"Build ID: ([0-9a-f]+)", p.stdout)
    check(m, f"readelf -n {path}", "a build ID", p.stdout + p.stderr)
    return m[1]


def pprof_mappings(path):
    """{file: (build ID, has functions)} of a pprof file, as go tool
    pprof -raw lists its mappings."""
    p = subprocess.run(["go", "tool", "pprof", "-raw", path],
                       capture_output=True, text=True, timeout=300)
    check(p.returncode == 0, "go tool pprof -raw", "status 0", p.stderr)
    found = {}
    for line in p.stdout.split("Mappings\n")[-1].splitlines():
        m = re.match(r"\d+: 0x\w+/0x\w+/0x\w+ (\S+) ?([0-9a-f]*)", line)
        if m:
            found[m[1]] = (m[2], "[FN]" in line)
    return found


@test
def mprof_run_names_libc_frames_from_the_libc_that_ran():
    """mprof run binds the built libc over the system's path, which the
    maps name: its frames are named from the built file, in every
    reader, not from the system's."""
    system_libc = os.path.realpath("/lib/x86_64-linux-gnu/libc.so.6")
    ours = os.path.join(TOP, "install", "lib", "libc.so.6")
    with tempfile.TemporaryDirectory() as out, \
            tempfile.TemporaryDirectory() as rep:
        p = mprof("run", "--unwind", "dwarf", "--mean", "4096", "--out", out,
                  "--", os.path.join(BIN, "in_libc"))
        check(p.returncode == 0, "mprof run in_libc", "status 0", p.stderr)
        check("warning" not in p.stderr, "mprof run's stderr", "no warning",
              p.stderr)
        (d,) = [d for by_n in dump_dirs(out).values() for d in by_n.values()]
        with open(os.path.join(d, f"mprof.{os.path.basename(d).split('.')[1]}"
                               ".maps")) as f:
            check(f" {system_libc}\n" in f.read(), "the maps", system_libc,
                  "another path")
        # With llvm-symbolizer, and with binutils' addr2line alone, which
        # names a function by any of its aliases (__GI___strdup).
        only = os.path.join(rep, "bin")
        os.mkdir(only)
        os.symlink(shutil.which("addr2line"), os.path.join(only, "addr2line"))
        for symbolizer, env in (("llvm-symbolizer", {}),
                                ("addr2line", {"PATH": only})):
            r = mprof("report", out, "--format", "folded", env=env)
            check(r.returncode == 0 and "warning" not in r.stderr,
                  f"report by {symbolizer}", "status 0, no warning",
                  r.stderr)
            stacks = [line.rsplit(" ", 1)[0].split(";")
                      for line in r.stdout.splitlines()]
            check(any(st[-2:] == ["main", "strdup"] for st in stacks),
                  f"a stack by {symbolizer}", "main, then strdup as its leaf",
                  stacks)
            check(any("start_thread" in st and st[-1] == "thread_site"
                      for st in stacks), f"a stack by {symbolizer}",
                  "start_thread ... thread_site", stacks)
        files = {fmt: os.path.join(rep, fmt) for fmt in ("gperf", "pprof")}
        for fmt, path in files.items():
            r = mprof("report", out, "--format", fmt, "-o", path)
            check(r.returncode == 0, f"report --format {fmt}", "status 0",
                  r.stderr)
        with open(files["gperf"]) as f:
            libs = f.read().split("MAPPED_LIBRARIES:")[1]
        check(ours in libs and system_libc not in libs, "gperf's libraries",
              f"{ours}, not {system_libc}", libs)
        # google-pprof names the PCs itself, from the libraries listed.
        g = subprocess.run(["google-pprof", "--text", "--inuse_space",
                            os.path.join(BIN, "in_libc"), files["gperf"]],
                           capture_output=True, text=True, timeout=300)
        # (The built libc's symbol table names strdup __GI___strdup.)
        names = {line.split()[-1].replace("__GI___", "")
                 for line in g.stdout.splitlines()[1:]}
        check({"strdup", "thread_site", "start_thread"} <= names,
              "google-pprof's functions", "strdup, thread_site, start_thread",
              g.stdout + g.stderr[-300:])
        maps = pprof_mappings(files["pprof"])
        check(maps.get(ours, ("",))[0] == readelf_build_id(ours),
              "pprof's mapping of libc", f"{ours} and its build ID", maps)


@test
def stripped_programs_named_by_build_id():
    """A program built without frame pointers, its debug information
    split off and the program stripped, as distributions ship them:
    whole stacks with --unwind dwarf, named from its debug file found by
    build ID in a directory the user names, in /usr/lib/debug, or from a
    debuginfod server, also after the program itself is gone."""
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "stacks")
        subprocess.run([CC, "-O2", "-g", "-fno-builtin",
                        "-fomit-frame-pointer", "-fno-optimize-sibling-calls",
                        "-o", exe,
                        os.path.join(TOP, "tests", "stacks.c")], check=True)
        debug = exe + ".debug"
        subprocess.run(["objcopy", "--only-keep-debug", exe, debug],
                       check=True)
        subprocess.run(["strip", "--strip-all", exe], check=True)
        bid = readelf_build_id(exe)
        out = os.path.join(tmp, "out")
        p = mprof("run", "--unwind", "dwarf", "--mean", "4096", "--out", out,
                  "--", exe)
        check(p.returncode == 0, "mprof run --unwind dwarf", "status 0",
              p.stderr)
        chains = {int(line.split()[1]): line.split()[2:]
                  for line in p.stdout.splitlines()
                  if line.startswith("chain ")}

        def stacks(*args, env=None):
            path = os.path.join(tmp, "r.json")
            r = mprof("report", out, "--format", "json", "-o", path, *args,
                      env=env)
            check(r.returncode == 0, "report", "status 0", r.stderr)
            with open(path) as f:
                return {smp["size"]: [function(fn) for fn in smp["functions"]]
                        for smp in json.load(f)["samples"]
                        if smp["size"] in chains}

        def named(where, found):
            for size, chain in chains.items():
                check(whole(found.get(size, []), chain),
                      f"{where}: the stack of {size} bytes", chain,
                      found.get(size))

        unnamed = stacks()
        check(all(st[0].startswith("stacks+0x") for st in unnamed.values()),
              "stacks without the debug file", "stacks+0x...", unnamed)
        pb = os.path.join(tmp, "p.pb.gz")
        r = mprof("report", out, "--format", "pprof", "-o", pb)
        check(r.returncode == 0, "report --format pprof", "status 0",
              r.stderr)
        check(pprof_mappings(pb).get(exe) == (bid, False),
              "pprof's mapping of the stripped program",
              (bid, "no functions: named by build ID"), pprof_mappings(pb))
        store = os.path.join(tmp, "debug")
        os.makedirs(os.path.join(store, ".build-id", bid[:2]))
        shutil.copy(debug, os.path.join(store, ".build-id", bid[:2],
                                        bid[2:] + ".debug"))
        named("--debug-dir", stacks("--debug-dir", store))
        system = os.path.join("/usr/lib/debug/.build-id", bid[:2],
                              bid[2:] + ".debug")
        os.makedirs(os.path.dirname(system), exist_ok=True)
        shutil.copy(debug, system)
        try:
            named("/usr/lib/debug", stacks())
        finally:
            os.unlink(system)
        # The build IDs mprof run recorded name the program after it is
        # gone, from a debuginfod server that has its debug file.
        os.unlink(exe)
        served = os.path.join(tmp, "served")
        os.mkdir(served)
        shutil.copy(debug, served)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen(
            ["debuginfod", "-F", "-p", str(port), "-d",
             os.path.join(tmp, "db.sqlite"), served],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}/buildid/{bid}/debuginfo"
            for _ in range(100):
                try:
                    urllib.request.urlopen(url, timeout=5).read(4)
                    break
                except OSError:
                    time.sleep(0.2)
            cache = os.path.join(tmp, "cache")
            env = {"DEBUGINFOD_URLS": f"http://127.0.0.1:{port}",
                   "DEBUGINFOD_CACHE_PATH": cache}
            named("debuginfod", stacks(env=env))
            check(os.path.isfile(os.path.join(cache, bid, "debuginfo")),
                  "debuginfod's cache", "the debug file", os.listdir(cache))
        finally:
            server.terminate()
            server.wait()


def pprof_raw_sites(text):
    """{leaf function: [alloc_objects, alloc_space, inuse_objects,
    inuse_space]} and the labels of the samples in go tool pprof -raw's
    TEXT."""
    samples = text.split("Samples:\n")[1].split("Locations\n")[0]
    locations = text.split("Locations\n")[1].split("Mappings\n")[0]
    names = {}
    for line in locations.splitlines():
        m = re.match(r"\s+(\d+): 0x\w+ M=\d+ (\S+)", line)
        if m:
            names[m[1]] = m[2]
    sites, labels = defaultdict(lambda: [0, 0, 0, 0]), set()
    for line in samples.splitlines()[1:]:
        m = re.match(r"\s+(-?\d+)\s+(-?\d+)\s+(-?\d+)\s+(-?\d+): (\d+)",
                     line)
        if m:
            site = sites[names.get(m[5], "?")]
            for i in range(4):
                site[i] += int(m[i + 1])
        else:
            labels |= set(re.findall(r"(\w+):\[", line))
    return sites, labels


def serve_in(tmp):
    """mprof serve on 127.0.0.1, its temporary files in TMP."""
    return subprocess.Popen(
        ["/usr/bin/python3", MPROF, "serve", "--listen", "127.0.0.1:0"],
        stderr=subprocess.PIPE, text=True, env={**os.environ, "TMPDIR": tmp})


def until_window_opens(tmp, pid):
    """Waits until the server of serve_in(TMP) has taken the first dump of
    PID for a request with seconds, so that what the test does next falls
    in the window however loaded the machine."""
    deadline = time.monotonic() + 60
    while not glob.glob(os.path.join(tmp, "mprof-serve.*", "dumps",
                                     f"mprof.{pid}.1")):
        check(time.monotonic() < deadline, "the window's first dump",
              "within 60 s", "not taken")
        time.sleep(0.02)


@test
def mprof_serve_answers_as_net_http_pprof():
    """mprof serve on 127.0.0.1 beside a running service: go tool pprof
    reads its heap and its growth over two seconds, within 4 sd of the
    truth; many requests at once and bad ones are answered, and the
    service's output and exit are untouched."""
    mean = 65536
    profiles = tempfile.mkdtemp()
    idle = None
    target = subprocess.Popen(
        [LOADER, "--library-path", LIB, os.path.join(BIN, "serve_target")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env=clean_env({var.ON: "1",
                       var.MEAN: str(mean),
                       var.OUT: profiles}))
    windows = tempfile.mkdtemp()
    server = serve_in(windows)
    try:
        _, hold, size = target.stdout.readline().split()
        hold, size = int(hold), int(size)
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", server.stderr.readline())
        check(m, "mprof serve's first line", "its address", m)
        base = f"http://127.0.0.1:{m[1]}/debug/pprof"

        def get(path):
            try:
                with urllib.request.urlopen(base + path, timeout=120) as r:
                    return r.status, r.read()
            except urllib.error.HTTPError as e:
                return e.code, e.read()

        status, index = get("/")
        check(status == 200 and f"pid={target.pid}".encode() in index,
              "/debug/pprof/", f"lists {target.pid}", index[:300])
        # go tool pprof posts the PCs a profile left unnamed (a stripped
        # program's) to /symbol and gives up if that fails.
        with urllib.request.urlopen(base + "/symbol", data=b"0x1234",
                                    timeout=60) as r:
            check(r.status == 200 and r.read() == b"", "POST /symbol",
                  "200, no names", r.status)
        p = subprocess.run(["go", "tool", "pprof", "-raw",
                            f"{base}/heap?pid={target.pid}"],
                           capture_output=True, text=True, timeout=300,
                           env=clean_env({"PPROF_TMPDIR":
                                          tempfile.gettempdir()}))
        check(p.returncode == 0, "go tool pprof -raw .../heap", "status 0",
              p.stderr[-300:])
        check("PeriodType: space bytes" in p.stdout and
              f"Period: {mean}" in p.stdout, "period", f"space bytes {mean}",
              p.stdout[:300])
        sites, labels = pprof_raw_sites(p.stdout)
        check({"pid", "command", "executable"} <= labels, "labels",
              "pid, command, executable", labels)
        got = sites["hold_site"][3]
        check(abs(got - hold * size) <= bound(hold, size, mean),
              "hold_site in use", hold * size, got)
        # Its lifetimes, as tcmalloc's lifetime profile: the blocks it
        # holds are censored, of their age.
        p = subprocess.run(["go", "tool", "pprof", "-raw",
                            f"{base}/lifetimes?pid={target.pid}"],
                           capture_output=True, text=True, timeout=300,
                           env=clean_env({"PPROF_TMPDIR":
                                          tempfile.gettempdir()}))
        check(p.returncode == 0, "go tool pprof -raw .../lifetimes",
              "status 0", p.stderr[-300:])
        check("deallocated_space/bytes[dflt] censored_allocated_objects/"
              "count" in p.stdout and "hold_site" in p.stdout
              and "avg_lifetime:[" in p.stdout, "lifetimes",
              "tcmalloc's sample types, hold_site, avg_lifetime",
              p.stdout[:600])
        # The growth over two seconds, in which the service grows by K.
        k, result = 3000, {}
        t = threading.Thread(target=lambda: result.update(
            r=get(f"/allocs?pid={target.pid}&seconds=2")))
        t.start()
        until_window_opens(windows, target.pid)
        target.stdin.write(f"grow {k}\n")
        target.stdin.flush()
        check(target.stdout.readline() == f"grew {k}\n", "the service",
              f"grew {k}", "")
        t.join()
        status, data = result["r"]
        check(status == 200, "allocs?seconds=2", 200, data[:200])
        with tempfile.NamedTemporaryFile(suffix=".pb.gz") as f:
            f.write(data)
            f.flush()
            p = subprocess.run(["go", "tool", "pprof", "-raw", f.name],
                               capture_output=True, text=True, timeout=300)
        sites, _ = pprof_raw_sites(p.stdout)
        got = sites["grow_site"][1]
        check(abs(got - k * size) <= bound(k, size, mean),
              "grow_site's growth over 2 s", k * size, got)
        check(abs(sites["hold_site"][1]) <= bound(hold, size, mean) / 4,
              "hold_site's growth", 0, sites["hold_site"][1])
        # Many at once: each answered, with a profile or "busy".
        answers = []
        threads = [threading.Thread(target=lambda: answers.append(
            get(f"/heap?pid={target.pid}")[0])) for _ in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check(len(answers) == 50 and set(answers) <= {200, 503}
              and 200 in answers, "50 requests at once",
              "each 200 or 503", answers)
        bad = {"/heap?pid=999999999": 400, "/heap?pid=4194000": 404,
               "/heap?pid=abc": 400, "/heap?pid=": 400,
               "/heap?seconds=-1": 400,
               "/heap?seconds=1e9": 400, "/heap?what=1": 400,
               f"/heap?pid={target.pid}&pid=1": 400, "/heap?%zz": 400,
               "/goroutine": 404, f"/heap?pid={os.getpid()}": 404,
               f"/heap?pid={target.pid}&debug=1": 400,
               f"/lifetimes?pid={target.pid}&seconds=1": 400}
        # A process that profiles and has taken no sample yet.
        idle = subprocess.Popen(
            [LOADER, "--library-path", LIB, os.path.join(BIN, "serve_target")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env=clean_env({var.ON: "1",
                           var.MEAN: str(1 << 48),
                           var.OUT: profiles}))
        idle.stdout.readline()
        # It has its resident memory, as pseudo-frames, and no sample.
        status, body = get(f"/heap?pid={idle.pid}")
        pseudo = pprof_pseudo_frames(body) if status == 200 else {}
        check(pseudo.get((idle.pid, "not_malloc"), 0) > 0,
              "the heap of a process with no sample", "its resident memory",
              (status, pseudo))
        for path, want in bad.items():
            status, body = get(path)
            lines = body.decode(errors="replace").splitlines()
            check(status == want and len(lines) == 1 and
                  lines[0].startswith("mprof serve: "), path,
                  f"{want} and one line", (status, body[:200]))
        # Another user's process, asked of a server run as nobody, from
        # a copy of tools/ that nobody can read wherever this tree is.
        tools = tempfile.mkdtemp()
        os.chmod(tools, 0o755)
        shutil.copytree(os.path.join(TOP, "tools"),
                        os.path.join(tools, "tools"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        nobody = subprocess.Popen(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
             "/usr/bin/python3", os.path.join(tools, "tools", "mprof"),
             "serve", "--listen", "127.0.0.1:0"],
            stderr=subprocess.PIPE, text=True)
        try:
            line = nobody.stderr.readline()
            m = re.search(r":(\d+)/", line)
            check(m, "mprof serve as nobody", "its address", line)
            url = (f"http://127.0.0.1:{m[1]}/debug/pprof/heap?"
                   f"pid={target.pid}")
            try:
                urllib.request.urlopen(url, timeout=60)
                status = 200
            except urllib.error.HTTPError as e:
                status = e.code
            check(status == 403, "another user's process", 403, status)
        finally:
            nobody.terminate()
            nobody.wait()
            shutil.rmtree(tools)
        idle.communicate("", timeout=60)
        check(server.poll() is None, "mprof serve", "still running",
              server.returncode)
        status, _ = get(f"/heap?pid={target.pid}")
        check(status == 200, "a request after the bad ones", 200, status)
        out, _ = target.communicate("", timeout=60)
        check(out == "bye\n" and target.returncode == 0, "the service",
              "bye, status 0", (out, target.returncode))
    finally:
        for proc in (target, server, idle):
            if proc and proc.poll() is None:
                proc.kill()
                proc.wait()
        shutil.rmtree(profiles)
        shutil.rmtree(windows)


@test
def mprof_serve_attaches_a_plain_service_for_allocs_seconds():
    """allocs?pid=N&seconds=2 on a service started without the profiler
    attaches it, answers with what it allocated in those seconds, which
    go tool pprof reads, within 4 sd, and detaches it; the service's
    output and exit are untouched."""
    windows = tempfile.mkdtemp()
    server = serve_in(windows)
    p = start_plain("attach")
    pkg = mprof_package()
    try:
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", server.stderr.readline())
        check(m, "mprof serve's first line", "its address", m)
        url = (f"http://127.0.0.1:{m[1]}/debug/pprof/allocs?pid={p.pid}"
               "&seconds=2")
        result = {}

        def get():
            try:
                with urllib.request.urlopen(url, timeout=120) as r:
                    result["data"] = r.read()
            except urllib.error.HTTPError as e:
                result["error"] = (e.code, e.read())
        t = threading.Thread(target=get)
        t.start()
        deadline = time.monotonic() + 10
        while not pkg.attach.counting(p.pid):
            check(time.monotonic() < deadline, "the service", "attached",
                  "not within 10 s")
            time.sleep(0.05)
        until_window_opens(windows, p.pid)
        rounds = 10
        for _ in range(rounds):
            stdout = tell(p, "run 1", "ran 1")
            tell(p, "free 1", "freed 1")
        t.join()
        check("data" in result, "allocs?seconds=2", "a profile", result)
        check(not pkg.attach.counting(p.pid), "the service after the window",
              "detached", "counting")
        with tempfile.NamedTemporaryFile(suffix=".pb.gz") as f:
            f.write(result["data"])
            f.flush()
            r = subprocess.run(["go", "tool", "pprof", "-raw", f.name],
                               capture_output=True, text=True, timeout=300)
        check(r.returncode == 0, "go tool pprof -raw", "status 0",
              r.stderr[-300:])
        got = pprof_raw_sites(r.stdout)[0]
        mean = 524288
        for name, (_, _, (n, _, size)) in sites(
                stdout, os.path.join(BIN, "attach")).items():
            n, size = int(n) * rounds, int(size)
            check(abs(got[name][1] - n * size) <= bound(n, size, mean),
                  f"{name}: bytes allocated in the window", n * size,
                  got[name][1])
        tell(p, "quit", "bye")
        check(p.wait() == 3 and p.stderr.read() == "", "the service",
              "status 3, nothing on standard error", p.returncode)
    finally:
        for proc in (server, p):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        shutil.rmtree(windows)


@test
def mprof_report_rejects_bad_input_in_one_line():
    with tempfile.TemporaryDirectory() as tmp:
        good = os.path.join(tmp, "good")
        os.mkdir(good)
        profile("threads", good, ["0"], mean=4096)
        (good,) = [d for by_n in dump_dirs(good).values()
                   for d in by_n.values()]
        (heap,) = [n for n in os.listdir(good) if n.endswith(".heap")]
        with open(os.path.join(good, heap)) as fh:
            text = fh.read()

        def live(value):
            """TEXT with the live field of its first sample set to VALUE
            (a function of the sample's count)."""
            lines = text.split("\n")
            i = next(i for i, line in enumerate(lines) if line[:1].isdigit())
            fields = lines[i].split()
            fields[1] = str(value(int(fields[0])))
            lines[i] = " ".join(fields)
            return {heap: "\n".join(lines)}

        # Each case: the files, and the words its one line must hold.
        cases = {
            "missing": (None, ""),
            "empty": ({}, ""),
            "truncated": ({heap: text[:len(text) // 2]}, ""),
            "version": ({heap: text.replace("malloc-profile 5",
                                            "malloc-profile 99", 1)},
                        "version"),
            "version 1": ({heap: text.replace("malloc-profile 5",
                                              "malloc-profile 1", 1)},
                          "version 1"),
            "corrupt": ({heap: text.replace("\nend\n",
                                            "\n7 1 x 0xzz\nend\n")}, ""),
            "live above count": (live(lambda count: count + 1), "live"),
            "negative live": (live(lambda count: -1), "live"),
            "size 0": ({heap: text.replace("\nend\n",
                                           "\n1 0 0 0x1000\nend\n")}, ""),
            "garbage": ({heap: "\x00\xff binary junk"}, ""),
            "maps": ({heap: text}, "another process"),
        }
        for case, (files, words) in cases.items():
            d = os.path.join(tmp, case)
            if files is not None:
                os.mkdir(d)
                for name, content in files.items():
                    with open(os.path.join(d, name), "w") as fh:
                        fh.write(content)
            if case == "maps":
                # A maps file of another process under the expected name.
                maps = [n for n in os.listdir(good) if n.endswith(".maps")][0]
                with open(os.path.join(good, maps)) as fh:
                    m = fh.read()
                with open(os.path.join(d, maps), "w") as fh:
                    fh.write(m.replace("\npid ", "\npid 9", 1))
            p = mprof("report", d)
            lines = p.stderr.splitlines()
            check(p.returncode != 0 and len(lines) == 1
                  and lines[0].startswith("mprof: ") and words in lines[0]
                  and "Traceback" not in p.stderr,
                  f"report of {case} input",
                  f"one 'mprof: ' line naming '{words}', status != 0",
                  (p.returncode, p.stderr))


# A profile written by hand, so that what mprof reports can be computed
# here: {tid: [(count, live, size, stack)]} of one process.  The first key
# of each thread has the same stack and size, so reports by call site add
# them up; 0x401100's samples were all freed; 0x401300's are of 0 bytes.
HANDMADE_MEAN = 4096
HANDMADE = {
    4242: [(5, 2, 100, (0x401000, 0x402000)),
           (10, 0, 5000, (0x401100, 0x402000)),
           (3, 3, 20000, (0x401200, 0x402100))],
    4243: [(4, 1, 100, (0x401000, 0x402000)),
           (1, 1, 1, (0x401300,))],
}


def write_handmade(out, version=5, live=True):
    """HANDMADE's profiles in OUT, without maps: the reports show each
    PC as it is.  LIVE false: nothing was still allocated."""
    for tid, keys in HANDMADE.items():
        n = sum(k[0] for k in keys)
        lines = [f"malloc-profile {version}", "pid 4242", f"tid {tid}",
                 "thread-name ", "exe /bin/true", f"mean {HANDMADE_MEAN}",
                 "depth 64", "unwind fp", f"taken {n}",
                 f"recorded {n}", "dropped 0", f"keys {len(keys)}",
                 "# count live size frames..."]
        lines += [f"{c} {lv if live else 0} {size} "
                  + " ".join(f"{pc:#x}" for pc in st)
                  for c, lv, size, st in keys]
        with open(os.path.join(out, f"mprof.4242.{tid}.heap"), "w") as f:
            f.write("\n".join(lines + ["end", ""]))


@test
def mprof_report_in_use_and_leaks_from_handmade_profile():
    mean = HANDMADE_MEAN
    # What each report must say, computed here: per key, then per site.
    want = {}           # (tid, size, stack) -> (count, live, 4 estimates)
    # stack -> [live, in-use objects, in-use bytes]
    per_site = defaultdict(lambda: [0, 0.0, 0.0])
    for tid, keys in HANDMADE.items():
        for c, lv, size, st in keys:
            p = probability(size, mean)
            want[(tid, size, st)] = (c, lv, c / p, c * size / p, lv / p,
                                     lv * size / p)
            if lv:
                per_site[st][0] += lv
                per_site[st][1] += lv / p
                per_site[st][2] += lv * size / p
    totals = [sum(v[i] for v in want.values()) for i in range(2, 6)]

    def close(a, b):
        return abs(a - b) <= 1e-9 * max(1, abs(b))

    with tempfile.TemporaryDirectory() as d, \
            tempfile.TemporaryDirectory() as rep:
        write_handmade(d)
        # The tests' own reader of the format.
        for tid, keys in HANDMADE.items():
            path = os.path.join(d, f"mprof.4242.{tid}.heap")
            h, samples = read_profile(path)
            check(samples == [(c, size, st, lv) for c, lv, size, st in keys],
                  "read_profile", keys, samples)

        def report(*args):
            p = mprof("report", d, *args)
            check(p.returncode == 0 and p.stderr == "",
                  f"mprof report {' '.join(args)}", "status 0, no stderr",
                  (p.returncode, p.stderr))
            return p.stdout

        # json: every estimate, per sample and in total.
        doc = json.loads(report("--format", "json"))
        check(doc["version"] == 2, "json version", 2, doc["version"])
        got = {(smp["tid"], smp["size"],
                tuple(int(fr["pc"], 16) for fr in smp["stack"])):
               (smp["count"], smp["live"], smp["estimated_objects"],
                smp["estimated_bytes"], smp["estimated_inuse_objects"],
                smp["estimated_inuse_bytes"]) for smp in doc["samples"]}
        check(got.keys() == want.keys() and all(
            all(close(a, b) for a, b in zip(got[k], want[k])) for k in want),
            "json: count, live, estimated objects, bytes, in-use objects "
            "and in-use bytes", want, got)
        got_totals = [doc[k] for k in (
            "estimated_objects", "estimated_bytes", "estimated_inuse_objects",
            "estimated_inuse_bytes")]
        check(all(map(close, got_totals, totals)), "json: totals", totals,
              got_totals)

        # --leaks: the sites with samples still live, most bytes first.
        text = report("--leaks")
        rows = [m.groups() for m in re.finditer(
            r"^ *([\d.]+ [KMGT]?i?B) +([\d,]+) +(\d+) +\S+  (\S+)$", text,
            re.M)]
        order = sorted(per_site, key=lambda st: -per_site[st][2])
        expected = [(f"{per_site[st][1]:,.0f}", str(per_site[st][0]),
                     f"{st[0]:#x}") for st in order]
        got = [r[1:] for r in rows]
        check(got == expected,
              "--leaks: (objects, samples, site), most bytes first",
              expected, got)
        lines = text.rstrip("\n").split("\n")
        live = sum(v[0] for v in per_site.values())
        check(lines[-1].startswith(f"estimates from {live} sampled"),
              "--leaks: its last line", f"estimates from {live} sampled ...",
              lines[-1])
        for st in order:
            if len(st) > 1:
                check(f"<- {st[1]:#x}" in text, f"--leaks: caller of "
                      f"{st[0]:#x}", f"<- {st[1]:#x}", text)

        # text: both totals on top; the tables ordered by --sample.
        for sample, first in (("inuse_space", 0x401200),
                              ("alloc_space", 0x401100)):
            text = report("--sample", sample)
            lines = text.split("\n")
            check(lines[3].startswith("estimated in use: ")
                  and lines[4].startswith("estimated allocated: "),
                  "text: the totals", "estimated in use: ..., estimated "
                  "allocated: ...", lines[3:5])
            site = lines[8].split()[-1]
            check(site == f"{first:#x}", f"text --sample {sample}: first "
                  "site", f"{first:#x}", lines[6:9])
        # folded: what is shown is the chosen sample.
        for sample, present in (("inuse_space", False), ("alloc_space", True)):
            text = report("--format", "folded", "--sample", sample)
            check(("0x401100" in text) == present, f"folded --sample "
                  f"{sample}: 0x401100, all freed", present, text)

        # gperf: in use, then allocated in brackets.
        head = report("--format", "gperf").split("\n")[0]
        m = re.match(r"heap profile: +(\d+): +(\d+) \[ *(\d+): +(\d+)\] "
                     r"@ heapprofile$", head)
        expected = [round(totals[i]) for i in (2, 3, 0, 1)]
        check(m and all(abs(int(g) - e) <= 1 for g, e in
                        zip(m.groups(), expected)),
              "gperf header: in-use objects, bytes [allocated objects, "
              "bytes]", expected, head)

        # pprof: four sample types, the chosen one the default.
        for sample in ("inuse_space", "alloc_objects"):
            path = os.path.join(rep, f"{sample}.pb.gz")
            report("--format", "pprof", "--sample", sample, "-o", path)
            with open(path, "rb") as fh:
                fields = protobuf(gzip.decompress(fh.read()))
            strings = [v.decode() for f, v in fields if f == 6]
            types = [tuple(strings[v] for _, v in protobuf(m))
                     for f, m in fields if f == 1]
            expected = [("alloc_objects", "count"), ("alloc_space", "bytes"),
                        ("inuse_objects", "count"), ("inuse_space", "bytes")]
            check(types == expected, "pprof: sample types", expected, types)
            default = [strings[v] for f, v in fields if f == 14]
            check(default == [sample], "pprof: default sample type",
                  sample, default)
            values = [varints(v) for f, m in fields if f == 2
                      for f2, v in protobuf(m) if f2 == 2]
            sums = [sum(v[i] for v in values) for i in range(4)]
            check(all(abs(s - t) <= len(values) for s, t in zip(sums, totals)),
                  "pprof: sums of each sample type", totals, sums)

        p = mprof("report", d, "--leaks", "--format", "json")
        check(p.returncode == 1 and len(p.stderr.splitlines()) == 1
              and p.stderr.startswith("mprof: ") and "--leaks" in p.stderr,
              "--leaks --format json", "one 'mprof: ... --leaks ...' line, "
              "status 1", (p.returncode, p.stderr))

    with tempfile.TemporaryDirectory() as d:
        write_handmade(d, live=False)
        p = mprof("report", d, "--leaks")
        check(p.returncode == 0 and p.stdout.startswith(
            "no sampled allocation was still allocated")
            and p.stdout.count("\n") == 1,
            "--leaks with nothing live", "one line: no sampled allocation "
            "was still allocated ...", p.stdout)
    with tempfile.TemporaryDirectory() as d:
        write_handmade(d, version=1)
        p = mprof("report", d)
        check(p.returncode == 1 and len(p.stderr.splitlines()) == 1
              and "format version 1" in p.stderr,
              "a version-1 profile", "one line naming format version 1",
              p.stderr)


# Where the resident memory is.

MEMORY_LAYOUTS = ("frag", "threads", "top", "tcache", "mmapped")


def memory_figures(text):
    """The figures tests/memory printed: {"mallinfo": [arena, ordblks,
    uordblks, fordblks, hblkhd, keepcost], "rss": n, "tcache": n,
    "trimmed": n}."""
    out = {}
    for line in text.splitlines():
        name, *values = line.split()
        out[name] = [int(v) for v in values]
        if len(values) == 1:
            out[name] = out[name][0]
    return out


def near(a, b, share, slack=4096):
    return abs(a - b) <= share * max(abs(a), abs(b)) + slack


def pprof_pseudo_frames(data):
    """{(pid, part): in-use bytes} of the samples of a pprof file that
    carry a "memory" label, the pseudo-frames of the resident memory."""
    prof = protobuf(gzip.decompress(data))
    strings = [v for f, v in prof if f == 6]
    types = [dict(protobuf(v))[1] for f, v in prof if f == 1]
    inuse = [strings[t].decode() for t in types].index("inuse_space")
    found = {}
    for f, v in prof:
        if f != 2:
            continue
        sample = protobuf(v)
        labels = [dict(protobuf(m)) for k, m in sample if k == 3]
        part = [strings[lb[2]].decode() for lb in labels
                if strings[lb[1]] == b"memory"]
        pid = [lb[3] for lb in labels if strings[lb[1]] == b"pid"]
        if part:
            values = varints(dict(sample)[2])
            found[(pid[0], part[0])] = values[inuse]
    return found


@test
def resident_memory_is_explained_by_the_allocator():
    """For five known layouts, at a pause, mprof dump (from outside) and
    then the dump at exit (from inside) split the process's resident
    memory into malloc's parts, which match the program's own mallinfo2
    within 1% and add up to its RSS within 2%; malloc_trim (0), called
    after the first dump, gives back within 5% of what it predicted.
    The text report advises, json and pprof carry the same figures."""
    for layout in MEMORY_LAYOUTS:
        with tempfile.TemporaryDirectory() as out:
            # A sampled block of the tcache layout is freed as its outer
            # block, into the bin of a larger size, whose seventh block
            # it displaces: the program would count in the tcache what is
            # not there.  Nothing is sampled there.
            mean = 1 << 40 if layout == "tcache" else 524288
            p, _ = start("memory", [layout], out, mean)
            try:
                p.stdin.write("\n")
                p.stdin.flush()
                before = until_ready(p)
                timed_dump(p.pid)
                p.stdin.write("go\n")
                p.stdin.flush()
                after = p.stdout.read()
            finally:
                p.stdin.close()
                p.wait()
            check(p.returncode == 0, f"{layout}: status", 0,
                  (p.returncode, p.stderr.read()))
            pid = p.pid
            later = memory_figures(after)
            for n, truth, what in ((1, memory_figures(before), "outside"),
                                   (2, later, "at exit")):
                r = mprof("report", out, "--dump", str(n), "--format",
                          "json")
                check(r.returncode == 0, f"{layout}: report of dump {n}",
                      "status 0", r.stderr)
                m = json.loads(r.stdout)["memory"]
                what = f"{layout}, {what}"
                for key in ("rss", "malloc_in_use", "tcache", "fastbins",
                            "free_in_arenas", "free_in_arenas_resident",
                            "top", "mmapped", "not_malloc",
                            "trim_would_release", "arenas"):
                    check(key in m, f"{what}: json memory", key, sorted(m))
                arena, _, uord, ford, hblkhd, keepcost = truth["mallinfo"]
                arenas = m["arenas"]
                check(not any(a["busy"] for a in arenas), f"{what}: arenas",
                      "all walked", arenas)
                pairs = (
                    ("system", sum(a["system"] for a in arenas), arena),
                    ("in use (with tcaches, headers)",
                     m["malloc_in_use"] - m["mmapped"] + m["tcache"]
                     + m["metadata"], uord),
                    ("free and top", m["free_in_arenas"] + m["top"], ford),
                    ("mmapped", m["mmapped"], hblkhd),
                    ("main top", arenas[0]["top"], keepcost),
                    ("rss", m["rss"], truth["rss"]))
                for name, got, want in pairs:
                    # At exit, the exit path and the dump's own code and
                    # buffers come between the figures and the dump.
                    slack = 256 << 10 if n == 2 and name == "rss" else 4096
                    check(near(got, want, 0.01, slack), f"{what}: {name}",
                          want, got)
                parts = (m["malloc_in_use"] + m["tcache"] + m["fastbins"]
                         + m["free_in_arenas_resident"] + m["top_resident"]
                         + m["metadata"] + m["not_malloc"])
                check(near(parts, m["rss"], 0.02, 0), f"{what}: the parts",
                      f"RSS {m['rss']} within 2%", parts)
                check(m["tcache"] >= truth["tcache"]
                      and near(m["tcache"], truth["tcache"], 0.01),
                      f"{what}: tcache", truth["tcache"], m["tcache"])
                if n == 1:
                    check(near(later["trimmed"], m["trim_would_release"],
                               0.05, 16 * 4096), f"{what}: malloc_trim",
                          f"{m['trim_would_release']} within 5%",
                          later["trimmed"])
            if layout == "frag":
                check(m["free_chunks"] >= 10000
                      and near(m["free_in_arenas"], 10000 * 6016, 0.01),
                      "frag: free chunks", "10000 of 6016 bytes",
                      (m["free_chunks"], m["free_in_arenas"]))
            elif layout == "threads":
                check(len(arenas) == 9 and all(
                    a["in_use"] >= 1000 * 4000 for a in arenas[1:]),
                      "threads: arenas", "main and 8 of 4 MB", arenas)
            elif layout == "mmapped":
                check(m["mmapped_chunks"] == 40, "mmapped: chunks", 40,
                      m["mmapped_chunks"])
            # The first dump, from outside, is the process at the pause.
            text = mprof("report", out, "--dump", "1").stdout
            advice = {"threads": "glibc.malloc.arena_max",
                      "top": "malloc_trim (0) would give back",
                      "frag": "fragmentation"}
            check(layout not in advice or "advice: " in text
                  and advice[layout] in text, f"{layout}: advice",
                  advice.get(layout), text)
            r = subprocess.run(["/usr/bin/python3", MPROF, "report", out,
                                "--dump", "1", "--format", "pprof"],
                               capture_output=True, timeout=600)
            json_parts = json.loads(mprof("report", out, "--dump", "1",
                                          "--format", "json").stdout)
            pseudo = pprof_pseudo_frames(r.stdout)
            for part in ("free_in_arenas_resident", "not_malloc"):
                want = json_parts["memory"][part]
                check(pseudo.get((pid, part), 0) == want,
                      f"{layout}: pprof's pseudo-frame {part}", want, pseudo)
            # Both dumps, plotted by part: each part's peak is the larger
            # of the two dumps'.
            svg = os.path.join(out, "memory.svg")
            r = mprof("plot", "--memory", out, "-o", svg)
            check(r.returncode == 0, f"{layout}: plot --memory", "status 0",
                  r.stderr)
            with open(svg) as f:
                titles = dict(re.findall(r"<title>([^<]*): up to ([^<]*)</",
                                         html.unescape(f.read())))
            pkg = mprof_package()
            for key, name in pkg.plot.MEMORY_PARTS:
                want = max(json.loads(mprof(
                    "report", out, "--dump", str(n), "--format",
                    "json").stdout)["memory"][key] for n in (1, 2))
                check(titles.get(name) == pkg.memory.human(want),
                      f"{layout}: plotted {name}", pkg.memory.human(want),
                      titles)


@test
@both
def lifetimes_per_site_match_known_truth():
    """tests/lifetimes.c frees blocks of four sites after about 12 us,
    1.2 ms and 120 ms, and from another thread after 1.2 ms, and never
    frees those of a fifth; it measures each block's lifetime itself.
    Dumped from outside while it pauses, and at exit: each site's median
    is in the bucket of the median it measured, the share freed within
    1 ms is within 4 sd of its own, only the other thread's frees are
    flagged, and the mean age of the blocks never freed is within 10% of
    the time since it made them.  The text report names every site, and
    pprof's lifetime profile, filtered by avg_lifetime as tcmalloc's is,
    keeps the 12 us site alone."""
    mean = 4096
    with tempfile.TemporaryDirectory() as out:
        env = clean_env({var.ON: "1",
                         var.OUT: out,
                         var.MEAN: str(mean)})
        proc = subprocess.Popen([*EMULATOR, LOADER, "--library-path", LIB,
                                 os.path.join(BIN, "lifetimes"), "3"],
                                env=env, stdout=subprocess.PIPE, text=True)
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("kept"):
                break
        # mprof dump reads 64-bit processes, and not through qemu-user.
        inside = not EMULATOR and ARCH != "i386"
        outside = os.path.join(out, "outside")
        if inside:
            p = mprof("dump", str(proc.pid), "-o", outside)
            check(p.returncode == 0, "mprof dump", "status 0", p.stderr)
        lines += proc.stdout.readlines()
        check(proc.wait() == 0, "lifetimes status", 0, proc.returncode)
        truth, made = {}, None
        for line in lines:
            f = line.split()
            if f[0] == "site":
                truth[f[1]] = (int(f[3]), int(f[5]), int(f[7]))
            elif f[0] == "never":
                made = int(f[2]) / 1e9
        for where in [out] + ([outside] if inside else []):
            p = mprof("report", "--lifetimes", "--format", "json", where)
            check(p.returncode == 0, f"{where}: report --lifetimes --format "
                  "json", "status 0", p.stderr)
            doc = json.loads(p.stdout)
            found = {}
            for site in doc["lifetimes"]:
                for name in list(truth) + ["site_never"]:
                    if any(fn.split()[0] == name
                           for fn in site["functions"][:2]):
                        found[name] = site
            for name, (median, blocks, temporary) in truth.items():
                site = found.get(name)
                check(site and site["sampled_frees"] > 0, f"{where}: {name}",
                      "sampled frees", site)
                low, high = site["median_bucket"]
                check(low <= median < (high or 1 << 64),
                      f"{where}: {name} median bucket", median, (low, high))
                other = site["other_thread_frees"]
                expected = site["sampled_frees"] if name == "site_cross" else 0
                check(other == expected, f"{where}: {name} frees by another "
                      "thread", expected, other)
            est = sum(found[n]["temporary_share"] * found[n]["estimated_frees"]
                      for n in truth)
            est /= sum(found[n]["estimated_frees"] for n in truth)
            share = (sum(t[2] for t in truth.values())
                     / sum(t[1] for t in truth.values()))
            n = sum(found[n]["sampled_frees"] for n in truth)
            sd = math.sqrt(share * (1 - share) / n)
            check(abs(est - share) <= SIGMAS * sd + 1e-9,
                  f"{where}: share freed within 1 ms", f"{share:.4f}",
                  f"{est:.4f} (sd {sd:.4f})")
            never = found.get("site_never")
            check(never and never["live"] > 0 and never["sampled_frees"] == 0,
                  f"{where}: site_never", "live samples, no frees", never)
            heaps = glob.glob(os.path.join(where, "mprof.*.*", "*.heap"))
            with open(heaps[0]) as f:
                when = float(re.search(r"\ntime (\S+)", f.read())[1])
            age = never["mean_age_ns"] / 1e9
            check(abs(age - (when - made)) <= 0.1 * (when - made),
                  f"{where}: mean age of the blocks never freed",
                  f"{when - made:.3f} s", f"{age:.3f} s")
        p = mprof("report", "--lifetimes", out)
        for name in list(truth) + ["site_never"]:
            check(name in p.stdout, f"report --lifetimes: {name}", "listed",
                  p.stdout)
        pb = os.path.join(out, "lifetimes.pb.gz")
        p = mprof("report", "--lifetimes", "--format", "pprof", "-o", pb, out)
        check(p.returncode == 0, "report --lifetimes --format pprof",
              "status 0", p.stderr)
        p = mprof("report", "--format", "pprof", "-o", pb + ".heap", out)
        check(p.returncode == 0, "report --format pprof", "status 0",
              p.stderr)
        if shutil.which("go"):
            def pprof(*args):
                p = subprocess.run(["go", "tool", "pprof", *args],
                                   capture_output=True, text=True,
                                   timeout=300, env=dict(os.environ,
                                                         HOME=out))
                check(p.returncode == 0, f"go tool pprof {args}", "status 0",
                      p.stderr)
                return p.stdout
            top = pprof("-top", "-tagfocus=avg_lifetime=:1ms", pb)
            check("site_10us" in top and "site_1ms" not in top
                  and "site_100ms" not in top,
                  "pprof -tagfocus=avg_lifetime=:1ms", "site_10us alone", top)
            # The in-use profile gives each live key its mean age.
            top = pprof("-top", "-tagfocus=age=100ms:", pb + ".heap")
            check("site_never" in top, "pprof -tagfocus=age=100ms:",
                  "site_never", top)


def mprof_package():
    """tools/mproflib, imported whole (cli imports every module)."""
    tools = os.path.join(TOP, "tools")
    if tools not in sys.path:
        sys.path.insert(0, tools)
    import mproflib.cli
    return mproflib


def render_all(pkg, prof, sym, sample, skip=()):
    """Every format but those in SKIP, and the leaks and lifetimes
    reports, with SAMPLE as mprof report would pass it."""
    options = pkg.formats.Options
    for name, fmt in pkg.formats.FORMATS.items():
        if name not in skip:
            fmt.render(prof, sym, options(sample=sample, top=5,
                                          by_thread=True))
    pkg.formats.leaks.render(prof, sym, options(
        sample=sample if sample.startswith("inuse_") else "inuse_space"))
    pkg.formats.lifetimes.render(prof, sym, options())
    pkg.formats.pprof.render(prof, sym, options(sample=sample,
                                                lifetimes=True))


@test
def mprof_reader_survives_mutated_profiles():
    """3000 mutated profiles: each is read or rejected with BadInput,
    never a traceback, in every format with every sample type and in
    the leaks and lifetimes reports; the whole run is bounded by its
    time."""
    pkg = mprof_package()
    # Symbolizer looks both up in its module's globals: replace them
    # there.
    saved = pkg.symbolize.run_symbolizer, pkg.symbolize.warn
    pkg.symbolize.run_symbolizer = lambda obj, addrs: {}
    pkg.symbolize.warn = lambda msg: None
    try:
        mutate_profiles(pkg)
    finally:
        pkg.symbolize.run_symbolizer, pkg.symbolize.warn = saved


def mutate_profiles(pkg):
    import random
    model, Symbolizer = pkg.profile, pkg.symbolize.Symbolizer
    rng = random.Random(5)
    with tempfile.TemporaryDirectory() as good, \
            tempfile.TemporaryDirectory() as d:
        profile("threads", good, ["1"], mean=4096,
                env={var.PEAK: "1"})
        (good,) = [d for by_n in dump_dirs(good).values()
                   for d in by_n.values()]
        model.write_build_ids(good, Symbolizer().build_id)
        originals = {n: open(os.path.join(good, n), "rb").read()
                     for n in os.listdir(good)}
        # The profile as written reads in every format and sample type;
        # a flame graph needs something to draw (in use, there may be
        # nothing).
        prof = model.Profile([good])
        sym = Symbolizer()
        sym.symbolize(prof)
        for sample in model.SAMPLE_TYPES:
            empty = not pkg.formats.folded.lines(prof, sym, sample)
            render_all(pkg, prof, sym, sample,
                       skip=("flamegraph",) if empty else ())
        deadline = time.time() + 120
        for case in range(3000):
            check(time.time() < deadline, "time", "under 120 s",
                  f"case {case}")
            for n in os.listdir(d):
                os.unlink(os.path.join(d, n))
            for n, data in originals.items():
                data = bytearray(data)
                if rng.random() < 0.6:
                    for _ in range(rng.randint(1, 4)):
                        op = rng.randrange(5)
                        i = rng.randrange(len(data) + 1)
                        if op == 0 and data:
                            data[min(i, len(data) - 1)] = rng.randrange(256)
                        elif op == 1:
                            del data[i:]
                        elif op == 2:
                            data[i:i] = rng.choice(
                                [b"-1", b"0x", b"99999999999999999999",
                                 b"\n", b" ", b"end\n", b"0", b"\xff"])
                        elif op == 3:
                            del data[i:i + rng.randint(1, 20)]
                        else:
                            lines = data.split(b"\n")
                            rng.shuffle(lines)
                            data = bytearray(b"\n".join(lines))
                with open(os.path.join(d, n), "wb") as f:
                    f.write(data)
            # flamegraph.pl is run on folded's lines; too slow to run
            # 3000 times.
            try:
                prof = model.Profile([d])
                sym = Symbolizer()
                sym.symbolize(prof)
                render_all(pkg, prof, sym, model.SAMPLE_TYPES[case % 4],
                           skip=("flamegraph",))
            except model.BadInput:
                pass
            except Exception as e:
                raise Failure(f"case {case}: {type(e).__name__}: {e}")


# glibc's own malloc tests, off and on.

KNOWN_MACHINE_FAILURES = {
    # Fail on these machines with the unpatched source too.
    "malloc/tst-malloc-stats-cancellation",
    "malloc/tst-malloc-stats-cancellation-malloc-check",
    "malloc/tst-malloc-stats-cancellation-malloc-hugetlb1",
    "malloc/tst-malloc-stats-cancellation-malloc-hugetlb2",
    "malloc/tst-malloc-stats-cancellation-mcheck",
    "malloc/tst-malloc-too-large-malloc-hugetlb2",
}


# Differences the profiler makes on purpose, by unwinder.
# Free a block and write into it, and expect malloc to find what they
# corrupted: the chunk header before a 4 KiB block (sampled at every mean
# here), the free-list link in a 32-byte one (sampled two times in five
# at a mean of 64, which makes the test's sixteen tries fail now and
# then, and always at a mean of 1).  A sampled block lies inside a larger
# one whose header and links are elsewhere (see README, "What is still
# allocated").  Expected failures may also pass.
# The variants glibc's malloc/Makefile makes of a test.
SUITE_VARIANTS = ("", "-malloc-hugetlb1", "-malloc-hugetlb2",
                  "-malloc-largetcache", "-threaded-main", "-threaded-worker")
WRITE_AFTER_FREE = {f"malloc/tst-malloc-backtrace{v}" for v in SUITE_VARIANTS}
SAFE_LINKING = {f"malloc/tst-safe-linking{v}" for v in SUITE_VARIANTS}
# Free an aligned block and expect the next memalign of its usable size,
# or of the same size after other frees, to return that very chunk from
# the tcache: a sampled block is freed as its larger outer block, which
# the next request of that size does not fit.
TCACHE_REUSE = {f"malloc/{t}{v}" for t in ("tst-memalign-2", "tst-memalign-3")
                for v in SUITE_VARIANTS}
# Counts every call through malloc's hooks from the start of the process:
# a process that profiles loads libc_malloc_prof.so (and, in DWARF mode,
# libgcc_s.so.1) from libc's constructor, which calls malloc.
COMPATHOOKS = {"malloc/tst-compathooks-on"}
# Differences the profiler makes on purpose, by mean and unwinder.
EXPECTED_WITH = {
    (1024, "dwarf"): COMPATHOOKS | WRITE_AFTER_FREE | TCACHE_REUSE,
    (64, "fp"): COMPATHOOKS | WRITE_AFTER_FREE | SAFE_LINKING | TCACHE_REUSE,
    (1, "fp"): COMPATHOOKS | WRITE_AFTER_FREE | SAFE_LINKING | TCACHE_REUSE,
}


def malloc_suite(env):
    """glibc's malloc tests with ENV, as tests/glibc_check.py runs a
    subdirectory (TIMEOUTFACTOR=4: tst-mallocfork2-mcheck and
    tst-malloc-too-large run near their limits on two cores, more so
    when sampled): the failures and the number of tests."""
    results = glibc_check.check(OBJ, ["malloc"], env)
    return {t for t, r in results.items() if r in ("FAIL", "ERROR")}, len(results)


@test
def glibc_malloc_suite_off_and_on():
    off, n_off = malloc_suite({})
    print(f"    profiler off: {n_off} tests, failed: {sorted(off) or 'none'}")
    check(off <= KNOWN_MACHINE_FAILURES, "failures with the profiler off",
          "only the machine's known ones", sorted(off - KNOWN_MACHINE_FAILURES))
    # A small mean with DWARF unwinding, then with frame pointers, then
    # every allocation sampled and tracked.
    for mean, unwind in EXPECTED_WITH:
        with tempfile.TemporaryDirectory() as out:
            on, n_on = malloc_suite({var.ON: "1",
                                     var.MEAN: str(mean),
                                     var.UNWIND: unwind,
                                     var.OUT: out})
            n_files = len(os.listdir(out))
        print(f"    profiler on, mean {mean}, {unwind} ({n_files} files written): "
              f"{n_on} tests, failed: {sorted(on) or 'none'}; "
              f"only with the profiler on: {sorted(on - off) or 'none'}")
        check(n_files > 0, "profiles written by the suite", "> 0", n_files)
        expected = EXPECTED_WITH[(mean, unwind)]
        check(on <= off | expected,
              f"failures only with the profiler on at mean {mean}",
              "none", sorted(on - off - expected))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="skip glibc's malloc test suite")
    ap.add_argument("names", nargs="*", help="tests to run (default: all)")
    args = ap.parse_args()
    passed = failed = 0
    # This machine's tests, then those of BOTH again for AArch64 and i386,
    # named "aarch64:NAME" and "i386:NAME".
    for prefix in ("", "aarch64:", "i386:"):
        chosen = [t for t in TESTS
                  if (not args.names or prefix + t.__name__ in args.names)
                  and not (args.quick and t is glibc_malloc_suite_off_and_on)
                  and (not prefix or t in BOTH)]
        if not chosen:
            continue
        if prefix:
            use(prefix.rstrip(":"))
        if not os.path.exists(LOADER):
            sys.exit(f"run.py: {LOADER} is missing: run ./build.sh "
                     + prefix.rstrip(":") + " first")
        build_programs()
        for t in chosen:
            start = time.time()
            try:
                t()
            except Exception as e:  # a broken test must not stop the others
                failed += 1
                print(f"FAIL {prefix}{t.__name__}: {e}", flush=True)
            else:
                passed += 1
                print(f"PASS {prefix}{t.__name__} "
                      f"({time.time() - start:.1f}s)", flush=True)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
