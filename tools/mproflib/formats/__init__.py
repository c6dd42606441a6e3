"""One module per output format, each with render(profile, sym, options),
which returns text, or bytes for a binary format; OPTIONS is an
Options."""

from dataclasses import dataclass, field
from typing import Optional

from . import flamegraph, folded, gperf, json, pprof, text

FORMATS = {"text": text, "folded": folded, "flamegraph": flamegraph,
           "pprof": pprof, "gperf": gperf, "json": json}


@dataclass
class Options:
    """What a report is asked for: the pprof sample type it orders and
    draws by; how many call sites it shows (None: its default); the text
    report's tables by thread and by process; tcmalloc's lifetime profile
    instead of the heap's (pprof); labels every pprof sample carries."""
    sample: str = "inuse_space"
    top: Optional[int] = None
    by_thread: bool = False
    by_process: bool = False
    lifetimes: bool = False
    labels: dict = field(default_factory=dict)
