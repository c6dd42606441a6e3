#!/usr/bin/python3
"""What the profiler costs: each workload under unpatched glibc, the patched
glibc with profiling unset and on at several means, and jemalloc's and
gperftools' tcmalloc's samplers against their own unprofiled runs; the
memory the tracking of live blocks takes; a uprobe leak tracer.  Writes
bench/RESULTS.md and bench/results.png.  Run through bench/run.sh, which
builds what this needs.

  bench/bench.py [--runs N] [--close-runs N] [--only WORKLOAD...]
                 [--no-write]

Runs alternate: every round runs every configuration of a workload once,
the first round is a warm-up, and the medians of the other N are reported,
with confidence intervals for the ratios.  A second pass runs only
unpatched, unpatched again (an A/A control), unset and 512K, --close-runs
rounds, to resolve differences of a fraction of a percent.
"""

import argparse
import datetime
import json
import math
import os
import platform
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import variables as var

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(TOP, "bench")
BIN = os.path.join(TOP, "build", "bench")
PATCHED = os.path.join(TOP, "install")
BASELINE = os.path.join(TOP, "build", "baseline", "install")
GLIBC_SRC = os.path.join(TOP, "glibc-src")
MULTIARCH = "/usr/lib/x86_64-linux-gnu"
JEMALLOC = os.path.join(MULTIARCH, "libjemalloc.so.2")
TCMALLOC = os.path.join(MULTIARCH, "libtcmalloc.so.4")
MEANS = [("512K", 524288, 19), ("64K", 65536, 16), ("4K", 4096, 12)]
# bench-malloc-thread.c runs for a fixed 10 s; 1 s is plenty at millions of
# iterations per second and keeps the whole run near a quarter of an hour.
THREAD_BENCH_SECONDS = 1


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def build_workloads():
    """Compile the workloads once; glibc's benchtests get a stand-in for
    bench-timing.h, which needs glibc's internal headers."""
    os.makedirs(BIN, exist_ok=True)
    work = os.path.join(BIN, "benchtests")
    os.makedirs(work, exist_ok=True)
    bt = os.path.join(GLIBC_SRC, "benchtests")
    for name in ("bench-malloc-simple.c", "bench-malloc-thread.c",
                 "json-lib.c", "json-lib.h"):
        with open(os.path.join(bt, name)) as f:
            text = f.read()
        if name == "bench-malloc-thread.c":
            text = re.sub(r"(#define BENCHMARK_DURATION\s+)10",
                          r"\g<1>%d" % THREAD_BENCH_SECONDS, text)
        with open(os.path.join(work, name), "w") as f:
            f.write(text)
    shutil.copy(os.path.join(HERE, "bench-timing.h"), work)
    for name in ("simple", "thread"):
        sh(["gcc", "-O2", "-o", os.path.join(BIN, "bench-malloc-" + name),
            os.path.join(work, "bench-malloc-%s.c" % name),
            os.path.join(work, "json-lib.c"), "-pthread", "-lm"])
    sh(["gcc", "-O2", "-fno-omit-frame-pointer", "-o",
        os.path.join(BIN, "churn"), os.path.join(HERE, "churn.c")])
    sh(["gcc", "-O2", "-pthread", "-o", os.path.join(BIN, "prodcons"),
        os.path.join(HERE, "prodcons.c")])
    sh(["gcc", "-O2", "-o", os.path.join(BIN, "hold"),
        os.path.join(HERE, "hold.c")])
    build_mimalloc_bench()


def build_mimalloc_bench():
    """The benchmarks of mimalloc-bench that allocator comparisons quote,
    from the copies of their sources in bench/mimalloc-bench/, with the
    flags of its CMakeLists.txt (a Release build)."""
    src = os.path.join(HERE, "mimalloc-bench")
    c_old = ["gcc", "-O3", "-DNDEBUG", "-w", "-std=gnu89"]
    for name, files, cc, flags in (
            ("cfrac", "cfrac.c pops.c pconst.c pio.c pabs.c pneg.c pcmp.c "
             "podd.c phalf.c padd.c psub.c pmul.c pdivmod.c psqrt.c "
             "ppowmod.c atop.c ptoa.c itop.c utop.c ptou.c errorp.c "
             "pfloat.c pidiv.c pimod.c picmp.c primes.c pcfrac.c pgcd.c",
             c_old, ["-DNOMEMOPT=1", "-lm"]),
            ("espresso", "cofactor.c cols.c compl.c contain.c cubestr.c "
             "cvrin.c cvrm.c cvrmisc.c cvrout.c dominate.c equiv.c "
             "espresso.c essen.c exact.c expand.c gasp.c getopt.c gimpel.c "
             "globals.c hack.c indep.c irred.c main.c map.c matrix.c "
             "mincov.c opo.c pair.c part.c primes.c reduce.c rows.c set.c "
             "setc.c sharp.c sminterf.c solution.c sparse.c unate.c "
             "utility.c verify.c", c_old, ["-lm"]),
            ("larson", "larson.cpp", ["g++", "-O3", "-DNDEBUG", "-w"],
             ["-DCPP=1", "-pthread"]),
            ("xmalloc-test", "xmalloc-test.c", ["gcc", "-O3", "-DNDEBUG",
                                                "-w"], ["-pthread"]),
            ("mstress", "mstress.c", ["gcc", "-O3", "-DNDEBUG", "-w"],
             ["-pthread"]),
            ("alloc-test", "test_common.cpp allocator_tester.cpp",
             ["g++", "-O3", "-DNDEBUG", "-w", "-std=c++17"],
             ["-DBENCH=4", "-pthread"])):
        sh(cc + ["-o", os.path.join(BIN, name)]
           + [os.path.join(src, name, f) for f in files.split()] + flags)


def cc1plus_command():
    """The command g++ runs to compile bench/real.cc, so that cc1plus itself
    (not the driver, which execs it) runs under the loader being measured."""
    out = subprocess.run(["g++", "-###", "-O0", "-std=c++17", "-S",
                          os.path.join(HERE, "real.cc"), "-o", "/dev/null"],
                         capture_output=True, text=True, check=True).stderr
    for line in out.splitlines():
        words = shlex.split(line)
        if words and words[0].endswith("/cc1plus"):
            return words
    sys.exit("bench: no cc1plus line in g++ -###")


class Config:
    def __init__(self, family, name, install, env=None, preload=None,
                 profiled=False):
        self.family, self.name = family, name
        self.install, self.env = install, env or {}
        self.preload, self.profiled = preload, profiled

    def argv(self, prog):
        lib = os.path.join(self.install, "lib")
        cmd = [os.path.join(lib, "ld-linux-x86-64.so.2"),
               "--library-path", lib]
        if self.preload:
            cmd += ["--preload", self.preload]
        return cmd + prog


def configs():
    ours = [Config("glibc", "unpatched", BASELINE),
            Config("glibc", "unset", PATCHED)]
    ours += [Config("glibc", name, PATCHED, profiled=True,
                    env={var.ON: "1",
                         var.MEAN: str(mean)})
             for name, mean, _ in MEANS]
    ours.append(Config("glibc", "512K dwarf", PATCHED, profiled=True,
                       env={var.ON: "1",
                            var.UNWIND: "dwarf"}))
    je = [Config("jemalloc", "plain", BASELINE, preload=JEMALLOC)]
    je += [Config("jemalloc", name, BASELINE, preload=JEMALLOC,
                  env={"MALLOC_CONF": "prof:true,lg_prof_sample:%d" % lg})
           for name, _, lg in MEANS]
    tc = [Config("tcmalloc", "plain", BASELINE, preload=TCMALLOC)]
    tc += [Config("tcmalloc", name, BASELINE, preload=TCMALLOC,
                  env={"TCMALLOC_SAMPLE_PARAMETER": str(mean)})
           for name, mean, _ in MEANS]
    return ours + je + tc


def json_number(key):
    def parse(out):
        m = re.search(r'"%s":\s*([0-9.e+-]+)' % key, out)
        return float(m.group(1))
    return parse


def simple_total(out):
    # The sum over bench-malloc-simple's 12 cases of ns per iteration.
    return sum(float(v) for v in re.findall(r'_time":\s*([0-9.e+-]+)', out))


# name, argv, how to read the result from stdout (None: child CPU time),
# unit, what it is.
def workloads():
    b = lambda *a: [os.path.join(BIN, a[0])] + list(a[1:])
    return [
        ("simple", b("bench-malloc-simple", "64"), simple_total, "ns",
         "glibc's bench-malloc-simple, 64-byte blocks: sum of its 12 cases' "
         "ns per iteration (main arena, main arena multi-threaded, thread "
         "arena; 25 to 1600 blocks live)"),
        ("thread-1", b("bench-malloc-thread", "1"),
         json_number("time_per_iteration"), "ns",
         "glibc's bench-malloc-thread, 1 thread, 4 B-32 KiB blocks: ns per "
         "malloc+free"),
        ("thread-2", b("bench-malloc-thread", "2"),
         json_number("time_per_iteration"), "ns",
         "the same with 2 threads (ns per malloc+free, summed over threads)"),
        ("churn", b("churn", "5000000"), float, "ns",
         "malloc/free churn of 16-528 byte blocks, 256 live, one thread: "
         "ns per pair"),
        ("prodcons", b("prodcons", "1000000", "1"), float, "ns",
         "1 producer allocates 16-528 byte blocks, 1 consumer thread frees "
         "them: wall ns per block"),
        ("cc1plus", cc1plus_command(), None, "s",
         "gcc's cc1plus compiling bench/real.cc (eleven standard library "
         "headers, <regex> among them, and a few templates) at -O0: CPU "
         "seconds"),
        # mimalloc-bench's, as its bench.sh runs them, shorter where they
        # run for a set time.
        ("cfrac", b("cfrac", "17545186520507317056371138836327483792789528"),
         None, "s", "mimalloc-bench's cfrac: factoring a 44-digit number "
         "with bignums of many small blocks; CPU seconds"),
        ("espresso", b("espresso", os.path.join(
            HERE, "mimalloc-bench", "espresso", "largest.espresso")),
         None, "s", "mimalloc-bench's espresso: logic minimization of its "
         "largest input; CPU seconds"),
        ("larson", b("larson", "1", "8", "1000", "5000", "100", "4141", "2"),
         larson_rate, "s",
         "mimalloc-bench's larson: 2 threads of a server, blocks of 8-1000 "
         "bytes freed by other threads than the ones that allocated them, "
         "1 s: seconds per 10^7 operations"),
        ("xmalloc-test", b("xmalloc-test", "-w", "2", "-t", "1", "-s",
                           "64"), xmalloc_rate, "s",
         "mimalloc-bench's xmalloc-test: 2 threads allocate 64-byte blocks "
         "that 2 others free, 1 s: seconds per 10^7 frees"),
        ("mstress", b("mstress", "2", "50", "250"), None, "s",
         "mimalloc-bench's mstress: 2 threads allocating, reallocating and "
         "passing blocks of random sizes between them; CPU seconds"),
        ("alloc-test", b("alloc-test", "1"), None, "s",
         "mimalloc-bench's alloc-test, one thread: a simulated load of "
         "blocks with a skewed size and lifetime distribution; CPU "
         "seconds"),
    ]


MIMALLOC_BENCH = ("cfrac", "espresso", "larson", "xmalloc-test", "mstress",
                  "alloc-test")


def larson_rate(out):
    # "Throughput = N operations per second, ..."
    return 1e7 / float(re.search(r"Throughput =\s*([0-9.]+)", out).group(1))


def xmalloc_rate(out):
    # "rtime: ..., free/sec: N M/sec"
    m = re.search(r"free/sec:\s*([0-9.]+)\s*M", out)
    return 10 / float(m.group(1))


def base_env():
    return {"PATH": "/usr/bin:/bin", "LANG": "C", "HOME": "/root"}


def run_once(cfg, prog, parse):
    """PARSE's reading of the program's output or, if PARSE is None, the
    CPU seconds it used."""
    env = base_env()
    env.update(cfg.env)
    with tempfile.TemporaryDirectory(prefix="mprof-bench.") as out_dir:
        if cfg.profiled:
            env[var.OUT] = out_dir
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        p = subprocess.run(cfg.argv(prog), env=env, capture_output=True,
                           text=True, cwd="/tmp")
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # alloc-test says how many threads it runs on stderr.
        err = re.sub(r"^threads: \d+\n", "", p.stderr)
        if p.returncode != 0 or err.strip():
            sys.exit("bench: %s %s: status %d, stderr %r"
                     % (cfg.family, cfg.name, p.returncode, p.stderr[-500:]))
        if cfg.profiled and not any(f.endswith(".heap")
                                    for _, _, files in os.walk(out_dir)
                                    for f in files):
            sys.exit("bench: %s %s wrote no profile" % (cfg.family, cfg.name))
    if parse is None:
        return (after.ru_utime - before.ru_utime
                + after.ru_stime - before.ru_stime)
    return parse(p.stdout)


def measure(cfgs, name, prog, parse, runs):
    """Per-round results: {(family, name): [value of round 1, ...]}."""
    results = {(c.family, c.name): [] for c in cfgs}
    for rnd in range(runs + 1):
        for c in cfgs:
            v = run_once(c, prog, parse)
            if rnd > 0:
                results[(c.family, c.name)].append(v)
        print("bench: %s round %d/%d" % (name, rnd, runs), file=sys.stderr)
    return results


def medians(runs):
    return {k: statistics.median(v) for k, v in runs.items()}


def median_ci(values):
    """The median of VALUES and a distribution-free confidence interval for
    it: the order statistics k and n + 1 - k for the largest k with
    P(Binomial(n, 1/2) < k) at most 2.5%, which covers the median with
    probability at least 95% (from 6 values on; below, min and max)."""
    v = sorted(values)
    n = len(v)
    k = 1
    while sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n <= 0.025:
        k += 1
    return statistics.median(v), v[k - 1], v[n - k]


def ratio_rows(cfgs, runs):
    """(family, name, median, ratio, ratio's CI low, high) per config; the
    ratio is the median of the rounds' ratios to the unprofiled run of the
    same round, which cancels the machine's drift between rounds."""
    rows = []
    for c in cfgs:
        base = runs[(c.family, "unpatched" if c.family == "glibc"
                     else "plain")]
        mine = runs[(c.family, c.name)]
        ratio, lo, hi = median_ci([a / b for a, b in zip(mine, base)])
        rows.append((c.family, c.name, statistics.median(mine), ratio, lo, hi))
    return rows


def callgrind_instructions(inst, env, pairs, depth=0, only_churn=False):
    """Instructions of a churn run: the whole process, or, if ONLY_CHURN,
    those executed inside its loop (malloc, free and whatever they call)."""
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    if only_churn:
        cmd.append("--toggle-collect=churn")
    lib = os.path.join(inst, "lib")
    cmd += [os.path.join(lib, "ld-linux-x86-64.so.2"), "--library-path", lib,
            os.path.join(BIN, "churn"), str(pairs), str(depth)]
    e = base_env()
    e.update(env)
    with tempfile.TemporaryDirectory(prefix="mprof-bench.") as out_dir:
        e[var.OUT] = out_dir
        err = subprocess.run(cmd, env=e, capture_output=True, text=True,
                             check=True).stderr
    return int(re.search(r"Collected : (\d+)", err).group(1))


INSTR_SEEDS = 7
INSTR_PAIRS = 300000


def instructions():
    """Instructions per malloc+free pair of the churn workload, counted
    inside its loop only, so that start-up and the writing of the profile
    at exit are left out and samples, their sampled blocks and the frees
    of those are in.  A profiled run's count depends on how many samples
    it takes, so those rows are the median over INSTR_SEEDS values of
    GLIBC_MALLOC_PROFILE_SEED."""
    on = lambda mean: {var.ON: "1",
                       var.MEAN: str(mean)}
    rows = []
    for name, inst, env in [("unpatched", BASELINE, {}),
                            ("patched, unset", PATCHED, {}),
                            ("patched, mean 512 KiB", PATCHED, on(524288)),
                            ("patched, mean 64 KiB", PATCHED, on(65536)),
                            ("patched, mean 4 KiB", PATCHED, on(4096)),
                            ("patched, mean 1 (every allocation sampled)",
                             PATCHED, on(1))]:
        values = []
        for seed in range(1, INSTR_SEEDS + 1 if env else 2):
            e = dict(env, GLIBC_MALLOC_PROFILE_SEED=str(seed)) if env else {}
            values.append(callgrind_instructions(inst, e, INSTR_PAIRS,
                                                 only_churn=True)
                          / INSTR_PAIRS)
        rows.append((name, statistics.median(values)))
    return rows


def slow_path_ns(runs):
    """ns per sample: churn with every allocation sampled (mean 1) against
    profiling unset; one malloc per pair, so the difference per pair is the
    slow path's cost per sample: the stack walk, the table, and making
    and freeing the sampled block."""
    cfgs = [Config("glibc", "unset", PATCHED),
            Config("glibc", "mean 1", PATCHED, profiled=True,
                   env={var.ON: "1",
                        var.MEAN: "1"})]
    med = medians(measure(cfgs, "slow path", [os.path.join(BIN, "churn"),
                                               "2000000"], float, runs))
    return med[("glibc", "unset")], med[("glibc", "mean 1")]


STACK_DEPTH = 70


def per_sample(runs):
    """What one sample costs by depth and unwinder: the churn workload
    run STACK_DEPTH frames deep with every allocation sampled (mean 1),
    against profiling unset.  Returns {(unwind, depth): (ns, instructions)}
    per sample."""
    def env(unwind, depth):
        return {var.ON: "1", var.MEAN: "1",
                var.UNWIND: unwind,
                var.DEPTH: str(depth)}
    kinds = [(u, d) for u in ("fp", "dwarf") for d in (1, 16, 64)]
    cfgs = [Config("glibc", "unset", PATCHED)] + [
        Config("glibc", "%s %d" % k, PATCHED, profiled=True, env=env(*k))
        for k in kinds]
    prog = [os.path.join(BIN, "churn"), "200000", str(STACK_DEPTH)]
    med = medians(measure(cfgs, "per sample", prog, float, runs))
    n = 2000
    i_off = (callgrind_instructions(PATCHED, {}, 2 * n, STACK_DEPTH)
             - callgrind_instructions(PATCHED, {}, n, STACK_DEPTH)) / n
    out = {}
    for k in kinds:
        e = env(*k)
        instr = (callgrind_instructions(PATCHED, e, 2 * n, STACK_DEPTH)
                 - callgrind_instructions(PATCHED, e, n, STACK_DEPTH)) / n
        out[k] = (med[("glibc", "%s %d" % k)] - med[("glibc", "unset")],
                  instr - i_off)
    return out


def memory(runs):
    """Resident set size of bench/hold, 1 GiB held in 16-256 byte blocks,
    under each allocator plain and profiled at 512 KiB and 4 KiB: {(family,
    name): median KiB}."""
    cfgs = [c for c in configs() if c.name in ("unpatched", "unset", "plain",
                                               "512K", "4K")]
    med = medians(measure(cfgs, "memory", [os.path.join(BIN, "hold")], int,
                          runs))
    return [(c.family, c.name, med[(c.family, c.name)]) for c in cfgs]


BPFTRACE_PAIRS = 20000


def uprobe_tracer():
    """ns per pair of the churn workload on unpatched glibc, alone and
    under a memleak-style bpftrace script (a uprobe on malloc's entry and
    return and on free, a map from address to size), or None without
    bpftrace."""
    if not shutil.which("bpftrace"):
        return None
    libc = os.path.realpath(os.path.join(BASELINE, "lib", "libc.so.6"))
    script = ("uprobe:%(l)s:malloc { @size[tid] = arg0; } "
              "uretprobe:%(l)s:malloc /@size[tid]/ "
              "{ @live[retval] = @size[tid]; delete(@size[tid]); } "
              "uprobe:%(l)s:free { delete(@live[arg0]); } "
              "END { clear(@live); clear(@size); }" % {"l": libc})
    cfg = Config("glibc", "unpatched", BASELINE)
    prog = cfg.argv([os.path.join(BIN, "churn"), str(BPFTRACE_PAIRS)])
    plain = float(subprocess.run(prog, capture_output=True, text=True,
                                 check=True).stdout)
    p = subprocess.run(["bpftrace", "-q", "-e", script, "-c",
                        " ".join(map(shlex.quote, prog))],
                       capture_output=True, text=True)
    m = re.match(r"\s*([0-9.]+)\s*$", p.stdout)
    if p.returncode != 0 or not m:
        print("bench: bpftrace failed: %s" % p.stderr.strip()[-300:],
              file=sys.stderr)
        return None
    return plain, float(m.group(1))


def disassembly(inst, symbol, lines):
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn",
                          os.path.join(inst, "lib", "libc.so.6")],
                         capture_output=True, text=True, check=True).stdout
    start = out.index("<%s>:" % symbol)
    body = out[start:].split("\n\n")[0].splitlines()[1:lines + 1]
    return [re.sub(r"^\s*[0-9a-f]+:\s*", "", l).replace("\t", " ")
            for l in body]


def counting_block(inst):
    """malloc's counting: from the countdown's subtraction to the tail
    call of the sampled function."""
    lines = disassembly(inst, "__libc_malloc", 10 ** 4)
    first = next(i for i, l in enumerate(lines) if "%fs:" in l
                 and l.startswith("sub "))
    last = next(i for i, l in enumerate(lines)
                if "<malloc_prof_sampled_malloc>" in l)
    return lines[first:last + 1]


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = []
    for pkg in ("libjemalloc2", "libgoogle-perftools4", "gcc-12", "valgrind"):
        v = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg],
                           capture_output=True, text=True).stdout
        versions.append("%s %s" % (pkg, v or "?"))
    return ("%s, %d cores, Linux %s; %s" %
            (model, os.cpu_count(), platform.release(), ", ".join(versions)))


def chart(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    series = [(r[0], r[1]) for r in results[0][2]
              if r[1] not in ("unpatched", "plain")]
    names = [w for w, _, _ in results]
    fig, ax = plt.subplots(figsize=(12, 5))
    width = 0.8 / len(series)
    colors = {"glibc": "tab:green", "jemalloc": "tab:blue",
              "tcmalloc": "tab:red"}
    shades = {"unset": 0.35, "512K": 1.0, "64K": 0.7, "4K": 0.45}
    for i, (fam, n) in enumerate(series):
        ys = [dict(((r[0], r[1]), r[3]) for r in rows).get((fam, n),
                                                            float("nan"))
              for _, _, rows in results]
        ax.bar([x + i * width for x in range(len(names))], ys, width,
               label="%s %s" % ("ours" if fam == "glibc" else fam, n),
               color=colors[fam], alpha=shades.get(n, 1.0),
               hatch="//" if "dwarf" in n else None)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(names))])
    ax.set_xticklabels(names)
    ax.set_ylabel("time / own unprofiled baseline (log)")
    ax.set_title("Profiling overhead by sampling mean")
    ax.legend(ncol=4, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def write_results(path, meta, results, close, instr, slow, samples,
                  disasm, mem, tracer):
    w = []
    w.append("# What the profiler costs\n")
    base = subprocess.run(["git", "-C", GLIBC_SRC, "log", "-1", "--format=%s",
                           "pristine"], capture_output=True,
                          text=True).stdout.strip()
    w.append("Generated by `bench/run.sh` on %s, the series on %s, against "
             "the same commit unpatched. Machine: %s.\n"
             % (meta["date"], base or "glibc", meta["machine"]))
    if "only" in meta:
        w.append("This run measured %s, the instruction counts, the slow "
                 "path, one sample, memory and the tracer; the other "
                 "workloads' rows are from the run of %s, of %d rounds.\n"
                 % (", ".join(meta["only"]), meta["others_date"],
                    meta["others_runs"]))
    w.append("Each configuration ran once per round, rounds alternating the "
             "configurations, %d rounds after a warm-up. The median is "
             "over rounds; the ratio is the median over rounds of the ratio "
             "to the same round's unprofiled run, which cancels drift "
             "between rounds, with a distribution-free 95%% confidence "
             "interval for it (with fewer than 9 rounds, the range). "
             "The unprofiled run is the configuration's own: "
             "unpatched glibc for ours, jemalloc and tcmalloc without "
             "profiling for theirs (both preloaded into the unpatched "
             "glibc). Means: ours `GLIBC_MALLOC_PROFILE_BYTES`, jemalloc "
             "`MALLOC_CONF=prof:true,lg_prof_sample:19/16/12`, tcmalloc "
             "`TCMALLOC_SAMPLE_PARAMETER`. Profiled runs of ours write their "
             "profiles at exit, inside the measured time. mimalloc-bench's "
             "programs, which run for seconds, ran ours at 512K and 4K and "
             "the others' samplers at 512K only.\n"
             % meta["runs"])
    w.append("![ratios](results.png)\n")
    w.append("## Ours, closely\n")
    w.append("Only unpatched, A/A, unset and 512K, %d rounds after a warm-up, "
             "so that a difference of a fraction of a percent can be told "
             "from noise: the ratio to unpatched and its 95%% confidence "
             "interval.  \"A/A\" is unpatched glibc run a second time in "
             "each round: what the method reports for two identical "
             "configurations.\n" % meta["close_runs"])
    w.append("| workload | A/A | A/A: 95% CI | unset | unset: 95% CI | 512K | "
             "512K: 95% CI |")
    w.append("|---|---:|---:|---:|---:|---:|---:|")
    for wname, rows in close:
        r = {n: (ratio, lo, hi) for _, n, _, ratio, lo, hi in rows}
        w.append("| %s | %.4f | %.4f-%.4f | %.4f | %.4f-%.4f | %.4f | "
                 "%.4f-%.4f |" % ((wname,) + r["unpatched again"] + r["unset"]
                                  + r["512K"]))
    w.append("")
    for wname, desc, rows in results:
        w.append("## %s\n\n%s.\n" % (wname, desc))
        w.append("| allocator | configuration | median | ratio | "
                 "ratio's 95% CI |")
        w.append("|---|---|---:|---:|---:|")
        for fam, n, med, ratio, lo, hi in rows:
            w.append("| %s | %s | %.4g | %.3f | %.3f-%.3f |"
                     % (fam, n, med, ratio, lo, hi))
        w.append("")
    w.append("## Instructions\n")
    w.append("`valgrind --tool=callgrind --toggle-collect=churn` on the "
             "churn workload, %d pairs: instructions per malloc+free pair "
             "inside its loop, samples, their sampled blocks and the frees "
             "of those included (start-up and the writing of the profile "
             "at exit left out); profiled rows are the median over %d "
             "sampling seeds:\n" % (INSTR_PAIRS, INSTR_SEEDS))
    w.append("| glibc | instructions per pair | added |")
    w.append("|---|---:|---:|")
    base = instr[0][1]
    for name, n in instr:
        w.append("| %s | %.2f | %+.2f |" % (name, n, n - base))
    w.append("")
    off, one = slow
    by_name = dict(instr)
    w.append("## The slow path on its own\n")
    w.append("The churn workload (four frames deep: churn, descend, main, "
             "__libc_start_call_main) with every allocation sampled (mean 1, "
             "default depth and unwinder) against profiling unset, medians: "
             "%.2f ns against %.2f ns per "
             "pair, so **%.1f ns per sample**; callgrind counts %.0f "
             "instructions per sample.\n"
             % (one, off, one - off,
                by_name["patched, mean 1 (every allocation sampled)"]
                - by_name["patched, unset"]))
    w.append("## One sample, by stack depth and unwinder\n")
    w.append("The churn workload run %d frames below main (every frame with "
             "a frame pointer and unwind tables), every allocation sampled "
             "(mean 1), against profiling unset; medians. "
             "`GLIBC_MALLOC_PROFILE_DEPTH` caps the frames kept.\n"
             % STACK_DEPTH)
    w.append("| depth | fp: ns | fp: instructions | dwarf: ns | "
             "dwarf: instructions |")
    w.append("|---:|---:|---:|---:|---:|")
    for d in (1, 16, 64):
        fp, dw = samples[("fp", d)], samples[("dwarf", d)]
        w.append("| %d | %.0f | %.0f | %.0f | %.0f |"
                 % (d, fp[0], fp[1], dw[0], dw[1]))
    w.append("")
    w.append("## Memory\n")
    w.append("`bench/hold`: 1 GiB requested in blocks of 16 to 256 bytes, "
             "all held at once, then its resident set size (medians of %d "
             "runs). What profiling adds is measured against the same "
             "allocator unprofiled, and given as a share of the 1 GiB held."
             " Ours adds, per sampled block, the 48 bytes in front of it "
             "(see malloc/malloc-prof-sampled.c), and per call site an entry "
             "of its thread's table.\n" % meta["runs"])
    w.append("| allocator | configuration | RSS (KiB) | added (KiB) | "
             "added / 1 GiB |")
    w.append("|---|---|---:|---:|---:|")
    base = {fam: kib for fam, n, kib in mem if n in ("unpatched", "plain")}
    for fam, n, kib in mem:
        if n == "unpatched":
            w.append("| %s | %s | %d | | |" % (fam, n, kib))
            continue
        ref = base[fam]
        w.append("| %s | %s | %d | %+d | %+.3f%% |"
                 % (fam, n, kib, kib - ref, 100.0 * (kib - ref) / (1 << 20)))
    w.append("")
    if tracer:
        plain, traced = tracer
        w.append("## A uprobe leak tracer\n")
        w.append("The eBPF way to find leaks: a memleak-style bpftrace "
                 "script with uprobes on malloc's entry and return and on "
                 "free of unpatched glibc, keeping a map from address to "
                 "size. The churn workload, %d pairs: %.1f ns per pair "
                 "alone, %.0f ns under the tracer, **%.0f times slower**."
                 " Ours tracks what is live at 512 KiB for the cost in "
                 "the tables above.\n"
                 % (BPFTRACE_PAIRS, plain, traced, traced / plain))
    w.append("## The fast path\n")
    w.append("`objdump -d` of the top of each:\n")
    for label, lines in disasm:
        w.append("%s:\n\n```\n%s\n```\n" % (label, "\n".join(lines)))
    # The sections of bench/dumps.py and bench/aarch64.py stay.
    kept = ""
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
        marks = [old.index(m) for m in ("<!-- dumps:", "<!-- aarch64:")
                 if m in old]
        if marks:
            kept = "\n" + old[min(marks):]
    with open(path, "w") as f:
        f.write("\n".join(w) + kept)


def merge_partial(results, close, meta):
    """A run of some workloads (--only): their rows, and the other
    workloads' rows from the last results.json, whose date the text
    gives for them."""
    path = os.path.join(HERE, "results.json")
    if not os.path.exists(path):
        return results, close, meta
    with open(path) as f:
        old = json.load(f)
    new_names = {r[0] for r in results}
    names = [w[0] for w in workloads()]
    merged = {r[0]: r for r in old["results"]}
    merged.update({r[0]: r for r in results})
    merged_close = {c[0]: c for c in old["closely"]}
    merged_close.update({c[0]: c for c in close})
    meta = dict(meta, only=sorted(new_names),
                others_date=old["meta"].get("others_date",
                                            old["meta"]["date"]),
                others_runs=old["meta"].get("others_runs",
                                            old["meta"]["runs"]))
    return ([merged[n] for n in names if n in merged],
            [merged_close[n] for n in names if n in merged_close], meta)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--close-runs", type=int, default=21)
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    build_workloads()
    disasm = [("unpatched `__libc_malloc`",
               disassembly(BASELINE, "__libc_malloc", 18)),
              ("patched `__libc_malloc`: the same, its bound "
               "`mp_.tcache_fast_bytes` where the unpatched one reads "
               "`mp_.tcache_max_bytes`", disassembly(PATCHED, "__libc_malloc",
                                                     18)),
              ("the branch a process that profiles takes: the subtraction "
               "and its branch, the copy of the fast path, and the tail "
               "call of the sampled function", counting_block(PATCHED))]
    cfgs = configs()
    results = []
    chosen = [w for w in workloads() if not args.only or w[0] in args.only]
    for name, prog, parse, unit, desc in chosen:
        mine = cfgs
        if name in MIMALLOC_BENCH:
            # Seconds a run: jemalloc's and tcmalloc's samplers at small
            # means would take minutes.
            mine = [c for c in cfgs if c.name in ("unpatched", "unset",
                                                  "plain", "512K")
                    or (c.family, c.name) == ("glibc", "4K")]
        rows = ratio_rows(mine, measure(mine, name, prog, parse, args.runs))
        results.append((name, desc + " (%s)" % unit, rows))
        for fam, n, m, r, lo, hi in rows:
            print("%-10s %-9s %-10s %10.4g %7.3f [%.3f, %.3f]"
                  % (name, fam, n, m, r, lo, hi))
    close = []
    ours = [c for c in cfgs if c.family == "glibc"
            and c.name in ("unpatched", "unset", "512K")]
    # The same unpatched glibc a second time: the ratio this method reports
    # for two identical configurations is the noise a difference must beat.
    ours.insert(1, Config("glibc", "unpatched again", BASELINE))
    for name, prog, parse, _, _ in chosen:
        rows = ratio_rows(ours, measure(ours, name + " closely", prog, parse,
                                        args.close_runs))
        close.append((name, rows))
        for _, n, _, r, lo, hi in rows[1:]:
            print("%-10s closely %-10s %8.4f [%.4f, %.4f]"
                  % (name, n, r, lo, hi))
    instr = instructions()
    for name, n in instr:
        print("instructions/pair %-45s %.2f" % (name, n))
    slow = slow_path_ns(args.runs)
    print("slow path: %.2f ns per sample" % (slow[1] - slow[0]))
    samples = per_sample(args.runs)
    for k, (ns, n) in sorted(samples.items()):
        print("per sample %s depth %d: %.0f ns, %.0f instructions"
              % (k[0], k[1], ns, n))
    mem = memory(args.runs)
    for fam, n, kib in mem:
        print("memory %-9s %-10s %d KiB" % (fam, n, kib))
    tracer = uprobe_tracer()
    if tracer:
        print("uprobe tracer: %.1f ns per pair alone, %.0f traced"
              % tracer)
    if args.no_write:
        return
    meta = {"date": datetime.date.today().isoformat(), "machine": machine(),
            "runs": args.runs, "close_runs": args.close_runs}
    if args.only:
        results, close, meta = merge_partial(results, close, meta)
    write_results(os.path.join(HERE, "RESULTS.md"), meta, results, close,
                  instr, slow, samples, disasm, mem, tracer)
    with open(os.path.join(HERE, "results.json"), "w") as f:
        json.dump({"meta": meta, "results": results, "closely": close,
                   "instructions": instr,
                   "slow_path": slow,
                   "per_sample": {"%s %d" % k: v for k, v in samples.items()},
                   "memory": mem, "uprobe_tracer": tracer},
                  f, indent=1)
    chart(results, os.path.join(HERE, "results.png"))
    print("bench: wrote bench/RESULTS.md, results.json and results.png")


if __name__ == "__main__":
    main()
