#!/usr/bin/python3
"""Runs the profiler's tests against the build in install/.

Each test runs programs under the built loader and checks the profiles
they leave against what the programs are known to have done.  Usage:
tests/run.py [--quick] [NAME...]; --quick skips glibc's own malloc test
suite, run three times, which takes about 28 minutes.
"""

import argparse
from collections import defaultdict
import gzip
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INSTALL = os.path.join(TOP, "install")
LIB = os.path.join(INSTALL, "lib")
LOADER = os.path.join(LIB, "ld-linux-x86-64.so.2")
BIN = os.path.join(TOP, "tests", "bin")
OBJ = os.path.join(TOP, "build", "glibc")
DEFAULT_MEAN = 524288

# Statistical checks allow 4 standard deviations: a correct profiler
# fails one of them about once in 16,000 runs, a biased one (a fixed
# countdown, a wrong weight) misses by far more.
SIGMAS = 4

TESTS = []


def test(fn):
    TESTS.append(fn)
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


def build_programs():
    os.makedirs(BIN, exist_ok=True)
    programs = {}
    for src in sorted(os.listdir(os.path.join(TOP, "tests"))):
        if src.endswith(".c") and src != "stacks.c":
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
        cc = "g++" if src.endswith(".cc") else "gcc"
        subprocess.run([cc, "-O2", "-g", "-fno-builtin", "-pthread",
                        "-o", exe, path, *extra], check=True)


def clean_env(extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GLIBC_MALLOC_PROFILE")
           and k != "GLIBC_TUNABLES"}
    env.update(extra)
    return env


def run(prog, args=(), env=None, cwd=None, check_status=True):
    """Run PROG (a name in tests/bin or a path) under the built loader."""
    path = prog if "/" in prog else os.path.join(BIN, prog)
    cmd = [LOADER, "--library-path", LIB, path, *args]
    p = subprocess.run(cmd, env=clean_env(env or {}), cwd=cwd,
                       capture_output=True, text=True, timeout=300)
    if check_status and p.returncode != 0:
        raise Failure(f"{' '.join(cmd)} exited with {p.returncode}: "
                      f"{p.stderr.strip()}")
    return p


def profile(prog, out, args=(), mean=None, seed=None, env=None):
    e = {"GLIBC_MALLOC_PROFILE": "1", "GLIBC_MALLOC_PROFILE_OUT": out}
    if mean is not None:
        e["GLIBC_MALLOC_PROFILE_BYTES"] = str(mean)
    if seed is not None:
        e["GLIBC_MALLOC_PROFILE_SEED"] = str(seed)
    e.update(env or {})
    return run(prog, args, e)


# Reading profiles.

def read_profile(path):
    """Parse one thread's profile: its header fields and its samples."""
    header, samples = {}, []
    with open(path) as f:
        lines = f.read().split("\n")
    check(lines[0] == "malloc-profile 1", path + " first line",
          "malloc-profile 1", lines[0])
    check("end" in lines, path, "an end line", "none")
    for line in lines[1:lines.index("end")]:
        if line.startswith("#"):
            continue
        first, _, rest = line.partition(" ")
        if first.isdigit():
            count, size, *frames = line.split()
            samples.append((int(count), int(size),
                            tuple(int(x, 16) for x in frames)))
        else:
            header[first] = rest
    return header, samples


def profiles(out):
    """The thread profiles in OUT, as {path: (header, samples)}."""
    return {os.path.join(out, n): read_profile(os.path.join(out, n))
            for n in sorted(os.listdir(out)) if n.endswith(".heap")
            and not os.path.islink(os.path.join(out, n))}


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


def at(samples, rng):
    return [s for s in samples if rng[0] <= s[2][0] < rng[1]]


def probability(size, mean):
    """Chance that a request of SIZE bytes is sampled."""
    return -math.expm1(-(size + 1) / mean)


def estimate(samples, mean):
    """Unbiased (requests, bytes) from (count, size, frames) samples."""
    n = sum(c / probability(s, mean) for c, s, _ in samples)
    b = sum(c * s / probability(s, mean) for c, s, _ in samples)
    return n, b


def bound(requests, size, mean):
    """SIGMAS standard deviations of the bytes estimated for REQUESTS
    requests of SIZE bytes: the sampled count is binomial."""
    p = probability(size, mean)
    return SIGMAS * size * math.sqrt(requests * (1 - p) / p)


# The tests.

@test
def threads_give_one_profile_each():
    for n in (0, 1, 4, 16):
        with tempfile.TemporaryDirectory() as out:
            profile("threads", out, [str(n)], mean=4096)
            found = profiles(out)
            check(len(found) == n + 1, f"profiles of {n} threads + main",
                  n + 1, len(found))
            tids = {h["tid"] for h, _ in found.values()}
            check(len(tids) == n + 1, "distinct tids", n + 1, len(tids))
            # The main thread has no name of its own: started through
            # the loader, its name is the loader's.
            names = sorted(h.get("thread-name", "") for h, _ in
                           found.values())
            want = sorted([""] + [f"worker-{i}" for i in range(1, n + 1)])
            check(names == want, "thread names", want, names)
            maps = [f for f in os.listdir(out) if f.endswith(".maps")]
            check(len(maps) == 1, "maps files", 1, maps)
            for h, s in found.values():
                check(int(h["taken"]) == int(h["recorded"]) + int(h["dropped"]),
                      "taken = recorded + dropped", h["taken"], h)
                check(h["dropped"] == "0", "dropped", 0, h["dropped"])
                check(int(h["recorded"]) == sum(c for c, _, _ in s),
                      "recorded = sum of counts", h["recorded"], s)


@test
def threads_running_at_exit_are_written():
    with tempfile.TemporaryDirectory() as out:
        profile("exit_running", out, mean=4096)
        found = profiles(out)
        check(len(found) == 4, "profiles of 3 running threads + main", 4,
              len(found))
        # 300 KB each at a mean of 4 KiB: about 73 samples per thread.
        workers = [h for h, _ in found.values() if h["tid"] != h["pid"]]
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
def no_files_when_off():
    for env in ({}, {"GLIBC_MALLOC_PROFILE": "0"}):
        with tempfile.TemporaryDirectory() as out:
            env = dict(env, GLIBC_MALLOC_PROFILE_OUT=out)
            p = run("threads", ["2"], env, cwd=out)
            check(os.listdir(out) == [], f"files with {env}", [],
                  os.listdir(out))
            check(p.stderr == "", "stderr", "", p.stderr)


ENTRY_SIZES = {
    "site_malloc": 1001, "site_calloc": 1002, "site_realloc_null": 1003,
    "site_realloc_grow": 1004, "site_reallocarray": 1005,
    "site_memalign": 1006, "site_aligned_alloc": 1024, "site_valloc": 1008,
    "site_pvalloc": 5000, "site_posix_memalign": 1010,
}


@test
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
            mine = [(c, s) for c, s, _ in at(samples, found[name])
                    if s == size]
            check(mine == [(3, size)], f"{name}: samples of {size} bytes",
                  [(3, size)], mine)
        inside = [s for s in samples
                  if not any(r[0] <= s[2][0] < r[1] for r in found.values())
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
            for _, _, st in at(samples, found[name]):
                check(len(st) > 2 and found["main"][0] <= st[1] < found["main"][1],
                      f"{prog}: {name}: the second frame", "in main",
                      [hex(f) for f in st])


@test
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


@test
def fork_child_writes_its_own_profile():
    with tempfile.TemporaryDirectory() as out:
        p = profile("fork", out, mean=1)
        found = sites(p.stdout, os.path.join(BIN, "fork"))
        pids = dict(line.split() for line in p.stdout.splitlines()
                    if line.split()[0] in ("child", "parent"))
        by_pid = {}
        for path, (h, s) in profiles(out).items():
            by_pid.setdefault(h["pid"], []).extend(s)
        check(set(by_pid) == set(pids.values()), "pids with profiles",
              set(pids.values()), set(by_pid))
        for who, own, other in (("parent", "site_parent", "site_child"),
                                ("child", "site_child", "site_parent")):
            s = by_pid[pids[who]]
            check(sum(c for c, _, _ in at(s, found[own])) == 10,
                  f"{who}: samples at {own}", 10, at(s, found[own]))
            check(at(s, found[other]) == [], f"{who}: samples at {other}",
                  [], at(s, found[other]))
        maps = sorted(f for f in os.listdir(out) if f.endswith(".maps"))
        check(len(maps) == 2, "maps files", 2, maps)


@test
def profile_file_format():
    with tempfile.TemporaryDirectory() as out:
        profile("threads", out, ["1"], mean=4096)
        for path, (h, s) in profiles(out).items():
            name = os.path.basename(path)
            check(name == f"mprof.{h['pid']}.{h['tid']}.heap", "file name",
                  f"mprof.{h['pid']}.{h['tid']}.heap", name)
            check(h["exe"] == os.path.join(BIN, "threads"), "exe",
                  os.path.join(BIN, "threads"), h["exe"])
            st = os.stat(path)
            check(st.st_mode & 0o777 == 0o600, f"mode of {name}", "0600",
                  oct(st.st_mode & 0o777))
            check(st.st_uid == os.getuid(), f"owner of {name}", os.getuid(),
                  st.st_uid)
            maps_name, snapshot = h["maps"].split()
            with open(os.path.join(out, maps_name)) as f:
                text = f.read()
            check(text.startswith(f"malloc-profile-maps 1\npid {h['pid']}\n"),
                  "maps header", "malloc-profile-maps 1", text[:40])
            check(f"snapshot {snapshot}\n" in text, "snapshot", snapshot,
                  text[:80])
            check(os.path.join(BIN, "threads") in text, "exe in maps",
                  "present", "absent")


@test
def existing_names_and_symlinks_are_not_followed():
    # The shell plants, under the names its own pid will use once it
    # execs the program, a symlink and a file; the profiler must leave
    # both alone and write under the next free names.
    with tempfile.TemporaryDirectory() as out:
        target = os.path.join(out, "target")
        with open(target, "w") as f:
            f.write("precious\n")
        script = (f'ln -s {target} {out}/mprof.$$.$$.heap && '
                  f'echo planted > {out}/mprof.$$.maps && '
                  f'exec {LOADER} --library-path {LIB} {BIN}/threads 0')
        env = clean_env({"GLIBC_MALLOC_PROFILE": "1",
                         "GLIBC_MALLOC_PROFILE_OUT": out})
        p = subprocess.run(["sh", "-c", script], env=env, timeout=60,
                           capture_output=True, text=True)
        check(p.returncode == 0, "exit status", 0, p.stderr)
        with open(target) as f:
            check(f.read() == "precious\n", "symlink target", "untouched",
                  "overwritten")
        names = sorted(os.listdir(out))
        (h, _), = profiles(out).values()
        pid = h["pid"]
        with open(os.path.join(out, f"mprof.{pid}.maps")) as f:
            check(f.read() == "planted\n", "planted file", "untouched",
                  "overwritten")
        expected = sorted([f"mprof.{pid}.{pid}.heap", f"mprof.{pid}.maps",
                           f"mprof.{pid}.{pid}.1.heap", f"mprof.{pid}.1.maps",
                           "target"])
        check(names == expected, "files", expected, names)
        check(h["maps"] == f"mprof.{pid}.1.maps 1", "maps reference",
              f"mprof.{pid}.1.maps 1", h["maps"])


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
        env = clean_env({"GLIBC_MALLOC_PROFILE": "1",
                         "GLIBC_MALLOC_PROFILE_BYTES": "1",
                         "GLIBC_MALLOC_PROFILE_OUT": out,
                         "GLIBC_MALLOC_PROFILE_SEED": "1",
                         "GLIBC_TUNABLES": "glibc.malloc.profile=1"})
        # Not setuid: it profiles, and sees its variables.
        p = subprocess.run([exe], env=env, capture_output=True, text=True,
                           timeout=60)
        check(p.returncode == 0 and "GLIBC_MALLOC_PROFILE=1\n" in p.stdout,
              "plain run", "profiled, variables seen", p.stdout + p.stderr)
        check(len(profiles(out)) == 1, "profiles of the plain run", 1,
              len(profiles(out)))
        for f in os.listdir(out):
            os.unlink(os.path.join(out, f))
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
def tunables_work_like_variables():
    with tempfile.TemporaryDirectory() as out:
        run("threads", ["1"], {"GLIBC_TUNABLES":
                               "glibc.malloc.profile=1:glibc.malloc.profile_bytes=4096:"
                               f"glibc.malloc.profile_out={out}"})
        found = profiles(out)
        check(len(found) == 2, "profiles", 2, len(found))
        for h, _ in found.values():
            check(h["mean"] == "4096", "mean", 4096, h["mean"])


BAD_VALUES = [
    ("GLIBC_MALLOC_PROFILE", v, "profiling stays off")
    for v in ("", "yes", "2", "-1")
] + [
    ("GLIBC_MALLOC_PROFILE_BYTES", v, "using 524288")
    for v in ("", "abc", "0", "-4096", "12k", str(2**48 + 1), str(2**64),
              "9" * 30)
] + [
    ("GLIBC_MALLOC_PROFILE_OUT", v, "writing to the working directory")
    for v in ("", "/nonexistent/dir", "/etc/passwd", "/" + "x" * 5000)
] + [
    ("GLIBC_MALLOC_PROFILE_SEED", v, "seeding at random")
    for v in ("", "abc", "-1", str(2**64))
] + [
    ("GLIBC_MALLOC_PROFILE_DEPTH", v, "using 64")
    for v in ("", "0", "129", "-1", "8x", str(2**64))
] + [
    ("GLIBC_MALLOC_PROFILE_UNWIND", v, "walking frame pointers")
    for v in ("", "FP", "libunwind", "dwarf ")
]


@test
def bad_values_warn_and_fall_back():
    for var, value, instead in BAD_VALUES:
        with tempfile.TemporaryDirectory() as cwd:
            out = os.path.join(cwd, "out")
            os.mkdir(out)
            env = {"GLIBC_MALLOC_PROFILE": "1",
                   "GLIBC_MALLOC_PROFILE_OUT": out, var: value}
            p = run("threads", ["1"], env, cwd=cwd)
            lines = p.stderr.splitlines()
            shown = repr(value[:20])
            check(len(lines) == 1 and var in lines[0] and instead in lines[0],
                  f"{var}={shown}: stderr", f"one line naming {var}, "
                  f"saying '{instead}'", p.stderr)
            where = cwd if var == "GLIBC_MALLOC_PROFILE_OUT" else out
            found = profiles(where)
            if var == "GLIBC_MALLOC_PROFILE":
                check(found == {}, f"{var}={shown}: profiles", 0, len(found))
                continue
            check(len(found) == 2, f"{var}={shown}: profiles in {where}", 2,
                  len(found))
            if var == "GLIBC_MALLOC_PROFILE_BYTES":
                for h, _ in found.values():
                    check(h["mean"] == str(DEFAULT_MEAN), "mean",
                          DEFAULT_MEAN, h["mean"])


@test
def system_programs_run_under_the_loader():
    # python3 needs libz and others from the system's directories.
    with tempfile.TemporaryDirectory() as out:
        p = profile("/usr/bin/python3", out, ["-c", "print(sum(range(10)))"],
                    mean=4096)
        check(p.stdout == "45\n", "python3 output", "45", p.stdout)
        check(len(profiles(out)) >= 1, "profiles", ">= 1", 0)


def disassemble(lib, symbol, nbytes, dynamic=False):
    """The instructions in the first NBYTES bytes of SYMBOL in LIB."""
    nm = subprocess.run(["nm", "-D", lib] if dynamic else ["nm", lib],
                        capture_output=True, text=True, check=True).stdout
    addr = int(re.search(r"^([0-9a-f]+) [Tt] " + re.escape(symbol) +
                         r"(@@\S+)?$", nm, re.M).group(1), 16)
    dis = subprocess.run(["objdump", "-d", "--no-show-raw-insn",
                          f"--start-address={addr}",
                          f"--stop-address={addr + nbytes}", lib],
                         capture_output=True, text=True, check=True).stdout
    return [line.split("\t", 1)[1].split("#")[0].strip()
            for line in dis.splitlines()
            if re.match(r"\s+[0-9a-f]+:\t", line)]


@test
def fast_path_is_three_instructions():
    """malloc as a profiling process binds it spends three instructions on
    the profiler before jumping to glibc's own: compute size + 1,
    subtract it from the countdown at a constant offset from %fs, branch
    on the sign.  glibc's own malloc, which the other processes bind,
    does not touch the countdown."""
    libc = os.path.join(LIB, "libc.so.6")
    insns = disassemble(libc, "prof_malloc", 24)
    check(len(insns) >= 4, "instructions", ">= 4", insns)
    check(re.match(r"lea\s+0x1\(%rdi\),(%\w+)$", insns[0]) is not None,
          "first instruction", "lea 0x1(%rdi),%reg", insns[0])
    reg = insns[0].split(",")[-1]
    check(re.match(r"sub\s+" + re.escape(reg) + r",%fs:0x[0-9a-f]+$",
                   insns[1]) is not None,
          "second instruction", f"sub {reg},%fs:0xOFFSET", insns[1])
    check(insns[2].startswith("js"), "third instruction", "js", insns[2])
    check(re.match(r"jmp\s+[0-9a-f]+ <__libc_malloc>$", insns[3])
          is not None, "fourth instruction", "jmp <__libc_malloc>", insns[3])
    countdown = insns[1].split(",")[-1]
    plain = disassemble(libc, "__libc_malloc", 256, dynamic=True)
    touching = [s for s in plain if countdown in s]
    check(touching == [], "glibc's own malloc using " + countdown, [],
          touching)
    print("    " + "\n    ".join(insns[:4]))


@test
def entry_points_are_chosen_once_by_the_variable():
    """Every allocation function is bound to glibc's own entry point
    unless GLIBC_MALLOC_PROFILE or its tunable is set, to the counting
    one if it is, in every thread; binding everything at start-up
    (LD_BIND_NOW) still profiles."""
    expected = {"plain": [{}],
                "counted": [{"GLIBC_MALLOC_PROFILE": "1"},
                            {"GLIBC_MALLOC_PROFILE": "0"},
                            {"GLIBC_TUNABLES": "glibc.malloc.profile=1"}]}
    for kind, envs in expected.items():
        for env in envs:
            with tempfile.TemporaryDirectory() as out:
                env = dict(env, GLIBC_MALLOC_PROFILE_OUT=out)
                lines = run("entry_choice", env=env,
                            cwd=out).stdout.split("\n")
                got = {line.split()[2] for line in lines if line}
                check(len(lines) == 15 and got == {kind},
                      f"bindings with {env}", f"14 lines, all {kind}",
                      lines)
    with tempfile.TemporaryDirectory() as out:
        profile("threads", out, ["2"], mean=1, env={"LD_BIND_NOW": "1"})
        by_size = {}
        for _, samples in profiles(out).values():
            for count, size, _ in samples:
                by_size[size] = by_size.get(size, 0) + count
        check(by_size.get(1000) == 3000, "1000-byte requests sampled at "
              "mean 1 with LD_BIND_NOW", 3000, by_size.get(1000))


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
    env = {"GLIBC_MALLOC_PROFILE_UNWIND": unwind}
    if depth is not None:
        env["GLIBC_MALLOC_PROFILE_DEPTH"] = str(depth)
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
                            size == 4000:
                        # operator new keeps no frame pointer: the walk
                        # goes from malloc's caller, operator new, to the
                        # frame of the function that called it, whose
                        # return address is its caller's.
                        check(whole(st, chain[1:]), what +
                              " (the caller of new is skipped)",
                              chain[1:] + ["..."], st)


@test
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
                    env={"GLIBC_MALLOC_PROFILE_UNWIND": "dwarf"})
        found = complete_profiles(out)
        check(len(found) == 9, "profiles", 9, len(found))
        deep = [st for h, smp in found.values() for _, _, st in smp
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
        check(recorded == sum(c for c, _, _ in samples),
              f"{path}: recorded = sum of counts", recorded,
              sum(c for c, _, _ in samples))
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
        stress_one_process("many", out, 1024, 10001)
        # Thread stacks come and go; only file mappings make a snapshot.
        (maps,) = [f for f in os.listdir(out) if f.endswith(".maps")]
        with open(os.path.join(out, maps)) as f:
            snapshots = sum(line.startswith("snapshot ") for line in f)
        check(snapshots <= 3, "maps snapshots", "<= 3", snapshots)


@test
def stress_thirty_two_threads_at_once():
    with tempfile.TemporaryDirectory() as out:
        stress_one_process("wide", out, 256, 33)


@test
def stress_fork_while_threads_allocate():
    with tempfile.TemporaryDirectory() as out:
        by_pid = stress("fork", out, 64)
        check(len(by_pid) == 41, "processes", "1 + 20 children + 20 "
              "grandchildren", len(by_pid))
        sizes = sorted(len(hs) for hs in by_pid.values())
        check(sizes == [1] * 40 + [5], "profiles per process",
              "1 per child, 5 for the parent", sizes)
        no_drops(by_pid)


@test
def stress_signals_interrupt_allocation_and_writes():
    with tempfile.TemporaryDirectory() as out:
        stress_one_process("signal", out, 64, 5)


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
        check(len(found) == 3, "profiles", 3, len(found))
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
        first = [c for c, size, _ in samples if size == 16]
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
def mprof_run_passes_through_io_and_status():
    with tempfile.TemporaryDirectory() as out:
        p = mprof("run", "--rate", "4096", "--out", out, "--", "/bin/cat",
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
        p = mprof("run", "--rate", "65536", "--out", out, "--",
                  os.path.join(BIN, "estimate"))
        check("site_small" in p.stdout, "program output", "site lines",
              p.stdout)
        top = p.stderr.split("top 10 call sites by estimated bytes:")[-1]
        for name in ("site_small", "site_medium", "site_large"):
            check(name in top, f"{name} in the top 10", "present", p.stderr)


def estimate_run(out, seed=1, mean=65536):
    """Run tests/estimate through mprof run; its call sites' totals."""
    p = mprof("run", "--rate", str(mean), "--out", out, "--",
              os.path.join(BIN, "estimate"),
              env={"GLIBC_MALLOC_PROFILE_SEED": str(seed)})
    check(p.returncode == 0, "mprof run estimate", "status 0", p.stderr)
    truth = {}
    for line in p.stdout.splitlines():
        parts = line.split()
        if parts and parts[0] == "site":
            truth[parts[1]] = (int(parts[3]), int(parts[4]))
    return truth


@test
def mprof_report_formats_are_read_by_their_readers():
    mean = 65536
    with tempfile.TemporaryDirectory() as out, \
            tempfile.TemporaryDirectory() as rep:
        truth = estimate_run(out, mean=mean)
        f = {fmt: os.path.join(rep, "r." + fmt) for fmt in
             ("text", "folded", "flamegraph", "pprof", "gperf", "json")}
        for fmt, path in f.items():
            p = mprof("report", out, "--format", fmt, "-o", path)
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
        raw = sum(int(line.split()[1].rstrip(":"))
                  for line in p.stdout.splitlines()
                  if re.match(r"\s+\d+\s+\d+: ", line))
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
        p = subprocess.run(["google-pprof", "--text",
                            os.path.join(BIN, "estimate"), f["gperf"]],
                           capture_output=True, text=True, timeout=300)
        check(p.returncode == 0, "google-pprof --text", "status 0",
              p.stderr[:300])
        for name in truth:
            check(name in p.stdout, f"google-pprof: {name}", "listed",
                  p.stdout)


@test
def mprof_report_rejects_bad_input_in_one_line():
    with tempfile.TemporaryDirectory() as tmp:
        good = os.path.join(tmp, "good")
        os.mkdir(good)
        profile("threads", good, ["0"], mean=4096)
        (heap,) = [n for n in os.listdir(good) if n.endswith(".heap")]
        with open(os.path.join(good, heap)) as fh:
            text = fh.read()
        cases = {
            "missing": None,
            "empty": {},
            "truncated": {heap: text[:len(text) // 2]},
            "version": {heap: text.replace("malloc-profile 1",
                                           "malloc-profile 99", 1)},
            "corrupt": {heap: text.replace("\nend\n", "\n7 x 0xzz\nend\n")},
            "garbage": {heap: "\x00\xff binary junk"},
            "maps": {heap: text},
        }
        for case, files in cases.items():
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
                  and lines[0].startswith("mprof: ")
                  and "Traceback" not in p.stderr,
                  f"report of {case} input", "one 'mprof: ' line, status != 0",
                  (p.returncode, p.stderr))


@test
def mprof_reader_survives_mutated_profiles():
    """3000 mutated profiles: each is read or rejected with BadInput,
    never a traceback; the whole run is bounded by its time."""
    import importlib.machinery
    import importlib.util
    import random
    loader = importlib.machinery.SourceFileLoader("mprof_tool", MPROF)
    spec = importlib.util.spec_from_loader("mprof_tool", loader)
    tool = importlib.util.module_from_spec(spec)
    loader.exec_module(tool)
    tool.run_symbolizer = lambda obj, addrs: {}
    tool.warn = lambda msg: None
    rng = random.Random(5)
    with tempfile.TemporaryDirectory() as good, \
            tempfile.TemporaryDirectory() as d:
        profile("threads", good, ["1"], mean=4096)
        originals = {n: open(os.path.join(good, n), "rb").read()
                     for n in os.listdir(good)}
        args = argparse.Namespace(top=5, by_thread=True)
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
            try:
                prof = tool.Profile([d])
                sym = tool.Symbolizer()
                sym.symbolize(prof)
                for fmt in ("text", "folded", "gperf", "json", "pprof"):
                    getattr(tool, "format_" + fmt)(prof, sym, args)
            except tool.BadInput:
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
EXPECTED_WITH = {
    # Counts every call through malloc's hooks from the start of the
    # process; DWARF mode loads libgcc_s.so.1 before main, which calls
    # malloc.
    "dwarf": {"malloc/tst-compathooks-on"},
    "fp": set(),
}


def malloc_suite(env):
    for d, _, files in os.walk(os.path.join(OBJ, "malloc")):
        for f in files:
            if f.endswith((".out", ".test-result")):
                os.unlink(os.path.join(d, f))
    # Some tests (tst-mallocfork2-mcheck, tst-malloc-too-large) run near
    # their time limits on two cores, and more so when sampled.
    e = dict(os.environ, TIMEOUTFACTOR="4", **env)
    subprocess.run(["make", "-C", OBJ, "-j", str(os.cpu_count()),
                    "subdirs=malloc", "check"], env=e,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.path.join(OBJ, "tests.sum")) as f:
        results = dict(line.strip().split(": ", 1)[::-1] for line in f
                       if ": " in line)
    return {t for t, r in results.items() if r in ("FAIL", "ERROR")}, len(results)


@test
def glibc_malloc_suite_off_and_on():
    off, n_off = malloc_suite({})
    print(f"    profiler off: {n_off} tests, failed: {sorted(off) or 'none'}")
    check(off <= KNOWN_MACHINE_FAILURES, "failures with the profiler off",
          "only the machine's known ones", sorted(off - KNOWN_MACHINE_FAILURES))
    # A small mean with DWARF unwinding, then every allocation sampled
    # with frame pointers.
    for mean, unwind in ((1024, "dwarf"), (1, "fp")):
        with tempfile.TemporaryDirectory() as out:
            on, n_on = malloc_suite({"GLIBC_MALLOC_PROFILE": "1",
                                     "GLIBC_MALLOC_PROFILE_BYTES": str(mean),
                                     "GLIBC_MALLOC_PROFILE_UNWIND": unwind,
                                     "GLIBC_MALLOC_PROFILE_OUT": out})
            n_files = len(os.listdir(out))
        print(f"    profiler on, mean {mean}, {unwind} ({n_files} files written): "
              f"{n_on} tests, failed: {sorted(on) or 'none'}; "
              f"only with the profiler on: {sorted(on - off) or 'none'}")
        check(n_files > 0, "profiles written by the suite", "> 0", n_files)
        check(on <= off | EXPECTED_WITH[unwind],
              f"failures only with the profiler on at mean {mean}",
              "none", sorted(on - off - EXPECTED_WITH[unwind]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="skip glibc's malloc test suite")
    ap.add_argument("names", nargs="*", help="tests to run (default: all)")
    args = ap.parse_args()
    if not os.path.exists(LOADER):
        sys.exit(f"run.py: {LOADER} is missing: run ./build.sh first")
    build_programs()
    chosen = [t for t in TESTS
              if (not args.names or t.__name__ in args.names)
              and not (args.quick and t is glibc_malloc_suite_off_and_on)]
    passed = failed = 0
    for t in chosen:
        start = time.time()
        try:
            t()
        except Exception as e:  # a broken test must not stop the others
            failed += 1
            print(f"FAIL {t.__name__}: {e}", flush=True)
        else:
            passed += 1
            print(f"PASS {t.__name__} ({time.time() - start:.1f}s)",
                  flush=True)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
