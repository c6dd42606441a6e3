"""mprof run's process tree: every dynamically linked program the profiled
program starts, however (exec, posix_spawn, system, popen), runs on the
built glibc too.

A program started by exec is loaded by the interpreter its ELF header
names, the system's /lib64/ld-linux-x86-64.so.2, with the system's libc;
a loader and a libc of different builds must never meet.  So the program
runs in a mount namespace of its own in which the built loader, libc and
the other libraries of the same build are bind-mounted over the system's:
they are glibc master, newer than the system's, so every program built
for the system runs on them.  The namespace needs root, or, for another user,
user namespaces (a user namespace in which the user is root, mapped to
itself).  Statically linked programs have no loader to replace and run
unprofiled; setuid programs run with AT_SECURE, in which the profiler's
variables are ignored.
"""

import ctypes
import os
import sys

from . import where
from .profile import BadInput

CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
MS_BIND, MS_REC, MS_PRIVATE = 0x1000, 0x4000, 0x40000
MNT_DETACH = 2
INTERP = "/lib64/ld-linux-x86-64.so.2"
SYSTEM = "/usr/lib/x86_64-linux-gnu"
# What Debian's libc6 package installs: only those files are glibc's (not
# libcrypt.so.1, which is libxcrypt's).
LIBC6_FILES = "/var/lib/dpkg/info/libc6:amd64.list"


def binds(lib):
    """[(built file, system file)]: the loader, and each library of the
    build in LIB that the system's libc6 has, then its gconv modules."""
    try:
        with open(LIBC6_FILES) as f:
            ours = {os.path.realpath(line.strip()) for line in f}
    except OSError:
        ours = None
    pairs = [(os.path.join(lib, "ld-linux-x86-64.so.2"),
              os.path.realpath(INTERP))]
    for name in sorted(os.listdir(lib)):
        src, dst = os.path.join(lib, name), os.path.join(SYSTEM, name)
        if not (".so." in name and os.path.isfile(src)
                and not os.path.islink(src) and os.path.exists(dst)):
            continue
        dst = os.path.realpath(dst)
        if (ours is None and name.startswith("libcrypt")) or \
                (ours is not None and dst not in ours):
            continue
        if dst not in {d for _, d in pairs}:
            pairs.append((src, dst))
    gconv = os.path.join(lib, "gconv")
    if os.path.isdir(gconv) and os.path.isdir(os.path.join(SYSTEM, "gconv")):
        pairs.append((gconv, os.path.join(SYSTEM, "gconv")))
    return pairs


def stand_in(path):
    """The file of the built glibc that mprof run binds over PATH, or
    None: a profile's maps name the system's path, the file that ran is
    the built one."""
    lib = os.path.join(where.top(), "install", "lib")
    if not os.path.isdir(lib):
        return None
    if lib not in _binds:
        _binds[lib] = binds(lib)
    for src, dst in _binds[lib]:
        if path == dst:
            return src
        if path.startswith(dst + "/") and os.path.isdir(src):
            return src + path[len(dst):]
    return None


_binds = {}


def fail(what, err):
    hint = ""
    if err == "Operation not permitted" or err == "Permission denied":
        hint = (" (it needs root, or user namespaces for other users: "
                "sysctl kernel.unprivileged_userns_clone=1)")
    elif err == "Invalid argument" and what == "make / private":
        # A chroot whose directory is no mount point: its mount may be
        # shared with the host's namespace, where every bind made here
        # would appear too, and it cannot be made private from inside.
        hint = (": / is not a mount point, as in a chroot; enter the "
                "chroot after mount --bind DIR DIR")
    raise BadInput(f"cannot {what}: {err}{hint}")


def enter(lib):
    """Make this process's mount namespace one in which LIB's glibc
    stands in for the system's."""
    libc = ctypes.CDLL(None, use_errno=True)
    uid, gid = os.getuid(), os.getgid()
    user = os.geteuid() != 0
    if libc.unshare(CLONE_NEWNS | (CLONE_NEWUSER if user else 0)) != 0:
        fail("make a mount namespace", os.strerror(ctypes.get_errno()))
    if user:
        for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"),
                           ("gid_map", f"0 {gid} 1")):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
    if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        fail("make / private", os.strerror(ctypes.get_errno()))
    done = []
    for src, dst in binds(lib):
        if libc.mount(src.encode(), dst.encode(), None, MS_BIND, None) != 0:
            err = os.strerror(ctypes.get_errno())
            # All or none: a loader and a libc of two builds must not meet.
            for d in reversed(done):
                libc.umount2(d.encode(), MNT_DETACH)
            fail(f"bind {src} over {dst}", err)
        done.append(dst)


def main(argv):
    """mprof _tree LIB PROGRAM ARGS...: run PROGRAM in the namespace; the
    profiler's variables are in the environment already (this Python,
    on the system's glibc, loaded before the binds, ignores them).
    Where the namespace cannot be made, say why and profile PROGRAM
    alone, through the built loader, as --only-top does."""
    lib, prog, args = argv[0], argv[1], argv[1:]
    command = [prog]
    try:
        enter(lib)
    except BadInput as e:
        print(f"mprof: {e}; profiling {prog} alone, not the programs it "
              "starts", file=sys.stderr)
        command = [os.path.join(lib, "ld-linux-x86-64.so.2"),
                   "--library-path", lib, prog]
    try:
        os.execv(command[0], command + args[1:])
    except OSError as e:
        print(f"mprof: cannot run {prog}: {e.strerror}", file=sys.stderr)
    # As env(1) and chroot(1) do when they cannot run the program.
    sys.exit(125)
