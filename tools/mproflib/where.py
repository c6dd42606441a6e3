"""Where the glibc built with the profiler is: the directory that holds
its install/ (and install-i386/, install-aarch64/), where ./build.sh
ran.  Given with mprof --glibc DIR, or by MPROF_GLIBC, or recorded when
mprof was installed elsewhere (tools/install.sh writes it into
mproflib/installed.py), or else the checkout this mproflib is in.  Only
running a program needs it: a report needs no build."""

import os

CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

_given = None


def give(path):
    """Take PATH, from mprof --glibc, over everything else."""
    global _given
    _given = os.path.abspath(path)


def top():
    if _given:
        return _given
    if os.environ.get("MPROF_GLIBC"):
        return os.path.abspath(os.environ["MPROF_GLIBC"])
    try:
        from .installed import GLIBC
    except ImportError:
        return CHECKOUT
    return GLIBC
