"""An SVG drawn by Brendan Gregg's flamegraph.pl from the folded stacks."""

import os
import subprocess

from ..profile import BadInput, DESCRIBE
from . import folded

FLAMEGRAPH = "/usr/share/perl5/Devel/NYTProf/flamegraph.pl"


def render(profile, sym, options):
    if not os.path.exists(FLAMEGRAPH):
        raise BadInput(f"{FLAMEGRAPH} is missing: apt-get install "
                       "libdevel-nytprof-perl")
    what = DESCRIBE[options.sample]
    stacks = folded.lines(profile, sym, options.sample)
    # flamegraph.pl fails on no input with a message about its input.
    if not stacks:
        hint = " (try --sample alloc_space)" \
            if options.sample.startswith("inuse") else ""
        raise BadInput(f"nothing to draw: the profile has no {what}{hint}")
    p = subprocess.run(["perl", FLAMEGRAPH, "--title", what.capitalize(),
                        "--countname", what.split()[1],
                        "--nametype", "Function:"],
                       input="\n".join(stacks) + "\n",
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise BadInput(f"flamegraph.pl failed: {p.stderr.strip()[:200]}")
    return p.stdout
