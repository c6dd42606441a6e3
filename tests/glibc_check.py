#!/usr/bin/python3
"""Run glibc's make check on the patched build and on the unpatched one
(tests/glibc-check.sh) and write the failures only the patched build has
to tests/GLIBC-CHECK.md."""

import argparse
import datetime
import os
import shutil
import subprocess
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UNPATCHED = os.path.join(TOP, "build", "baseline", "build", "glibc")
PATCHED = os.path.join(TOP, "build", "glibc")
PROFILED_SUBDIRS = ["malloc", "nptl", "elf", "posix", "stdlib"]


SOURCES = {UNPATCHED: os.path.join(TOP, "build", "baseline", "glibc-src"),
           PATCHED: os.path.join(TOP, "glibc-src")}


def read_sum(obj, subdirs=()):
    """{test: result} of the last make check in OBJ, or of the last one
    in each of SUBDIRS."""
    paths = ([os.path.join(obj, d, "subdir-tests.sum") for d in subdirs]
             or [os.path.join(obj, "tests.sum")])
    results = {}
    for path in paths:
        with open(path) as f:
            results.update(line.strip().split(": ", 1)[::-1] for line in f
                           if ": " in line)
    return results


def check(obj, subdirs, env):
    """{test: result} of make check in OBJ, in SUBDIRS (all if empty).
    make runs a test again only if its output is older than the test, so
    the outputs of earlier runs (with other variables) go first.  A
    subdirectory's tests run from their source directory, not with
    "make check subdirs=..." at the top.  Either may remake
    linkobj/libc_pic.a as a link to libc_pic.a, without sunrpc's compat
    objects swapped in, and the next build would fail to link libnsl
    against it: the link is removed, for that build to remake it."""
    for top in [os.path.join(obj, d) for d in subdirs] or [obj]:
        for root, _, files in os.walk(top):
            for name in files:
                if name.endswith((".out", ".test-result")):
                    os.unlink(os.path.join(root, name))
    e = {k: v for k, v in os.environ.items()
         if not k.startswith("GLIBC_MALLOC_PROFILE") and k != "GLIBC_TUNABLES"}
    e.update(env, TIMEOUTFACTOR="4")
    jobs = ["-j", str(os.cpu_count())]
    for args in ([["make", "-C", os.path.join(SOURCES[obj], d),
                   "objdir=" + obj, *jobs, "check"] for d in subdirs]
                 or [["make", "-C", obj, *jobs, "check"]]):
        subprocess.run(args, env=e, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    pic = os.path.join(obj, "linkobj", "libc_pic.a")
    if (os.path.exists(pic)
            and os.path.samefile(pic, os.path.join(obj, "libc_pic.a"))):
        os.unlink(pic)
    return read_sum(obj, subdirs)


def fresh_testroot(obj):
    """Install OBJ's build into the root of its test containers again:
    make installs it once and not when libc changes, so the container
    tests would run an earlier build's libc and ld.so (a build made
    before struct rtld_global changed crashes them)."""
    root = os.path.join(obj, "testroot.pristine")
    shutil.rmtree(root, ignore_errors=True)
    subprocess.run(["make", "-C", obj, os.path.join(root, "install.stamp")],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def failed(results, subdirs):
    return {t for t, r in results.items() if r in ("FAIL", "ERROR")
            and (not subdirs or t.split("/")[0] in subdirs)}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("subdirs", nargs="*",
                    help="run only these subdirectories (a trial)")
    ap.add_argument("--reuse-unpatched", action="store_true",
                    help="take the unpatched results from the tests.sum of "
                    "its last make check instead of running it again")
    ap.add_argument("--unpatched-failed", metavar="TEST,...",
                    help="instead of the unpatched build's results, the "
                    "tests that failed in it, as an earlier run recorded "
                    "them (its tests.sum gone)")
    args = ap.parse_args()
    trial = args.subdirs
    fresh_testroot(PATCHED)
    if not (args.reuse_unpatched or args.unpatched_failed is not None):
        fresh_testroot(UNPATCHED)
    # The unpatched build ignores the profiler's variables: one run of it
    # is the baseline of both runs of the patched one.
    reused = ""
    if args.unpatched_failed is not None:
        unpatched = {t: "FAIL" for t in args.unpatched_failed.split(",") if t}
        reused = (", the unpatched failures as given: "
                  + (", ".join(sorted(unpatched)) or "none"))
    elif args.reuse_unpatched:
        unpatched = read_sum(UNPATCHED)
    else:
        unpatched = check(UNPATCHED, trial, {})
    if args.reuse_unpatched:
        when = datetime.datetime.fromtimestamp(
            os.path.getmtime(os.path.join(UNPATCHED, "tests.sum")))
        reused = (", the unpatched results from its make check of "
                  f"{when:%Y-%m-%d %H:%M}")
    rows = []
    with tempfile.TemporaryDirectory() as out:
        runs = [("profiler unset", trial, {}),
                ("profiler on, mean 64", trial or PROFILED_SUBDIRS,
                 {"GLIBC_MALLOC_PROFILE": "1",
                  "GLIBC_MALLOC_PROFILE_BYTES": "64",
                  "GLIBC_MALLOC_PROFILE_OUT": out})]
        for name, subdirs, env in runs:
            patched = check(PATCHED, subdirs, env)
            new = sorted(failed(patched, subdirs) - failed(unpatched, subdirs))
            rows.append((name, " ".join(subdirs) or "all", len(patched),
                         len(failed(unpatched, subdirs)),
                         len(failed(patched, subdirs)), new))
            print(f"{name}: {rows[-1][2]} tests, new failures: {new or 'none'}",
                  flush=True)
    lines = [f"# glibc's make check, {datetime.date.today().isoformat()}", "",
             "`tests/glibc-check.sh`" + (f" {' '.join(trial)} (a trial)"
                                         if trial else "")
             + ": the series against the same glibc master source built"
             " without it, on the same machine" + reused + ".", "",
             "| run | subdirectories | tests | failed unpatched | "
             "failed patched | only patched |", "|---|---|---:|---:|---:|---|"]
    lines += [f"| {n} | {s} | {t} | {fu} | {fp} | {', '.join(new) or 'none'} |"
              for n, s, t, fu, fp, new in rows]
    # A trial's table is printed, to be placed by hand.
    if trial:
        print("\n".join(lines))
        return
    with open(os.path.join(TOP, "tests", "GLIBC-CHECK.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
