"""The profiler's variables for the benchmarks, as the tools name them
(tools/mproflib/variables.py)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "tools"))
from mproflib.variables import *  # noqa: E402,F401,F403
