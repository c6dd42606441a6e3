"""mprof installed outside the checkout (tools/install.sh): it reads
profiles with nothing else, and looks for the glibc it runs programs on
where it is told, or where it was installed from."""

import os
import subprocess
import sys

import pytest

from mproflib import where

from tool_paths import TOP



@pytest.fixture
def installed(tmp_path):
    dest = tmp_path / "prefix"
    subprocess.run(["sh", os.path.join(TOP, "tools", "install.sh"),
                    str(dest)], check=True, capture_output=True)
    return str(dest / "bin" / "mprof")


def run(mprof, *args, env=None, cwd="/"):
    return subprocess.run([sys.executable, mprof, *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, **(env or {})))


def test_an_installed_mprof_reads_profiles(installed, profile_dir):
    r = run(installed, "report", "--format", "json", profile_dir)
    assert r.returncode == 0, r.stderr
    assert '"estimated_bytes"' in r.stdout
    # Its code is the installed copy, not the checkout's.
    r = run(installed, "--help")
    assert r.returncode == 0 and "--glibc DIR" in r.stdout


def test_it_says_where_it_looked_for_the_glibc(installed, tmp_path):
    r = run(installed, "--glibc", str(tmp_path), "run", "--", "/bin/true")
    assert r.returncode != 0 and r.stderr.count("\n") == 1
    assert f"{tmp_path} holds no glibc built with the profiler" in r.stderr
    r = run(installed, "run", "--", "/bin/true",
            env={"MPROF_GLIBC": str(tmp_path / "none")})
    assert str(tmp_path / "none") in r.stderr
    r = run(installed, "--glibc", str(tmp_path / "none"), "report", "x")
    assert "--glibc" in r.stderr and "not a directory" in r.stderr


def test_where_prefers_the_flag_then_the_variable(monkeypatch, tmp_path):
    monkeypatch.setattr(where, "_given", None)
    monkeypatch.delenv("MPROF_GLIBC", raising=False)
    assert where.top() == where.CHECKOUT
    monkeypatch.setenv("MPROF_GLIBC", str(tmp_path))
    assert where.top() == str(tmp_path)
    where.give("/opt/glibc")
    assert where.top() == "/opt/glibc"
