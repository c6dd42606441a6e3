"""Run programs under glibc's sampling heap profiler and read its profiles.

  mprof run [--rate BYTES] [--out DIR] -- PROGRAM ARGS...
  mprof report PROFILE_DIR_OR_FILES... [--format FORMAT] [--sample TYPE]
               [-o FILE] [--top N] [--by-thread]
  mprof report --leaks PROFILE_DIR_OR_FILES... [--top N]

Formats: text (default), folded, flamegraph, pprof, gperf, json.
Sample types, as pprof names them: inuse_space (default), inuse_objects
(still allocated when the profiles were written), alloc_space,
alloc_objects (every allocation).  --leaks lists what was still allocated,
by call site.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time

from .formats import FORMATS, leaks, text
from .profile import SAMPLE_TYPES, BadInput, Profile
from .symbolize import Symbolizer

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
INSTALL = os.path.join(TOP, "install")
LOADER = os.path.join(INSTALL, "lib", "ld-linux-x86-64.so.2")


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
    args.sample = args.sample or "inuse_space"
    profile = Profile(args.inputs)
    sym = Symbolizer()
    sym.symbolize(profile)
    data = (leaks if args.leaks else FORMATS[args.format]).render(
        profile, sym, args)
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
    if not os.path.exists(LOADER):
        raise BadInput(f"{LOADER} is missing: build the profiler first with "
                       f"{os.path.join(TOP, 'build.sh')}")
    if not args.command:
        raise BadInput("no program given: mprof run [options] -- PROGRAM ARGS")
    prog = args.command[0]
    path = prog if "/" in prog else shutil.which(prog)
    if not path or not os.path.isfile(path):
        raise BadInput(f"{prog}: program not found")
    out = args.out or (f"mprof.{os.path.basename(prog)}."
                       f"{time.strftime('%Y%m%d-%H%M%S')}")
    out = os.path.abspath(out)
    os.makedirs(out, exist_ok=True)
    env = dict(os.environ, GLIBC_MALLOC_PROFILE="1",
               GLIBC_MALLOC_PROFILE_OUT=out)
    if args.rate is not None:
        env["GLIBC_MALLOC_PROFILE_BYTES"] = str(args.rate)
    p = subprocess.run([LOADER, "--library-path",
                        os.path.join(INSTALL, "lib"), path] + args.command[1:],
                       env=env)
    status = p.returncode if p.returncode >= 0 else 128 - p.returncode
    if p.returncode < 0:
        print(f"mprof: {prog} killed by signal "
              f"{signal.Signals(-p.returncode).name}", file=sys.stderr)
    print(f"\nmprof: profile in {out}", file=sys.stderr)
    try:
        profile = Profile([out])
        sym = Symbolizer()
        sym.symbolize(profile)
        print(text.summary(profile, sym, "inuse_space"), file=sys.stderr)
    except BadInput as e:
        print(f"mprof: {e}", file=sys.stderr)
    return status


def main():
    ap = argparse.ArgumentParser(
        prog="mprof", description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n", 2)[2])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run a program with the profiler on")
    r.add_argument("--rate", type=int, metavar="BYTES",
                   help="mean bytes between samples (default 524288)")
    r.add_argument("--out", metavar="DIR",
                   help="directory for the profile (default: "
                        "./mprof.PROGRAM.DATE-TIME)")
    r.add_argument("command", nargs=argparse.REMAINDER)
    p = sub.add_parser("report", help="merge, symbolize and write a report")
    p.add_argument("inputs", nargs="+", metavar="PROFILE_DIR_OR_FILES")
    p.add_argument("--format", choices=FORMATS, default="text")
    p.add_argument("--sample", choices=SAMPLE_TYPES,
                   help="the value reports order and draw by "
                        "(default inuse_space)")
    p.add_argument("--leaks", action="store_true",
                   help="what was still allocated when the profiles were "
                        "written, by call site")
    p.add_argument("-o", "--output", metavar="FILE")
    p.add_argument("--top", type=int, metavar="N",
                   help="call sites listed (default 10; --leaks: all)")
    p.add_argument("--by-thread", action="store_true")
    args = ap.parse_args()
    try:
        if args.cmd == "run":
            if args.command and args.command[0] == "--":
                args.command = args.command[1:]
            if args.rate is not None and args.rate <= 0:
                raise BadInput("--rate must be a positive number of bytes")
            sys.exit(run(args))
        report(args)
    except BadInput as e:
        sys.exit(f"mprof: {e}")
    except BrokenPipeError:
        sys.exit(1)
    except OSError as e:
        sys.exit(f"mprof: {e.filename or ''}: {e.strerror}")
