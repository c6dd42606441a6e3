"""Every test of tests/run.py, each a pytest test, the architecture a
parameter: NAME for x86-64, aarch64:NAME and i386:NAME for the others,
in that order, as run.py runs them (pytest -k NAME picks some)."""

import os

import pytest

import run as e2e

# The architecture the tests' programs are built for now.
_current = []


def cases():
    for arch in e2e.BUILDS:
        for t in e2e.TESTS:
            if arch == "x86_64" or t in e2e.BOTH:
                name = t.__name__ if arch == "x86_64" else \
                    f"{arch}:{t.__name__}"
                yield pytest.param(arch, t, id=name)


@pytest.fixture
def arch(request):
    """Point run.py at the build of the architecture asked for, and build
    the test programs for it, once per architecture."""
    want = request.param
    if _current != [want]:
        e2e.use(want)
        if not os.path.exists(e2e.LOADER):
            pytest.fail(f"{e2e.LOADER} is missing: run ./build.sh "
                        f"{'' if want == 'x86_64' else want}".rstrip())
        e2e.build_programs()
        _current[:] = [want]
    return want


@pytest.mark.parametrize("arch, test", cases(), indirect=["arch"])
def test_e2e(arch, test, request):
    if request.config.getoption("--quick") and \
            test is e2e.glibc_malloc_suite_off_and_on:
        pytest.skip("--quick")
    test()
