"""The tool tier: tools/mproflib on small fixture profiles, without a
glibc build, in seconds (pytest tests/tool)."""

import os
import shutil
import sys

import pytest

from tool_paths import CODE, DUMP, FIXTURES, PID


@pytest.fixture
def profile_dir(tmp_path):
    """A copy of the fixture profile directory, with the maps file that
    maps its PCs to the running Python."""
    top = tmp_path / "profile"
    shutil.copytree(os.path.join(FIXTURES, DUMP), top / DUMP)
    exe = os.path.realpath(sys.executable)
    (top / DUMP / f"mprof.{PID}.maps").write_text(
        f"malloc-profile-maps 2\npid {PID}\nsnapshot 1 epoch 0\n"
        f"{CODE[0]:x}-{CODE[1]:x} r-xp 00000000 00:00 0 {exe}\nend\n")
    return str(top)


@pytest.fixture
def fake_symbolizer(tmp_path, monkeypatch):
    """An llvm-symbolizer first on PATH that names each address
    fn_ADDRESS, at fixture.c:ADDRESS % 100, as google/pprof's tests stub
    the symbolizer; returns the file its invocations are logged to."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "symbolizer.log"
    tool = bin_dir / "llvm-symbolizer"
    tool.write_text(f"""#!{sys.executable}
import json, sys
with open({str(log)!r}, "a") as f:
    f.write(" ".join(sys.argv[1:]) + "\\n")
for line in sys.stdin:
    a = int(line, 16)
    print(json.dumps({{"Address": hex(a), "Symbol": [
        {{"FunctionName": "fn_%x" % a, "FileName": "fixture.c",
          "Line": a % 100}}]}}))
""")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return log
