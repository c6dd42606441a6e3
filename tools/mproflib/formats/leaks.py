"""mprof report --leaks: what was still allocated when the profiles were
written (at exit, for the threads still running then), by call site."""

from ..profile import Totals
from .lifetimes import duration, sites as lifetime_sites
from .text import human, ordered, site_lines, sites

COLUMNS = f"{'bytes':>12} {'objects':>14} {'samples':>8} {'mean age':>9}"


def render(profile, sym, options):
    found = [(site, v) for site, v in sites(profile, sym).items() if v.live]
    means = ", ".join(map(str, profile.means))
    if not found:
        return ("no sampled allocation was still allocated when the profiles "
                f"were written (sampling mean {means} bytes)\n")
    total = Totals()
    for _, v in found:
        total.add(v)
    shown = ordered(found, options.sample)[:options.top]
    ages = lifetime_sites(profile, sym)
    out = [f"still allocated when the profiles were written: estimated "
           f"{human(total.inuse_space)} in {total.inuse_objects:,.0f} objects "
           f"at {len(found)} call site(s)", "", f"{COLUMNS}  call site"]
    for site, v in shown:
        # Profiles before format 5 have no ages.
        age = ages[site].mean_age if site in ages else 0
        out += site_lines(f"{human(v.inuse_space):>12} "
                          f"{v.inuse_objects:14,.0f} {v.live:8d} "
                          f"{duration(age) if age else '-':>9}",
                          site, len(COLUMNS))
    if len(shown) < len(found):
        out.append(f"... {len(found) - len(shown)} more call site(s)")
    out += ["", f"estimates from {total.live} sampled allocation(s) still "
            f"live (sampling mean {means} bytes); a site with no sample still "
            "live may still hold memory below the sampling mean; mean age: "
            "how long its sampled blocks had been allocated"]
    return "\n".join(out) + "\n"
