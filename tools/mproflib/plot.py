"""mprof plot: the estimated in-use heap of a process over its dumps,
stacked by call site, as an SVG a browser shows (heaptrack's and
massif-visualizer's main view); or, with --memory, its resident memory
stacked by part, as each dump's mprof.memory splits it."""

from html import escape

from . import memory
from .formats.text import human
from .profile import BadInput

WIDTH, HEIGHT = 960, 540
LEFT, RIGHT, TOP, BOTTOM = 80, 330, 50, 60
COLORS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
          "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")


def nice_step(span, ticks=5):
    """A round step that cuts SPAN into about TICKS parts."""
    raw = span / ticks if span > 0 else 1
    mag = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 1
    while mag > raw:
        mag /= 10
    for m in (1, 2, 5, 10):
        if m * mag >= raw:
            return m * mag
    return 10 * mag


def ticks(step, limit):
    """0, STEP, 2 STEP, ... up to LIMIT."""
    n = 0
    while n * step <= limit * (1 + 1e-9):
        yield n * step
        n += 1


def render(series, sym, top):
    """The estimated in-use heap, stacked by call site."""
    sites = []                  # per dump: {site: bytes}
    for _, _, profile in series.dumps:
        per = {}
        for s in profile.samples:
            site = sym.stack(s)[0].label()
            per[site] = per.get(site, 0) + s.inuse_space
        sites.append(per)
    peak = {}
    for per in sites:
        for site, v in per.items():
            peak[site] = max(peak.get(site, 0), v)
    shown = sorted(peak, key=lambda k: (-peak[k], k))[:top]
    layers = [[per.get(site, 0) for per in sites] for site in shown]
    other = [sum(v for k, v in per.items() if k not in shown) for per in sites]
    if any(other):
        layers.append(other)
        shown.append("other call sites")
    return chart(series, shown, layers, "Estimated heap in use by call site",
                 top)


# The parts of the resident memory, bottom up.
MEMORY_PARTS = (("malloc_in_use", "malloc: in use"),
                ("tcache", "malloc: in tcaches"),
                ("free_in_arenas_resident", "malloc: free in arenas"),
                ("top_resident", "malloc: top chunks"),
                ("metadata", "malloc: arena headers"),
                ("not_malloc", "not malloc's"))


def render_memory(series):
    """The resident memory of the process, stacked by part."""
    parts = [memory.breakdown(p.memory[series.pid])
             if series.pid in p.memory else None
             for _, _, p in series.dumps]
    if not any(parts):
        raise BadInput("no dump holds the process's memory (mprof.memory)")
    layers = [[b[key] if b else 0 for b in parts] for key, _ in MEMORY_PARTS]
    return chart(series, [name for _, name in MEMORY_PARTS], layers,
                 "Resident memory by part", len(layers))


def chart(series, shown, layers, title, top):
    """LAYERS, a row of bytes per dump for each name in SHOWN, stacked
    over the time of SERIES's dumps; the first TOP in colour."""
    peak = {name: max(layer) for name, layer in zip(shown, layers)}
    times = [t for t, _, _ in series.dumps]
    t0 = times[0]
    xs = [t - t0 for t in times]
    totals = [sum(layer[i] for layer in layers) for i in range(len(xs))]
    ymax = max(totals) or 1
    xmax = max(xs) or 1
    # Round steps of the unit the top is shown in.
    unit, unit_name = 1, "B"
    for u, n in ((1 << 10, "KiB"), (1 << 20, "MiB"), (1 << 30, "GiB"),
                 (1 << 40, "TiB")):
        if ymax >= u:
            unit, unit_name = u, n
    ystep = nice_step(ymax / unit) * unit
    ymax = ystep * -(-ymax // ystep)
    pw, ph = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x):
        return LEFT + pw * x / xmax

    def py(y):
        return TOP + ph * (1 - y / ymax)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
           f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
           'font-family="sans-serif" font-size="12">',
           f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
           f'<text x="{LEFT}" y="24" font-size="16">{escape(title)}, '
           f'process {series.pid} ({len(xs)} dumps)</text>']
    for y in ticks(ystep, ymax):
        out.append(f'<line x1="{LEFT}" x2="{LEFT + pw}" y1="{py(y):.1f}" '
                   f'y2="{py(y):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{LEFT - 6}" y="{py(y) + 4:.1f}" '
                   f'text-anchor="end">{y / unit:g} {unit_name}</text>')
    for x in ticks(nice_step(xmax), xmax):
        out.append(f'<line x1="{px(x):.1f}" x2="{px(x):.1f}" '
                   f'y1="{TOP + ph}" y2="{TOP + ph + 5}" stroke="black"/>')
        out.append(f'<text x="{px(x):.1f}" y="{TOP + ph + 18}" '
                   f'text-anchor="middle">{x:g}</text>')
    out.append(f'<text x="{LEFT + pw / 2}" y="{HEIGHT - 15}" '
               'text-anchor="middle">seconds since the first dump</text>')
    base = [0] * len(xs)
    for i, (name, layer) in enumerate(zip(shown, layers)):
        top_ = [b + v for b, v in zip(base, layer)]
        points = [f"{px(x):.1f},{py(v):.1f}" for x, v in zip(xs, top_)]
        points += [f"{px(x):.1f},{py(v):.1f}"
                   for x, v in reversed(list(zip(xs, base)))]
        color = COLORS[i % len(COLORS)] if i < top else "#cccccc"
        out.append(f'<polygon points="{" ".join(points)}" fill="{color}" '
                   f'stroke="white" stroke-width="0.5"><title>'
                   f'{escape(name)}: up to {escape(human(peak[name]))}'
                   '</title></polygon>')
        ly = TOP + 10 + 20 * i
        out.append(f'<rect x="{WIDTH - RIGHT + 20}" y="{ly - 10}" width="12" '
                   f'height="12" fill="{color}"/>')
        label = name if len(name) <= 40 else name[:39] + "\u2026"
        out.append(f'<text x="{WIDTH - RIGHT + 38}" y="{ly}">'
                   f'{escape(label)}</text>')
        base = top_
    for x in xs:
        out.append(f'<line x1="{px(x):.1f}" x2="{px(x):.1f}" y1="{TOP + ph}" '
                   f'y2="{TOP + ph - 4}" stroke="black"/>')
    out.append(f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + ph}" '
               'stroke="black"/>')
    out.append(f'<line x1="{LEFT}" x2="{LEFT + pw}" y1="{TOP + ph}" '
               f'y2="{TOP + ph}" stroke="black"/>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
