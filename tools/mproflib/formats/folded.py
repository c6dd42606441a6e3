"""Folded stacks, root first: flamegraph.pl, speedscope, inferno."""

from collections import defaultdict


def lines(profile, sym, sample):
    stacks = defaultdict(float)
    for s in profile.samples:
        frames = [f.function.replace(";", ":") for f in sym.stack(s)]
        stacks[";".join(reversed(frames))] += getattr(s, sample)
    # A --diff report may have sites that shrank: a flame graph shows
    # only what grew.
    return [f"{k} {round(v)}" for k, v in sorted(stacks.items())
            if round(v) > 0]


def render(profile, sym, options):
    return "\n".join(lines(profile, sym, options.sample)) + "\n"
