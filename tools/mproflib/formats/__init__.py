"""One module per output format, each with render(profile, sym, args),
which returns text, or bytes for a binary format."""

from . import flamegraph, folded, gperf, json, pprof, text

FORMATS = {"text": text, "folded": folded, "flamegraph": flamegraph,
           "pprof": pprof, "gperf": gperf, "json": json}
