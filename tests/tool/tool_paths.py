"""Where the tool tier's code and fixtures are, for its conftest and its
tests; and mproflib and tests/protobuf.py made importable."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tools"))
sys.path.insert(0, os.path.dirname(HERE))

FIXTURES = os.path.join(HERE, "fixtures")
# The fixture process, its dump, and where its maps put its code: the
# Python that runs the tests, an ELF file every machine that runs them
# has.
PID = 4242
DUMP = f"mprof.{PID}.1"
CODE = (0x400000, 0x500000)
