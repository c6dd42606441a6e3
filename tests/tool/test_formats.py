"""Every report format on the fixture profile, symbolized by a stand-in
llvm-symbolizer, against the estimates computed here."""

import gzip
import json
import math
import os
import subprocess
import sys

import pytest

from tool_paths import TOP
from protobuf import protobuf

MPROF = os.path.join(TOP, "tools", "mprof")
MEAN = 4096


def p(size):
    return -math.expm1(-size / MEAN)


def mprof(*args):
    r = subprocess.run([sys.executable, MPROF, *args], capture_output=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout


def sites(doc):
    """The json lifetimes by the PC of their first frame."""
    return {int(s["functions"][0].split()[0][3:], 16): s
            for s in doc["lifetimes"]}


def test_json_has_the_estimates_and_the_symbolizer_names(profile_dir,
                                                         fake_symbolizer):
    doc = json.loads(mprof("report", "--format", "json", profile_dir))
    want = (5 * 100 / p(100) + 10 * 5000 / p(5000) + 3 * 20000 / p(20000)
            + 4 * 100 / p(100) + 1 / p(1))
    assert doc["estimated_bytes"] == pytest.approx(want)
    assert all(f.startswith("fn_") for s in doc["samples"]
               for f in s["functions"])
    assert f"--obj={os.path.realpath(sys.executable)}" in \
        fake_symbolizer.read_text()
    assert doc["memory"]["rss"] == 10485760


def test_lifetimes_per_site(profile_dir, fake_symbolizer):
    doc = json.loads(mprof("report", "--lifetimes", "--format", "json",
                           profile_dir))
    found = list(doc["lifetimes"])
    assert len(found) == 4
    by_frees = {s["sampled_frees"]: s for s in found}
    # Two threads' keys of one stack: 3 frees each, one thread's by
    # another thread, all within 10 to 31.6 us.
    a = by_frees[6]
    assert a["other_thread_frees"] == 3
    assert a["median_bucket"] == [10000, 31623]
    assert a["temporary_share"] == 1
    # 6 within 10 to 31.6 us, 4 within 3.16 to 10 ms.
    b = by_frees[10]
    assert b["median_bucket"] == [10000, 31623]
    assert b["p90_bucket"] == [3162278, 10000000]
    assert b["temporary_share"] == pytest.approx(0.6)
    assert b["temporary_share_sd"] == pytest.approx(math.sqrt(.6 * .4 / 10))
    live = sorted((s["live"], s["mean_age_ns"]) for s in found
                  if not s["sampled_frees"])
    assert live == [(1, 3e9), (3, 5e8)]


def test_text_reports(profile_dir, fake_symbolizer):
    text = mprof("report", profile_dir).decode()
    assert "fn_" in text and "where the resident memory" in text
    lifetimes = mprof("report", "--lifetimes", profile_dir).decode()
    assert "10us-31.6us" in lifetimes and "60%" in lifetimes
    leaks = mprof("report", "--leaks", profile_dir).decode()
    assert "500ms" in leaks and "3s" in leaks


@pytest.mark.parametrize("lifetimes, types, default", [
    (False, ["alloc_objects", "alloc_space", "inuse_objects", "inuse_space"],
     "inuse_space"),
    (True, ["allocated_objects", "allocated_space", "deallocated_objects",
            "deallocated_space", "censored_allocated_objects",
            "censored_allocated_space"], "deallocated_space"),
])
def test_pprof_sample_types(profile_dir, tmp_path, lifetimes, types,
                            default):
    out = tmp_path / "p.pb.gz"
    mprof("report", "--format", "pprof", "-o", str(out), profile_dir,
          *(["--lifetimes"] if lifetimes else []))
    fields = protobuf(gzip.decompress(out.read_bytes()))
    strings = [v.decode() for f, v in fields if f == 6]
    got = [strings[dict(protobuf(v))[1]] for f, v in fields if f == 1]
    assert got == types
    assert strings[dict(fields)[14]] == default
    labels = "avg_lifetime" if lifetimes else "age"
    assert labels in strings


def test_other_formats(profile_dir, tmp_path):
    folded = mprof("report", "--format", "folded", profile_dir).decode()
    total = sum(int(line.rsplit(" ", 1)[1]) for line in folded.splitlines())
    want = (2 * 100 / p(100) + 3 * 20000 / p(20000) + 1 * 100 / p(100)
            + 1 / p(1))
    assert abs(total - want) <= len(folded.splitlines())
    gperf = mprof("report", "--format", "gperf", profile_dir).decode()
    assert gperf.startswith("heap profile:")
