"""mprof attach and mprof detach: switch the profiler of a running
process on and off, without a restart.

libc keeps a request area, struct malloc_prof_attach
(malloc/malloc-prof.h), exported as the symbol __malloc_prof_attach.
This writes a request there through /proc/PID/mem, with the rights
mprof dump needs to read the process, and reads the answer.  The
process takes the request at its next allocation; a thread of libc's
own then loads libc_malloc_prof.so, and every thread samples from its
next allocation on.  Detaching stops the counting; the tables stay, for
mprof dump, and so does the library.
"""

import os
import struct
import time

from . import live
from .profile import BadInput, Busy, NotFound, Refused, os_error

SYMBOL = b"__malloc_prof_attach"
VERSION = 1
# struct malloc_prof_attach: the same offsets on every target.
HEAD = struct.Struct("<IIIIQ")          # version, counting, answered,
                                        # answer, fast_bytes
PARAMS = struct.Struct("<QQiiiI")       # mean, seconds, pid, unwind,
                                        # depth, serial
PARAMS_AT, REQUEST_AT, DIR_AT, WHY_AT = 24, 56, 64, 1088
DIR_SIZE, WHY_SIZE = 1024, 160
ATTACH, DETACH = 1, 2
ATTACHED, DETACHED, REFUSED = 1, 2, 3
AT_SECURE = 23
# How often the answer is looked for.
POLL = 0.01


def libc_of(pid):
    """(path, address of SYMBOL, 32-bit?) of the profiler's libc in
    process PID."""
    starts = live.file_starts(live.read_maps(pid))
    libcs = [p for p in starts if os.path.basename(p).startswith("libc.so")]
    found = live.mapped_symbol(pid, libcs, starts, SYMBOL)
    if found:
        with open(f"/proc/{pid}/root{found[0]}", "rb") as f:
            narrow = f.read(5)[4] == 1
        return (*found, narrow)
    if any(live.profiler_libc(f"/proc/{pid}/root{p}") for p in libcs):
        raise BadInput(f"process {pid} runs a libc of the profiler's that "
                       "takes no attach: rebuild it with build.sh")
    raise BadInput(f"process {pid} does not run the profiler's libc (no "
                   f"{SYMBOL.decode()} in its libc): start it under "
                   "install/lib's loader, or with mprof run")


def secure(pid, narrow):
    """Whether process PID runs with AT_SECURE (setuid, setgid, file
    capabilities)."""
    try:
        with open(f"/proc/{pid}/auxv", "rb") as f:
            data = f.read()
    except OSError:
        return False
    fmt = "<II" if narrow else "<QQ"
    for at in range(0, len(data) - struct.calcsize(fmt) + 1,
                    struct.calcsize(fmt)):
        kind, value = struct.unpack_from(fmt, data, at)
        if kind == AT_SECURE:
            return value != 0
    return False


class Area:
    """The request area of process PID, read and written through its
    memory."""

    def __init__(self, pid):
        self.pid = pid
        self.libc, self.addr, self.narrow = libc_of(pid)
        if secure(pid, self.narrow):
            raise Refused(f"process {pid} is setuid or otherwise secure "
                           "(AT_SECURE): it takes no attach")
        try:
            self.fd = os.open(f"/proc/{pid}/mem", os.O_RDWR)
        except FileNotFoundError:
            raise NotFound(f"no process {pid}")
        except OSError as e:
            raise os_error(e, f"cannot write the memory of process {pid}: "
                           f"{e.strerror} (mprof attach needs a debugger's "
                           "rights: the same user and a dumpable process, "
                           "or root)")
        version = self.head()[0]
        if version != VERSION:
            raise BadInput(f"process {pid}'s libc takes attach requests of "
                           f"version {version}, this mprof writes "
                           f"{VERSION}: use the mprof of its build")

    def __del__(self):
        if hasattr(self, "fd"):
            os.close(self.fd)

    def read(self, offset, n):
        try:
            data = os.pread(self.fd, n, self.addr + offset)
        except OSError as e:
            raise BadInput(f"cannot read the memory of process {self.pid}: "
                           f"{e.strerror}")
        if len(data) != n:
            raise BadInput(f"process {self.pid} exited")
        return data

    def write(self, offset, data):
        try:
            os.pwrite(self.fd, data, self.addr + offset)
        except OSError as e:
            raise BadInput(f"cannot write the memory of process {self.pid}: "
                           f"{e.strerror}")

    def head(self):
        """(version, counting, answered, answer, fast_bytes)."""
        return HEAD.unpack(self.read(0, HEAD.size))

    def why(self):
        return self.read(WHY_AT, WHY_SIZE).split(b"\0")[0].decode(
            errors="replace")

    def word(self, addr, value=None):
        """The size_t at ADDR in the process, after writing VALUE there
        if it is given."""
        fmt = "<I" if self.narrow else "<Q"
        try:
            if value is not None:
                os.pwrite(self.fd, struct.pack(fmt, value), addr)
            return struct.unpack(fmt, os.pread(self.fd, struct.calcsize(fmt),
                                               addr))[0]
        except (OSError, struct.error):
            return None

    def ask(self, request, mean=0, seconds=0, unwind=0, depth=0, out=""):
        """Write REQUEST; returns its serial."""
        serial = int.from_bytes(os.urandom(4), "little") | 1
        self.write(PARAMS_AT, PARAMS.pack(mean, seconds, self.pid, unwind,
                                          depth, serial))
        dir_bytes = out.encode()
        self.write(DIR_AT, dir_bytes + b"\0")
        self.write(REQUEST_AT, struct.pack("<I", request))
        return serial

    def answer(self, serial, timeout):
        """(answer, why) of the request SERIAL, or None if the process
        did not take it within TIMEOUT seconds; if it took it, its
        answer is waited for as long as it takes."""
        deadline = time.monotonic() + timeout
        while True:
            _, _, answered, answer, _ = self.head()
            if answered == serial:
                return answer, self.why()
            taken = struct.unpack("<I", self.read(REQUEST_AT, 4))[0] == 0
            if not taken and time.monotonic() > deadline:
                return None
            if not os.path.exists(f"/proc/{self.pid}"):
                raise BadInput(f"process {self.pid} exited")
            time.sleep(POLL)


def attach(pid, mean=524288, unwind="fp", depth=64, out=None, seconds=0,
           timeout=10.0):
    """Make process PID profile, as GLIBC_MALLOC_PROFILE=1 with these
    settings would have; OUT is where it writes its own dumps, or ""
    for none.  Raises BadInput with the process's answer if it
    refuses."""
    if out:
        out = os.path.abspath(out)
        if not os.path.isdir(out):
            raise BadInput(f"--out {out}: no such directory")
        if len(out.encode()) >= DIR_SIZE:
            raise BadInput(f"--out {out[:40]}...: a path longer than "
                           f"{DIR_SIZE - 1} bytes")
    area = Area(pid)
    if area.head()[1]:
        raise BadInput(f"process {pid} profiles already: mprof dump {pid} "
                       f"reads it, mprof detach {pid} stops it")
    serial = area.ask(ATTACH, mean, seconds, 1 if unwind == "dwarf" else 0,
                      depth, out or "")
    # Every request counted, so that a thread the tcache serves reaches
    # the slow path, where libc takes the request.
    fast = area.head()[4]
    saved = area.word(fast) if fast else None
    if saved:
        area.word(fast, 0)
    got = area.answer(serial, timeout)
    if got is None:
        # Withdrawn; unless libc took it meanwhile.
        area.write(REQUEST_AT, struct.pack("<I", 0))
        time.sleep(0.1)
        if area.head()[2] == serial:
            got = area.answer(serial, 0)
        else:
            if saved and not area.head()[1] and area.word(fast) == 0:
                area.word(fast, saved)
            raise Busy(f"process {pid} did not allocate within "
                           f"{timeout:g} s: it takes the request at an "
                           "allocation; the request is withdrawn")
    answer, why = got
    if answer != ATTACHED:
        hint = ""
        if "cannot be loaded" in why and "libc_malloc_prof" in why:
            lib = os.path.join(os.path.dirname(area.libc),
                               live.PROF_SONAME.decode())
            if not os.path.exists(f"/proc/{pid}/root{lib}"):
                hint = f" (there is no {lib})"
        # libc refuses a secure or non-dumpable process, or one that
        # profiles already; anything else is a failure of the load.
        kind = (Refused if any(w in why for w in ("secure", "dumpable"))
                else BadInput)
        raise kind(f"process {pid} goes on unprofiled: {why}{hint}")


def detach(pid, timeout=10.0):
    """Make process PID stop counting.  Returns False if it made no
    allocation within TIMEOUT seconds to take the request at: it stops
    at its next."""
    area = Area(pid)
    if not area.head()[1]:
        raise BadInput(f"process {pid} does not profile: nothing to detach")
    serial = area.ask(DETACH)
    got = area.answer(serial, timeout)
    if got is None:
        return False
    if got[0] != DETACHED:
        raise BadInput(f"process {pid} did not detach: {got[1]}")
    return True


def counting(pid):
    """Whether process PID's profiler counts."""
    return bool(Area(pid).head()[1])
