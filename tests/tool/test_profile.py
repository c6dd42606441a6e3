"""Reading profiles: the estimates, the lifetimes, the versions, and
input that is refused in one line."""

import math
import os

import pytest

from mproflib import profile
from mproflib.profile import BadInput, Profile

from tool_paths import DUMP, FIXTURES

MEAN = 4096
# The fixture's keys: (tid, count, live, size, stack).
KEYS = [(4242, 5, 2, 100, (0x401000, 0x402000)),
        (4242, 10, 0, 5000, (0x401100, 0x402000)),
        (4242, 3, 3, 20000, (0x401200, 0x402100)),
        (4243, 4, 1, 100, (0x401000, 0x402000)),
        (4243, 1, 1, 1, (0x401300,))]


def p(size):
    return -math.expm1(-size / MEAN)


def test_estimates_are_counts_over_p(profile_dir):
    prof = Profile([profile_dir])
    got = {(s.thread.tid, s.size, s.stack): s for s in prof.samples}
    assert len(got) == len(KEYS)
    for tid, count, live, size, stack in KEYS:
        s = got[(tid, size, stack)]
        assert (s.count, s.live) == (count, live)
        assert s.alloc_objects == pytest.approx(count / p(size))
        assert s.inuse_space == pytest.approx(live * size / p(size))
    total = prof.totals()
    assert total.alloc_space == pytest.approx(
        sum(c * z / p(z) for _, c, _, z, _ in KEYS))
    assert prof.means == [MEAN]


def test_lifetimes_are_read_per_key(profile_dir):
    prof = Profile([profile_dir])
    got = {(s.thread.tid, s.size): s for s in prof.samples}
    a = got[(4242, 100)]
    assert a.age == 2000000000
    assert a.freed[0][3] == 3 and sum(a.freed[1]) == 0
    b = got[(4242, 5000)]
    assert (b.freed[0][3], b.freed[0][8], b.age) == (6, 4, 0)
    # Buckets from BUCKETS on: freed by another thread.
    d = got[(4243, 100)]
    assert d.freed[1][24 - profile.BUCKETS] == 3


def test_the_memory_file_is_read(profile_dir):
    prof = Profile([profile_dir])
    assert prof.memory[4242]["rss"] == 10485760
    assert prof.memory[4242]["arenas"][0]["free_chunks"] == 100


def heap(tmp_path, text):
    d = tmp_path / "bad"
    d.mkdir(exist_ok=True)
    f = d / "mprof.1.1.heap"
    f.write_text(text)
    return str(f)


GOOD = open(os.path.join(FIXTURES, DUMP, "mprof.4242.4243.heap")).read()


@pytest.mark.parametrize("change, words", [
    (("malloc-profile 5", "malloc-profile 99"), "version"),
    (("malloc-profile 5", "malloc-profile 1"), "version 1"),
    (("\nend\n", "\n"), "truncated"),
    (("4 1 100", "4 5 100"), "live"),
    (("lifetimes 1000000000 24:3", "lifetimes 1 99:3"), "lifetimes"),
    (("lifetimes 1000000000 24:3", "lifetimes x"), "lifetimes"),
    (("# count live size frames...\n",
      "# count live size frames...\nlifetimes 0\n"), "no sample"),
    (("lifetime-bounds 1000 ", "lifetime-bounds 999 "), "lifetime-bounds"),
    (("mean 4096", "mean 0"), "mean"),
])
def test_bad_input_is_refused_in_one_line(tmp_path, change, words):
    text = GOOD.replace(*change)
    assert text != GOOD
    with pytest.raises(BadInput) as e:
        profile.read_heap(heap(tmp_path, text))
    assert words in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("version", ["2", "3", "4", "5"])
def test_older_versions_are_read(tmp_path, version):
    text = GOOD.replace("malloc-profile 5", f"malloc-profile {version}")
    if version != "5":
        text = "\n".join(line for line in text.split("\n")
                         if not line.startswith("lifetime"))
    t = profile.read_heap(heap(tmp_path, text))
    assert [s[:3] for s in t.samples] == [(4, 1, 100), (1, 1, 1)]
