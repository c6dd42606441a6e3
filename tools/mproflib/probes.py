"""mprof probes: a heap profile of running processes from libc's
OpenTelemetry memory probes, with bpftrace, as root.

libc fires otel_memory:alloc (ptr, size, weight) for each block it
samples and otel_memory:free (ptr) when a sampled block is freed, and
samples on its own, with no library loaded and no variable set, while
the alloc probe is attached (malloc/malloc-prof-sampled.c).  bpftrace
attaches both, which raises their semaphores in the process, and prints
each event with the call stack the kernel walks by frame pointers.  The
samples are written as a dump that mprof report reads: per thread, the
count of each (stack, size) and how many of its blocks were still
allocated when the probes were detached.  The weight of a sample is
size / p (size) for the sampling mean of the process, which the dump's
mean is worked out from, so that the report's estimates are the sums of
the weights.
"""

import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import defaultdict

from . import live
from .profile import FORMAT_VERSION, MAPS_VERSIONS, BadInput, write_build_ids

DEFAULT_MEAN = 524288
# The probe site and the sampled allocation function whose frame it
# passes through: the allocator's, above the caller of malloc.
ALLOCATOR_PCS = 2
EVENT = re.compile(r"([AF]) (\d+) (\d+) (\d+)(?: (\d+) (\d+) (\d+))?$")
FRAME = re.compile(r"\s+([0-9a-f]+)\b")


def libc_of(pid):
    """The libc process PID maps, as a path that reaches it from here."""
    for line in live.read_maps(pid):
        parts = line.split(None, 5)
        if len(parts) == 6 and re.search(r"/libc\.so\.6$", parts[5]):
            return f"/proc/{pid}/root{parts[5]}"
    raise BadInput(f"process {pid} maps no libc.so.6")


def has_probes(path):
    try:
        with open(path, "rb") as f:
            return b"otel_memory" in f.read()
    except OSError:
        return False


def script(libc, seconds, me):
    return (f"usdt:{libc}:otel_memory:alloc {{ printf(\"A %d %d %lu %lu %lu"
            f" %d\\n%s\\n\", pid, tid, arg0, arg1, arg2, "
            f"curtask->real_parent->tgid, ustack(perf)); }}\n"
            f"usdt:{libc}:otel_memory:free {{ printf(\"F %d %d %lu\\n\", "
            f"pid, tid, arg0); }}\n"
            f"interval:ms:{max(1, round(seconds * 1000))} {{ exit(); }}\n"
            # Ctrl-C: bpftrace, interrupted, would drop the events still
            # in its buffers, such as those of a child that has just
            # exited.  This process makes this system call instead, and
            # bpftrace exits once it has read everything sent before it.
            f"tracepoint:syscalls:sys_enter_getppid /pid == {me}/ "
            "{ exit(); }\n"
            # Attached in the order given: its first tick comes once the
            # probes above are attached, and their semaphores raised.
            "interval:ms:100 { if (@ready == 0) { printf(\"ready\\n\"); "
            "@ready = 1; } }\n")


def create(path):
    """A new file, readable by its owner only, not through a link."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                             | os.O_NOFOLLOW, 0o600), "w")


class Process:
    def __init__(self, pid, parent=None):
        self.pid = pid
        # The parent's Process, whose maps a child that forked and
        # exited before it was looked at had.
        self.parent = parent
        self.maps = []
        self.exe = ""
        # {tid: {(size, stack): [count, live]}}
        self.keys = defaultdict(lambda: defaultdict(lambda: [0, 0]))
        self.blocks = {}        # ptr -> (tid, key)
        self.means = []
        self.taken = defaultdict(int)
        self.look()

    def look(self):
        """Take the maps while the process runs, or its parent's."""
        try:
            self.maps = live.file_lines(live.read_maps(self.pid))
            self.exe = os.readlink(f"/proc/{self.pid}/exe")
        except (BadInput, OSError):
            if self.parent and self.parent.maps:
                self.maps, self.exe = self.parent.maps, self.parent.exe

    def alloc(self, tid, ptr, size, weight, stack):
        if size == 0:
            return
        key = (size, tuple(stack[ALLOCATOR_PCS:]) or tuple(stack[-1:]))
        entry = self.keys[tid][key]
        entry[0] += 1
        entry[1] += 1
        self.taken[tid] += 1
        old = self.blocks.pop(ptr, None)
        if old:
            self.keys[old[0]][old[1]][1] -= 1
        self.blocks[ptr] = (tid, key)
        if weight > size:
            # weight = size / (1 - exp (-size / mean))
            self.means.append(-size / math.log1p(-size / weight))

    def free(self, ptr):
        old = self.blocks.pop(ptr, None)
        if old:
            self.keys[old[0]][old[1]][1] -= 1

    def mean(self):
        if not self.means:
            return DEFAULT_MEAN
        return max(1, round(sorted(self.means)[len(self.means) // 2]))

    def whole(self, libc_ranges):
        """(stacks that reach libc's start of the program or of a thread,
        stacks)."""
        n = whole = 0
        for keys in self.keys.values():
            for _, stack in keys:
                if not stack:
                    continue
                n += 1
                whole += any(s <= stack[-1] < e for s, e in libc_ranges)
        return whole, n

    def write(self, top):
        """Write the dump mprof.PID.1 into TOP."""
        d = os.path.join(top, f"mprof.{self.pid}.1")
        os.mkdir(d, 0o700)
        maps_name = f"mprof.{self.pid}.maps"
        now = time.time()
        with create(os.path.join(d, maps_name)) as f:
            f.write(f"malloc-profile-maps {MAPS_VERSIONS[-1]}\npid {self.pid}"
                    "\nsnapshot 1 epoch 0\n" + "\n".join(self.maps)
                    + "\nend\n")
        write_build_ids(d, lambda path, inode: live.process_build_id(
            self.pid, path, inode))
        for tid, keys in sorted(self.keys.items()):
            lines = [f"{count} {max(0, alive)} {size} "
                     + " ".join(f"{pc:#x}" for pc in stack)
                     for (size, stack), (count, alive) in keys.items()]
            head = [f"malloc-profile {FORMAT_VERSION}", f"pid {self.pid}",
                    f"tid {tid}", "kind thread", "dump 1", "reason probes",
                    f"time {now:.9f}"]
            if self.exe:
                head.append(f"exe {self.exe}")
            head += [f"mean {self.mean()}", "depth 127", "unwind fp",
                     f"maps {maps_name} 1", f"taken {self.taken[tid]}",
                     f"recorded {self.taken[tid]}", "dropped 0",
                     f"keys {len(lines)}", "# count live size frames..."]
            with create(os.path.join(d, f"mprof.{self.pid}.{tid}.heap")) as f:
                f.write("\n".join(head + lines + ["end"]) + "\n")


class Events:
    """The processes of what bpftrace prints, a line at a time: an alloc
    event, then its stack, a frame a line, between empty lines; a free
    event."""

    def __init__(self, pid, libc, seconds):
        self.procs = {}
        self.pending = None
        self.what = f"process {pid}" if pid else f"every process on {libc}"
        self.seconds = seconds
        self.ready = False

    def read(self, line):
        if line == "ready":
            self.ready = True
            print(f"mprof: attached to {self.what} for {self.seconds} s",
                  file=sys.stderr, flush=True)
            return
        m = EVENT.match(line)
        f = FRAME.match(line)
        if f and self.pending:
            self.pending[5].append(int(f[1], 16))
            return
        if self.pending and (m or self.pending[5]):
            self.procs[self.pending[0]].alloc(*self.pending[1:])
            self.pending = None
        if not m:
            return
        kind, pid, tid, ptr = m[1], int(m[2]), int(m[3]), int(m[4])
        if pid not in self.procs:
            ppid = int(m[7] or 0)
            parent = self.procs.get(ppid) or (ppid and Process(ppid))
            self.procs[pid] = Process(pid, parent or None)
        if kind == "A":
            self.pending = [pid, tid, ptr, int(m[5]), int(m[6]), []]
        else:
            self.procs[pid].free(ptr)


def libc_ranges(proc):
    ranges = []
    for line in proc.maps:
        parts = line.split(None, 5)
        if len(parts) == 6 and parts[5].endswith("/libc.so.6"):
            s, e = (int(x, 16) for x in parts[0].split("-"))
            ranges.append((s, e))
    return ranges


def collect(pid, libc, seconds):
    """{pid: Process} of what the probes of LIBC, in process PID or in
    every process, fire in SECONDS."""
    if not shutil.which("bpftrace"):
        raise BadInput("mprof probes needs bpftrace (apt-get install "
                       "bpftrace)")
    if os.geteuid() != 0:
        raise BadInput("mprof probes needs root, to attach uprobes")
    # bpftrace makes its uprobes through tracefs, which a machine may not
    # have mounted.
    tracing = "/sys/kernel/tracing"
    if not os.path.exists(os.path.join(tracing, "uprobe_events")):
        r = subprocess.run(["mount", "-t", "tracefs", "nodev", tracing],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise BadInput(f"cannot mount tracefs on {tracing}, which "
                           f"bpftrace needs: {r.stderr.strip()}")
    cmd = ["bpftrace", "-B", "line"]
    if pid:
        cmd += ["-p", str(pid)]
    cmd += ["-e", script(libc, seconds, os.getpid())]
    # Addresses only: the report names them, and bpftrace, naming each
    # frame of each event, would fall behind.
    env = dict(os.environ, BPFTRACE_NO_USER_SYMBOLS="1")
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, errors="replace", env=env)
    events = Events(pid, libc, seconds)
    # Ctrl-C detaches now; what bpftrace has yet to print is still read.
    signal.signal(signal.SIGINT, lambda *_: os.getppid() if events.ready
                  else p.send_signal(signal.SIGINT))
    for line in p.stdout:
        events.read(line.rstrip("\n"))
    events.read("")
    procs = events.procs
    err = p.stderr.read()
    status = p.wait()
    if status != 0 and not procs:
        raise BadInput("bpftrace failed: " + " ".join(err.split())[:300])
    for proc in procs.values():
        if not proc.maps:
            proc.look()
    return procs


def main(args, top):
    if args.seconds <= 0:
        raise BadInput("--seconds must be positive")
    if args.all:
        libc = os.path.join(top, "install", "lib", "libc.so.6")
        pid = None
    else:
        libc = libc_of(args.pid)
        pid = args.pid
    if not has_probes(libc):
        which = f"process {pid}'s libc" if pid else libc
        raise BadInput(f"{which} has no otel_memory probes: it is not the "
                       "profiler's, or was built without --enable-systemtap")
    out = args.out or time.strftime("mprof.probes.%Y%m%d-%H%M%S")
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise BadInput(f"{out}: {e.strerror}")
    procs = collect(pid, libc, args.seconds)
    written = [p for p in procs.values() if p.keys]
    for proc in written:
        proc.write(out)
        whole, n = proc.whole(libc_ranges(proc))
        if n and whole < n / 2:
            print(f"mprof: {n - whole} of {n} stacks of process {proc.pid} "
                  f"({proc.exe or '?'}) stop before its start: it seems to "
                  "have no frame pointers, which the kernel walks stacks "
                  "by (build with -fno-omit-frame-pointer, or profile it "
                  "with mprof run --unwind dwarf)", file=sys.stderr)
    samples = sum(p.taken[t] for p in written for t in p.taken)
    print(f"mprof: {samples} sample(s) of {len(written)} process(es) in "
          f"{out}", file=sys.stderr)
