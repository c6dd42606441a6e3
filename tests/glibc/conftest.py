"""The end-to-end tier: the programs of tests/ run on the glibc built
with the profiler, for x86-64, and those marked for it (tests/run.py's
BOTH) again for AArch64 (under qemu-user) and i386.  Needs ./build.sh,
./build.sh baseline, aarch64 and i386 (tests/run.sh makes them)."""

import os
import sys


sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))


def pytest_addoption(parser):
    parser.addoption("--quick", action="store_true",
                     help="skip glibc's own malloc test suite")
