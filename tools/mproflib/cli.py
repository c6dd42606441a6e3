"""Run programs under glibc's sampling heap profiler and read its profiles.

  mprof run [--mean BYTES] [--out DIR] [--every SECONDS] [--interval BYTES]
            [--peak] [--unwind fp|dwarf] [--depth N] [--only-top]
            -- PROGRAM ARGS...
  mprof dump PID [-o DIR]
  mprof attach PID [--mean BYTES] [--unwind fp|dwarf] [--depth N]
               [--out DIR] [--seconds N] [--timeout N]
  mprof detach PID
  mprof report PROFILE_DIR_OR_FILES... [--format FORMAT] [--sample TYPE]
               [-o FILE] [--top N] [--by-thread] [--by-process]
               [--dump N | --diff A B | --peak] [--debug-dir DIR]...
  mprof report --leaks PROFILE_DIR_OR_FILES... [--top N]
  mprof report --lifetimes PROFILE_DIR_OR_FILES... [--format text|json|pprof]
               [-o FILE] [--top N] [--dump N]
  mprof plot PROFILE_DIR -o FILE.svg [--pid PID] [--top N]
  mprof serve [--listen ADDRESS:PORT] [--verbose]
  mprof probes (PID | --all) [--seconds N] [--out DIR]

mprof runs programs on the glibc built with the profiler in the directory
where ./build.sh ran: the checkout it is in, the one tools/install.sh
recorded, MPROF_GLIBC, or --glibc DIR before the command.  Reading
profiles needs no build.

Formats: text (default), folded, flamegraph, pprof, gperf, json.
Sample types, as pprof names them: inuse_space (default), inuse_objects
(still allocated when the profiles were written), alloc_space,
alloc_objects (every allocation).  --leaks lists what was still allocated,
by call site; --lifetimes how long blocks lived, by call site (pprof: in
tcmalloc's lifetime profile).  A profile directory holds numbered dumps of each process;
a report reads the latest of each unless told otherwise.  Stripped
programs and libraries are named from their separate debug files, found
by build ID in each --debug-dir, in /usr/lib/debug/.build-id, and on the
debuginfod servers of DEBUGINFOD_URLS.
"""

import argparse
import os
import platform
import shutil
import signal
import subprocess
import sys
import time

from . import (attach, elf, live, plot, probes, serve, tree,
               variables as var, where)
from .formats import FORMATS, Options, leaks, lifetimes, text
from .profile import (SAMPLE_TYPES, BadInput, DiffProfile, Profile, Series,
                      list_dumps, write_build_ids)
from .symbolize import Symbolizer

# The built glibc for each ELF machine a program may be built for: its
# install directory, its loader, the build.sh argument that makes it, the
# qemu-user that runs it elsewhere, and the machines that run it natively.
EM_386, EM_X86_64, EM_AARCH64 = elf.EM_386, elf.EM_X86_64, elf.EM_AARCH64
BUILDS = {
    EM_X86_64: ("install", "ld-linux-x86-64.so.2", "", "x86_64",
                ("x86_64",)),
    EM_386: ("install-i386", "ld-linux.so.2", " i386", "i386",
             ("x86_64", "i686")),
    EM_AARCH64: ("install-aarch64", "ld-linux-aarch64.so.1", " aarch64",
                 "aarch64", ("aarch64",)),
}


def loader_command(path):
    """The command that runs the program at PATH under the built glibc of
    its architecture (under qemu-user if it is not this machine's), and
    that glibc's library directory."""
    try:
        with open(path, "rb"):
            pass
    except OSError as e:
        raise BadInput(f"{path}: {e.strerror}")
    # A script runs under its interpreter, which is this machine's.
    machine = elf.machine(path) or EM_X86_64
    if machine not in BUILDS:
        raise BadInput(f"{path}: a program for ELF machine {machine}; mprof "
                       "runs x86-64, i386 and AArch64 programs")
    inst, loader, arg, arch, native = BUILDS[machine]
    top = where.top()
    lib = os.path.join(top, inst, "lib")
    loader = os.path.join(lib, loader)
    if not os.path.exists(loader):
        if os.path.exists(os.path.join(top, "build.sh")):
            raise BadInput(f"{loader} is missing: build the profiler first "
                           f"with {os.path.join(top, 'build.sh')}{arg}")
        raise BadInput(f"{loader} is missing: {top} holds no glibc built "
                       "with the profiler; give mprof --glibc DIR, the "
                       "directory where its ./build.sh ran, or set "
                       "MPROF_GLIBC")
    emulator = [] if platform.machine() in native else [f"qemu-{arch}"]
    if emulator and not shutil.which(emulator[0]):
        raise BadInput(f"{path} is an {arch} program: running it here needs "
                       f"{emulator[0]} (apt-get install qemu-user)")
    return emulator + [loader, "--library-path", lib], lib


def report(args):
    if args.top is not None and args.top < 1:
        raise BadInput("--top must be at least 1")
    if args.leaks:
        if args.format != "text":
            raise BadInput("--leaks is a text report; for other formats "
                           "leave it out (every format has the in-use data)")
        if args.sample and not args.sample.startswith("inuse_"):
            raise BadInput("--leaks shows what was still allocated: "
                           "--sample must be inuse_space or inuse_objects")
        if args.diff:
            raise BadInput("--leaks and --diff do not go together")
    if args.lifetimes:
        if args.leaks or args.diff or args.peak or args.sample:
            raise BadInput("--lifetimes goes with none of --leaks, --diff, "
                           "--peak and --sample")
        if args.format not in ("text", "json", "pprof"):
            raise BadInput("--lifetimes is a text, json or pprof report")
    if args.diff and (args.dump is not None or args.peak):
        raise BadInput("--diff compares two dumps: leave out --dump and "
                       "--peak")
    args.sample = args.sample or "inuse_space"
    if args.diff:
        profile = DiffProfile(args.inputs, *args.diff)
    else:
        profile = Profile(args.inputs, dump=args.dump, peak=args.peak)
    for d in args.debug_dir:
        if not os.path.isdir(d):
            raise BadInput(f"--debug-dir {d}: not a directory")
    sym = Symbolizer(args.debug_dir)
    sym.symbolize(profile)
    options = Options(sample=args.sample, top=args.top,
                      by_thread=args.by_thread, by_process=args.by_process,
                      lifetimes=args.lifetimes)
    if args.leaks:
        data = leaks.render(profile, sym, options)
    elif args.lifetimes and args.format == "text":
        data = lifetimes.render(profile, sym, options)
    else:
        data = FORMATS[args.format].render(profile, sym, options)
    binary = isinstance(data, bytes)
    if args.output:
        with open(args.output, "wb" if binary else "w") as f:
            f.write(data)
    elif binary:
        if sys.stdout.isatty():
            raise BadInput("pprof output is binary: give -o FILE")
        sys.stdout.buffer.write(data)
    else:
        sys.stdout.write(data)


def run(args):
    if not args.command:
        raise BadInput("no program given: mprof run [options] -- PROGRAM ARGS")
    prog = args.command[0]
    path = prog if "/" in prog else shutil.which(prog)
    if not path or not os.path.isfile(path):
        raise BadInput(f"{prog}: program not found")
    command, lib = loader_command(path)
    # The namespace binds the built glibc over this machine's own: a
    # program of another architecture is profiled alone.
    if not args.only_top and lib == os.path.join(where.top(), "install",
                                                 "lib"):
        # The program, and every program it starts, on the built glibc.
        command = [sys.executable, os.path.abspath(sys.argv[0]), "_tree",
                   lib]
    out = args.out or (f"mprof.{os.path.basename(prog)}."
                       f"{time.strftime('%Y%m%d-%H%M%S')}")
    out = os.path.abspath(out)
    os.makedirs(out, exist_ok=True)
    env = dict(os.environ, **{var.ON: "1", var.OUT: out})
    if args.mean is not None:
        env[var.MEAN] = str(args.mean)
    if args.interval is not None:
        env[var.INTERVAL] = str(args.interval)
    if args.peak:
        env[var.PEAK] = "1"
    if args.unwind:
        env[var.UNWIND] = args.unwind
    if args.depth is not None:
        env[var.DEPTH] = str(args.depth)
    p = subprocess.Popen(command + [path] + args.command[1:], env=env)
    failed = None
    while True:
        try:
            p.wait(timeout=args.every)
            break
        except subprocess.TimeoutExpired:
            try:
                live.dump(p.pid)
                failed = None
            except (BadInput, OSError) as e:
                # Not allocating yet, or exiting: the next may succeed.
                failed = e
        except KeyboardInterrupt:
            # The program gets the terminal's SIGINT too; its status is ours.
            continue
    if failed:
        print(f"mprof: the last dump failed: {failed}", file=sys.stderr)
    status = p.returncode if p.returncode >= 0 else 128 - p.returncode
    if p.returncode < 0:
        print(f"mprof: {prog} killed by signal "
              f"{signal.Signals(-p.returncode).name}", file=sys.stderr)
    print(f"\nmprof: profile in {out}", file=sys.stderr)
    # Recorded while the files that ran are still here, for a report
    # made after they are replaced, or elsewhere.
    sym = Symbolizer()
    for dumps in list_dumps(out).values():
        for d in dumps.values():
            try:
                write_build_ids(d, sym.build_id)
            except (BadInput, OSError) as e:
                print(f"mprof: {d}: build IDs not recorded: {e}",
                      file=sys.stderr)
    try:
        profile = Profile([out])
        sym.symbolize(profile)
        print(text.summary(profile, sym, "inuse_space"), file=sys.stderr)
    except BadInput as e:
        print(f"mprof: {e}", file=sys.stderr)
    return status


def dump(args):
    where = live.dump(args.pid, args.output)
    print(f"mprof: dump of process {args.pid} in {where}", file=sys.stderr)


def command_name(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip().replace("/", "_") or "process"
    except OSError:
        return "process"


def attach_(args):
    args.mean = 524288 if args.mean is None else args.mean
    args.depth = 64 if args.depth is None else args.depth
    if not 1 <= args.mean <= 1 << 48:
        raise BadInput("--mean must be from 1 to 2^48 bytes")
    if not 1 <= args.depth <= 128:
        raise BadInput("--depth must be from 1 to 128")
    if args.seconds is not None and not 1 <= args.seconds <= 1 << 32:
        raise BadInput("--seconds must be a whole number from 1 to 2^32")
    if not 0 < args.timeout <= 3600:
        raise BadInput("--timeout must be from 0 to 3600 seconds")
    out = os.path.abspath(args.out or time.strftime(
        f"mprof.{command_name(args.pid)}.%Y%m%d-%H%M%S"))
    attach.Area(args.pid)       # says what refuses before making OUT
    made = not os.path.exists(out)
    os.makedirs(out, exist_ok=True)
    try:
        attach.attach(args.pid, args.mean, args.unwind or "fp", args.depth,
                      out, args.seconds or 0, args.timeout)
    except BadInput:
        if made and not os.listdir(out):
            os.rmdir(out)
        raise
    print(f"mprof: process {args.pid} profiles, a sample every {args.mean} "
          f"bytes on average; it writes its last dump to {out} at exit; "
          f"mprof dump {args.pid} reads it now, mprof detach {args.pid} "
          "stops it", file=sys.stderr)
    if not args.seconds:
        return
    time.sleep(args.seconds)
    # The process stops by itself at its first sample past the time: a
    # short wait for the detach will do.
    if attach.counting(args.pid) and not attach.detach(
            args.pid, min(args.timeout, 1)):
        print(f"mprof: process {args.pid} has not allocated since: it "
              "stops counting at its next allocation", file=sys.stderr)
    where = live.dump(args.pid)
    print(f"mprof: dump of process {args.pid} in {where}", file=sys.stderr)


def detach_(args):
    if attach.detach(args.pid, args.timeout):
        print(f"mprof: process {args.pid} stopped counting; its tables stay "
              f"for mprof dump {args.pid}", file=sys.stderr)
    else:
        print(f"mprof: process {args.pid} has not allocated since the "
              "request: it stops counting at its next allocation",
              file=sys.stderr)


def plot_(args):
    if args.top is not None and args.top < 1:
        raise BadInput("--top must be at least 1")
    series = Series(args.input, args.pid)
    if len(series.dumps) < 2:
        raise BadInput(f"{args.input}: one dump of process {series.pid}; a "
                       "plot needs two or more (GLIBC_MALLOC_PROFILE_INTERVAL,"
                       " mprof run --every, mprof dump)")
    if args.memory:
        svg = plot.render_memory(series)
    else:
        sym = Symbolizer()
        sym.symbolize(series)
        svg = plot.render(series, sym, args.top or 8)
    with open(args.output, "w") as f:
        f.write(svg)


def main():
    if sys.argv[1:2] == ["_tree"]:
        tree.main(sys.argv[2:])
    ap = argparse.ArgumentParser(
        prog="mprof", description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n", 2)[2])
    ap.add_argument("--glibc", metavar="DIR",
                    help="where the glibc built with the profiler is: the "
                         "directory where its ./build.sh ran (default: "
                         "MPROF_GLIBC, or where mprof was installed from)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    def sampling_options(parser):
        """The options run and attach share, each unset if not given."""
        # The sampling mean, GLIBC_MALLOC_PROFILE_BYTES; --rate was its
        # name before, kept for the scripts that use it.
        parser.add_argument("--mean", "--rate", type=int, metavar="BYTES",
                            dest="mean",
                            help="the sampling mean: the bytes between two "
                                 "samples on average (default 524288)")
        parser.add_argument("--unwind", choices=("fp", "dwarf"),
                            help="walk stacks by frame pointers (fp, the "
                                 "default) or by the unwind tables (dwarf: "
                                 "whole stacks of code built without frame "
                                 "pointers, at a higher cost per sample)")
        parser.add_argument("--depth", type=int, metavar="N",
                            help="frames kept per sample, 1 to 128 "
                                 "(default 64)")
    r = sub.add_parser("run", help="run a program with the profiler on")
    sampling_options(r)
    r.add_argument("--out", metavar="DIR",
                   help="directory for the profile (default: "
                        "./mprof.PROGRAM.DATE-TIME)")
    r.add_argument("--every", type=float, metavar="SECONDS",
                   help="dump the running program's profile this often")
    r.add_argument("--interval", type=int, metavar="BYTES",
                   help="dump every BYTES allocated "
                        "(GLIBC_MALLOC_PROFILE_INTERVAL)")
    r.add_argument("--peak", action="store_true",
                   help="keep the profile of the peak in-use heap "
                        "(GLIBC_MALLOC_PROFILE_PEAK)")
    r.add_argument("--only-top", action="store_true",
                   help="profile the program alone, not the programs it "
                        "starts (no mount namespace needed)")
    r.add_argument("command", nargs=argparse.REMAINDER)
    d = sub.add_parser("dump", help="dump the profile of a running process")
    d.add_argument("pid", type=int)
    d.add_argument("-o", "--output", metavar="DIR",
                   help="a new directory for the dump (default: the "
                        "process's profile directory, as its next dump)")
    a = sub.add_parser("attach", help="switch the profiler on in a running "
                                      "process started without it")
    a.add_argument("pid", type=int)
    sampling_options(a)
    a.add_argument("--out", metavar="DIR",
                   help="where the process writes its dump at exit "
                        "(default: ./mprof.COMMAND.DATE-TIME)")
    a.add_argument("--seconds", type=int, metavar="N",
                   help="stop counting after N seconds, then dump")
    a.add_argument("--timeout", type=float, default=10, metavar="N",
                   help="how long to wait for the process to take the "
                        "request, at an allocation (default 10)")
    e = sub.add_parser("detach", help="stop the profiler of an attached "
                                      "process; its tables stay")
    e.add_argument("pid", type=int)
    e.add_argument("--timeout", type=float, default=10, metavar="N",
                   help="how long to wait for the process to take the "
                        "request (default 10)")
    g = sub.add_parser("plot", help="the in-use heap over a run's dumps, "
                                    "as SVG")
    g.add_argument("input", metavar="PROFILE_DIR")
    g.add_argument("-o", "--output", metavar="FILE", required=True)
    g.add_argument("--pid", type=int,
                   help="the process to plot (default: the one with the "
                        "most dumps)")
    g.add_argument("--top", type=int, metavar="N",
                   help="call sites drawn apart (default 8)")
    g.add_argument("--memory", action="store_true",
                   help="the resident memory by part (in use, tcaches, "
                        "free, top, not malloc's) instead")
    v = sub.add_parser("serve", help="serve the heap profiles of running "
                                     "processes over HTTP, as Go's "
                                     "net/http/pprof does")
    v.add_argument("--listen", default="127.0.0.1:6060",
                   metavar="ADDRESS:PORT",
                   help="where to listen (default 127.0.0.1:6060; port 0: "
                        "any free port)")
    v.add_argument("--verbose", action="store_true",
                   help="log each request on standard error")
    b = sub.add_parser("probes", help="profile running processes through "
                                      "libc's OpenTelemetry memory probes, "
                                      "with bpftrace (root)")
    b.add_argument("pid", type=int, nargs="?")
    b.add_argument("--all", action="store_true",
                   help="every process on the built libc")
    b.add_argument("--seconds", type=float, default=30,
                   help="how long to stay attached (default 30)")
    b.add_argument("--out", metavar="DIR",
                   help="directory for the profile (default: "
                        "./mprof.probes.DATE-TIME)")
    p = sub.add_parser("report", help="merge, symbolize and write a report")
    p.add_argument("inputs", nargs="+", metavar="PROFILE_DIR_OR_FILES")
    p.add_argument("--format", choices=FORMATS, default="text")
    p.add_argument("--sample", choices=SAMPLE_TYPES,
                   help="the value reports order and draw by "
                        "(default inuse_space)")
    p.add_argument("--leaks", action="store_true",
                   help="what was still allocated when the profiles were "
                        "written, by call site")
    p.add_argument("--lifetimes", action="store_true",
                   help="how long blocks lived, by call site")
    p.add_argument("-o", "--output", metavar="FILE")
    p.add_argument("--top", type=int, metavar="N",
                   help="call sites listed (default 10; --leaks: all)")
    p.add_argument("--by-thread", action="store_true")
    p.add_argument("--by-process", action="store_true",
                   help="a table of the processes (a tree, a fork), each "
                        "with its totals")
    p.add_argument("--dump", type=int, metavar="N",
                   help="report dump N of each process (default: the "
                        "latest)")
    p.add_argument("--diff", type=int, nargs=2, metavar=("A", "B"),
                   help="report the growth from dump A to dump B")
    p.add_argument("--peak", action="store_true",
                   help="report the in-use profile at the peak (of the "
                        "latest dump, or --dump N)")
    p.add_argument("--debug-dir", action="append", default=[], metavar="DIR",
                   help="a directory of separate debug files, laid out as "
                        "/usr/lib/debug is (DIR/.build-id/xx/yyyy.debug)")
    args = ap.parse_args()
    try:
        if args.glibc is not None:
            if not os.path.isdir(args.glibc):
                raise BadInput(f"--glibc {args.glibc}: not a directory")
            where.give(args.glibc)
        if args.cmd == "run":
            if args.command and args.command[0] == "--":
                args.command = args.command[1:]
            if args.mean is not None and args.mean <= 0:
                raise BadInput("--mean must be a positive number of bytes")
            if args.every is not None and not 0.01 <= args.every <= 86400:
                raise BadInput("--every must be from 0.01 to 86400 seconds")
            if args.interval is not None and not 0 < args.interval <= 1 << 62:
                raise BadInput("--interval must be from 1 to 2^62 bytes")
            if args.depth is not None and not 1 <= args.depth <= 128:
                raise BadInput("--depth must be from 1 to 128")
            sys.exit(run(args))
        elif args.cmd == "dump":
            dump(args)
        elif args.cmd == "attach":
            attach_(args)
        elif args.cmd == "detach":
            detach_(args)
        elif args.cmd == "plot":
            plot_(args)
        elif args.cmd == "serve":
            serve.main(args.listen, args.verbose)
        elif args.cmd == "probes":
            if (args.pid is None) == (not args.all):
                raise BadInput("give a PID or --all")
            probes.main(args, where.top())
        else:
            report(args)
    except BadInput as e:
        sys.exit(f"mprof: {e}")
    except BrokenPipeError:
        sys.exit(1)
    except OSError as e:
        sys.exit(f"mprof: {e.filename or ''}: {e.strerror}")
